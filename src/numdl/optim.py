"""Optimisers (textbook ch. 8): SGD, momentum, Nesterov momentum and AdamW.

An optimiser works over a model's flat :class:`~numdl.params.Parameters` (one fused kernel
call per step for the whole model), or over a dict or list of separate arrays (one call per
array; a ``None`` gradient skips that array, which freezes it). Weight decay applies to
weights only: the decayed prefix of a flat buffer, and arrays that
:func:`~numdl.regularization.is_weight` accepts in a dict (2-D and up in a list).

Learning-rate schedules set :attr:`Optimizer.lr` before each step.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from numdl import ops
from numdl._validation import (
    as_array,
    check_in_range,
    check_int,
    check_positive,
    check_same_dtype,
    check_shape,
)
from numdl.backend import array_module, to_numpy
from numdl.params import Parameters
from numdl.regularization import is_weight

__all__ = ["SGD", "AdamW", "Optimizer", "make_optimizer"]


@dataclass
class _Slot:
    """One array the optimiser updates: its key as given, a label, and how much decays."""

    key: Any  # the dict key or list index, as the caller gave it
    label: str  # str(key): names the slot in messages and in state_dict
    param: Any
    n_decayed: int


class Optimizer:
    """Base class: owns the parameter slots, the step count and the state buffers."""

    #: Names of the state buffers kept per slot (e.g. "velocity").
    state_names: tuple[str, ...] = ()

    def __init__(self, params: Any, *, lr: float, weight_decay: float) -> None:
        self.lr = check_positive(lr, "lr")
        self.weight_decay = check_positive(weight_decay, "weight_decay", allow_zero=True)
        self._source = params
        self._store = params if isinstance(params, Parameters) else None
        self._slots = _make_slots(params)
        self.state: dict[str, dict[str, Any]] = {
            slot.label: {
                name: array_module(slot.param).zeros_like(slot.param) for name in self.state_names
            }
            for slot in self._slots
        }
        self.steps = 0

    def step(self, grads: Any = None) -> None:
        """Apply one update in place.

        Parameters
        ----------
        grads : optional
            For flat :class:`Parameters`, defaults to their gradient buffer. For a dict or
            list of arrays, a dict or list of the same keys/length; ``None`` entries are
            skipped (frozen parameters).
        """
        self.lr = check_positive(self.lr, "lr", allow_zero=True)  # a warm-up may start at 0
        pairs = self._pairs(grads)  # every gradient is checked before anything is written
        self.steps += 1
        for slot, grad in pairs:
            self._update(slot, grad, self.state[slot.label])

    def _update(self, slot: _Slot, grad: Any, state: dict[str, Any]) -> None:
        raise NotImplementedError

    def _pairs(self, grads: Any) -> list[tuple[_Slot, Any]]:
        """(slot, gradient) pairs to update, all validated; ``None`` gradients left out."""
        if self._store is not None:
            given = [(self._slots[0], self._store.grad if grads is None else grads)]
        else:
            if grads is None:
                raise ValueError("grads is required when optimising a dict or list of arrays")
            by_key = isinstance(self._source, Mapping)
            if isinstance(grads, Mapping) != by_key:
                raise TypeError(f"grads must be a {'dict' if by_key else 'list'} like the params")
            keys = [slot.key for slot in self._slots]
            got = list(grads) if by_key else list(range(len(grads)))
            if sorted(map(str, got)) != sorted(map(str, keys)) or len(got) != len(keys):
                raise ValueError(f"grads must have the keys of params {keys}, got {got}")
            given = [(slot, grads[slot.key]) for slot in self._slots]
        pairs = []
        for slot, grad in given:
            if grad is None:
                continue
            name = f"grads[{slot.label}]" if self._store is None else "grad"
            grad = as_array(grad, name)
            check_shape(grad, name, slot.param.shape)
            check_same_dtype(grad, name, slot.param, f"params[{slot.label}]")
            pairs.append((slot, grad))
        return pairs

    # -- checkpointing --------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """Host copies of the step count, learning rate and every state buffer."""
        buffers = {
            f"{key}/{name}": np.array(to_numpy(arr), copy=True)
            for key, s in self.state.items()
            for name, arr in s.items()
        }
        return {"steps": self.steps, "lr": self.lr, "buffers": buffers}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore from :meth:`state_dict`; everything is validated before anything is written."""
        steps = check_int(state.get("steps"), "state['steps']", minimum=0)
        lr = check_positive(state.get("lr"), "state['lr']")
        buffers = state.get("buffers")
        expected = {f"{k}/{n}": arr for k, s in self.state.items() for n, arr in s.items()}
        if not isinstance(buffers, Mapping) or set(buffers) != set(expected):
            got = sorted(buffers) if isinstance(buffers, Mapping) else buffers
            raise ValueError(f"state['buffers'] must hold {sorted(expected)}, got {got}")
        for name, arr in expected.items():
            check_shape(as_array(buffers[name], name), f"state['buffers'][{name!r}]", arr.shape)
        for name, arr in expected.items():
            arr[...] = array_module(arr).asarray(buffers[name], dtype=arr.dtype)
        self.steps, self.lr = steps, lr


