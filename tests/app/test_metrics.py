"""Tests for numdl.app.metrics: the generalisation-gap diagnosis and top-1 accuracy."""

from __future__ import annotations

import numpy as np
import pytest

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
