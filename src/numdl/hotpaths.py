"""The hot paths, written once in plain NumPy: the specification every backend must equal.

These are the functions a training step spends its time in. Layers, losses and optimisers
reach them through :mod:`numdl.ops`, which validates the arguments and dispatches to the
selected backend; this module *is* the ``"numpy"`` backend, and the compiled backends
(``numdl_kernels.cpu``, ``numdl_kernels.cuda``) implement the same functions with the same
arguments. The equivalence suite (``tests/equivalence``) proves each kernel equal to the
function of the same name here.

Contract shared by every backend (the caller, :mod:`numdl.ops`, guarantees it):

* arrays are float32 or float64, all of one dtype; labels are integer;
* output buffers are preallocated by the caller, C-contiguous and written in full;
* optimiser arrays are 1-D and C-contiguous (flat parameter buffers) and updated in place;
* nothing else is mutated; an output buffer may alias an input only where documented.

Equation numbers refer to the textbook report (``shared/seeds/002_*.txt``).
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "adamw_update",
    "cross_entropy",
    "linear_backward",
    "linear_forward",
    "log_softmax_rows",
    "logsumexp_rows",
    "momentum_update",
]


# --------------------------------------------------------------------------- linear layers
def linear_forward(
    x: np.ndarray, w: np.ndarray, b: np.ndarray, relu: bool, out: np.ndarray
) -> np.ndarray:
    """Z = XW + b (eq. 13), then H = ReLU(Z) = max(0, Z) (eq. 17) when ``relu``.

    Shapes: x (B, D_in), w (D_in, D_out), b (D_out,), out (B, D_out). Returns ``out``.
    Backward needs only ``out``: the ReLU mask is ``out > 0``, which equals ``Z > 0``.
    """
    np.matmul(x, w, out=out)
    out += b
    if relu:
        np.maximum(out, 0, out=out)
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
    """dZ = dH ⊙ 1[H > 0]; dX = dZ Wᵀ (eq. 14); dW = Xᵀ dZ (eq. 15); db = Σ_i dZ_i (eq. 16).

    Shapes: grad_out, out, dz (B, D_out); x, dx (B, D_in); w, dw (D_in, D_out); db (D_out,).
    ``out`` is the forward output (used for the ReLU mask when ``relu``). ``dz`` receives the
    gradient before the activation and may be ``grad_out`` itself (masked in place);
    ``dx=None`` skips the input gradient (the first layer never needs it).
    """
    if relu:
        np.multiply(grad_out, out > 0, out=dz)
    elif dz is not grad_out:
        dz[...] = grad_out
    np.sum(dz, axis=0, out=db)
    np.matmul(x.T, dz, out=dw)
    if dx is not None:
        np.matmul(dz, w.T, out=dx)


# ----------------------------------------------------------------- log-sum-exp and softmax
def _shifted_rows(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """x − m, log Σ_j exp(x_ij − m) and m = max_j x_ij, per row (the pieces of eq. 9).

    An infinite max cannot be subtracted (inf − inf = NaN): such rows are shifted by 0
    instead, which gives exactly −inf for an all −inf row and +inf for a row holding +inf.
    """
    m = np.max(x, axis=1, keepdims=True)
    m[~np.isfinite(m)] = 0
    shifted = x - m
    with np.errstate(divide="ignore", over="ignore"):
        log_sum = np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))
    return shifted, log_sum, m


def logsumexp_rows(x: np.ndarray, out: np.ndarray) -> np.ndarray:
    """logsumexp(x)_i = m_i + log Σ_j exp(x_ij − m_i), m_i = max_j x_ij (eq. 9), per row.

    Shapes: x (B, C), out (B,). A row that is all −inf gives −inf (not NaN); a row holding
    +inf gives +inf; NaN propagates. Returns ``out``.
    """
    _, log_sum, m = _shifted_rows(x)
    np.add(m[:, 0], log_sum[:, 0], out=out)
    return out


def log_softmax_rows(x: np.ndarray, out: np.ndarray) -> np.ndarray:
    """log softmax(x)_ij = x_ij − logsumexp(x_i) (eq. 10), per row. Shapes: x, out (B, C).

    Computed as (x_ij − m_i) − log Σ_k exp(x_ik − m_i): subtracting the rounded logsumexp
    instead would carry its rounding error at the scale of max|x| (1e4 in float32: ~5e-4)
    into every entry.
    """
    shifted, log_sum, _ = _shifted_rows(x)
    with np.errstate(invalid="ignore"):
        np.subtract(shifted, log_sum, out=out)
    return out


def cross_entropy(
    logits: np.ndarray, target: np.ndarray, dlogits: np.ndarray | None
) -> np.floating:
    """Mean cross-entropy from logits (eq. 18) and, into ``dlogits``, its gradient (eq. 19).

    L = −(1/B) Σ_i Σ_j t_ij log softmax(ℓ_i)_j,   ∂L/∂ℓ_ij = (softmax(ℓ_i)_j Σ_k t_ik − t_ij)/B,

    where the targets t are one-hot rows for integer labels ``target`` of shape (B,) or the
    given soft targets of shape (B, C) (rows need not be normalised; for a probability
    vector the gradient is the textbook (softmax − t)/B). ``dlogits=None`` computes the loss
    only. Returns the loss as a scalar of the logits' dtype.
    """
    n_rows = logits.shape[0]
    log_p = log_softmax_rows(logits, np.empty_like(logits))
    if target.ndim == 1:
        picked = log_p[np.arange(n_rows), target]
        loss = -np.sum(picked, dtype=np.float64) / n_rows
        if dlogits is not None:
            np.exp(log_p, out=dlogits)
            dlogits[np.arange(n_rows), target] -= 1
            dlogits /= n_rows
    else:
        # 0 · log p = 0 even where p underflows to 0 (log p = −inf).
        terms = target * np.where(target == 0, 0, log_p)
        loss = -np.sum(terms, dtype=np.float64) / n_rows
        if dlogits is not None:
            mass = np.sum(target, axis=1, keepdims=True)
            np.exp(log_p, out=dlogits)
            dlogits *= mass
            dlogits -= target
            dlogits /= n_rows
    return logits.dtype.type(loss)


# ------------------------------------------------------------------------------ optimisers
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
