"""Chapter 3 — probability on finite discrete distributions: pmfs, marginals, moments.

Probability vectors and joint tables are plain arrays: a distribution over n outcomes is a
vector of shape (n,) (or a batch of them along ``axis``), a joint distribution of two discrete
variables is a table of shape (n_x, n_y). :func:`check_probs` guards every function that takes
probabilities, here and in :mod:`numdl.math.information`. This module covers pmf checks,
pmfs from counts, marginals and conditionals, expectation, variance and covariance, and the
unbiased sample statistics. Equation numbers refer to the textbook report
(``shared/seeds/002_*.txt``, section 3.2); entropy, cross-entropy and KL divergence (eqs. 6–8)
live in :mod:`numdl.math.information`.

float32 and float64 are supported and results keep the input's dtype; integer inputs are
converted to float64 (or to the float dtype of the other operands).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from numdl.core.validation import check_float_array, check_ndim, check_positive, normalize_axis
from numdl.math.linalg.shapes import float_arrays

__all__ = [
    "check_probs",
    "conditional",
    "covariance_from_joint",
    "expectation",
    "marginal",
    "pmf_from_counts",
    "sample_covariance",
    "sample_mean",
    "sample_variance",
    "variance",
]


# ----------------------------------------------------- helper shared with numdl.math.information
def scalar(x: np.ndarray | np.generic) -> Any:
    """A 0-d result as a NumPy scalar; arrays pass through."""
    return x[()] if isinstance(x, np.ndarray) and x.ndim == 0 else x


# ------------------------------------------------------------------------- private helpers
def _check_table(joint: np.ndarray) -> None:
    if joint.ndim < 2:
        raise ValueError(
            f"joint must be at least 2-D (one axis per variable), got shape {joint.shape}"
        )


def _optional_axis(axis: int | None, ndim: int) -> int | None:
    return None if axis is None else normalize_axis(axis, ndim)


def _axes(axis: int | tuple[int, ...], ndim: int) -> tuple[int, ...]:
    items = axis if isinstance(axis, tuple) else (axis,)
    axes = tuple(normalize_axis(a, ndim) for a in items)
    if len(set(axes)) != len(axes):
        raise ValueError(f"axis must not repeat an axis, got {axis}")
    return axes


# ------------------------------------------------------------------------ distributions
def check_probs(
    p: Any, atol: float = 1e-6, axis: int | None = -1, *, name: str = "p"
) -> np.ndarray:
    """Check a probability mass function: pᵢ ≥ 0, finite, Σᵢ pᵢ = 1 ± atol (section 3.2.1).

    Parameters
    ----------
    p : array_like, at least 1-D
        Probabilities. Integer arrays are converted to float64.
    atol : float, default 1e-6
        Absolute tolerance on the total mass (the sum is taken in float64).
    axis : int or None, default -1
        Axis along which each distribution sums to 1 (every slice is checked); ``None``
        checks that the whole array sums to 1, as for a joint table.
    name : str, default "p"
        Argument name used in error messages.

    Returns
    -------
    p : ndarray
        ``p`` as a float array (no copy for float arrays).

    Raises
    ------
    TypeError
        If ``p`` is not a float (or integer) array, or ``atol`` is not a real number.
    ValueError
        If ``p`` is 0-D or empty, holds NaN/inf or negative entries, or some distribution's
        mass differs from 1 by more than ``atol``.
    """
    p = check_float_array(p, name, convert=True)
    atol = check_positive(atol, "atol", allow_zero=True)
    if p.ndim == 0:
        raise ValueError(f"{name} must be at least 1-D, got a scalar")
    axis = _optional_axis(axis, p.ndim)
    if p.size == 0:
        raise ValueError(f"{name} must be non-empty, got shape {p.shape}")
    if not np.all(np.isfinite(p)):
        raise ValueError(f"{name} must contain only finite probabilities (no NaN or inf)")
    if np.any(p < 0):
        raise ValueError(f"{name} must be non-negative, got a minimum of {float(np.min(p)):.6g}")
    mass = np.sum(p, axis=axis, dtype=np.float64)
    if np.any(np.abs(mass - 1) > atol):
        where = "in total" if axis is None else f"along axis {axis}"
        raise ValueError(
            f"{name} must sum to 1 {where} (within atol={atol:g}), got sums in "
            f"[{float(np.min(mass)):.6g}, {float(np.max(mass)):.6g}]"
        )
    return p


def pmf_from_counts(counts: Any, axis: int | None = None) -> np.ndarray:
    """Normalise counts to a pmf: pᵢ = cᵢ / Σⱼ cⱼ (section 3.2.1).

    Parameters
    ----------
    counts : array_like, at least 1-D
        Non-negative, finite counts (or weights).
    axis : int or None, default None
        ``None`` normalises the whole array (a table of counts becomes a joint pmf); an int
        normalises each slice along that axis separately.

    Returns
    -------
    p : ndarray, shape of ``counts``
        float64 for integer counts, else the counts' dtype.

    Raises
    ------
    TypeError
        If ``counts`` is not a numeric array.
    ValueError
        If ``counts`` is 0-D or empty, holds NaN/inf or negative values, or a normalised slice
        has zero total count.
    """
    counts = check_float_array(counts, "counts", convert=True)
    if counts.ndim == 0:
        raise ValueError("counts must be at least 1-D, got a scalar")
    axis = _optional_axis(axis, counts.ndim)
    if counts.size == 0:
        raise ValueError(f"counts must be non-empty, got shape {counts.shape}")
    if not np.all(np.isfinite(counts)):
        raise ValueError("counts must contain only finite values (no NaN or inf)")
    if np.any(counts < 0):
        raise ValueError(f"counts must be non-negative, got a minimum of {float(np.min(counts))}")
    total = np.sum(counts, axis=axis, keepdims=True)
    if np.any(total == 0):
        raise ValueError("counts must have a positive total (in every slice normalised)")
    return counts / total


def marginal(joint: Any, axis: int | tuple[int, ...]) -> np.ndarray:
    """Marginal by summing out variables: P(x) = Σ_y P(x, y) (section 3.2.1).

    ``axis`` names the variable(s) summed out, as in ``numpy.sum``: for a table
    ``joint[i, j] = P(X=i, Y=j)``, ``marginal(joint, axis=1)`` is P(X) and
    ``marginal(joint, axis=0)`` is P(Y).

    Parameters
    ----------
    joint : array_like, at least 2-D
        Joint pmf; all entries together sum to 1.
    axis : int or tuple of int
        Axis or axes to sum out.

    Returns
    -------
    p : ndarray
        The marginal pmf over the remaining axes, joint's dtype.

    Raises
    ------
    TypeError
        If ``joint`` is not a float (or integer) array, or ``axis`` is not an int (tuple).
    ValueError
        If ``joint`` is not a valid joint pmf (see :func:`check_probs`) or is 1-D, or an axis
        is out of range or repeated.
    """
    joint = check_probs(joint, axis=None, name="joint")
    _check_table(joint)
    return np.sum(joint, axis=_axes(axis, joint.ndim))


def conditional(joint: Any, given_axis: int) -> np.ndarray:
    """Conditional P(y | x) = P(x, y) / P(x), conditioning on the variable of ``given_axis``.

    For a table ``joint[i, j] = P(X=i, Y=j)``, ``conditional(joint, given_axis=0)[i, j]`` is
    P(Y=j | X=i) (each row sums to 1) and ``given_axis=1`` gives P(X=i | Y=j) (each column
    sums to 1). In higher dimensions the variable on ``given_axis`` is conditioned on and the
    others are jointly distributed (section 3.2.1).

    Parameters
    ----------
    joint : array_like, at least 2-D
        Joint pmf; all entries together sum to 1.
    given_axis : int
        Axis of the conditioning variable.

    Returns
    -------
    cond : ndarray, shape of ``joint``
        joint's dtype.

    Raises
    ------
    TypeError
        If ``joint`` is not a float (or integer) array, or ``given_axis`` is not an int.
    ValueError
        If ``joint`` is not a valid joint pmf or is 1-D, ``given_axis`` is out of range, or
        some value of the conditioning variable has zero probability (the conditional is
        undefined there).
    """
    joint = check_probs(joint, axis=None, name="joint")
    _check_table(joint)
    given_axis = normalize_axis(given_axis, joint.ndim, "given_axis")
    others = tuple(a for a in range(joint.ndim) if a != given_axis)
    p_given = np.sum(joint, axis=others, keepdims=True)
    if np.any(p_given == 0):
        zero = np.flatnonzero(p_given == 0).tolist()
        raise ValueError(
            f"joint has zero marginal probability at index {zero} of given_axis={given_axis}; "
            "the conditional distribution given a zero-probability event is undefined"
        )
    return joint / p_given


# ------------------------------------------------------------------ expectation, variance
def _values_and_probs(values: Any, p: Any) -> tuple[np.ndarray, np.ndarray]:
    values, p = float_arrays(("values", values), ("p", p))
    check_ndim(values, "values", 1)
    p = check_probs(p, axis=None)
    check_ndim(p, "p", 1)
    if p.shape != values.shape:
        raise ValueError(f"p must have the shape of values {values.shape}, got {p.shape}")
    return values, p


def expectation(values: Any, p: Any) -> np.floating:
    """Expectation E[X] = Σᵢ pᵢ xᵢ of a discrete random variable (section 3.2.1).

    Parameters
    ----------
    values : array_like, shape (n,)
        The values xᵢ the variable takes.
    p : array_like, shape (n,), same float dtype
        Their probabilities pᵢ = P(X = xᵢ).

    Returns
    -------
    mean : scalar of the inputs' dtype

    Raises
    ------
    TypeError
        If an operand is not a float array, or the dtypes differ.
    ValueError
        If ``values`` or ``p`` is not 1-D, the shapes differ, or ``p`` is not a pmf.
    """
    values, p = _values_and_probs(values, p)
    return values.dtype.type(p @ values)


def variance(values: Any, p: Any) -> np.floating:
    """Variance Var(X) = E[(X − E[X])²] = Σᵢ pᵢ (xᵢ − μ)² (section 3.2.1).

    Evaluated in the centred (two-pass) form, which does not cancel catastrophically the way
    E[X²] − E[X]² does.

    Parameters
    ----------
    values : array_like, shape (n,)
        The values xᵢ the variable takes.
    p : array_like, shape (n,), same float dtype
        Their probabilities.

    Returns
    -------
    var : scalar of the inputs' dtype, ≥ 0

    Raises
    ------
    TypeError
        If an operand is not a float array, or the dtypes differ.
    ValueError
        If ``values`` or ``p`` is not 1-D, the shapes differ, or ``p`` is not a pmf.
    """
    values, p = _values_and_probs(values, p)
    centred = values - p @ values
    return values.dtype.type(p @ np.square(centred))


def covariance_from_joint(x_values: Any, y_values: Any, joint: Any) -> np.floating:
    """Covariance Cov(X, Y) = Σᵢⱼ P(xᵢ, yⱼ)(xᵢ − μ_X)(yⱼ − μ_Y) from a joint table.

    μ_X = Σᵢ xᵢ P(xᵢ) and μ_Y = Σⱼ yⱼ P(yⱼ) use the marginals of ``joint`` (section 3.2.1).

    Parameters
    ----------
    x_values : array_like, shape (n_x,)
        Values of X, indexing the rows of ``joint``.
    y_values : array_like, shape (n_y,)
        Values of Y, indexing the columns.
    joint : array_like, shape (n_x, n_y), same float dtype
        Joint pmf ``joint[i, j] = P(X = xᵢ, Y = yⱼ)``.

    Returns
    -------
    cov : scalar of the inputs' dtype

    Raises
    ------
    TypeError
        If an operand is not a float array, or the dtypes differ.
    ValueError
        If the shapes do not match as above, or ``joint`` is not a joint pmf.
    """
    x_values, y_values, joint = float_arrays(
        ("x_values", x_values), ("y_values", y_values), ("joint", joint)
    )
    check_ndim(x_values, "x_values", 1)
    check_ndim(y_values, "y_values", 1)
    joint = check_probs(joint, axis=None, name="joint")
    want = (x_values.shape[0], y_values.shape[0])
    if joint.shape != want:
        raise ValueError(
            f"joint must have shape {want} (len(x_values), len(y_values)), got {joint.shape}"
        )
    dx = x_values - np.sum(joint, axis=1) @ x_values
    dy = y_values - np.sum(joint, axis=0) @ y_values
    return x_values.dtype.type(dx @ joint @ dy)


# ---------------------------------------------------------------------- empirical moments
def _samples(x: Any, axis: int, minimum: int) -> tuple[np.ndarray, int]:
    x = check_float_array(x, "x", convert=True)
    if x.ndim == 0:
        raise ValueError("x must be at least 1-D (samples along axis), got a scalar")
    axis = normalize_axis(axis, x.ndim)
    if x.shape[axis] < minimum:
        raise ValueError(
            f"x must have at least {minimum} sample(s) along axis {axis}, got shape {x.shape}"
        )
    return x, axis


def sample_mean(x: Any, axis: int = 0) -> np.ndarray | np.floating:
    """Sample mean x̄ = (1/n) Σₖ xₖ over the n samples along ``axis`` (section 3.2.1).

    Parameters
    ----------
    x : array_like, at least 1-D
        Samples, indexed along ``axis``; n ≥ 1.
    axis : int, default 0
        The sample axis.

    Returns
    -------
    mean : ndarray or scalar, x's dtype
        ``x`` with ``axis`` removed.

    Raises
    ------
    TypeError
        If ``x`` is not a float (or integer) array.
    ValueError
        If ``x`` is 0-D, ``axis`` is out of range, or there are no samples.
    """
    x, axis = _samples(x, axis, 1)
    return scalar(np.mean(x, axis=axis))


def sample_variance(x: Any, axis: int = 0) -> np.ndarray | np.floating:
    """Unbiased sample variance s² = (1/(n−1)) Σₖ (xₖ − x̄)² along ``axis`` (section 3.2.1).

    Parameters
    ----------
    x : array_like, at least 1-D
        Samples, indexed along ``axis``; n ≥ 2.
    axis : int, default 0
        The sample axis.

    Returns
    -------
    var : ndarray or scalar, x's dtype
        ``x`` with ``axis`` removed.

    Raises
    ------
    TypeError
        If ``x`` is not a float (or integer) array.
    ValueError
        If ``x`` is 0-D, ``axis`` is out of range, or there are fewer than 2 samples.
    """
    x, axis = _samples(x, axis, 2)
    centred = x - np.mean(x, axis=axis, keepdims=True)
    return scalar(np.sum(np.square(centred), axis=axis) / (x.shape[axis] - 1))


def sample_covariance(X: Any) -> np.ndarray:
    """Unbiased sample covariance S = (1/(n−1)) (X − x̄)ᵀ(X − x̄), rows = samples (section 3.2.1).

    Parameters
    ----------
    X : array_like, shape (n, d)
        n ≥ 2 samples of a d-dimensional variable, one per row.

    Returns
    -------
    S : ndarray, shape (d, d)
        Symmetric, X's dtype.

    Raises
    ------
    TypeError
        If ``X`` is not a float (or integer) array.
    ValueError
        If ``X`` is not 2-D or has fewer than 2 rows.
    """
    X = check_float_array(X, "X", ndim=2, convert=True)
    n = X.shape[0]
    if n < 2:
        raise ValueError(f"X must have at least 2 rows (samples), got shape {X.shape}")
    centred = X - np.mean(X, axis=0)
    return centred.T @ centred / (n - 1)
