"""Data augmentation on image batches: flips, rolls, padding and random shifts.

Image layout: a batch is (N, H, W) or (N, C, H, W); the spatial axes are always the last
two (rows H, columns W), so every function here acts on axes −2 and −1 and leaves the
sample and channel axes alone. Inputs are never modified; results are new arrays of the
input's dtype (uint8 images stay uint8, float32 stays float32).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from numdl.core.validation import (
    as_array,
    as_generator,
    check_int,
    check_ndim,
    is_sequence,
)

__all__ = [
    "flip",
    "pad",
    "random_shift",
    "roll",
]

_SPATIAL = (-2, -1)
_FLIP_AXES = {"horizontal": -1, "vertical": -2}
_PAD_MODES = ("constant", "edge", "reflect", "symmetric", "wrap")


def _images(images: Any) -> np.ndarray:
    """``images`` as an (N, H, W) or (N, C, H, W) array of any numeric dtype."""
    arr = as_array(images, "images")
    check_ndim(arr, "images", (3, 4))
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"images must have a numeric dtype, got {arr.dtype}")
    return arr


def _int_pair(value: Any, name: str, *, minimum: int | None = None) -> tuple[int, int]:
    """An int ``v`` as (v, v), or a pair of ints, each checked against ``minimum``."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        value = (value, value)
    if not is_sequence(value) or len(value) != 2:
        raise TypeError(f"{name} must be an integer or a pair of integers, got {value!r}")
    first, second = (check_int(v, name, minimum=minimum) for v in value)
    return first, second


def flip(images: Any, axis: str = "horizontal") -> np.ndarray:
    """Mirror each image: x'[..., i, j] = x[..., i, W−1−j] (horizontal) or x[..., H−1−i, j].

    Parameters
    ----------
    images : array-like (N, H, W) or (N, C, H, W)
    axis : {"horizontal", "vertical"}, default "horizontal"
        "horizontal" mirrors left–right (reverses the columns, axis −1); "vertical" mirrors
        top–bottom (reverses the rows, axis −2).

    Returns
    -------
    array of the same shape and dtype (a new array, not a view)

    Raises
    ------
    TypeError
        If ``images`` is not numeric.
    ValueError
        If ``images`` is not 3-D or 4-D or ``axis`` is not one of the two names.
    """
    images = _images(images)
    if axis not in _FLIP_AXES:
        raise ValueError(f"axis must be 'horizontal' or 'vertical', got {axis!r}")
    return np.flip(images, axis=_FLIP_AXES[axis]).copy()


def roll(images: Any, shift: int | Sequence[int] = (0, 0)) -> np.ndarray:
    """Cyclic shift: x'[..., i, j] = x[..., (i − dy) mod H, (j − dx) mod W] (np.roll).

    Content leaving one edge re-enters at the opposite edge (wrap-around); for a shift with
    zero fill see :func:`random_shift`.

    Parameters
    ----------
    images : array-like (N, H, W) or (N, C, H, W)
    shift : int or (dy, dx), default (0, 0)
        Rows down (dy > 0) and columns right (dx > 0); an int shifts both axes by it.

    Returns
    -------
    array of the same shape and dtype

    Raises
    ------
    TypeError
        If ``shift`` is not an integer or a pair of integers.
    ValueError
        If ``images`` is not 3-D or 4-D.
    """
    images = _images(images)
    dy, dx = _int_pair(shift, "shift")
    return np.roll(images, (dy, dx), axis=_SPATIAL)


def _pad_widths(pad_width: Any) -> tuple[tuple[int, int], tuple[int, int]]:
    """p, (py, px) or ((top, bottom), (left, right)) → ((top, bottom), (left, right))."""
    message = (
        "pad_width must be an int p, a pair (py, px) or ((top, bottom), (left, right)) "
        f"of non-negative integers, got {pad_width!r}"
    )
    if is_sequence(pad_width) and len(pad_width) == 2 and all(map(is_sequence, pad_width)):
        try:
            rows, cols = (_int_pair(p, "pad_width", minimum=0) for p in pad_width)
        except TypeError as exc:
            raise TypeError(message) from exc
        return rows, cols
    try:
        py, px = _int_pair(pad_width, "pad_width", minimum=0)
    except TypeError as exc:
        raise TypeError(message) from exc
    return (py, py), (px, px)


