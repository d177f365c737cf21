"""Chapter 2 — linear algebra: shape guards, products, norms, SVD, determinants and PCA.

Safe, well-typed wrappers around NumPy that check shapes explicitly (no silent broadcasting),
report which argument is wrong, and expose the matrix properties the later chapters reason
with (norms, condition numbers, pseudoinverses). Equation numbers refer to the textbook report
(``shared/seeds/002_*.txt``, section 3.1).

Every function accepts float32 and float64 arrays and returns results of the input's dtype.
Integer and boolean array-likes are converted to the float dtype of the other operands
(float64 when every operand is an integer array). Operands of different float dtypes are an
error rather than a silent promotion. Inputs are never mutated.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from numdl._validation import (
    FLOAT_DTYPES,
    as_array,
    check_float_array,
    check_int,
    check_ndim,
    check_positive,
    check_same_dtype,
)

__all__ = [
    "PCA",
    "affine_map",
    "check_broadcastable",
    "check_same_shape",
    "condition_number",
    "det",
    "ensure_matrix",
    "ensure_vector",
    "infer_shape",
    "logdet",
    "lstsq_min_norm",
    "mm",
    "mv",
    "norm_frobenius",
    "norm_l1",
    "norm_l2",
    "norm_spectral",
    "pinv",
    "svd_thin",
    "trace",
    "vv",
]


# ------------------------------------------------------------------------- private helpers
def _float_arrays(*named: tuple[str, Any]) -> list[np.ndarray]:
    """Check ``(name, value)`` pairs as float arrays of one common dtype.

    Integer/boolean operands take the float dtype of the first float operand (float64 if
    there is none); float operands must all share one dtype (``TypeError`` otherwise).
    """
    arrays = [(name, as_array(value, name)) for name, value in named]
    floats = [arr.dtype for _, arr in arrays if arr.dtype in FLOAT_DTYPES]
    target = floats[0] if floats else np.dtype(np.float64)
    checked = [
        (name, check_float_array(arr.astype(target) if arr.dtype.kind in "biu" else arr, name))
        for name, arr in arrays
    ]
    first_name, first = checked[0]
    for name, arr in checked[1:]:
        check_same_dtype(arr, name, first, first_name)
    return [arr for _, arr in checked]


def _matrix(A: Any, name: str) -> np.ndarray:
    return check_float_array(A, name, ndim=2, convert=True)


def _square(A: Any, name: str) -> np.ndarray:
    A = _matrix(A, name)
    if A.shape[0] != A.shape[1]:
        raise ValueError(f"{name} must be a square matrix, got shape {A.shape}")
    return A


def _check_finite(A: np.ndarray, name: str) -> None:
    if not np.all(np.isfinite(A)):
        raise ValueError(f"{name} must contain only finite values (no NaN or inf)")


def _check_nonempty(A: np.ndarray, name: str) -> None:
    if A.size == 0:
        raise ValueError(f"{name} must be non-empty, got shape {A.shape}")


def _scaled_l2(x: np.ndarray) -> np.floating:
    """√Σ x² computed as s·√Σ (x/s)², s = max|x|, so squares cannot overflow or underflow."""
    a = np.abs(x)
    if a.size == 0:
        return x.dtype.type(0)
    s = np.max(a)
    if s == 0 or not np.isfinite(s):  # all zeros → 0; inf → inf; NaN → NaN
        return s
    return s * np.sqrt(np.sum(np.square(a / s)))


def _shape_tuple(shape: Any, name: str) -> tuple[int, ...]:
    if isinstance(shape, (int, np.integer)) and not isinstance(shape, bool):
        shape = (shape,)
    if not isinstance(shape, (tuple, list)):
        raise TypeError(f"{name} must be a tuple of ints, got {type(shape).__name__}")
    return tuple(check_int(d, f"{name}[{i}]", minimum=0) for i, d in enumerate(shape))


# -------------------------------------------------------------------- shapes and validation
def infer_shape(x: Any) -> tuple[int, ...]:
    """Shape of ``x``: the tuple of its dimensions (section 3.1.1).

    Parameters
    ----------
    x : array_like
        A numeric array or anything NumPy converts to one (nested lists, scalars).

    Returns
    -------
    shape : tuple of int
        ``()`` for a scalar, ``(n,)`` for a vector, ``(m, n)`` for a matrix, ...

    Raises
    ------
    TypeError
        If ``x`` is not a numeric array-like (ragged lists, objects).
    """
    return tuple(as_array(x, "x").shape)


def ensure_vector(x: Any, name: str = "x") -> np.ndarray:
    """Assert that ``x`` is a vector (1-D) and return it as an array (section 3.1.1).

    Parameters
    ----------
    x : array_like
        Candidate vector.
    name : str, default "x"
        Argument name used in error messages.

    Returns
    -------
    x : ndarray, 1-D
        ``x`` itself when it already is an ndarray (no copy).

    Raises
    ------
    TypeError
        If ``x`` is not a numeric array-like.
    ValueError
        If ``x`` is not 1-D.
    """
    arr = as_array(x, name)
    check_ndim(arr, name, 1)
    return arr


def ensure_matrix(X: Any, name: str = "X") -> np.ndarray:
    """Assert that ``X`` is a matrix (2-D) and return it as an array (section 3.1.1).

    Parameters
    ----------
    X : array_like
        Candidate matrix.
    name : str, default "X"
        Argument name used in error messages.

    Returns
    -------
    X : ndarray, 2-D
        ``X`` itself when it already is an ndarray (no copy).

    Raises
    ------
    TypeError
        If ``X`` is not a numeric array-like.
    ValueError
        If ``X`` is not 2-D.
    """
    arr = as_array(X, name)
    check_ndim(arr, name, 2)
    return arr


def check_same_shape(a: Any, b: Any, *, a_name: str = "a", b_name: str = "b") -> tuple[int, ...]:
    """Guard shape(a) = shape(b) for elementwise operations (section 3.1.1).

    Parameters
    ----------
    a, b : array_like
        The two operands.
    a_name, b_name : str
        Argument names used in the error message.

    Returns
    -------
    shape : tuple of int
        The common shape.

    Raises
    ------
    TypeError
        If an operand is not a numeric array-like.
    ValueError
        If the shapes differ.
    """
    a_shape = as_array(a, a_name).shape
    b_shape = as_array(b, b_name).shape
    if a_shape != b_shape:
        raise ValueError(
            f"{a_name} and {b_name} must have the same shape, got {a_shape} and {b_shape}"
        )
    return tuple(a_shape)


def check_broadcastable(
    a_shape: Any, b_shape: Any, *, a_name: str = "a_shape", b_name: str = "b_shape"
) -> tuple[int, ...]:
    """Guard that two shapes broadcast, aligned from the right (section 3.1.1).

    Two dimensions are compatible when they are equal or one of them is 1.

    Parameters
    ----------
    a_shape, b_shape : tuple of int
        The shapes (an int is read as a 1-D shape).
    a_name, b_name : str
        Argument names used in error messages.

    Returns
    -------
    shape : tuple of int
        The broadcast shape.

    Raises
    ------
    TypeError
        If a shape is not a tuple of ints.
    ValueError
        If a dimension is negative or the shapes do not broadcast.
    """
    a_dims = _shape_tuple(a_shape, a_name)
    b_dims = _shape_tuple(b_shape, b_name)
    try:
        return tuple(np.broadcast_shapes(a_dims, b_dims))
    except ValueError:
        raise ValueError(
            f"{a_name} {a_dims} and {b_name} {b_dims} are not broadcastable: aligned from the "
            "right, each pair of dimensions must be equal or contain a 1"
        ) from None


# ------------------------------------------------------------------------------- products
def mm(A: Any, B: Any) -> np.ndarray:
    """Matrix product mm(A, B) = AB, (m, k) @ (k, n) → (m, n) (section 3.1.2).

    Parameters
    ----------
    A : array_like, shape (m, k)
    B : array_like, shape (k, n), same float dtype as ``A``

    Returns
    -------
    AB : ndarray, shape (m, n)

    Raises
    ------
    TypeError
        If an operand is not a float array, or the dtypes differ.
    ValueError
        If an operand is not 2-D or the inner dimensions differ.
    """
    A, B = _float_arrays(("A", A), ("B", B))
    check_ndim(A, "A", 2)
    check_ndim(B, "B", 2)
    if B.shape[0] != A.shape[1]:
        raise ValueError(
            f"B must have {A.shape[1]} rows to match the columns of A {A.shape}, got {B.shape}"
        )
    return A @ B


def mv(A: Any, v: Any) -> np.ndarray:
    """Matrix–vector product mv(A, v) = Av, (m, n) @ (n,) → (m,) (section 3.1.2).

    Parameters
    ----------
    A : array_like, shape (m, n)
    v : array_like, shape (n,), same float dtype as ``A``

    Returns
    -------
    Av : ndarray, shape (m,)

    Raises
    ------
    TypeError
        If an operand is not a float array, or the dtypes differ.
    ValueError
        If ``A`` is not 2-D, ``v`` is not 1-D, or ``len(v)`` differs from A's columns.
    """
    A, v = _float_arrays(("A", A), ("v", v))
    check_ndim(A, "A", 2)
    check_ndim(v, "v", 1)
    if v.shape[0] != A.shape[1]:
        raise ValueError(
            f"v must have length {A.shape[1]} to match the columns of A {A.shape}, got {v.shape}"
        )
    return A @ v


def vv(a: Any, b: Any) -> np.floating:
    """Inner product vv(a, b) = aᵀb = Σᵢ aᵢbᵢ (section 3.1.2).

    Parameters
    ----------
    a : array_like, shape (n,)
    b : array_like, shape (n,), same float dtype as ``a``

    Returns
    -------
    aᵀb : scalar of the inputs' dtype

    Raises
    ------
    TypeError
        If an operand is not a float array, or the dtypes differ.
    ValueError
        If an operand is not 1-D or the lengths differ.
    """
    a, b = _float_arrays(("a", a), ("b", b))
    check_ndim(a, "a", 1)
    check_ndim(b, "b", 1)
    if a.shape != b.shape:
        raise ValueError(f"b must have the length of a ({a.shape[0]}), got {b.shape[0]}")
    return a.dtype.type(a @ b)


def affine_map(X: Any, W: Any, b: Any) -> np.ndarray:
    """Affine map affine_map(X, W, b) = XW + b (eq. 1).

    Parameters
    ----------
    X : array_like, shape (N, D_in)
        One input per row.
    W : array_like, shape (D_in, D_out), same float dtype
    b : array_like, shape (D_out,), same float dtype
        Added to every row.

    Returns
    -------
    Z : ndarray, shape (N, D_out)

    Raises
    ------
    TypeError
        If an operand is not a float array, or the dtypes differ.
    ValueError
        If ``X``/``W`` are not 2-D, W's rows differ from X's columns, or ``b`` is not (D_out,).
    """
    X, W, b = _float_arrays(("X", X), ("W", W), ("b", b))
    check_ndim(X, "X", 2)
    check_ndim(W, "W", 2)
    if W.shape[0] != X.shape[1]:
        raise ValueError(
            f"W must have {X.shape[1]} rows (D_in, the columns of X {X.shape}), got {W.shape}"
        )
    if b.shape != (W.shape[1],):
        raise ValueError(
            f"b must have shape ({W.shape[1]},) (D_out, the columns of W), got {b.shape}"
        )
    return X @ W + b


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
    return _scaled_l2(_matrix(A, "A"))


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
    A = _matrix(A, "A")
    _check_finite(A, "A")
    s = np.linalg.svd(A, compute_uv=False)
    return A.dtype.type(np.max(s, initial=0))


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
    A = _matrix(A, "A")
    _check_finite(A, "A")
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
    A = _matrix(A, "A")
    _check_nonempty(A, "A")
    _check_finite(A, "A")
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
    A = _matrix(A, "A")
    _check_finite(A, "A")
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
    A, b = _float_arrays(("A", A), ("b", b))
    check_ndim(A, "A", 2)
    check_ndim(b, "b", (1, 2))
    if b.shape[0] != A.shape[0]:
        raise ValueError(
            f"b must have {A.shape[0]} rows to match the rows of A {A.shape}, got {b.shape}"
        )
    _check_finite(b, "b")
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
    A = _square(A, "A")
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
    A = _square(A, "A")
    _check_finite(A, "A")
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
    A = _square(A, "A")
    _check_finite(A, "A")
    sign, logabs = np.linalg.slogdet(A)
    if sign == 0:
        raise ValueError("A is singular (det(A) = 0), so log det(A) = -inf is not defined")
    if sign < 0:
        raise ValueError(
            f"A must have a positive determinant for logdet, got det(A) < 0 "
            f"(log|det(A)| = {float(logabs):.6g}); use numpy.linalg.slogdet for the sign"
        )
    return A.dtype.type(logabs)


# ------------------------------------------------------------------------------------- PCA
class PCA:
    """Principal components analysis via the thin SVD of the centred data (section 3.1.4).

    With X_c = X − mean and X_c = U diag(S) Vᵀ, the principal directions are the rows of Vᵀ,
    the variance explained by component j is S_j² / (n − 1), and the projection onto the top
    k components is Z = X_c V_k. Each component's sign is fixed so that its largest-magnitude
    entry is positive (the SVD alone leaves signs arbitrary).

    Parameters
    ----------
    n_components : int
        k, the number of components kept; must satisfy 1 ≤ k ≤ min(n, d) at :meth:`fit`.

    Attributes
    ----------
    mean_ : ndarray, shape (d,)
        Per-feature mean of the training data.
    components_ : ndarray, shape (k, d)
        Orthonormal principal directions, in decreasing order of explained variance.
    singular_values_ : ndarray, shape (k,)
        The top k singular values of the centred data.
    explained_variance_ : ndarray, shape (k,)
        S_j² / (n − 1), the sample variance along each component.
    explained_variance_ratio_ : ndarray, shape (k,)
        Fraction of the total variance explained by each component (sums to 1 for full k).
    """

    mean_: np.ndarray
    components_: np.ndarray
    singular_values_: np.ndarray
    explained_variance_: np.ndarray
    explained_variance_ratio_: np.ndarray

    def __init__(self, n_components: int) -> None:
        self.n_components = check_int(n_components, "n_components", minimum=1)

    def fit(self, X: Any) -> PCA:
        """Fit the top k principal components of X (centred data, thin SVD).

        Parameters
        ----------
        X : array_like, shape (n, d)
            One sample per row; n ≥ 2.

        Returns
        -------
        self : PCA

        Raises
        ------
        TypeError
            If ``X`` is not a float (or integer) array.
        ValueError
            If ``X`` is not 2-D, has fewer than 2 rows, holds NaN/inf, has zero total variance
            (all rows equal), or n_components > min(n, d).
        """
        X = _matrix(X, "X")
        n, d = X.shape
        if n < 2:
            raise ValueError(f"X must have at least 2 rows (samples), got shape {X.shape}")
        _check_finite(X, "X")
        if self.n_components > min(n, d):
            raise ValueError(
                f"n_components must be in [1, min(n, d)] = [1, {min(n, d)}] for X of shape "
                f"{X.shape}, got {self.n_components}"
            )
        mean = np.mean(X, axis=0)
        _, S, Vt = np.linalg.svd(X - mean, full_matrices=False)
        variance = np.square(S) / (n - 1)
        total = np.sum(variance)
        if total == 0:
            raise ValueError("X has zero variance (all rows equal); PCA directions are undefined")
        k = self.n_components
        pivot = np.argmax(np.abs(Vt[:k]), axis=1)
        signs = np.sign(Vt[np.arange(k), pivot])
        self.mean_ = mean
        self.components_ = Vt[:k] * signs[:, None]
        self.singular_values_ = S[:k]
        self.explained_variance_ = variance[:k]
        self.explained_variance_ratio_ = variance[:k] / total
        return self

    def _check_fitted(self) -> None:
        if not hasattr(self, "components_"):
            raise RuntimeError("this PCA is not fitted yet; call fit(X) first")

    def _like_fit(self, X: Any, name: str, n_cols: int) -> np.ndarray:
        arr = as_array(X, name)
        if arr.dtype.kind in "biu":
            arr = arr.astype(self.mean_.dtype)
        arr = check_float_array(arr, name, ndim=2)
        check_same_dtype(arr, name, self.mean_, "the data PCA was fitted on")
        if arr.shape[1] != n_cols:
            raise ValueError(f"{name} must have {n_cols} columns, got shape {arr.shape}")
        return arr

    def transform(self, X: Any) -> np.ndarray:
        """Project onto the top k components: Z = (X − mean) V_k.

        Parameters
        ----------
        X : array_like, shape (m, d)
            Same dtype as the fitted data.

        Returns
        -------
        Z : ndarray, shape (m, k)

        Raises
        ------
        RuntimeError
            If the PCA has not been fitted.
        TypeError
            If ``X`` is not a float array of the fitted dtype.
        ValueError
            If ``X`` is not 2-D with d columns.
        """
        self._check_fitted()
        X = self._like_fit(X, "X", self.components_.shape[1])
        return (X - self.mean_) @ self.components_.T

    def inverse_transform(self, Z: Any) -> np.ndarray:
        """Reconstruct from component scores: X̂ = Z V_kᵀ + mean.

        Exact (up to rounding) for data in the span of the kept components, in particular for
        the training data when k = min(n, d).

        Parameters
        ----------
        Z : array_like, shape (m, k)
            Same dtype as the fitted data.

        Returns
        -------
        X_hat : ndarray, shape (m, d)

        Raises
        ------
        RuntimeError
            If the PCA has not been fitted.
        TypeError
            If ``Z`` is not a float array of the fitted dtype.
        ValueError
            If ``Z`` is not 2-D with k columns.
        """
        self._check_fitted()
        Z = self._like_fit(Z, "Z", self.components_.shape[0])
        return Z @ self.components_ + self.mean_

    def fit_transform(self, X: Any) -> np.ndarray:
        """Fit on X, then return its projection Z = (X − mean) V_k.

        Parameters
        ----------
        X : array_like, shape (n, d)

        Returns
        -------
        Z : ndarray, shape (n, k)

        Raises
        ------
        TypeError, ValueError
            As for :meth:`fit`.
        """
        return self.fit(X).transform(X)
