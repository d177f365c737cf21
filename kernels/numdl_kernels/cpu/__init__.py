"""Fused CPU kernels (Numba): the ``"numba"`` backend of numdl.

Exposes the functions of ``numdl.core.hotpaths`` with the same arguments:
``linear_forward``, ``linear_backward`` (linear.py); ``batchnorm_forward``,
``batchnorm_backward`` (normalization.py); ``logsumexp_rows``, ``log_softmax_rows``,
``cross_entropy`` (softmax.py, built on the vectorisable exp of vexp.py); ``momentum_update``,
``adamw_update``, ``adam_update``, ``rmsprop_update``, ``adagrad_update`` (optim.py);
``take_rows`` (gather.py); ``conv2d_forward``, ``conv2d_backward`` (conv.py);
``maxpool2d_forward``, ``maxpool2d_backward``, ``avgpool2d_forward``, ``avgpool2d_backward``
(pooling.py).
"""

from numdl_kernels.cpu.conv import conv2d_backward, conv2d_forward
from numdl_kernels.cpu.gather import take_rows
from numdl_kernels.cpu.linear import linear_backward, linear_forward
from numdl_kernels.cpu.normalization import batchnorm_backward, batchnorm_forward
from numdl_kernels.cpu.optim import (
    adagrad_update,
    adam_update,
    adamw_update,
    momentum_update,
    rmsprop_update,
)
from numdl_kernels.cpu.pooling import (
    avgpool2d_backward,
    avgpool2d_forward,
    maxpool2d_backward,
    maxpool2d_forward,
)
from numdl_kernels.cpu.softmax import cross_entropy, log_softmax_rows, logsumexp_rows

__all__ = [
    "adagrad_update",
    "adam_update",
    "adamw_update",
    "avgpool2d_backward",
    "avgpool2d_forward",
    "batchnorm_backward",
    "batchnorm_forward",
    "conv2d_backward",
    "conv2d_forward",
    "cross_entropy",
    "linear_backward",
    "linear_forward",
    "log_softmax_rows",
    "logsumexp_rows",
    "maxpool2d_backward",
    "maxpool2d_forward",
    "momentum_update",
    "rmsprop_update",
    "take_rows",
]
