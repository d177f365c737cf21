"""Validated linear-layer ops (reference: :mod:`numdl.core.hotpaths.linear`)."""

from __future__ import annotations

from typing import Any

from numdl.core import backend as _backend
from numdl.core.ops._buffers import check_disjoint as _check_disjoint
from numdl.core.ops._buffers import contiguous as _contiguous
from numdl.core.ops._buffers import out_buffer as _out_buffer
from numdl.core.validation import (
    check_bool,
    check_float_array,
    check_same_dtype,
    check_shape,
    check_writeable_contiguous,
)

__all__ = ["linear_backward", "linear_forward"]


def linear_forward(x: Any, w: Any, b: Any, *, relu: bool = True, out: Any = None) -> Any:
    """Affine map Z = XW + b (eq. 13), followed by ReLU (eq. 17) when ``relu``.

    Parameters
    ----------
    x : array of shape (B, D_in), float32 or float64
    w : array of shape (D_in, D_out), same dtype
    b : array of shape (D_out,), same dtype
    relu : bool, default True
        Apply max(0, ·) to the affine map.
    out : array of shape (B, D_out), optional
        Preallocated output buffer: C-contiguous, writeable, sharing no memory with ``x``,
        ``w`` or ``b``.

    Returns
    -------
    out : array of shape (B, D_out)
        H = ReLU(XW + b), or Z = XW + b. Keep it for :func:`linear_backward`.

    Raises
    ------
    TypeError
        If an array is not float32/float64, the dtypes differ, or ``relu`` is not a bool.
    ValueError
        If a shape disagrees, ``out`` is not writeable and C-contiguous, or ``out`` overlaps
        an input. Nothing is written then.
    """
    relu = check_bool(relu, "relu")
    x = check_float_array(x, "x", ndim=2)
    w = check_float_array(w, "w", ndim=2)
    b = check_float_array(b, "b", ndim=1)
    check_same_dtype(w, "w", x, "x")
    check_same_dtype(b, "b", x, "x")
    n, d_in = x.shape
    check_shape(w, "w", (d_in, None))
    d_out = w.shape[1]
    check_shape(b, "b", (d_out,))
    be = _backend.current()
    if out is not None:  # a new buffer shares memory with nothing
        out = _out_buffer(out, "out", (n, d_out), x)
        _check_disjoint({"out": out}, {"x": x, "w": w, "b": b})
    else:
        out = be.xp.empty((n, d_out), dtype=x.dtype)
    return be.linear_forward(x, w, _contiguous(b), relu, out)


def linear_backward(
    grad_out: Any,
    x: Any,
    w: Any,
    out: Any,
    *,
    relu: bool = True,
    compute_dx: bool = True,
    dx: Any = None,
    dw: Any = None,
    db: Any = None,
    overwrite_grad: bool = False,
) -> tuple[Any, Any, Any]:
    """Backward of :func:`linear_forward`: eqs. 14–16 after the ReLU mask.

    dZ = dH ⊙ 1[H > 0] (or dZ = dH without ReLU); dX = dZ Wᵀ; dW = Xᵀ dZ; db = Σ_i dZ_i.

    Parameters
    ----------
    grad_out : array (B, D_out)
        Upstream gradient dL/dH.
    x, w : arrays (B, D_in), (D_in, D_out)
        The forward inputs.
    out : array (B, D_out)
        The forward output H (its sign is the ReLU mask).
    relu : bool, default True
        Whether the forward applied ReLU.
    compute_dx : bool, default True
        Compute dX; the first layer of a network does not need it.
    dx, dw, db : arrays, optional
        Preallocated outputs (e.g. views into a flat gradient buffer): C-contiguous,
        writeable, sharing no memory with each other or with the inputs. ``dx`` must be
        None when ``compute_dx`` is False (it would not be written).
    overwrite_grad : bool, default False
        Allow ``grad_out`` to be overwritten with dZ (saves a buffer in training loops); it
        is then written too, so it must not share memory with ``x``, ``w``, ``out`` or an
        output.

    Returns
    -------
    dx, dw, db : arrays
        ``dx`` is ``None`` when ``compute_dx`` is False.

    Raises
    ------
    TypeError
        If an array is not float32/float64, the dtypes differ, or a flag is not a bool.
    ValueError
        If a shape disagrees, an output is not writeable and C-contiguous, ``dx`` is given
        with ``compute_dx=False``, or an array written overlaps another argument. Nothing is
        written then.
    """
    relu = check_bool(relu, "relu")
    compute_dx = check_bool(compute_dx, "compute_dx")
    overwrite_grad = check_bool(overwrite_grad, "overwrite_grad")
    x = check_float_array(x, "x", ndim=2)
    w = check_float_array(w, "w", ndim=2)
    grad_out = check_float_array(grad_out, "grad_out", ndim=2)
    out = check_float_array(out, "out", ndim=2)
    for arr, name in ((w, "w"), (grad_out, "grad_out"), (out, "out")):
        check_same_dtype(arr, name, x, "x")
    n, d_in = x.shape
    check_shape(w, "w", (d_in, None))
    d_out = w.shape[1]
    check_shape(grad_out, "grad_out", (n, d_out))
    check_shape(out, "out", (n, d_out))
    if overwrite_grad:
        check_writeable_contiguous(grad_out, "grad_out")
    if not compute_dx and dx is not None:
        raise ValueError("dx must be None when compute_dx is False (it would not be written)")
    dx = _out_buffer(dx, "dx", (n, d_in), x) if dx is not None else None
    dw = _out_buffer(dw, "dw", (d_in, d_out), x) if dw is not None else None
    db = _out_buffer(db, "db", (d_out,), x) if db is not None else None
    # dZ is written into grad_out with overwrite_grad (the documented aliasing): grad_out is
    # then an output itself, so it is checked against every other argument.
    written = {"grad_out": grad_out} if overwrite_grad else {}
    _check_disjoint(
        {**written, "dx": dx, "dw": dw, "db": db},
        {"x": x, "w": w, "out": out, **({} if overwrite_grad else {"grad_out": grad_out})},
    )
    be = _backend.current()
    dz = grad_out if overwrite_grad else be.xp.empty((n, d_out), dtype=x.dtype)
    if compute_dx and dx is None:
        dx = be.xp.empty((n, d_in), dtype=x.dtype)
    dw = be.xp.empty((d_in, d_out), dtype=x.dtype) if dw is None else dw
    db = be.xp.empty((d_out,), dtype=x.dtype) if db is None else db
    be.linear_backward(
        _contiguous(grad_out),
        _contiguous(x),
        _contiguous(w),
        _contiguous(out),
        relu,
        dz,
        dx,
        dw,
        db,
    )
    return dx, dw, db
