"""AdaGrad (textbook Alg. 8.4; Duchi, Hazan & Singer) as ``torch.optim.Adagrad``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from numdl.core import ops
from numdl.core.validation import check_positive
from numdl.optim.base import Optimizer, Slot

__all__ = ["AdaGrad"]


class AdaGrad(Optimizer):
    """AdaGrad: each parameter's step scaled by the root of its summed squared gradients.

    g ← ∇ + λθ (weights only);  r ← r + g²;  θ ← θ − η g/(√r + ε) (Alg. 8.4), with r
    starting at 0 and no learning-rate decay (``torch.optim.Adagrad``'s defaults
    ``initial_accumulator_value=0``, ``lr_decay=0``).

    Parameters
    ----------
    params : Parameters, dict or list of arrays
    lr : float > 0, default 1e-2
        Global learning rate η (Alg. 8.4's ε).
    eps : float > 0, default 1e-10
        Added to √r (Alg. 8.4's δ).
    weight_decay : float >= 0, default 0
        λ of the L2 penalty (λ/2)‖w‖² (eq. 20), its gradient added before the accumulation.

    Raises
    ------
    TypeError, ValueError
        For a parameter that cannot be updated in place (named ``params[key]``) or a
        hyperparameter out of range or not representable in the parameters' dtype.
    """

    state_names = ("sum_sq",)

    def __init__(
        self, params: Any, *, lr: float = 1e-2, eps: float = 1e-10, weight_decay: float = 0.0
    ) -> None:
        self.eps = check_positive(eps, "eps")
        super().__init__(params, lr=lr, weight_decay=weight_decay)

    def _hyperparameter_checks(self) -> list[tuple[str, str, Callable[[Any, str], Any]]]:
        return [
            *super()._hyperparameter_checks(),
            ("eps", "eps", self._positive),  # must not underflow to 0: √r + ε divides
        ]

    def _check_state_buffer(self, slot: Slot, name: str, value: Any, label: str) -> None:
        if bool((value < 0).any()):
            raise ValueError(f"{label} must be >= 0 (a sum of g²), got negative values")

    def _update(self, slot: Slot, grad: Any, state: dict[str, Any]) -> None:
        ops.adagrad_update(
            slot.param,
            grad,
            state["sum_sq"],
            lr=self.lr,
            eps=self.eps,
            weight_decay=self.weight_decay,
            n_decayed=slot.n_decayed,
        )
