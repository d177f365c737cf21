"""Validated optimiser updates over flat buffers (reference: :mod:`numdl.core.hotpaths.optim`).

Every scalar hyperparameter is checked twice: for its range, and for surviving the cast to
the arrays' dtype, in which the kernels compute (``eps=1e-50`` is 0 in float32, ``lr=1e39``
is inf: either turns every parameter into NaN). The arrays updated in place must not share
memory with each other or with ``grad``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from numdl.core import backend as _backend
from numdl.core.ops._buffers import check_disjoint as _check_disjoint
from numdl.core.ops._buffers import contiguous as _contiguous
from numdl.core.validation import (
    check_bool,
    check_float_array,
    check_in_range,
    check_int,
    check_positive,
    check_representable,
    check_same_dtype,
    check_shape,
    check_writeable_contiguous,
)

__all__ = [
    "adagrad_update",
    "adam_update",
    "adamw_update",
    "momentum_update",
    "rmsprop_update",
]

#: The largest AdamW step the kernels accept: they take ``step`` as a signed 64-bit integer.
MAX_STEP = 2**63 - 1

_FLOAT64 = np.dtype(np.float64)
#: Per dtype: magnitudes up to the first never overflow, from the second on never become 0.
_LIMITS = {
    np.dtype(t): (float(np.finfo(t).max), float(np.finfo(t).smallest_subnormal))
    for t in (np.float32, np.float64)
}
_UNKNOWN = (-1.0, np.inf)  # another dtype: always the exact test


def _check_update_arrays(
    param: Any, named: dict[str, Any]
) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """The flat (1-D) arrays for the kernel, and the checked arrays by name (for overlap)."""
    param = check_float_array(param, "param")
    check_writeable_contiguous(param, "param")
    checked = {"param": param}
    flat = [param.reshape(-1)]
    for name, arr in named.items():
        arr = check_float_array(arr, name)
        check_same_dtype(arr, name, param, "param")
        check_shape(arr, name, param.shape)
        if name != "grad":
            check_writeable_contiguous(arr, name)
        checked[name] = arr
        flat.append(_contiguous(arr).reshape(-1))
    return tuple(flat), checked


def _check_state_disjoint(checked: dict[str, Any]) -> None:
    """param and the optimiser state are written in place: none may overlap another array."""
    grad = checked.pop("grad")
    _check_disjoint(checked, {"grad": grad})


def _fits(value: float, name: str, dtype: np.dtype, *, nonzero: bool = False) -> None:
    """:func:`~numdl.core.validation.check_representable`, skipped (this runs on every step)
    where the magnitude is well inside the dtype's range, so the cast cannot go wrong."""
    largest, smallest = _LIMITS.get(dtype, _UNKNOWN)
    size = abs(value)
    if size > largest or (nonzero and 0 < size < smallest):
        check_representable(value, name, dtype, nonzero=nonzero)


