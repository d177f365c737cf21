"""Weight initialisers (Glorot & Bengio 2010; He et al. 2015), seeded.

Each takes the weight shape (D_in, D_out), or a convolution kernel's (F, C, KH, KW), and a
``numpy.random.Generator`` (or an integer seed) and returns a new array of the requested dtype.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from numdl.core.validation import check_int

__all__ = [
    "INITIALIZERS",
    "glorot_normal",
    "glorot_uniform",
    "he_normal",
    "he_uniform",
    "zeros",
]

Initializer = Callable[..., np.ndarray]


def _fans(shape: tuple[int, ...]) -> tuple[int, int]:
    """(fan_in, fan_out): (D_in, D_out) for a dense weight; for a convolution kernel
    (F, C, KH, KW), fan_in = C·KH·KW and fan_out = F·KH·KW (PyTorch's convention)."""
    if len(shape) not in (2, 4):
        raise ValueError(
            f"shape must be (fan_in, fan_out) or a convolution kernel's (F, C, KH, KW), got {shape}"
        )
    sizes = [check_int(s, f"shape[{i}]", minimum=1) for i, s in enumerate(shape)]
    if len(sizes) == 2:
        return sizes[0], sizes[1]
    f, c, kh, kw = sizes
    return c * kh * kw, f * kh * kw


def _float_dtype(dtype: Any) -> np.dtype:
    try:
        dtype = np.dtype(dtype)
    except TypeError as exc:
        raise TypeError(f"dtype must be float32 or float64, got {dtype!r}") from exc
    if dtype not in (np.float32, np.float64):
        raise TypeError(f"dtype must be float32 or float64, got {dtype}")
    return dtype


def _rng(rng: np.random.Generator | int | None) -> np.random.Generator:
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None or isinstance(rng, (int, np.integer)):
        return np.random.default_rng(rng)
    raise TypeError(f"rng must be a numpy Generator or an int seed, got {type(rng).__name__}")


def glorot_uniform(shape: tuple[int, ...], rng: Any = None, dtype: Any = np.float32) -> np.ndarray:
    """W ~ U(−a, a), a = √(6 / (fan_in + fan_out)): Var W = 2 / (fan_in + fan_out)."""
    fan_in, fan_out = _fans(shape)
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return _rng(rng).uniform(-limit, limit, size=shape).astype(_float_dtype(dtype))


def glorot_normal(shape: tuple[int, ...], rng: Any = None, dtype: Any = np.float32) -> np.ndarray:
    """W ~ N(0, σ²), σ = √(2 / (fan_in + fan_out))."""
    fan_in, fan_out = _fans(shape)
    std = np.sqrt(2.0 / (fan_in + fan_out))
    return (_rng(rng).standard_normal(size=shape) * std).astype(_float_dtype(dtype))


def he_uniform(shape: tuple[int, ...], rng: Any = None, dtype: Any = np.float32) -> np.ndarray:
    """W ~ U(−a, a), a = √(6 / fan_in): Var W = 2 / fan_in, for ReLU networks."""
    fan_in, _ = _fans(shape)
    limit = np.sqrt(6.0 / fan_in)
    return _rng(rng).uniform(-limit, limit, size=shape).astype(_float_dtype(dtype))


def he_normal(shape: tuple[int, ...], rng: Any = None, dtype: Any = np.float32) -> np.ndarray:
    """W ~ N(0, σ²), σ = √(2 / fan_in), for ReLU networks."""
    fan_in, _ = _fans(shape)
    return (_rng(rng).standard_normal(size=shape) * np.sqrt(2.0 / fan_in)).astype(
        _float_dtype(dtype)
    )


def zeros(shape: tuple[int, ...], rng: Any = None, dtype: Any = np.float32) -> np.ndarray:
    """All zeros (the textbook's bias initialisation); ``rng`` is ignored."""
    return np.zeros(shape, dtype=_float_dtype(dtype))


#: Initialisers by name, for configuration files and the command line.
INITIALIZERS: dict[str, Initializer] = {
    "glorot_uniform": glorot_uniform,
    "glorot_normal": glorot_normal,
    "he_uniform": he_uniform,
    "he_normal": he_normal,
}
