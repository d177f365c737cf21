"""Linear layer on the GPU: cuBLAS GEMMs (through CuPy) plus two small fused kernels.

Forward: ``out = x @ w`` (cuBLAS), then one epilogue kernel adds the bias and applies the
ReLU in place. Backward: one kernel writes dZ = dH ⊙ 1[H > 0] and reduces its columns
into per-chunk partial sums of db (a 2-D block: 32 columns × ``block_size/32`` row slices,
a shared-memory tree over the slices), a second tiny kernel adds the chunk partials in
order; then dW = Xᵀ dZ and dX = dZ Wᵀ are cuBLAS GEMMs. No atomics: the db reduction
order depends only on the shape and the launch configuration, so it is deterministic.
"""

from __future__ import annotations

import functools

import numpy as np
from numba import cuda, from_dtype

from numdl_kernels.cuda._launch import block_size, capped, grid_1d, launch, tile_layout, xp_of

#: Each thread of the column-sum kernel walks at least this many rows of its chunk.
_MIN_ROWS_PER_THREAD = 4
#: The db reduction splits the rows into at most this many chunks (partial sums).
_MAX_CHUNKS = 256


@cuda.jit
def _bias_relu_kernel(out, b, relu):
    """out ← out + b (broadcast over rows), then max(out, 0) when ``relu`` (eqs. 13, 17)."""
    n_rows, n_cols = out.shape
    col0, row0 = cuda.grid(2)
    col_step, row_step = cuda.gridsize(2)
    for i in range(row0, n_rows, row_step):
        for j in range(col0, n_cols, col_step):
            z = out[i, j] + b[j]
            # ``z < 0`` is False for NaN, so NaN propagates as in np.maximum.
            if relu and z < 0:
                out[i, j] = 0
            else:
                out[i, j] = z


@cuda.jit(device=True)
def _block_column_sum(sums, acc, ly, lx, ty):
    """sums[0, lx] ← Σ_ly acc over the block's ty rows: each thread stores its ``acc``, then a
    shared-memory tree halves the rows (ty a power of two); every thread of the block calls it."""
    sums[ly, lx] = acc
    cuda.syncthreads()
    stride = ty // 2
    while stride > 0:
        if ly < stride:
            sums[ly, lx] += sums[ly + stride, lx]
        cuda.syncthreads()
        stride //= 2


@functools.cache
def _mask_colsum_kernel(dtype: np.dtype, tx: int, ty: int):
    """Kernel: dZ = dH ⊙ 1[H > 0] and per-chunk column sums of dZ (partial db), for one
    dtype and block shape (tx columns × ty row slices)."""
    nb_dtype = from_dtype(dtype)
    zero = dtype.type(0)

    @cuda.jit
    def mask_colsum(grad_out, out, relu, dz, write_dz, rows_per_chunk, partial):
        sums = cuda.shared.array((ty, tx), nb_dtype)
        lx = cuda.threadIdx.x
        ly = cuda.threadIdx.y
        n_rows, n_cols = grad_out.shape
        j = cuda.blockIdx.x * tx + lx
        chunk = cuda.blockIdx.y
        start = chunk * rows_per_chunk
        stop = start + rows_per_chunk
        if stop > n_rows:  # (not min(): it fails to type in Numba's built-in CUDA target)
            stop = n_rows
        acc = zero
        if j < n_cols:
            for i in range(start + ly, stop, ty):
                g = grad_out[i, j]
                if relu and not out[i, j] > 0:
                    g = g * zero  # as grad_out * False in the reference: NaN stays NaN
                if write_dz:
                    dz[i, j] = g
                acc += g
        _block_column_sum(sums, acc, ly, lx, ty)
        if ly == 0 and j < n_cols:
            partial[chunk, j] = sums[0, lx]

    return mask_colsum


@cuda.jit
def _sum_chunks_kernel(partial, db):
    """db_j = Σ_c partial[c, j], summed in chunk order."""
    for j in range(cuda.grid(1), db.shape[0], cuda.gridsize(1)):
        acc = partial[0, j]
        for c in range(1, partial.shape[0]):
            acc += partial[c, j]
        db[j] = acc


def linear_forward(x, w, b, relu, out):
    """Z = XW + b (eq. 13), then ReLU (eq. 17).

    Equals ``numdl.core.hotpaths.linear.linear_forward``.
    """
    xp = xp_of(out)
    xp.matmul(x, w, out=out)
    tx, ty = tile_layout()
    n_rows, n_cols = out.shape
    if n_rows and n_cols:
        grid = (capped(-(-n_cols // tx)), min(capped(-(-n_rows // ty)), 65535))
        launch(_bias_relu_kernel, grid, (tx, ty), out, out, b, bool(relu))
    return out


def linear_backward(grad_out, x, w, out, relu, dz, dx, dw, db):
    """dZ, db (eq. 16) by kernels, dW (eq. 15) and dX (eq. 14) by GEMMs: equals
    ``numdl.core.hotpaths.linear.linear_backward`` (``dz`` may be ``grad_out``; ``dx=None``
    skips dX).
    """
    xp = xp_of(dw)
    n_rows, n_cols = grad_out.shape
    relu = bool(relu)
    write_dz = relu or dz is not grad_out
    if n_cols and n_rows:
        tx, ty = tile_layout()
        rows_per_chunk = max(ty * _MIN_ROWS_PER_THREAD, -(-n_rows // _MAX_CHUNKS))
        n_chunks = -(-n_rows // rows_per_chunk)
        partial = db.reshape(1, n_cols) if n_chunks == 1 else xp.empty((n_chunks, n_cols), db.dtype)
        kernel = _mask_colsum_kernel(np.dtype(grad_out.dtype), tx, ty)
        # grad_out precedes dz: where they alias and are host arrays copied in and out by
        # Numba (simulator), the written dz is copied back last.
        launch(
            kernel,
            (-(-n_cols // tx), n_chunks),
            (tx, ty),
            db,
            grad_out,
            out,
            relu,
            dz,
            write_dz,
            rows_per_chunk,
            partial,
        )
        if n_chunks > 1:
            launch(_sum_chunks_kernel, grid_1d(n_cols), block_size(), db, partial, db)
    elif n_cols:
        db[...] = 0
    xp.matmul(x.T, dz, out=dw)
    if dx is not None:
        xp.matmul(dz, w.T, out=dx)
