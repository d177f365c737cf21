"""Launch configuration and array plumbing shared by the CUDA kernels.

* Block shape: every kernel launches ``block_size`` threads per block (a power of two,
  default 256, or ``NUMDL_CUDA_BLOCK_SIZE``); grid-stride kernels cap their grid at
  ``max_blocks`` (default 65535, or ``NUMDL_CUDA_MAX_BLOCKS``). Both can be changed at run
  time with :func:`configure` / :func:`set_block_size` (the simulator tests shrink them so
  small arrays still span several blocks and several grid-stride passes).
* Row kernels (softmax, cross-entropy) give each row ``tx`` threads and each block ``ty``
  rows (``tx * ty == block_size``): ``tx`` is at most a warp (and no wider than the row
  needs) when the row has at most ``warp_row_max_cols`` entries, else the whole block.
* Arrays: a CuPy array is handed to Numba as a device array view without a host sync,
  and the kernel is launched on CuPy's current stream, so the kernels are ordered with
  the cuBLAS GEMMs CuPy issues. NumPy arrays (the simulator, or host arrays on a real GPU)
  are passed as they are.
"""

from __future__ import annotations

import math
import os
import warnings
from typing import Any

import numpy as np
from numba import cuda
from numba.core.errors import NumbaPerformanceWarning

#: Largest block the kernels are compiled for (the CUDA limit on threads per block).
MAX_BLOCK_SIZE = 1024
#: Threads of one warp: the widest "row of threads" in the small-row layout.
WARP_SIZE = 32


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"{name} must be an integer, got {raw!r}") from None


def _check_block_size(n: Any) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise TypeError(f"block_size must be an int, got {type(n).__name__}")
    n = int(n)
    if n < 1 or n > MAX_BLOCK_SIZE or n & (n - 1):
        raise ValueError(f"block_size must be a power of two in [1, {MAX_BLOCK_SIZE}], got {n}")
    return n


def _check_positive_int(n: Any, name: str) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise TypeError(f"{name} must be an int, got {type(n).__name__}")
    if n < 1:
        raise ValueError(f"{name} must be >= 1, got {n}")
    return int(n)


_config: dict[str, int] = {
    "block_size": _check_block_size(_env_int("NUMDL_CUDA_BLOCK_SIZE", 256)),
    "max_blocks": _check_positive_int(_env_int("NUMDL_CUDA_MAX_BLOCKS", 65535), "max_blocks"),
    "warp_row_max_cols": _check_positive_int(
        _env_int("NUMDL_CUDA_WARP_ROW_MAX_COLS", 1024), "warp_row_max_cols"
    ),
}


def get_config() -> dict[str, int]:
    """The current launch configuration (a copy): block_size, max_blocks, warp_row_max_cols."""
    return dict(_config)


def configure(
    block_size: int | None = None,
    max_blocks: int | None = None,
    warp_row_max_cols: int | None = None,
) -> dict[str, int]:
    """Change the launch configuration; ``None`` keeps a setting. Returns the previous one.

    Parameters
    ----------
    block_size : int, optional
        Threads per block, a power of two in [1, 1024].
    max_blocks : int, optional
        Largest grid of the grid-stride kernels (elementwise updates, row kernels).
    warp_row_max_cols : int, optional
        Rows with at most this many entries get at most a warp of threads each (several
        rows per block); longer rows get a whole block.

    Returns
    -------
    dict
        The configuration before the change, suitable for ``configure(**previous)``.
    """
    previous = get_config()
    new = dict(previous)
    if block_size is not None:
        new["block_size"] = _check_block_size(block_size)
    if max_blocks is not None:
        new["max_blocks"] = _check_positive_int(max_blocks, "max_blocks")
    if warp_row_max_cols is not None:
        new["warp_row_max_cols"] = _check_positive_int(warp_row_max_cols, "warp_row_max_cols")
    _config.update(new)
    return previous


def set_block_size(n: int) -> int:
    """Set the threads per block (a power of two in [1, 1024]); returns the previous value."""
    return configure(block_size=n)["block_size"]


def block_size() -> int:
    return _config["block_size"]


def capped(n_blocks: int) -> int:
    """``n_blocks`` limited to [1, max_blocks] (for grid-stride kernels)."""
    return max(1, min(n_blocks, _config["max_blocks"]))


def grid_1d(n: int) -> int:
    """Blocks for a grid-stride loop over ``n`` items: enough to cover them, at most the cap."""
    return max(1, min(-(-n // _config["block_size"]), _config["max_blocks"]))


def row_layout(n_cols: int) -> tuple[int, int]:
    """(threads per row, rows per block) for a row kernel over rows of ``n_cols`` entries."""
    bs = _config["block_size"]
    if n_cols > _config["warp_row_max_cols"]:
        return bs, 1
    tx = 1
    while tx < n_cols and tx < WARP_SIZE:
        tx *= 2
    tx = min(tx, bs)
    return tx, bs // tx


def tile_layout() -> tuple[int, int]:
    """(columns per block, row slices per block) for the column-reduction kernels."""
    bs = _config["block_size"]
    tx = min(WARP_SIZE, bs)
    return tx, bs // tx


# ------------------------------------------------------------------------ array plumbing
def is_cupy(a: Any) -> bool:
    return type(a).__module__.split(".", 1)[0] == "cupy"


def xp_of(a: Any) -> Any:
    """The array module of ``a``: CuPy for a CuPy array, else NumPy."""
    if is_cupy(a):
        import cupy

        return cupy
    return np


_streams: dict[int, Any] = {}


def stream_of(a: Any) -> Any:
    """The Numba stream to launch on: CuPy's current stream for CuPy arrays, else 0."""
    if not is_cupy(a):
        return 0
    import cupy

    ptr = cupy.cuda.get_current_stream().ptr
    if ptr == 0:
        return 0  # the legacy default stream, Numba's default too
    stream = _streams.get(ptr)
    if stream is None:
        stream = _streams[ptr] = cuda.external_stream(ptr)
    return stream


def dev(a: Any) -> Any:
    """``a`` as a kernel argument: a Numba view of a CuPy array (no host sync), else ``a``.

    The kernels run on the stream CuPy is using (:func:`stream_of`), so the synchronisation
    Numba would otherwise perform on ``__cuda_array_interface__`` arrays is not needed.
    """
    if is_cupy(a):
        return cuda.as_cuda_array(a, sync=False)
    return a


def launch(kernel: Any, grid: Any, block: Any, like: Any, *args: Any) -> None:
    """``kernel[grid, block, stream](*args)`` with device views and the right stream.

    Small grids are deliberate here (one block for the mean loss, few blocks for small
    layers), so Numba's low-occupancy warning (grids under 128 blocks) is silenced for them.
    """
    args = tuple(dev(a) for a in args)
    stream = stream_of(like)
    n_blocks = math.prod(grid) if isinstance(grid, tuple) else grid
    if n_blocks >= 128:
        kernel[grid, block, stream](*args)
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NumbaPerformanceWarning)
        kernel[grid, block, stream](*args)
