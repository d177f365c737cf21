"""Reference for the optimiser-update family: in-place updates of flat parameter buffers.

Kernels that must equal it: ``numdl_kernels.cpu.optim``, ``numdl_kernels.cuda.optim``.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "adagrad_update",
    "adam_update",
    "adamw_update",
    "momentum_update",
    "rmsprop_update",
]


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
    """Adam (textbook Alg. 8.7; Kingma & Ba) with coupled L2 decay, in place; t = ``step`` ≥ 1.

    g ← ∇ + λθ on the first ``n_decayed`` entries (the L2 gradient, eq. 21, as
    ``torch.optim.Adam``'s ``weight_decay``); m ← β₁m + (1−β₁)g;  v ← β₂v + (1−β₂)g²;
    m̂ = m/(1−β₁ᵗ);  v̂ = v/(1−β₂ᵗ);  θ ← θ − η m̂ / (√v̂ + ε).
    """
    g = grad.copy()
    g[:n_decayed] += weight_decay * param[:n_decayed]
    m *= beta1
    m += (1 - beta1) * g
    v *= beta2
    v += (1 - beta2) * g * g
    m_hat = m / (1 - beta1**step)
    v_hat = v / (1 - beta2**step)
    param -= lr * m_hat / (np.sqrt(v_hat) + eps)


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
    """RMSProp (textbook Alg. 8.5), as ``torch.optim.RMSprop`` (not centred), in place.

    g ← ∇ + λθ on the first ``n_decayed`` entries;  r ← αr + (1−α)g²;
    Δ = g / (√r + ε)  (ε outside the root, as torch; Alg. 8.5 writes √(δ + r));
    θ ← θ − ηΔ, or with momentum μ > 0 (heavy ball on the scaled step, as torch; Alg. 8.6
    uses Nesterov's): b ← μb + Δ, θ ← θ − ηb. With ``momentum=0``, ``momentum_buffer`` is
    neither read nor written (it may be empty).
    """
    g = grad.copy()
    g[:n_decayed] += weight_decay * param[:n_decayed]
    square_avg *= alpha
    square_avg += (1 - alpha) * g * g
    delta = g / (np.sqrt(square_avg) + eps)
    if momentum > 0:
        momentum_buffer *= momentum
        momentum_buffer += delta
        delta = momentum_buffer
    param -= lr * delta


def adagrad_update(
    param: np.ndarray,
    grad: np.ndarray,
    sum_sq: np.ndarray,
    lr: float,
    eps: float,
    weight_decay: float,
    n_decayed: int,
) -> None:
    """AdaGrad (textbook Alg. 8.4; Duchi et al.), as ``torch.optim.Adagrad``, in place.

    g ← ∇ + λθ on the first ``n_decayed`` entries;  r ← r + g²;  θ ← θ − η g / (√r + ε).
    """
    g = grad.copy()
    g[:n_decayed] += weight_decay * param[:n_decayed]
    sum_sq += g * g
    param -= lr * g / (np.sqrt(sum_sq) + eps)
