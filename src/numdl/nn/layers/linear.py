"""The affine layer Z = XW + b with ReLU fused in (textbook ch. 6, eqs. 13–17)."""

from __future__ import annotations

from typing import Any

import numpy as np

from numdl.core import backend as _backend
from numdl.core import ops
from numdl.core.validation import check_int
from numdl.nn.init import INITIALIZERS
from numdl.nn.layers.base import Layer
from numdl.nn.params import Parameters, ParamSpec

__all__ = ["Linear"]


class Linear(Layer):
    """Affine layer Z = XW + b (eq. 13), with the ReLU (eq. 17) fused in when asked.

    Parameters
    ----------
    in_features, out_features : int
    relu : bool, default False
        Apply ReLU in the same pass (the kernels fuse bias and activation).
    init : str, default "glorot_uniform"
        Weight initialiser from :data:`numdl.nn.init.INITIALIZERS`; biases start at zero.
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
