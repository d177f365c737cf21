"""AdamW (Loshchilov & Hutter): Adam with decoupled weight decay, bias-corrected."""

from __future__ import annotations

from typing import Any

from numdl.core import ops
from numdl.core.validation import (
    check_in_range,
    check_positive,
)
from numdl.optim.base import Optimizer, Slot

__all__ = ["AdamW"]


class AdamW(Optimizer):
    """AdamW: Adam's bias-corrected moments with decoupled weight decay on the weights.

    Parameters
    ----------
    params : Parameters, dict or list of arrays
    lr : float > 0, default 1e-3
    betas : (float, float) in [0, 1), default (0.9, 0.999)
    eps : float > 0, default 1e-8
    weight_decay : float >= 0, default 1e-2
    """

    state_names = ("m", "v")

    def __init__(
        self,
        params: Any,
        *,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
    ) -> None:
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise TypeError(f"betas must be a pair of floats, got {betas!r}")
        self.beta1 = check_in_range(betas[0], "betas[0]", 0.0, 1.0)
        self.beta2 = check_in_range(betas[1], "betas[1]", 0.0, 1.0)
        self.eps = check_positive(eps, "eps")
        super().__init__(params, lr=lr, weight_decay=weight_decay)

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
