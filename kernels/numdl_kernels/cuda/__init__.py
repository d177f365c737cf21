"""CUDA kernels (Numba + CuPy): the ``"cuda"`` backend of numdl.

Exposes the functions of ``numdl.core.hotpaths`` with the same arguments:
``linear_forward``, ``linear_backward`` (linear.py: cuBLAS GEMMs through CuPy, fused
bias/ReLU and mask/column-sum kernels); ``batchnorm_forward``, ``batchnorm_backward``
(normalization.py: column-statistics and elementwise kernels); ``logsumexp_rows``,
``log_softmax_rows``, ``cross_entropy`` (softmax.py: online softmax, one pass per row);
``momentum_update``, ``adamw_update``, ``adam_update``, ``rmsprop_update``,
``adagrad_update`` (optim.py: grid-stride elementwise updates); ``take_rows`` (gather.py);
``conv2d_forward``, ``conv2d_backward`` (conv.py: im2col and col2im kernels, cuBLAS GEMMs);
``maxpool2d_forward``, ``maxpool2d_backward``, ``avgpool2d_forward``, ``avgpool2d_backward``
(pooling.py: one thread per window, gathering backward passes).
Launch settings: :func:`configure`, :func:`set_block_size`, :func:`get_config`
(``_launch.py``).

Importing needs a usable CUDA GPU and driver (``numba.cuda.is_available()``) and CuPy, and
raises ImportError otherwise. Under the Numba CUDA simulator (``NUMBA_ENABLE_CUDASIM=1``
set before Numba is imported) neither is needed: the kernels then run on NumPy arrays.
"""

from numba import cuda
from numba.core import config as _numba_config

_SIMULATOR = bool(getattr(_numba_config, "ENABLE_CUDASIM", 0))

if not cuda.is_available():
    raise ImportError(
        "numdl_kernels.cuda needs an NVIDIA GPU with a working CUDA driver, and "
        "numba.cuda.is_available() is False on this machine (run `numba -s` for details)"
    )

if not _SIMULATOR:
    try:
        import cupy as _cupy  # noqa: F401  (the backend's array module; GEMMs go to cuBLAS)
    except ImportError as _exc:
        raise ImportError(
            'numdl_kernels.cuda needs CuPy: pip install "numdl[cuda]" (installs cupy-cuda12x; '
            f"with a CUDA 13 driver install cupy-cuda13x instead); importing cupy failed: {_exc}"
        ) from _exc

from numdl_kernels.cuda._launch import configure as configure  # noqa: E402
from numdl_kernels.cuda._launch import get_config as get_config  # noqa: E402
from numdl_kernels.cuda._launch import set_block_size as set_block_size  # noqa: E402
from numdl_kernels.cuda.conv import conv2d_backward, conv2d_forward  # noqa: E402
from numdl_kernels.cuda.gather import take_rows  # noqa: E402
from numdl_kernels.cuda.linear import linear_backward, linear_forward  # noqa: E402
from numdl_kernels.cuda.normalization import (  # noqa: E402
    batchnorm_backward,
    batchnorm_forward,
)
from numdl_kernels.cuda.optim import (  # noqa: E402
    adagrad_update,
    adam_update,
    adamw_update,
    momentum_update,
    rmsprop_update,
)
from numdl_kernels.cuda.pooling import (  # noqa: E402
    avgpool2d_backward,
    avgpool2d_forward,
    maxpool2d_backward,
    maxpool2d_forward,
)
from numdl_kernels.cuda.softmax import (  # noqa: E402
    cross_entropy,
    log_softmax_rows,
    logsumexp_rows,
)

#: True when running under the Numba CUDA simulator (NumPy arrays, no GPU).
SIMULATOR = _SIMULATOR

# Exactly the ops of numdl.core.hotpaths; the launch settings (configure, get_config,
# set_block_size) and SIMULATOR are module attributes outside __all__.
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
