"""Batch normalisation (+ ReLU) on the GPU: a column kernel and an elementwise kernel each way.

Equals ``numdl.core.hotpaths.normalization``. Forward: one thread per feature column walks
the rows for the mean, then again for the biased variance (two-pass, as the reference);
then a 2-D grid-stride kernel writes y = (x − μ)·γ/√(σ² + ε) + β with the ReLU. Backward:
one thread per column reduces dβ = Σ dy and dγ = Σ dy·x̂ (ReLU mask on the fly), then a 2-D
kernel writes dx = (γ/σ)/B · (B·dy − dβ − x̂·dγ), which may overwrite dy. Reading a row,
the threads of a warp touch consecutive columns (coalesced); each column's sum runs over
the rows in order, accumulated in float64 (rounded once to the dtype), so it is
deterministic. A batch of B rows costs B sequential steps per
column, which is what the MLP's batches (256 rows) need; very tall batches would want a
chunked tree reduction like the linear layer's db.
"""

from __future__ import annotations

import math

import numpy as np
from numba import cuda

from numdl_kernels.cuda._launch import block_size, capped, grid_1d, launch, tile_layout


@cuda.jit
def _column_stats_kernel(x, mean, var):
    """mean_j = Σ_i x_ij / B, var_j = Σ_i (x_ij − mean_j)² / B, one thread per column."""
    n_rows, n_cols = x.shape
    for j in range(cuda.grid(1), n_cols, cuda.gridsize(1)):
        acc = 0.0
        for i in range(n_rows):
            acc += x[i, j]
        m = acc / n_rows
        mean[j] = m
        m = mean[j]  # rounded to the dtype, as the reference's mean buffer
        acc = 0.0
        for i in range(n_rows):
            d = x[i, j] - m
            acc += d * d
        var[j] = acc / n_rows


@cuda.jit
def _normalise_relu_kernel(x, gamma, beta, eps, relu, out, mean, var):
    """out_ij = (x_ij − mean_j)·γ_j/√(var_j + ε) + β_j, then max(·, 0) when ``relu``."""
    n_rows, n_cols = out.shape
    col0, row0 = cuda.grid(2)
    col_step, row_step = cuda.gridsize(2)
    for j in range(col0, n_cols, col_step):
        scale = gamma[j] / math.sqrt(var[j] + eps)
        for i in range(row0, n_rows, row_step):
            y = (x[i, j] - mean[j]) * scale + beta[j]
            # ``y < 0`` is False for NaN, so NaN propagates as in np.maximum.
            if relu and y < 0:
                out[i, j] = 0
            else:
                out[i, j] = y


@cuda.jit
def _column_grads_kernel(grad_out, x, out, mean, var, eps, relu, dgamma, dbeta):
    """dβ_j = Σ_i dy_ij, dγ_j = Σ_i dy_ij x̂_ij, one thread per column."""
    n_rows, n_cols = x.shape
    for j in range(cuda.grid(1), n_cols, cuda.gridsize(1)):
        inv_std = 1 / math.sqrt(var[j] + eps)
        sum_dy = 0.0
        sum_dy_xhat = 0.0
        for i in range(n_rows):
            g = grad_out[i, j]
            if relu and not out[i, j] > 0:
                g = g * 0  # as grad_out * False in the reference: NaN stays NaN
            sum_dy += g
            sum_dy_xhat += g * ((x[i, j] - mean[j]) * inv_std)
        dbeta[j] = sum_dy
        dgamma[j] = sum_dy_xhat


@cuda.jit
def _input_grad_kernel(grad_out, x, gamma, out, mean, var, eps, relu, dgamma, dbeta, dx):
    """dx_ij = (γ_j/σ_j)/B · (B·dy_ij − dβ_j − x̂_ij·dγ_j); dx may be grad_out."""
    n_rows, n_cols = x.shape
    col0, row0 = cuda.grid(2)
    col_step, row_step = cuda.gridsize(2)
    for j in range(col0, n_cols, col_step):
        inv_std = 1 / math.sqrt(var[j] + eps)
        k = gamma[j] * inv_std / n_rows
        for i in range(row0, n_rows, row_step):
            g = grad_out[i, j]
            if relu and not out[i, j] > 0:
                g = g * 0
            xhat = (x[i, j] - mean[j]) * inv_std
            dx[i, j] = k * (n_rows * g - dbeta[j] - xhat * dgamma[j])


def _grid_2d(n_rows: int, n_cols: int) -> tuple[tuple[int, int], tuple[int, int]]:
    tx, ty = tile_layout()
    return (capped(-(-n_cols // tx)), min(capped(-(-n_rows // ty)), 65535)), (tx, ty)


def batchnorm_forward(x, gamma, beta, eps, relu, out, mean, var):
    """Batch statistics, then y = γ x̂ + β and ReLU (Ioffe & Szegedy 2015, Alg. 1).

    Equals ``numdl.core.hotpaths.normalization.batchnorm_forward``.
    """
    n_rows, n_cols = x.shape
    eps = np.dtype(x.dtype).type(eps)  # computed in the arrays' dtype, as the reference
    launch(_column_stats_kernel, grid_1d(n_cols), block_size(), out, x, mean, var)
    grid, block = _grid_2d(n_rows, n_cols)
    launch(
        _normalise_relu_kernel, grid, block, out, x, gamma, beta, eps, bool(relu), out, mean, var
    )
    return out


def batchnorm_backward(grad_out, x, gamma, out, mean, var, eps, relu, dx, dgamma, dbeta):
    """dβ, dγ by a column kernel, dx by an elementwise one (Ioffe & Szegedy 2015): equals
    ``numdl.core.hotpaths.normalization.batchnorm_backward`` (``dx`` may be ``grad_out``).
    """
    n_rows, n_cols = x.shape
    eps = np.dtype(x.dtype).type(eps)
    relu = bool(relu)
    launch(
        _column_grads_kernel,
        grid_1d(n_cols),
        block_size(),
        dbeta,
        grad_out,
        x,
        out,
        mean,
        var,
        eps,
        relu,
        dgamma,
        dbeta,
    )
    grid, block = _grid_2d(n_rows, n_cols)
    # grad_out precedes dx: where they alias and are host arrays copied in and out by Numba
    # (the simulator), the written dx is copied back last.
    launch(
        _input_grad_kernel,
        grid,
        block,
        dx,
        grad_out,
        x,
        gamma,
        out,
        mean,
        var,
        eps,
        relu,
        dgamma,
        dbeta,
        dx,
    )
