"""Adam (textbook Alg. 8.7; Kingma & Ba): bias-corrected moments, coupled L2 weight decay."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from numdl.core import ops
from numdl.core.validation import check_in_range, check_positive
from numdl.optim.base import Optimizer, Slot

__all__ = ["Adam"]


class Adam(Optimizer):
    """Adam with L2 weight decay added to the gradient, as ``torch.optim.Adam``.

    g ← ∇ + λθ (weights only);  m ← β₁m + (1−β₁)g;  v ← β₂v + (1−β₂)g²;
    θ ← θ − η m̂/(√v̂ + ε) with m̂ = m/(1−β₁ᵗ), v̂ = v/(1−β₂ᵗ) (Alg. 8.7). The decay passes
    through the moments, so a weight's effective decay shrinks where its gradients are large;
    :class:`~numdl.optim.adamw.AdamW` decouples it instead (θ ← θ(1 − ηλ)).

    Parameters
    ----------
    params : Parameters, dict or list of arrays
    lr : float > 0, default 1e-3
        Step size η (Alg. 8.7's ε).
    betas : (float, float) in [0, 1), default (0.9, 0.999)
        Decay rates β₁, β₂ (Alg. 8.7's ρ₁, ρ₂).
    eps : float > 0, default 1e-8
        Added to √v̂ (Alg. 8.7's δ).
    weight_decay : float >= 0, default 0
        λ of the L2 penalty (λ/2)‖w‖² (eq. 20), its gradient added before the moments.

    Raises
    ------
    TypeError, ValueError
        For a parameter that cannot be updated in place (named ``params[key]``) or a
        hyperparameter out of range or not representable in the parameters' dtype.
    """

    state_names = ("m", "v")

    def __init__(
        self,
        params: Any,
        *,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
    ) -> None:
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise TypeError(f"betas must be a pair of floats, got {betas!r}")
        self.beta1 = check_in_range(betas[0], "betas[0]", 0.0, 1.0)
        self.beta2 = check_in_range(betas[1], "betas[1]", 0.0, 1.0)
        self.eps = check_positive(eps, "eps")
        super().__init__(params, lr=lr, weight_decay=weight_decay)

    def _hyperparameter_checks(self) -> list[tuple[str, str, Callable[[Any, str], Any]]]:
        return [
            *super()._hyperparameter_checks(),
            ("beta1", "betas[0]", self._unit),
            ("beta2", "betas[1]", self._unit),
            ("eps", "eps", self._positive),  # must not underflow to 0: v̂ + ε divides
        ]

    def _check_state_buffer(self, slot: Slot, name: str, value: Any, label: str) -> None:
        if name == "v" and bool((value < 0).any()):
            raise ValueError(f"{label} must be >= 0 (a second moment), got negative values")

    def _update(self, slot: Slot, grad: Any, state: dict[str, Any]) -> None:
        ops.adam_update(
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
