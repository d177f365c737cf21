"""Element-wise activation layers: ReLU, Leaky ReLU, sigmoid, tanh (textbook ch. 6).

Each keeps what its backward needs through :meth:`Layer.save_for_backward` in training mode
only, so evaluation (``train=False``, e.g. ``predict``) never replaces a training cache.
"""

from __future__ import annotations

from typing import Any

from numdl.core.validation import check_bool, check_positive
from numdl.nn import activations as act
from numdl.nn.layers.base import Layer

__all__ = ["LeakyReLU", "ReLU", "Sigmoid", "Tanh"]


class ReLU(Layer):
    """Standalone ReLU layer (eq. 17); :class:`Linear` fuses it when ``relu=True``."""

    elementwise = True

    def forward(self, x: Any, *, train: bool = True) -> Any:
        y, mask = act.relu(x)
        if check_bool(train, "train"):
            self.save_for_backward(mask=mask)
        return y

    def backward(self, grad: Any, *, compute_dx: bool = True, overwrite_grad: bool = False) -> Any:
        return act.relu_backward(grad, self.saved_for_backward()["mask"])


class LeakyReLU(Layer):
    """Leaky ReLU layer: x for x > 0, ``slope``·x otherwise (``slope`` ≥ 0)."""

    elementwise = True

    def __init__(self, slope: float = 0.01) -> None:
        self.slope = check_positive(slope, "slope", allow_zero=True)

    def __repr__(self) -> str:
        return f"LeakyReLU({self.slope})"

    def forward(self, x: Any, *, train: bool = True) -> Any:
        y = act.leaky_relu(x, self.slope)
        if check_bool(train, "train"):
            self.save_for_backward(x=x)
        return y

    def backward(self, grad: Any, *, compute_dx: bool = True, overwrite_grad: bool = False) -> Any:
        return act.leaky_relu_backward(grad, self.saved_for_backward()["x"], self.slope)


class Sigmoid(Layer):
    """Logistic sigmoid layer σ(x) = 1/(1 + e⁻ˣ)."""

    elementwise = True

    def forward(self, x: Any, *, train: bool = True) -> Any:
        y = act.sigmoid(x)
        if check_bool(train, "train"):
            self.save_for_backward(y=y)
        return y

    def backward(self, grad: Any, *, compute_dx: bool = True, overwrite_grad: bool = False) -> Any:
        return act.sigmoid_backward(grad, self.saved_for_backward()["y"])


class Tanh(Layer):
    """Hyperbolic tangent layer."""

    elementwise = True

    def forward(self, x: Any, *, train: bool = True) -> Any:
        y = act.tanh(x)
        if check_bool(train, "train"):
            self.save_for_backward(y=y)
        return y

    def backward(self, grad: Any, *, compute_dx: bool = True, overwrite_grad: bool = False) -> Any:
        return act.tanh_backward(grad, self.saved_for_backward()["y"])
