"""Reference for the optimiser-update family: in-place updates of flat parameter buffers.

Kernels that must equal it: ``numdl_kernels.cpu.optim``, ``numdl_kernels.cuda.optim``.
"""

from __future__ import annotations

import numpy as np

__all__ = ["adamw_update", "momentum_update"]


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
    """SGD with momentum (eqs. 22–24) and L2 weight decay (eq. 21), in place.

    g ← ∇ + λθ (only on the first ``n_decayed`` entries: the weights, eq. 20);
    v ← βv + g (eq. 23); θ ← θ − η v (eq. 24), or θ ← θ − η (βv + g) with Nesterov.
    All arrays are 1-D of one length; ``momentum=0`` is plain SGD (eq. 22).
    """
    g = grad.copy()
    g[:n_decayed] += weight_decay * param[:n_decayed]
    velocity *= momentum
    velocity += g
    step = momentum * velocity + g if nesterov else velocity
    param -= lr * step


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
    """AdamW (Loshchilov & Hutter), in place; ``step`` is t ≥ 1 after this update.

    θ ← θ(1 − ηλ) on the first ``n_decayed`` entries (decoupled decay, weights only);
    m ← β₁m + (1−β₁)g;  v ← β₂v + (1−β₂)g²;  m̂ = m/(1−β₁ᵗ);  v̂ = v/(1−β₂ᵗ);
    θ ← θ − η m̂ / (√v̂ + ε).
    """
    param[:n_decayed] *= 1 - lr * weight_decay
    m *= beta1
    m += (1 - beta1) * grad
    v *= beta2
    v += (1 - beta2) * grad * grad
    m_hat = m / (1 - beta1**step)
    v_hat = v / (1 - beta2**step)
    param -= lr * m_hat / (np.sqrt(v_hat) + eps)
