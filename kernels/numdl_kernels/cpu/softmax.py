"""Fused log-sum-exp, log-softmax and cross-entropy kernels (Numba, CPU).

Each public function equals the function of the same name in ``numdl.core.hotpaths.softmax`` (same
positional arguments, same return value, same NaN/±inf pattern) and relies on
``numdl.core.ops`` for validation: float32/float64 C-contiguous arrays, integer labels in range,
preallocated C-contiguous outputs.

Algorithm, per group of rows while the group is in cache (c_i, s_i as in the reference):

1. c_i = max_j x_ij, or 0 where that max is ±inf or NaN. The max runs over integer order
   keys (:func:`~numdl_kernels.cpu.vexp.order_key`): an integer max reduction vectorises
   without fast-math flags, a float one does not.
2. e_ij = exp(x_ij − c_i) and s_i = Σ_j e_ij, summed with :func:`_radd`, an addition marked
   reassociable *by itself*, so the loop vectorises while the exp keeps strict IEEE order.
   log p_ij = (x_ij − c_i) − log s_i and logsumexp_i = c_i + log s_i, as in the reference.
3. Cross-entropy with a gradient stores e_ij into ``dlogits`` in step 2 and rescales it in
   place: softmax = e/s, so dlogits = (e/s·mass − t)/B costs one exp per element. Rows
   whose s is 0, inf or NaN (all −inf, a +inf, a NaN) instead repeat the reference's
   exp(log p), which gives its NaN/inf pattern. e/s and the reference's exp(log p) differ
   by the rounding of log p: ≤ |log p|·u relative, < 1e-5 wherever p is not negligible.
   The loss sums log p (labels) or t·log p over t ≠ 0 (soft targets) in float64.

Statistics are two sweeps (max, then sum of exps), kept because they measured faster than
one online sweep (running max, rescaling the sum when it grows). logsumexp, float32, serial:
256×1000 0.22 ms two-sweep vs 0.34 ms online in 512-element chunks (one exp per element plus
a rescale per chunk) vs 1.6 ms online per element (two exps, not vectorisable); 64×32000
1.6 vs 1.9 vs 8.4 ms; 2048×32000 62 vs 68 vs 298 ms. The max sweep costs ~0.1 ns per
element against ~0.6 ns for the exp sweep, and the row is in cache for the second sweep.

Rows shorter than ``_SHORT_ROW`` would leave the exp loops scalar (the vector loop wants
≥ 32 iterations), so such rows are handled in groups: x − c is written row by row, then
exponentiated in one flat vectorised loop over the group.

Compiled with ``fastmath={"contract"}`` only (FMA; never ``nnan``/``ninf``), cached, and in
two flavours: serial, and parallel over blocks of rows (``prange``, one block per thread).
The wrappers use the parallel one from the package's threading policy
(:func:`numdl_kernels.cpu._threads.parallel_threads`: 2^24 elements by default, set with
``NUMDL_NUMBA_PARALLEL_MIN_SIZE``). Measured for these kernels on 2 cores
(``tools/compare_softmax_kernels.py --sweep``; OpenMP threading layer):

* idle machine: parallel is 1.5–1.9× faster than serial from ~2.5e4 elements (256×100)
  up, 1.75× at 2048×32000; at 256×10 the gain is within noise (8.8 vs 10.6 µs);
* machine with another CPU-bound process: *every* parallel call waits ~16 ms (one
  scheduler period) for the descheduled worker thread — 256×1000 goes from 0.2 ms serial to
  16 ms, 2048×32000 from 66 to 73 ms.

So 2^24 suits these kernels too: the parallel kernel runs only where serial work is
≳ 15 ms and such a stall costs at most tens of percent. On a dedicated machine ≈ 3e4 is
the break-even.
"""

from __future__ import annotations

from types import FunctionType

import numba
import numpy as np
from numba import prange, types
from numba.extending import overload

from numdl_kernels.cpu import _cache, vexp
from numdl_kernels.cpu._threads import parallel_threads
from numdl_kernels.cpu.vexp import exp32, exp64, from_order_key, order_key

__all__ = ["cross_entropy", "log_softmax_rows", "logsumexp_rows"]

_FASTMATH = {"contract"}
_SHORT_ROW = 64  # shorter rows: exps in flat groups (2× faster at C = 10, even at C ≈ 64–128)
_GROUP = 2048  # elements per group of short rows (a few KiB: stays in L1)


