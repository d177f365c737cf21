"""2-D convolution (Goodfellow et al., ch. 9, eq. 9.6: cross-correlation) as im2col + BLAS GEMM.

Equals :mod:`numdl.core.hotpaths.conv` (same positional arguments, NCHW, weights (F, C, KH, KW),
``cols`` (K, P): a row per kernel tap k = (c, i, j), a column per output position
p = (b, oh, ow)). Forward: one compiled pass unrolls the input into ``cols`` (zeros where
padding), the GEMM ``z = W.reshape(F, K) @ cols`` (F, P) is NumPy's ``np.matmul`` with ``out=``
(OpenBLAS, as :mod:`numdl_kernels.cpu.linear`), and one compiled pass adds the bias, applies
the ReLU and moves (F, P) into NCHW ``out``. Backward (ch. 6.5 back-prop through the same three
steps): one compiled pass writes the masked gradient to ``dz`` (F, P); ``db`` is NumPy's row
sum of it; the GEMMs ``dw = dz @ colsᵀ`` and ``dcols = Wᵀ @ dz`` (NumPy); one compiled pass
folds ``dcols`` back onto ``dx`` (col2im). The GEMMs and the row sum are the reference's own
NumPy calls and the passes round like its NumPy operations (the mask as ``np.multiply``,
col2im adding each input's terms in increasing (i, j) from zero), so the results equal the
reference bit for bit, in both flavours.

Both unrolling passes go sample by sample and channel by channel through a zero-padded copy
of the plane (so no padding test in the inner loops), one tap (i, j) at a time: for each
output row oh, the OW entries of ``cols[k]`` for (b, oh, ·) are a contiguous run, read from
row oh·sh + i of the padded plane (contiguous too when sw = 1). col2im adds the same runs
back into the padded plane and copies its interior to ``dx``.

Measured at the MNIST CNN's shapes, batch 256, float32, on the shared 2-core machine
(``python tools/compare_conv_kernels.py``; see docs/kernels-cpu.md for the figures): the
direct Numba convolution there is several times slower than im2col + GEMM for the forward
and than GEMM + col2im for dx, so those are kept, and the (K, P) layout's GEMMs are faster
than the (P, K) layout's (:mod:`numdl.core.hotpaths.conv`). PyTorch CPU (2 threads, oneDNN,
no materialised ``cols``) runs the second convolution's forward faster than the GEMM alone.

Parallel flavours (``prange`` over blocks of the batch) run when the pass's *input* (x, the
gradient, dx) has at least :func:`numdl_kernels.cpu._threads.parallel_min_size` elements:
at the MNIST shapes a 2-thread im2col was no faster (memory-bound) and the GEMM right after
it slower (Numba's workers still spinning), so they stay serial there.
"""

from __future__ import annotations

import numpy as np
from numba import prange

from numdl_kernels.cpu._threads import pick_flavour, serial_and_parallel

__all__ = ["conv2d_backward", "conv2d_forward"]

_FLAGS = {"cache": True, "nogil": True, "error_model": "numpy"}


