"""Machine-learning plumbing (textbook ch. 5, section 3.4): splits, batching, seeding,
capacity diagnostics, accuracy and CSV logging.

All randomness goes through a seeded :class:`numpy.random.Generator`, so a run is
reproducible from its seed.
"""

from __future__ import annotations

import csv
import os
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TextIO

import numpy as np

from numdl._validation import (
    as_array,
    check_float_array,
    check_in_range,
    check_int,
    check_labels,
    check_real,
    check_shape,
)

__all__ = [
    "CSVLogger",
    "GapReport",
    "accuracy",
    "batch_iterator",
    "generalization_gap",
    "set_all_seeds",
    "train_val_test_split",
]

RATIO_TOLERANCE = 1e-9


def _as_generator(rng: Any, name: str = "rng") -> np.random.Generator:
    """A Generator as given, or a new one seeded with the non-negative integer ``rng``."""
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, bool) or not isinstance(rng, (int, np.integer)):
        raise TypeError(
            f"{name} must be a numpy.random.Generator or an integer seed, got {type(rng).__name__}"
        )
    return np.random.default_rng(check_int(rng, name, minimum=0))


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
        generator = np.random.default_rng() if rng is None else _as_generator(rng)
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


# ------------------------------------------------------------- diagnostics and metrics
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
        Scores (logits or probabilities: argmax is the same). Ties go to the lowest index.
    targets : array-like of shape (B,) or (B, C)
        Integer labels in [0, C), or one-hot (or soft) target rows whose argmax is the class.

    Returns
    -------
    float
        The fraction of rows whose predicted class is the target class, in [0, 1].

    Raises
    ------
    TypeError
        If ``logits`` is not float32/float64 or integer ``targets`` are not integer.
    ValueError
        If shapes disagree, B = 0, or labels are out of range.
    """
    logits = check_float_array(logits, "logits", ndim=2)
    n_rows, n_classes = logits.shape
    if n_rows == 0:
        raise ValueError("logits must hold at least one row, got shape (0, C)")
    targets = as_array(targets, "targets")
    if targets.ndim == 2:
        check_shape(targets, "targets", (n_rows, n_classes))
        labels = np.argmax(targets, axis=1)
    else:
        labels = check_labels(targets, "targets", n_rows, n_classes)
    return float(np.mean(np.argmax(logits, axis=1) == labels))


# ------------------------------------------------------------------------- CSV logging
class CSVLogger:
    """Append one CSV row per ``log(**row)`` call, flushed at once (section 3.4.2).

    The header is written when the file is new or empty. An existing file with the same
    header is appended to (resuming a run); one with a different header is an error rather
    than a silently mixed file. Use it as a context manager, or call :meth:`close`.

    Parameters
    ----------
    path : str or os.PathLike
        The CSV file (created if missing; its directory must exist).
    fieldnames : sequence of str
        Column names, non-empty and unique; every ``log`` call gives exactly these.

    Raises
    ------
    TypeError
        If ``fieldnames`` is not a sequence of strings.
    ValueError
        If ``fieldnames`` is empty or repeats a name, or ``path`` has another header.

    Examples
    --------
    >>> with CSVLogger("log.csv", ["epoch", "loss"]) as log:  # doctest: +SKIP
    ...     log.log(epoch=1, loss=0.25)
    """

    def __init__(self, path: str | os.PathLike[str], fieldnames: Sequence[str]) -> None:
        if isinstance(fieldnames, str) or not isinstance(fieldnames, Sequence):
            raise TypeError(
                f"fieldnames must be a sequence of strings, got {type(fieldnames).__name__}"
            )
        names = list(fieldnames)
        if not names:
            raise ValueError("fieldnames must name at least one column, got none")
        if not all(isinstance(name, str) for name in names):
            raise TypeError(f"fieldnames must be a sequence of strings, got {names!r}")
        if len(set(names)) != len(names):
            raise ValueError(f"fieldnames must be unique, got {names!r}")
        self.path = os.fspath(path)
        self.fieldnames: tuple[str, ...] = tuple(names)

        existing = self._read_header()
        if existing is not None and existing != list(names):
            raise ValueError(
                f"path {self.path!r} already has the header {existing!r}, which differs from "
                f"fieldnames {names!r}; use another file or the same fieldnames to resume"
            )
        self._file: TextIO | None = open(self.path, "a", newline="", encoding="utf-8")  # noqa: SIM115
        self._writer = csv.DictWriter(self._file, fieldnames=names)
        if existing is None:
            self._writer.writeheader()
            self._file.flush()

    def _read_header(self) -> list[str] | None:
        """The header row of an existing non-empty file, else ``None``."""
        if not os.path.exists(self.path) or os.path.getsize(self.path) == 0:
            return None
        with open(self.path, newline="", encoding="utf-8") as f:
            return next(csv.reader(f), None)

    def log(self, **row: Any) -> None:
        """Write one row (one value per field name) and flush it to disk.

        Raises
        ------
        ValueError
            If a field is missing or unknown (both are named), or the logger is closed.
        """
        if self._file is None:
            raise ValueError(f"CSVLogger for {self.path!r} is closed")
        unknown = [key for key in row if key not in self.fieldnames]
        missing = [name for name in self.fieldnames if name not in row]
        if unknown or missing:
            raise ValueError(
                f"row must give exactly the fieldnames {list(self.fieldnames)!r}: "
                f"unknown field(s) {unknown!r}, missing field(s) {missing!r}"
            )
        self._writer.writerow(row)
        self._file.flush()

    def close(self) -> None:
        """Close the file (idempotent)."""
        if self._file is not None:
            self._file.close()
            self._file = None

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` has been called."""
        return self._file is None

    def __enter__(self) -> CSVLogger:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
