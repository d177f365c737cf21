"""Reference for the softmax family: row-wise logsumexp, log-softmax and cross-entropy.

Kernels that must equal it: ``numdl_kernels.cpu.softmax``, ``numdl_kernels.cuda.softmax``.
"""

from __future__ import annotations

import numpy as np

__all__ = ["cross_entropy", "log_softmax_rows", "logsumexp_rows"]


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
