"""L2 weight decay (textbook ch. 7, eqs. 20–21): weights penalised, biases not by default.

The optimisers apply the gradient λw inside their fused update (``weight_decay``); these
functions give the penalty itself (for the reported total loss, eq. 21) and its gradient,
so the regularisation can be checked in isolation.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from numdl.core.validation import check_float_array, check_positive
from numdl.nn.params import Parameters

__all__ = ["is_weight", "l2_gradient", "l2_penalty"]

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
