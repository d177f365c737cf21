"""The multilayer perceptron of the textbook report (eqs. 26–27), for any depth."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import numpy as np

from numdl._validation import check_int
from numdl.layers import Layer, LeakyReLU, Linear, Sequential, Sigmoid, Tanh

__all__ = ["ACTIVATIONS", "MLP"]

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
