"""A small generated stand-in for MNIST: seven-segment "digits" with jitter and noise.

Use it where the real files are unavailable (offline machines, quick tests, demos). Every
result computed on it must say so: the returned :class:`~numdl.data.Dataset` has
``synthetic=True`` and ``name="synthetic-digits"``.
"""

from __future__ import annotations

import numpy as np

from numdl.core.validation import check_int, check_positive
from numdl.data.dataset import Dataset, Split

__all__ = ["SEGMENTS", "digit_templates", "load_synthetic_digits"]

_SIZE = 28
# Seven-segment bars on the 28 x 28 grid, as (row slice, column slice); the digit occupies
# rows 4..23 and columns 8..19, like a 20-pixel-tall MNIST digit.
_BARS: dict[str, tuple[slice, slice]] = {
    "a": (slice(4, 7), slice(8, 20)),  # top
    "b": (slice(4, 15), slice(17, 20)),  # upper right
    "c": (slice(13, 24), slice(17, 20)),  # lower right
    "d": (slice(21, 24), slice(8, 20)),  # bottom
    "e": (slice(13, 24), slice(8, 11)),  # lower left
    "f": (slice(4, 15), slice(8, 11)),  # upper left
    "g": (slice(12, 15), slice(8, 20)),  # middle
}
#: Segments lit for each class 0..9 (the usual seven-segment display).
SEGMENTS: tuple[str, ...] = (
    "abcdef",
    "bc",
    "abdeg",
    "abcdg",
    "bcfg",
    "acdfg",
    "acdefg",
    "abc",
    "abcdefg",
    "abcdfg",
)


def digit_templates() -> np.ndarray:
    """Return the 10 noiseless class patterns, float32 ``(10, 28, 28)`` with values 0 or 1."""
    templates = np.zeros((len(SEGMENTS), _SIZE, _SIZE), dtype=np.float32)
    for label, lit in enumerate(SEGMENTS):
        for segment in lit:
            templates[(label, *_BARS[segment])] = 1.0
    return templates


def _generate(
    n: int, rng: np.random.Generator, noise: float, max_shift: int, templates: np.ndarray
) -> Split:
    labels = rng.permutation(np.arange(n) % len(templates)).astype(np.int64)
    dy = rng.integers(-max_shift, max_shift + 1, size=n)
    dx = rng.integers(-max_shift, max_shift + 1, size=n)
    grid = np.arange(_SIZE)
    rows = (grid[None, :] - dy[:, None]) % _SIZE  # the border is blank, so wrapping is safe
    cols = (grid[None, :] - dx[:, None]) % _SIZE
    images = templates[labels[:, None, None], rows[:, :, None], cols[:, None, :]]
    ink = rng.uniform(0.6, 1.0, size=(n, 1, 1)).astype(np.float32)
    images = images * ink + rng.normal(0.0, noise, size=images.shape).astype(np.float32)
    X = np.clip(images, 0.0, 1.0, dtype=np.float32).reshape(n, _SIZE * _SIZE)
    return Split(X, labels)


def load_synthetic_digits(
    n_train: int = 6000,
    n_val: int = 1000,
    n_test: int = 1000,
    *,
    seed: int = 0,
    noise: float = 0.25,
    max_shift: int = 2,
) -> Dataset:
    """Generate a 10-class MNIST-shaped dataset of seven-segment digits (synthetic data).

    Each class is a fixed block pattern (its digit on a seven-segment display, bars 3 px
    thick, 20 x 12 px) on the 28 x 28 grid. Each sample shifts it by up to ``max_shift`` px
    in each direction, scales its ink by a factor in ``[0.6, 1]``, adds Gaussian noise of
    standard deviation ``noise`` to every pixel and clips to ``[0, 1]``. Classes are balanced
    (counts differ by at most one). A small MLP reaches well over 90 % test accuracy in a
    few epochs, yet no two samples are identical.

    The three splits come from independent streams spawned from ``seed``, so changing
    ``n_train`` does not change the validation or test sets.

    Parameters
    ----------
    n_train, n_val, n_test : int, optional
        Split sizes (defaults 6000 / 1000 / 1000); ``n_train >= 1``, the others ``>= 0``.
    seed : int, optional
        Seed (non-negative); the same seed gives the same arrays.
    noise : float, optional
        Standard deviation of the per-pixel Gaussian noise (default 0.25; 0 for none).
    max_shift : int, optional
        Largest translation in pixels, 0 to 4 (default 2).

    Returns
    -------
    Dataset
        ``X`` float32 ``(N, 784)`` in ``[0, 1]``, ``y`` int64 ``(N,)`` in ``0..9``;
        ``name="synthetic-digits"``, ``synthetic=True``, ``source_dir=None``.

    Raises
    ------
    TypeError, ValueError
        A size, the seed or ``max_shift`` is not an integer or out of range, or ``noise`` is
        negative or not finite.
    """
    n_train = check_int(n_train, "n_train", minimum=1)
    n_val = check_int(n_val, "n_val", minimum=0)
    n_test = check_int(n_test, "n_test", minimum=0)
    seed = check_int(seed, "seed", minimum=0)
    noise = check_positive(noise, "noise", allow_zero=True)
    max_shift = check_int(max_shift, "max_shift", minimum=0)
    if max_shift > 4:
        raise ValueError(f"max_shift must be <= 4 (the digit stays on the grid), got {max_shift}")
    templates = digit_templates()
    streams = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(3)]
    train, val, test = (
        _generate(n, rng, noise, max_shift, templates)
        for n, rng in zip((n_train, n_val, n_test), streams, strict=True)
    )
    return Dataset(
        train=train,
        val=val,
        test=test,
        name="synthetic-digits",
        source_dir=None,
        synthetic=True,
    )
