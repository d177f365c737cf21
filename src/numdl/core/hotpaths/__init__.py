"""The hot paths, written once in plain NumPy: the specification every backend must equal.

These are the functions a training step spends its time in. Layers, losses and optimisers
reach them through :mod:`numdl.core.ops`, which validates the arguments and dispatches to the
selected backend; this module *is* the ``"numpy"`` backend, and the compiled backends
(``numdl_kernels.cpu``, ``numdl_kernels.cuda``) implement the same functions with the same
arguments. The equivalence suite (``tests/equivalence``) proves each kernel equal to the
function of the same name here.

Contract shared by every backend (the caller, :mod:`numdl.core.ops`, guarantees it):

* arrays are float32 or float64, all of one dtype; labels and row indices are integer
  (indices int64, in range);
* output buffers are preallocated by the caller, C-contiguous and written in full;
* optimiser arrays are 1-D and C-contiguous (flat parameter buffers) and updated in place;
* nothing else is mutated; an output buffer may alias an input only where documented.

Equation numbers refer to the textbook report (``shared/seeds/002_*.txt``).
"""

from numdl.core.hotpaths.conv import conv2d_backward, conv2d_forward
from numdl.core.hotpaths.gather import take_rows
from numdl.core.hotpaths.linear import linear_backward, linear_forward
from numdl.core.hotpaths.normalization import batchnorm_backward, batchnorm_forward
from numdl.core.hotpaths.optim import (
    adagrad_update,
    adam_update,
    adamw_update,
    momentum_update,
    rmsprop_update,
)
from numdl.core.hotpaths.pooling import (
    avgpool2d_backward,
    avgpool2d_forward,
    maxpool2d_backward,
    maxpool2d_forward,
)
from numdl.core.hotpaths.softmax import cross_entropy, log_softmax_rows, logsumexp_rows

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
