"""Linear layer (eqs. 13–17): BLAS GEMMs plus one fused Numba pass per direction.

Forward: ``out = x @ w`` (NumPy → OpenBLAS), then one pass adds the bias and applies the
ReLU in place. Backward: one pass writes ``dz = grad_out ⊙ 1[out > 0]`` and reduces
``db = Σ_rows dz`` from the values it just wrote, then the GEMMs ``dw = xᵀ dz`` and
``dx = dz wᵀ``. The GEMMs are the very ``np.matmul`` calls of the reference,
:mod:`numdl.core.hotpaths.linear`, so they match it bitwise; the fused passes round exactly
like the NumPy operations they replace (see the per-kernel comments). Numbers behind the
design: ``docs/kernels-cpu.md``.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["linear_backward", "linear_forward"]


@njit(cache=True, nogil=True, error_model="numpy")
def _bias_relu(out, b, relu):
    """out ← out + b (row broadcast), then max(out, 0) like ``np.maximum(out, 0)`` if relu.

    ``np.maximum`` propagates NaN and maps −0 to +0; ``z if not z <= 0 else 0`` does the same.
    Constants are made in the array's dtype, so every operation stays in that dtype.
    """
    zero = out.dtype.type(0)
    n, k = out.shape
    if relu:
        for i in range(n):
            for j in range(k):
                z = out[i, j] + b[j]
                out[i, j] = zero if z <= zero else z
    else:
        for i in range(n):
            for j in range(k):
                out[i, j] += b[j]


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _block_sum(a, lo, n):
    """A leaf of NumPy's pairwise sum: n < 8 in order, else 8 accumulators (n ≤ 128)."""
    if n < 8:
        res = a.dtype.type(0)
        for i in range(lo, lo + n):
            res += a[i]
        return res
    r0 = a[lo]
    r1 = a[lo + 1]
    r2 = a[lo + 2]
    r3 = a[lo + 3]
    r4 = a[lo + 4]
    r5 = a[lo + 5]
    r6 = a[lo + 6]
    r7 = a[lo + 7]
    end8 = lo + n - n % 8
    i = lo + 8
    while i < end8:
        r0 += a[i]
        r1 += a[i + 1]
        r2 += a[i + 2]
        r3 += a[i + 3]
        r4 += a[i + 4]
        r5 += a[i + 5]
        r6 += a[i + 6]
        r7 += a[i + 7]
        i += 8
    res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while i < lo + n:
        res += a[i]
        i += 1
    return res


@njit(cache=True, nogil=True, error_model="numpy")
def _pairwise_sum(a):
    """Σ a in NumPy's pairwise order: halves (multiples of 8) down to blocks of ≤ 128.

    NumPy recurses; this walks the same tree with explicit stacks (Numba cannot cache a
    self-recursive function).
    """
    frames = np.empty((192, 3), dtype=np.int64)  # (lo, n, children done?); depth ≤ 64
    values = np.empty(96, dtype=a.dtype)
    top = 0
    nval = 0
    frames[0, 0] = 0
    frames[0, 1] = a.size
    frames[0, 2] = 0
    top = 1
    while top > 0:
        top -= 1
        lo = frames[top, 0]
        n = frames[top, 1]
        if n <= 128:
            values[nval] = _block_sum(a, lo, n)
            nval += 1
        elif frames[top, 2] == 1:
            nval -= 1
            values[nval - 1] = values[nval - 1] + values[nval]
        else:
            n2 = n // 2
            n2 -= n2 % 8
            frames[top, 2] = 1
            frames[top + 1, 0] = lo + n2
            frames[top + 1, 1] = n - n2
            frames[top + 1, 2] = 0
            frames[top + 2, 0] = lo
            frames[top + 2, 1] = n2
            frames[top + 2, 2] = 0
            top += 3
    return values[0]


@njit(cache=True, nogil=True, error_model="numpy")
def _mask_colsum(grad_out, out, relu, dz, db):
    """dz ← grad_out · 1[out > 0] (or a copy), db ← Σ_i dz[i, :], in one read of grad_out.

    The mask multiplies like ``np.multiply(grad_out, out > 0)`` (g·0 keeps −0 and NaN). The
    column sums start at 0 and add the rows in order, in the array's dtype: the order NumPy's
    ``np.sum(dz, axis=0)`` uses for a C-contiguous array with more than one column. For one
    column NumPy sums along it pairwise; that case is redone in NumPy's order. Either way the
    order is fixed (bitwise repeatable). ``dz`` may be ``grad_out`` itself.
    """
    zero = dz.dtype.type(0)
    one = dz.dtype.type(1)
    n, k = dz.shape
    for j in range(k):
        db[j] = zero
    for i in range(n):
        for j in range(k):
            g = grad_out[i, j]
            if relu:
                g = g * (one if out[i, j] > zero else zero)
            dz[i, j] = g
            db[j] += g
    if k == 1 and n > 0:
        # A single column: NumPy's reduction runs along it, with its pairwise summation.
        db[0] = zero + _pairwise_sum(dz.ravel())


def linear_forward(
    x: np.ndarray, w: np.ndarray, b: np.ndarray, relu: bool, out: np.ndarray
) -> np.ndarray:
    """Z = XW + b (eq. 13), then H = max(0, Z) (eq. 17) when ``relu``; returns ``out``."""
    np.matmul(x, w, out=out)
    _bias_relu(out, b, relu)
    return out


def linear_backward(
    grad_out: np.ndarray,
    x: np.ndarray,
    w: np.ndarray,
    out: np.ndarray,
    relu: bool,
    dz: np.ndarray,
    dx: np.ndarray | None,
    dw: np.ndarray,
    db: np.ndarray,
) -> None:
    """dZ = dH ⊙ 1[H > 0]; dX = dZ Wᵀ (eq. 14); dW = Xᵀ dZ (eq. 15); db = Σ_i dZ_i (eq. 16)."""
    _mask_colsum(grad_out, out, relu, dz, db)
    np.matmul(x.T, dz, out=dw)
    if dx is not None:
        np.matmul(dz, w.T, out=dx)
