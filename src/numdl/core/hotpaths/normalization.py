"""Reference for the normalisation family: batch normalisation (+ ReLU) and its backward.

Ioffe & Szegedy 2015, "Batch Normalization", Algorithm 1 and section 3 (the backward pass in
its compact form). The layer (:class:`numdl.nn.BatchNorm`) places these after a linear
layer's GEMM: the forward is one pass over Z for the statistics and one for the output, the
backward one pass for the two column sums and one for dZ.

Kernels that must equal it: ``numdl_kernels.cpu.normalization``,
``numdl_kernels.cuda.normalization``.
"""

from __future__ import annotations

import numpy as np

__all__ = ["batchnorm_backward", "batchnorm_forward"]


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
    """μ = (1/B) Σ_i x_i, σ² = (1/B) Σ_i (x_i − μ)², y = γ (x − μ)/√(σ² + ε) + β (Ioffe &
    Szegedy 2015, Alg. 1), then y = max(0, y) when ``relu``.

    Shapes: x, out (B, F); gamma, beta, mean, var (F,). ``mean`` and ``var`` receive the
    batch statistics (``var`` biased, over B); backward needs them, ``x`` and ``out`` (whose
    sign is the ReLU mask). Returns ``out``.
    """
    np.mean(x, axis=0, out=mean)
    np.subtract(x, mean, out=out)
    np.mean(np.square(out), axis=0, out=var)
    out *= gamma / np.sqrt(var + eps)
    out += beta
    if relu:
        np.maximum(out, 0, out=out)
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
    """dy = dH ⊙ 1[H > 0]; dβ = Σ_i dy_i; dγ = Σ_i dy_i x̂_i;
    dx = (γ/σ)/B · (B·dy − dβ − x̂·dγ) with x̂ = (x − μ)/σ, σ = √(σ² + ε) (Ioffe & Szegedy 2015,
    sec. 3, in compact form).

    Shapes: grad_out, x, out, dx (B, F); gamma, mean, var, dgamma, dbeta (F,). ``mean`` and
    ``var`` are the batch statistics the forward wrote, ``out`` its output (the ReLU mask
    when ``relu``). ``dx`` may be ``grad_out`` itself (each entry is read before written).
    """
    n = x.shape[0]
    inv_std = 1 / np.sqrt(var + eps)
    dy = grad_out * (out > 0) if relu else grad_out
    xhat = (x - mean) * inv_std
    np.sum(dy, axis=0, out=dbeta)
    np.sum(dy * xhat, axis=0, out=dgamma)
    dx[...] = (gamma * inv_std / n) * (n * dy - dbeta - xhat * dgamma)
