"""Tensor surgery and sampling: data augmentation, feature standardisation, Gumbel-max.

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

from numdl._validation import (
    as_array,
    check_float_array,
    check_int,
    check_ndim,
    check_positive,
    normalize_axis,
)
from numdl.ml import _as_generator

__all__ = [
    "Standardizer",
    "flip",
    "gumbel_max_sample",
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


def _is_sequence(value: Any) -> bool:
    return isinstance(value, (Sequence, np.ndarray)) and not isinstance(value, str)


def _int_pair(value: Any, name: str, *, minimum: int | None = None) -> tuple[int, int]:
    """An int ``v`` as (v, v), or a pair of ints, each checked against ``minimum``."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        value = (value, value)
    if not _is_sequence(value) or len(value) != 2:
        raise TypeError(f"{name} must be an integer or a pair of integers, got {value!r}")
    first, second = (check_int(v, name, minimum=minimum) for v in value)
    return first, second


# ------------------------------------------------------------------------- augmentation
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
    if _is_sequence(pad_width) and len(pad_width) == 2 and all(map(_is_sequence, pad_width)):
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
    generator = _as_generator(rng)
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


# ------------------------------------------------------------------------ standardisation
class Standardizer:
    """z = (x − μ) / σ with μ, σ over ``axis`` of the training data (keepdims=True).

    Fit on the training data only, then transform the training, validation and test data
    with the same statistics (fitting on validation/test data leaks information).

    Zero-variance guard: a feature whose standard deviation is ≤ ``eps`` (e.g. an MNIST
    border pixel that is 0 in every training image) is only centred, divided by 1 instead
    of σ, so it maps to exactly 0 on the training data and never blows up on new data.
    The statistics are accumulated in float64 and stored in the dtype of the fitted data.

    Parameters
    ----------
    eps : float, default 1e-8
        The standard deviation at or below which a feature counts as constant (≥ 0).

    Attributes
    ----------
    mean_, std_ : arrays
        μ and σ (population std, ddof=0), with the reduced axes kept as size 1.
    scale_ : array
        σ where σ > eps, else 1: the divisor used by :meth:`transform`.
    axis_ : tuple of int
        The reduced axes.
    """

    def __init__(self, eps: float = 1e-8) -> None:
        self.eps = check_positive(eps, "eps", allow_zero=True)
        self.mean_: np.ndarray | None = None
        self.std_: np.ndarray | None = None
        self.scale_: np.ndarray | None = None
        self.axis_: tuple[int, ...] | None = None

    def fit(self, X: Any, axis: int | Sequence[int] | None = 0) -> Standardizer:
        """μ = mean(X, axis, keepdims=True), σ = std(X, axis, keepdims=True).

        Parameters
        ----------
        X : array-like, float32 or float64 (integer and bool data become float64)
            Training data, non-empty along ``axis``.
        axis : int, sequence of int or None, default 0
            Axes to reduce: 0 for per-feature statistics of (N, D) data, (0, 2, 3) for
            per-channel statistics of (N, C, H, W) images, None for one global μ and σ.

        Returns
        -------
        self

        Raises
        ------
        TypeError
            If ``X`` is not numeric or ``axis`` is not an integer.
        ValueError
            If ``axis`` is out of range or repeated, or ``X`` is empty along it.
        """
        X = check_float_array(X, "X", convert=True)
        if X.ndim == 0:
            raise ValueError("X must be at least 1-D, got a 0-D array")
        if axis is None:
            axes = tuple(range(X.ndim))
        elif _is_sequence(axis):
            axes = tuple(normalize_axis(a, X.ndim) for a in axis)
        else:
            axes = (normalize_axis(axis, X.ndim),)
        if len(set(axes)) != len(axes):
            raise ValueError(f"axis must not repeat an axis, got {axis!r}")
        if any(X.shape[a] == 0 for a in axes):
            raise ValueError(f"X must be non-empty along axis {axis!r}, got shape {X.shape}")
        mean = np.mean(X, axis=axes, keepdims=True, dtype=np.float64)
        std = np.sqrt(np.mean((X - mean) ** 2, axis=axes, keepdims=True))
        self.axis_ = tuple(sorted(axes))
        self.mean_ = mean.astype(X.dtype)
        self.std_ = std.astype(X.dtype)
        self.scale_ = np.where(std > self.eps, std, 1.0).astype(X.dtype)
        return self

    def _checked(self, X: Any, name: str) -> np.ndarray:
        if self.mean_ is None or self.scale_ is None:
            raise RuntimeError("Standardizer is not fitted: call fit(X_train) first")
        X = check_float_array(X, name, convert=True)
        stats_shape = self.mean_.shape
        if X.ndim != len(stats_shape) or any(
            s != 1 and x != s for x, s in zip(X.shape, stats_shape, strict=True)
        ):
            raise ValueError(
                f"{name} must have {len(stats_shape)} dimensions and match the fitted shape "
                f"{stats_shape} outside the reduced axes {self.axis_}, got {X.shape}"
            )
        return X

    def transform(self, X: Any) -> np.ndarray:
        """z = (X − μ) / scale, with the statistics of the training data.

        Parameters
        ----------
        X : array-like
            Same number of dimensions as the fitted data and the same sizes outside the
            reduced axes (the reduced axes may have any size).

        Returns
        -------
        array of X's shape, in X's float dtype (float64 for integer data)

        Raises
        ------
        RuntimeError
            If called before :meth:`fit`.
        ValueError
            If ``X`` does not match the fitted shape outside the reduced axes.
        """
        X = self._checked(X, "X")
        return (X - self.mean_.astype(X.dtype)) / self.scale_.astype(X.dtype)

    def inverse_transform(self, Z: Any) -> np.ndarray:
        """x = Z · scale + μ, the inverse of :meth:`transform`.

        Parameters
        ----------
        Z : array-like
            Standardised data, shaped as for :meth:`transform`.

        Returns
        -------
        array of Z's shape, in Z's float dtype

        Raises
        ------
        RuntimeError
            If called before :meth:`fit`.
        ValueError
            If ``Z`` does not match the fitted shape outside the reduced axes.
        """
        Z = self._checked(Z, "Z")
        return Z * self.scale_.astype(Z.dtype) + self.mean_.astype(Z.dtype)

    def fit_transform(self, X: Any, axis: int | Sequence[int] | None = 0) -> np.ndarray:
        """``fit(X, axis)`` then ``transform(X)``."""
        return self.fit(X, axis).transform(X)


