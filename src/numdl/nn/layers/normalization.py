"""Normalisation layers: batch normalisation and layer normalisation (textbook ch. 8.7.1).

- :class:`BatchNorm` normalises each feature over the batch (Ioffe & Szegedy 2015): batch
  statistics in training mode, running averages of them in evaluation mode. γ and β live in
  the model's flat parameter buffer (without weight decay); the running mean and variance
  are the layer's non-trainable state (:meth:`BatchNorm.running_state`), saved in
  checkpoints. Its forward and backward are hot paths (:func:`numdl.core.ops.batchnorm_forward`),
  with the ReLU fused in as in :class:`~numdl.nn.Linear`.
- :class:`LayerNorm` normalises each sample over its features (Ba, Kiros & Hinton 2016),
  the same in training and evaluation; written here with array operations.

Both follow the caching protocol of :mod:`numdl.nn.layers.base`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from numdl.core import backend as _backend
from numdl.core import ops
from numdl.core.backend import to_numpy
from numdl.core.validation import (
    as_array,
    check_bool,
    check_in_range,
    check_int,
    check_positive,
)
from numdl.nn.layers.base import Layer
from numdl.nn.params import Parameters, ParamSpec

__all__ = ["BatchNorm", "LayerNorm"]


class _FeatureAffine:
    """What both normalisations share: F features, γ and β (no weight decay), the ReLU flag.

    A mixin (not a :class:`Layer`), so that every layer class is a public one.
    """

    def __init__(self, num_features: int, *, eps: float = 1e-5, relu: bool = False) -> None:
        self.num_features = check_int(num_features, "num_features", minimum=1)
        self.eps = check_positive(eps, "eps")
        self.relu = check_bool(relu, "relu")

    def __repr__(self) -> str:
        relu = ", relu=True" if self.relu else ""
        return f"{type(self).__name__}({self.num_features}{relu})"

    @property
    def in_width(self) -> int:
        return self.num_features

    def out_width(self, in_width: int | None) -> int:
        return self.num_features

    def param_specs(self, prefix: str) -> list[ParamSpec]:
        return [
            ParamSpec(prefix + "gamma", (self.num_features,), decay=False),
            ParamSpec(prefix + "beta", (self.num_features,), decay=False),
        ]

    def bind(self, params: Parameters, prefix: str) -> None:
        self.gamma, self.beta = params[prefix + "gamma"], params[prefix + "beta"]
        self.dgamma, self.dbeta = params.grad_of(prefix + "gamma"), params.grad_of(prefix + "beta")

    def reset_parameters(self, rng: np.random.Generator) -> None:
        self.gamma[...] = 1
        self.beta[...] = 0

    def _check_input(self, x: Any) -> Any:
        """``x`` as a (B, F) array of this layer's dtype, or the error naming it."""
        return self._check_rows(x, self.num_features, self.__dict__.get("gamma"))

    def _checked_flags(self, compute_dx: Any, overwrite_grad: Any) -> tuple[bool, bool]:
        return check_bool(compute_dx, "compute_dx"), check_bool(overwrite_grad, "overwrite_grad")


