"""Validated 2-D convolution ops (reference: :mod:`numdl.core.hotpaths.conv`)."""

from __future__ import annotations

from typing import Any

from numdl.core import backend as _backend
from numdl.core.ops._buffers import check_disjoint as _check_disjoint
from numdl.core.ops._buffers import contiguous as _contiguous
from numdl.core.ops._buffers import out_buffer as _out_buffer
from numdl.core.ops._spatial import check_4d, check_x_shape, output_size, pair
from numdl.core.validation import (
    check_bool,
    check_float_array,
    check_same_dtype,
    check_shape,
)

__all__ = ["conv2d_backward", "conv2d_forward"]

_W_LAYOUT = "(F, C, KH, KW)"


def _check_weights(w: Any, like: Any, like_name: str, channels: int) -> Any:
    """``w`` as a 4-D (F, C, KH, KW) array of ``like``'s dtype, C = ``channels``, KH, KW >= 1."""
    w = check_4d(w, "w", _W_LAYOUT)
    check_same_dtype(w, "w", like, like_name)
    if w.shape[1] != channels:
        raise ValueError(
            f"w must have {channels} input channels (w.shape[1], the C of x), got shape {w.shape}"
        )
    if w.shape[2] < 1 or w.shape[3] < 1:
        raise ValueError(f"w must have a kernel of at least 1x1, got shape {w.shape}")
    return w


def conv2d_forward(
    x: Any,
    w: Any,
    b: Any,
    *,
    stride: Any = 1,
    padding: Any = 0,
    relu: bool = False,
    out: Any = None,
    cols: Any = None,
    z: Any = None,
) -> Any:
    """2-D cross-correlation H = act(X ⋆ W + b) (Goodfellow et al., eq. 9.6), as im2col + GEMM.

    Z[b, f, oh, ow] = Σ_{c,i,j} X̃[b, c, oh·sh + i, ow·sw + j] W[f, c, i, j] + b[f], with X̃
    the input zero-padded by ``padding``; H = max(0, Z) when ``relu``.

    Parameters
    ----------
    x : array of shape (B, C, H, W), float32 or float64
    w : array of shape (F, C, KH, KW), same dtype
    b : array of shape (F,), same dtype
    stride : int or pair of ints >= 1, default 1
    padding : int or pair of ints >= 0, default 0
    relu : bool, default False
    out : array of shape (B, F, OH, OW), optional
        OH = (H + 2·ph − KH) // sh + 1, OW = (W + 2·pw − KW) // sw + 1.
    cols : array of shape (C·KH·KW, B·OH·OW), optional
        Receives the unrolled input (im2col: a row per kernel tap, a column per output
        position); keep it for :func:`conv2d_backward`.
    z : array of shape (F, B·OH·OW), optional
        Scratch for the GEMM. Every buffer given must be writeable, C-contiguous and share
        memory with no other argument.

    Returns
    -------
    out : array of shape (B, F, OH, OW)

    Raises
    ------
    TypeError
        If an array is not float32/float64, the dtypes differ, ``stride``/``padding`` are not
        integers or ``relu`` not a bool.
    ValueError
        If a rank or shape disagrees (w's C against x's), stride < 1, padding < 0, the kernel
        is larger than the padded input, or a buffer is not writeable and C-contiguous or
        overlaps another argument. Nothing is written then.
    """
    relu = check_bool(relu, "relu")
    x = check_4d(x, "x")
    bsz, c, h, wd = x.shape
    w = _check_weights(w, x, "x", c)
    f, _, kh, kw = w.shape
    b = check_float_array(b, "b", ndim=1)
    check_same_dtype(b, "b", x, "x")
    check_shape(b, "b", (f,))
    stride = pair(stride, "stride", 1)
    padding = pair(padding, "padding", 0)
    oh, ow = output_size(h, wd, (kh, kw), stride, padding, "the kernel of w")
    p, k = bsz * oh * ow, c * kh * kw
    out = _out_buffer(out, "out", (bsz, f, oh, ow), x)
    cols = _out_buffer(cols, "cols", (k, p), x)
    z = _out_buffer(z, "z", (f, p), x)
    _check_disjoint({"out": out, "cols": cols, "z": z}, {"x": x, "w": w, "b": b})
    return _backend.current().conv2d_forward(
        _contiguous(x), _contiguous(w), _contiguous(b), stride, padding, relu, cols, z, out
    )


