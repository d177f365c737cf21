"""Tests for numdl.data.splits: seeded splits, mini-batches, seeding."""

from __future__ import annotations

import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from numdl.data.splits import (
    batch_iterator,
    set_all_seeds,
    train_val_test_split,
)


def _data(n: int = 100):
    X = np.arange(n * 3, dtype=np.float32).reshape(n, 3)
    y = np.arange(n)
    return X, y


# ------------------------------------------------------------------------------- splits
def test_split_is_disjoint_covering_and_consistent():
    X, y = _data(100)
    (Xtr, ytr), (Xva, yva), (Xte, yte) = train_val_test_split(X, y)
    assert (len(ytr), len(yva), len(yte)) == (80, 10, 10)
    all_idx = np.concatenate([ytr, yva, yte])
    np.testing.assert_array_equal(np.sort(all_idx), np.arange(100))  # disjoint and covering
    for Xp, yp in ((Xtr, ytr), (Xva, yva), (Xte, yte)):
        np.testing.assert_array_equal(Xp, X[yp])  # rows stay paired with their targets
        assert Xp.dtype == np.float32
    assert not np.array_equal(ytr, np.arange(80))  # actually shuffled


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(1, 200),
    r=st.tuples(st.floats(0.01, 1), st.floats(0, 1), st.floats(0, 1)),
    seed=st.integers(0, 2**31),
)
def test_split_property_sizes_and_cover(n, r, seed):
    total = sum(r)
    ratios = (r[0] / total, r[1] / total, 1 - r[0] / total - r[1] / total)
    ratios = (ratios[0], ratios[1], max(ratios[2], 0.0))
    X, y = _data(n)
    parts = train_val_test_split(X, y, ratios=ratios, seed=seed)
    sizes = [len(p[1]) for p in parts]
    assert sum(sizes) == n
    assert sizes[0] >= 1
    np.testing.assert_array_equal(np.sort(np.concatenate([p[1] for p in parts])), np.arange(n))
    for size, ratio in zip(sizes[1:], ratios[1:], strict=True):
        assert abs(size - ratio * n) <= 2


def test_split_deterministic_per_seed_and_differs_across_seeds():
    X, y = _data(50)
    a = train_val_test_split(X, y, seed=3)
    b = train_val_test_split(X, y, seed=3)
    c = train_val_test_split(X, y, seed=4)
    for pa, pb in zip(a, b, strict=True):
        np.testing.assert_array_equal(pa[1], pb[1])
    assert not np.array_equal(a[0][1], c[0][1])


def test_split_does_not_mutate_inputs_and_allows_zero_parts():
    X, y = _data(10)
    X0, y0 = X.copy(), y.copy()
    (_, ytr), (_, yva), (_, yte) = train_val_test_split(X, y, ratios=(1.0, 0.0, 0.0))
    assert (len(ytr), len(yva), len(yte)) == (10, 0, 0)
    np.testing.assert_array_equal(X, X0)
    np.testing.assert_array_equal(y, y0)


@pytest.mark.parametrize(
    ("ratios", "exc"),
    [
        ((0.5, 0.5), ValueError),
        ((0.8, 0.1, 0.2), ValueError),
        ((1.2, -0.1, -0.1), ValueError),
        ((0.0, 0.5, 0.5), ValueError),
        (0.8, TypeError),
        (("a", 0.1, 0.1), TypeError),
        ((float("nan"), 0.5, 0.5), ValueError),
    ],
)
def test_split_rejects_bad_ratios(ratios, exc):
    X, y = _data(10)
    with pytest.raises(exc, match="ratios"):
        train_val_test_split(X, y, ratios=ratios)


def test_split_rejects_bad_arrays_and_seed():
    X, y = _data(10)
    with pytest.raises(ValueError, match="y must have as many samples as X"):
        train_val_test_split(X, y[:9])
    with pytest.raises(ValueError, match="X must hold at least one sample"):
        train_val_test_split(X[:0], y[:0])
    with pytest.raises(ValueError, match="seed must be >= 0"):
        train_val_test_split(X, y, seed=-1)
    with pytest.raises(TypeError, match="seed must be an integer"):
        train_val_test_split(X, y, seed=1.5)
    with pytest.raises(ValueError, match="X must be at least 1-D"):
        train_val_test_split(np.float64(1.0), y)


# ----------------------------------------------------------------------------- batching
@pytest.mark.parametrize("shuffle", [False, True])
def test_batches_cover_every_sample_once(shuffle):
    X, y = _data(23)
    batches = list(batch_iterator(X, y, 5, shuffle=shuffle, rng=0))
    assert [len(b[1]) for b in batches] == [5, 5, 5, 5, 3]
    seen = np.concatenate([b[1] for b in batches])
    np.testing.assert_array_equal(np.sort(seen), np.arange(23))
    for Xb, yb in batches:
        np.testing.assert_array_equal(Xb, X[yb])
    assert np.array_equal(seen, np.arange(23)) != shuffle


def test_drop_last_drops_remainder():
    X, y = _data(23)
    batches = list(batch_iterator(X, y, 5, drop_last=True))
    assert [len(b[0]) for b in batches] == [5, 5, 5, 5]
    shuffled = list(batch_iterator(X, y, 5, drop_last=True, shuffle=True, rng=1))
    assert len(shuffled) == 4
    assert len(np.unique(np.concatenate([b[1] for b in shuffled]))) == 20
    assert list(batch_iterator(X, y, 30, drop_last=True)) == []


def test_shuffle_is_seeded():
    X, y = _data(40)
    order = [
        np.concatenate([b[1] for b in batch_iterator(X, y, 8, shuffle=True, rng=s)])
        for s in (7, 7, 8)
    ]
    np.testing.assert_array_equal(order[0], order[1])
    assert not np.array_equal(order[0], order[2])
    gen = np.random.default_rng(0)
    epoch1 = np.concatenate([b[1] for b in batch_iterator(X, y, 8, shuffle=True, rng=gen)])
    epoch2 = np.concatenate([b[1] for b in batch_iterator(X, y, 8, shuffle=True, rng=gen)])
    assert not np.array_equal(epoch1, epoch2)  # a shared generator reshuffles each epoch


def test_batch_iterator_without_targets_and_errors():
    X, _ = _data(7)
    batches = list(batch_iterator(X, None, 4))
    assert [b[1] for b in batches] == [None, None]
    np.testing.assert_array_equal(batches[1][0], X[4:])
    with pytest.raises(ValueError, match="batch_size must be >= 1"):
        batch_iterator(X, None, 0)  # raised at the call, not at the first next()
    with pytest.raises(TypeError, match="batch_size must be an integer"):
        batch_iterator(X, None, 2.0)
    with pytest.raises(ValueError, match="y must have as many samples"):
        batch_iterator(X, np.arange(3), 2)
    with pytest.raises(TypeError, match="rng must be"):
        batch_iterator(X, None, 2, shuffle=True, rng="seed")


# ------------------------------------------------------------------------------ seeding
def test_set_all_seeds_reproduces_every_rng():
    g1 = set_all_seeds(123)
    a = (random.random(), np.random.rand(), g1.random())  # noqa: NPY002
    g2 = set_all_seeds(123)
    b = (random.random(), np.random.rand(), g2.random())  # noqa: NPY002
    assert a == b
    assert isinstance(g1, np.random.Generator)
    with pytest.raises(ValueError, match="seed must be < 2\\*\\*32"):
        set_all_seeds(2**32)
    with pytest.raises(TypeError, match="seed must be an integer"):
        set_all_seeds("1")
