"""SGD (eq. 22) with momentum or Nesterov momentum (eqs. 23–24) and L2 weight decay (eq. 21)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from numdl.core import ops
from numdl.core.validation import check_bool, check_in_range
from numdl.optim.base import Optimizer, Slot

__all__ = ["SGD"]


class SGD(Optimizer):
    """SGD θ ← θ − η∇ (eq. 22), with momentum v ← βv + g, θ ← θ − ηv (eqs. 23–24).

    Parameters
    ----------
    params : Parameters, dict or list of arrays
    lr : float > 0
        Learning rate η.
    momentum : float in [0, 1), default 0
        β; 0 is plain SGD.
    nesterov : bool, default False
        Step with βv + g instead of v.
    weight_decay : float >= 0, default 0
        λ of the L2 penalty (λ/2)‖w‖² (eq. 20), added to the weights' gradients (eq. 21).

    Raises
    ------
    TypeError, ValueError
        For a parameter that cannot be updated in place (named ``params[key]``) or a
        hyperparameter out of range or not representable in the parameters' dtype.
    """

    state_names = ("velocity",)

    def __init__(
        self,
        params: Any,
        *,
        lr: float,
        momentum: float = 0.0,
        nesterov: bool = False,
        weight_decay: float = 0.0,
    ) -> None:
        self.momentum = check_in_range(momentum, "momentum", 0.0, 1.0)
        self.nesterov = check_bool(nesterov, "nesterov")
        super().__init__(params, lr=lr, weight_decay=weight_decay)

    def _hyperparameter_checks(self) -> list[tuple[str, str, Callable[[Any, str], Any]]]:
        return [
            *super()._hyperparameter_checks(),
            ("momentum", "momentum", self._unit),
            ("nesterov", "nesterov", check_bool),
        ]

    def _check_combination(self, values: dict[str, Any]) -> None:
        if values["nesterov"] and values["momentum"] == 0:
            raise ValueError("nesterov requires momentum > 0")

    def _update(self, slot: Slot, grad: Any, state: dict[str, Any]) -> None:
        ops.momentum_update(
            slot.param,
            grad,
            state["velocity"],
            lr=self.lr,
            momentum=self.momentum,
            weight_decay=self.weight_decay,
            nesterov=self.nesterov,
            n_decayed=slot.n_decayed,
        )
