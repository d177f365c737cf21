"""Buffers every validated op shares: checked or newly allocated outputs, contiguous inputs."""

from __future__ import annotations

from typing import Any

from numdl.core import backend as _backend
from numdl.core.validation import (
    as_array,
    check_same_dtype,
    check_shape,
    check_writeable_contiguous,
)

__all__ = ["contiguous", "out_buffer"]


def out_buffer(out: Any, name: str, shape: tuple[int, ...], like: Any) -> Any:
    """Return ``out`` checked against ``shape`` and ``like.dtype``, or a new buffer."""
    if out is None:
        return _backend.current().xp.empty(shape, dtype=like.dtype)
    out = as_array(out, name)
    check_shape(out, name, shape)
    check_same_dtype(out, name, like, "the input")
    check_writeable_contiguous(out, name)
    return out


def contiguous(x: Any) -> Any:
    return x if x.flags.c_contiguous else _backend.current().xp.ascontiguousarray(x)