def _scalar(
    check: Callable[..., float],
    value: Any,
    name: str,
    dtype: np.dtype,
    *args: Any,
    nonzero: bool = False,
    **kw: Any,
) -> float:
    """``check(value, name, *args, **kw)``, then the value must survive the cast to ``dtype``.

    The cast must stay finite (and non-zero with ``nonzero``: see
    :func:`~numdl.core.validation.check_representable`), and for ``check_in_range`` (whose
    upper bound is open) the rounded value must stay below the bound: ``momentum=0.99999999``
    is 1.0 in float32, outside [0, 1).
    """
    value = check(value, name, *args, **kw)
    if dtype == _FLOAT64:  # a finite Python float is a float64: the cast changes nothing
        return value
    _fits(value, name, dtype, nonzero=nonzero)
    if check is check_in_range and args[1] - value <= 1e-6 * abs(args[1]):
        cast = float(dtype.type(value))  # within rounding of the bound: may land on it
        if cast != value:
            try:
                check(cast, name, *args, **kw)
            except ValueError as exc:
                raise ValueError(f"{name}={value} is {cast} in {dtype}: {exc}") from None
    return value


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
        They must not share memory with each other or with ``grad``.
    grad : array of the same shape and dtype
    lr : float >= 0
    momentum : float in [0, 1)
    weight_decay : float >= 0
        λ of the L2 penalty (λ/2)Σθ² (eq. 20).
    nesterov : bool
    n_decayed : int, optional
        Decay only the first ``n_decayed`` entries of the flattened arrays (a model's flat
        buffer holds its weights first, its biases last); default all.

    Raises
    ------
    TypeError
        If an array is not float32/float64 or of another dtype than ``param``, a scalar is
        not a real number, ``nesterov`` not a bool or ``n_decayed`` not an integer.
    ValueError
        If a shape differs, ``param`` or ``velocity`` is not writeable and C-contiguous or
        overlaps another array, a scalar is out of range or overflows in the arrays' dtype.
        Nothing is written then.
    """
    (p, g, v), checked = _check_update_arrays(param, {"grad": grad, "velocity": velocity})
    dtype = p.dtype
    lr = _scalar(check_positive, lr, "lr", dtype, allow_zero=True)
    momentum = _scalar(check_in_range, momentum, "momentum", dtype, 0.0, 1.0)
    weight_decay = _scalar(check_positive, weight_decay, "weight_decay", dtype, allow_zero=True)
    nesterov = check_bool(nesterov, "nesterov")
    n_decayed = _n_decayed(n_decayed, p.size)
    _check_state_disjoint(checked)
    _backend.current().momentum_update(p, g, v, lr, momentum, weight_decay, nesterov, n_decayed)


def _adam_scalars(
    dtype: np.dtype,
    lr: Any,
    step: Any,
    beta1: Any,
    beta2: Any,
    eps: Any,
    weight_decay: Any,
) -> tuple[float, int, float, float, float, float]:
    """The hyperparameters Adam and AdamW share, checked (range, and the cast to ``dtype``)."""
    return (
        _scalar(check_positive, lr, "lr", dtype, allow_zero=True),
        check_int(step, "step", minimum=1, maximum=MAX_STEP),
        _scalar(check_in_range, beta1, "beta1", dtype, 0.0, 1.0),
        _scalar(check_in_range, beta2, "beta2", dtype, 0.0, 1.0),
        _scalar(check_positive, eps, "eps", dtype, nonzero=True),
        _scalar(check_positive, weight_decay, "weight_decay", dtype, allow_zero=True),
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
        Parameters, first and second moment estimates; no two may share memory, nor any
        of them with ``grad``.
    grad : array of the same shape and dtype
    lr : float >= 0
    step : int in [1, 2**63 − 1]
        Index of this update (for the bias correction 1 − βᵗ).
    beta1, beta2 : floats in [0, 1)
    eps : float > 0
        Must not underflow to 0 in the arrays' dtype (float32: at least ~1.4e-45).
    weight_decay : float >= 0
        Decoupled decay θ ← θ(1 − ηλ), applied to the first ``n_decayed`` entries.
    n_decayed : int, optional
        See :func:`momentum_update`.

    Raises
    ------
    TypeError
        If an array is not float32/float64 or of another dtype than ``param``, a scalar is
        not a real number, or ``step``/``n_decayed`` not an integer.
    ValueError
        If a shape differs, an in-place array is not writeable and C-contiguous or overlaps
        another array, a scalar is out of range, overflows (or ``eps`` underflows) in the
        arrays' dtype, or ``lr * weight_decay`` overflows. Nothing is written then.
    """
    (p, g, m_, v_), checked = _check_update_arrays(param, {"grad": grad, "m": m, "v": v})
    dtype = p.dtype
    lr, step, beta1, beta2, eps, weight_decay = _adam_scalars(
        dtype, lr, step, beta1, beta2, eps, weight_decay
    )
    # the kernels compute the decay factor 1 − ηλ in Python floats, then cast it to dtype
    _fits(lr * weight_decay, "lr * weight_decay", dtype)
    n_decayed = _n_decayed(n_decayed, p.size)
    _check_state_disjoint(checked)
    _backend.current().adamw_update(
        p, g, m_, v_, lr, beta1, beta2, eps, weight_decay, step, n_decayed
    )


