"""2-D convolution (Goodfellow et al., ch. 9, eq. 9.6: cross-correlation) as im2col + BLAS GEMM.

Equals :mod:`numdl.core.hotpaths.conv` (same positional arguments, NCHW, weights (F, C, KH, KW)).
Forward: one compiled pass unrolls the input into ``cols`` (P, K) (row p = (b, oh, ow), column
k = (c, i, j), zeros where padding), the GEMM ``z = cols @ W.reshape(F, K)ᵀ`` is NumPy's
``np.matmul`` with ``out=`` (OpenBLAS, as :mod:`numdl_kernels.cpu.linear`), and one compiled
pass adds the bias, applies the ReLU and transposes (P, F) → NCHW into ``out``.
Backward (ch. 6.5 back-prop through the same three steps): one compiled pass writes the masked
gradient transposed to ``dz`` (P, F) and sums its columns into ``db``; the GEMMs
``dw = dzᵀ cols`` and ``dcols = dz W`` (NumPy); one compiled pass folds ``dcols`` back onto
``dx`` (col2im, through a zero-padded scratch plane per sample). The GEMMs are the
reference's own ``np.matmul`` calls and the passes round like its NumPy operations (the
mask as ``np.multiply``, ``db`` in ``np.sum``'s row order, col2im adding in increasing
(i, j)), so serial results equal the reference bit for bit; the parallel flavour of the
mask pass sums ``db`` per block of the batch, then adds the blocks (within the tolerances).

Measured at the MNIST CNN's shapes, batch 256, float32, on the shared 2-core machine
(``tools/compare_conv_kernels.py``; minima of interleaved rounds, other jobs running): a
direct Numba convolution was 5–10× slower than im2col + GEMM for the forward and 4–9×
slower than GEMM + col2im for dx, so those are kept. The passes are memory-bound: for conv
1→16 28×28 k5 / 16→32 14×14 k5, im2col writes the P×K ``cols`` (20 / 80 MB) in 5–7 /
22–25 ms against 1.3 / 9–10 ms for the GEMM ``z``; the fused bias+ReLU+transpose pass takes
1.6 / 0.8 ms, the fused mask+transpose+db pass 3.0 / 1.2 ms (GEMM dw 3.3 / 9.5 ms), col2im
4.6 / 25 ms (GEMM dcols 1.4 / 6.4 ms). PyTorch CPU (2 threads, no materialised ``cols``) is
several times faster on conv 2 (forward ≈ 4 vs 39 ms, backward ≈ 8 vs 47 ms).
im2col writes rows of up to ``_SHORT_ROW`` = 64 entries column by column (K = 25: 5.0 vs
5.7 ms, K = 36: 1.6 vs 2.7 ms) and longer ones row by row (K = 400: 23 vs 38 ms).

Parallel flavours (``prange`` over blocks of the batch) run when the pass's *input* (x, the
gradient, dx) has at least :func:`numdl_kernels.cpu._threads.parallel_min_size` elements:
at the MNIST shapes a 2-thread im2col was no faster (24 ms serial vs 23 ms, memory-bound),
and the GEMM right after it slower (median 11.8 vs 9.5 ms, Numba's workers still spinning),
so they stay serial there even though ``cols`` itself exceeds the 2^24 threshold.
"""

from __future__ import annotations

import numpy as np
from numba import prange

from numdl_kernels.cpu._threads import pick_flavour, serial_and_parallel

__all__ = ["conv2d_backward", "conv2d_forward"]

_FLAGS = {"cache": True, "nogil": True, "error_model": "numpy"}

#: Rows of ``cols`` up to this many entries are written column by column (see the notes).
_SHORT_ROW = 64


