"""Optimisation (textbook ch. 8): optimisers over flat parameter buffers and LR schedules.

- :mod:`~numdl.optim.base`: :class:`Optimizer`, slots, step count, state dicts;
- :mod:`~numdl.optim.sgd`: :class:`SGD`, with momentum or Nesterov (eqs. 22–24);
- :mod:`~numdl.optim.adamw`: :class:`AdamW`;
- :mod:`~numdl.optim.adam`: :class:`Adam` (Alg. 8.7, coupled L2 decay);
- :mod:`~numdl.optim.rmsprop`: :class:`RMSProp` (Alg. 8.5, torch's variant);
- :mod:`~numdl.optim.adagrad`: :class:`AdaGrad` (Alg. 8.4);
- :mod:`~numdl.optim.clipping`: :func:`clip_grad_norm`, by global norm (§10.11.1);
- :mod:`~numdl.optim.schedules`: constant, step and cosine-with-warm-up (eq. 25) schedules;
- :mod:`~numdl.optim.factory`: :func:`make_optimizer`, optimisers by name.
"""

from numdl.optim.adagrad import AdaGrad
from numdl.optim.adam import Adam
from numdl.optim.adamw import AdamW
from numdl.optim.base import Optimizer
from numdl.optim.clipping import clip_grad_norm
from numdl.optim.factory import make_optimizer
from numdl.optim.rmsprop import RMSProp
from numdl.optim.schedules import ConstantLR, CosineWarmupLR, Schedule, StepLR, make_schedule
from numdl.optim.sgd import SGD

__all__ = [
    "SGD",
    "AdaGrad",
    "Adam",
    "AdamW",
    "ConstantLR",
    "CosineWarmupLR",
    "Optimizer",
    "RMSProp",
    "Schedule",
    "StepLR",
    "clip_grad_norm",
    "make_optimizer",
    "make_schedule",
]
