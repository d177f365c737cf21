"""Tests for numdl.ml: splits, batching, seeding, diagnostics, accuracy, CSV logging."""

from __future__ import annotations

import csv
import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from numdl.ml import (
    CSVLogger,
    GapReport,
    accuracy,
    batch_iterator,
    generalization_gap,
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


# ---------------------------------------------------------------------------- diagnostics
@pytest.mark.parametrize(
    ("kwargs", "regime"),
    [
        ({"train_loss": 1.5, "val_loss": 1.6}, "underfitting"),
        ({"train_loss": 0.05, "val_loss": 0.4}, "overfitting"),
        ({"train_loss": 0.1, "val_loss": 0.15}, "good fit"),
        ({"train_loss": 0.1, "val_loss": 0.12, "train_acc": 0.99, "val_acc": 0.9}, "overfitting"),
        ({"train_loss": 0.1, "val_loss": 0.12, "train_acc": 0.8, "val_acc": 0.8}, "underfitting"),
        ({"train_loss": 0.1, "val_loss": 0.12, "train_acc": 0.98, "val_acc": 0.97}, "good fit"),
        ({"train_loss": 1.0, "val_loss": 1.2, "underfit_loss": 2.0}, "overfitting"),
    ],
)
def test_generalization_gap_regimes(kwargs, regime):
    report = generalization_gap(**kwargs)
    assert isinstance(report, GapReport)
    assert report.regime == regime
    assert report.loss_gap == pytest.approx(kwargs["val_loss"] - kwargs["train_loss"])
    if "train_acc" in kwargs:
        assert report.acc_gap == pytest.approx(kwargs["train_acc"] - kwargs["val_acc"])
    else:
        assert report.acc_gap is None


def test_generalization_gap_errors():
    with pytest.raises(ValueError, match="val_acc"):
        generalization_gap(0.1, 0.2, train_acc=0.9)
    with pytest.raises(ValueError, match="train_acc"):
        generalization_gap(0.1, 0.2, train_acc=1.5, val_acc=0.9)
    with pytest.raises(TypeError, match="train_loss"):
        generalization_gap("0.1", 0.2)
    with pytest.raises(ValueError, match="val_loss must be finite"):
        generalization_gap(0.1, float("inf"))
    with pytest.raises(ValueError, match="overfit_loss_gap"):
        generalization_gap(0.1, 0.2, overfit_loss_gap=-1)


# ------------------------------------------------------------------------------- accuracy
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_accuracy_with_labels_and_one_hot(dtype):
    logits = np.array([[2.0, 1.0, 0.0], [0.0, 3.0, 1.0], [1.0, 0.0, 5.0], [0.0, 0.0, -1.0]], dtype)
    labels = np.array([0, 1, 0, 1])
    assert accuracy(logits, labels) == pytest.approx(0.5)
    one_hot = np.eye(3, dtype=dtype)[labels]
    assert accuracy(logits, one_hot) == pytest.approx(0.5)
    assert accuracy(logits, np.array([0, 1, 2, 0])) == 1.0  # tie in row 3 goes to class 0


def test_accuracy_errors():
    logits = np.zeros((2, 3))
    with pytest.raises(ValueError, match="targets must hold labels in"):
        accuracy(logits, np.array([0, 3]))
    with pytest.raises(TypeError, match="targets must hold integer class labels"):
        accuracy(logits, np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match="targets must have shape"):
        accuracy(logits, np.zeros((2, 4)))
    with pytest.raises(ValueError, match="logits must be 2-D"):
        accuracy(np.zeros(3), np.array([0]))
    with pytest.raises(ValueError, match="logits must hold at least one row"):
        accuracy(np.zeros((0, 3)), np.zeros(0, dtype=int))


# ----------------------------------------------------------------------------- CSV logging
def _read(path):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.reader(f))


def test_csv_logger_round_trip_and_resume(tmp_path):
    path = tmp_path / "log.csv"
    with CSVLogger(path, ["epoch", "loss"]) as log:
        log.log(epoch=1, loss=0.5)
        assert _read(path) == [["epoch", "loss"], ["1", "0.5"]]  # flushed immediately
        log.log(loss=np.float32(0.25), epoch=2)
    assert log.closed
    with CSVLogger(str(path), ("epoch", "loss")) as log:  # resume: no second header
        log.log(epoch=3, loss=0.125)
    rows = _read(path)
    assert rows == [["epoch", "loss"], ["1", "0.5"], ["2", "0.25"], ["3", "0.125"]]
    with open(path, newline="", encoding="utf-8") as f:
        records = list(csv.DictReader(f))
    assert [float(r["loss"]) for r in records] == [0.5, 0.25, 0.125]


def test_csv_logger_rejects_other_header(tmp_path):
    path = tmp_path / "log.csv"
    with CSVLogger(path, ["epoch", "loss"]) as log:
        log.log(epoch=1, loss=1.0)
    with pytest.raises(ValueError, match="differs from fieldnames"):
        CSVLogger(path, ["epoch", "acc"])
    assert _read(path) == [["epoch", "loss"], ["1", "1.0"]]  # untouched


def test_csv_logger_writes_header_into_empty_file(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_text("")
    with CSVLogger(path, ["a"]) as log:
        log.log(a=1)
    assert _read(path) == [["a"], ["1"]]


def test_csv_logger_row_and_field_errors(tmp_path):
    path = tmp_path / "log.csv"
    log = CSVLogger(path, ["epoch", "loss"])
    with pytest.raises(ValueError, match=r"unknown field\(s\) \['acc'\]"):
        log.log(epoch=1, loss=0.1, acc=0.9)
    with pytest.raises(ValueError, match=r"missing field\(s\) \['loss'\]"):
        log.log(epoch=1)
    log.close()
    log.close()
    with pytest.raises(ValueError, match="closed"):
        log.log(epoch=1, loss=0.1)
    assert _read(path) == [["epoch", "loss"]]
    with pytest.raises(ValueError, match="fieldnames must be unique"):
        CSVLogger(tmp_path / "b.csv", ["a", "a"])
    with pytest.raises(ValueError, match="fieldnames must name at least one"):
        CSVLogger(tmp_path / "c.csv", [])
    with pytest.raises(TypeError, match="fieldnames must be a sequence of strings"):
        CSVLogger(tmp_path / "d.csv", "epoch")
    with pytest.raises(TypeError, match="fieldnames must be a sequence of strings"):
        CSVLogger(tmp_path / "e.csv", ["epoch", 1])