def _make_slots(params: Any) -> list[_Slot]:
    if isinstance(params, Parameters):
        return [_Slot("flat", "flat", params.data, params.n_decayed)]
    if isinstance(params, Mapping):
        items = list(params.items())
        decays = [is_weight(str(k), v) for k, v in items]
    elif isinstance(params, Sequence) and not isinstance(params, (str, bytes)):
        items = list(enumerate(params))
        decays = [getattr(v, "ndim", 0) >= 2 for _, v in items]
    else:
        raise TypeError(
            f"params must be Parameters, a dict or a list of arrays, got {type(params).__name__}"
        )
    if not items:
        raise ValueError("params must not be empty")
    slots = []
    for (key, p), decay in zip(items, decays, strict=True):
        p = as_array(p, f"params[{key}]")
        if p.dtype not in (np.float32, np.float64):
            raise TypeError(f"params[{key}] must have dtype float32 or float64, got {p.dtype}")
        slots.append(_Slot(key, str(key), p, p.size if decay else 0))
    return slots


class SGD(Optimizer):
    """SGD θ ← θ − η∇ (eq. 22), with momentum v ← βv + g, θ ← θ − ηv (eqs. 23–24).

    Parameters
    ----------
    params : Parameters, dict or list of arrays
    lr : float > 0
        Learning rate η.
    momentum : float in [0, 1), default 0
        β; 0 is plain SGD.
    nesterov : bool, default False
        Step with βv + g instead of v.
    weight_decay : float >= 0, default 0
        λ of the L2 penalty (λ/2)‖w‖² (eq. 20), added to the weights' gradients (eq. 21).
    """

    state_names = ("velocity",)

    def __init__(
        self,
        params: Any,
        *,
        lr: float,
        momentum: float = 0.0,
        nesterov: bool = False,
        weight_decay: float = 0.0,
    ) -> None:
        self.momentum = check_in_range(momentum, "momentum", 0.0, 1.0)
        if nesterov and self.momentum == 0:
            raise ValueError("nesterov requires momentum > 0")
        self.nesterov = bool(nesterov)
        super().__init__(params, lr=lr, weight_decay=weight_decay)

    def _update(self, slot: _Slot, grad: Any, state: dict[str, Any]) -> None:
        ops.momentum_update(
            slot.param,
            grad,
            state["velocity"],
            lr=self.lr,
            momentum=self.momentum,
            weight_decay=self.weight_decay,
            nesterov=self.nesterov,
            n_decayed=slot.n_decayed,
        )


class AdamW(Optimizer):
    """AdamW: Adam's bias-corrected moments with decoupled weight decay on the weights.

    Parameters
    ----------
    params : Parameters, dict or list of arrays
    lr : float > 0, default 1e-3
    betas : (float, float) in [0, 1), default (0.9, 0.999)
    eps : float > 0, default 1e-8
    weight_decay : float >= 0, default 1e-2
    """

    state_names = ("m", "v")

    def __init__(
        self,
        params: Any,
        *,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
    ) -> None:
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise TypeError(f"betas must be a pair of floats, got {betas!r}")
        self.beta1 = check_in_range(betas[0], "betas[0]", 0.0, 1.0)
        self.beta2 = check_in_range(betas[1], "betas[1]", 0.0, 1.0)
        self.eps = check_positive(eps, "eps")
        super().__init__(params, lr=lr, weight_decay=weight_decay)

    def _update(self, slot: _Slot, grad: Any, state: dict[str, Any]) -> None:
        ops.adamw_update(
            slot.param,
            grad,
            state["m"],
            state["v"],
            lr=self.lr,
            step=self.steps,
            beta1=self.beta1,
            beta2=self.beta2,
            eps=self.eps,
            weight_decay=self.weight_decay,
            n_decayed=slot.n_decayed,
        )


def make_optimizer(name: str, params: Any, *, lr: float, **kwargs: Any) -> Optimizer:
    """An optimiser by name: ``"sgd"``, ``"momentum"``, ``"nesterov"`` or ``"adamw"``.

    ``momentum`` (default 0.9) and ``weight_decay`` are passed on; ``betas``/``eps`` for AdamW.
    """
    if name == "sgd":
        return SGD(params, lr=lr, weight_decay=kwargs.get("weight_decay", 0.0))
    if name in ("momentum", "nesterov"):
        return SGD(
            params,
            lr=lr,
            momentum=kwargs.get("momentum", 0.9),
            nesterov=name == "nesterov",
            weight_decay=kwargs.get("weight_decay", 0.0),
        )
    if name == "adamw":
        extra = {k: kwargs[k] for k in ("betas", "eps", "weight_decay") if k in kwargs}
        return AdamW(params, lr=lr, **extra)
    raise ValueError(
        f"optimizer must be one of 'sgd', 'momentum', 'nesterov', 'adamw', got {name!r}"
    )
