"""Batch gathering on the GPU: equals ``numdl.core.hotpaths.gather``, bit for bit.

One grid-stride loop over the B·D outputs, consecutive threads on consecutive columns of a
row, so the reads of each row and the writes are coalesced.
"""

from __future__ import annotations

from numba import cuda

from numdl_kernels.cuda._launch import block_size, grid_1d, launch


@cuda.jit
def _take_rows_kernel(x, index, out):
    n_cols = out.shape[1]
    for k in range(cuda.grid(1), out.shape[0] * n_cols, cuda.gridsize(1)):
        i = k // n_cols
        j = k - i * n_cols
        out[i, j] = x[index[i], j]


def take_rows(x, index, out):
    """out_i = x_{index_i} (the mini-batch ``index`` of ``x``); returns ``out``."""
    if out.size:
        launch(_take_rows_kernel, grid_1d(out.size), block_size(), out, x, index, out)
    return out
