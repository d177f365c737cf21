"""Validated softmax-family ops: logsumexp, (log-)softmax along any axis, cross-entropy.

Reference: :mod:`numdl.core.hotpaths.softmax`.
"""

from __future__ import annotations

from typing import Any

from numdl.core import backend as _backend
from numdl.core.ops._buffers import check_disjoint as _check_disjoint
from numdl.core.ops._buffers import contiguous as _contiguous
from numdl.core.ops._buffers import out_buffer as _out_buffer
from numdl.core.validation import (
    as_array,
    check_bool,
    check_float_array,
    check_labels,
    check_same_dtype,
    check_shape,
    normalize_axis,
)

__all__ = ["cross_entropy", "log_softmax", "logsumexp", "softmax"]


def _as_rows(x: Any, axis: int) -> tuple[Any, tuple[int, ...]]:
    """Move ``axis`` last and flatten the rest: returns the (R, C) view/copy and the row shape."""
    xp = _backend.current().xp
    moved = xp.moveaxis(x, axis, -1)
    rows = moved.shape[:-1]
    return xp.ascontiguousarray(moved.reshape(-1, moved.shape[-1])), rows


def _check_reducible(x: Any, axis: int) -> tuple[Any, int]:
    """A float array with a non-empty ``axis`` to reduce over; returns it and the axis."""
    x = check_float_array(x, "x")
    if x.ndim == 0:
        raise ValueError("x must be at least 1-D, got a 0-D array")
    axis = normalize_axis(axis, x.ndim)
    if x.shape[axis] == 0:
        raise ValueError(f"x must be non-empty along axis {axis}, got shape {x.shape}")
    return x, axis


def logsumexp(x: Any, axis: int = -1, keepdims: bool = False) -> Any:
    """log Σ_i exp(x_i) along ``axis``, computed stably as m + log Σ exp(x − m) (eq. 9).

    Parameters
    ----------
    x : array, float32 or float64, at least 1-D, non-empty along ``axis``
    axis : int, default -1
    keepdims : bool, default False

    Returns
    -------
    array
        An all −inf slice gives −inf (not NaN); a slice holding +inf gives +inf; NaN
        propagates.

    Raises
    ------
    TypeError
        If ``x`` is not float32/float64, ``axis`` not an integer or ``keepdims`` not a bool.
    ValueError
        If ``x`` is 0-D, ``axis`` out of range or ``x`` empty along it.
    """
    keepdims = check_bool(keepdims, "keepdims")
    x, axis = _check_reducible(x, axis)
    rows, row_shape = _as_rows(x, axis)
    be = _backend.current()
    out = be.logsumexp_rows(rows, be.xp.empty(rows.shape[0], dtype=x.dtype))
    out = out.reshape(row_shape)
    return be.xp.expand_dims(out, axis) if keepdims else out


def log_softmax(x: Any, axis: int = -1) -> Any:
    """log softmax(x)_i = x_i − logsumexp(x) along ``axis`` (eq. 10). Same shape as ``x``."""
    x, axis = _check_reducible(x, axis)
    rows, _ = _as_rows(x, axis)
    be = _backend.current()
    out = be.log_softmax_rows(rows, be.xp.empty_like(rows))
    moved_shape = (*x.shape[:axis], *x.shape[axis + 1 :], x.shape[axis])
    return be.xp.moveaxis(out.reshape(moved_shape), -1, axis)


def softmax(x: Any, axis: int = -1) -> Any:
    """softmax(x)_i = exp(x_i − logsumexp(x)) along ``axis``: non-negative, sums to 1."""
    return _backend.current().xp.exp(log_softmax(x, axis))


def cross_entropy(
    logits: Any, target: Any, *, return_grad: bool = False, dlogits: Any = None
) -> Any:
    """Mean cross-entropy from logits (eq. 18), optionally with its gradient (eq. 19).

    Parameters
    ----------
    logits : array (B, C), float32 or float64
        NaN and ±inf are accepted and propagate (a NaN logit gives a NaN loss).
    target : array (B,) of integer labels in [0, C), or (B, C) soft/one-hot targets
        Soft targets have the logits' dtype and are finite and non-negative (rows need not
        be normalised).
    return_grad : bool, default False
        Also return dL/dlogits = (softmax(logits) − onehot)/B, computed in the same pass.
    dlogits : array (B, C), optional
        Preallocated gradient buffer (implies ``return_grad``): C-contiguous, writeable and
        sharing no memory with ``logits`` or ``target``.

    Returns
    -------
    loss : scalar of the logits' dtype
    dlogits : array (B, C)
        Only when ``return_grad`` or ``dlogits`` is given.

    Raises
    ------
    TypeError
        If ``logits`` is not float32/float64, labels are not integers, soft targets or
        ``dlogits`` not of the logits' dtype, or ``return_grad`` not a bool.
    ValueError
        If a shape disagrees, a label is out of range, a soft target is negative, NaN or
        infinite, or ``dlogits`` is not writeable and C-contiguous or overlaps an input.
        Nothing is written then.
    """
    return_grad = check_bool(return_grad, "return_grad")
    logits = check_float_array(logits, "logits", ndim=2)
    n, c = logits.shape
    if n == 0 or c == 0:
        raise ValueError(f"logits must have at least one row and one class, got {logits.shape}")
    target = as_array(target, "target")
    if target.ndim == 1:
        target = check_labels(target, "target", n, c)
    elif target.ndim == 2:
        target = check_float_array(target, "target")
        check_same_dtype(target, "target", logits, "logits")
        check_shape(target, "target", (n, c))
        _check_soft_target(target)
    else:
        raise ValueError(
            "target must be 1-D integer labels (B,) or 2-D soft targets (B, C), "
            f"got shape {target.shape} ({target.ndim}-D)"
        )
    want_grad = return_grad or dlogits is not None
    grad = None
    if dlogits is not None:  # a new buffer (below) shares memory with nothing
        grad = _out_buffer(dlogits, "dlogits", (n, c), logits)
        _check_disjoint({"dlogits": grad}, {"logits": logits, "target": target})
    elif want_grad:
        grad = _out_buffer(None, "dlogits", (n, c), logits)
    loss = _backend.current().cross_entropy(_contiguous(logits), _contiguous(target), grad)
    return (loss, grad) if want_grad else loss


def _check_soft_target(target: Any) -> None:
    """Soft targets are probabilities (up to a row scale): finite and non-negative."""
    xp = _backend.array_module(target)
    finite = xp.isfinite(target)
    if not bool(finite.all()):
        bad = int((~finite).sum())
        raise ValueError(
            f"target must be finite (soft targets are probabilities), got {bad} NaN or "
            "infinite entries"
        )
    if bool((target < 0).any()):
        raise ValueError("target must be non-negative (soft targets are probabilities)")
