"""Chapter 2, section 3.1.1 — shapes: the shape guards, and the argument checks of the package.

The public guards (:func:`infer_shape`, :func:`ensure_vector`, :func:`ensure_matrix`,
:func:`check_same_shape`, :func:`check_broadcastable`) are re-exported by
:mod:`numdl.math.linalg`. The argument checks :func:`float_arrays`, :func:`matrix`,
:func:`square`, :func:`check_finite` and :func:`check_nonempty` are what the other
linear-algebra modules (and :mod:`numdl.math.probability`, :mod:`numdl.math.information`)
import from here; they are not part of the textbook API, so neither this module's ``__all__``
nor the package lists them.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from numdl.core.validation import (
    FLOAT_DTYPES,
    as_array,
    check_float_array,
    check_int,
    check_ndim,
    check_same_dtype,
)

__all__ = [
    "check_broadcastable",
    "check_same_shape",
    "ensure_matrix",
    "ensure_vector",
    "infer_shape",
]


# ------------------------------------------------------- argument checks shared by the package
def float_arrays(*named: tuple[str, Any]) -> list[np.ndarray]:
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


def matrix(A: Any, name: str) -> np.ndarray:
    return check_float_array(A, name, ndim=2, convert=True)


def square(A: Any, name: str) -> np.ndarray:
    A = matrix(A, name)
    if A.shape[0] != A.shape[1]:
        raise ValueError(f"{name} must be a square matrix, got shape {A.shape}")
    return A


def check_finite(A: np.ndarray, name: str) -> None:
    if not np.all(np.isfinite(A)):
        raise ValueError(f"{name} must contain only finite values (no NaN or inf)")


def check_nonempty(A: np.ndarray, name: str) -> None:
    if A.size == 0:
        raise ValueError(f"{name} must be non-empty, got shape {A.shape}")


# ------------------------------------------------------------------------- private helpers
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
