"""Optimisation (textbook ch. 8): optimisers over flat parameter buffers and LR schedules.

- :mod:`~numdl.optim.base`: :class:`Optimizer`, slots, step count, state dicts;
- :mod:`~numdl.optim.sgd`: :class:`SGD`, with momentum or Nesterov (eqs. 22–24);
- :mod:`~numdl.optim.adamw`: :class:`AdamW`;
- :mod:`~numdl.optim.schedules`: constant, step and cosine-with-warm-up (eq. 25) schedules;
- :mod:`~numdl.optim.factory`: :func:`make_optimizer`, optimisers by name.
"""

from numdl.optim.adamw import AdamW
from numdl.optim.base import Optimizer
from numdl.optim.factory import make_optimizer
from numdl.optim.schedules import ConstantLR, CosineWarmupLR, Schedule, StepLR, make_schedule
from numdl.optim.sgd import SGD

__all__ = [
    "SGD",
    "AdamW",
    "ConstantLR",
    "CosineWarmupLR",
    "Optimizer",
    "Schedule",
    "StepLR",
    "make_optimizer",
    "make_schedule",
]
