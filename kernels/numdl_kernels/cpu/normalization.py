"""Batch normalisation (+ ReLU), forward and backward, as fused single-threaded Numba passes.

Equals ``numdl.core.hotpaths.normalization``. Forward: one pass sums the columns of x (the
mean), one sums (x − μ)² (the biased variance, two-pass for accuracy), one writes
y = (x − μ)·γ/√(σ² + ε) + β with the ReLU applied in place. Backward: one pass reduces
dβ = Σ dy and dγ = Σ dy·x̂ (with the ReLU mask applied on the fly, x̂ recomputed from x),
one writes dx = (γ/σ)/B · (B·dy − dβ − x̂·dγ), which may overwrite dy. The column sums add
the rows in order, as ``np.sum(axis=0)`` does for a C-contiguous array with more than one
column, and every operation is the reference's, in its order and in the arrays' dtype: for
F > 1 features the results are bitwise equal to the reference. For F = 1 NumPy sums the
column pairwise, and the kernel agrees within the tolerance table. Single-threaded, like
the linear passes (``_threads.py``: BLAS owns the cores).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

__all__ = ["batchnorm_backward", "batchnorm_forward"]


@njit(cache=True, nogil=True, error_model="numpy")
def _column_stats(x, mean, var):
    """mean ← Σ_i x_i / B, var ← Σ_i (x_i − mean)² / B, per column."""
    n, f = x.shape
    zero = x.dtype.type(0)
    count = x.dtype.type(n)
    for j in range(f):
        mean[j] = zero
        var[j] = zero
    for i in range(n):
        for j in range(f):
            mean[j] += x[i, j]
    for j in range(f):
        mean[j] = mean[j] / count
    for i in range(n):
        for j in range(f):
            d = x[i, j] - mean[j]
            var[j] += d * d
    for j in range(f):
        var[j] = var[j] / count


@njit(cache=True, nogil=True, error_model="numpy")
def _normalise_relu(x, gamma, beta, eps, relu, out, mean, var):
    """out ← (x − mean)·γ/√(var + ε) + β, then max(out, 0) if relu (NaN propagates)."""
    n, f = x.shape
    zero = x.dtype.type(0)
    e = x.dtype.type(eps)
    scale = np.empty(f, dtype=x.dtype)
    for j in range(f):
        scale[j] = gamma[j] / math.sqrt(var[j] + e)
    for i in range(n):
        for j in range(f):
            y = (x[i, j] - mean[j]) * scale[j] + beta[j]
            out[i, j] = zero if relu and y <= zero else y


@njit(cache=True, nogil=True, error_model="numpy")
def _backward(grad_out, x, gamma, out, mean, var, eps, relu, dx, dgamma, dbeta):
    """dβ, dγ in one pass over dy and x; then dx in one more (dx may be grad_out)."""
    n, f = x.shape
    zero = x.dtype.type(0)
    one = x.dtype.type(1)
    count = x.dtype.type(n)
    e = x.dtype.type(eps)
    inv_std = np.empty(f, dtype=x.dtype)
    for j in range(f):
        inv_std[j] = one / math.sqrt(var[j] + e)
        dbeta[j] = zero
        dgamma[j] = zero
    for i in range(n):
        for j in range(f):
            g = grad_out[i, j]
            if relu:
                g = g * (one if out[i, j] > zero else zero)
            dbeta[j] += g
            dgamma[j] += g * ((x[i, j] - mean[j]) * inv_std[j])
    k = np.empty(f, dtype=x.dtype)
    for j in range(f):
        k[j] = gamma[j] * inv_std[j] / count
    for i in range(n):
        for j in range(f):
            g = grad_out[i, j]
            if relu:
                g = g * (one if out[i, j] > zero else zero)
            xhat = (x[i, j] - mean[j]) * inv_std[j]
            dx[i, j] = k[j] * (count * g - dbeta[j] - xhat * dgamma[j])


def batchnorm_forward(
    x: np.ndarray,
    gamma: np.ndarray,
    beta: np.ndarray,
    eps: float,
    relu: bool,
    out: np.ndarray,
    mean: np.ndarray,
    var: np.ndarray,
) -> np.ndarray:
    """Batch statistics, then y = γ x̂ + β and ReLU (Ioffe & Szegedy 2015, Alg. 1)."""
    _column_stats(x, mean, var)
    _normalise_relu(x, gamma, beta, eps, bool(relu), out, mean, var)
    return out


def batchnorm_backward(
    grad_out: np.ndarray,
    x: np.ndarray,
    gamma: np.ndarray,
    out: np.ndarray,
    mean: np.ndarray,
    var: np.ndarray,
    eps: float,
    relu: bool,
    dx: np.ndarray,
    dgamma: np.ndarray,
    dbeta: np.ndarray,
) -> None:
    """dβ = Σ dy, dγ = Σ dy·x̂, dx = (γ/σ)/B · (B·dy − dβ − x̂·dγ) (Ioffe & Szegedy 2015)."""
    _backward(grad_out, x, gamma, out, mean, var, eps, bool(relu), dx, dgamma, dbeta)
