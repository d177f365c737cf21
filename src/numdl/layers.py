"""Layers with hand-written backward passes (textbook ch. 6, eqs. 13–17).

A layer declares its parameters (:meth:`Layer.param_specs`) and is then bound to views
into its model's flat :class:`~numdl.params.Parameters` buffer. ``forward`` keeps what
``backward`` needs; ``backward`` writes parameter gradients into the gradient buffer
(overwriting, not accumulating) and returns dL/dx.

In training mode (``train=True``) outputs and input-gradients are buffers reused from one
call to the next, so a training loop allocates nothing per step: copy a result to keep it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from numdl import activations as act
from numdl import backend as _backend
from numdl import ops
from numdl._validation import as_array, check_int, check_ndim
from numdl.init import INITIALIZERS
from numdl.params import Parameters, ParamSpec

__all__ = ["Layer", "LeakyReLU", "Linear", "ReLU", "Sequential", "Sigmoid", "Tanh"]


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


class Linear(Layer):
    """Affine layer Z = XW + b (eq. 13), with the ReLU (eq. 17) fused in when asked.

    Parameters
    ----------
    in_features, out_features : int
    relu : bool, default False
        Apply ReLU in the same pass (the kernels fuse bias and activation).
    init : str, default "glorot_uniform"
        Weight initialiser from :data:`numdl.init.INITIALIZERS`; biases start at zero.
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        relu: bool = False,
        init: str = "glorot_uniform",
    ) -> None:
        self.in_features = check_int(in_features, "in_features", minimum=1)
        self.out_features = check_int(out_features, "out_features", minimum=1)
        if init not in INITIALIZERS:
            raise ValueError(f"init must be one of {sorted(INITIALIZERS)}, got {init!r}")
        self.relu = bool(relu)
        self.init = init
        self._x: Any = None
        self._out: Any = None
        self._dx: Any = None

    def param_specs(self, prefix: str) -> list[ParamSpec]:
        return [
            ParamSpec(prefix + "W", (self.in_features, self.out_features), decay=True),
            ParamSpec(prefix + "b", (self.out_features,), decay=False),
        ]

    def bind(self, params: Parameters, prefix: str) -> None:
        self.W, self.b = params[prefix + "W"], params[prefix + "b"]
        self.dW, self.db = params.grad_of(prefix + "W"), params.grad_of(prefix + "b")

    def reset_parameters(self, rng: np.random.Generator) -> None:
        shape = (self.in_features, self.out_features)
        self.W[...] = _backend.current().xp.asarray(
            INITIALIZERS[self.init](shape, rng, self.W.dtype)
        )
        self.b[...] = 0

    def forward(self, x: Any, *, train: bool = True) -> Any:
        if not train:
            return ops.linear_forward(x, self.W, self.b, relu=self.relu)
        shape = (x.shape[0], self.out_features) if getattr(x, "ndim", 0) == 2 else None
        if shape is not None and (self._out is None or self._out.shape != shape):
            self._out = _backend.current().xp.empty(shape, dtype=self.W.dtype)
        self._x = x
        return ops.linear_forward(x, self.W, self.b, relu=self.relu, out=self._out)

    def backward(self, grad: Any, *, compute_dx: bool = True, overwrite_grad: bool = False) -> Any:
        if self._x is None:
            raise RuntimeError("Linear.backward called before a training-mode forward")
        if compute_dx and (self._dx is None or self._dx.shape != self._x.shape):
            self._dx = _backend.current().xp.empty(self._x.shape, dtype=self.W.dtype)
        dx, _, _ = ops.linear_backward(
            grad,
            self._x,
            self.W,
            self._out,
            relu=self.relu,
            compute_dx=compute_dx,
            dx=self._dx if compute_dx else None,
            dw=self.dW,
            db=self.db,
            overwrite_grad=overwrite_grad,
        )
        return dx


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


class Sequential(Layer):
    """Layers applied in order, owning all their parameters in one flat buffer.

    Parameters
    ----------
    layers : sequence of Layer
    dtype : float32 or float64, default float32
    seed : int or numpy Generator, default 0
        Seeds the parameter initialisation.

    Attributes
    ----------
    params : Parameters
        Every parameter, named ``"layer{i}.W"`` / ``"layer{i}.b"``, with its gradient
        (``params.grad``, written by :meth:`backward`).
    """

    def __init__(self, layers: Sequence[Layer], *, dtype: Any = np.float32, seed: Any = 0) -> None:
        self.layers = list(layers)
        if not self.layers or not all(isinstance(layer, Layer) for layer in self.layers):
            raise TypeError("layers must be a non-empty sequence of Layer objects")
        prefixes = [f"layer{i}." for i in range(len(self.layers))]
        specs = [
            s for layer, p in zip(self.layers, prefixes, strict=True) for s in layer.param_specs(p)
        ]
        self.params = Parameters(specs, dtype=dtype)
        for layer, prefix in zip(self.layers, prefixes, strict=True):
            layer.bind(self.params, prefix)
        self.reset_parameters(
            seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
        )

    @property
    def dtype(self) -> np.dtype:
        return self.params.dtype

    def reset_parameters(self, rng: np.random.Generator) -> None:
        for layer in self.layers:
            layer.reset_parameters(rng)

    def forward(self, x: Any, *, train: bool = True) -> Any:
        """Logits (or outputs) for the batch ``x`` of shape (B, D_in)."""
        x = as_array(x, "x")
        check_ndim(x, "x", 2)
        for layer in self.layers:
            x = layer.forward(x, train=train)
        return x

    __call__ = forward

    def backward(self, grad: Any, *, compute_dx: bool = False, overwrite_grad: bool = False) -> Any:
        """Back-propagate dL/doutput, writing every parameter gradient into ``params.grad``.

        The first layer skips dX unless ``compute_dx``; ``overwrite_grad`` lets the loss
        gradient buffer be reused as scratch (inner gradients always are).
        """
        last = len(self.layers) - 1
        for i in range(last, -1, -1):
            grad = self.layers[i].backward(
                grad,
                compute_dx=compute_dx or i > 0,
                overwrite_grad=overwrite_grad or i < last,
            )
        return grad

    def predict_proba(self, x: Any, *, batch_size: int = 8192) -> Any:
        """Softmax probabilities, evaluated in large batches without backward caches."""
        return ops.softmax(self.predict_logits(x, batch_size=batch_size), axis=-1)

    def predict_logits(self, x: Any, *, batch_size: int = 8192) -> Any:
        """Outputs for ``x`` in evaluation mode, ``batch_size`` rows at a time."""
        x = as_array(x, "x")
        check_ndim(x, "x", 2)
        batch_size = check_int(batch_size, "batch_size", minimum=1)
        xp = _backend.current().xp
        parts = [
            self.forward(x[i : i + batch_size], train=False)
            for i in range(0, x.shape[0], batch_size)
        ]
        return xp.concatenate(parts) if len(parts) > 1 else parts[0]

    def predict(self, x: Any, *, batch_size: int = 8192) -> Any:
        """Predicted class indices argmax_j logits_ij."""
        return self.predict_logits(x, batch_size=batch_size).argmax(axis=1)
