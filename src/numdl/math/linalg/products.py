"""Chapter 2, section 3.1.2 — products: matrix–matrix, matrix–vector, inner, and the affine map.

Shapes are checked explicitly, never broadcast: each product names the operand whose shape
does not fit. The affine map XW + b is eq. 1 of the textbook report.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from numdl.core.validation import check_ndim
from numdl.math.linalg.shapes import float_arrays

__all__ = ["affine_map", "mm", "mv", "vv"]


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
    A, B = float_arrays(("A", A), ("B", B))
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
    A, v = float_arrays(("A", A), ("v", v))
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
    a, b = float_arrays(("a", a), ("b", b))
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
    X, W, b = float_arrays(("X", X), ("W", W), ("b", b))
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
