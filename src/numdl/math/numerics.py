"""Numerical computing and gradient checking (textbook ch. 4, section 3.3).

Floating-point utilities (machine epsilon, ulp, the safe range of ``exp``, compensated
summation), the stable reductions and activations built on them (logsumexp, log softmax,
softmax, softplus, sigmoid, log-sigmoid) and central-difference gradient checking.

``logsumexp``, ``log_softmax`` and ``softmax`` are the validated, backend-dispatched hot paths
of :mod:`numdl.core.ops`, re-exported here because this is the chapter that derives them.
Equation numbers refer to the textbook report (``shared/seeds/002_*.txt``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import DTypeLike

from numdl.core.ops import log_softmax, logsumexp, softmax
from numdl.core.validation import check_float_array, check_positive, check_shape

__all__ = [
    "GradCheck",
    "check_grad",
    "exp_safe_range",
    "kahan_sum",
    "log_sigmoid",
    "log_softmax",
    "logsumexp",
    "machine_epsilon",
    "numerical_gradient",
    "sigmoid",
    "softmax",
    "softplus",
    "ulp",
]


# ----------------------------------------------------------------- floating-point utilities
def _float_dtype(dtype: Any, name: str = "dtype") -> np.dtype:
    """Return ``dtype`` as a NumPy floating dtype, or raise naming ``name``."""
    try:
        dt = np.dtype(dtype)
    except TypeError as exc:
        raise TypeError(f"{name} must be a NumPy floating dtype, got {dtype!r}") from exc
    if dt.kind != "f":
        raise TypeError(f"{name} must be a floating dtype such as float32 or float64, got {dt}")
    return dt


def machine_epsilon(dtype: DTypeLike = np.float64) -> np.floating:
    """ε = the gap between 1 and the next larger float of ``dtype`` (section 3.3.1).

    Parameters
    ----------
    dtype : floating dtype, default float64
        ``np.float32``, ``np.float64`` (or any NumPy floating dtype).

    Returns
    -------
    eps : scalar of ``dtype``
        ``np.finfo(dtype).eps``: 2⁻²³ for float32, 2⁻⁵² for float64. The relative rounding
        error of one operation is at most ε/2.

    Raises
    ------
    TypeError
        If ``dtype`` is not a floating dtype.
    """
    return np.finfo(_float_dtype(dtype)).eps


def ulp(x: Any) -> Any:
    """ulp(x) = spacing between |x| and the next float away from zero (section 3.3.1).

    Parameters
    ----------
    x : array-like, float32 or float64

    Returns
    -------
    array or scalar of x's dtype
        ``np.spacing(np.abs(x))``, always positive for finite ``x`` (ulp(0) is the smallest
        subnormal); NaN for ±inf and NaN.

    Raises
    ------
    TypeError
        If ``x`` is not a float32/float64 array-like.
    """
    x = check_float_array(x, "x")
    with np.errstate(invalid="ignore"):
        return np.spacing(np.abs(x))


def _bisect_boundary(pred: Callable[[np.floating], bool], good: Any, bad: Any) -> np.floating:
    """The float x closest to ``bad`` with ``pred(x)`` true, given ``pred(good)`` and not
    ``pred(bad)`` for a monotone predicate: bisection until ``good`` and ``bad`` are adjacent.
    """
    while True:
        mid = good + (bad - good) / 2
        if mid in (good, bad):
            return good
        if pred(mid):
            good = mid
        else:
            bad = mid


def _largest_with_finite_exp(dt: np.dtype) -> np.floating:
    """The largest x of dtype ``dt`` with exp(x) finite."""
    centre = dt.type(np.log(np.finfo(dt).max))
    with np.errstate(over="ignore"):
        return _bisect_boundary(lambda x: bool(np.isfinite(np.exp(x))), centre - 1, centre + 1)


def _smallest_with_exp_at_least(bound: np.floating, dt: np.dtype) -> np.floating:
    """The smallest x of dtype ``dt`` with exp(x) ≥ ``bound``."""
    centre = dt.type(np.log(float(bound)))
    with np.errstate(under="ignore"):
        return _bisect_boundary(lambda x: bool(np.exp(x) >= bound), centre + 1, centre - 1)


def exp_safe_range(
    dtype: DTypeLike = np.float64, *, subnormal: bool = False
) -> tuple[np.floating, np.floating]:
    """(lo, hi) with exp(x) a finite normal float for lo ≤ x ≤ hi, ≈ (log tiny, log max) (§3.3.1).

    Parameters
    ----------
    dtype : floating dtype, default float64
    subnormal : bool, default False
        If True, ``lo`` is the underflow-to-zero bound instead: the smallest x with
        exp(x) > 0 (exp(x) may then be subnormal, with reduced relative precision).

    Returns
    -------
    lo, hi : scalars of ``dtype``
        ``hi`` is the largest float of ``dtype`` with ``np.exp(hi)`` finite (the next float up
        overflows to inf), ≈ log(finfo.max): 88.72 for float32, 709.78 for float64.
        ``lo`` is the smallest float with ``np.exp(lo) >= finfo.tiny`` (the smallest positive
        normal), ≈ log(tiny): −87.34 for float32, −708.40 for float64; with ``subnormal``
        the smallest float with ``np.exp(lo) > 0``, ≈ log(smallest_subnormal): −103.97 for
        float32, −745.13 for float64. Both ends are found by bisection to adjacent floats around
        the logarithm of the bound, so they are exact for this platform's ``np.exp``.

    Raises
    ------
    TypeError
        If ``dtype`` is not a floating dtype.
    """
    dt = _float_dtype(dtype)
    info = np.finfo(dt)
    bound = info.smallest_subnormal if subnormal else info.tiny
    return _smallest_with_exp_at_least(bound, dt), _largest_with_finite_exp(dt)


def kahan_sum(x: Any) -> np.floating:
    """Σᵢ xᵢ by Neumaier's compensated summation, in x's dtype (section 3.3.1).

    The running sum s and a compensation c carry the low-order bits each addition loses:
    t = s + xᵢ; c += (s − t) + xᵢ if |s| ≥ |xᵢ| else (xᵢ − t) + s; s = t; the result is
    s + c. The error is O(ε)·Σ|xᵢ| independent of n (naive summation: O(nε)·Σ|xᵢ|), and,
    unlike Kahan's original, it stays exact when a term is larger than the running sum
    (e.g. [1, 1e100, 1, −1e100] sums to 2).

    This is the textbook reference algorithm and is inherently sequential: it runs an O(n)
    Python loop over the elements, so use it for accuracy studies, not for large arrays.
    If ``x`` holds inf or NaN the result is ``np.sum(x)`` (inf, −inf or NaN).

    Parameters
    ----------
    x : array-like, 1-D, float32 or float64

    Returns
    -------
    scalar of x's dtype
        The compensated sum; 0 for an empty array.

    Raises
    ------
    TypeError
        If ``x`` is not float32/float64.
    ValueError
        If ``x`` is not 1-D.
    """
    x = check_float_array(x, "x", ndim=1)
    if not np.all(np.isfinite(x)):
        return np.sum(x)  # the compensation would turn inf − inf into NaN
    s = x.dtype.type(0)
    c = x.dtype.type(0)
    for v in x:  # numpy scalars, so float32 input is summed in float32 arithmetic
        t = s + v
        if abs(s) >= abs(v):
            c += (s - t) + v
        else:
            c += (v - t) + s
        s = t
    return s + c


# ---------------------------------------------------------------- stable activations
def softplus(x: Any) -> Any:
    """softplus(x) = log(1 + e^−|x|) + max(x, 0) = log(1 + eˣ), stably (eq. 11).

    Parameters
    ----------
    x : array-like, float32 or float64

    Returns
    -------
    array of x's shape and dtype
        Never overflows: softplus(1e4) = 1e4, softplus(−1e4) = 0 (the true value e^−1e4
        underflows), softplus(+inf) = inf, softplus(−inf) = 0.

    Raises
    ------
    TypeError
        If ``x`` is not float32/float64.
    """
    x = check_float_array(x, "x")
    with np.errstate(under="ignore"):  # e^−|x| → 0 for large |x| is the intended result
        return np.log1p(np.exp(-np.abs(x))) + np.maximum(x, 0)


def sigmoid(x: Any) -> Any:
    """σ(x) = 1/(1 + e^−x), via e^−|x|: 1/(1 + e^−|x|) for x ≥ 0, e^−|x|/(1 + e^−|x|) else.

    Only e^−|x| ≤ 1 is ever computed, so there is no overflow (and no warning, even under
    ``np.errstate(all="raise")``; underflow of e^−|x| to 0 is intended) for any x:
    σ(1e4) = 1, σ(−1e4) = 0, and σ(x) + σ(−x) = 1 up to rounding.

    Parameters
    ----------
    x : array-like, float32 or float64

    Returns
    -------
    array of x's shape and dtype, values in [0, 1]

    Raises
    ------
    TypeError
        If ``x`` is not float32/float64.
    """
    x = check_float_array(x, "x")
    with np.errstate(under="ignore"):  # e^−|x| → 0 for large |x| is the intended result
        e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


def log_sigmoid(x: Any) -> Any:
    """log σ(x) = −softplus(−x) (eq. 11), finite for all finite x: log σ(−1e4) = −1e4.

    Parameters
    ----------
    x : array-like, float32 or float64

    Returns
    -------
    array of x's shape and dtype, values ≤ 0

    Raises
    ------
    TypeError
        If ``x`` is not float32/float64.
    """
    x = check_float_array(x, "x")
    return -softplus(-x)


# ------------------------------------------------------------------ gradient checking
def _scalar_value(value: Any) -> float:
    """The real scalar returned by the function under test, as a float."""
    arr = np.asarray(value)
    if arr.size != 1 or arr.dtype.kind not in "biuf":
        raise TypeError(
            f"f must return a real scalar, got {type(value).__name__} "
            f"of shape {arr.shape} and dtype {arr.dtype}"
        )
    return float(arr.reshape(()))


def numerical_gradient(f: Callable[[np.ndarray], Any], x: Any, eps: float = 1e-6) -> np.ndarray:
    """∂f/∂xᵢ ≈ (f(x + εeᵢ) − f(x − εeᵢ)) / 2ε for every coordinate i (eq. 12).

    The perturbations are made on a float64 copy of ``x`` (``x`` itself is never touched),
    one coordinate at a time: 2·x.size calls of ``f``, a Python loop over coordinates that
    is inherent to the method (use it on tiny problems). The truncation error is O(ε²),
    the rounding error O(ε_mach·|f|/ε); ε = 1e-6 balances them in float64.

    Parameters
    ----------
    f : callable
        ``f(x)`` returns a real scalar (a float or a size-1 array). It receives a float64
        array of x's shape, which it must not modify or keep.
    x : array-like of any shape
        The point; integer and boolean input is treated as float64.
    eps : float, default 1e-6
        Step ε > 0.

    Returns
    -------
    array of x's shape
        The numerical gradient, computed in float64 and returned in x's float dtype
        (float64 for integer input).

    Raises
    ------
    TypeError
        If ``x`` is not numeric, ``eps`` is not a real number, or ``f`` does not return a
        real scalar.
    ValueError
        If ``eps`` is not finite and > 0.
    """
    if not callable(f):
        raise TypeError(f"f must be callable, got {type(f).__name__}")
    x = check_float_array(x, "x", convert=True)
    eps = check_positive(eps, "eps")
    work = x.astype(np.float64)  # always a copy
    flat = work.reshape(-1)  # a view: writing flat[i] perturbs work
    grad = np.empty(flat.size, dtype=np.float64)
    for i in range(flat.size):
        original = flat[i]
        flat[i] = original + eps
        f_plus = _scalar_value(f(work))
        flat[i] = original - eps
        f_minus = _scalar_value(f(work))
        flat[i] = original
        grad[i] = (f_plus - f_minus) / (2 * eps)
    return grad.reshape(x.shape).astype(x.dtype, copy=False)


@dataclass(frozen=True)
class GradCheck:
    """Result of :func:`check_grad`: the largest absolute and relative differences.

    Attributes
    ----------
    max_abs_diff : float
        maxᵢ |aᵢ − nᵢ| (a: analytical, n: numerical gradient).
    max_rel_diff : float
        maxᵢ |aᵢ − nᵢ| / max(|aᵢ| + |nᵢ|, tiny), in [0, 1]; tiny is float64's smallest
        normal, so coordinates where both gradients are 0 count as 0.
    """

    max_abs_diff: float
    max_rel_diff: float

    def ok(self, rtol: float = 1e-5, atol: float = 0.0) -> bool:
        """True when max_rel_diff ≤ ``rtol`` or max_abs_diff ≤ ``atol``.

        ``atol`` rescues checks where the true gradient is (nearly) zero and the relative
        difference of two tiny numbers is meaningless; by default only ``rtol`` decides.
        """
        rtol = check_positive(rtol, "rtol", allow_zero=True)
        atol = check_positive(atol, "atol", allow_zero=True)
        return self.max_rel_diff <= rtol or self.max_abs_diff <= atol


def check_grad(
    f: Callable[[np.ndarray], Any],
    grad_f: Callable[[np.ndarray], Any],
    x: Any,
    eps: float = 1e-6,
) -> GradCheck:
    """Compare an analytical gradient a = grad_f(x) with the central differences n (eq. 12).

    relative difference of coordinate i: |aᵢ − nᵢ| / max(|aᵢ| + |nᵢ|, tiny), tiny =
    ``np.finfo(np.float64).tiny``; the result reports the maximum absolute and relative
    differences over all coordinates.

    Parameters
    ----------
    f : callable
        Scalar function of an array, as for :func:`numerical_gradient`.
    grad_f : callable
        ``grad_f(x)`` returns the analytical gradient, an array of x's shape. It receives a
        float64 copy of ``x``.
    x : array-like of any shape
        The point (float64 is recommended: gradient checks in float32 are dominated by
        rounding).
    eps : float, default 1e-6
        Central-difference step.

    Returns
    -------
    GradCheck
        Call ``.ok(rtol)`` for a pass/fail verdict; rtol ≈ 1e-6 suits smooth float64 problems.

    Raises
    ------
    TypeError
        If ``grad_f`` is not callable or returns a non-numeric value (and as for
        :func:`numerical_gradient`).
    ValueError
        If ``grad_f(x)`` does not have x's shape.
    """
    if not callable(grad_f):
        raise TypeError(f"grad_f must be callable, got {type(grad_f).__name__}")
    numeric = numerical_gradient(f, x, eps).astype(np.float64, copy=False)
    x64 = np.array(x, dtype=np.float64)  # a copy, so grad_f cannot modify the caller's x
    analytic = check_float_array(grad_f(x64), "grad_f(x)", convert=True)
    check_shape(analytic, "grad_f(x)", numeric.shape)
    analytic = analytic.astype(np.float64, copy=False)
    abs_diff = np.abs(analytic - numeric)
    scale = np.maximum(np.abs(analytic) + np.abs(numeric), np.finfo(np.float64).tiny)
    return GradCheck(
        max_abs_diff=float(np.max(abs_diff, initial=0.0)),
        max_rel_diff=float(np.max(abs_diff / scale, initial=0.0)),
    )
