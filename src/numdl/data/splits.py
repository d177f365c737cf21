"""Machine-learning plumbing (textbook ch. 5, section 3.4): seeded splits, mini-batches, seeding.

All randomness goes through a seeded :class:`numpy.random.Generator`, so a run is
reproducible from its seed.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from numdl.core.validation import (
    as_array,
    as_generator,
    check_int,
    check_real,
)

__all__ = [
    "batch_iterator",
    "set_all_seeds",
    "train_val_test_split",
]

RATIO_TOLERANCE = 1e-9


def _samples(x: Any, name: str) -> np.ndarray:
    """``x`` as an array with a leading sample axis (at least 1-D)."""
    arr = as_array(x, name)
    if arr.ndim == 0:
        raise ValueError(f"{name} must be at least 1-D (samples along axis 0), got a 0-D array")
    return arr


def _check_same_length(y: np.ndarray, x: np.ndarray) -> None:
    if y.shape[0] != x.shape[0]:
        raise ValueError(
            f"y must have as many samples as X along axis 0 ({x.shape[0]}), got {y.shape[0]}"
        )


# ------------------------------------------------------------------ splits and batching
def _check_ratios(ratios: Any) -> tuple[float, float, float]:
    if not isinstance(ratios, (Sequence, np.ndarray)) or isinstance(ratios, str):
        raise TypeError(f"ratios must be a sequence of 3 numbers, got {type(ratios).__name__}")
    if len(ratios) != 3:
        raise ValueError(f"ratios must hold 3 numbers (train, val, test), got {len(ratios)}")
    values = tuple(check_real(r, "ratios") for r in ratios)
    if any(r < 0 for r in values):
        raise ValueError(f"ratios must be non-negative, got {values}")
    if abs(sum(values) - 1) > RATIO_TOLERANCE:
        raise ValueError(f"ratios must sum to 1 (within {RATIO_TOLERANCE}), got {sum(values)}")
    if values[0] == 0:
        raise ValueError(f"ratios must give the training set a positive share, got {values}")
    return values  # type: ignore[return-value]


def train_val_test_split(
    X: Any,
    y: Any,
    ratios: Sequence[float] = (0.8, 0.1, 0.1),
    seed: int = 0,
) -> tuple[
    tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]
]:
    """(X, y) → train, val, test = a seeded permutation cut at ratios (section 3.4.1).

    The indices 0..n−1 are shuffled by ``np.random.default_rng(seed).permutation(n)`` and cut
    at the cumulative boundaries round(r_train·n) and round((r_train + r_val)·n), so the
    three parts are disjoint, cover every sample, have sizes within one of ratio·n, and are
    the same for the same seed. The training part always holds at least one sample.

    Parameters
    ----------
    X : array-like, at least 1-D
        Samples along axis 0 (any dtype; kept).
    y : array-like, at least 1-D
        Targets, as many as ``X`` along axis 0.
    ratios : sequence of 3 floats, default (0.8, 0.1, 0.1)
        (train, val, test) shares: non-negative, summing to 1 within 1e-9, train > 0.
    seed : int, default 0
        Non-negative seed of the permutation.

    Returns
    -------
    (X_train, y_train), (X_val, y_val), (X_test, y_test) : arrays
        New arrays (fancy-indexed copies); a part with ratio 0 is empty.

    Raises
    ------
    TypeError
        If ``ratios`` is not a sequence of real numbers or ``seed`` is not an integer.
    ValueError
        If ``ratios`` is invalid, ``X`` and ``y`` differ in length, ``X`` is empty or
        ``seed`` is negative.
    """
    X = _samples(X, "X")
    y = _samples(y, "y")
    _check_same_length(y, X)
    r_train, r_val, _ = _check_ratios(ratios)
    seed = check_int(seed, "seed", minimum=0)
    n = X.shape[0]
    if n == 0:
        raise ValueError("X must hold at least one sample, got 0")
    order = np.random.default_rng(seed).permutation(n)
    cut_train = min(n, max(1, int(np.floor(r_train * n + 0.5))))
    cut_val = min(n, max(cut_train, int(np.floor((r_train + r_val) * n + 0.5))))
    parts = np.split(order, [cut_train, cut_val])
    train, val, test = ((X[idx], y[idx]) for idx in parts)
    return train, val, test


def batch_iterator(
    X: Any,
    y: Any | None,
    batch_size: int,
    *,
    shuffle: bool = False,
    rng: np.random.Generator | int | None = None,
    drop_last: bool = False,
) -> Iterator[tuple[np.ndarray, np.ndarray | None]]:
    """Mini-batches (X[b], y[b]) for consecutive index blocks b of size B (section 3.4.1).

    One call is one epoch: every sample appears exactly once, in order or (``shuffle``) in
    the order of a permutation drawn when this function is called. Arguments are checked
    immediately, not at the first ``next()``.

    Parameters
    ----------
    X : array-like, at least 1-D
        Samples along axis 0.
    y : array-like or None
        Targets, as many as ``X`` along axis 0; ``None`` yields ``(X_batch, None)``.
    batch_size : int
        B ≥ 1.
    shuffle : bool, default False
        Visit the samples in a random order.
    rng : numpy.random.Generator, int or None
        Source of the permutation when ``shuffle``. Pass the same Generator every epoch for a
        new, reproducible order per epoch (an int seed gives the same order every call);
        ``None`` uses a fresh, unseeded generator (not reproducible).
    drop_last : bool, default False
        Skip the final batch when it has fewer than B samples.

    Yields
    ------
    X_batch, y_batch : arrays
        Views of ``X``/``y`` when not shuffling, copies when shuffling; do not modify them.

    Raises
    ------
    TypeError
        If ``batch_size`` is not an integer or ``rng`` is not a Generator, int or None.
    ValueError
        If ``batch_size`` < 1 or ``X`` and ``y`` differ in length.
    """
    X = _samples(X, "X")
    if y is not None:
        y = _samples(y, "y")
        _check_same_length(y, X)
    batch_size = check_int(batch_size, "batch_size", minimum=1)
    n = X.shape[0]
    order = None
    if shuffle:
        generator = np.random.default_rng() if rng is None else as_generator(rng)
        order = generator.permutation(n)
    stop = n - n % batch_size if drop_last else n

    def batches() -> Iterator[tuple[np.ndarray, np.ndarray | None]]:
        for start in range(0, stop, batch_size):
            block = slice(start, min(start + batch_size, stop))
            idx = block if order is None else order[block]
            yield X[idx], (None if y is None else y[idx])

    return batches()


def set_all_seeds(seed: int) -> np.random.Generator:
    """Seed Python's ``random`` and NumPy's legacy global RNG; return default_rng(seed) (§3.4.1).

    Parameters
    ----------
    seed : int
        In [0, 2³²) (the range NumPy's legacy ``np.random.seed`` accepts).

    Returns
    -------
    numpy.random.Generator
        ``np.random.default_rng(seed)``: pass it to the functions that take ``rng``.

    Raises
    ------
    TypeError
        If ``seed`` is not an integer.
    ValueError
        If ``seed`` is outside [0, 2³²).
    """
    seed = check_int(seed, "seed", minimum=0)
    if seed >= 2**32:
        raise ValueError(f"seed must be < 2**32, got {seed}")
    random.seed(seed)
    np.random.seed(seed)  # noqa: NPY002 - seeding the legacy global RNG is the point here
    return np.random.default_rng(seed)
