"""Chapter 2, section 3.1.4 — principal components analysis via the thin SVD."""

from __future__ import annotations

from typing import Any

import numpy as np

from numdl.core.validation import as_array, check_float_array, check_int, check_same_dtype
from numdl.math.linalg.shapes import check_finite, matrix

__all__ = ["PCA"]


class PCA:
    """Principal components analysis via the thin SVD of the centred data (section 3.1.4).

    With X_c = X − mean and X_c = U diag(S) Vᵀ, the principal directions are the rows of Vᵀ,
    the variance explained by component j is S_j² / (n − 1), and the projection onto the top
    k components is Z = X_c V_k. Each component's sign is fixed so that its largest-magnitude
    entry is positive (the SVD alone leaves signs arbitrary).

    Parameters
    ----------
    n_components : int
        k, the number of components kept; must satisfy 1 ≤ k ≤ min(n, d) at :meth:`fit`.

    Attributes
    ----------
    mean_ : ndarray, shape (d,)
        Per-feature mean of the training data.
    components_ : ndarray, shape (k, d)
        Orthonormal principal directions, in decreasing order of explained variance.
    singular_values_ : ndarray, shape (k,)
        The top k singular values of the centred data.
    explained_variance_ : ndarray, shape (k,)
        S_j² / (n − 1), the sample variance along each component.
    explained_variance_ratio_ : ndarray, shape (k,)
        Fraction of the total variance explained by each component (sums to 1 for full k).
    """

    mean_: np.ndarray
    components_: np.ndarray
    singular_values_: np.ndarray
    explained_variance_: np.ndarray
    explained_variance_ratio_: np.ndarray

    def __init__(self, n_components: int) -> None:
        self.n_components = check_int(n_components, "n_components", minimum=1)

    def fit(self, X: Any) -> PCA:
        """Fit the top k principal components of X (centred data, thin SVD).

        Parameters
        ----------
        X : array_like, shape (n, d)
            One sample per row; n ≥ 2.

        Returns
        -------
        self : PCA

        Raises
        ------
        TypeError
            If ``X`` is not a float (or integer) array.
        ValueError
            If ``X`` is not 2-D, has fewer than 2 rows, holds NaN/inf, has zero total variance
            (all rows equal), or n_components > min(n, d).
        """
        X = matrix(X, "X")
        n, d = X.shape
        if n < 2:
            raise ValueError(f"X must have at least 2 rows (samples), got shape {X.shape}")
        check_finite(X, "X")
        if self.n_components > min(n, d):
            raise ValueError(
                f"n_components must be in [1, min(n, d)] = [1, {min(n, d)}] for X of shape "
                f"{X.shape}, got {self.n_components}"
            )
        mean = np.mean(X, axis=0)
        _, S, Vt = np.linalg.svd(X - mean, full_matrices=False)
        variance = np.square(S) / (n - 1)
        total = np.sum(variance)
        if total == 0:
            raise ValueError("X has zero variance (all rows equal); PCA directions are undefined")
        k = self.n_components
        pivot = np.argmax(np.abs(Vt[:k]), axis=1)
        signs = np.sign(Vt[np.arange(k), pivot])
        self.mean_ = mean
        self.components_ = Vt[:k] * signs[:, None]
        self.singular_values_ = S[:k]
        self.explained_variance_ = variance[:k]
        self.explained_variance_ratio_ = variance[:k] / total
        return self

    def _check_fitted(self) -> None:
        if not hasattr(self, "components_"):
            raise RuntimeError("this PCA is not fitted yet; call fit(X) first")

    def _like_fit(self, X: Any, name: str, n_cols: int) -> np.ndarray:
        arr = as_array(X, name)
        if arr.dtype.kind in "biu":
            arr = arr.astype(self.mean_.dtype)
        arr = check_float_array(arr, name, ndim=2)
        check_same_dtype(arr, name, self.mean_, "the data PCA was fitted on")
        if arr.shape[1] != n_cols:
            raise ValueError(f"{name} must have {n_cols} columns, got shape {arr.shape}")
        return arr

    def transform(self, X: Any) -> np.ndarray:
        """Project onto the top k components: Z = (X − mean) V_k.

        Parameters
        ----------
        X : array_like, shape (m, d)
            Same dtype as the fitted data.

        Returns
        -------
        Z : ndarray, shape (m, k)

        Raises
        ------
        RuntimeError
            If the PCA has not been fitted.
        TypeError
            If ``X`` is not a float array of the fitted dtype.
        ValueError
            If ``X`` is not 2-D with d columns.
        """
        self._check_fitted()
        X = self._like_fit(X, "X", self.components_.shape[1])
        return (X - self.mean_) @ self.components_.T

    def inverse_transform(self, Z: Any) -> np.ndarray:
        """Reconstruct from component scores: X̂ = Z V_kᵀ + mean.

        Exact (up to rounding) for data in the span of the kept components, in particular for
        the training data when k = min(n, d).

        Parameters
        ----------
        Z : array_like, shape (m, k)
            Same dtype as the fitted data.

        Returns
        -------
        X_hat : ndarray, shape (m, d)

        Raises
        ------
        RuntimeError
            If the PCA has not been fitted.
        TypeError
            If ``Z`` is not a float array of the fitted dtype.
        ValueError
            If ``Z`` is not 2-D with k columns.
        """
        self._check_fitted()
        Z = self._like_fit(Z, "Z", self.components_.shape[0])
        return Z @ self.components_ + self.mean_

    def fit_transform(self, X: Any) -> np.ndarray:
        """Fit on X, then return its projection Z = (X − mean) V_k.

        Parameters
        ----------
        X : array_like, shape (n, d)

        Returns
        -------
        Z : ndarray, shape (n, k)

        Raises
        ------
        TypeError, ValueError
            As for :meth:`fit`.
        """
        return self.fit(X).transform(X)
