"""Feature standardisation: z = (x − μ) / σ with statistics fitted on the training split."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from numdl.core.validation import (
    check_float_array,
    check_positive,
    is_sequence,
    normalize_axis,
)

__all__ = ["Standardizer"]


class Standardizer:
    """z = (x − μ) / σ with μ, σ over ``axis`` of the training data (keepdims=True).

    Fit on the training data only, then transform the training, validation and test data
    with the same statistics (fitting on validation/test data leaks information).

    Zero-variance guard: a feature whose standard deviation is ≤ ``eps`` (e.g. an MNIST
    border pixel that is 0 in every training image) is only centred, divided by 1 instead
    of σ, so it maps to exactly 0 on the training data and never blows up on new data.
    The statistics are accumulated in float64 and stored in the dtype of the fitted data.

    Parameters
    ----------
    eps : float, default 1e-8
        The standard deviation at or below which a feature counts as constant (≥ 0).

    Attributes
    ----------
    mean_, std_ : arrays
        μ and σ (population std, ddof=0), with the reduced axes kept as size 1.
    scale_ : array
        σ where σ > eps, else 1: the divisor used by :meth:`transform`.
    axis_ : tuple of int
        The reduced axes.
    """

    def __init__(self, eps: float = 1e-8) -> None:
        self.eps = check_positive(eps, "eps", allow_zero=True)
        self.mean_: np.ndarray | None = None
        self.std_: np.ndarray | None = None
        self.scale_: np.ndarray | None = None
        self.axis_: tuple[int, ...] | None = None

    def fit(self, X: Any, axis: int | Sequence[int] | None = 0) -> Standardizer:
        """μ = mean(X, axis, keepdims=True), σ = std(X, axis, keepdims=True).

        Parameters
        ----------
        X : array-like, float32 or float64 (integer and bool data become float64)
            Training data, non-empty along ``axis``.
        axis : int, sequence of int or None, default 0
            Axes to reduce: 0 for per-feature statistics of (N, D) data, (0, 2, 3) for
            per-channel statistics of (N, C, H, W) images, None for one global μ and σ.

        Returns
        -------
        self

        Raises
        ------
        TypeError
            If ``X`` is not numeric or ``axis`` is not an integer.
        ValueError
            If ``axis`` is out of range or repeated, or ``X`` is empty along it.
        """
        X = check_float_array(X, "X", convert=True)
        if X.ndim == 0:
            raise ValueError("X must be at least 1-D, got a 0-D array")
        if axis is None:
            axes = tuple(range(X.ndim))
        elif is_sequence(axis):
            axes = tuple(normalize_axis(a, X.ndim) for a in axis)
        else:
            axes = (normalize_axis(axis, X.ndim),)
        if len(set(axes)) != len(axes):
            raise ValueError(f"axis must not repeat an axis, got {axis!r}")
        if any(X.shape[a] == 0 for a in axes):
            raise ValueError(f"X must be non-empty along axis {axis!r}, got shape {X.shape}")
        mean = np.mean(X, axis=axes, keepdims=True, dtype=np.float64)
        std = np.sqrt(np.mean((X - mean) ** 2, axis=axes, keepdims=True))
        self.axis_ = tuple(sorted(axes))
        self.mean_ = mean.astype(X.dtype)
        self.std_ = std.astype(X.dtype)
        self.scale_ = np.where(std > self.eps, std, 1.0).astype(X.dtype)
        return self

    def _checked(self, X: Any, name: str) -> np.ndarray:
        if self.mean_ is None or self.scale_ is None:
            raise RuntimeError("Standardizer is not fitted: call fit(X_train) first")
        X = check_float_array(X, name, convert=True)
        stats_shape = self.mean_.shape
        if X.ndim != len(stats_shape) or any(
            s != 1 and x != s for x, s in zip(X.shape, stats_shape, strict=True)
        ):
            raise ValueError(
                f"{name} must have {len(stats_shape)} dimensions and match the fitted shape "
                f"{stats_shape} outside the reduced axes {self.axis_}, got {X.shape}"
            )
        return X

    def transform(self, X: Any) -> np.ndarray:
        """z = (X − μ) / scale, with the statistics of the training data.

        Parameters
        ----------
        X : array-like
            Same number of dimensions as the fitted data and the same sizes outside the
            reduced axes (the reduced axes may have any size).

        Returns
        -------
        array of X's shape, in X's float dtype (float64 for integer data)

        Raises
        ------
        RuntimeError
            If called before :meth:`fit`.
        ValueError
            If ``X`` does not match the fitted shape outside the reduced axes.
        """
        X = self._checked(X, "X")
        return (X - self.mean_.astype(X.dtype)) / self.scale_.astype(X.dtype)

    def inverse_transform(self, Z: Any) -> np.ndarray:
        """x = Z · scale + μ, the inverse of :meth:`transform`.

        Parameters
        ----------
        Z : array-like
            Standardised data, shaped as for :meth:`transform`.

        Returns
        -------
        array of Z's shape, in Z's float dtype

        Raises
        ------
        RuntimeError
            If called before :meth:`fit`.
        ValueError
            If ``Z`` does not match the fitted shape outside the reduced axes.
        """
        Z = self._checked(Z, "Z")
        return Z * self.scale_.astype(Z.dtype) + self.mean_.astype(Z.dtype)

    def fit_transform(self, X: Any, axis: int | Sequence[int] | None = 0) -> np.ndarray:
        """``fit(X, axis)`` then ``transform(X)``."""
        return self.fit(X, axis).transform(X)
