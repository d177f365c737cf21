"""Optimiser steps (eqs. 20–24, AdamW, Adam, RMSProp, AdaGrad) as fused passes over flat buffers.

Each kernel reads the gradient once and updates the parameters and the optimiser state in
place, element by element, with the operations of the reference,
:mod:`numdl.core.hotpaths.optim`, in the same order.
Scalars arrive as Python floats (cheaper to dispatch than NumPy scalars) and are cast to the
arrays' dtype first thing in the kernel, exactly as NumPy casts a Python float combined with
a float32 array (NEP 50); scalar expressions the reference evaluates in Python
(``1 - lr*weight_decay``, ``1 - beta1**step``, ...) are evaluated in Python here too. So
float32 arithmetic stays float32 and the results equal the reference bitwise (no FMA
contraction: Numba does not enable fast-math). Weight decay covers indices
``< n_decayed``: each chunk is split at that index into two branch-free loops.

Buffers of at least :func:`numdl_kernels.cpu._threads.parallel_min_size` elements (default
2^24) run on all Numba threads (``prange`` over one contiguous, cache-line aligned chunk per
thread); smaller ones run serially: next to BLAS GEMMs a parallel pass costs more than it
saves below that size (the threading policy and its numbers: ``docs/kernels-cpu.md``).
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from numdl_kernels.cpu._threads import parallel_threads

__all__ = [
    "adagrad_update",
    "adam_update",
    "adamw_update",
    "momentum_update",
    "rmsprop_update",
]

_CHUNK_ALIGN = 16  # chunk boundaries on 64-byte cache lines (float32), so no false sharing


# ----------------------------------------------------------------------------- momentum
@njit(cache=True, nogil=True, error_model="numpy")
def _momentum_chunk(p, g, v, lr, mom, wd, nesterov, n_decayed):
    """g' = g + λθ (first ``n_decayed``); v ← βv + g'; θ ← θ − η·(βv + g' if nesterov else v).

    One compiled function, both loops in it: a helper called once with ``decay=True`` and
    once with ``False`` compiles twice (Numba specialises on literal booleans), which cost
    0.3 s of every cold start. Each loop runs over slices taken here, so it starts at 0:
    Numba then knows no index is negative, skips the wrap-around select, and LLVM vectorises
    (a loop from an unknown ``lo`` stays scalar). ``nesterov`` is loop-invariant: LLVM
    unswitches it.
    """
    t = p.dtype.type
    lr, mom, wd = t(lr), t(mom), t(wd)
    d = n_decayed
    pd, gd, vd = p[:d], g[:d], v[:d]
    for i in range(pd.size):
        gi = gd[i] + wd * pd[i]
        vi = vd[i] * mom + gi
        vd[i] = vi
        pd[i] = pd[i] - lr * ((mom * vi + gi) if nesterov else vi)
    pn, gn, vn = p[d:], g[d:], v[d:]
    for i in range(pn.size):
        gi = gn[i]
        vi = vn[i] * mom + gi
        vn[i] = vi
        pn[i] = pn[i] - lr * ((mom * vi + gi) if nesterov else vi)


@njit(cache=True, nogil=True, error_model="numpy", parallel=True)
def _momentum_parallel(p, g, v, lr, mom, wd, nesterov, n_decayed, n_chunks):
    n = p.size
    for c in prange(n_chunks):
        lo = (c * n // n_chunks) // _CHUNK_ALIGN * _CHUNK_ALIGN
        hi = n if c == n_chunks - 1 else ((c + 1) * n // n_chunks) // _CHUNK_ALIGN * _CHUNK_ALIGN
        split = min(max(n_decayed, lo), hi)
        _momentum_chunk(p[lo:hi], g[lo:hi], v[lo:hi], lr, mom, wd, nesterov, split - lo)


def momentum_update(
    param: np.ndarray,
    grad: np.ndarray,
    velocity: np.ndarray,
    lr: float,
    momentum: float,
    weight_decay: float,
    nesterov: bool,
    n_decayed: int,
) -> None:
    """SGD with momentum (eqs. 22–24) and L2 weight decay (eq. 21) on the first ``n_decayed``."""
    # Python floats/ints/bools (as numdl.core.ops passes them): one compiled specialisation
    # per dtype.
    args = (
        param,
        grad,
        velocity,
        float(lr),
        float(momentum),
        float(weight_decay),
        bool(nesterov),
        int(n_decayed),
    )
    n_threads = parallel_threads(param.size)
    if n_threads > 1:
        _momentum_parallel(*args, n_threads)
    else:
        _momentum_chunk(*args)


# -------------------------------------------------------------------------------- AdamW
@njit(cache=True, nogil=True, error_model="numpy")
def _adamw_chunk(p, g, m, v, lr, b1, c1, b2, c2, bc1, bc2, eps, keep, n_decayed):
    """θ ← θ·keep (first ``n_decayed``); m ← β₁m + c₁g; v ← β₂v + (c₂g)g;
    θ ← θ − η(m/bc₁)/(√(v/bc₂) + ε). One function for both loops, as :func:`_momentum_chunk`."""
    t = p.dtype.type
    lr, b1, c1, b2, c2 = t(lr), t(b1), t(c1), t(b2), t(c2)
    bc1, bc2, eps, keep = t(bc1), t(bc2), t(eps), t(keep)
    d = n_decayed
    pd, gd, md, vd = p[:d], g[:d], m[:d], v[:d]
    for i in range(pd.size):
        gi = gd[i]
        pi = pd[i] * keep
        mi = md[i] * b1 + c1 * gi
        vi = vd[i] * b2 + c2 * gi * gi
        md[i] = mi
        vd[i] = vi
        pd[i] = pi - lr * (mi / bc1) / (np.sqrt(vi / bc2) + eps)
    pn, gn, mn, vn = p[d:], g[d:], m[d:], v[d:]
    for i in range(pn.size):
        gi = gn[i]
        mi = mn[i] * b1 + c1 * gi
        vi = vn[i] * b2 + c2 * gi * gi
        mn[i] = mi
        vn[i] = vi
        pn[i] = pn[i] - lr * (mi / bc1) / (np.sqrt(vi / bc2) + eps)


@njit(cache=True, nogil=True, error_model="numpy", parallel=True)
def _adamw_parallel(p, g, m, v, lr, b1, c1, b2, c2, bc1, bc2, eps, keep, n_decayed, n_chunks):
    n = p.size
    for c in prange(n_chunks):
        lo = (c * n // n_chunks) // _CHUNK_ALIGN * _CHUNK_ALIGN
        hi = n if c == n_chunks - 1 else ((c + 1) * n // n_chunks) // _CHUNK_ALIGN * _CHUNK_ALIGN
        split = min(max(n_decayed, lo), hi)
        a, b = slice(lo, hi), split - lo
        _adamw_chunk(p[a], g[a], m[a], v[a], lr, b1, c1, b2, c2, bc1, bc2, eps, keep, b)


def adamw_update(
    param: np.ndarray,
    grad: np.ndarray,
    m: np.ndarray,
    v: np.ndarray,
    lr: float,
    beta1: float,
    beta2: float,
    eps: float,
    weight_decay: float,
    step: int,
    n_decayed: int,
) -> None:
    """AdamW step t = ``step`` with decoupled decay of the first ``n_decayed`` entries."""
    args = (
        param,
        grad,
        m,
        v,
        float(lr),
        float(beta1),
        float(1 - beta1),
        float(beta2),
        float(1 - beta2),
        float(1 - beta1**step),
        float(1 - beta2**step),
        float(eps),
        float(1 - lr * weight_decay),
        int(n_decayed),
    )
    n_threads = parallel_threads(param.size)
    if n_threads > 1:
        _adamw_parallel(*args, n_threads)
    else:
        _adamw_chunk(*args)


# --------------------------------------------------------------------------------- Adam
@njit(cache=True, nogil=True, error_model="numpy")
def _adam_chunk(p, g, m, v, lr, wd, b1, c1, b2, c2, bc1, bc2, eps, n_decayed):
    """g' = g + λθ (first ``n_decayed``); m ← β₁m + c₁g'; v ← β₂v + (c₂g')g';
    θ ← θ − η(m/bc₁)/(√(v/bc₂) + ε). Both loops in one function, as :func:`_momentum_chunk`."""
    t = p.dtype.type
    lr, wd, b1, c1, b2, c2 = t(lr), t(wd), t(b1), t(c1), t(b2), t(c2)
    bc1, bc2, eps = t(bc1), t(bc2), t(eps)
    d = n_decayed
    pd, gd, md, vd = p[:d], g[:d], m[:d], v[:d]
    for i in range(pd.size):
        gi = gd[i] + wd * pd[i]
        mi = md[i] * b1 + c1 * gi
        vi = vd[i] * b2 + c2 * gi * gi
        md[i] = mi
        vd[i] = vi
        pd[i] = pd[i] - lr * (mi / bc1) / (np.sqrt(vi / bc2) + eps)
    pn, gn, mn, vn = p[d:], g[d:], m[d:], v[d:]
    for i in range(pn.size):
        gi = gn[i]
        mi = mn[i] * b1 + c1 * gi
        vi = vn[i] * b2 + c2 * gi * gi
        mn[i] = mi
        vn[i] = vi
        pn[i] = pn[i] - lr * (mi / bc1) / (np.sqrt(vi / bc2) + eps)


@njit(cache=True, nogil=True, error_model="numpy", parallel=True)
def _adam_parallel(p, g, m, v, lr, wd, b1, c1, b2, c2, bc1, bc2, eps, n_decayed, n_chunks):
    n = p.size
    for c in prange(n_chunks):
        lo = (c * n // n_chunks) // _CHUNK_ALIGN * _CHUNK_ALIGN
        hi = n if c == n_chunks - 1 else ((c + 1) * n // n_chunks) // _CHUNK_ALIGN * _CHUNK_ALIGN
        split = min(max(n_decayed, lo), hi)
        a, k = slice(lo, hi), split - lo
        _adam_chunk(p[a], g[a], m[a], v[a], lr, wd, b1, c1, b2, c2, bc1, bc2, eps, k)


def adam_update(
    param: np.ndarray,
    grad: np.ndarray,
    m: np.ndarray,
    v: np.ndarray,
    lr: float,
    beta1: float,
    beta2: float,
    eps: float,
    weight_decay: float,
    step: int,
    n_decayed: int,
) -> None:
    """Adam step t = ``step`` (Alg. 8.7) with coupled L2 decay of the first ``n_decayed``."""
    args = (
        param,
        grad,
        m,
        v,
        float(lr),
        float(weight_decay),
        float(beta1),
        float(1 - beta1),
        float(beta2),
        float(1 - beta2),
        float(1 - beta1**step),
        float(1 - beta2**step),
        float(eps),
        int(n_decayed),
    )
    n_threads = parallel_threads(param.size)
    if n_threads > 1:
        _adam_parallel(*args, n_threads)
    else:
        _adam_chunk(*args)


# ------------------------------------------------------------------------------ RMSProp
@njit(cache=True, nogil=True, error_model="numpy")
def _rmsprop_chunk(p, g, r, b, lr, alpha, c, eps, wd, mom, use_momentum, n_decayed):
    """g' = g + λθ (first ``n_decayed``); r ← αr + (cg')g'; Δ = g'/(√r + ε); b ← μb + Δ (if
    momentum); θ ← θ − η(b or Δ). ``b`` is sliced like the others: an empty buffer
    (``use_momentum`` False) stays empty. Both loops in one function, as
    :func:`_momentum_chunk`."""
    t = p.dtype.type
    lr, alpha, c, eps, wd, mom = t(lr), t(alpha), t(c), t(eps), t(wd), t(mom)
    d = n_decayed
    pd, gd, rd, bd = p[:d], g[:d], r[:d], b[:d]
    for i in range(pd.size):
        gi = gd[i] + wd * pd[i]
        ri = rd[i] * alpha + c * gi * gi
        rd[i] = ri
        delta = gi / (np.sqrt(ri) + eps)
        if use_momentum:
            delta = bd[i] * mom + delta
            bd[i] = delta
        pd[i] = pd[i] - lr * delta
    pn, gn, rn, bn = p[d:], g[d:], r[d:], b[d:]
    for i in range(pn.size):
        gi = gn[i]
        ri = rn[i] * alpha + c * gi * gi
        rn[i] = ri
        delta = gi / (np.sqrt(ri) + eps)
        if use_momentum:
            delta = bn[i] * mom + delta
            bn[i] = delta
        pn[i] = pn[i] - lr * delta


@njit(cache=True, nogil=True, error_model="numpy", parallel=True)
def _rmsprop_parallel(p, g, r, b, lr, alpha, c, eps, wd, mom, use, n_decayed, n_chunks):
    n = p.size
    for k in prange(n_chunks):
        lo = (k * n // n_chunks) // _CHUNK_ALIGN * _CHUNK_ALIGN
        hi = n if k == n_chunks - 1 else ((k + 1) * n // n_chunks) // _CHUNK_ALIGN * _CHUNK_ALIGN
        split = min(max(n_decayed, lo), hi)
        x = slice(lo, hi)
        _rmsprop_chunk(p[x], g[x], r[x], b[x], lr, alpha, c, eps, wd, mom, use, split - lo)


def rmsprop_update(
    param: np.ndarray,
    grad: np.ndarray,
    square_avg: np.ndarray,
    momentum_buffer: np.ndarray,
    lr: float,
    alpha: float,
    eps: float,
    weight_decay: float,
    momentum: float,
    n_decayed: int,
) -> None:
    """RMSProp (Alg. 8.5, torch's variant) with optional momentum and L2 decay of the first
    ``n_decayed``; ``momentum_buffer`` is untouched (and may be empty) when ``momentum=0``."""
    args = (
        param,
        grad,
        square_avg,
        momentum_buffer,
        float(lr),
        float(alpha),
        float(1 - alpha),
        float(eps),
        float(weight_decay),
        float(momentum),
        bool(momentum > 0),  # decided in Python, as the reference does
        int(n_decayed),
    )
    n_threads = parallel_threads(param.size)
    if n_threads > 1:
        _rmsprop_parallel(*args, n_threads)
    else:
        _rmsprop_chunk(*args)


# ------------------------------------------------------------------------------ AdaGrad
@njit(cache=True, nogil=True, error_model="numpy")
def _adagrad_chunk(p, g, r, lr, eps, wd, n_decayed):
    """g' = g + λθ (first ``n_decayed``); r ← r + g'g'; θ ← θ − ηg'/(√r + ε). Both loops in
    one function, as :func:`_momentum_chunk`."""
    t = p.dtype.type
    lr, eps, wd = t(lr), t(eps), t(wd)
    d = n_decayed
    pd, gd, rd = p[:d], g[:d], r[:d]
    for i in range(pd.size):
        gi = gd[i] + wd * pd[i]
        ri = rd[i] + gi * gi
        rd[i] = ri
        pd[i] = pd[i] - lr * gi / (np.sqrt(ri) + eps)
    pn, gn, rn = p[d:], g[d:], r[d:]
    for i in range(pn.size):
        gi = gn[i]
        ri = rn[i] + gi * gi
        rn[i] = ri
        pn[i] = pn[i] - lr * gi / (np.sqrt(ri) + eps)


@njit(cache=True, nogil=True, error_model="numpy", parallel=True)
def _adagrad_parallel(p, g, r, lr, eps, wd, n_decayed, n_chunks):
    n = p.size
    for c in prange(n_chunks):
        lo = (c * n // n_chunks) // _CHUNK_ALIGN * _CHUNK_ALIGN
        hi = n if c == n_chunks - 1 else ((c + 1) * n // n_chunks) // _CHUNK_ALIGN * _CHUNK_ALIGN
        split = min(max(n_decayed, lo), hi)
        _adagrad_chunk(p[lo:hi], g[lo:hi], r[lo:hi], lr, eps, wd, split - lo)


def adagrad_update(
    param: np.ndarray,
    grad: np.ndarray,
    sum_sq: np.ndarray,
    lr: float,
    eps: float,
    weight_decay: float,
    n_decayed: int,
) -> None:
    """AdaGrad (Alg. 8.4, torch's variant) with L2 decay of the first ``n_decayed``."""
    args = (param, grad, sum_sq, float(lr), float(eps), float(weight_decay), int(n_decayed))
    n_threads = parallel_threads(param.size)
    if n_threads > 1:
        _adagrad_parallel(*args, n_threads)
    else:
        _adagrad_chunk(*args)
