"""Checks shared by the spatial ops (convolution, pooling): 4-D arrays, pairs, output sizes."""

from __future__ import annotations

from typing import Any

from numdl.core.ops._buffers import out_buffer
from numdl.core.validation import (
    as_array,
    check_float_array,
    check_int,
    check_same_dtype,
    is_sequence,
)

__all__ = ["buffer_like", "check_4d", "check_x_shape", "output_size", "pair"]

_LAYOUT = "(B, C, H, W)"


def check_4d(x: Any, name: str, layout: str = _LAYOUT) -> Any:
    """``x`` as a float32/float64 array of rank 4, else an error naming ``layout``."""
    arr = check_float_array(x, name)
    if arr.ndim != 4:
        raise ValueError(f"{name} must be 4-D {layout}, got shape {arr.shape} ({arr.ndim}-D)")
    return arr


def pair(value: Any, name: str, minimum: int) -> tuple[int, int]:
    """An int or a pair of ints, each >= ``minimum``, as a tuple of two Python ints."""
    if is_sequence(value):
        if len(value) != 2:
            raise ValueError(
                f"{name} must be an integer or a pair of integers, got {len(value)} values"
            )
        a, b = (check_int(v, name, minimum=minimum) for v in value)
        return a, b
    v = check_int(value, name, minimum=minimum)
    return v, v


def check_x_shape(x_shape: Any) -> tuple[int, int, int, int]:
    """``x_shape`` as four non-negative Python ints (B, C, H, W)."""
    if not is_sequence(x_shape) or len(x_shape) != 4:
        raise ValueError(f"x_shape must be a 4-tuple {_LAYOUT} of integers, got {x_shape!r}")
    b, c, h, w = (check_int(v, "x_shape", minimum=0) for v in x_shape)
    return b, c, h, w


def output_size(
    h: int,
    w: int,
    kernel: tuple[int, int],
    stride: tuple[int, int],
    padding: tuple[int, int],
    name: str = "kernel_size",
) -> tuple[int, int]:
    """OH = (H + 2·ph − KH) // sh + 1 and OW likewise, each required to be >= 1.

    ``name`` is what the message calls the kernel (the argument that sets it)."""
    hp, wp = h + 2 * padding[0], w + 2 * padding[1]
    if kernel[0] > hp or kernel[1] > wp:
        raise ValueError(
            f"{name} {kernel} is larger than the padded input ({hp}, {wp}) "
            f"(input {(h, w)}, padding {padding}): the output would be empty"
        )
    return (hp - kernel[0]) // stride[0] + 1, (wp - kernel[1]) // stride[1] + 1


def buffer_like(out: Any, name: str, shape: tuple[int, ...], like: Any, like_name: str) -> Any:
    """A caller's buffer checked like :func:`~numdl.core.ops._buffers.out_buffer`, its dtype
    error naming ``like_name`` (the array it must match), or a new one."""
    if out is not None:
        check_same_dtype(as_array(out, name), name, like, like_name)
    return out_buffer(out, name, shape, like)
