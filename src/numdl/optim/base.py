"""The optimiser base class (textbook ch. 8): parameter slots, step count, state buffers.

An optimiser works over a model's flat :class:`~numdl.nn.params.Parameters` (one fused kernel
call per step for the whole model), or over a dict or list of separate arrays (one call per
array; a ``None`` gradient skips that array, which freezes it). Weight decay applies to
weights only: the decayed prefix of a flat buffer, and arrays that
:func:`~numdl.nn.regularization.is_weight` accepts in a dict (2-D and up in a list).

Learning-rate schedules set :attr:`Optimizer.lr` before each step.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from numdl.core.backend import array_module, to_numpy
from numdl.core.ops.optim import MAX_STEP
from numdl.core.validation import (
    as_array,
    check_in_range,
    check_int,
    check_no_overlap,
    check_positive,
    check_representable,
    check_same_dtype,
    check_shape,
    check_writeable_contiguous,
    finite_copy,
)
from numdl.nn.buffers import mark_written
from numdl.nn.params import Parameters
from numdl.nn.regularization import is_weight

__all__ = ["Optimizer", "Slot"]


@dataclass
class Slot:
    """One array the optimiser updates: its key as given, a label, and how much decays."""

    key: Any  # the dict key or list index, as the caller gave it
    label: str  # str(key): the slot's key in ``state`` and in state_dict
    param: Any
    n_decayed: int
    flat: bool = False  # the one slot of a flat Parameters buffer
    #: How messages name the parameter and its gradient: ``params['b.W']``/``grads['b.W']``,
    #: ``params[0]``/``grads[0]``, or ``params.data``/``grads`` for a flat buffer.
    name: str = field(init=False)
    grad_name: str = field(init=False)

    def __post_init__(self) -> None:
        self.name = "params.data" if self.flat else f"params[{self.key!r}]"
        self.grad_name = "grads" if self.flat else f"grads[{self.key!r}]"

    def state_name(self, name: str) -> str:
        """How messages name its state buffer ``name``: ``state['b.W']['velocity']``."""
        return f"state[{self.label!r}][{name!r}]"


class Optimizer:
    """Base class: owns the parameter slots, the step count and the state buffers.

    Every public call is transactional: :meth:`step` and :meth:`load_state_dict` check every
    slot, gradient, state buffer and hyperparameter first, and write nothing when one is
    rejected (the error names the slot, e.g. ``params['b.W']``).
    """

    #: Names of the state buffers kept per slot (e.g. "velocity").
    state_names: tuple[str, ...] = ()
    #: The largest step count (AdamW's kernels take it as a signed 64-bit integer).
    max_steps: int = MAX_STEP

    def __init__(self, params: Any, *, lr: float, weight_decay: float) -> None:
        self.lr = check_positive(lr, "lr")
        self.weight_decay = check_positive(weight_decay, "weight_decay", allow_zero=True)
        self._source = params
        self._store = params if isinstance(params, Parameters) else None
        self._slots = _make_slots(params)
        self._dtypes = tuple({slot.param.dtype: None for slot in self._slots})
        self._hyper_checks = self._hyperparameter_checks()
        self._hyper_cache: dict[str, tuple[Any, Any]] = {}  # attribute → (as set, as checked)
        self._validated: tuple[list[Any], list[tuple[int, ...]]] = ([], [])
        self._hyperparameters()  # the values must also be representable in every slot's dtype
        self.state: dict[str, dict[str, Any]] = {
            slot.label: {
                name: array_module(slot.param).zeros_like(slot.param) for name in self.state_names
            }
            for slot in self._slots
        }
        self.steps = 0

    # -- hyperparameters ------------------------------------------------------------------
    def _hyperparameter_checks(self) -> list[tuple[str, str, Callable[[Any, str], Any]]]:
        """``(attribute, name in messages, check)`` per hyperparameter; subclasses extend it.

        ``check(value, name)`` returns the checked value: in range, and representable in
        every slot's dtype (the kernels compute in it), e.g. :meth:`_non_negative`.
        """
        return [
            ("lr", "lr", self._non_negative),  # >= 0: a warm-up starts at 0 (eq. 25)
            ("weight_decay", "weight_decay", self._non_negative),
        ]

    def _check_combination(self, values: dict[str, Any]) -> None:
        """Subclass hook: constraints between hyperparameters, each already checked."""

    def _hyperparameters(self) -> dict[str, Any]:
        """Every hyperparameter as set now, checked (a value checked before is not rechecked:
        a schedule changes ``lr`` each step, the others stay the same objects)."""
        cache = self._hyper_cache
        values: dict[str, Any] = {}
        fresh: dict[str, tuple[Any, Any]] = {}
        for attr, name, check in self._hyper_checks:
            raw = getattr(self, attr)
            hit = cache.get(attr)
            if hit is not None and hit[0] is raw:
                values[name] = hit[1]
                continue
            values[name] = check(raw, name)
            fresh[attr] = (raw, values[name])
        self._check_combination(values)
        cache.update(fresh)
        return values

    def _fits(self, value: float, name: str, *, nonzero: bool = False) -> None:
        """:func:`check_representable` in every slot's dtype (values between 1e-30 and 1e30
        in magnitude, and 0, fit float32 and float64: decided without a NumPy cast)."""
        if value == 0 or 1e-30 < abs(value) < 1e30:
            return
        for dtype in self._dtypes:
            check_representable(value, name, dtype, nonzero=nonzero)

    def _non_negative(self, value: Any, name: str) -> float:
        """A finite real >= 0 that stays finite in every slot's dtype."""
        value = check_positive(value, name, allow_zero=True)
        self._fits(value, name)
        return value

    def _positive(self, value: Any, name: str) -> float:
        """A finite real > 0 that stays finite and non-zero in every slot's dtype."""
        value = check_positive(value, name)
        self._fits(value, name, nonzero=True)
        return value

    def _unit(self, value: Any, name: str) -> float:
        """A real in [0, 1) that stays below 1 in every slot's dtype (0.99999999 is 1.0 in
        float32: momentum 1 never forgets, and AdamW's bias correction 1 − βᵗ is 0)."""
        value = check_in_range(value, name, 0.0, 1.0)
        if value > 0.9999999:  # only this close to 1 does a float32 round up to 1
            for dtype in self._dtypes:
                if dtype.type(value) >= 1:
                    below = float(np.nextafter(dtype.type(1), dtype.type(0)))
                    raise ValueError(
                        f"{name}={value} rounds to 1 in {dtype}, outside [0, 1); "
                        f"use a value <= {below}"
                    )
        return value

    # -- the update -----------------------------------------------------------------------
    def step(self, grads: Any = None) -> None:
        """Apply one update in place.

        Parameters
        ----------
        grads : optional
            For flat :class:`Parameters`, defaults to their gradient buffer. For a dict or
            list of arrays, a dict or list of the same keys/length; ``None`` entries are
            skipped (frozen parameters).

        Raises
        ------
        TypeError, ValueError
            If a gradient, parameter, state buffer, hyperparameter or the step count is
            invalid; the message names the slot. Nothing is written then: no parameter,
            state buffer or step count changes.
        """
        steps = check_int(self.steps, "steps", minimum=0, maximum=self.max_steps - 1)
        hyper = self._hyperparameters()
        pairs = self._pairs(grads)  # every slot is checked before anything is written
        for slot, _ in pairs:
            mark_written(slot.param, "an optimiser step", self)
        self.steps = steps + 1
        self.lr = hyper["lr"]
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
            if isinstance(grads, Mapping) != by_key or (
                not by_key and not isinstance(grads, Sequence)
            ):
                raise TypeError(f"grads must be a {'dict' if by_key else 'list'} like the params")
            keys = [slot.key for slot in self._slots]
            got = list(grads) if by_key else list(range(len(grads)))
            if sorted(map(str, got)) != sorted(map(str, keys)) or len(got) != len(keys):
                raise ValueError(f"grads must have the keys of params {keys}, got {got}")
            given = [(slot, grads[slot.key]) for slot in self._slots]
        pairs = [(slot, grad) for slot, grad in given if grad is not None]
        # the same array objects, of the same shapes, as at the last step (a model's flat
        # buffers): shapes, dtypes and overlaps cannot have changed, only the flags
        arrays = [a for slot, grad in pairs for a in (slot.param, grad, *self._state_of(slot))]
        last, shapes = self._validated
        if (
            len(last) == len(arrays)
            and all(a is b for a, b in zip(last, arrays, strict=True))
            and all(a.shape == s for a, s in zip(arrays, shapes, strict=True))
        ):
            for slot, _ in pairs:
                check_writeable_contiguous(slot.param, slot.name)
                for name, buf in self.state[slot.label].items():
                    check_writeable_contiguous(buf, slot.state_name(name))
            return pairs
        checked = []
        outputs: dict[str, Any] = {}
        inputs: dict[str, Any] = {}
        for slot, grad in pairs:
            grad = as_array(grad, slot.grad_name)
            check_shape(grad, slot.grad_name, slot.param.shape)
            check_same_dtype(grad, slot.grad_name, slot.param, slot.name)
            check_writeable_contiguous(slot.param, slot.name)
            state = self.state.get(slot.label)
            if not isinstance(state, dict) or set(state) != set(self.state_names):
                raise ValueError(
                    f"state[{slot.label!r}] must hold the buffers {list(self.state_names)} of "
                    f"{slot.name}, got {state if not isinstance(state, dict) else list(state)}"
                )
            outputs[slot.name] = slot.param
            for name, buf in state.items():
                label = slot.state_name(name)
                buf = as_array(buf, label)
                check_shape(buf, label, slot.param.shape)
                check_same_dtype(buf, label, slot.param, slot.name)
                check_writeable_contiguous(buf, label)
                outputs[label] = buf
            inputs[slot.grad_name] = grad
            checked.append((slot, grad))
        # written arrays must not share memory with each other or with any gradient
        check_no_overlap(outputs, inputs)
        validated = [a for s, g in checked for a in (s.param, g, *self._state_of(s))]
        if all(a is b for a, b in zip(arrays, validated, strict=True)):  # nothing converted
            self._validated = (arrays, [a.shape for a in arrays])
        return checked

    def _state_of(self, slot: Slot) -> list[Any]:
        state = self.state.get(slot.label)
        return list(state.values()) if isinstance(state, dict) else [state]

    # -- checkpointing --------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """Host copies of the step count, learning rate and every state buffer."""
        buffers = {
            f"{key}/{name}": np.array(to_numpy(arr), copy=True)
            for key, s in self.state.items()
            for name, arr in s.items()
        }
        return {"steps": self.steps, "lr": self.lr, "buffers": buffers}

    def _check_state_buffer(self, slot: Slot, name: str, value: Any, label: str) -> None:
        """Subclass hook: reject a loaded state buffer whose values this optimiser cannot use."""

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore from :meth:`state_dict`; everything is validated before anything is written.

        ``steps`` must be an int >= 0, ``lr`` a real >= 0 (0 too: a warm-up starts there),
        every buffer a numeric array of its slot's shape whose values are finite and stay
        finite in the slot's dtype.

        Raises
        ------
        TypeError, ValueError
            For the first invalid entry (named in the message); every buffer, ``steps`` and
            ``lr`` are then exactly as they were.
        """
        if not isinstance(state, Mapping):
            raise TypeError(
                f"state must be a dict as returned by state_dict(), got {type(state).__name__}"
            )
        steps = check_int(state.get("steps"), "state['steps']", minimum=0, maximum=self.max_steps)
        lr = self._non_negative(state.get("lr"), "state['lr']")
        buffers = state.get("buffers")
        expected = {
            f"{slot.label}/{name}": (slot, name, self.state[slot.label][name])
            for slot in self._slots
            for name in self.state_names
        }
        if not isinstance(buffers, Mapping) or set(buffers) != set(expected):
            got = sorted(map(str, buffers)) if isinstance(buffers, Mapping) else buffers
            raise ValueError(f"state['buffers'] must hold {sorted(expected)}, got {got}")
        loaded = []
        for key, (slot, name, target) in expected.items():
            label = f"state['buffers'][{key!r}]"
            arr = as_array(buffers[key], label)
            if arr.dtype.kind not in "iuf":
                raise TypeError(f"{label} must be a numeric array, got dtype {arr.dtype}")
            check_shape(arr, label, target.shape)
            value = finite_copy(arr, label, target.dtype, array_module(target))
            self._check_state_buffer(slot, name, value, label)
            loaded.append((target, value))
        for target, value in loaded:
            target[...] = value
        self.steps, self.lr = steps, lr


def _check_param(p: Any, name: str) -> Any:
    """A parameter the optimiser can update in place: a float array, writeable, C-contiguous."""
    if not (isinstance(p, np.ndarray) or hasattr(p, "__cuda_array_interface__")):
        raise TypeError(
            f"{name} must be a NumPy array the optimiser can update in place, got "
            f"{type(p).__name__}; create the array (np.asarray(...)) first and pass that array"
        )
    if p.dtype not in (np.float32, np.float64):
        raise TypeError(f"{name} must have dtype float32 or float64, got {p.dtype}")
    check_writeable_contiguous(p, name)
    return p


def _make_slots(params: Any) -> list[Slot]:
    if isinstance(params, Parameters):
        return [Slot("flat", "flat", params.data, params.n_decayed, flat=True)]
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
    slots: list[Slot] = []
    labels: dict[str, Any] = {}
    for (key, p), decay in zip(items, decays, strict=True):
        name = f"params[{key!r}]"
        p = _check_param(p, name)
        if str(key) in labels:
            raise ValueError(
                f"params keys {labels[str(key)]!r} and {key!r} both read {str(key)!r}: "
                "keys must differ as strings (they name the state buffers)"
            )
        labels[str(key)] = key
        slots.append(Slot(key, str(key), p, p.size if decay else 0))
    check_no_overlap({slot.name: slot.param for slot in slots}, {})
    return slots
