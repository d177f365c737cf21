"""Chapter 2, sections 3.1.3–3.1.4 — SVD, conditioning, pseudoinverse, trace and determinants.

The thin SVD, the condition number κ₂, the Moore–Penrose pseudoinverse and the minimum-norm
least-squares solution (eq. 5); then the trace, determinant and log-determinant of square
matrices.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from numdl.core.validation import check_ndim, check_positive
from numdl.math.linalg.shapes import (
    check_finite,
    check_nonempty,
    float_arrays,
    matrix,
    square,
)

__all__ = [
    "condition_number",
    "det",
    "logdet",
    "lstsq_min_norm",
    "pinv",
    "svd_thin",
    "trace",
]


# ---------------------------------------------------------------- SVD, conditioning, pinv
def svd_thin(A: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Thin SVD A = U diag(S) Vᵀ, r = min(m, n) (section 3.1.3).

    Parameters
    ----------
    A : array_like, shape (m, n)

    Returns
    -------
    U : ndarray, shape (m, r)
        Orthonormal columns.
    S : ndarray, shape (r,)
        Singular values, non-negative and in descending order.
    Vt : ndarray, shape (r, n)
        Orthonormal rows.

    Raises
    ------
    TypeError
        If ``A`` is not a float (or integer) array.
    ValueError
        If ``A`` is not 2-D or holds NaN/inf.
    """
    A = matrix(A, "A")
    check_finite(A, "A")
    U, S, Vt = np.linalg.svd(A, full_matrices=False)
    return U, S, Vt


def condition_number(A: Any) -> np.floating:
    """Condition number κ₂(A) = σ_max / σ_min (section 3.1.3).

    σ_min is the smallest of the min(m, n) singular values. The result is ``inf`` when
    σ_min = 0 exactly (a singular matrix, including the zero matrix). A matrix that is
    singular only up to rounding gives a huge finite κ (around 1/eps or more).

    Parameters
    ----------
    A : array_like, shape (m, n), non-empty

    Returns
    -------
    kappa : scalar of A's dtype, ≥ 1 or inf

    Raises
    ------
    TypeError
        If ``A`` is not a float (or integer) array.
    ValueError
        If ``A`` is not 2-D, is empty, or holds NaN/inf.
    """
    A = matrix(A, "A")
    check_nonempty(A, "A")
    check_finite(A, "A")
    s = np.linalg.svd(A, compute_uv=False)
    s_max, s_min = s[0], s[-1]
    if s_min == 0:
        return A.dtype.type(np.inf)
    return A.dtype.type(s_max / s_min)


def _default_rcond(A: np.ndarray) -> float:
    return max(A.shape) * float(np.finfo(A.dtype).eps)


def pinv(A: Any, rcond: float | None = None) -> np.ndarray:
    """Moore–Penrose pseudoinverse A⁺ = V diag(σᵢ⁺) Uᵀ via the thin SVD (section 3.1.3).

    σᵢ⁺ = 1/σᵢ for σᵢ > rcond·σ_max and 0 otherwise, so singular values lost in rounding do
    not blow up into huge entries.

    Parameters
    ----------
    A : array_like, shape (m, n)
    rcond : float, optional
        Relative cutoff, ≥ 0. Default max(m, n)·eps(dtype).

    Returns
    -------
    A_pinv : ndarray, shape (n, m), A's dtype

    Raises
    ------
    TypeError
        If ``A`` is not a float (or integer) array, or ``rcond`` is not a real number.
    ValueError
        If ``A`` is not 2-D or holds NaN/inf, or ``rcond`` is negative or not finite.
    """
    A = matrix(A, "A")
    check_finite(A, "A")
    rcond = _default_rcond(A) if rcond is None else check_positive(rcond, "rcond", allow_zero=True)
    U, sigma, Vt = np.linalg.svd(A, full_matrices=False)
    keep = sigma > rcond * np.max(sigma, initial=0)
    sigma_plus = np.zeros_like(sigma)
    sigma_plus[keep] = 1 / sigma[keep]
    return (Vt.T * sigma_plus) @ U.T


def lstsq_min_norm(A: Any, b: Any, rcond: float | None = None) -> np.ndarray:
    """Minimum-norm least-squares solution x* = A⁺b (eq. 5).

    Among all minimisers of ‖Ax − b‖₂, x* is the one of smallest ‖x‖₂.

    Parameters
    ----------
    A : array_like, shape (m, n)
    b : array_like, shape (m,) or (m, k), same float dtype as ``A``
        One right-hand side, or k of them as columns.
    rcond : float, optional
        Singular value cutoff passed to :func:`pinv`.

    Returns
    -------
    x : ndarray, shape (n,) or (n, k)

    Raises
    ------
    TypeError
        If an operand is not a float array, or the dtypes differ.
    ValueError
        If ``A`` is not 2-D, ``b`` is not 1-D/2-D with m rows, or the inputs hold NaN/inf.
    """
    A, b = float_arrays(("A", A), ("b", b))
    check_ndim(A, "A", 2)
    check_ndim(b, "b", (1, 2))
    if b.shape[0] != A.shape[0]:
        raise ValueError(
            f"b must have {A.shape[0]} rows to match the rows of A {A.shape}, got {b.shape}"
        )
    check_finite(b, "b")
    return pinv(A, rcond) @ b


# ---------------------------------------------------------------- trace and determinants
def trace(A: Any) -> np.floating:
    """Trace tr(A) = Σᵢ Aᵢᵢ of a square matrix (section 3.1.4).

    Parameters
    ----------
    A : array_like, shape (n, n)

    Returns
    -------
    trace : scalar of A's dtype

    Raises
    ------
    TypeError
        If ``A`` is not a float (or integer) array.
    ValueError
        If ``A`` is not a square matrix.
    """
    A = square(A, "A")
    return A.dtype.type(np.trace(A))


def det(A: Any) -> np.floating:
    """Determinant det(A) of a square matrix, via LU factorisation (section 3.1.4).

    Parameters
    ----------
    A : array_like, shape (n, n)

    Returns
    -------
    det : scalar of A's dtype (1 for a 0×0 matrix)
        Overflows to ±inf or underflows to 0 silently for large matrices; use
        :func:`logdet` there.

    Raises
    ------
    TypeError
        If ``A`` is not a float (or integer) array.
    ValueError
        If ``A`` is not a square matrix or holds NaN/inf.
    """
    A = square(A, "A")
    check_finite(A, "A")
    with np.errstate(over="ignore", under="ignore"):
        return A.dtype.type(np.linalg.det(A))


def logdet(A: Any) -> np.floating:
    """Log-determinant log det(A) for det(A) > 0, via slogdet (section 3.1.4).

    Computed as log|det A| from the LU factorisation, so it neither overflows nor underflows
    where det(A) itself would.

    Parameters
    ----------
    A : array_like, shape (n, n)

    Returns
    -------
    logdet : scalar of A's dtype

    Raises
    ------
    TypeError
        If ``A`` is not a float (or integer) array.
    ValueError
        If ``A`` is not a square matrix, holds NaN/inf, is singular (det = 0, log det = −inf)
        or has a negative determinant (log det is not real).
    """
    A = square(A, "A")
    check_finite(A, "A")
    sign, logabs = np.linalg.slogdet(A)
    if sign == 0:
        raise ValueError("A is singular (det(A) = 0), so log det(A) = -inf is not defined")
    if sign < 0:
        raise ValueError(
            f"A must have a positive determinant for logdet, got det(A) < 0 "
            f"(log|det(A)| = {float(logabs):.6g}); use numpy.linalg.slogdet for the sign"
        )
    return A.dtype.type(logabs)
