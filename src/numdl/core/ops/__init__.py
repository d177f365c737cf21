"""Public, validated entry points to the hot paths, dispatched to the active backend.

Every function here checks its arguments once (the same errors whatever the backend),
allocates the outputs the caller did not provide, and calls the function of the same name
on :func:`numdl.core.backend.current`. The mathematics lives in :mod:`numdl.core.hotpaths`.

What every op guarantees, by shared mechanisms rather than per-op code:

* all checks run before anything is written, so a rejected call leaves every array as it
  was, and the error (type and message) is the same on every backend;
* no array the call writes (an output buffer, optimiser state, ``grad_out`` with
  ``overwrite_grad``) shares memory with another argument (``_buffers.check_disjoint``);
  non-overlapping views of one buffer, like a model's W and b, are fine;
* flags are real booleans (``check_bool``: ``relu="False"`` is an error, not True);
* scalar hyperparameters survive the cast to the arrays' dtype, in which the kernels compute
  (``optim._scalar``: ``eps=1e-50`` in float32 is an error, not 0);
* values that would make the answer meaningless are rejected (soft targets holding NaN or
  inf); NaN and inf in logits and activations propagate as IEEE arithmetic says;
* ndarray subclasses are read as plain arrays and masked arrays are rejected
  (``validation.as_array``), so every backend reads the same numbers.
"""

from numdl.core.ops.conv import conv2d_backward, conv2d_forward
from numdl.core.ops.gather import take_rows
from numdl.core.ops.linear import linear_backward, linear_forward
from numdl.core.ops.normalization import batchnorm_backward, batchnorm_forward
from numdl.core.ops.optim import (
    adagrad_update,
    adam_update,
    adamw_update,
    momentum_update,
    rmsprop_update,
)
from numdl.core.ops.pooling import (
    avgpool2d_backward,
    avgpool2d_forward,
    maxpool2d_backward,
    maxpool2d_forward,
)
from numdl.core.ops.softmax import cross_entropy, log_softmax, logsumexp, softmax

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
    "log_softmax",
    "logsumexp",
    "maxpool2d_backward",
    "maxpool2d_forward",
    "momentum_update",
    "rmsprop_update",
    "softmax",
    "take_rows",
]
