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


@njit(cache=True, nogil=True, error_model="numpy")
def _mask_colsum(grad_out, out, relu, dz, db):
    """dz ← grad_out · 1[out > 0] (or a copy), db ← Σ_i dz[i, :], in one read of grad_out.

    The mask multiplies like ``np.multiply(grad_out, out > 0)`` (g·0 keeps −0 and NaN). The
    column sums start at 0 and add the rows in order, in the array's dtype: the order NumPy's
    ``np.sum(dz, axis=0)`` uses for a C-contiguous array with more than one column (a single
    column NumPy sums pairwise along it: :func:`linear_backward` redoes that case with NumPy
    itself). ``dz`` may be ``grad_out`` itself.
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
    if dz.shape[1] == 1:
        # One column: NumPy reduces along it pairwise, so the reference's order is NumPy's
        # own (a compiled copy of that pairwise tree cost 0.8 s of every cold start).
        np.sum(dz, axis=0, out=db)
    np.matmul(x.T, dz, out=dw)
    if dx is not None:
        np.matmul(dz, w.T, out=dx)
