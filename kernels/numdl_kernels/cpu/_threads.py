"""Threading policy of the CPU kernels: BLAS owns the cores; Numba stays on one thread.

A training step alternates OpenBLAS GEMMs and Numba passes, and each thread pool keeps its
workers busy-waiting for a while after its last job (OpenBLAS: ``OPENBLAS_THREAD_TIMEOUT``;
Numba's OpenMP layer: ``GOMP_SPINCOUNT``). A Numba ``prange`` pass started right after a GEMM
shares the cores with spinning BLAS workers, and a GEMM right after a ``prange`` pass with
spinning OpenMP workers. Measured on the project's 2-core machine (``docs/kernels-cpu.md``),
the parallel optimiser update lost to the serial one right after a GEMM at 407K and 4.2M
parameters (medians of milliseconds vs 0.25 ms and 2.5–3.9 ms) and was no faster at 25M,
while the fused linear passes are ≈ 2 % of the GEMM time. So the kernels run single-threaded
(never competing with BLAS, never starting Numba's pool) except the optimiser updates on
buffers of at least :func:`parallel_min_size` elements, which use all Numba threads.

The threshold can be set with the environment variable ``NUMDL_NUMBA_PARALLEL_MIN_SIZE``
(read at import; ``0`` = always parallel) or :func:`set_parallel_min_size`.
"""

from __future__ import annotations

import os
from types import FunctionType

from numba import get_num_threads, njit

__all__ = [
    "DEFAULT_PARALLEL_MIN_SIZE",
    "parallel_min_size",
    "parallel_threads",
    "pick_flavour",
    "serial_and_parallel",
    "set_parallel_min_size",
]

#: Default: 2^24 elements (64 MiB per float32 array): far above the MNIST model (407,050
#: parameters); at 25M a parallel update is 13–17 % faster on its own and about even after
#: a GEMM (a judgement call; the measurements are in docs/kernels-cpu.md).
DEFAULT_PARALLEL_MIN_SIZE = 1 << 24

_ENV = "NUMDL_NUMBA_PARALLEL_MIN_SIZE"


def _from_env() -> int:
    raw = os.environ.get(_ENV, "").strip()
    if not raw:
        return DEFAULT_PARALLEL_MIN_SIZE
    try:
        value = int(raw)
    except ValueError:
        value = -1
    if value < 0:
        raise ValueError(f"{_ENV} must be a non-negative integer, got {raw!r}")
    return value


_min_size = _from_env()


def parallel_min_size() -> int:
    """Smallest buffer (in elements) an optimiser update spreads over Numba's threads."""
    return _min_size


def set_parallel_min_size(size: int) -> int:
    """Set the threshold of :func:`parallel_min_size`; returns the previous value.

    Raises
    ------
    ValueError
        If ``size`` is negative.
    """
    global _min_size
    size = int(size)
    if size < 0:
        raise ValueError(f"size must be >= 0, got {size}")
    previous, _min_size = _min_size, size
    return previous


def parallel_threads(size: int) -> int:
    """Threads for an elementwise pass over ``size`` elements: 1 (serial) or Numba's count.

    Numba's thread pool is only consulted (and so only started) above the threshold.
    """
    if size < _min_size:
        return 1
    return get_num_threads()


def serial_and_parallel(kernel, **flags):
    """(serial, parallel) dispatchers of ``kernel`` compiled with ``flags``; the parallel one
    compiles a renamed copy, since Numba's on-disk cache is keyed by qualified name and
    signature, not by the ``parallel`` flag."""
    serial = njit(**flags)(kernel)
    twin = FunctionType(kernel.__code__, kernel.__globals__, kernel.__name__ + "_parallel")
    twin.__qualname__ = kernel.__qualname__ + "_parallel"
    twin.__doc__ = kernel.__doc__
    return serial, njit(parallel=True, **flags)(twin)


def pick_flavour(kernels, size: int, batch: int):
    """(kernel, n_blocks) from :func:`serial_and_parallel`'s pair: the parallel flavour, over
    at most ``batch`` blocks, for ``size`` elements or more; else the serial one."""
    n_blocks = min(parallel_threads(size), batch)
    return (kernels[1], n_blocks) if n_blocks > 1 else (kernels[0], 1)