def _im2col_kernel(x, kh, kw, sh, sw, ph, pw, cols, n_blocks):
    """cols[(c, i, j), (b, oh, ow)] = x_pad[b, c, oh·sh + i, ow·sw + j] (0 where padding).

    Per sample and channel, the plane is copied into the interior of a zero-padded scratch
    plane (its border is never written, so stays 0); each tap (i, j) then copies, per output
    row oh, a run of OW entries from the scratch row oh·sh + i into ``cols[k]``.
    """
    nb, nc, h_in, w_in = x.shape
    hp, wp = h_in + 2 * ph, w_in + 2 * pw
    oh_n = (hp - kh) // sh + 1
    ow_n = (wp - kw) // sw + 1
    nq = oh_n * ow_n
    for blk in prange(n_blocks):
        pad = np.zeros((hp, wp), cols.dtype)
        for b in range(blk * nb // n_blocks, (blk + 1) * nb // n_blocks):
            for c in range(nc):
                src = x[b, c]
                for h in range(h_in):
                    for w in range(w_in):
                        pad[h + ph, w + pw] = src[h, w]
                k = c * kh * kw
                for i in range(kh):
                    for j in range(kw):
                        row = cols[k]
                        k += 1
                        for oh in range(oh_n):
                            line = pad[oh * sh + i]
                            r0 = b * nq + oh * ow_n
                            if sw == 1:  # a contiguous run: the loop vectorises
                                for ow in range(ow_n):
                                    row[r0 + ow] = line[ow + j]
                            else:
                                for ow in range(ow_n):
                                    row[r0 + ow] = line[ow * sw + j]


def _bias_act_nchw_kernel(z, bias, relu, out, n_blocks):
    """out[b, f, oh, ow] = act(z[f, (b, oh, ow)] + bias[f]), act = max(·, 0) (as ``np.maximum``)."""
    nb, nf, oh_n, ow_n = out.shape
    nq = oh_n * ow_n
    zero = out.dtype.type(0)
    for blk in prange(n_blocks):
        for b in range(blk * nb // n_blocks, (blk + 1) * nb // n_blocks):
            for f in range(nf):
                bf = bias[f]
                src = z[f, b * nq : (b + 1) * nq]
                dst = out[b, f].reshape(nq)  # out: a C-contiguous output
                if relu:
                    for q in range(nq):
                        v = src[q] + bf
                        dst[q] = zero if v <= zero else v  # NaN stays NaN, −0 → +0
                else:
                    for q in range(nq):
                        dst[q] = src[q] + bf


def _mask_kernel(grad, out, relu, dz, n_blocks):
    """dz[f, (b, oh, ow)] = grad[b, f, oh, ow] · 1[out[b, f, oh, ow] > 0] (or grad), the mask
    multiplied as ``np.multiply`` does (so NaN · 0 stays NaN)."""
    nb, nf, oh_n, ow_n = grad.shape
    nq = oh_n * ow_n
    zero = dz.dtype.type(0)
    one = dz.dtype.type(1)
    for blk in prange(n_blocks):
        for b in range(blk * nb // n_blocks, (blk + 1) * nb // n_blocks):
            for f in range(nf):
                g, o = grad[b, f], out[b, f]
                for oh in range(oh_n):
                    dst = dz[f, b * nq + oh * ow_n : b * nq + (oh + 1) * ow_n]
                    if relu:
                        for ow in range(ow_n):
                            dst[ow] = g[oh, ow] * (one if o[oh, ow] > zero else zero)
                    else:
                        for ow in range(ow_n):
                            dst[ow] = g[oh, ow]


def _col2im_kernel(dcols, kh, kw, sh, sw, ph, pw, dx, n_blocks):
    """dx[b, c, oh·sh + i − ph, ow·sw + j − pw] = Σ dcols[(c, i, j), (b, oh, ow)] (padding dropped).

    Per sample and channel, the runs of ``dcols`` are added into a zero-padded scratch plane
    one tap (i, j) at a time (so each dx entry sums its terms in increasing (i, j), and the
    inner loop over ow has no dependency between iterations); the interior goes to dx.
    """
    nb, nc, h_in, w_in = dx.shape
    hp, wp = h_in + 2 * ph, w_in + 2 * pw
    oh_n = (hp - kh) // sh + 1
    ow_n = (wp - kw) // sw + 1
    nq = oh_n * ow_n
    zero = dx.dtype.type(0)
    for blk in prange(n_blocks):
        pad = np.empty((hp, wp), dx.dtype)
        for b in range(blk * nb // n_blocks, (blk + 1) * nb // n_blocks):
            for c in range(nc):
                for h in range(hp):
                    for w in range(wp):
                        pad[h, w] = zero
                k = c * kh * kw
                for i in range(kh):
                    for j in range(kw):
                        row = dcols[k]
                        k += 1
                        for oh in range(oh_n):
                            line = pad[oh * sh + i]
                            r0 = b * nq + oh * ow_n
                            if sw == 1:
                                for ow in range(ow_n):
                                    line[ow + j] += row[r0 + ow]
                            else:
                                for ow in range(ow_n):
                                    line[ow * sw + j] += row[r0 + ow]
                dst = dx[b, c]
                for h in range(h_in):
                    for w in range(w_in):
                        dst[h, w] = pad[h + ph, w + pw]


_IM2COL = serial_and_parallel(_im2col_kernel, **_FLAGS)
_BIAS_ACT_NCHW = serial_and_parallel(_bias_act_nchw_kernel, **_FLAGS)
_MASK = serial_and_parallel(_mask_kernel, **_FLAGS)
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

    Equals ``numdl.core.hotpaths.conv.conv2d_forward``. Writes ``cols`` (K, P), the unrolled
    input kept for backward, and ``z`` (F, P) = W.reshape(F, K) @ cols; returns ``out``.
    """
    nf, _, kh, kw = w.shape
    (sh, sw), (ph, pw) = stride, padding
    kernel, n_blocks = pick_flavour(_IM2COL, x.size, x.shape[0])  # input size: see the module notes
    kernel(x, kh, kw, sh, sw, ph, pw, cols, n_blocks)
    np.matmul(w.reshape(nf, -1), cols, out=z)
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
    """dZ = dOut ⊙ 1[out > 0]; db = Σ_p dZ[:, p]; dW = dZ colsᵀ; dX = col2im(Wᵀ dZ) (ch. 9, 6.5).

    Equals ``numdl.core.hotpaths.conv.conv2d_backward``: ``dz``, ``dw``, ``db`` and (when
    ``compute_dx``) ``dcols`` and ``dx`` are overwritten.
    """
    nf, _, kh, kw = w.shape
    (sh, sw), (ph, pw) = stride, padding
    kernel, n_blocks = pick_flavour(_MASK, grad.size, grad.shape[0])
    kernel(grad, out, relu, dz, n_blocks)
    np.sum(dz, axis=1, out=db)  # NumPy's pairwise row sums: the reference's rounding
    w2 = w.reshape(nf, -1)
    np.matmul(dz, cols.T, out=dw.reshape(nf, -1))
    if compute_dx:
        np.matmul(w2.T, dz, out=dcols)
        kernel, n_blocks = pick_flavour(_COL2IM, dx.size, dx.shape[0])
        kernel(dcols, kh, kw, sh, sw, ph, pw, dx, n_blocks)
