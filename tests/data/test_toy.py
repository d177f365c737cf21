"""The two-dimensional toy datasets: shapes, balance, seeding, geometry, argument checks."""

from __future__ import annotations

import numpy as np
import pytest

from numdl.data import TOY_DATASETS, Dataset, load_blobs, load_moons, load_spirals

LOADERS = sorted(TOY_DATASETS.items())


@pytest.mark.parametrize(("name", "load"), LOADERS)
def test_splits_shapes_dtypes_and_balance(name, load):
    data = load(101, 20, 7, seed=3)
    assert isinstance(data, Dataset)
    assert data.name == name
    assert data.synthetic
    assert data.source_dir is None
    assert data.image_shape == (1, 2)
    k = data.n_classes
    for split, n in ((data.train, 101), (data.val, 20), (data.test, 7)):
        assert split.X.shape == (n, 2)
        assert split.X.dtype == np.float32
        assert split.y.shape == (n,)
        assert split.y.dtype == np.int64
        assert np.isfinite(split.X).all()
        counts = np.bincount(split.y, minlength=k)
        assert counts.size == k
        assert counts.max() - counts.min() <= 1
    assert "SYNTHETIC" in data.describe()


@pytest.mark.parametrize(("name", "load"), LOADERS)
def test_seeded_and_splits_independent_of_the_other_sizes(name, load):
    a, b = load(50, 10, 10, seed=5), load(50, 10, 10, seed=5)
    for s, t in zip((a.train, a.val, a.test), (b.train, b.val, b.test), strict=True):
        np.testing.assert_array_equal(s.X, t.X)
        np.testing.assert_array_equal(s.y, t.y)
    other = load(50, 10, 10, seed=6)
    assert not np.array_equal(a.train.X, other.train.X)
    bigger = load(80, 10, 10, seed=5)  # changing n_train leaves validation and test alone
    np.testing.assert_array_equal(bigger.val.X, a.val.X)
    np.testing.assert_array_equal(bigger.test.y, a.test.y)


def test_a_generator_seed_spawns_the_splits():
    a = load_moons(30, 5, 5, seed=np.random.default_rng(9))
    b = load_moons(30, 5, 5, seed=np.random.default_rng(9))
    np.testing.assert_array_equal(a.train.X, b.train.X)
    # an int seed and a Generator made from it spawn the same streams
    np.testing.assert_array_equal(load_moons(30, 5, 5, seed=9).test.X, a.test.X)


def test_moons_lie_on_their_half_circles_without_noise():
    X, y = load_moons(400, 0, 0, noise=0.0).train
    upper, lower = X[y == 0].astype(np.float64), X[y == 1].astype(np.float64)
    np.testing.assert_allclose(np.hypot(upper[:, 0], upper[:, 1]), 1.0, atol=1e-6)
    assert (upper[:, 1] >= -1e-6).all()
    np.testing.assert_allclose(np.hypot(lower[:, 0] - 1.0, lower[:, 1] - 0.5), 1.0, atol=1e-6)
    assert (lower[:, 1] <= 0.5 + 1e-6).all()


def test_spiral_arms_turn_once_and_are_rotations_of_each_other():
    X, y = load_spirals(3000, 0, 0, k=4, noise=0.0).train
    r = np.hypot(X[:, 0], X[:, 1]).astype(np.float64)
    theta = np.arctan2(X[:, 1], X[:, 0]).astype(np.float64)
    expected = 2 * np.pi * y / 4 + 2 * np.pi * r
    np.testing.assert_allclose(np.angle(np.exp(1j * (theta - expected))), 0.0, atol=1e-4)
    assert r.max() <= 1.0 + 1e-6


def test_blob_means_are_the_k_gon_vertices():
    X, y = load_blobs(6000, 0, 0, k=5, noise=0.1, seed=1).train
    for c in range(5):
        centre = [np.cos(2 * np.pi * c / 5), np.sin(2 * np.pi * c / 5)]
        np.testing.assert_allclose(X[y == c].mean(axis=0), centre, atol=0.02)
        np.testing.assert_allclose(X[y == c].std(axis=0), 0.1, rtol=0.1)


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: load_moons(0), ValueError, "n_train must be >= 1"),
        (lambda: load_moons(10, -1), ValueError, "n_val must be >= 0"),
        (lambda: load_moons(10, 1, -2), ValueError, "n_test must be >= 0"),
        (lambda: load_moons(10.0), TypeError, "n_train must be an integer"),
        (lambda: load_moons(noise=-0.1), ValueError, "noise must be >= 0"),
        (lambda: load_moons(noise=float("nan")), ValueError, "noise must be finite"),
        (lambda: load_blobs(noise="0.1"), TypeError, "noise must be a real number"),
        (lambda: load_spirals(k=1), ValueError, "k must be >= 2"),
        (lambda: load_blobs(k=2.5), TypeError, "k must be an integer"),
        (lambda: load_spirals(4, k=5), ValueError, "n_train must be at least the 5 classes"),
        (lambda: load_moons(1), ValueError, "n_train must be at least the 2 classes"),
        (lambda: load_moons(seed=-1), ValueError, "seed must be >= 0"),
        (lambda: load_moons(seed="0"), TypeError, "seed must be a numpy.random.Generator"),
    ],
)
def test_bad_arguments_are_named(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_a_rejected_call_leaves_a_generator_seed_unused():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="k must be"):
        load_spirals(k=0, seed=rng)
    with pytest.raises(ValueError, match="noise"):
        load_spirals(noise=-1.0, seed=rng)
    np.testing.assert_array_equal(
        load_spirals(20, 0, 0, seed=rng).train.X,
        load_spirals(20, 0, 0, seed=np.random.default_rng(0)).train.X,
    )
