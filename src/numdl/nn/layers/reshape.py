"""Reshaping layers: :class:`Flatten` and :class:`Unflatten`, free views both ways.

They move no numbers, so their backward is the inverse reshape of the gradient (a view
when it is contiguous) and they save only the input's shape; the arrays they return live
in the memory of their input (or gradient), whose write generations the other layers
check (:mod:`numdl.nn.buffers`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from numdl.core.validation import as_array, check_bool, check_int, check_ndim, is_sequence
from numdl.nn.layers.base import Layer, Shape, format_shape

__all__ = ["Flatten", "Unflatten"]


class Flatten(Layer):
    """y[b] = x[b].ravel(): (B, C, H, W) (or any (B, ...)) to (B, C·H·W), a view."""

    def __repr__(self) -> str:
        return "Flatten()"

    def out_width(self, in_width: int | None) -> int | None:
        return in_width

    def out_shape(self, in_shape: Shape | None) -> Shape | None:
        if in_shape is None or any(s is None for s in in_shape):
            return None
        return (math.prod(in_shape),)

    def forward(self, x: Any, *, train: bool = True) -> Any:
        """``x.reshape(B, -1)`` (a view of ``x`` when it is C-contiguous)."""
        if type(x) is not np.ndarray or x.ndim < 2:
            x = as_array(x, "x")
            if x.ndim < 2:
                raise ValueError(
                    f"x must be at least 2-D (B, ...) for {self.describe()}, got shape "
                    f"{x.shape} ({x.ndim}-D)"
                )
        if train is not True and not check_bool(train, "train"):
            return x.reshape(x.shape[0], -1)
        self.save_for_backward(x_shape=x.shape)  # no array: only the shape to restore
        return x.reshape(x.shape[0], -1)

    def backward(self, grad: Any, *, compute_dx: bool = True, overwrite_grad: bool = False) -> Any:
        """dL/dx = dL/dy reshaped to the last input's shape (a view when contiguous)."""
        x_shape = self.saved_for_backward()["x_shape"]
        compute_dx = check_bool(compute_dx, "compute_dx")
        check_bool(overwrite_grad, "overwrite_grad")
        grad = _check_view_grad(self, grad, (x_shape[0], math.prod(x_shape[1:])))
        return grad.reshape(x_shape) if compute_dx else None


class Unflatten(Layer):
    """y[b] = x[b].reshape(shape): (B, prod(shape)) to (B, *shape), a view.

    Parameters
    ----------
    shape : sequence of int >= 1
        The per-sample output shape, e.g. ``(1, 28, 28)`` for flat MNIST rows.

    Raises
    ------
    TypeError
        If ``shape`` is not a sequence of ints.
    ValueError
        If ``shape`` is empty or has an entry < 1.
    """

    def __init__(self, shape: Sequence[int]) -> None:
        if not is_sequence(shape):
            raise TypeError(
                f"shape must be a sequence of ints (the per-sample output shape), "
                f"got {type(shape).__name__}"
            )
        sizes = tuple(check_int(s, f"shape[{i}]", minimum=1) for i, s in enumerate(shape))
        if not sizes:
            raise ValueError("shape must not be empty: give the per-sample output shape")
        self.shape = sizes
        self.n_features = math.prod(sizes)

    def __repr__(self) -> str:
        return f"Unflatten({self.shape})"

    @property
    def in_width(self) -> int:
        return self.n_features

    def out_width(self, in_width: int | None) -> int | None:
        return self.shape[0] if len(self.shape) == 1 else None

    def out_shape(self, in_shape: Shape | None) -> Shape:
        return self.shape

    def forward(self, x: Any, *, train: bool = True) -> Any:
        """``x.reshape(B, *shape)`` (a view of ``x`` when it is C-contiguous)."""
        if type(x) is not np.ndarray or x.ndim != 2 or x.shape[1] != self.n_features:
            x = as_array(x, "x")
            check_ndim(x, "x", 2)
            if x.shape[1] != self.n_features:
                raise ValueError(
                    f"x must have shape (B, {self.n_features}) for {self.describe()} (it "
                    f"takes {self.n_features} features, {format_shape(self.shape)} per "
                    f"sample), got {x.shape}"
                )
        if train is not True and not check_bool(train, "train"):
            return x.reshape(x.shape[0], *self.shape)
        self.save_for_backward(batch=x.shape[0])
        return x.reshape(x.shape[0], *self.shape)

    def backward(self, grad: Any, *, compute_dx: bool = True, overwrite_grad: bool = False) -> Any:
        """dL/dx = dL/dy reshaped to (B, prod(shape)) (a view when contiguous)."""
        batch = self.saved_for_backward()["batch"]
        compute_dx = check_bool(compute_dx, "compute_dx")
        check_bool(overwrite_grad, "overwrite_grad")
        grad = _check_view_grad(self, grad, (batch, *self.shape))
        return grad.reshape(batch, self.n_features) if compute_dx else None


def _check_view_grad(layer: Layer, grad: Any, shape: tuple[int, ...]) -> Any:
    """``grad`` as a floating array of the last output's ``shape``, or the error naming it."""
    if type(grad) is not np.ndarray or grad.shape != shape or grad.dtype.kind != "f":
        grad = as_array(grad, "grad")
        if grad.dtype.kind != "f":
            raise TypeError(f"grad must have dtype float32 or float64, got {grad.dtype}")
        if grad.shape != shape:
            raise ValueError(
                f"grad must have shape {shape} (the shape of the last training-mode output "
                f"of {layer.describe()}), got {grad.shape}"
            )
    return grad
