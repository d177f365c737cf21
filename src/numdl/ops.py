"""Public, validated entry points to the hot paths, dispatched to the active backend.

Every function here checks its arguments once (the same errors whatever the backend),
allocates the outputs the caller did not provide, and calls the function of the same name
on :func:`numdl.backend.current`. The mathematics lives in :mod:`numdl.hotpaths`.
"""

from __future__ import annotations

from typing import Any

from numdl import backend as _backend
from numdl._validation import (
    as_array,
    check_float_array,
    check_in_range,
    check_int,
    check_labels,
    check_positive,
    check_same_dtype,
    check_shape,
    check_writeable_contiguous,
    normalize_axis,
)

__all__ = [
    "adamw_update",
    "cross_entropy",
    "linear_backward",
    "linear_forward",
    "log_softmax",
    "logsumexp",
    "momentum_update",
    "softmax",
]


def _out_buffer(out: Any, name: str, shape: tuple[int, ...], like: Any) -> Any:
    """Return ``out`` checked against ``shape`` and ``like.dtype``, or a new buffer."""
    if out is None:
        return _backend.current().xp.empty(shape, dtype=like.dtype)
    out = as_array(out, name)
    check_shape(out, name, shape)
    check_same_dtype(out, name, like, "the input")
    check_writeable_contiguous(out, name)
    return out


def _contiguous(x: Any) -> Any:
    return x if x.flags.c_contiguous else _backend.current().xp.ascontiguousarray(x)


# --------------------------------------------------------------------------- linear layers
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
        Preallocated output buffer.

    Returns
    -------
    out : array of shape (B, D_out)
        H = ReLU(XW + b), or Z = XW + b. Keep it for :func:`linear_backward`.
    """
    x = check_float_array(x, "x", ndim=2)
    w = check_float_array(w, "w", ndim=2)
    b = check_float_array(b, "b", ndim=1)
    check_same_dtype(w, "w", x, "x")
    check_same_dtype(b, "b", x, "x")
    n, d_in = x.shape
    check_shape(w, "w", (d_in, None))
    d_out = w.shape[1]
    check_shape(b, "b", (d_out,))
    out = _out_buffer(out, "out", (n, d_out), x)
    return _backend.current().linear_forward(x, w, _contiguous(b), bool(relu), out)


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
        Preallocated outputs (e.g. views into a flat gradient buffer).
    overwrite_grad : bool, default False
        Allow ``grad_out`` to be overwritten with dZ (saves a buffer in training loops).

    Returns
    -------
    dx, dw, db : arrays
        ``dx`` is ``None`` when ``compute_dx`` is False.
    """
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
        dz = grad_out
    else:
        dz = _backend.current().xp.empty_like(grad_out)
    dx = _out_buffer(dx, "dx", (n, d_in), x) if compute_dx else None
    dw = _out_buffer(dw, "dw", (d_in, d_out), x)
    db = _out_buffer(db, "db", (d_out,), x)
    _backend.current().linear_backward(
        _contiguous(grad_out),
        _contiguous(x),
        _contiguous(w),
        _contiguous(out),
        bool(relu),
        dz,
        dx,
        dw,
        db,
    )
    return dx, dw, db


