"""Pooling layers (textbook ch. 9.3): :class:`MaxPool2d` and :class:`AvgPool2d`, NCHW.

Max pooling keeps the index of each window's maximum (``argmax``) so that backward routes
each gradient to that one input (ch. 6.5: the max's derivative is 1 at the chosen element,
0 elsewhere); average pooling spreads each gradient evenly over its window. See
:mod:`numdl.core.ops.pooling` for the validated kernels.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from numdl.core import ops
from numdl.core.validation import check_bool
from numdl.nn.layers.base import Layer, Shape, format_shape
from numdl.nn.layers.conv import _out_size, _pair, _show

__all__ = ["AvgPool2d", "MaxPool2d"]

_ANY_IMAGE: Shape = (None, None, None)


class _Pool2d:
    """What both poolings share: the window arguments, shapes and input checks (a mixin
    before :class:`Layer`, so that every Layer subclass is a public layer)."""

    def __init__(self, kernel_size: Any, *, stride: Any = None, padding: Any = 0) -> None:
        self.kernel_size = _pair(kernel_size, "kernel_size", 1)
        self.stride = self.kernel_size if stride is None else _pair(stride, "stride", 1)
        self.padding = _pair(padding, "padding", 0)
        for p, k in zip(self.padding, self.kernel_size, strict=True):
            if p > k // 2:
                raise ValueError(
                    f"padding must be at most half the kernel size (kernel_size // 2 = "
                    f"{k // 2}), got {_show(self.padding)} for kernel_size "
                    f"{_show(self.kernel_size)}: a window would hold padding only"
                )

    def __repr__(self) -> str:
        extra = "" if self.stride == self.kernel_size else f", stride={_show(self.stride)}"
        extra += "" if self.padding == (0, 0) else f", padding={_show(self.padding)}"
        return f"{type(self).__name__}({_show(self.kernel_size)}{extra})"

    @property
    def in_shape(self) -> Shape:
        return _ANY_IMAGE

    def out_shape(self, in_shape: Shape | None) -> Shape:
        shape = _ANY_IMAGE if in_shape is None or len(in_shape) != 3 else in_shape
        oh, ow = _out_size(
            self, shape[1:], self.kernel_size, self.stride, self.padding,
            f"a sample of shape {format_shape(shape)}",
        )  # fmt: skip
        return (shape[0], oh, ow)

    def _check_input(self, x: Any) -> Any:
        """``x`` as a float (B, C, H, W) array with an output of at least 1 x 1, or the error
        naming it (before anything is written)."""
        x = self._check_batch(x, _ANY_IMAGE, None)
        _out_size(self, x.shape[2:], self.kernel_size, self.stride, self.padding, "x")
        return x

    def _fast(self, x: Any) -> bool:
        """Whether ``x`` is a float (B, C, H, W) ndarray whose windows fit (no call needed)."""
        return (
            type(x) is np.ndarray
            and x.ndim == 4
            and x.dtype.kind == "f"
            and x.dtype.itemsize in (4, 8)
            and x.shape[2] + 2 * self.padding[0] >= self.kernel_size[0]
            and x.shape[3] + 2 * self.padding[1] >= self.kernel_size[1]
        )

    def _out_shape_of(self, x: Any) -> tuple[int, int, int, int]:
        (kh, kw), (sh, sw), (ph, pw) = self.kernel_size, self.stride, self.padding
        n, c, h, w = x.shape
        return n, c, (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1

    def _saved_and_grad(self, grad: Any, compute_dx: Any, overwrite_grad: Any) -> tuple:
        """(saved arrays, grad, compute_dx), every argument checked."""
        saved = self.saved_for_backward()
        if compute_dx is not True and compute_dx is not False:
            compute_dx = check_bool(compute_dx, "compute_dx")
        if overwrite_grad is not True and overwrite_grad is not False:
            check_bool(overwrite_grad, "overwrite_grad")
        out = saved["out"]
        if type(grad) is not np.ndarray or grad.dtype != out.dtype or grad.shape != out.shape:
            grad = self._check_grad(grad, out)
        grad, _ = self.take_grad(grad, False)  # a copy if it lives in this layer's buffers
        return saved, grad, compute_dx


class MaxPool2d(_Pool2d, Layer):
    """y[b, c, i, j] = max over the window at (i·sh − ph, j·sw − pw) of x[b, c] (§9.3).

    Ties go to the first maximum in row-major window order; a NaN in a window wins.

    Parameters
    ----------
    kernel_size : int or (int, int)
    stride : int or (int, int), optional
        Defaults to ``kernel_size`` (non-overlapping windows).
    padding : int or (int, int), default 0
        At most ``kernel_size // 2``; padded positions are never chosen.

    Raises
    ------
    TypeError
        If a size is not an int.
    ValueError
        If a kernel size or stride is < 1, or a padding < 0 or > ``kernel_size // 2``.
    """

    def forward(self, x: Any, *, train: bool = True) -> Any:
        """Max over each window; in training mode the argmax is kept for :meth:`backward`."""
        if not self._fast(x):
            x = self._check_input(x)
        if train is not True and not check_bool(train, "train"):
            out, _ = ops.maxpool2d_forward(
                x, self.kernel_size, stride=self.stride, padding=self.padding
            )
            return out
        x = self.private_input(x)
        shape = self._out_shape_of(x)
        out = self.buffer("out", shape, x.dtype)
        argmax = self.buffer("argmax", shape, np.int64)
        ops.maxpool2d_forward(
            x, self.kernel_size, stride=self.stride, padding=self.padding, out=out, argmax=argmax
        )
        self.save_for_backward(x=x, out=out, argmax=argmax, x_shape=x.shape)
        return out

    def backward(self, grad: Any, *, compute_dx: bool = True, overwrite_grad: bool = False) -> Any:
        """dx[b, c].flat[argmax] += grad: each gradient to the element its window chose."""
        saved, grad, compute_dx = self._saved_and_grad(grad, compute_dx, overwrite_grad)
        if not compute_dx:
            return None
        dx = self.buffer("dx", saved["x_shape"], grad.dtype)
        ops.maxpool2d_backward(grad, saved["argmax"], saved["x_shape"], dx=dx)
        return dx


class AvgPool2d(_Pool2d, Layer):
    """y[b, c, i, j] = (1 / (KH·KW)) Σ over the window of x[b, c] (§9.3), padding as zeros.

    The divisor is always KH·KW (PyTorch's ``count_include_pad=True``).

    Parameters
    ----------
    kernel_size : int or (int, int)
    stride : int or (int, int), optional
        Defaults to ``kernel_size``.
    padding : int or (int, int), default 0
        At most ``kernel_size // 2``.

    Raises
    ------
    TypeError
        If a size is not an int.
    ValueError
        If a kernel size or stride is < 1, or a padding < 0 or > ``kernel_size // 2``.
    """

    def forward(self, x: Any, *, train: bool = True) -> Any:
        """The mean of each window; in training mode the shapes are kept for backward."""
        if not self._fast(x):
            x = self._check_input(x)
        if train is not True and not check_bool(train, "train"):
            return ops.avgpool2d_forward(
                x, self.kernel_size, stride=self.stride, padding=self.padding
            )
        x = self.private_input(x)
        out = self.buffer("out", self._out_shape_of(x), x.dtype)
        ops.avgpool2d_forward(
            x, self.kernel_size, stride=self.stride, padding=self.padding, out=out
        )
        self.save_for_backward(x=x, out=out, x_shape=x.shape)
        return out

    def backward(self, grad: Any, *, compute_dx: bool = True, overwrite_grad: bool = False) -> Any:
        """dx = each gradient spread as grad / (KH·KW) over its window's unpadded inputs."""
        saved, grad, compute_dx = self._saved_and_grad(grad, compute_dx, overwrite_grad)
        if not compute_dx:
            return None
        dx = self.buffer("dx", saved["x_shape"], grad.dtype)
        ops.avgpool2d_backward(
            grad,
            saved["x_shape"],
            self.kernel_size,
            stride=self.stride,
            padding=self.padding,
            dx=dx,
        )
        return dx
