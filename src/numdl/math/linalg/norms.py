"""Chapter 2 — norms: L1, L2 and Frobenius (eqs. 2–4) and the spectral norm (section 3.1.3).

The L2 and Frobenius norms are evaluated with scaling, so large or tiny entries neither
overflow nor underflow when squared.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from numdl.core.validation import check_float_array
from numdl.math.linalg.shapes import check_finite, matrix

__all__ = ["norm_frobenius", "norm_l1", "norm_l2", "norm_spectral"]


# ------------------------------------------------------------------------- private helpers
def _scaled_l2(x: np.ndarray) -> np.floating:
    """√Σ x² computed as s·√Σ (x/s)², s = max|x|, so squares cannot overflow or underflow."""
    a = np.abs(x)
    if a.size == 0:
        return x.dtype.type(0)
    s = np.max(a)
    if s == 0 or not np.isfinite(s):  # all zeros → 0; inf → inf; NaN → NaN
        return s
    return s * np.sqrt(np.sum(np.square(a / s)))


# ------------------------------------------------------------------------------------ norms
def norm_l1(x: Any) -> np.floating:
    """L1 norm ‖x‖₁ = Σᵢ |xᵢ| (eq. 2).

    Parameters
    ----------
    x : array_like, shape (n,)

    Returns
    -------
    norm : scalar of x's dtype (0 for an empty vector)

    Raises
    ------
    TypeError
        If ``x`` is not a float (or integer) array.
    ValueError
        If ``x`` is not 1-D.
    """
    x = check_float_array(x, "x", ndim=1, convert=True)
    return x.dtype.type(np.sum(np.abs(x)))


def norm_l2(x: Any) -> np.floating:
    """L2 norm ‖x‖₂ = √Σᵢ xᵢ² (eq. 3).

    Evaluated as s·√Σᵢ (xᵢ/s)² with s = maxᵢ |xᵢ|, so large or tiny entries neither overflow
    nor underflow when squared.

    Parameters
    ----------
    x : array_like, shape (n,)

    Returns
    -------
    norm : scalar of x's dtype (0 for an empty vector)

    Raises
    ------
    TypeError
        If ``x`` is not a float (or integer) array.
    ValueError
        If ``x`` is not 1-D.
    """
    x = check_float_array(x, "x", ndim=1, convert=True)
    return _scaled_l2(x)


def norm_frobenius(A: Any) -> np.floating:
    """Frobenius norm ‖A‖_F = √Σᵢⱼ Aᵢⱼ² (eq. 4), scaled like :func:`norm_l2`.

    Parameters
    ----------
    A : array_like, shape (m, n)

    Returns
    -------
    norm : scalar of A's dtype

    Raises
    ------
    TypeError
        If ``A`` is not a float (or integer) array.
    ValueError
        If ``A`` is not 2-D.
    """
    return _scaled_l2(matrix(A, "A"))


def norm_spectral(A: Any) -> np.floating:
    """Spectral norm ‖A‖₂ = σ_max(A), the largest singular value (section 3.1.3).

    Parameters
    ----------
    A : array_like, shape (m, n)

    Returns
    -------
    norm : scalar of A's dtype (0 for an empty matrix)

    Raises
    ------
    TypeError
        If ``A`` is not a float (or integer) array.
    ValueError
        If ``A`` is not 2-D or holds NaN/inf.
    """
    A = matrix(A, "A")
    check_finite(A, "A")
    s = np.linalg.svd(A, compute_uv=False)
    return A.dtype.type(np.max(s, initial=0))
