"""Log-sum-exp, log-softmax and cross-entropy on the GPU: one pass of online softmax per row.

Layout: each row gets ``tx`` threads and each block ``ty`` rows (:func:`row_layout`: up to a
warp per row for short rows, a whole block per row for long ones); blocks loop over the row
groups grid-stride. Each thread keeps a running max m and a sum s rescaled to it,

    x_j > m:  s ← s·exp(m − x_j) + 1, m ← x_j;   x_j = m:  s ← s + 1;   else  s ← s + exp(x_j − m),

and the threads' (m, s) pairs are merged by a shared-memory tree (fixed order, so the result
is deterministic). As in ``numdl.core.hotpaths.softmax``, logsumexp = m + log s and log softmax =
(x − m) − log s (never x − logsumexp, whose rounding at the scale of max|x| would reach every
entry). The ``x_j = m`` case keeps infinities exact: an all −inf row gives −inf, a row
holding +inf gives +inf (the shift is then 0 and log s that infinity), and a NaN (never taken
as the max) makes s, hence the result, NaN.

Cross-entropy sweeps the row a second time to write dℓ = (exp(log p)·Σt − t)/B and the row's
loss (accumulated in float64, like the reference's sum) into a per-row buffer; one block
then reduces that buffer in a fixed order, so the mean is deterministic and needs no atomics.
"""

from __future__ import annotations

import functools
import math

import numpy as np
from numba import cuda, from_dtype

from numdl_kernels.cuda._launch import block_size, capped, is_cupy, launch, row_layout, xp_of


