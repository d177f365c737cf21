"""2-D convolution on the GPU (Goodfellow et al., ch. 9, eq. 9.6): im2col + cuBLAS GEMM.

Equals :mod:`numdl.core.hotpaths.conv` (same positional arguments, NCHW activations, weights
(F, C, KH, KW), ``cols`` (K, P): a row per kernel tap, a column per output position).
Forward: an im2col kernel (one thread per entry of ``cols``, consecutive threads on
consecutive positions p, so a warp writes a contiguous run and reads neighbouring input
columns) unrolls the zero-padded input; the GEMM ``z = W.reshape(F, K) @ cols`` is cuBLAS
through CuPy's ``matmul`` (as :mod:`numdl_kernels.cuda.linear`); an epilogue kernel (one
thread per output element) adds the bias, applies the ReLU and moves (F, P) into NCHW ``out``.

Backward (ch. 6.5 back-prop through the same three steps): one kernel writes the masked
gradient to ``dz`` (F, P) (one thread per element, coalesced on both sides); ``db`` is its
row sums, one block per (row, chunk of the row) whose threads stride along the row and meet
in the linear layer's shared-memory tree (``_block_column_sum`` on a one-column tile), the
chunks then added in order; cuBLAS GEMMs ``dw = dz @ colsᵀ`` and ``dcols = Wᵀ @ dz``; and a
col2im kernel with one thread per input element that *gathers* the entries of ``dcols``
read from it, in (i, j) window order: no atomics, so every result is deterministic.
"""

from __future__ import annotations

import functools

import numpy as np
from numba import cuda, from_dtype

from numdl_kernels.cuda._launch import block_size, grid_1d, launch, xp_of
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
    """cols[(c, i, j), (b, oh, ow)] = x_pad[b, c, oh·sh + i, ow·sw + j] (0 where padding)."""
    h_in, w_in = x.shape[2], x.shape[3]
    oh_n = (h_in + 2 * ph - kh) // sh + 1
    ow_n = (w_in + 2 * pw - kw) // sw + 1
    n_k, n_pos = cols.shape
    for t in range(cuda.grid(1), n_k * n_pos, cuda.gridsize(1)):
        k = t // n_pos
        p = t - k * n_pos
        b, oh, ow = _unravel3(p, oh_n, ow_n)
        c, i, j = _unravel3(k, kh, kw)
        h = oh * sh - ph + i
        w = ow * sw - pw + j
        if h >= 0 and h < h_in and w >= 0 and w < w_in:
            cols[k, p] = x[b, c, h, w]
        else:
            cols[k, p] = zero


@cuda.jit
def _bias_act_nchw_kernel(z, bias, relu, zero, out):
    """out[b, f, q] = act(z[f, b·Q + q] + bias[f]), act = max(·, 0) (as ``np.maximum``) or id."""
    nf, nq = out.shape[1], out.shape[2]
    n = out.shape[0] * nf * nq
    for t in range(cuda.grid(1), n, cuda.gridsize(1)):
        b, f, q = _unravel3(t, nf, nq)
        v = z[f, b * nq + q] + bias[f]
        if relu and v <= zero:  # False for NaN, so NaN propagates; −0 → +0 as np.maximum
            v = zero
        out[b, f, q] = v


@cuda.jit
def _mask_kernel(grad, out, relu, zero, dz):
    """dz[f, b·Q + q] = grad[b, f, q] ⊙ 1[out[b, f, q] > 0] (or grad), as ``np.multiply``."""
    nf, nq = grad.shape[1], grad.shape[2]
    n = grad.shape[0] * nf * nq
    for t in range(cuda.grid(1), n, cuda.gridsize(1)):
        b, f, q = _unravel3(t, nf, nq)
        g = grad[b, f, q]
        if relu and not out[b, f, q] > 0:
            g = g * zero  # as grad * False in the reference: NaN stays NaN
        dz[f, b * nq + q] = g