# ----------------------------------------------------------------- log-sum-exp and softmax
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
    """
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


# --------------------------------------------------------------------------- cross-entropy
def cross_entropy(
    logits: Any, target: Any, *, return_grad: bool = False, dlogits: Any = None
) -> Any:
    """Mean cross-entropy from logits (eq. 18), optionally with its gradient (eq. 19).

    Parameters
    ----------
    logits : array (B, C), float32 or float64
    target : array (B,) of integer labels in [0, C), or (B, C) soft/one-hot targets
        Soft targets have the logits' dtype and are non-negative.
    return_grad : bool, default False
        Also return dL/dlogits = (softmax(logits) − onehot)/B, computed in the same pass.
    dlogits : array (B, C), optional
        Preallocated gradient buffer (implies ``return_grad``).

    Returns
    -------
    loss : scalar of the logits' dtype
    dlogits : array (B, C)
        Only when ``return_grad`` or ``dlogits`` is given.
    """
    logits = check_float_array(logits, "logits", ndim=2)
    n, c = logits.shape
    if n == 0 or c == 0:
        raise ValueError(f"logits must have at least one row and one class, got {logits.shape}")
    target = as_array(target, "target")
    if target.ndim == 1:
        target = check_labels(target, "target", n, c)
    else:
        target = check_float_array(target, "target", ndim=2)
        check_same_dtype(target, "target", logits, "logits")
        check_shape(target, "target", (n, c))
        if bool((target < 0).any()):
            raise ValueError("target must be non-negative (soft targets are probabilities)")
    want_grad = return_grad or dlogits is not None
    grad = _out_buffer(dlogits, "dlogits", (n, c), logits) if want_grad else None
    loss = _backend.current().cross_entropy(_contiguous(logits), _contiguous(target), grad)
    return (loss, grad) if want_grad else loss


# ------------------------------------------------------------------------------ optimisers
def _check_update_arrays(param: Any, named: dict[str, Any]) -> tuple[Any, ...]:
    param = check_float_array(param, "param")
    check_writeable_contiguous(param, "param")
    flat = [param.reshape(-1)]
    for name, arr in named.items():
        arr = check_float_array(arr, name)
        check_same_dtype(arr, name, param, "param")
        check_shape(arr, name, param.shape)
        if name != "grad":
            check_writeable_contiguous(arr, name)
        flat.append(_contiguous(arr).reshape(-1))
    return tuple(flat)


def _n_decayed(n_decayed: int | None, size: int) -> int:
    if n_decayed is None:
        return size
    n_decayed = check_int(n_decayed, "n_decayed", minimum=0)
    if n_decayed > size:
        raise ValueError(f"n_decayed must be <= param.size ({size}), got {n_decayed}")
    return n_decayed


def momentum_update(
    param: Any,
    grad: Any,
    velocity: Any,
    *,
    lr: float,
    momentum: float = 0.9,
    weight_decay: float = 0.0,
    nesterov: bool = False,
    n_decayed: int | None = None,
) -> None:
    """In-place SGD step with momentum and L2 weight decay (eqs. 20–24).

    g = ∇ + λθ;  v ← βv + g;  θ ← θ − ηv  (Nesterov: θ ← θ − η(βv + g)).

    Parameters
    ----------
    param, velocity : arrays, C-contiguous, updated in place
    grad : array of the same shape and dtype
    lr : float >= 0
    momentum : float in [0, 1)
    weight_decay : float >= 0
        λ of the L2 penalty (λ/2)Σθ² (eq. 20).
    nesterov : bool
    n_decayed : int, optional
        Decay only the first ``n_decayed`` entries of the flattened arrays (a model's flat
        buffer holds its weights first, its biases last); default all.
    """
    p, g, v = _check_update_arrays(param, {"grad": grad, "velocity": velocity})
    lr = check_positive(lr, "lr", allow_zero=True)
    momentum = check_in_range(momentum, "momentum", 0.0, 1.0)
    weight_decay = check_positive(weight_decay, "weight_decay", allow_zero=True)
    _backend.current().momentum_update(
        p, g, v, lr, momentum, weight_decay, bool(nesterov), _n_decayed(n_decayed, p.size)
    )


def adamw_update(
    param: Any,
    grad: Any,
    m: Any,
    v: Any,
    *,
    lr: float,
    step: int,
    beta1: float = 0.9,
    beta2: float = 0.999,
    eps: float = 1e-8,
    weight_decay: float = 1e-2,
    n_decayed: int | None = None,
) -> None:
    """In-place AdamW step t = ``step`` (≥ 1), bias-corrected, with decoupled weight decay.

    Parameters
    ----------
    param, m, v : arrays, C-contiguous, updated in place
        Parameters, first and second moment estimates.
    grad : array of the same shape and dtype
    lr : float >= 0
    step : int >= 1
        Index of this update (for the bias correction 1 − βᵗ).
    beta1, beta2 : floats in [0, 1)
    eps : float > 0
    weight_decay : float >= 0
        Decoupled decay θ ← θ(1 − ηλ), applied to the first ``n_decayed`` entries.
    n_decayed : int, optional
        See :func:`momentum_update`.
    """
    p, g, m_, v_ = _check_update_arrays(param, {"grad": grad, "m": m, "v": v})
    lr = check_positive(lr, "lr", allow_zero=True)
    step = check_int(step, "step", minimum=1)
    beta1 = check_in_range(beta1, "beta1", 0.0, 1.0)
    beta2 = check_in_range(beta2, "beta2", 0.0, 1.0)
    eps = check_positive(eps, "eps")
    weight_decay = check_positive(weight_decay, "weight_decay", allow_zero=True)
    _backend.current().adamw_update(
        p, g, m_, v_, lr, beta1, beta2, eps, weight_decay, step, _n_decayed(n_decayed, p.size)
    )