@functools.cache
def _row_kernels(dtype: np.dtype, tx: int, ty: int):
    """The row kernels for one dtype and layout (tx threads per row, ty rows per block)."""
    nb_dtype = from_dtype(dtype)
    zero = dtype.type(0)
    one = dtype.type(1)
    neg_inf = dtype.type(-np.inf)
    scalar = dtype.type

    @cuda.jit(device=True)
    def push(m, s, xj):
        """Fold x_j into the running (max, rescaled sum)."""
        if xj > m:
            return xj, s * math.exp(m - xj) + one
        if xj == m:  # also ±inf = ±inf, where exp(x_j − m) would be exp(NaN)
            return m, s + one
        return m, s + math.exp(xj - m)  # a NaN x_j lands here and makes s NaN

    @cuda.jit(device=True)
    def merge(ma, sa, mb, sb):
        """Combine two (max, rescaled sum) pairs."""
        if ma < mb:
            ma, sa, mb, sb = mb, sb, ma, sa
        if ma == mb:
            return ma, sa + sb
        return ma, sa + sb * math.exp(mb - ma)

    @cuda.jit(device=True)
    def row_stats(x, row, lane, r, part, sm_m, sm_s, sm_t):
        """(shift, log-sum, Σ part) of ``x[row]`` over the tx threads of row slot r, one
        shared-memory tree for all three (every thread of the block must call).

        As in the reference, logsumexp = shift + log-sum and log softmax = (x − shift) −
        log-sum, where shift is the row max, or 0 when the max is infinite: then log-sum is
        that infinity (an all −inf row gives −inf, a +inf gives +inf), or NaN with a NaN.
        """
        m = neg_inf
        s = zero
        if row < x.shape[0]:
            for j in range(lane, x.shape[1], tx):
                m, s = push(m, s, x[row, j])
        sm_m[r, lane] = m
        sm_s[r, lane] = s
        sm_t[r, lane] = part
        cuda.syncthreads()
        stride = tx // 2
        while stride > 0:
            if lane < stride:
                mm, ss = merge(
                    sm_m[r, lane], sm_s[r, lane], sm_m[r, lane + stride], sm_s[r, lane + stride]
                )
                sm_m[r, lane] = mm
                sm_s[r, lane] = ss
                sm_t[r, lane] += sm_t[r, lane + stride]
            cuda.syncthreads()
            stride //= 2
        m = sm_m[r, 0]
        s = sm_s[r, 0]
        total = sm_t[r, 0]
        cuda.syncthreads()  # every thread has read before the slots are reused
        if row >= x.shape[0]:
            return zero, zero, total  # a slot past the last row (s = 0): nothing to compute
        if math.isinf(m):  # (m is never NaN)
            return zero, (m if s == s else s), total  # ±inf, or NaN (s is NaN)
        return m, math.log(s), total  # s ≥ 1 (the max counts 1): finite unless NaN

    @cuda.jit(device=True)
    def tree_sum(sm, r, lane):
        """Σ over the tx slots of row slot r, in a fixed tree order (all threads must call)."""
        cuda.syncthreads()
        stride = tx // 2
        while stride > 0:
            if lane < stride:
                sm[r, lane] += sm[r, lane + stride]
            cuda.syncthreads()
            stride //= 2
        total = sm[r, 0]
        cuda.syncthreads()
        return total

    @cuda.jit
    def logsumexp_kernel(x, out):
        sm_m = cuda.shared.array((ty, tx), nb_dtype)
        sm_s = cuda.shared.array((ty, tx), nb_dtype)
        sm_t = cuda.shared.array((ty, tx), nb_dtype)
        lane = cuda.threadIdx.x
        r = cuda.threadIdx.y
        n_groups = (x.shape[0] + ty - 1) // ty
        for group in range(cuda.blockIdx.x, n_groups, cuda.gridDim.x):
            row = group * ty + r
            shift, log_sum, _ = row_stats(x, row, lane, r, zero, sm_m, sm_s, sm_t)
            if lane == 0 and row < x.shape[0]:
                out[row] = shift + log_sum

    @cuda.jit
    def log_softmax_kernel(x, out):
        sm_m = cuda.shared.array((ty, tx), nb_dtype)
        sm_s = cuda.shared.array((ty, tx), nb_dtype)
        sm_t = cuda.shared.array((ty, tx), nb_dtype)
        lane = cuda.threadIdx.x
        r = cuda.threadIdx.y
        n_groups = (x.shape[0] + ty - 1) // ty
        for group in range(cuda.blockIdx.x, n_groups, cuda.gridDim.x):
            row = group * ty + r
            shift, log_sum, _ = row_stats(x, row, lane, r, zero, sm_m, sm_s, sm_t)
            if row < x.shape[0]:
                for j in range(lane, x.shape[1], tx):
                    out[row, j] = (x[row, j] - shift) - log_sum

    @cuda.jit
    def ce_labels_kernel(x, labels, want_grad, dlogits, row_loss):
        sm_m = cuda.shared.array((ty, tx), nb_dtype)
        sm_s = cuda.shared.array((ty, tx), nb_dtype)
        sm_t = cuda.shared.array((ty, tx), nb_dtype)
        lane = cuda.threadIdx.x
        r = cuda.threadIdx.y
        n_rows = x.shape[0]
        n_f = scalar(n_rows)
        n_groups = (n_rows + ty - 1) // ty
        for group in range(cuda.blockIdx.x, n_groups, cuda.gridDim.x):
            row = group * ty + r
            shift, log_sum, _ = row_stats(x, row, lane, r, zero, sm_m, sm_s, sm_t)
            if row < n_rows:
                label = labels[row]
                if want_grad:
                    for j in range(lane, x.shape[1], tx):
                        p = math.exp((x[row, j] - shift) - log_sum)
                        if j == label:
                            p = p - one
                        dlogits[row, j] = p / n_f
                if lane == 0:  # log p of the label, widened to float64
                    row_loss[row] = (x[row, label] - shift) - log_sum

    @cuda.jit
    def ce_soft_kernel(x, target, want_grad, dlogits, row_loss):
        sm_m = cuda.shared.array((ty, tx), nb_dtype)
        sm_s = cuda.shared.array((ty, tx), nb_dtype)
        sm_t = cuda.shared.array((ty, tx), nb_dtype)
        sm_l = cuda.shared.array((ty, tx), np.float64)
        lane = cuda.threadIdx.x
        r = cuda.threadIdx.y
        n_rows = x.shape[0]
        n_f = scalar(n_rows)
        n_groups = (n_rows + ty - 1) // ty
        for group in range(cuda.blockIdx.x, n_groups, cuda.gridDim.x):
            row = group * ty + r
            valid = row < n_rows
            part = zero
            if valid:
                for j in range(lane, x.shape[1], tx):
                    part += target[row, j]
            shift, log_sum, mass = row_stats(x, row, lane, r, part, sm_m, sm_s, sm_t)
            acc = 0.0
            if valid:
                for j in range(lane, x.shape[1], tx):
                    t = target[row, j]
                    log_p = (x[row, j] - shift) - log_sum
                    if want_grad:
                        dlogits[row, j] = (math.exp(log_p) * mass - t) / n_f
                    if t != 0:  # 0 · log p = 0 even where log p = −inf
                        acc += np.float64(t * log_p)
            sm_l[r, lane] = acc
            total = tree_sum(sm_l, r, lane)
            if valid and lane == 0:
                row_loss[row] = total

    return logsumexp_kernel, log_softmax_kernel, ce_labels_kernel, ce_soft_kernel


