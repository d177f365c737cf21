"""Optimisers by name, as the command line and configs give them."""

from __future__ import annotations

from typing import Any

from numdl.optim.adagrad import AdaGrad
from numdl.optim.adam import Adam
from numdl.optim.adamw import AdamW
from numdl.optim.base import Optimizer
from numdl.optim.rmsprop import RMSProp
from numdl.optim.sgd import SGD

__all__ = ["OPTIMIZERS", "make_optimizer"]

#: The names :func:`make_optimizer` knows.
OPTIMIZERS = ("sgd", "momentum", "nesterov", "adamw", "adam", "rmsprop", "adagrad")


def make_optimizer(name: str, params: Any, *, lr: float, **kwargs: Any) -> Optimizer:
    """An optimiser by name: one of :data:`OPTIMIZERS`.

    ``weight_decay`` is passed on to every one (default 0, AdamW's own default for AdamW);
    ``momentum`` to ``momentum``/``nesterov`` (default 0.9); ``betas`` to AdamW and Adam,
    ``alpha`` to RMSProp, ``eps`` to the adaptive ones. Other keywords are ignored (a
    configuration passes all it has): ``"rmsprop"`` here is RMSProp without momentum, since
    a config's ``momentum`` is SGD's; construct :class:`RMSProp` for its momentum variant.
    """
    decay = kwargs.get("weight_decay", 0.0)
    if name == "sgd":
        return SGD(params, lr=lr, weight_decay=decay)
    if name in ("momentum", "nesterov"):
        return SGD(
            params,
            lr=lr,
            momentum=kwargs.get("momentum", 0.9),
            nesterov=name == "nesterov",
            weight_decay=decay,
        )
    if name == "adamw":
        extra = {k: kwargs[k] for k in ("betas", "eps", "weight_decay") if k in kwargs}
        return AdamW(params, lr=lr, **extra)
    if name == "adam":
        extra = {k: kwargs[k] for k in ("betas", "eps") if k in kwargs}
        return Adam(params, lr=lr, weight_decay=decay, **extra)
    if name == "rmsprop":
        extra = {k: kwargs[k] for k in ("alpha", "eps") if k in kwargs}
        return RMSProp(params, lr=lr, weight_decay=decay, **extra)
    if name == "adagrad":
        extra = {k: kwargs[k] for k in ("eps",) if k in kwargs}
        return AdaGrad(params, lr=lr, weight_decay=decay, **extra)
    raise ValueError(
        f"optimizer must be one of {', '.join(repr(n) for n in OPTIMIZERS)}, got {name!r}"
    )
