"""Two-dimensional toy classification problems: two moons, k-armed spirals, k Gaussian blobs.

Points in the plane, small enough to train on in a second and to draw: the picture of what a
classifier learned is its decision boundary (:mod:`numdl.app.boundary`), as in the NumPy
chapter of seed 001. Each loader returns a :class:`~numdl.data.Dataset` (``synthetic=True``,
``image_shape=(1, 2)``) whose train, validation and test splits are drawn independently from
the same distribution, from three streams spawned from ``seed``: changing ``n_train`` leaves
the validation and test sets as they were. Classes are balanced (counts differ by at most
one). The coordinates are the problem's own, not scaled to ``[0, 1]``.

:data:`TOY_DATASETS` maps each name (``numdl train --dataset moons``) to its loader.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from numdl.core.validation import as_generator, check_int, check_positive
from numdl.data.dataset import Dataset, Split

__all__ = ["TOY_DATASETS", "load_blobs", "load_moons", "load_spirals"]

#: A class-``c`` point's position, given its labels, the generator and the class count.
_Sampler = Callable[[np.ndarray, np.random.Generator, int], np.ndarray]


def _moons(labels: np.ndarray, rng: np.random.Generator, k: int) -> np.ndarray:
    """Upper half circle (cos t, sin t) for class 0, (1 − cos t, ½ − sin t) for class 1."""
    t = rng.uniform(0.0, np.pi, size=labels.shape)
    upper = np.stack([np.cos(t), np.sin(t)], axis=1)
    lower = np.stack([1.0 - np.cos(t), 0.5 - np.sin(t)], axis=1)
    return np.where(labels[:, None] == 0, upper, lower)


def _spirals(labels: np.ndarray, rng: np.random.Generator, k: int) -> np.ndarray:
    """Arm c: r (cos θ, sin θ) with r ~ U(0, 1), θ = 2π c / k + 2π r (one turn per arm)."""
    r = rng.uniform(0.0, 1.0, size=labels.shape)
    theta = 2 * np.pi * labels / k + 2 * np.pi * r
    return r[:, None] * np.stack([np.cos(theta), np.sin(theta)], axis=1)


def _blobs(labels: np.ndarray, rng: np.random.Generator, k: int) -> np.ndarray:
    """Class c at the centre (cos 2πc/k, sin 2πc/k): the vertices of a regular k-gon."""
    angle = 2 * np.pi * labels / k
    return np.stack([np.cos(angle), np.sin(angle)], axis=1)


def _split(n: int, rng: np.random.Generator, k: int, noise: float, sample: _Sampler) -> Split:
    labels = rng.permutation(np.arange(n) % k).astype(np.int64)
    points = sample(labels, rng, k) + rng.normal(0.0, noise, size=(n, 2))
    return Split(points.astype(np.float32), labels)


def _load(
    name: str,
    sample: _Sampler,
    k: int,
    sizes: tuple[int, int, int],
    noise: float,
    seed: Any,
) -> Dataset:
    """Check the common arguments, then draw the three splits from streams spawned from seed."""
    n_train = check_int(sizes[0], "n_train", minimum=1)
    n_val = check_int(sizes[1], "n_val", minimum=0)
    n_test = check_int(sizes[2], "n_test", minimum=0)
    noise = check_positive(noise, "noise", allow_zero=True)
    if n_train < k:
        raise ValueError(
            f"n_train must be at least the {k} classes (every class in the training split), "
            f"got {n_train}"
        )
    streams = as_generator(seed, "seed").spawn(3)
    train, val, test = (
        _split(n, rng, k, noise, sample)
        for n, rng in zip((n_train, n_val, n_test), streams, strict=True)
    )
    return Dataset(
        train=train,
        val=val,
        test=test,
        name=name,
        source_dir=None,
        synthetic=True,
        image_shape=(1, 2),
        n_classes=k,
    )


def _check_classes(k: Any) -> int:
    return check_int(k, "k", minimum=2)


def load_moons(
    n_train: int = 2000,
    n_val: int = 500,
    n_test: int = 500,
    *,
    noise: float = 0.1,
    seed: int | np.random.Generator = 0,
) -> Dataset:
    """Two interleaved half circles, one class each (the "two moons"; not linearly separable).

    Class 0 lies on the upper half of the unit circle, (cos t, sin t), class 1 on the lower
    half circle shifted right and up, (1 − cos t, ½ − sin t), with t ~ U(0, π).

    Parameters
    ----------
    n_train, n_val, n_test : int, optional
        Split sizes (defaults 2000 / 500 / 500); ``n_train >= 1`` and at least the number
        of classes, the others ``>= 0``.
    noise : float, optional
        Standard deviation of the isotropic Gaussian noise added to each point (default
        0.1; ``>= 0``, 0 for none).
    seed : int or numpy.random.Generator, optional
        A non-negative seed, or a Generator to spawn the three splits' streams from; the
        same seed gives the same arrays.

    Returns
    -------
    Dataset
        ``X`` float32 ``(N, 2)``, ``y`` int64 ``(N,)`` in ``{0, 1}``; ``name="moons"``,
        ``synthetic=True``, ``image_shape=(1, 2)``, ``n_classes=2``.

    Raises
    ------
    TypeError
        A size is not an integer, ``noise`` is not a real number, or ``seed`` is
        neither an integer nor a Generator.
    ValueError
        A size or the seed is negative, ``n_train`` is below the number of classes,
        or ``noise`` is negative or not finite.
    """
    return _load("moons", _moons, 2, (n_train, n_val, n_test), noise, seed)


def load_spirals(
    n_train: int = 2000,
    n_val: int = 500,
    n_test: int = 500,
    *,
    k: int = 3,
    noise: float = 0.05,
    seed: int | np.random.Generator = 0,
) -> Dataset:
    """``k`` interleaved spiral arms, one class each, winding once around the origin.

    Arm c is r (cos θ, sin θ) with r ~ U(0, 1) and θ = 2πc/k + 2πr: the arms start together
    at the origin and end on the unit circle, 2π/k apart (the CS231n spiral problem).

    Parameters
    ----------
    n_train, n_val, n_test : int, optional
        Split sizes (defaults 2000 / 500 / 500); ``n_train >= 1`` and at least the number
        of classes, the others ``>= 0``.
    k : int, optional
        Number of spiral arms, ``>= 2`` (default 3).
    noise : float, optional
        Standard deviation of the isotropic Gaussian noise added to each point (default
        0.05; ``>= 0``, 0 for none).
    seed : int or numpy.random.Generator, optional
        A non-negative seed, or a Generator to spawn the three splits' streams from; the
        same seed gives the same arrays.

    Returns
    -------
    Dataset
        ``X`` float32 ``(N, 2)``, ``y`` int64 ``(N,)`` in ``0..k-1``; ``name="spirals"``,
        ``synthetic=True``, ``image_shape=(1, 2)``, ``n_classes=k``.

    Raises
    ------
    TypeError
        A size or ``k`` is not an integer, ``noise`` is not a real number, or ``seed`` is
        neither an integer nor a Generator.
    ValueError
        A size or the seed is negative, ``n_train`` is below the number of classes,
        ``k`` is below 2, or ``noise`` is negative or not finite.
    """
    return _load("spirals", _spirals, _check_classes(k), (n_train, n_val, n_test), noise, seed)


def load_blobs(
    n_train: int = 2000,
    n_val: int = 500,
    n_test: int = 500,
    *,
    k: int = 3,
    noise: float = 0.3,
    seed: int | np.random.Generator = 0,
) -> Dataset:
    """``k`` isotropic Gaussian clusters of standard deviation ``noise``, one class each.

    The centres are the vertices of a regular k-gon on the unit circle, (cos 2πc/k,
    sin 2πc/k), so ``noise`` alone sets how much neighbouring classes overlap (the best
    classifier is linear between neighbours).

    Parameters
    ----------
    n_train, n_val, n_test : int, optional
        Split sizes (defaults 2000 / 500 / 500); ``n_train >= 1`` and at least the number
        of classes, the others ``>= 0``.
    k : int, optional
        Number of clusters, ``>= 2`` (default 3).
    noise : float, optional
        Standard deviation of the isotropic Gaussian noise added to each point (default
        0.3; ``>= 0``, 0 for none).
    seed : int or numpy.random.Generator, optional
        A non-negative seed, or a Generator to spawn the three splits' streams from; the
        same seed gives the same arrays.

    Returns
    -------
    Dataset
        ``X`` float32 ``(N, 2)``, ``y`` int64 ``(N,)`` in ``0..k-1``; ``name="blobs"``,
        ``synthetic=True``, ``image_shape=(1, 2)``, ``n_classes=k``.

    Raises
    ------
    TypeError
        A size or ``k`` is not an integer, ``noise`` is not a real number, or ``seed`` is
        neither an integer nor a Generator.
    ValueError
        A size or the seed is negative, ``n_train`` is below the number of classes,
        ``k`` is below 2, or ``noise`` is negative or not finite.
    """
    return _load("blobs", _blobs, _check_classes(k), (n_train, n_val, n_test), noise, seed)


#: The toy datasets by name, each a loader ``(n_train, n_val, n_test, *, ..., seed)``.
TOY_DATASETS: dict[str, Callable[..., Dataset]] = {
    "moons": load_moons,
    "spirals": load_spirals,
    "blobs": load_blobs,
}