class BatchNorm(_FeatureAffine, Layer):
    """Batch normalisation per feature (Ioffe & Szegedy 2015, Alg. 1), ReLU fused when asked.

    Training mode: y = γ (x − μ_B)/√(σ²_B + ε) + β with the batch mean μ_B and biased
    variance σ²_B, and the running estimates updated as in ``torch.nn.BatchNorm1d``:
    μ̂ ← (1 − m) μ̂ + m μ_B, σ̂² ← (1 − m) σ̂² + m σ²_B · B/(B − 1) (the unbiased variance).
    Evaluation mode: y = γ (x − μ̂)/√(σ̂² + ε) + β.

    Backward (training mode), in the compact form of the paper's section 3: with
    x̂ = (x − μ_B)/σ, σ = √(σ²_B + ε), and dy the gradient after the ReLU mask,
    dβ = Σ_i dy_i, dγ = Σ_i dy_i x̂_i, dx = (γ/σ)/B · (B·dy − dβ − x̂·dγ): the chain rule
    through μ_B and σ²_B (both functions of every x_i) collapses to these two column sums.

    Parameters
    ----------
    num_features : int >= 1
    momentum : float in [0, 1], default 0.1
        Weight of the current batch in the running averages.
    eps : float > 0, default 1e-5
    relu : bool, default False
        Apply max(0, ·) in the same pass (the MLP places BatchNorm before its ReLU).

    Raises
    ------
    TypeError, ValueError
        If an argument has the wrong kind or is out of range (the message names it).
    """

    def __init__(
        self, num_features: int, *, momentum: float = 0.1, eps: float = 1e-5, relu: bool = False
    ) -> None:
        super().__init__(num_features, eps=eps, relu=relu)
        self.momentum = check_in_range(momentum, "momentum", 0.0, 1.0, closed="both")

    def bind(self, params: Parameters, prefix: str) -> None:
        super().bind(params, prefix)
        self.running_mean = params.xp.zeros(self.num_features, dtype=params.dtype)
        self.running_var = params.xp.ones(self.num_features, dtype=params.dtype)

    def reset_parameters(self, rng: np.random.Generator) -> None:
        super().reset_parameters(rng)
        self.running_mean[...] = 0
        self.running_var[...] = 1

    # -- the non-trainable state ----------------------------------------------------------
    def running_state(self) -> dict[str, np.ndarray]:
        """Host copies of the running averages: ``running_mean`` and ``running_var``."""
        return {
            "running_mean": np.array(to_numpy(self.running_mean), copy=True),
            "running_var": np.array(to_numpy(self.running_var), copy=True),
        }

    def check_running_state(self, state: Mapping[str, Any]) -> dict[str, np.ndarray]:
        """``state`` (``running_mean``, ``running_var``) checked, as host arrays of this
        layer's dtype; what :meth:`load_running_state` would write.

        Raises
        ------
        TypeError
            If ``state`` is not a mapping or an entry is not a float array.
        ValueError
            If an entry is missing or extra, has the wrong shape, holds NaN/inf (in this
            dtype), or the variance is negative.
        """
        if not isinstance(state, Mapping):
            raise TypeError(f"state must be a dict of arrays by name, got {type(state).__name__}")
        names = ("running_mean", "running_var")
        if set(state) != set(names):
            raise ValueError(
                f"state must hold exactly {list(names)} for {self.describe()}, "
                f"got {sorted(map(str, state))}"
            )
        values = {}
        for name in names:
            arr = as_array(to_numpy(state[name]), name)
            if arr.dtype.kind != "f":
                raise TypeError(f"{name} must be a float array, got dtype {arr.dtype}")
            if arr.shape != (self.num_features,):
                raise ValueError(
                    f"{name} must have shape ({self.num_features},) for {self.describe()}, "
                    f"got {arr.shape}"
                )
            with np.errstate(over="ignore"):
                cast = arr.astype(self.running_mean.dtype)
            if not np.isfinite(cast).all():
                raise ValueError(f"{name} must be finite in {cast.dtype} for {self.describe()}")
            values[name] = cast
        if (values["running_var"] < 0).any():
            raise ValueError(f"running_var must be >= 0 for {self.describe()}")
        return values

    def load_running_state(self, state: Mapping[str, Any]) -> None:
        """Copy ``running_mean`` and ``running_var`` from ``state``, checked in full first
        (:meth:`check_running_state`: nothing is written unless all of it is valid)."""
        values = self.check_running_state(state)
        xp = _backend.current().xp
        self.running_mean[...] = xp.asarray(values["running_mean"])
        self.running_var[...] = xp.asarray(values["running_var"])

    # -- computation ----------------------------------------------------------------------
    def forward(self, x: Any, *, train: bool = True) -> Any:
        """BN(x) (and ReLU) for the batch ``x`` of shape (B, F); see the class docstring.

        Training mode needs B >= 2 (the unbiased variance of the running estimate), updates
        the running averages, returns this layer's reused buffer and keeps what
        :meth:`backward` needs. Evaluation mode uses the running averages and returns a new
        array.
        """
        gamma = self.__dict__.get("gamma")
        if (
            type(x) is not np.ndarray
            or gamma is None
            or x.ndim != 2
            or x.dtype != gamma.dtype
            or x.shape[1] != self.num_features
        ):
            x = self._check_input(x)
        if train is not True and not check_bool(train, "train"):
            xp = _backend.current().xp
            y = (x - self.running_mean) * (self.gamma / xp.sqrt(self.running_var + self.eps))
            y += self.beta
            return xp.maximum(y, 0, out=y) if self.relu else y
        n = x.shape[0]
        if n < 2:
            raise ValueError(
                f"x must hold at least 2 rows in training mode for {self.describe()} (batch "
                f"statistics of one sample are meaningless), got shape {x.shape}"
            )
        x = self.private_input(x)
        f = self.num_features
        out = self.buffer("out", (n, f), x.dtype)
        mean, var = self.buffer("mean", (f,), x.dtype), self.buffer("var", (f,), x.dtype)
        ops.batchnorm_forward(
            x, self.gamma, self.beta, eps=self.eps, relu=self.relu, out=out, mean=mean, var=var
        )
        m = self.momentum
        self.running_mean *= 1 - m
        self.running_mean += m * mean
        self.running_var *= 1 - m
        self.running_var += (m * n / (n - 1)) * var
        self.save_for_backward(x=x, out=out, mean=mean, var=var)
        return out

    def backward(self, grad: Any, *, compute_dx: bool = True, overwrite_grad: bool = False) -> Any:
        """dx from dL/dy ``grad``, writing dγ and dβ (class docstring); dx is this layer's
        reused buffer, or ``grad`` itself when ``overwrite_grad`` lets it be scratch."""
        saved = self.saved_for_backward()
        out = saved["out"]
        compute_dx, overwrite_grad = self._checked_flags(compute_dx, overwrite_grad)
        if type(grad) is not np.ndarray or grad.dtype != out.dtype or grad.shape != out.shape:
            grad = self._check_grad(grad, out)
        grad, scratch = self.take_grad(grad, overwrite_grad)
        dx, _, _ = ops.batchnorm_backward(
            grad,
            saved["x"],
            self.gamma,
            out,
            saved["mean"],
            saved["var"],
            eps=self.eps,
            relu=self.relu,
            dx=None if scratch else self.buffer("dx", out.shape, out.dtype),
            dgamma=self.dgamma,
            dbeta=self.dbeta,
            overwrite_grad=scratch,
        )
        return dx if compute_dx else None


