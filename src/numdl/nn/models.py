"""Networks: :class:`Sequential`, layers composed over one flat parameter buffer, and the
textbook report's multilayer perceptron :class:`MLP` (eqs. 26–27) for any depth.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import numpy as np

from numdl.core import backend as _backend
from numdl.core.ops import softmax
from numdl.core.validation import as_array, check_int, check_ndim
from numdl.nn.layers.activation import LeakyReLU, Sigmoid, Tanh
from numdl.nn.layers.base import Layer
from numdl.nn.layers.linear import Linear
from numdl.nn.params import Parameters

__all__ = ["ACTIVATIONS", "MLP", "Sequential"]


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
        return softmax(self.predict_logits(x, batch_size=batch_size), axis=-1)

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


#: Hidden activations an MLP can use; "relu" is fused into the linear kernels.
ACTIVATIONS: dict[str, type[Layer] | None] = {
    "relu": None,
    "leaky_relu": LeakyReLU,
    "sigmoid": Sigmoid,
    "tanh": Tanh,
}


class MLP(Sequential):
    """h_k = act(h_{k−1} W_k + b_k) for the hidden layers, logits = h W_out + b_out.

    With ``sizes=(784, 512, 10)`` this is the report's MNIST model (eqs. 26–27).

    Parameters
    ----------
    sizes : sequence of int
        Layer widths from input to output, at least two.
    activation : {"relu", "leaky_relu", "sigmoid", "tanh"}, default "relu"
    init : str, default "glorot_uniform"
    dtype : float32 or float64, default float32
    seed : int or numpy Generator, default 0
    """

    def __init__(
        self,
        sizes: Sequence[int],
        *,
        activation: str = "relu",
        init: str = "glorot_uniform",
        dtype: Any = np.float32,
        seed: Any = 0,
    ) -> None:
        sizes = [check_int(s, "sizes[i]", minimum=1) for s in sizes]
        if len(sizes) < 2:
            raise ValueError(f"sizes must list at least an input and an output width, got {sizes}")
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}")
        layers: list[Layer] = []
        n_linear = len(sizes) - 1
        for i, (d_in, d_out) in enumerate(itertools.pairwise(sizes)):
            hidden = i < n_linear - 1
            layers.append(Linear(d_in, d_out, relu=hidden and activation == "relu", init=init))
            standalone = ACTIVATIONS[activation]
            if hidden and standalone is not None:
                layers.append(standalone())
        super().__init__(layers, dtype=dtype, seed=seed)
        self.config = {
            "sizes": sizes,
            "activation": activation,
            "init": init,
            "dtype": np.dtype(dtype).name,
        }

    def __repr__(self) -> str:
        sizes = "-".join(str(s) for s in self.config["sizes"])
        return f"MLP({sizes}, activation={self.config['activation']!r}, dtype={self.dtype})"
