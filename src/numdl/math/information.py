"""Chapter 3 — information theory on finite discrete distributions: entropy, cross-entropy, KL.

Shannon entropy H(p) (eq. 6), cross-entropy H(p, q) (eq. 7) and the Kullback–Leibler
divergence D_KL(p ‖ q) (eq. 8) of probability vectors, or of batches of them along ``axis``.
Every distribution is checked with :func:`numdl.math.probability.check_probs`. Equation
numbers refer to the textbook report (``shared/seeds/002_*.txt``, section 3.2).

Logarithms are natural unless ``base`` is given, and *safe*: a term with pᵢ = 0 contributes
exactly 0 (0·log 0 = 0, the limit), never NaN, and a term with qᵢ = 0 < pᵢ makes cross-entropy
and KL divergence exactly +inf. No floating-point warnings are emitted.

float32 and float64 are supported and results keep the input's dtype; integer inputs are
converted to float64 (or to the float dtype of the other operands).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from numdl.core.validation import check_positive
from numdl.math.linalg.shapes import float_arrays
from numdl.math.probability import check_probs, scalar

__all__ = ["cross_entropy_discrete", "entropy", "kl_divergence"]


# ------------------------------------------------------------------------- private helpers
def _safe_log(x: np.ndarray) -> np.ndarray:
    """log x where x > 0 and 0 elsewhere (callers mask those entries), without warnings."""
    positive = x > 0
    return np.log(np.where(positive, x, 1), where=positive, out=np.zeros_like(x))


def _log_scale(base: float | None) -> float:
    """1 / log(base), the factor converting natural logs to ``base`` (1 for natural logs)."""
    if base is None:
        return 1.0
    base = check_positive(base, "base")
    if base == 1:
        raise ValueError("base must be > 0 and != 1, got 1.0")
    return 1.0 / float(np.log(base))


# ------------------------------------------------------------- entropy, cross-entropy, KL
def entropy(p: Any, *, axis: int = -1, base: float | None = None) -> np.ndarray | np.floating:
    """Shannon entropy H(p) = −Σᵢ pᵢ log pᵢ (eq. 6), with 0·log 0 = 0.

    Parameters
    ----------
    p : array_like
        Probability vector(s); each slice along ``axis`` sums to 1.
    axis : int, default -1
        Axis of the outcomes (other axes are a batch of distributions).
    base : float, optional
        Logarithm base (2 for bits); natural log (nats) by default.

    Returns
    -------
    H : scalar for a single distribution, else ndarray; p's dtype, ≥ 0

    Raises
    ------
    TypeError
        If ``p`` is not a float (or integer) array, or ``base`` is not a real number.
    ValueError
        If ``p`` is not a pmf along ``axis`` (see
        :func:`~numdl.math.probability.check_probs`) or ``base`` is not positive and different
        from 1.
    """
    p = check_probs(p, axis=axis)
    scale = _log_scale(base)
    h = 0 - np.sum(p * _safe_log(p), axis=axis)  # 0 − (+0.0) is +0.0, unlike −(+0.0)
    return scalar(h * p.dtype.type(scale) if base is not None else h)


def _pair(p: Any, q: Any, axis: int) -> tuple[np.ndarray, np.ndarray]:
    p, q = float_arrays(("p", p), ("q", q))
    if p.shape != q.shape:
        raise ValueError(f"q must have the shape of p {p.shape}, got {q.shape}")
    return check_probs(p, axis=axis), check_probs(q, axis=axis, name="q")


def _finish(
    total: np.ndarray, infinite: np.ndarray, dtype: np.dtype, base: float | None
) -> np.ndarray | np.floating:
    scale = _log_scale(base)
    if base is not None:
        total = total * dtype.type(scale)
    return scalar(np.where(infinite, dtype.type(np.inf), total).astype(dtype, copy=False))


def cross_entropy_discrete(
    p: Any, q: Any, *, axis: int = -1, base: float | None = None
) -> np.ndarray | np.floating:
    """Cross-entropy H(p, q) = −Σᵢ pᵢ log qᵢ (eq. 7).

    Terms with pᵢ = 0 contribute 0 (whatever qᵢ); any qᵢ = 0 < pᵢ makes H(p, q) = +inf.

    Parameters
    ----------
    p : array_like
        Reference distribution(s); each slice along ``axis`` sums to 1.
    q : array_like, shape of ``p``, same float dtype
        Model distribution(s).
    axis : int, default -1
        Axis of the outcomes.
    base : float, optional
        Logarithm base; natural log by default.

    Returns
    -------
    H : scalar for a single distribution, else ndarray; p's dtype, ≥ 0 or +inf

    Raises
    ------
    TypeError
        If ``p`` or ``q`` is not a float array, the dtypes differ, or ``base`` is not real.
    ValueError
        If the shapes differ, ``p`` or ``q`` is not a pmf along ``axis``, or ``base`` is not
        positive and different from 1.
    """
    p, q = _pair(p, q, axis)
    support = p > 0
    total = 0 - np.sum(np.where(support, p * _safe_log(q), 0), axis=axis)
    infinite = np.any(support & (q == 0), axis=axis)
    return _finish(total, infinite, p.dtype, base)


def kl_divergence(
    p: Any, q: Any, *, axis: int = -1, base: float | None = None
) -> np.ndarray | np.floating:
    """Kullback–Leibler divergence D_KL(p ‖ q) = Σᵢ pᵢ log(pᵢ / qᵢ) (eq. 8).

    Terms with pᵢ = 0 contribute 0; any qᵢ = 0 < pᵢ makes D_KL = +inf. Each term is
    pᵢ (log pᵢ − log qᵢ), so D_KL(p ‖ p) = 0 exactly; since D_KL ≥ 0 (Gibbs' inequality), a
    sum that rounding leaves slightly negative is returned as 0.

    Parameters
    ----------
    p : array_like
        Distribution(s); each slice along ``axis`` sums to 1.
    q : array_like, shape of ``p``, same float dtype
        Reference distribution(s).
    axis : int, default -1
        Axis of the outcomes.
    base : float, optional
        Logarithm base; natural log by default.

    Returns
    -------
    D : scalar for a single distribution, else ndarray; p's dtype, ≥ 0 or +inf

    Raises
    ------
    TypeError
        If ``p`` or ``q`` is not a float array, the dtypes differ, or ``base`` is not real.
    ValueError
        If the shapes differ, ``p`` or ``q`` is not a pmf along ``axis``, or ``base`` is not
        positive and different from 1.
    """
    p, q = _pair(p, q, axis)
    support = p > 0
    terms = np.where(support, p * (_safe_log(p) - _safe_log(q)), 0)
    total = np.maximum(np.sum(terms, axis=axis), 0)
    infinite = np.any(support & (q == 0), axis=axis)
    return _finish(total, infinite, p.dtype, base)