def adam_update(
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
    weight_decay: float = 0.0,
    n_decayed: int | None = None,
) -> None:
    """In-place Adam step t = ``step`` (≥ 1), bias-corrected, with coupled L2 weight decay.

    g = ∇ + λθ;  m ← β₁m + (1−β₁)g;  v ← β₂v + (1−β₂)g²;  θ ← θ − η m̂/(√v̂ + ε)
    (textbook Alg. 8.7; ``torch.optim.Adam``). Unlike :func:`adamw_update`, the decay enters
    the gradient, so the moments see it.

    Parameters
    ----------
    param, m, v : arrays, C-contiguous, updated in place
        Parameters, first and second moment estimates; no two may share memory, nor any
        of them with ``grad``.
    grad : array of the same shape and dtype
    lr : float >= 0
    step : int in [1, 2**63 − 1]
        Index of this update (for the bias correction 1 − βᵗ).
    beta1, beta2 : floats in [0, 1)
    eps : float > 0
        Must not underflow to 0 in the arrays' dtype.
    weight_decay : float >= 0
        λ of the L2 penalty (λ/2)Σθ² (eq. 20), its gradient λθ added to the first
        ``n_decayed`` entries of ∇.
    n_decayed : int, optional
        See :func:`momentum_update`.

    Raises
    ------
    TypeError
        If an array is not float32/float64 or of another dtype than ``param``, a scalar is
        not a real number, or ``step``/``n_decayed`` not an integer.
    ValueError
        If a shape differs, an in-place array is not writeable and C-contiguous or overlaps
        another array, a scalar is out of range, overflows (or ``eps`` underflows) in the
        arrays' dtype. Nothing is written then.
    """
    (p, g, m_, v_), checked = _check_update_arrays(param, {"grad": grad, "m": m, "v": v})
    dtype = p.dtype
    lr, step, beta1, beta2, eps, weight_decay = _adam_scalars(
        dtype, lr, step, beta1, beta2, eps, weight_decay
    )
    n_decayed = _n_decayed(n_decayed, p.size)
    _check_state_disjoint(checked)
    _backend.current().adam_update(
        p, g, m_, v_, lr, beta1, beta2, eps, weight_decay, step, n_decayed
    )