# --------------------------------------------------------------------------- sampling
def gumbel_max_sample(
    logits: Any,
    *,
    temperature: float = 1.0,
    rng: np.random.Generator | int,
    size: int | Sequence[int] | None = None,
) -> np.ndarray:
    """k = argmaxⱼ (ℓⱼ/T + gⱼ), gⱼ ~ Gumbel(0, 1) i.i.d.: k ~ Categorical(softmax(ℓ/T)).

    The Gumbel-max trick: adding independent standard Gumbel noise −log(−log U) to the
    logits and taking the argmax draws class j with probability softmax(ℓ/T)ⱼ, without
    normalising. T → 0 approaches the argmax, T → ∞ the uniform distribution. Classes with
    logit −inf are never drawn.

    Parameters
    ----------
    logits : array-like (..., K), float32 or float64
        Unnormalised log-probabilities along the last axis; leading axes are independent
        distributions.
    temperature : float, default 1.0
        T > 0.
    rng : numpy.random.Generator or int
        Source of the noise (an int is a seed). Required, so every draw is reproducible.
    size : int or tuple of int, optional
        Number of independent draws per distribution; they form the leading axes.

    Returns
    -------
    int64 array of shape (*size, *logits.shape[:-1])
        Class indices in [0, K); a NumPy integer scalar for 1-D logits and ``size=None``.

    Raises
    ------
    TypeError
        If ``logits`` is not float32/float64, ``size`` not integers or ``rng`` not a
        Generator or int.
    ValueError
        If ``logits`` is 0-D or has no classes, ``temperature`` ≤ 0 or a size is negative.
    """
    logits = check_float_array(logits, "logits")
    if logits.ndim == 0 or logits.shape[-1] == 0:
        raise ValueError(
            f"logits must have at least one class on the last axis, got shape {logits.shape}"
        )
    temperature = check_positive(temperature, "temperature")
    generator = _as_generator(rng)
    if size is None:
        draws: tuple[int, ...] = ()
    elif _is_sequence(size):
        draws = tuple(check_int(s, "size", minimum=0) for s in size)
    else:
        draws = (check_int(size, "size", minimum=0),)
    noise = generator.gumbel(size=(*draws, *logits.shape))
    return np.argmax(logits / temperature + noise, axis=-1)
