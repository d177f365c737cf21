"""Learning-rate schedules (textbook ch. 8): η_t as a pure function of the step t.

A schedule holds no state beyond its configuration, so resuming training at step t gives
the same rate as an uninterrupted run.
"""

from __future__ import annotations

import math

from numdl.core.validation import check_in_range, check_int, check_positive

__all__ = ["ConstantLR", "CosineWarmupLR", "Schedule", "StepLR", "make_schedule"]


class Schedule:
    """Base class: ``schedule(t)`` is the learning rate at step t = 0, 1, 2, …"""

    def __call__(self, t: int) -> float:
        t = check_int(t, "t", minimum=0)
        return self.rate(t)

    def rate(self, t: int) -> float:
        raise NotImplementedError


class ConstantLR(Schedule):
    """η_t = η."""

    def __init__(self, lr: float) -> None:
        self.lr = check_positive(lr, "lr")

    def rate(self, t: int) -> float:
        return self.lr


class StepLR(Schedule):
    """η_t = η γ^⌊t / step_size⌋: multiply by γ every ``step_size`` steps."""

    def __init__(self, lr: float, step_size: int, gamma: float = 0.1) -> None:
        self.lr = check_positive(lr, "lr")
        self.step_size = check_int(step_size, "step_size", minimum=1)
        self.gamma = check_in_range(gamma, "gamma", 0.0, 1.0, closed="right")

    def rate(self, t: int) -> float:
        return self.lr * self.gamma ** (t // self.step_size)


class CosineWarmupLR(Schedule):
    """Cosine annealing with linear warm-up (eq. 25).

    η_t = η_max t / T_w for t < T_w, else
    η_t = η_min + ½(η_max − η_min)(1 + cos(π (t − T_w)/(T_total − T_w))),

    and η_min for t ≥ T_total. Note that eq. 25 starts the warm-up at η_0 = 0.

    Parameters
    ----------
    lr_max : float > 0
    total_steps : int >= 1
        T_total.
    warmup_steps : int in [0, total_steps), default 0
        T_w.
    lr_min : float in [0, lr_max], default 0
    """

    def __init__(
        self, lr_max: float, total_steps: int, warmup_steps: int = 0, lr_min: float = 0.0
    ) -> None:
        self.lr_max = check_positive(lr_max, "lr_max")
        self.total_steps = check_int(total_steps, "total_steps", minimum=1)
        self.warmup_steps = check_int(warmup_steps, "warmup_steps", minimum=0)
        if self.warmup_steps >= self.total_steps:
            raise ValueError(
                f"warmup_steps must be < total_steps ({self.total_steps}), got {warmup_steps}"
            )
        self.lr_min = check_in_range(lr_min, "lr_min", 0.0, self.lr_max, closed="both")

    def rate(self, t: int) -> float:
        if t < self.warmup_steps:
            return self.lr_max * t / self.warmup_steps
        if t >= self.total_steps:
            return self.lr_min
        progress = (t - self.warmup_steps) / (self.total_steps - self.warmup_steps)
        return self.lr_min + 0.5 * (self.lr_max - self.lr_min) * (1 + math.cos(math.pi * progress))


def make_schedule(
    name: str, lr: float, *, total_steps: int, warmup_steps: int = 0, lr_min: float = 0.0
) -> Schedule:
    """A schedule by name: ``"constant"`` or ``"cosine"`` (with warm-up)."""
    if name == "constant":
        return ConstantLR(lr)
    if name == "cosine":
        return CosineWarmupLR(lr, total_steps, warmup_steps=warmup_steps, lr_min=lr_min)
    raise ValueError(f"schedule must be 'constant' or 'cosine', got {name!r}")