class LayerNorm(_FeatureAffine, Layer):
    """Layer normalisation per sample (Ba, Kiros & Hinton 2016), ReLU fused when asked.

    y_i = γ ⊙ (x_i − μ_i)/σ_i + β with μ_i = (1/F) Σ_j x_ij, σ_i = √((1/F) Σ_j (x_ij − μ_i)²
    + ε): the same computation in training and evaluation.

    Backward: with x̂ = (x − μ)/σ, dy the gradient after the ReLU mask and g = dy ⊙ γ (the
    gradient with respect to x̂), dγ = Σ_i dy_i ⊙ x̂_i, dβ = Σ_i dy_i, and per row
    dx_i = (1/σ_i)/F · (F·g_i − Σ_j g_ij − x̂_i Σ_j g_ij x̂_ij): batch normalisation's compact
    form with the roles of rows and columns exchanged.

    Parameters
    ----------
    num_features : int >= 1
    eps : float > 0, default 1e-5
    relu : bool, default False

    Raises
    ------
    TypeError, ValueError
        If an argument has the wrong kind or is out of range (the message names it).
    """

    def _normalise(self, x: Any, out: Any, xhat: Any, inv_std: Any) -> Any:
        """x̂ = (x − μ)/σ into ``xhat``, 1/σ (B, 1) into ``inv_std``, y = γ x̂ + β into ``out``."""
        xp = _backend.current().xp
        mean = x.mean(axis=1, keepdims=True)
        xp.subtract(x, mean, out=xhat)
        xp.divide(1, xp.sqrt(xp.square(xhat).mean(axis=1, keepdims=True) + self.eps), out=inv_std)
        xhat *= inv_std
        xp.multiply(xhat, self.gamma, out=out)
        out += self.beta
        if self.relu:
            xp.maximum(out, 0, out=out)
        return out

    def forward(self, x: Any, *, train: bool = True) -> Any:
        """LN(x) (and ReLU) for the batch ``x`` of shape (B, F); see the class docstring."""
        x = self._check_input(x)
        xp = _backend.current().xp
        n, f = x.shape
        if train is not True and not check_bool(train, "train"):
            shape = (n, f)
            return self._normalise(
                x, xp.empty(shape, x.dtype), xp.empty(shape, x.dtype), xp.empty((n, 1), x.dtype)
            )
        out = self.buffer("out", (n, f), x.dtype)
        xhat = self.buffer("xhat", (n, f), x.dtype)
        inv_std = self.buffer("inv_std", (n, 1), x.dtype)
        self._normalise(x, out, xhat, inv_std)
        self.save_for_backward(out=out, xhat=xhat, inv_std=inv_std)
        return out

    def backward(self, grad: Any, *, compute_dx: bool = True, overwrite_grad: bool = False) -> Any:
        """dx from dL/dy ``grad``, writing dγ and dβ (class docstring); dx is a reused buffer."""
        saved = self.saved_for_backward()
        out, xhat, inv_std = saved["out"], saved["xhat"], saved["inv_std"]
        compute_dx, overwrite_grad = self._checked_flags(compute_dx, overwrite_grad)
        if type(grad) is not np.ndarray or grad.dtype != out.dtype or grad.shape != out.shape:
            grad = self._check_grad(grad, out)
        xp = _backend.current().xp
        dy = grad * (out > 0) if self.relu else grad
        xp.sum(dy, axis=0, out=self.dbeta)
        xp.sum(dy * xhat, axis=0, out=self.dgamma)
        if not compute_dx:
            return None
        g = dy * self.gamma
        f = out.shape[1]
        dx = self.buffer("dx", out.shape, out.dtype)
        dx[...] = (inv_std / f) * (
            f * g - g.sum(axis=1, keepdims=True) - xhat * (g * xhat).sum(axis=1, keepdims=True)
        )
        return dx