def _im2col_kernel(x, kh, kw, sh, sw, ph, pw, by_column, cols, n_blocks):
    """cols[(b, oh, ow), (c, i, j)] = x_pad[b, c, oh·sh + i, ow·sw + j] (0 where padding).

    Row by row (each row written in order, padding tested per kernel row), or, with
    ``by_column``, sample by sample through a zero-padded copy of its planes, one column
    k = (c, i, j) at a time (strided writes into the sample's block of rows, long branch-free
    inner loops): faster for short rows, slower for long ones (module notes).
    """
    nb, nc, h_in, w_in = x.shape
    hp, wp = h_in + 2 * ph, w_in + 2 * pw
    oh_n = (hp - kh) // sh + 1
    ow_n = (wp - kw) // sw + 1
    nq = oh_n * ow_n
    zero = cols.dtype.type(0)
    for blk in prange(n_blocks):
        pad = np.zeros((nc, hp, wp) if by_column else (0, 0, 0), cols.dtype)
        for b in range(blk * nb // n_blocks, (blk + 1) * nb // n_blocks):
            if by_column:
                for c in range(nc):
                    for h in range(h_in):
                        for w in range(w_in):
                            pad[c, h + ph, w + pw] = x[b, c, h, w]
                rows = cols[b * nq : (b + 1) * nq]
                k = 0
                for c in range(nc):
                    for i in range(kh):
                        for j in range(kw):
                            for oh in range(oh_n):
                                src = pad[c, oh * sh + i]
                                r0 = oh * ow_n
                                for ow in range(ow_n):
                                    rows[r0 + ow, k] = src[ow * sw + j]
                            k += 1
                continue
            for oh in range(oh_n):
                h0 = oh * sh - ph
                for ow in range(ow_n):
                    w0 = ow * sw - pw
                    row = cols[b * nq + oh * ow_n + ow]
                    j_lo = min(max(-w0, 0), kw)  # columns j in [j_lo, j_hi) are inside
                    j_hi = max(min(w_in - w0, kw), j_lo)
                    k = 0
                    for c in range(nc):
                        for i in range(kh):
                            h = h0 + i
                            if h < 0 or h >= h_in:
                                for j in range(kw):
                                    row[k + j] = zero
                            else:
                                src = x[b, c, h]
                                for j in range(j_lo):
                                    row[k + j] = zero
                                for j in range(j_lo, j_hi):
                                    row[k + j] = src[w0 + j]
                                for j in range(j_hi, kw):
                                    row[k + j] = zero
                            k += kw


def _bias_act_nchw_kernel(z, bias, relu, out, n_blocks):
    """out[b, f, oh, ow] = act(z[(b, oh, ow), f] + bias[f]), act = max(·, 0) (as ``np.maximum``)."""
    nb, nf, oh_n, ow_n = out.shape
    nq = oh_n * ow_n
    zero = out.dtype.type(0)
    for blk in prange(n_blocks):
        for b in range(blk * nb // n_blocks, (blk + 1) * nb // n_blocks):
            zb = z[b * nq : (b + 1) * nq]
            for f in range(nf):
                bf = bias[f]
                of = out[b, f]
                for oh in range(oh_n):
                    r0 = oh * ow_n
                    if relu:
                        for ow in range(ow_n):
                            v = zb[r0 + ow, f] + bf
                            of[oh, ow] = zero if v <= zero else v  # NaN stays NaN, −0 → +0
                    else:
                        for ow in range(ow_n):
                            of[oh, ow] = zb[r0 + ow, f] + bf


def _mask_transpose_kernel(grad, out, relu, dz, partial, n_blocks):
    """dz[(b, oh, ow), f] = grad[b, f, oh, ow] · 1[out[b, f, oh, ow] > 0] (or grad);
    partial[blk, f] = Σ dz over the block's rows.

    Rows are added in order per column, from 0: with one block that is ``np.sum(dz, axis=0)``'s
    order for a C-contiguous (P, F > 1) array. The mask multiplies like ``np.multiply``.
    """
    nb, nf, oh_n, ow_n = grad.shape
    nq = oh_n * ow_n
    zero = dz.dtype.type(0)
    one = dz.dtype.type(1)
    for blk in prange(n_blocks):
        acc = partial[blk]
        for f in range(nf):
            acc[f] = zero
        for b in range(blk * nb // n_blocks, (blk + 1) * nb // n_blocks):
            for oh in range(oh_n):
                for ow in range(ow_n):
                    row = dz[b * nq + oh * ow_n + ow]
                    # columns innermost: F independent sums (no chain of dependent adds)
                    for f in range(nf):
                        g = grad[b, f, oh, ow]
                        if relu:
                            g = g * (one if out[b, f, oh, ow] > zero else zero)
                        row[f] = g
                        acc[f] += g


def _col2im_kernel(dcols, kh, kw, sh, sw, ph, pw, dx, n_blocks):
    """dx[b, c, oh·sh + i − ph, ow·sw + j − pw] = Σ dcols[(b, oh, ow), (c, i, j)] (padding dropped).

    Each sample is folded into a zero-padded scratch plane one column k = (c, i, j) at a time
    (so each dx entry sums its terms in increasing (i, j), and the inner loop over ow has no
    dependency between iterations), then the plane's interior is copied to dx.
    """
    nb, nc, h_in, w_in = dx.shape
    hp, wp = h_in + 2 * ph, w_in + 2 * pw
    oh_n = (hp - kh) // sh + 1
    ow_n = (wp - kw) // sw + 1
    nq = oh_n * ow_n
    zero = dx.dtype.type(0)
    for blk in prange(n_blocks):
        pad = np.empty((nc, hp, wp), dx.dtype)
        for b in range(blk * nb // n_blocks, (blk + 1) * nb // n_blocks):
            for c in range(nc):
                for h in range(hp):
                    for w in range(wp):
                        pad[c, h, w] = zero
            rows = dcols[b * nq : (b + 1) * nq]
            k = 0
            for c in range(nc):
                for i in range(kh):
                    for j in range(kw):
                        for oh in range(oh_n):
                            dst = pad[c, oh * sh + i]
                            r0 = oh * ow_n
                            for ow in range(ow_n):
                                dst[ow * sw + j] += rows[r0 + ow, k]
                        k += 1
            for c in range(nc):
                for h in range(h_in):
                    for w in range(w_in):
                        dx[b, c, h, w] = pad[c, h + ph, w + pw]


_IM2COL = serial_and_parallel(_im2col_kernel, **_FLAGS)
_BIAS_ACT_NCHW = serial_and_parallel(_bias_act_nchw_kernel, **_FLAGS)
_MASK_TRANSPOSE = serial_and_parallel(_mask_transpose_kernel, **_FLAGS)
_COL2IM = serial_and_parallel(_col2im_kernel, **_FLAGS)


def conv2d_forward(
    x: np.ndarray,
    w: np.ndarray,
    b: np.ndarray,
    stride: tuple[int, int],
    padding: tuple[int, int],
    relu: bool,
    cols: np.ndarray,
    z: np.ndarray,
    out: np.ndarray,
) -> np.ndarray:
    """out[b, f] = act(b_f + Σ_{c,i,j} W[f, c, i, j] · x_pad[b, c, oh·sh + i, ow·sw + j]) (eq. 9.6).

    Equals ``numdl.core.hotpaths.conv.conv2d_forward``. Writes ``cols`` (P, K), the unrolled
    input kept for backward, and ``z`` (P, F) = cols @ W.reshape(F, K)ᵀ; returns ``out``.
    """
    nf, _, kh, kw = w.shape
    (sh, sw), (ph, pw) = stride, padding
    kernel, n_blocks = pick_flavour(_IM2COL, x.size, x.shape[0])  # input size: see the module notes
    by_column = cols.shape[1] <= _SHORT_ROW
    kernel(x, kh, kw, sh, sw, ph, pw, by_column, cols, n_blocks)
    np.matmul(cols, w.reshape(nf, -1).T, out=z)
    kernel, n_blocks = pick_flavour(_BIAS_ACT_NCHW, out.size, x.shape[0])
    kernel(z, b, relu, out, n_blocks)
    return out


def conv2d_backward(
    grad: np.ndarray,
    cols: np.ndarray,
    w: np.ndarray,
    out: np.ndarray,
    stride: tuple[int, int],
    padding: tuple[int, int],
    relu: bool,
    compute_dx: bool,
    dz: np.ndarray,
    dcols: np.ndarray | None,
    dx: np.ndarray | None,
    dw: np.ndarray,
    db: np.ndarray,
) -> None:
    """dZ = dOut ⊙ 1[out > 0]; db = Σ_p dZ; dW = dZᵀ cols; dX = col2im(dZ W) (ch. 9, 6.5).

    Equals ``numdl.core.hotpaths.conv.conv2d_backward``: ``dz``, ``dw``, ``db`` and (when
    ``compute_dx``) ``dcols`` and ``dx`` are overwritten.
    """
    nf, _, kh, kw = w.shape
    (sh, sw), (ph, pw) = stride, padding
    kernel, n_blocks = pick_flavour(_MASK_TRANSPOSE, grad.size, grad.shape[0])
    partial = np.empty((n_blocks, nf), dz.dtype)
    kernel(grad, out, relu, dz, partial, n_blocks)
    if nf == 1:  # one column: NumPy sums it pairwise, so the reference's order is NumPy's
        np.sum(dz, axis=0, out=db)
    elif n_blocks == 1:
        db[:] = partial[0]
    else:
        np.sum(partial, axis=0, out=db)
    w2 = w.reshape(nf, -1)
    np.matmul(dz.T, cols, out=dw.reshape(nf, -1))
    if compute_dx:
        np.matmul(dz, w2, out=dcols)
        kernel, n_blocks = pick_flavour(_COL2IM, dx.size, dx.shape[0])
        kernel(dcols, kh, kw, sh, sw, ph, pw, dx, n_blocks)