# ------------------------------------------------------------------ dtype-generic helpers
def _exp(x):
    """exp32 or exp64, by the type of ``x`` (this body runs only with ``NUMBA_DISABLE_JIT=1``)."""
    return exp32(x) if x.dtype == np.float32 else exp64(x)


@overload(_exp, jit_options={"fastmath": _FASTMATH})
def _exp_impl(x):
    if x == types.float32:
        return lambda x: exp32(x)
    if x == types.float64:
        return lambda x: exp64(x)
    return None


def _like(value, ref):
    """``value`` in the float type of ``ref`` (this body runs only with ``NUMBA_DISABLE_JIT=1``)."""
    return ref.dtype.type(value)


@overload(_like, inline="always")
def _like_impl(value, ref):
    if ref == types.float32:
        return lambda value, ref: np.float32(value)
    if ref == types.float64:
        return lambda value, ref: np.float64(value)
    return None


@numba.njit(fastmath={"reassoc"}, cache=True)
def _radd(a, b):
    """a + b, marked reassociable: a loop summing with it vectorises (per-lane partial sums).

    A separate function on purpose: LLVM inlines it with its own fast-math flag, so only
    this addition may be reordered — not the exp arithmetic around it (Cody–Waite relies on
    evaluation order).
    """
    return a + b


_jit = numba.njit(fastmath=_FASTMATH, cache=True)
# Helpers marked ``_inline`` are inlined at the Numba IR level into their caller. A helper
# compiled on its own is typed, optimised and vectorised once alone and then once more inside
# each kernel LLVM links it into; inlining _exp_rows and the helpers under it cut the cold
# compile of the labels cross-entropy-with-gradient kernel (a training step's only softmax
# kernel) from 1.9 s to 1.4 s. _log_sum_rows, shared by four kernels, stays a compiled
# function: inlined into all of them it would make the whole family 40 % dearer to compile
# (numdl compile), against 8 % for this split.
_inline = numba.njit(fastmath=_FASTMATH, cache=True, inline="always")


