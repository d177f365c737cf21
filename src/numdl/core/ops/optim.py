"""Validated optimiser updates over flat buffers (reference: :mod:`numdl.core.hotpaths.optim`)."""

from __future__ import annotations

from typing import Any

from numdl.core import backend as _backend
from numdl.core.ops._buffers import contiguous as _contiguous
from numdl.core.validation import (
    check_float_array,
    check_in_range,
    check_int,
    check_positive,
    check_same_dtype,
    check_shape,
    check_writeable_contiguous,
)

__all__ = ["adamw_update", "momentum_update"]


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