def conv2d_backward(
    grad: Any,
    cols: Any,
    w: Any,
    out: Any,
    *,
    stride: Any = 1,
    padding: Any = 0,
    relu: bool = False,
    compute_dx: bool = True,
    x_shape: Any,
    dx: Any = None,
    dw: Any = None,
    db: Any = None,
    dz: Any = None,
    dcols: Any = None,
) -> tuple[Any, Any, Any]:
    """Backward of :func:`conv2d_forward` (ch. 6.5 back-prop through im2col and the GEMM).

    dZ = dH ⊙ 1[H > 0] (or dH); db = Σ_p dZ[:, p]; dW = dZ colsᵀ; dX = col2im(W_flatᵀ dZ),
    each entry of W_flatᵀ dZ added back to the input position it was read from (eqs. 9.11–9.13).

    Parameters
    ----------
    grad : array (B, F, OH, OW)
        Upstream gradient dL/dH.
    cols : array (C·KH·KW, B·OH·OW)
        The im2col the forward wrote.
    w : array (F, C, KH, KW)
    out : array (B, F, OH, OW)
        The forward output (its sign is the ReLU mask).
    stride, padding, relu
        As given to the forward.
    compute_dx : bool, default True
        Compute dX; the first layer of a network does not need it.
    x_shape : tuple (B, C, H, W)
        The forward input's shape (keyword, required).
    dx : array (B, C, H, W), optional
    dw : array (F, C, KH, KW), optional
    db : array (F,), optional
    dz : array (F, B·OH·OW), optional
    dcols : array (C·KH·KW, B·OH·OW), optional
        Preallocated outputs and scratch: writeable, C-contiguous, sharing no memory with
        each other or with the inputs. ``dx`` and ``dcols`` must be None when
        ``compute_dx`` is False.

    Returns
    -------
    dx, dw, db : arrays
        ``dx`` is None when ``compute_dx`` is False.

    Raises
    ------
    TypeError
        If an array is not float32/float64, the dtypes differ, or a flag or size is of the
        wrong kind.
    ValueError
        If a rank or shape disagrees with ``x_shape``, ``stride`` and ``padding``, ``dx`` or
        ``dcols`` is given with ``compute_dx=False``, or a buffer is not writeable and
        C-contiguous or overlaps another argument. Nothing is written then.
    """
    relu = check_bool(relu, "relu")
    compute_dx = check_bool(compute_dx, "compute_dx")
    bsz, c, h, wd = check_x_shape(x_shape)
    grad = check_4d(grad, "grad", "(B, F, OH, OW)")
    w = _check_weights(w, grad, "grad", c)
    out = check_4d(out, "out", "(B, F, OH, OW)")
    check_same_dtype(out, "out", grad, "grad")
    cols = check_float_array(cols, "cols", ndim=2)
    check_same_dtype(cols, "cols", grad, "grad")
    f, _, kh, kw = w.shape
    stride = pair(stride, "stride", 1)
    padding = pair(padding, "padding", 0)
    oh, ow = output_size(h, wd, (kh, kw), stride, padding, "the kernel of w")
    p, k = bsz * oh * ow, c * kh * kw
    check_shape(grad, "grad", (bsz, f, oh, ow))
    check_shape(out, "out", (bsz, f, oh, ow))
    check_shape(cols, "cols", (k, p))
    if not compute_dx and (dx is not None or dcols is not None):
        name = "dx" if dx is not None else "dcols"
        raise ValueError(f"{name} must be None when compute_dx is False (it would not be written)")
    if compute_dx:
        dx = _out_buffer(dx, "dx", (bsz, c, h, wd), grad)
        dcols = _out_buffer(dcols, "dcols", (k, p), grad)
    dw = _out_buffer(dw, "dw", (f, c, kh, kw), grad)
    db = _out_buffer(db, "db", (f,), grad)
    dz = _out_buffer(dz, "dz", (f, p), grad)
    _check_disjoint(
        {"dx": dx, "dw": dw, "db": db, "dz": dz, "dcols": dcols},
        {"grad": grad, "cols": cols, "w": w, "out": out},
    )
    _backend.current().conv2d_backward(
        _contiguous(grad),
        _contiguous(cols),
        _contiguous(w),
        _contiguous(out),
        stride,
        padding,
        relu,
        compute_dx,
        dz,
        dcols,
        dx,
        dw,
        db,
    )
    return dx, dw, db
