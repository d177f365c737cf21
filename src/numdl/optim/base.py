"""The optimiser base class (textbook ch. 8): parameter slots, step count, state buffers.

An optimiser works over a model's flat :class:`~numdl.nn.params.Parameters` (one fused kernel
call per step for the whole model), or over a dict or list of separate arrays (one call per
array; a ``None`` gradient skips that array, which freezes it). Weight decay applies to
weights only: the decayed prefix of a flat buffer, and arrays that
:func:`~numdl.nn.regularization.is_weight` accepts in a dict (2-D and up in a list).

Learning-rate schedules set :attr:`Optimizer.lr` before each step.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from numdl.core.backend import array_module, to_numpy
from numdl.core.validation import (
    as_array,
    check_int,
    check_positive,
    check_same_dtype,
    check_shape,
)
from numdl.nn.params import Parameters
from numdl.nn.regularization import is_weight

__all__ = ["Optimizer", "Slot"]


@dataclass
class Slot:
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

    def _update(self, slot: Slot, grad: Any, state: dict[str, Any]) -> None:
        raise NotImplementedError

    def _pairs(self, grads: Any) -> list[tuple[Slot, Any]]:
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


def _make_slots(params: Any) -> list[Slot]:
    if isinstance(params, Parameters):
        return [Slot("flat", "flat", params.data, params.n_decayed)]
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
        slots.append(Slot(key, str(key), p, p.size if decay else 0))
    return slots
