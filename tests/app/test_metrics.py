"""Tests for numdl.app.metrics: the generalisation-gap diagnosis and top-1 accuracy."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from numdl.app.metrics import (
    GapReport,
    accuracy,
    generalization_gap,
)


def _data(n: int = 100):
    X = np.arange(n * 3, dtype=np.float32).reshape(n, 3)
    y = np.arange(n)
    return X, y


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


_LOGITS = np.array([[2.0, 1.0, 0.0], [0.0, 3.0, 1.0], [1.0, 0.0, 5.0]])


@pytest.mark.parametrize(
    ("targets", "exc", "pattern"),
    [
        # NaN/inf target rows used to argmax to a class (NaN rows gave 1.0)
        (np.full((3, 3), np.nan), ValueError, r"^targets must be finite, got 9 NaN or inf"),
        (np.array([[1.0, 0, 0], [0, np.inf, 0], [0, 0, 1]]), ValueError, r"^targets must be fin"),
        (np.array([[1.0, 0, 0], [0, 1, -np.inf], [0, 0, 1]]), ValueError, r"^targets must be fin"),
        (np.array([[1.0, 0, 0], [0, 1, -0.5], [0, 0, 1]]), ValueError, r"^targets must be non-neg"),
        (np.array([[1.0, 0, 0], [0, 0, 0], [0, 0, 1]]), ValueError, r"^targets rows must not be"),
        # strings (used to give 0.0), bools, objects, floats: not labels
        (np.array(["0", "1", "2"]), TypeError, r"^targets must hold integer class labels"),
        (np.array([["a", "b", "c"]] * 3), TypeError, r"^targets must have dtype float32 or"),
        (np.array([True, False, True]), TypeError, r"^targets must hold integer class labels"),
        (np.eye(3, dtype=bool), TypeError, r"^targets must have dtype float32 or float64"),
        (np.array([0.0, 1.0, 2.0]), TypeError, r"^targets must hold integer class labels"),
        (np.array([np.nan, 1.0, 2.0]), TypeError, r"^targets must hold integer class labels"),
        (
            np.array([0, 1, object()], dtype=object),
            TypeError,
            r"^targets must be a numeric array, got an object array",
        ),
        ([0, 1, None], TypeError, r"^targets must be a numeric array, got an object array"),
        (np.eye(3, dtype=int), TypeError, r"^targets must have dtype float32 or float64"),
        (np.eye(3, dtype=np.float16), TypeError, r"^targets must have dtype float32 or"),
        # shapes
        (np.array(1), ValueError, r"^targets must be integer labels of shape \(B,\) or"),
        (np.zeros((3, 3, 1)), ValueError, r"^targets must be integer labels of shape"),
        (np.array([0, 1]), ValueError, r"^targets must have shape \(3,\)"),
        (np.eye(4)[:3], ValueError, r"^targets must have shape \(3, 3\)"),
    ],
)
def test_accuracy_rejects_meaningless_targets(targets, exc, pattern):
    with pytest.raises(exc, match=pattern):
        accuracy(_LOGITS, targets)


def test_accuracy_rejects_nan_logits_but_takes_infinities():
    """A NaN row has no argmax (NumPy would name the NaN's index): rejected, naming logits.
    ±inf are ordinary scores; an all −inf row is a tie, which goes to class 0."""
    logits = _LOGITS.copy()
    logits[1, 2] = np.nan
    with pytest.raises(
        ValueError, match=r"^logits must not hold NaN .* 1 row\(s\), the first at row 1"
    ):
        accuracy(logits, np.array([0, 1, 2]))
    with pytest.raises(ValueError, match=r"^logits must hold at least one row and one class"):
        accuracy(np.zeros((2, 0)), np.zeros(2, dtype=int))
    inf = np.inf
    logits = np.array([[inf, 0.0, 1.0], [-inf, -inf, -inf], [0.0, -inf, inf]])
    assert accuracy(logits, np.array([0, 0, 2])) == 1.0
    assert accuracy(logits, np.eye(3)[[0, 1, 2]]) == pytest.approx(2 / 3)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(
    n=st.integers(1, 20),
    c=st.integers(1, 6),
    seed=st.integers(0, 2**32 - 1),
    dtype=st.sampled_from([np.float32, np.float64]),
)
def test_accuracy_matches_a_count_for_labels_one_hot_and_soft_rows(n, c, seed, dtype):
    rng = np.random.default_rng(seed)
    logits = rng.standard_normal((n, c)).astype(dtype)
    labels = rng.integers(0, c, size=n)
    want = sum(int(np.argmax(logits[i]) == labels[i]) for i in range(n)) / n
    assert accuracy(logits, labels) == pytest.approx(want)
    assert accuracy(logits, labels.astype(np.uint8)) == pytest.approx(want)
    assert accuracy(logits, np.eye(c, dtype=dtype)[labels]) == pytest.approx(want)
    # soft rows peaked at the label (ties impossible: the peak holds more than half the mass)
    soft = rng.random((n, c)) * 0.4 / c
    soft[np.arange(n), labels] = 0.6
    assert accuracy(logits, soft.astype(dtype)) == pytest.approx(want)
    assert 0.0 <= accuracy(logits, labels) <= 1.0


@pytest.mark.filterwarnings("ignore:the matrix subclass:PendingDeprecationWarning")
def test_accuracy_reads_subclasses_as_plain_arrays_and_rejects_masks():
    """np.matrix argmaxes to (B, 1), which compared with (B,) labels counted B² pairs."""
    labels = np.array([0, 1, 0])
    assert accuracy(np.asmatrix(_LOGITS), labels) == pytest.approx(2 / 3)
    assert accuracy(_LOGITS, np.asmatrix(np.eye(3)[labels])) == pytest.approx(2 / 3)
    masked = np.ma.array(_LOGITS, mask=np.eye(3, dtype=bool))
    with pytest.raises(TypeError, match=r"^logits must be a plain array, got a masked array"):
        accuracy(masked, labels)
    with pytest.raises(TypeError, match=r"^targets must be a plain array"):
        accuracy(_LOGITS, np.ma.array(labels, mask=[0, 1, 0]))
