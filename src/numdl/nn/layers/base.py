"""Layers with hand-written backward passes (textbook ch. 6, eqs. 13–17).

A layer declares its parameters (:meth:`Layer.param_specs`) and is then bound to views
into its model's flat :class:`~numdl.nn.params.Parameters` buffer. ``forward`` keeps what
``backward`` needs; ``backward`` writes parameter gradients into the gradient buffer
(overwriting, not accumulating) and returns dL/dx.

In training mode (``train=True``) outputs and input-gradients are buffers reused from one
call to the next, so a training loop allocates nothing per step: copy a result to keep it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from numdl.nn.params import Parameters, ParamSpec

__all__ = ["Layer"]


class Layer:
    """Base class: a layer without parameters whose forward is the identity."""

    def param_specs(self, prefix: str) -> list[ParamSpec]:
        """The parameters this layer owns, named with ``prefix``."""
        return []

    def bind(self, params: Parameters, prefix: str) -> None:
        """Take views of this layer's parameters and gradients from ``params``."""

    def reset_parameters(self, rng: np.random.Generator) -> None:
        """(Re-)initialise this layer's parameters in place."""

    def forward(self, x: Any, *, train: bool = True) -> Any:
        return x

    def backward(self, grad: Any, *, compute_dx: bool = True, overwrite_grad: bool = False) -> Any:
        return grad