@functools.cache
def _row_sum_kernel(dtype: np.dtype, ty: int):
    """Kernel: partial[chunk, f] = Σ of dz[f, p] over the chunk's positions, one block of ty
    threads (a one-column tile, so consecutive threads read consecutive p) per (f, chunk)."""
    nb_dtype = from_dtype(dtype)
    zero = dtype.type(0)

    @cuda.jit
    def row_sum(dz, per_chunk, partial):
        sums = cuda.shared.array((ty, 1), nb_dtype)
        ly = cuda.threadIdx.y
        f = cuda.blockIdx.x
        chunk = cuda.blockIdx.y
        n_pos = dz.shape[1]
        start = chunk * per_chunk
        stop = start + per_chunk
        if stop > n_pos:  # (not min(): it fails to type in Numba's built-in CUDA target)
            stop = n_pos
        acc = zero
        for p in range(start + ly, stop, ty):
            acc += dz[f, p]
        _block_column_sum(sums, acc, ly, 0, ty)
        if ly == 0:
            partial[chunk, f] = sums[0, 0]

    return row_sum


@cuda.jit
def _col2im_kernel(dcols, kh, kw, sh, sw, ph, pw, zero, dx):
    """dx[b, c, h, w] = Σ_{i,j} dcols[(c, i, j), (b, oh, ow)] over oh·sh + i = h + ph,
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
                pos0 = (b * oh_n + hh // sh) * ow_n
                k0 = (c * kh + i) * kw
                for j in range(kw):
                    ww = w + pw - j
                    if ww >= 0 and ww % sw == 0 and ww // sw < ow_n:
                        acc += dcols[k0 + j, pos0 + ww // sw]
        dx[b, c, h, w] = acc


def conv2d_forward(x, w, b, stride, padding, relu, cols, z, out):
    """out[b, f] = act(b_f + Σ_{c,i,j} W[f, c, i, j] · x_pad[b, c, oh·sh + i, ow·sw + j]) (eq. 9.6).

    Equals ``numdl.core.hotpaths.conv.conv2d_forward``. Writes ``cols`` (K, P), the unrolled
    input kept for backward, and ``z`` (F, P) = W.reshape(F, K) @ cols; returns ``out``.
    """
    xp = xp_of(out)
    nf, _, kh, kw = w.shape
    (sh, sw), (ph, pw) = stride, padding
    zero = np.dtype(x.dtype).type(0)
    bs = block_size()
    if cols.size:
        launch(_im2col_kernel, grid_1d(cols.size), bs, cols, x, kh, kw, sh, sw, ph, pw, zero, cols)
    xp.matmul(w.reshape(nf, -1), cols, out=z)
    nb = out.shape[0]
    out3 = out.reshape(nb, nf, -1)
    if out.size:
        launch(_bias_act_nchw_kernel, grid_1d(out.size), bs, out, z, b, bool(relu), zero, out3)
    return out


def conv2d_backward(grad, cols, w, out, stride, padding, relu, compute_dx, dz, dcols, dx, dw, db):
    """dZ = dOut ⊙ 1[out > 0]; db = Σ_p dZ[:, p]; dW = dZ colsᵀ; dX = col2im(Wᵀ dZ) (ch. 9, 6.5).

    Equals ``numdl.core.hotpaths.conv.conv2d_backward``: ``dz``, ``dw``, ``db`` and (when
    ``compute_dx``) ``dcols`` and ``dx`` are overwritten.
    """
    xp = xp_of(dw)
    nf, _, kh, kw = w.shape
    (sh, sw), (ph, pw) = stride, padding
    nb = grad.shape[0]
    n_pos = dz.shape[1]
    bs = block_size()
    zero = np.dtype(grad.dtype).type(0)
    if dz.size:
        g3, o3 = grad.reshape(nb, nf, -1), out.reshape(nb, nf, -1)
        launch(_mask_kernel, grid_1d(dz.size), bs, dz, g3, o3, bool(relu), zero, dz)
    if n_pos and nf:
        per_chunk = max(bs * _MIN_ROWS_PER_THREAD, -(-n_pos // _MAX_CHUNKS))
        n_chunks = -(-n_pos // per_chunk)
        partial = db.reshape(1, nf) if n_chunks == 1 else xp.empty((n_chunks, nf), db.dtype)
        kernel = _row_sum_kernel(np.dtype(grad.dtype), bs)
        launch(kernel, (nf, n_chunks), (1, bs), db, dz, per_chunk, partial)
        if n_chunks > 1:
            launch(_sum_chunks_kernel, grid_1d(nf), bs, db, partial, db)
    elif nf:
        db[...] = 0
    w2 = w.reshape(nf, -1)
    xp.matmul(dz, cols.T, out=dw.reshape(nf, -1))
    if compute_dx:
        xp.matmul(w2.T, dz, out=dcols)
        if dx.size:
            launch(
                _col2im_kernel,
                grid_1d(dx.size),
                bs,
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
