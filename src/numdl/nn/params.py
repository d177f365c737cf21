"""A model's parameters in one contiguous flat buffer, with named per-layer views.

Keeping every parameter of a model (and its gradient, and each optimiser state) in one flat
buffer lets a backend update the whole model with one kernel call per step. The layout puts
the weight-decayed parameters first and the rest (biases) last, so "decay the first
``n_decayed`` entries" is all an update kernel needs to know about regularisation (eq. 20).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from numdl.core import backend as _backend
from numdl.core.backend import to_numpy
from numdl.core.validation import FLOAT_DTYPES, as_array, check_shape, finite_copy, is_sequence
from numdl.nn.buffers import PARAMETER_BUFFER, mark_written, track

__all__ = ["ParamSpec", "Parameters"]


def _float_dtype(dtype: Any) -> np.dtype:
    """``dtype`` as float32 or float64; anything else (``None`` too) is a TypeError."""
    try:
        dt = None if dtype is None else np.dtype(dtype)
    except TypeError:
        dt = None
    if dt is None or dt not in FLOAT_DTYPES:  # (np.dtype("float64") == None is True)
        raise TypeError(f"dtype must be float32 or float64, got {dtype!r}")
    return dt


@dataclass(frozen=True)
class ParamSpec:
    """A named parameter's shape and whether weight decay applies to it."""

    name: str
    shape: tuple[int, ...]
    decay: bool

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))


class Parameters:
    """Named parameters, their gradients and optimiser states, each in one flat buffer.

    Parameters
    ----------
    specs : sequence of ParamSpec
        Names must be unique. Decayed parameters are laid out first, in the given order,
        then the others.
    dtype : float32 or float64
    xp : array module, optional
        Where the buffers live (NumPy, or CuPy on the CUDA backend); default the active
        backend's.

    Attributes
    ----------
    data, grad : 1-D arrays
        The flat parameter and gradient buffers; ``self[name]`` and ``self.grad_of(name)``
        are views into them.
    n_decayed : int
        Number of leading entries of ``data`` that weight decay applies to.
    """

    def __init__(self, specs: Sequence[ParamSpec], dtype: Any = np.float32, xp: Any = None):
        dtype = _float_dtype(dtype)
        if not is_sequence(specs) or not all(isinstance(s, ParamSpec) for s in specs):
            raise TypeError(f"specs must be a sequence of ParamSpec, got {type(specs).__name__}")
        names = [s.name for s in specs]
        if len(set(names)) != len(names):
            raise ValueError(f"parameter names must be unique, got {names}")
        self.xp = _backend.current().xp if xp is None else xp
        self.dtype = dtype
        ordered = [s for s in specs if s.decay] + [s for s in specs if not s.decay]
        self.specs: dict[str, ParamSpec] = {s.name: s for s in specs}
        self._offsets: dict[str, int] = {}
        offset = 0
        for spec in ordered:
            self._offsets[spec.name] = offset
            offset += spec.size
        self.size = offset
        self.n_decayed = sum(s.size for s in specs if s.decay)
        self.data = self.new_buffer()
        self.grad = self.new_buffer()
        # layers save views of ``data`` for backward; optimiser steps and loads advance its
        # write generation, so a backward after a step is caught (numdl.nn.buffers)
        track(self.data, self, PARAMETER_BUFFER)

    def new_buffer(self) -> Any:
        """A zeroed flat buffer with this layout (for gradients and optimiser states)."""
        return self.xp.zeros(self.size, dtype=self.dtype)

    def view(self, buffer: Any, name: str) -> Any:
        """The view of flat ``buffer`` that holds parameter ``name`` (shaped like it)."""
        spec = self.specs.get(name)
        if spec is None:
            raise KeyError(f"no parameter named {name!r}; known: {list(self.specs)}")
        start = self._offsets[name]
        return buffer[start : start + spec.size].reshape(spec.shape)

    def __getitem__(self, name: str) -> Any:
        return self.view(self.data, name)

    def grad_of(self, name: str) -> Any:
        """The gradient view of parameter ``name``."""
        return self.view(self.grad, name)

    def __iter__(self) -> Iterator[str]:
        return iter(self.specs)

    def __len__(self) -> int:
        return len(self.specs)

    def items(self) -> Iterator[tuple[str, Any]]:
        """(name, view) pairs in declaration order."""
        for name in self.specs:
            yield name, self[name]

    def state_dict(self) -> dict[str, np.ndarray]:
        """Host copies of every parameter, by name."""
        return {name: np.array(to_numpy(self[name]), copy=True) for name in self.specs}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Copy parameters from ``state`` (name → array); every name and shape must match.

        Nothing is written unless the whole ``state`` is valid: every entry a float array of
        the parameter's shape whose values are finite and stay finite in this dtype.

        Raises
        ------
        TypeError
            If ``state`` is not a mapping or an entry is not a float array.
        ValueError
            If names or shapes differ, or an entry holds NaN/inf or overflows the dtype.
        """
        if not isinstance(state, Mapping):
            raise TypeError(
                f"state must be a dict of parameter arrays by name, got {type(state).__name__}"
            )
        missing = set(self.specs) - set(state)
        extra = set(state) - set(self.specs)
        if missing or extra:
            raise ValueError(
                f"state does not match the parameters: missing {sorted(missing)}, "
                f"unexpected {sorted(map(str, extra))}"
            )
        arrays = {}
        for name, spec in self.specs.items():
            label = f"state[{name!r}]"
            arr = as_array(state[name], label)
            check_shape(arr, label, spec.shape)
            if arr.dtype.kind != "f":
                raise TypeError(f"{label} must be a float array, got {arr.dtype}")
            arrays[name] = finite_copy(arr, label, self.dtype, self.xp)
        mark_written(self.data, "load_state_dict", self)
        for name, arr in arrays.items():
            self[name][...] = arr

    def __repr__(self) -> str:
        shapes = ", ".join(f"{n}{s.shape}" for n, s in self.specs.items())
        return f"Parameters({shapes}; {self.size} {self.dtype}, {self.n_decayed} decayed)"