def pad(
    images: Any,
    pad_width: int | Sequence[int] | Sequence[Sequence[int]],
    mode: str = "constant",
    value: float = 0,
) -> np.ndarray:
    """Pad the spatial axes: (H, W) → (H + top + bottom, W + left + right) (np.pad).

    Parameters
    ----------
    images : array-like (N, H, W) or (N, C, H, W)
    pad_width : int, (py, px) or ((top, bottom), (left, right))
        Non-negative widths; an int pads every side by it, (py, px) pads top and bottom by
        py and left and right by px. The sample and channel axes are never padded.
    mode : {"constant", "edge", "reflect", "symmetric", "wrap"}, default "constant"
        As in ``np.pad``.
    value : float, default 0
        Fill value for ``mode="constant"`` (cast to the images' dtype).

    Returns
    -------
    array of the images' dtype, spatial size enlarged

    Raises
    ------
    TypeError
        If ``pad_width`` or ``value`` has the wrong type.
    ValueError
        If ``images`` is not 3-D or 4-D, a width is negative or ``mode`` is unknown.
    """
    images = _images(images)
    (top, bottom), (left, right) = _pad_widths(pad_width)
    if mode not in _PAD_MODES:
        raise ValueError(f"mode must be one of {_PAD_MODES}, got {mode!r}")
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"value must be a real number, got {type(value).__name__}")
    widths = [(0, 0)] * (images.ndim - 2) + [(top, bottom), (left, right)]
    if mode == "constant":
        return np.pad(images, widths, mode="constant", constant_values=value)
    return np.pad(images, widths, mode=mode)


def random_shift(
    images: Any,
    max_shift: int,
    rng: np.random.Generator | int,
    *,
    return_shifts: bool = False,
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """x'ₙ[..., i, j] = xₙ[..., i − dyₙ, j − dxₙ] (0 outside), dyₙ, dxₙ ~ U{−m, …, m}.

    Each image n is translated by its own integer shift (dyₙ rows down, dxₙ columns right),
    drawn uniformly from [−``max_shift``, ``max_shift``]; pixels shifted in from outside the
    image are 0 (no wrap-around). Vectorised: the batch is zero-padded by m once and each
    output is the (H, W) window of the padded image starting at (m − dyₙ, m − dxₙ), gathered
    for all images in one fancy-indexing step over a sliding-window view (no loop over images).

    Parameters
    ----------
    images : array-like (N, H, W) or (N, C, H, W)
        All channels of an image get the same shift.
    max_shift : int
        m ≥ 0; 0 returns a copy. Shifts of H or W or more give all-zero images.
    rng : numpy.random.Generator or int
        Source of the shifts (an int is a seed).
    return_shifts : bool, default False
        Also return the shifts.

    Returns
    -------
    shifted : array of the images' shape and dtype
    shifts : int array (N, 2), only with ``return_shifts``
        Rows (dyₙ, dxₙ).

    Raises
    ------
    TypeError
        If ``max_shift`` is not an integer or ``rng`` is not a Generator or int.
    ValueError
        If ``images`` is not 3-D or 4-D or ``max_shift`` < 0.
    """
    images = _images(images)
    m = check_int(max_shift, "max_shift", minimum=0)
    generator = as_generator(rng)
    n_images = images.shape[0]
    height, width = images.shape[-2:]
    shifts = generator.integers(-m, m + 1, size=(n_images, 2))

    padded = np.pad(images, [(0, 0)] * (images.ndim - 2) + [(m, m), (m, m)])
    # windows[n, ..., r, c] is the (H, W) window of padded image n starting at (r, c).
    windows = sliding_window_view(padded, (height, width), axis=_SPATIAL)
    rows = m - shifts[:, 0]
    cols = m - shifts[:, 1]
    batch = np.arange(n_images)
    # With a channel axis the advanced indices are split by its slice, so the batch axis
    # they produce goes first: (N, C, H, W) either way.
    index = (batch, rows, cols) if images.ndim == 3 else (batch, slice(None), rows, cols)
    shifted = windows[index]
    return (shifted, shifts) if return_shifts else shifted
