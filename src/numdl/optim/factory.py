"""Optimisers by name, as the command line and configs give them."""

from __future__ import annotations

from typing import Any

from numdl.optim.adamw import AdamW
from numdl.optim.base import Optimizer
from numdl.optim.sgd import SGD

__all__ = ["make_optimizer"]


def make_optimizer(name: str, params: Any, *, lr: float, **kwargs: Any) -> Optimizer:
    """An optimiser by name: ``"sgd"``, ``"momentum"``, ``"nesterov"`` or ``"adamw"``.

    ``momentum`` (default 0.9) and ``weight_decay`` are passed on; ``betas``/``eps`` for AdamW.
    """
    if name == "sgd":
        return SGD(params, lr=lr, weight_decay=kwargs.get("weight_decay", 0.0))
    if name in ("momentum", "nesterov"):
        return SGD(
            params,
            lr=lr,
            momentum=kwargs.get("momentum", 0.9),
            nesterov=name == "nesterov",
            weight_decay=kwargs.get("weight_decay", 0.0),
        )
    if name == "adamw":
        extra = {k: kwargs[k] for k in ("betas", "eps", "weight_decay") if k in kwargs}
        return AdamW(params, lr=lr, **extra)
    raise ValueError(
        f"optimizer must be one of 'sgd', 'momentum', 'nesterov', 'adamw', got {name!r}"
    )