@functools.cache
def _neg_mean_kernel(nt: int):
    """One block of ``nt`` threads: out[0] = −(Σ_i v_i)/n, summed in float64, fixed order."""

    @cuda.jit
    def neg_mean(values, out):
        sm = cuda.shared.array(nt, np.float64)
        tid = cuda.threadIdx.x
        n = values.shape[0]
        acc = 0.0
        for i in range(tid, n, nt):
            acc += values[i]
        sm[tid] = acc
        cuda.syncthreads()
        stride = nt // 2
        while stride > 0:
            if tid < stride:
                sm[tid] += sm[tid + stride]
            cuda.syncthreads()
            stride //= 2
        if tid == 0:
            out[0] = -sm[0] / n

    return neg_mean


def _launch_rows(index: int, x, *args) -> None:
    tx, ty = row_layout(x.shape[1])
    kernel = _row_kernels(np.dtype(x.dtype), tx, ty)[index]
    grid = capped(-(-x.shape[0] // ty))
    launch(kernel, grid, (tx, ty), x, x, *args)


def logsumexp_rows(x, out):
    """m_i + log Σ_j exp(x_ij − m_i) per row (eq. 9): equals
    ``numdl.core.hotpaths.softmax.logsumexp_rows`` (all −inf row → −inf, +inf → +inf, NaN
    propagates).
    """
    if x.shape[0]:
        _launch_rows(0, x, out)
    return out


def log_softmax_rows(x, out):
    """x_ij − logsumexp(x_i) per row (eq. 10).

    Equals ``numdl.core.hotpaths.softmax.log_softmax_rows``.
    """
    if x.shape[0]:
        _launch_rows(1, x, out)
    return out


def cross_entropy(logits, target, dlogits):
    """Mean cross-entropy (eq. 18) and its gradient into ``dlogits`` (eq. 19): equals
    ``numdl.core.hotpaths.softmax.cross_entropy``.

    Returns the loss in the logits' dtype: a NumPy scalar for host arrays, a 0-d CuPy array
    for device arrays (no host synchronisation; ``float(loss)`` syncs when needed).
    """
    xp = xp_of(logits)
    n_rows = logits.shape[0]
    row_loss = xp.empty(n_rows, dtype=np.float64)
    want_grad = dlogits is not None
    # Without a gradient the kernel never writes dlogits; logits stands in for the argument.
    grad = dlogits if want_grad else logits
    index = 2 if target.ndim == 1 else 3
    _launch_rows(index, logits, target, want_grad, grad, row_loss)
    loss = xp.empty(1, dtype=logits.dtype)
    nt = block_size()
    launch(_neg_mean_kernel(nt), 1, nt, logits, row_loss, loss)
    if is_cupy(logits):
        return loss.reshape(())
    return logits.dtype.type(loss[0])
