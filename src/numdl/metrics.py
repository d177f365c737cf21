"""Classification metrics beyond top-1 accuracy: the confusion matrix and per-class accuracy."""

from __future__ import annotations

from typing import Any

import numpy as np

from numdl._validation import as_array, check_int, check_labels, check_ndim

__all__ = ["confusion_matrix", "per_class_accuracy"]


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
