"""Validated 2-D pooling ops (reference: :mod:`numdl.core.hotpaths.pooling`)."""

from __future__ import annotations

from typing import Any

import numpy as np

from numdl.core import backend as _backend
from numdl.core.ops._buffers import check_disjoint as _check_disjoint
from numdl.core.ops._buffers import contiguous as _contiguous
from numdl.core.ops._spatial import buffer_like, check_4d, check_x_shape, output_size, pair
from numdl.core.validation import as_array, check_shape, check_writeable_contiguous

__all__ = ["avgpool2d_backward", "avgpool2d_forward", "maxpool2d_backward", "maxpool2d_forward"]

_INDEX = np.dtype(np.int64)
_OUT_LAYOUT = "(B, C, OH, OW)"


def _window(
    kernel_size: Any, stride: Any, padding: Any
) -> tuple[tuple[int, int], tuple[int, int], tuple[int, int]]:
    """(kernel, stride, padding) as pairs: kernel >= 1, stride >= 1 (None: the kernel),
    0 <= padding <= kernel // 2 (so no window lies wholly in the padding, as PyTorch)."""
    kernel = pair(kernel_size, "kernel_size", 1)
    stride = kernel if stride is None else pair(stride, "stride", 1)
    padding = pair(padding, "padding", 0)
    half = (kernel[0] // 2, kernel[1] // 2)
    if padding[0] > half[0] or padding[1] > half[1]:
        raise ValueError(
            f"padding must be at most half the kernel size (kernel_size // 2 = {half}), "
            f"got {padding}"
        )
    return kernel, stride, padding


def _index_buffer(argmax: Any, shape: tuple[int, ...]) -> Any:
    """A caller's ``argmax`` buffer checked (int64, shape, writeable, C-contiguous), or new."""
    if argmax is None:
        return _backend.current().xp.empty(shape, dtype=_INDEX)
    argmax = as_array(argmax, "argmax")
    if argmax.dtype != _INDEX:
        raise TypeError(f"argmax must have dtype int64, got {argmax.dtype}")
    check_shape(argmax, "argmax", shape)
    check_writeable_contiguous(argmax, "argmax")
    return argmax


def _grad_for(grad: Any, x_shape: tuple[int, int, int, int], kernel, stride, padding) -> Any:
    """``grad`` checked against the pooled shape of ``x_shape``."""
    grad = check_4d(grad, "grad", _OUT_LAYOUT)
    bsz, c, h, w = x_shape
    oh, ow = output_size(h, w, kernel, stride, padding)
    check_shape(grad, "grad", (bsz, c, oh, ow))
    return grad


def maxpool2d_forward(
    x: Any,
    kernel_size: Any,
    *,
    stride: Any = None,
    padding: Any = 0,
    out: Any = None,
    argmax: Any = None,
) -> tuple[Any, Any]:
    """Max pooling (Goodfellow et al., ch. 9.3): out = max over each KH×KW window.

    out[b, c, oh, ow] = max_{i,j} X̃[b, c, oh·sh + i, ow·sw + j], X̃ padded with −inf.
    Ties go to the first maximum in row-major window order; a NaN in a window wins (the
    first NaN), so NaN propagates.

    Parameters
    ----------
    x : array of shape (B, C, H, W), float32 or float64
    kernel_size : int or pair of ints >= 1
    stride : int or pair of ints >= 1, optional
        Defaults to ``kernel_size`` (non-overlapping windows).
    padding : int or pair of ints, default 0
        At most ``kernel_size // 2``.
    out : array of shape (B, C, OH, OW), optional
    argmax : int64 array of shape (B, C, OH, OW), optional
        Receives the flat index h·W + w (into the unpadded plane) of each chosen entry.
        Buffers must be writeable, C-contiguous and share memory with no other argument.

    Returns
    -------
    out, argmax : arrays
        Keep ``argmax`` for :func:`maxpool2d_backward`.

    Raises
    ------
    TypeError
        If ``x`` is not float32/float64, ``out`` of another dtype, ``argmax`` not int64, or a
        size not an integer.
    ValueError
        If ``x`` is not 4-D, kernel/stride < 1, padding < 0 or > kernel // 2, the kernel is
        larger than the padded input, or a buffer is of the wrong shape, not writeable and
        C-contiguous, or overlaps another argument. Nothing is written then.
    """
    x = check_4d(x, "x")
    kernel, stride, padding = _window(kernel_size, stride, padding)
    bsz, c, h, w = x.shape
    oh, ow = output_size(h, w, kernel, stride, padding)
    out = buffer_like(out, "out", (bsz, c, oh, ow), x, "x")
    argmax = _index_buffer(argmax, (bsz, c, oh, ow))
    _check_disjoint({"out": out, "argmax": argmax}, {"x": x})
    _backend.current().maxpool2d_forward(_contiguous(x), kernel, stride, padding, out, argmax)
    return out, argmax


def maxpool2d_backward(grad: Any, argmax: Any, x_shape: Any, *, dx: Any = None) -> Any:
    """Backward of :func:`maxpool2d_forward`: each gradient goes to the entry its window chose.

    dX = 0, then dX[b, c].flat[argmax[b, c, oh, ow]] += grad[b, c, oh, ow] (overlapping
    windows that chose the same entry add up).

    Parameters
    ----------
    grad : array (B, C, OH, OW), float32 or float64
    argmax : int64 array (B, C, OH, OW)
        As the forward wrote it: indices in [0, H·W).
    x_shape : tuple (B, C, H, W)
        The forward input's shape.
    dx : array (B, C, H, W), optional
        Preallocated output: writeable, C-contiguous, sharing no memory with the inputs.

    Returns
    -------
    dx : array (B, C, H, W)

    Raises
    ------
    TypeError
        If ``grad`` is not float32/float64, ``argmax`` not int64, or ``dx`` of another dtype.
    ValueError
        If a shape disagrees, an index is out of range, or ``dx`` is not writeable and
        C-contiguous or overlaps an input. Nothing is written then.
    """
    grad = check_4d(grad, "grad", _OUT_LAYOUT)
    bsz, c, h, w = check_x_shape(x_shape)
    argmax = as_array(argmax, "argmax")
    if argmax.dtype != _INDEX:
        raise TypeError(f"argmax must have dtype int64, got {argmax.dtype}")
    check_shape(grad, "grad", (bsz, c, None, None))
    check_shape(argmax, "argmax", grad.shape)
    if argmax.size and (int(argmax.min()) < 0 or int(argmax.max()) >= h * w):
        raise ValueError(
            f"argmax must hold flat indices in [0, {h * w}) (H·W of x_shape), got values in "
            f"[{int(argmax.min())}, {int(argmax.max())}]"
        )
    dx = buffer_like(dx, "dx", (bsz, c, h, w), grad, "grad")
    _check_disjoint({"dx": dx}, {"grad": grad, "argmax": argmax})
    _backend.current().maxpool2d_backward(_contiguous(grad), _contiguous(argmax), dx)
    return dx


def avgpool2d_forward(
    x: Any, kernel_size: Any, *, stride: Any = None, padding: Any = 0, out: Any = None
) -> Any:
    """Average pooling (ch. 9.3): out = (1 / (KH·KW)) Σ over each window, padding as zeros.

    Parameters
    ----------
    x : array of shape (B, C, H, W), float32 or float64
    kernel_size : int or pair of ints >= 1
    stride : int or pair of ints >= 1, optional
        Defaults to ``kernel_size``.
    padding : int or pair of ints, default 0
        At most ``kernel_size // 2``; padded entries count as zeros (PyTorch's
        ``count_include_pad=True``).
    out : array of shape (B, C, OH, OW), optional
        Writeable, C-contiguous, sharing no memory with ``x``.

    Returns
    -------
    out : array of shape (B, C, OH, OW)

    Raises
    ------
    TypeError
        If ``x`` is not float32/float64, ``out`` of another dtype, or a size not an integer.
    ValueError
        As :func:`maxpool2d_forward`. Nothing is written then.
    """
    x = check_4d(x, "x")
    kernel, stride, padding = _window(kernel_size, stride, padding)
    bsz, c, h, w = x.shape
    oh, ow = output_size(h, w, kernel, stride, padding)
    out = buffer_like(out, "out", (bsz, c, oh, ow), x, "x")
    _check_disjoint({"out": out}, {"x": x})
    return _backend.current().avgpool2d_forward(_contiguous(x), kernel, stride, padding, out)


def avgpool2d_backward(
    grad: Any,
    x_shape: Any,
    kernel_size: Any,
    *,
    stride: Any = None,
    padding: Any = 0,
    dx: Any = None,
) -> Any:
    """Backward of :func:`avgpool2d_forward`: grad / (KH·KW) spread over each window.

    Parameters
    ----------
    grad : array (B, C, OH, OW), float32 or float64
    x_shape : tuple (B, C, H, W)
        The forward input's shape.
    kernel_size, stride, padding
        As given to the forward.
    dx : array (B, C, H, W), optional
        Writeable, C-contiguous, sharing no memory with ``grad``.

    Returns
    -------
    dx : array (B, C, H, W)

    Raises
    ------
    TypeError
        If ``grad`` is not float32/float64, ``dx`` of another dtype, or a size not an
        integer.
    ValueError
        If ``grad``'s shape is not the pooled shape of ``x_shape``, a window argument is out
        of range, or ``dx`` is not writeable and C-contiguous or overlaps ``grad``. Nothing
        is written then.
    """
    kernel, stride, padding = _window(kernel_size, stride, padding)
    x_shape = check_x_shape(x_shape)
    grad = _grad_for(grad, x_shape, kernel, stride, padding)
    dx = buffer_like(dx, "dx", x_shape, grad, "grad")
    _check_disjoint({"dx": dx}, {"grad": grad})
    _backend.current().avgpool2d_backward(_contiguous(grad), kernel, stride, padding, dx)
    return dx
