"""2-D convolution on the GPU (Goodfellow et al., ch. 9, eq. 9.6): im2col + cuBLAS GEMM.

Equals :mod:`numdl.core.hotpaths.conv` (same positional arguments, NCHW activations, weights
(F, C, KH, KW)). Forward: an im2col kernel (one thread per entry of ``cols`` (P, K), so a
warp writes consecutive columns of a row) unrolls the zero-padded input; the GEMM
``z = cols @ W.reshape(F, K)ᵀ`` is cuBLAS through CuPy's ``matmul`` (as
:mod:`numdl_kernels.cuda.linear`); an epilogue kernel (one thread per output element) adds
the bias, applies the ReLU and transposes (P, F) → NCHW into ``out``.

Backward (ch. 6.5 back-prop through the same three steps): one kernel writes the masked
gradient transposed to ``dz`` (P, F) and reduces its columns into per-chunk partial sums of
``db`` (the block layout and chunked shared-memory tree of the linear layer's db; the chunks
are then added in order), then cuBLAS GEMMs ``dw = dzᵀ cols`` and ``dcols = dz W``, and a
col2im kernel with one thread per input element that *gathers* the entries of ``dcols``
read from it, in (i, j) window order: no atomics, so every result is deterministic.
"""

from __future__ import annotations

import functools

import numpy as np
from numba import cuda, from_dtype

from numdl_kernels.cuda._launch import block_size, grid_1d, launch, tile_layout, xp_of
from numdl_kernels.cuda.linear import (
    _MAX_CHUNKS,
    _MIN_ROWS_PER_THREAD,
    _block_column_sum,
    _sum_chunks_kernel,
)

__all__ = ["conv2d_backward", "conv2d_forward"]


@cuda.jit(device=True)
def _unravel3(t, n1, n2):
    """(a, b, c) with t = (a·n1 + b)·n2 + c, 0 ≤ b < n1, 0 ≤ c < n2 (row-major)."""
    c = t % n2
    r = t // n2
    return r // n1, r % n1, c


