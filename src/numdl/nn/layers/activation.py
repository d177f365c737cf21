"""Element-wise activation layers: ReLU, Leaky ReLU, sigmoid, tanh (textbook ch. 6)."""

from __future__ import annotations

from typing import Any

from numdl.nn import activations as act
from numdl.nn.layers.base import Layer

__all__ = ["LeakyReLU", "ReLU", "Sigmoid", "Tanh"]


class ReLU(Layer):
    """Standalone ReLU layer (eq. 17); :class:`Linear` fuses it when ``relu=True``."""

    def forward(self, x: Any, *, train: bool = True) -> Any:
        y, mask = act.relu(x)
        self._mask = mask
        return y

    def backward(self, grad: Any, *, compute_dx: bool = True, overwrite_grad: bool = False) -> Any:
        return act.relu_backward(grad, self._mask)


class LeakyReLU(Layer):
    """Leaky ReLU layer: x for x > 0, ``slope``·x otherwise."""

    def __init__(self, slope: float = 0.01) -> None:
        self.slope = slope

    def forward(self, x: Any, *, train: bool = True) -> Any:
        self._x = x
        return act.leaky_relu(x, self.slope)

    def backward(self, grad: Any, *, compute_dx: bool = True, overwrite_grad: bool = False) -> Any:
        return act.leaky_relu_backward(grad, self._x, self.slope)


class Sigmoid(Layer):
    """Logistic sigmoid layer σ(x) = 1/(1 + e⁻ˣ)."""

    def forward(self, x: Any, *, train: bool = True) -> Any:
        self._y = act.sigmoid(x)
        return self._y

    def backward(self, grad: Any, *, compute_dx: bool = True, overwrite_grad: bool = False) -> Any:
        return act.sigmoid_backward(grad, self._y)


class Tanh(Layer):
    """Hyperbolic tangent layer."""

    def forward(self, x: Any, *, train: bool = True) -> Any:
        self._y = act.tanh(x)
        return self._y

    def backward(self, grad: Any, *, compute_dx: bool = True, overwrite_grad: bool = False) -> Any:
        return act.tanh_backward(grad, self._y)
