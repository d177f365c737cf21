"""AdamW (Loshchilov & Hutter): Adam with decoupled weight decay, bias-corrected."""

from __future__ import annotations

from typing import Any

from numdl.core import ops
from numdl.optim.adam import Adam
from numdl.optim.base import Slot

__all__ = ["AdamW"]


class AdamW(Adam):
    """AdamW: Adam's bias-corrected moments with decoupled weight decay on the weights.

    θ ← θ(1 − ηλ) on the weights, then Adam's step without decay in the gradient
    (Loshchilov & Hutter 2019); :class:`~numdl.optim.adam.Adam` couples it instead.
    The moments, hyperparameters and their checks are Adam's.

    Parameters
    ----------
    params : Parameters, dict or list of arrays
    lr : float > 0, default 1e-3
    betas : (float, float) in [0, 1), default (0.9, 0.999)
    eps : float > 0, default 1e-8
    weight_decay : float >= 0, default 1e-2

    Raises
    ------
    TypeError, ValueError
        For a parameter that cannot be updated in place (named ``params[key]``) or a
        hyperparameter out of range or not representable in the parameters' dtype.
    """

    def __init__(
        self,
        params: Any,
        *,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
    ) -> None:
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)

    def _check_combination(self, values: dict[str, Any]) -> None:
        # the decay factor 1 − ηλ is computed in Python floats, then cast to the dtype
        self._fits(values["lr"] * values["weight_decay"], "lr * weight_decay")

    def _update(self, slot: Slot, grad: Any, state: dict[str, Any]) -> None:
        ops.adamw_update(
            slot.param,
            grad,
            state["m"],
            state["v"],
            lr=self.lr,
            step=self.steps,
            beta1=self.beta1,
            beta2=self.beta2,
            eps=self.eps,
            weight_decay=self.weight_decay,
            n_decayed=slot.n_decayed,
        )
