"""numdl: deep-learning numerics from the textbook, in readable NumPy and fused kernels.

The reference layer follows the textbook chapter by chapter (see the README's tour); the hot
paths (:mod:`numdl.core.ops`) dispatch to the backend chosen with :func:`set_backend`.
"""

from numdl.core.backend import available_backends, get_backend, set_backend, use_backend
from numdl.core.ops import (
    adagrad_update,
    adam_update,
    adamw_update,
    avgpool2d_backward,
    avgpool2d_forward,
    conv2d_backward,
    conv2d_forward,
    cross_entropy,
    linear_backward,
    linear_forward,
    log_softmax,
    logsumexp,
    maxpool2d_backward,
    maxpool2d_forward,
    momentum_update,
    rmsprop_update,
    softmax,
    take_rows,
)

__version__ = "0.1.0"

__all__ = [
    "__version__",
    "adagrad_update",
    "adam_update",
    "adamw_update",
    "available_backends",
    "avgpool2d_backward",
    "avgpool2d_forward",
    "conv2d_backward",
    "conv2d_forward",
    "cross_entropy",
    "get_backend",
    "linear_backward",
    "linear_forward",
    "log_softmax",
    "logsumexp",
    "maxpool2d_backward",
    "maxpool2d_forward",
    "momentum_update",
    "rmsprop_update",
    "set_backend",
    "softmax",
    "take_rows",
    "use_backend",
]
