"""The 2-D convolution layer Z = W ⋆ X + b (cross-correlation, textbook ch. 9 eq. 9.6), ReLU
fused in when asked.

Forward unrolls the input into ``cols`` (im2col: one row per kernel tap, one column per
output position) and does one GEMM; backward (ch. 6.5 back-propagation through that GEMM) gives
dW = dZ·colsᵀ, db = Σ dZ and dX = col2im(Wᵀ·dZ). ``cols`` is kept for backward, so the
input itself is not. See :mod:`numdl.core.ops.conv` for the validated kernels.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from numdl.core import backend as _backend
from numdl.core import ops
from numdl.core.validation import check_bool, check_int, is_sequence
from numdl.nn.init import INITIALIZERS
from numdl.nn.layers.base import Layer, Shape, format_shape
from numdl.nn.params import Parameters, ParamSpec

__all__ = ["Conv2d"]


def _pair(value: Any, name: str, minimum: int) -> tuple[int, int]:
    """``value`` (an int, or a pair of ints) as a pair of ints >= ``minimum``."""
    if is_sequence(value):
        items = list(value)
        if len(items) != 2:
            raise ValueError(f"{name} must be an int or a pair of ints, got {len(items)} entries")
        return (
            check_int(items[0], f"{name}[0]", minimum=minimum),
            check_int(items[1], f"{name}[1]", minimum=minimum),
        )
    n = check_int(value, name, minimum=minimum)
    return n, n


def _show(pair: tuple[int, int]) -> str:
    return str(pair[0]) if pair[0] == pair[1] else str(pair)


def _out_size(
    layer: Layer,
    hw: tuple[int | None, int | None],
    kernel: tuple[int, int],
    stride: tuple[int, int],
    padding: tuple[int, int],
    name: str,
) -> tuple[int | None, int | None]:
    """(OH, OW) = ((H + 2·ph − KH) // sh + 1, …) for an input of height, width ``hw``
    (``None``: not known), or a ``ValueError`` naming ``name`` when one is below 1."""
    out: list[int | None] = []
    for size, k, s, p, axis in zip(hw, kernel, stride, padding, ("height", "width"), strict=True):
        if size is None:
            out.append(None)
            continue
        if size + 2 * p < k:
            raise ValueError(
                f"{name} is too small for {layer.describe()}: its {axis} {size} (padded: "
                f"{size + 2 * p}) is smaller than the kernel's {k}, so the output would be empty"
            )
        out.append((size + 2 * p - k) // s + 1)
    return out[0], out[1]


class Conv2d(Layer):
    """Z[b, f] = Σ_c W[f, c] ⋆ X[b, c] + b[f] (eq. 9.6), with ReLU fused in when asked.

    Activations are NCHW: ``x`` is (B, C, H, W) and the output (B, F, OH, OW) with
    OH = (H + 2·ph − KH) // sh + 1 (likewise OW).

    Parameters
    ----------
    in_channels, out_channels : int >= 1
        C and F.
    kernel_size : int or (int, int)
        (KH, KW); an int is a square kernel.
    stride : int or (int, int), default 1
    padding : int or (int, int), default 0
        Zeros added on each side of the height and width.
    relu : bool, default False
        Apply ReLU in the same pass.
    init : str, default "he_uniform"
        Kernel initialiser from :data:`numdl.nn.init.INITIALIZERS` (fan_in = C·KH·KW,
        fan_out = F·KH·KW); biases start at zero.

    Attributes
    ----------
    W : (F, C, KH, KW) kernel (weight decay applies); b : (F,) bias (no decay)

    Raises
    ------
    TypeError
        If a size is not an int, ``relu`` not a bool or ``init`` not a string.
    ValueError
        If a channel count, kernel size or stride is < 1, a padding < 0, or ``init`` unknown.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: Any,
        *,
        stride: Any = 1,
        padding: Any = 0,
        relu: bool = False,
        init: str = "he_uniform",
    ) -> None:
        self.in_channels = check_int(in_channels, "in_channels", minimum=1)
        self.out_channels = check_int(out_channels, "out_channels", minimum=1)
        self.kernel_size = _pair(kernel_size, "kernel_size", 1)
        self.stride = _pair(stride, "stride", 1)
        self.padding = _pair(padding, "padding", 0)
        self.relu = check_bool(relu, "relu")
        if not isinstance(init, str):
            raise TypeError(
                f"init must be a string, one of {sorted(INITIALIZERS)}, got {type(init).__name__}"
            )
        if init not in INITIALIZERS:
            raise ValueError(f"init must be one of {sorted(INITIALIZERS)}, got {init!r}")
        self.init = init

    def __repr__(self) -> str:
        extra = "" if self.stride == (1, 1) else f", stride={_show(self.stride)}"
        extra += "" if self.padding == (0, 0) else f", padding={_show(self.padding)}"
        extra += ", relu=True" if self.relu else ""
        return f"Conv2d({self.in_channels}, {self.out_channels}, {_show(self.kernel_size)}{extra})"

    @property
    def weight_shape(self) -> tuple[int, int, int, int]:
        """(F, C, KH, KW)."""
        return (self.out_channels, self.in_channels, *self.kernel_size)

    @property
    def in_shape(self) -> Shape:
        return (self.in_channels, None, None)

    def out_shape(self, in_shape: Shape | None) -> Shape:
        hw = (None, None) if in_shape is None or len(in_shape) != 3 else in_shape[1:]
        oh, ow = _out_size(
            self, hw, self.kernel_size, self.stride, self.padding,
            f"a sample of shape {format_shape(in_shape or (self.in_channels, None, None))}",
        )  # fmt: skip
        return (self.out_channels, oh, ow)

    def param_specs(self, prefix: str) -> list[ParamSpec]:
        return [
            ParamSpec(prefix + "W", self.weight_shape, decay=True),
            ParamSpec(prefix + "b", (self.out_channels,), decay=False),
        ]

    def bind(self, params: Parameters, prefix: str) -> None:
        self.W, self.b = params[prefix + "W"], params[prefix + "b"]
        self.dW, self.db = params.grad_of(prefix + "W"), params.grad_of(prefix + "b")

    def reset_parameters(self, rng: np.random.Generator) -> None:
        self.W[...] = _backend.current().xp.asarray(
            INITIALIZERS[self.init](self.weight_shape, rng, self.W.dtype)
        )
        self.b[...] = 0

    def _check_input(self, x: Any) -> Any:
        """``x`` as a (B, C, H, W) array of this layer's dtype with an output of at least
        1 x 1, or the error naming it (before anything is written)."""
        w = self.__dict__.get("W")
        if w is None:
            raise RuntimeError(
                f"{self!r} has no parameters yet: put it in a Sequential, which allocates them"
            )
        x = self._check_batch(x, (self.in_channels, None, None), w)
        _out_size(self, x.shape[2:], self.kernel_size, self.stride, self.padding, "x")
        return x

    def forward(self, x: Any, *, train: bool = True) -> Any:
        """Z = W ⋆ X + b, or ReLU of it (eq. 9.6), for ``x`` of shape (B, C, H, W).

        In training mode the output is this layer's reused buffer (copy it to keep it); the
        unrolled input ``cols`` and the output are kept for :meth:`backward`.
        """
        w = self.__dict__.get("W")
        if (  # the common case, decided without a call; anything else is checked in full
            type(x) is not np.ndarray
            or w is None
            or x.ndim != 4
            or x.dtype != w.dtype
            or x.shape[1] != self.in_channels
            or x.shape[2] + 2 * self.padding[0] < self.kernel_size[0]
            or x.shape[3] + 2 * self.padding[1] < self.kernel_size[1]
        ):
            x = self._check_input(x)
            w = self.W
        if train is not True and not check_bool(train, "train"):
            return ops.conv2d_forward(
                x, w, self.b, stride=self.stride, padding=self.padding, relu=self.relu
            )
        x = self.private_input(x)
        (kh, kw), (sh, sw), (ph, pw) = self.kernel_size, self.stride, self.padding
        n, c, h, wd = x.shape
        oh, ow = (h + 2 * ph - kh) // sh + 1, (wd + 2 * pw - kw) // sw + 1
        f = self.out_channels
        cols = self.buffer("cols", (c * kh * kw, n * oh * ow), w.dtype)
        z = self.buffer("z", (f, n * oh * ow), w.dtype)
        out = self.buffer("out", (n, f, oh, ow), w.dtype)
        ops.conv2d_forward(
            x,
            w,
            self.b,
            stride=self.stride,
            padding=self.padding,
            relu=self.relu,
            out=out,
            cols=cols,
            z=z,
        )
        # x is not read again (cols holds it) but is stamped: a backward after the previous
        # layer's output was overwritten raises, as for every layer that saves its input
        self.save_for_backward(x=x, cols=cols, out=out, x_shape=x.shape)
        return out

    def backward(self, grad: Any, *, compute_dx: bool = True, overwrite_grad: bool = False) -> Any:
        """dX = col2im(Wᵀ·dZ), writing dW = dZ·colsᵀ and db = Σ dZ into the gradients.

        dZ is ``grad`` masked by ReLU's derivative when it is fused (out > 0). ``compute_dx=False``
        skips dX (returns ``None``). dX is this layer's reused buffer; ``overwrite_grad`` is
        accepted for the common interface (the mask goes to a scratch buffer of its own).
        """
        saved = self.saved_for_backward()
        cols, out, x_shape = saved["cols"], saved["out"], saved["x_shape"]
        if compute_dx is not True and compute_dx is not False:
            compute_dx = check_bool(compute_dx, "compute_dx")
        if overwrite_grad is not True and overwrite_grad is not False:
            overwrite_grad = check_bool(overwrite_grad, "overwrite_grad")
        if type(grad) is not np.ndarray or grad.dtype != out.dtype or grad.shape != out.shape:
            grad = self._check_grad(grad, out)
        grad, _ = self.take_grad(grad, False)  # a copy if it lives in this layer's buffers
        dz = self.buffer("dz", (self.out_channels, cols.shape[1]), out.dtype)
        dcols = self.buffer("dcols", cols.shape, out.dtype) if compute_dx else None
        dx = self.buffer("dx", x_shape, out.dtype) if compute_dx else None
        ops.conv2d_backward(
            grad,
            cols,
            self.W,
            out,
            stride=self.stride,
            padding=self.padding,
            relu=self.relu,
            compute_dx=compute_dx,
            x_shape=x_shape,
            dx=dx,
            dw=self.dW,
            db=self.db,
            dz=dz,
            dcols=dcols,
        )
        return dx