@cuda.jit(device=True)
def _unravel4(t, n1, n2, n3):
    """(a, b, c, d) with t = ((a·n1 + b)·n2 + c)·n3 + d (row-major)."""
    a, b, c = _unravel3(t // n3, n1, n2)
    return a, b, c, t % n3


@cuda.jit
def _im2col_kernel(x, kh, kw, sh, sw, ph, pw, zero, cols):
    """cols[(b, oh, ow), (c, i, j)] = x_pad[b, c, oh·sh + i, ow·sw + j] (0 where padding)."""
    h_in, w_in = x.shape[2], x.shape[3]
    oh_n = (h_in + 2 * ph - kh) // sh + 1
    ow_n = (w_in + 2 * pw - kw) // sw + 1
    n_rows, n_k = cols.shape
    for t in range(cuda.grid(1), n_rows * n_k, cuda.gridsize(1)):
        p = t // n_k
        k = t - p * n_k
        b, oh, ow = _unravel3(p, oh_n, ow_n)
        c, i, j = _unravel3(k, kh, kw)
        h = oh * sh - ph + i
        w = ow * sw - pw + j
        if h >= 0 and h < h_in and w >= 0 and w < w_in:
            cols[p, k] = x[b, c, h, w]
        else:
            cols[p, k] = zero


@cuda.jit
def _bias_act_nchw_kernel(z, bias, relu, zero, out):
    """out[b, f, q] = act(z[b·Q + q, f] + bias[f]), act = max(·, 0) (as ``np.maximum``) or id."""
    nf, nq = out.shape[1], out.shape[2]
    n = out.shape[0] * nf * nq
    for t in range(cuda.grid(1), n, cuda.gridsize(1)):
        b, f, q = _unravel3(t, nf, nq)
        v = z[b * nq + q, f] + bias[f]
        if relu and v <= zero:  # False for NaN, so NaN propagates; −0 → +0 as np.maximum
            v = zero
        out[b, f, q] = v


@functools.cache
def _mask_transpose_colsum_kernel(dtype: np.dtype, tx: int, ty: int):
    """Kernel: dz[b·Q + q, f] = grad[b, f, q] ⊙ 1[out[b, f, q] > 0] and per-chunk column sums
    of dz (partial db), for one dtype and block shape (tx columns × ty row slices)."""
    nb_dtype = from_dtype(dtype)
    zero = dtype.type(0)

    @cuda.jit
    def mask_transpose_colsum(grad, out, relu, dz, rows_per_chunk, partial):
        sums = cuda.shared.array((ty, tx), nb_dtype)
        lx = cuda.threadIdx.x
        ly = cuda.threadIdx.y
        n_rows, n_cols = dz.shape
        nq = grad.shape[2]
        f = cuda.blockIdx.x * tx + lx
        chunk = cuda.blockIdx.y
        start = chunk * rows_per_chunk
        stop = start + rows_per_chunk
        if stop > n_rows:  # (not min(): it fails to type in Numba's built-in CUDA target)
            stop = n_rows
        acc = zero
        if f < n_cols:
            for p in range(start + ly, stop, ty):
                b = p // nq
                q = p - b * nq
                g = grad[b, f, q]
                if relu and not out[b, f, q] > 0:
                    g = g * zero  # as grad * False in the reference: NaN stays NaN
                dz[p, f] = g
                acc += g
        _block_column_sum(sums, acc, ly, lx, ty)
        if ly == 0 and f < n_cols:
            partial[chunk, f] = sums[0, lx]

    return mask_transpose_colsum


@cuda.jit
def _col2im_kernel(dcols, kh, kw, sh, sw, ph, pw, zero, dx):
    """dx[b, c, h, w] = Σ_{i,j} dcols[(b, oh, ow), (c, i, j)] over oh·sh + i = h + ph,
    ow·sw + j = w + pw (one thread per input element, (i, j) in row-major order)."""
    nc, h_in, w_in = dx.shape[1], dx.shape[2], dx.shape[3]
    oh_n = (h_in + 2 * ph - kh) // sh + 1
    ow_n = (w_in + 2 * pw - kw) // sw + 1
    n = dx.shape[0] * nc * h_in * w_in
    for t in range(cuda.grid(1), n, cuda.gridsize(1)):
        b, c, h, w = _unravel4(t, nc, h_in, w_in)
        acc = zero
        for i in range(kh):
            hh = h + ph - i
            if hh >= 0 and hh % sh == 0 and hh // sh < oh_n:
                row0 = (b * oh_n + hh // sh) * ow_n
                col0 = (c * kh + i) * kw
                for j in range(kw):
                    ww = w + pw - j
                    if ww >= 0 and ww % sw == 0 and ww // sw < ow_n:
                        acc += dcols[row0 + ww // sw, col0 + j]
        dx[b, c, h, w] = acc


def conv2d_forward(x, w, b, stride, padding, relu, cols, z, out):
    """out[b, f] = act(b_f + Σ_{c,i,j} W[f, c, i, j] · x_pad[b, c, oh·sh + i, ow·sw + j]) (eq. 9.6).

    Equals ``numdl.core.hotpaths.conv.conv2d_forward``. Writes ``cols`` (P, K), the unrolled
    input kept for backward, and ``z`` (P, F) = cols @ W.reshape(F, K)ᵀ; returns ``out``.
    """
    xp = xp_of(out)
    nf, _, kh, kw = w.shape
    (sh, sw), (ph, pw) = stride, padding
    zero = np.dtype(x.dtype).type(0)
    bs = block_size()
    if cols.size:
        launch(_im2col_kernel, grid_1d(cols.size), bs, cols, x, kh, kw, sh, sw, ph, pw, zero, cols)
    xp.matmul(cols, w.reshape(nf, -1).T, out=z)
    nb = out.shape[0]
    out3 = out.reshape(nb, nf, -1)
    if out.size:
        launch(_bias_act_nchw_kernel, grid_1d(out.size), bs, out, z, b, bool(relu), zero, out3)
    return out


def conv2d_backward(grad, cols, w, out, stride, padding, relu, compute_dx, dz, dcols, dx, dw, db):
    """dZ = dOut ⊙ 1[out > 0]; db = Σ_p dZ; dW = dZᵀ cols; dX = col2im(dZ W) (ch. 9, 6.5).

    Equals ``numdl.core.hotpaths.conv.conv2d_backward``: ``dz``, ``dw``, ``db`` and (when
    ``compute_dx``) ``dcols`` and ``dx`` are overwritten.
    """
    xp = xp_of(dw)
    nf, _, kh, kw = w.shape
    (sh, sw), (ph, pw) = stride, padding
    nb = grad.shape[0]
    n_rows = dz.shape[0]
    if n_rows and nf:
        tx, ty = tile_layout()
        rows_per_chunk = max(ty * _MIN_ROWS_PER_THREAD, -(-n_rows // _MAX_CHUNKS))
        n_chunks = -(-n_rows // rows_per_chunk)
        partial = db.reshape(1, nf) if n_chunks == 1 else xp.empty((n_chunks, nf), db.dtype)
        kernel = _mask_transpose_colsum_kernel(np.dtype(grad.dtype), tx, ty)
        launch(
            kernel,
            (-(-nf // tx), n_chunks),
            (tx, ty),
            db,
            grad.reshape(nb, nf, -1),
            out.reshape(nb, nf, -1),
            bool(relu),
            dz,
            rows_per_chunk,
            partial,
        )
        if n_chunks > 1:
            launch(_sum_chunks_kernel, grid_1d(nf), block_size(), db, partial, db)
    elif nf:
        db[...] = 0
    xp.matmul(dz.T, cols, out=dw.reshape(nf, -1))
    if compute_dx:
        xp.matmul(dz, w.reshape(nf, -1), out=dcols)
        if dx.size:
            zero = np.dtype(dx.dtype).type(0)
            launch(
                _col2im_kernel,
                grid_1d(dx.size),
                block_size(),
                dx,
                dcols,
                kh,
                kw,
                sh,
                sw,
                ph,
                pw,
                zero,
                dx,
            )
