"""Public, validated entry points to the hot paths, dispatched to the active backend.

Every function here checks its arguments once (the same errors whatever the backend),
allocates the outputs the caller did not provide, and calls the function of the same name
on :func:`numdl.core.backend.current`. The mathematics lives in :mod:`numdl.core.hotpaths`.
"""

from numdl.core.ops.linear import linear_backward, linear_forward
from numdl.core.ops.optim import adamw_update, momentum_update
from numdl.core.ops.softmax import cross_entropy, log_softmax, logsumexp, softmax

__all__ = [
    "adamw_update",
    "cross_entropy",
    "linear_backward",
    "linear_forward",
    "log_softmax",
    "logsumexp",
    "momentum_update",
    "softmax",
]
