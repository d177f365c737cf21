"""RMSProp (textbook Alg. 8.5; Hinton's lecture 6e) in ``torch.optim.RMSprop``'s variant."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from numdl.core import ops
from numdl.core.validation import check_in_range, check_positive
from numdl.optim.base import Optimizer, Slot

__all__ = ["RMSProp"]


class RMSProp(Optimizer):
    """RMSProp: steps scaled by a running RMS of the gradient, with optional momentum.

    g ← ∇ + λθ (weights only);  r ← αr + (1−α)g²;  Δ = g/(√r + ε);  θ ← θ − ηΔ, or with
    momentum μ > 0, b ← μb + Δ and θ ← θ − ηb. This is ``torch.optim.RMSprop`` (not
    centred): ε is added outside the root (Alg. 8.5 writes √(δ + r)), and the momentum is
    heavy-ball on the scaled step (Alg. 8.6 uses Nesterov momentum instead).

    Parameters
    ----------
    params : Parameters, dict or list of arrays
    lr : float > 0, default 1e-2
        Learning rate η.
    alpha : float in [0, 1), default 0.99
        Decay rate of the average of g² (Alg. 8.5's ρ).
    eps : float > 0, default 1e-8
        Added to √r (Alg. 8.5's δ).
    weight_decay : float >= 0, default 0
        λ of the L2 penalty (λ/2)‖w‖² (eq. 20), its gradient added before the average.
    momentum : float in [0, 1), default 0
        μ; fixed at construction: the buffer b (state ``"momentum_buffer"``) exists only
        when it is > 0.

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
        lr: float = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        momentum: float = 0.0,
    ) -> None:
        self.alpha = check_in_range(alpha, "alpha", 0.0, 1.0)
        self.eps = check_positive(eps, "eps")
        self.momentum = check_in_range(momentum, "momentum", 0.0, 1.0)
        self.state_names = ("square_avg", "momentum_buffer") if self.momentum else ("square_avg",)
        super().__init__(params, lr=lr, weight_decay=weight_decay)

    def _hyperparameter_checks(self) -> list[tuple[str, str, Callable[[Any, str], Any]]]:
        return [
            *super()._hyperparameter_checks(),
            ("alpha", "alpha", self._unit),
            ("eps", "eps", self._positive),  # must not underflow to 0: √r + ε divides
            ("momentum", "momentum", self._unit),
        ]

    def _check_combination(self, values: dict[str, Any]) -> None:
        if (values["momentum"] > 0) != ("momentum_buffer" in self.state_names):
            raise ValueError(
                f"momentum must stay {'> 0' if 'momentum_buffer' in self.state_names else '0'} "
                f"as at construction (the momentum buffer exists only with momentum > 0), "
                f"got {values['momentum']}"
            )

    def _check_state_buffer(self, slot: Slot, name: str, value: Any, label: str) -> None:
        if name == "square_avg" and bool((value < 0).any()):
            raise ValueError(f"{label} must be >= 0 (an average of g²), got negative values")

    def _update(self, slot: Slot, grad: Any, state: dict[str, Any]) -> None:
        ops.rmsprop_update(
            slot.param,
            grad,
            state["square_avg"],
            state.get("momentum_buffer"),
            lr=self.lr,
            alpha=self.alpha,
            eps=self.eps,
            weight_decay=self.weight_decay,
            momentum=self.momentum,
            n_decayed=slot.n_decayed,
        )
