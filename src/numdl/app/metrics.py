"""Evaluation metrics (textbook ch. 5, section 3.4).

Top-1 accuracy, the confusion matrix, per-class accuracy and the generalisation-gap
diagnosis of under- and overfitting.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from numdl.core.validation import (
    as_array,
    check_float_array,
    check_in_range,
    check_int,
    check_labels,
    check_ndim,
    check_real,
    check_shape,
)

__all__ = ["GapReport", "accuracy", "confusion_matrix", "generalization_gap", "per_class_accuracy"]


def confusion_matrix(y_true: Any, y_pred: Any, n_classes: int) -> np.ndarray:
    """C_ij = #{samples of class i predicted as j}, an (n_classes, n_classes) int64 matrix."""
    n_classes = check_int(n_classes, "n_classes", minimum=1)
    y_true = as_array(y_true, "y_true")
    check_ndim(y_true, "y_true", 1)
    y_true = check_labels(y_true, "y_true", y_true.shape[0], n_classes)
    y_pred = check_labels(y_pred, "y_pred", y_true.shape[0], n_classes)
    flat = np.bincount(y_true * n_classes + y_pred, minlength=n_classes * n_classes)
    return flat.reshape(n_classes, n_classes).astype(np.int64)


def per_class_accuracy(confusion: Any) -> np.ndarray:
    """Recall of each class: C_ii / Σ_j C_ij (NaN for a class with no samples)."""
    confusion = as_array(confusion, "confusion")
    if confusion.ndim != 2 or confusion.shape[0] != confusion.shape[1]:
        raise ValueError(f"confusion must be a square matrix, got shape {confusion.shape}")
    totals = confusion.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.diag(confusion) / totals


@dataclass(frozen=True)
class GapReport:
    """Result of :func:`generalization_gap`.

    Attributes
    ----------
    loss_gap : float
        val_loss − train_loss.
    acc_gap : float or None
        train_acc − val_acc, when both accuracies were given.
    regime : str
        ``"underfitting"``, ``"overfitting"`` or ``"good fit"``.
    """

    loss_gap: float
    acc_gap: float | None
    regime: str


def generalization_gap(
    train_loss: float,
    val_loss: float,
    *,
    train_acc: float | None = None,
    val_acc: float | None = None,
    underfit_loss: float = 0.5,
    overfit_loss_gap: float = 0.1,
    underfit_acc: float = 0.9,
    overfit_acc_gap: float = 0.03,
) -> GapReport:
    """gap = val_loss − train_loss (and train_acc − val_acc), with a regime (section 3.4.2).

    The regime is decided in this order:

    1. ``"underfitting"`` if the model does not fit its own training data:
       train_loss > ``underfit_loss`` or train_acc < ``underfit_acc``;
    2. ``"overfitting"`` if it fits training data much better than unseen data:
       val_loss − train_loss > ``overfit_loss_gap`` or train_acc − val_acc >
       ``overfit_acc_gap``;
    3. ``"good fit"`` otherwise.

    The accuracy criteria apply only when both accuracies are given. The default thresholds
    suit mean cross-entropy (nats) and accuracy on an MNIST-like 10-class task (chance
    loss ln 10 ≈ 2.3); set them for other tasks.

    Parameters
    ----------
    train_loss, val_loss : float
        Mean losses on the training and validation sets (finite).
    train_acc, val_acc : float in [0, 1], optional
        Accuracies; give both or neither.
    underfit_loss, overfit_loss_gap : float, default 0.5, 0.1
        Loss thresholds (≥ 0).
    underfit_acc, overfit_acc_gap : float, default 0.9, 0.03
        Accuracy thresholds, in [0, 1].

    Returns
    -------
    GapReport

    Raises
    ------
    TypeError
        If a loss, accuracy or threshold is not a real number.
    ValueError
        If a value is out of range, or only one of ``train_acc`` and ``val_acc`` is given.
    """
    train_loss = check_real(train_loss, "train_loss")
    val_loss = check_real(val_loss, "val_loss")
    underfit_loss = check_in_range(underfit_loss, "underfit_loss", 0, np.inf)
    overfit_loss_gap = check_in_range(overfit_loss_gap, "overfit_loss_gap", 0, np.inf)
    underfit_acc = check_in_range(underfit_acc, "underfit_acc", 0, 1, closed="both")
    overfit_acc_gap = check_in_range(overfit_acc_gap, "overfit_acc_gap", 0, 1, closed="both")
    if (train_acc is None) != (val_acc is None):
        missing = "val_acc" if val_acc is None else "train_acc"
        raise ValueError(f"{missing} must be given together with the other accuracy")
    acc_gap = None
    if train_acc is not None and val_acc is not None:
        train_acc = check_in_range(train_acc, "train_acc", 0, 1, closed="both")
        val_acc = check_in_range(val_acc, "val_acc", 0, 1, closed="both")
        acc_gap = train_acc - val_acc
    loss_gap = val_loss - train_loss

    if train_loss > underfit_loss or (train_acc is not None and train_acc < underfit_acc):
        regime = "underfitting"
    elif loss_gap > overfit_loss_gap or (acc_gap is not None and acc_gap > overfit_acc_gap):
        regime = "overfitting"
    else:
        regime = "good fit"
    return GapReport(loss_gap=loss_gap, acc_gap=acc_gap, regime=regime)


