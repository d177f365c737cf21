"""Fused CPU kernels (Numba): the ``"numba"`` backend of numdl.

Exposes the functions of ``numdl.core.hotpaths`` with the same arguments:
``linear_forward``, ``linear_backward`` (linear.py); ``logsumexp_rows``, ``log_softmax_rows``,
``cross_entropy`` (softmax.py, built on the vectorisable exp of vexp.py); ``momentum_update``,
``adamw_update`` (optim.py); ``take_rows`` (gather.py).
"""

from numdl_kernels.cpu.gather import take_rows
from numdl_kernels.cpu.linear import linear_backward, linear_forward
from numdl_kernels.cpu.optim import adamw_update, momentum_update
from numdl_kernels.cpu.softmax import cross_entropy, log_softmax_rows, logsumexp_rows

__all__ = [
    "adamw_update",
    "cross_entropy",
    "linear_backward",
    "linear_forward",
    "log_softmax_rows",
    "logsumexp_rows",
    "momentum_update",
    "take_rows",
]
