"""The affine layer Z = XW + b with ReLU fused in (textbook ch. 6, eqs. 13–17)."""

from __future__ import annotations

from typing import Any

import numpy as np

from numdl.core import backend as _backend
from numdl.core import ops
from numdl.core.validation import check_bool, check_int
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

    Raises
    ------
    TypeError
        If a width is not an int, ``relu`` not a bool or ``init`` not a string.
    ValueError
        If a width is < 1 or ``init`` is unknown.
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
        self.relu = check_bool(relu, "relu")
        if not isinstance(init, str):
            raise TypeError(
                f"init must be a string, one of {sorted(INITIALIZERS)}, got {type(init).__name__}"
            )
        if init not in INITIALIZERS:
            raise ValueError(f"init must be one of {sorted(INITIALIZERS)}, got {init!r}")
        self.init = init

    def __repr__(self) -> str:
        relu = ", relu=True" if self.relu else ""
        return f"Linear({self.in_features}, {self.out_features}{relu})"

    @property
    def in_width(self) -> int:
        return self.in_features

    def out_width(self, in_width: int | None) -> int:
        return self.out_features

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

    def _check_input(self, x: Any) -> Any:
        """``x`` as a (B, in_features) array of this layer's dtype, or the error naming it."""
        return self._check_rows(x, self.in_features, self.__dict__.get("W"))

    def forward(self, x: Any, *, train: bool = True) -> Any:
        """H = XW + b, or ReLU(XW + b) (eqs. 13, 17), for the batch ``x`` of shape (B, D_in).

        In training mode the output is this layer's reused buffer (copy it to keep it); ``x``
        and the output are kept for :meth:`backward`.
        """
        w = self.__dict__.get("W")
        if (  # the common case, decided without a call; anything else is checked in full
            type(x) is not np.ndarray
            or w is None
            or x.ndim != 2
            or x.dtype != w.dtype
            or x.shape[1] != self.in_features
        ):
            x = self._check_input(x)
            w = self.W
        if train is not True and not check_bool(train, "train"):
            return ops.linear_forward(x, w, self.b, relu=self.relu)
        x = self.private_input(x)
        out = self.buffer("out", (x.shape[0], self.out_features), w.dtype)
        ops.linear_forward(x, w, self.b, relu=self.relu, out=out)
        self.save_for_backward(x=x, out=out)  # and the parameters' generation (Layer)
        return out

    def backward(self, grad: Any, *, compute_dx: bool = True, overwrite_grad: bool = False) -> Any:
        """dX (eq. 14) from dL/dH ``grad``, writing dW and db (eqs. 15–16) into the gradients.

        ``compute_dx=False`` skips dX (returns ``None``); ``overwrite_grad`` lets ``grad`` be
        used as scratch. dX is this layer's reused buffer.
        """
        saved = self.saved_for_backward()
        x, out = saved["x"], saved["out"]
        if compute_dx is not True and compute_dx is not False:
            compute_dx = check_bool(compute_dx, "compute_dx")
        if overwrite_grad is not True and overwrite_grad is not False:
            overwrite_grad = check_bool(overwrite_grad, "overwrite_grad")
        if type(grad) is not np.ndarray or grad.dtype != out.dtype or grad.shape != out.shape:
            grad = self._check_grad(grad, out)
        grad, scratch = self.take_grad(grad, overwrite_grad)
        dx = self.buffer("dx", x.shape, out.dtype) if compute_dx else None
        ops.linear_backward(
            grad,
            x,
            self.W,
            out,
            relu=self.relu,
            compute_dx=compute_dx,
            dx=dx,
            dw=self.dW,
            db=self.db,
            overwrite_grad=scratch,
        )
        return dx