def rmsprop_update(
    param: Any,
    grad: Any,
    square_avg: Any,
    momentum_buffer: Any = None,
    *,
    lr: float,
    alpha: float = 0.99,
    eps: float = 1e-8,
    weight_decay: float = 0.0,
    momentum: float = 0.0,
    n_decayed: int | None = None,
) -> None:
    """In-place RMSProp step (textbook Alg. 8.5, as ``torch.optim.RMSprop``, not centred).

    g = ∇ + λθ;  r ← αr + (1−α)g²;  Δ = g/(√r + ε);  θ ← θ − ηΔ, or with momentum μ > 0:
    b ← μb + Δ, θ ← θ − ηb.

    Parameters
    ----------
    param, square_avg : arrays, C-contiguous, updated in place
        Parameters and the running average r of g²; they must not share memory with each
        other, ``momentum_buffer`` or ``grad``.
    grad : array of the same shape and dtype
    momentum_buffer : array like ``param``, updated in place; required when ``momentum > 0``
        The momentum b; must be ``None`` when ``momentum == 0`` (there is none to update).
    lr : float >= 0
    alpha : float in [0, 1)
        Decay rate ρ of the average.
    eps : float > 0
        Added to √r; must not underflow to 0 in the arrays' dtype.
    weight_decay : float >= 0
        λ of the L2 penalty, its gradient λθ added to the first ``n_decayed`` entries of ∇.
    momentum : float in [0, 1)
    n_decayed : int, optional
        See :func:`momentum_update`.

    Raises
    ------
    TypeError
        If an array is not float32/float64 or of another dtype than ``param``, a scalar is
        not a real number, or ``n_decayed`` not an integer.
    ValueError
        If a shape differs, an in-place array is not writeable and C-contiguous or overlaps
        another array, a scalar is out of range or not representable in the arrays' dtype,
        or ``momentum_buffer`` is missing with ``momentum > 0`` (or given with 0). Nothing
        is written then.
    """
    named = {"grad": grad, "square_avg": square_avg}
    if momentum_buffer is not None:
        named["momentum_buffer"] = momentum_buffer
    flat, checked = _check_update_arrays(param, named)
    p, g, r = flat[:3]
    dtype = p.dtype
    lr = _scalar(check_positive, lr, "lr", dtype, allow_zero=True)
    alpha = _scalar(check_in_range, alpha, "alpha", dtype, 0.0, 1.0)
    eps = _scalar(check_positive, eps, "eps", dtype, nonzero=True)
    weight_decay = _scalar(check_positive, weight_decay, "weight_decay", dtype, allow_zero=True)
    momentum = _scalar(check_in_range, momentum, "momentum", dtype, 0.0, 1.0)
    if (momentum > 0) != (momentum_buffer is not None):
        raise ValueError(
            f"momentum_buffer must be given exactly when momentum > 0, got momentum={momentum} "
            f"and momentum_buffer={'None' if momentum_buffer is None else 'an array'}"
        )
    n_decayed = _n_decayed(n_decayed, p.size)
    _check_state_disjoint(checked)
    b = flat[3] if momentum_buffer is not None else p[:0]  # unused without momentum
    _backend.current().rmsprop_update(p, g, r, b, lr, alpha, eps, weight_decay, momentum, n_decayed)


def adagrad_update(
    param: Any,
    grad: Any,
    sum_sq: Any,
    *,
    lr: float,
    eps: float = 1e-10,
    weight_decay: float = 0.0,
    n_decayed: int | None = None,
) -> None:
    """In-place AdaGrad step (textbook Alg. 8.4, as ``torch.optim.Adagrad``).

    g = ∇ + λθ;  r ← r + g²;  θ ← θ − η g/(√r + ε).

    Parameters
    ----------
    param, sum_sq : arrays, C-contiguous, updated in place
        Parameters and the accumulated squared gradients r; they must not share memory
        with each other or with ``grad``.
    grad : array of the same shape and dtype
    lr : float >= 0
    eps : float > 0
        Added to √r; must not underflow to 0 in the arrays' dtype.
    weight_decay : float >= 0
        λ of the L2 penalty, its gradient λθ added to the first ``n_decayed`` entries of ∇.
    n_decayed : int, optional
        See :func:`momentum_update`.

    Raises
    ------
    TypeError
        If an array is not float32/float64 or of another dtype than ``param``, a scalar is
        not a real number, or ``n_decayed`` not an integer.
    ValueError
        If a shape differs, an in-place array is not writeable and C-contiguous or overlaps
        another array, a scalar is out of range or not representable in the arrays' dtype.
        Nothing is written then.
    """
    (p, g, r), checked = _check_update_arrays(param, {"grad": grad, "sum_sq": sum_sq})
    dtype = p.dtype
    lr = _scalar(check_positive, lr, "lr", dtype, allow_zero=True)
    eps = _scalar(check_positive, eps, "eps", dtype, nonzero=True)
    weight_decay = _scalar(check_positive, weight_decay, "weight_decay", dtype, allow_zero=True)
    n_decayed = _n_decayed(n_decayed, p.size)
    _check_state_disjoint(checked)
    _backend.current().adagrad_update(p, g, r, lr, eps, weight_decay, n_decayed)