def accuracy(logits: Any, targets: Any) -> float:
    """accuracy = (1/B) Σᵢ 1[argmax_j ℓᵢⱼ = yᵢ], top-1 from logits (section 3.4.2).

    Parameters
    ----------
    logits : array-like of shape (B, C), float32 or float64
        Scores (logits or probabilities: argmax is the same). Ties go to the lowest index;
        ±inf are ordinary scores. NaN is rejected: a row holding NaN has no argmax (NumPy
        would report the NaN's position as the prediction).
    targets : array-like of shape (B,) or (B, C)
        Integer labels in [0, C), or float32/float64 one-hot (or soft) target rows whose
        argmax is the class: finite, non-negative and not all zero (ties go to the lowest
        index).

    Returns
    -------
    float
        The fraction of rows whose predicted class is the target class, in [0, 1].

    Raises
    ------
    TypeError
        If ``logits`` is not float32/float64, 1-D ``targets`` are not integer labels (floats,
        bools, strings, objects) or 2-D ``targets`` are not float32/float64, or either is a
        masked array.
    ValueError
        If shapes disagree, B = 0 or C = 0, ``logits`` holds NaN, labels are out of range,
        or target rows hold NaN, ±inf, negative entries or no mass.
    """
    # plain arrays: np.matrix would argmax to (B, 1) and compare (B, B) pairs; a mask would
    # be ignored
    logits = check_float_array(logits, "logits", ndim=2)
    n_rows, n_classes = logits.shape
    if n_rows == 0 or n_classes == 0:
        raise ValueError(
            f"logits must hold at least one row and one class, got shape {logits.shape}"
        )
    nan_rows = np.isnan(logits).any(axis=1)
    if nan_rows.any():
        raise ValueError(
            f"logits must not hold NaN (a NaN row has no argmax), got NaN in "
            f"{int(nan_rows.sum())} row(s), the first at row {int(np.argmax(nan_rows))}"
        )
    targets = as_array(targets, "targets")
    if targets.ndim == 1:
        labels = check_labels(targets, "targets", n_rows, n_classes)
    elif targets.ndim == 2:
        targets = check_float_array(targets, "targets")
        check_shape(targets, "targets", (n_rows, n_classes))
        labels = _target_classes(targets)
    else:
        raise ValueError(
            "targets must be integer labels of shape (B,) or target rows of shape (B, C), "
            f"got shape {targets.shape} ({targets.ndim}-D)"
        )
    return float(np.mean(np.argmax(logits, axis=1) == labels))


def _target_classes(targets: np.ndarray) -> np.ndarray:
    """The class of each one-hot/soft target row (its argmax), after checking the rows."""
    finite = np.isfinite(targets)
    if not finite.all():
        raise ValueError(
            f"targets must be finite, got {int((~finite).sum())} NaN or infinite entries"
        )
    if (targets < 0).any():
        raise ValueError("targets must be non-negative (target rows are probabilities)")
    empty = ~targets.any(axis=1)
    if empty.any():
        raise ValueError(
            f"targets rows must not be all zero (such a row names no class), got "
            f"{int(empty.sum())} such row(s), the first at row {int(np.argmax(empty))}"
        )
    return np.argmax(targets, axis=1)
