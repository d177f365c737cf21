"""L2 weight decay (textbook ch. 7, eqs. 20–21) and the L1 penalty (§7.1.2): weights
penalised, biases not by default.

The optimisers apply the L2 gradient λw inside their fused update (``weight_decay``); these
functions give the penalty itself (for the reported total loss, eq. 21) and its gradient,
so the regularisation can be checked in isolation. The L1 subgradient λ·sign(w) is added to
a flat gradient buffer by :func:`add_l1_subgradient` (the training loop does so right after
backward, before clipping and the optimiser step: it is part of the objective's gradient).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from numdl.core.validation import (
    check_float_array,
    check_no_overlap,
    check_positive,
    check_representable,
    check_same_dtype,
    check_shape,
    check_writeable_contiguous,
)
from numdl.nn.params import Parameters

__all__ = [
    "add_l1_subgradient",
    "is_weight",
    "l1_gradient",
    "l1_penalty",
    "l2_gradient",
    "l2_penalty",
]

_BIAS_NAMES = ("b", "bias")


def is_weight(name: str, param: Any) -> bool:
    """True for a parameter that weight decay applies to: at least 2-D and not named a bias.

    A parameter is a bias when its last dotted name component is ``b`` or ``bias`` (so
    ``"layer0.b"`` and ``"fc.bias"`` are biases) or when it is 0-D or 1-D.
    """
    return getattr(param, "ndim", 0) >= 2 and name.rsplit(".", 1)[-1] not in _BIAS_NAMES


def _weights(params: Parameters | Mapping[str, Any]) -> list[np.ndarray]:
    if isinstance(params, Parameters):
        return [params.data[: params.n_decayed]]
    if not isinstance(params, Mapping):
        raise TypeError(
            f"params must be Parameters or a dict of arrays, got {type(params).__name__}"
        )
    return [
        check_float_array(p, f"params[{name!r}]")
        for name, p in params.items()
        if is_weight(name, p)
    ]


def l2_penalty(params: Parameters | Mapping[str, Any], lam: float) -> float:
    """Ω(w) = (λ/2) Σ_j w_j² over the weights (eq. 20)."""
    lam = check_positive(lam, "lam", allow_zero=True)
    return (
        0.5 * lam * float(sum(float((w.astype(np.float64) ** 2).sum()) for w in _weights(params)))
    )


def l2_gradient(params: Mapping[str, Any], lam: float) -> dict[str, np.ndarray]:
    """∇Ω = λw for each weight, and zeros for the biases (eq. 20)."""
    lam = check_positive(lam, "lam", allow_zero=True)
    if not isinstance(params, Mapping):
        raise TypeError(f"params must be a dict of arrays, got {type(params).__name__}")
    grads = {}
    for name, p in params.items():
        p = check_float_array(p, f"params[{name!r}]")
        grads[name] = p * p.dtype.type(lam) if is_weight(name, p) else np.zeros_like(p)
    return grads


def l1_penalty(params: Parameters | Mapping[str, Any], lam: float) -> float:
    """Ω(w) = λ Σ_j |w_j| over the weights (textbook eq. 7.18)."""
    lam = check_positive(lam, "lam", allow_zero=True)
    return lam * float(sum(float(np.abs(w.astype(np.float64)).sum()) for w in _weights(params)))


def l1_gradient(params: Mapping[str, Any], lam: float) -> dict[str, np.ndarray]:
    """∂Ω = λ sign(w) for each weight (eq. 7.20; 0 at w = 0), and zeros for the biases."""
    lam = check_positive(lam, "lam", allow_zero=True)
    if not isinstance(params, Mapping):
        raise TypeError(f"params must be a dict of arrays, got {type(params).__name__}")
    grads = {}
    for name, p in params.items():
        p = check_float_array(p, f"params[{name!r}]")
        grads[name] = np.sign(p) * p.dtype.type(lam) if is_weight(name, p) else np.zeros_like(p)
    return grads


def add_l1_subgradient(params: Parameters, lam: float, *, scratch: Any = None) -> None:
    """∇ ← ∇ + λ sign(w) on the weights of a flat buffer, in place (eq. 7.20).

    Adds the subgradient of λ‖w‖₁ (sign(0) = 0, as ``torch.sign``) to the first
    ``params.n_decayed`` entries of ``params.grad``; biases (the rest) are not penalised.

    Parameters
    ----------
    params : Parameters
    lam : float >= 0
        λ; must be representable in the parameters' dtype.
    scratch : array of shape (params.n_decayed,) and the parameters' dtype, optional
        Reused for λ sign(w), so that a training step allocates nothing; default a new one.

    Raises
    ------
    TypeError, ValueError
        For ``params`` not :class:`Parameters`, ``lam`` not a finite real >= 0 (or not
        representable in the dtype), or an unusable ``scratch``. Nothing is written then.
    """
    if not isinstance(params, Parameters):
        raise TypeError(f"params must be Parameters, got {type(params).__name__}")
    lam = check_positive(lam, "lam", allow_zero=True)
    check_representable(lam, "lam", params.dtype)
    d = params.n_decayed
    weights, grad = params.data[:d], params.grad[:d]
    if scratch is None:
        scratch = params.xp.empty(d, dtype=params.dtype)
    else:
        scratch = check_float_array(scratch, "scratch")
        check_shape(scratch, "scratch", (d,))
        check_same_dtype(scratch, "scratch", weights, "params.data")
        check_writeable_contiguous(scratch, "scratch")
        check_no_overlap({"scratch": scratch}, {"params.data": params.data, "grad": params.grad})
    params.xp.sign(weights, out=scratch)
    scratch *= params.dtype.type(lam)
    grad += scratch
