"""Activation functions and their derivatives (textbook ch. 6), elementwise and vectorised.

Each forward ``f(x)`` has a backward ``f_backward(grad, ...)`` returning dL/dx from the
upstream gradient dL/df and what the forward kept (the input, the output or a mask).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from numdl.core.ops import softmax
from numdl.core.validation import check_float_array, check_positive, check_same_dtype, check_shape
from numdl.math.numerics import sigmoid

__all__ = [
    "leaky_relu",
    "leaky_relu_backward",
    "relu",
    "relu_backward",
    "sigmoid",
    "sigmoid_backward",
    "softmax",
    "tanh",
    "tanh_backward",
]


def _grad_like(grad: Any, like: np.ndarray, name: str) -> np.ndarray:
    grad = check_float_array(grad, "grad")
    check_same_dtype(grad, "grad", like, name)
    check_shape(grad, "grad", like.shape)
    return grad


def relu(x: Any) -> tuple[np.ndarray, np.ndarray]:
    """ReLU(x) = max(0, x) (eq. 17); returns the output and the mask 1[x > 0] for backward."""
    x = check_float_array(x, "x")
    mask = x > 0
    return np.where(mask, x, x.dtype.type(0)), mask


def relu_backward(grad: Any, mask: Any) -> np.ndarray:
    """dL/dx = dL/dReLU ⊙ 1[x > 0], with the mask returned by :func:`relu`."""
    mask = np.asarray(mask)
    if mask.dtype != np.bool_:
        raise TypeError(f"mask must be a boolean array, got dtype {mask.dtype}")
    grad = check_float_array(grad, "grad")
    check_shape(grad, "grad", mask.shape)
    return grad * mask


def leaky_relu(x: Any, slope: float = 0.01) -> np.ndarray:
    """LeakyReLU(x) = x for x > 0, αx otherwise (α = ``slope`` ≥ 0)."""
    x = check_float_array(x, "x")
    slope = check_positive(slope, "slope", allow_zero=True)
    return np.where(x > 0, x, x * x.dtype.type(slope))


def leaky_relu_backward(grad: Any, x: Any, slope: float = 0.01) -> np.ndarray:
    """dL/dx = dL/dy ⊙ (1 for x > 0, α otherwise)."""
    x = check_float_array(x, "x")
    grad = _grad_like(grad, x, "x")
    slope = check_positive(slope, "slope", allow_zero=True)
    return grad * np.where(x > 0, x.dtype.type(1), x.dtype.type(slope))


def sigmoid_backward(grad: Any, y: Any) -> np.ndarray:
    """dσ/dx = σ(x)(1 − σ(x)), from the forward output y = σ(x)."""
    y = check_float_array(y, "y")
    grad = _grad_like(grad, y, "y")
    return grad * y * (1 - y)


def tanh(x: Any) -> np.ndarray:
    """tanh(x) = (eˣ − e⁻ˣ)/(eˣ + e⁻ˣ), saturating to ±1 without overflow."""
    return np.tanh(check_float_array(x, "x"))


def tanh_backward(grad: Any, y: Any) -> np.ndarray:
    """d tanh/dx = 1 − tanh²(x), from the forward output y = tanh(x)."""
    y = check_float_array(y, "y")
    grad = _grad_like(grad, y, "y")
    return grad * (1 - y * y)