# ------------------------------------------------------------------ row-group primitives
@_inline
def _group_rows(n_cols):
    """How many rows to process together: a group of short rows, or one long row."""
    return max(1, _GROUP // n_cols) if n_cols < _SHORT_ROW else 1


@_inline
def _shift(row):
    """The reference's shift: max_j x_j if finite, else 0 (NaN anywhere gives a NaN sum)."""
    key = order_key(row[0])
    for j in range(1, row.size):
        k = order_key(row[j])
        key = k if k > key else key
    m = from_order_key(key)
    return m if np.isfinite(m) else _like(0.0, m)


@_inline
def _sum(row):
    """Σ_j row_j in the row's dtype (vectorised through :func:`_radd`)."""
    total = _like(0.0, row[0])
    for j in range(row.size):
        total = _radd(total, row[j])
    return total


@_jit
def _log_sum_rows(x, r0, r1, shift, log_sum, scratch):
    """Rows r0 ≤ i < r1: shift[i] = c_i, log_sum[i] = log Σ_j exp(x_ij − c_i) (eq. 9).

    ``scratch`` holds ≥ (r1 − r0)·C elements when the rows are short (else unused).
    """
    n_cols = x.shape[1]
    if n_cols >= _SHORT_ROW:
        for i in range(r0, r1):
            row = x[i]
            c = _shift(row)
            s = _like(0.0, c)
            for j in range(n_cols):
                s = _radd(s, _exp(row[j] - c))
            shift[i] = c
            log_sum[i] = np.log(s)
        return
    # Short rows: arguments row by row, exps in one flat loop, sums row by row.
    for i in range(r0, r1):
        row = x[i]
        c = _shift(row)
        shift[i] = c
        base = (i - r0) * n_cols
        for j in range(n_cols):
            scratch[base + j] = row[j] - c
    for f in range((r1 - r0) * n_cols):
        scratch[f] = _exp(scratch[f])
    for i in range(r0, r1):
        base = (i - r0) * n_cols
        log_sum[i] = np.log(_sum(scratch[base : base + n_cols]))


@_inline
def _exp_rows(x, r0, r1, shift, sums, e, e_flat):
    """Rows r0 ≤ i < r1: e_ij = exp(x_ij − c_i) into ``e`` (B, C), sums[i] = Σ_j e_ij.

    ``e_flat`` is ``e`` viewed flat (a reshape compiled here would cost 0.36 s).
    """
    n_cols = x.shape[1]
    if n_cols >= _SHORT_ROW:
        for i in range(r0, r1):
            row = x[i]
            erow = e[i]
            c = _shift(row)
            s = _like(0.0, c)
            for j in range(n_cols):
                v = _exp(row[j] - c)
                erow[j] = v
                s = _radd(s, v)
            shift[i] = c
            sums[i] = s
        return
    for i in range(r0, r1):
        row = x[i]
        erow = e[i]
        c = _shift(row)
        shift[i] = c
        for j in range(n_cols):
            erow[j] = row[j] - c
    flat = e_flat[r0 * n_cols : r1 * n_cols]
    for f in range(flat.size):
        flat[f] = _exp(flat[f])
    for i in range(r0, r1):
        sums[i] = _sum(e[i])


@_inline
def _total(values):
    """Σ values in order, as Numba's ``ndarray.sum`` adds (one compiled helper fewer)."""
    total = 0.0
    for i in range(values.size):
        total += values[i]
    return total


@_inline
def _soft_terms(row, trow, c, log_sum):
    """Σ_j t_j·log p_j over t_j ≠ 0 (the reference's 0·log p = 0), summed in float64."""
    total = 0.0
    for j in range(row.size):
        t = trow[j]
        total = _radd(total, 0.0 if t == 0 else np.float64(t * ((row[j] - c) - log_sum)))
    return total


# ------------------------------------------------------------------------------- kernels
# Each kernel splits the rows into ``n_blocks`` contiguous blocks (prange: one per thread)
# and walks each block in groups of _group_rows(C) rows. log p_ij = (x_ij − c_i) − log s_i
# everywhere, as in the reference.
def _logsumexp_kernel(x, out, n_blocks):
    n_rows, n_cols = x.shape
    step = _group_rows(n_cols)
    shift = np.empty(n_rows, dtype=x.dtype)
    for blk in prange(n_blocks):
        scratch = np.empty(step * n_cols if n_cols < _SHORT_ROW else 0, dtype=x.dtype)
        lo, hi = blk * n_rows // n_blocks, (blk + 1) * n_rows // n_blocks
        for r0 in range(lo, hi, step):
            r1 = min(r0 + step, hi)
            _log_sum_rows(x, r0, r1, shift, out, scratch)
            for i in range(r0, r1):
                out[i] = shift[i] + out[i]


def _log_softmax_kernel(x, out, n_blocks):
    n_rows, n_cols = x.shape
    step = _group_rows(n_cols)
    shift = np.empty(n_rows, dtype=x.dtype)
    log_sum = np.empty(n_rows, dtype=x.dtype)
    for blk in prange(n_blocks):
        scratch = np.empty(step * n_cols if n_cols < _SHORT_ROW else 0, dtype=x.dtype)
        lo, hi = blk * n_rows // n_blocks, (blk + 1) * n_rows // n_blocks
        for r0 in range(lo, hi, step):
            r1 = min(r0 + step, hi)
            _log_sum_rows(x, r0, r1, shift, log_sum, scratch)
            for i in range(r0, r1):
                row = x[i]
                orow = out[i]
                c = shift[i]
                ls = log_sum[i]
                for j in range(n_cols):
                    orow[j] = (row[j] - c) - ls


def _ce_labels_kernel(x, target, n_blocks):
    """Σ_i log softmax(x_i)[t_i], in float64 (loss only)."""
    n_rows, n_cols = x.shape
    step = _group_rows(n_cols)
    shift = np.empty(n_rows, dtype=x.dtype)
    log_sum = np.empty(n_rows, dtype=x.dtype)
    picked = np.empty(n_rows, dtype=np.float64)
    for blk in prange(n_blocks):
        scratch = np.empty(step * n_cols if n_cols < _SHORT_ROW else 0, dtype=x.dtype)
        lo, hi = blk * n_rows // n_blocks, (blk + 1) * n_rows // n_blocks
        for r0 in range(lo, hi, step):
            r1 = min(r0 + step, hi)
            _log_sum_rows(x, r0, r1, shift, log_sum, scratch)
            for i in range(r0, r1):
                picked[i] = (x[i, target[i]] - shift[i]) - log_sum[i]
    return _total(picked)


def _ce_labels_grad_kernel(x, target, dlogits, dlogits_flat, n_blocks):
    """As :func:`_ce_labels_kernel`, writing dlogits = (softmax − onehot)/B.

    softmax = e/s from the stored e = exp(x − c) (one exp per element); rows whose sum is
    0, inf or NaN repeat the reference's exp(log p) instead, for its NaN/inf pattern.
    """
    n_rows, n_cols = x.shape
    step = _group_rows(n_cols)
    shift = np.empty(n_rows, dtype=x.dtype)
    sums = np.empty(n_rows, dtype=x.dtype)
    picked = np.empty(n_rows, dtype=np.float64)
    one = _like(1.0, x[0, 0])
    n_b = _like(n_rows, one)
    for blk in prange(n_blocks):
        lo, hi = blk * n_rows // n_blocks, (blk + 1) * n_rows // n_blocks
        for r0 in range(lo, hi, step):
            r1 = min(r0 + step, hi)
            _exp_rows(x, r0, r1, shift, sums, dlogits, dlogits_flat)
            for i in range(r0, r1):
                row = x[i]
                drow = dlogits[i]
                k = target[i]
                c = shift[i]
                s = sums[i]
                log_sum = np.log(s)
                log_p = (row[k] - c) - log_sum
                picked[i] = log_p
                if s > 0 and s < np.inf:
                    p_k = drow[k] / s
                    scale = _like(1.0 / (np.float64(s) * n_rows), one)
                    for j in range(n_cols):
                        drow[j] = drow[j] * scale
                    drow[k] = (p_k - one) / n_b
                else:
                    for j in range(n_cols):
                        drow[j] = _exp((row[j] - c) - log_sum) / n_b
                    drow[k] = (_exp(log_p) - one) / n_b
    return _total(picked)


def _ce_soft_kernel(x, target, n_blocks):
    """Σ_ij t_ij log softmax(x_i)_j over t_ij ≠ 0, in float64 (loss only)."""
    n_rows, n_cols = x.shape
    step = _group_rows(n_cols)
    shift = np.empty(n_rows, dtype=x.dtype)
    log_sum = np.empty(n_rows, dtype=x.dtype)
    terms = np.empty(n_rows, dtype=np.float64)
    for blk in prange(n_blocks):
        scratch = np.empty(step * n_cols if n_cols < _SHORT_ROW else 0, dtype=x.dtype)
        lo, hi = blk * n_rows // n_blocks, (blk + 1) * n_rows // n_blocks
        for r0 in range(lo, hi, step):
            r1 = min(r0 + step, hi)
            _log_sum_rows(x, r0, r1, shift, log_sum, scratch)
            for i in range(r0, r1):
                terms[i] = _soft_terms(x[i], target[i], shift[i], log_sum[i])
    return _total(terms)


def _ce_soft_grad_kernel(x, target, dlogits, dlogits_flat, n_blocks):
    """As :func:`_ce_soft_kernel`, writing dlogits = (softmax·Σ_k t_k − t)/B."""
    n_rows, n_cols = x.shape
    step = _group_rows(n_cols)
    shift = np.empty(n_rows, dtype=x.dtype)
    sums = np.empty(n_rows, dtype=x.dtype)
    terms = np.empty(n_rows, dtype=np.float64)
    one = _like(1.0, x[0, 0])
    n_b = _like(n_rows, one)
    inv_b = one / n_b
    for blk in prange(n_blocks):
        lo, hi = blk * n_rows // n_blocks, (blk + 1) * n_rows // n_blocks
        for r0 in range(lo, hi, step):
            r1 = min(r0 + step, hi)
            _exp_rows(x, r0, r1, shift, sums, dlogits, dlogits_flat)
            for i in range(r0, r1):
                row = x[i]
                trow = target[i]
                drow = dlogits[i]
                c = shift[i]
                s = sums[i]
                log_sum = np.log(s)
                terms[i] = _soft_terms(row, trow, c, log_sum)
                mass = _sum(trow)
                if s > 0 and s < np.inf:
                    inv_s = one / s
                    for j in range(n_cols):  # the reference's (p·mass − t)/B, p = e/s
                        drow[j] = (drow[j] * inv_s * mass - trow[j]) * inv_b
                else:
                    for j in range(n_cols):
                        p = _exp((row[j] - c) - log_sum)
                        drow[j] = (p * mass - trow[j]) / n_b
    return _total(terms)


def _compile(kernel):
    """(serial, parallel) dispatchers of ``kernel``.

    The parallel one compiles a renamed copy: Numba's on-disk cache is keyed by the
    function's qualified name and signature, not by its ``parallel`` flag, so two
    dispatchers of one function would load each other's cached code.
    """
    serial = numba.njit(fastmath=_FASTMATH, cache=True)(kernel)
    twin = FunctionType(kernel.__code__, kernel.__globals__, kernel.__name__ + "_parallel")
    twin.__qualname__ = kernel.__qualname__ + "_parallel"
    twin.__doc__ = kernel.__doc__
    parallel = numba.njit(fastmath=_FASTMATH, cache=True, parallel=True)(twin)
    return serial, parallel


_LOGSUMEXP = _compile(_logsumexp_kernel)
_LOG_SOFTMAX = _compile(_log_softmax_kernel)
_CE_LABELS = _compile(_ce_labels_kernel)
_CE_LABELS_GRAD = _compile(_ce_labels_grad_kernel)
_CE_SOFT = _compile(_ce_soft_kernel)
_CE_SOFT_GRAD = _compile(_ce_soft_grad_kernel)

# Every kernel here inlines vexp's exp and order keys: an edit there must recompile them.
_cache.depend_on(globals(), vexp)


def _pick(kernels, x):
    """(kernel, n_blocks): the parallel kernel for large inputs, else the serial one."""
    n_blocks = min(parallel_threads(x.size), x.shape[0])
    if n_blocks > 1:
        return kernels[1], n_blocks
    return kernels[0], 1


# --------------------------------------------------------------------------- public API
def logsumexp_rows(x: np.ndarray, out: np.ndarray) -> np.ndarray:
    """logsumexp(x)_i = m_i + log Σ_j exp(x_ij − m_i) per row (eq. 9), into ``out``.

    Equals ``numdl.core.hotpaths.softmax.logsumexp_rows``: x (B, C), out (B,); an all −inf row gives
    −inf, a row holding +inf gives +inf, NaN propagates. Returns ``out``.
    """
    kernel, n_blocks = _pick(_LOGSUMEXP, x)
    kernel(x, out, n_blocks)
    return out


def log_softmax_rows(x: np.ndarray, out: np.ndarray) -> np.ndarray:
    """log softmax(x)_ij = x_ij − logsumexp(x_i) per row (eq. 10), into ``out``.

    Equals ``numdl.core.hotpaths.softmax.log_softmax_rows``: x, out (B, C); an all −inf row
    gives NaN (−inf − (−inf)), as there. ``out`` may be ``x``. Returns ``out``.
    """
    kernel, n_blocks = _pick(_LOG_SOFTMAX, x)
    kernel(x, out, n_blocks)
    return out


def cross_entropy(
    logits: np.ndarray, target: np.ndarray, dlogits: np.ndarray | None
) -> np.floating:
    """Mean cross-entropy from logits (eq. 18) and, into ``dlogits``, its gradient (eq. 19).

    Equals ``numdl.core.hotpaths.softmax.cross_entropy``: ``target`` holds integer labels (B,)
    or soft targets (B, C) of the logits' dtype; ``dlogits=None`` computes the loss only. The loss
    is accumulated in float64 and returned as a scalar of the logits' dtype. One fused
    kernel: row statistics, loss and gradient per group of rows while it is in cache.
    """
    n_rows = logits.shape[0]
    if target.ndim == 1:
        # One label type keeps the compiled specialisations (and cold compile time) halved;
        # converting B labels costs well under a microsecond per hundred rows.
        target = target.astype(np.int64, copy=False)
        kernels = _CE_LABELS if dlogits is None else _CE_LABELS_GRAD
    else:
        kernels = _CE_SOFT if dlogits is None else _CE_SOFT_GRAD
    kernel, n_blocks = _pick(kernels, logits)
    if dlogits is None:
        total = kernel(logits, target, n_blocks)
    else:
        total = kernel(logits, target, dlogits, dlogits.reshape(-1), n_blocks)
    return logits.dtype.type(-total / n_rows)
