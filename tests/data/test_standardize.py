"""Tests for numdl.data.standardize: the Standardizer."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from numdl.data.standardize import Standardizer

IMG = np.array([[1, 2, 3], [4, 5, 6]], dtype=np.float32)  # one 2×3 image


def _layouts(image: np.ndarray):
    """The same image as an (N, H, W) batch and as an (N, C, H, W) batch (2 channels)."""
    return [image[None], np.stack([image, 10 * image])[None]]


# --------------------------------------------------------------------------- standardiser
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_standardizer_gives_zero_mean_unit_std_on_train(dtype):
    rng = np.random.default_rng(0)
    X = (rng.normal(size=(500, 4)) * [1, 10, 0.1, 3] + [5, -2, 0, 100]).astype(dtype)
    X[:, 2] = 7.0  # a constant feature
    before = X.copy()
    scaler = Standardizer().fit(X)
    assert scaler.mean_.shape == (1, 4)
    assert scaler.mean_.dtype == np.dtype(dtype)
    Z = scaler.transform(X)
    assert Z.dtype == np.dtype(dtype)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(Z.mean(axis=0), 0, atol=tol)
    np.testing.assert_allclose(Z.std(axis=0)[[0, 1, 3]], 1, rtol=tol)
    np.testing.assert_array_equal(Z[:, 2], 0)  # constant feature: centred, not blown up
    np.testing.assert_allclose(scaler.inverse_transform(Z), X, rtol=tol, atol=tol * 100)
    np.testing.assert_array_equal(X, before)
    # new data uses the training statistics
    X_new = np.full((3, 4), 8.0, dtype=dtype)
    Z_new = scaler.transform(X_new)
    np.testing.assert_allclose(Z_new[:, 2], 1.0)  # (8 − 7) / 1
    np.testing.assert_allclose(Z_new[:, 0], (8 - scaler.mean_[0, 0]) / scaler.std_[0, 0])


def test_standardizer_per_channel_images():
    rng = np.random.default_rng(1)
    X = rng.normal(loc=[[[3.0]], [[-1.0]]], scale=[[[2.0]], [[0.5]]], size=(64, 2, 5, 5))
    scaler = Standardizer()
    Z = scaler.fit_transform(X, axis=(0, 2, 3))
    assert scaler.mean_.shape == (1, 2, 1, 1)
    np.testing.assert_allclose(Z.mean(axis=(0, 2, 3)), 0, atol=1e-12)
    np.testing.assert_allclose(Z.std(axis=(0, 2, 3)), 1, rtol=1e-12)
    assert scaler.transform(X[:3, :, :2, :4]).shape == (3, 2, 2, 4)  # other sizes ok
    g = Standardizer().fit(X, axis=None)
    assert g.mean_.shape == (1, 1, 1, 1)


@settings(max_examples=30, deadline=None)
@given(st.integers(2, 30), st.integers(1, 4), st.floats(-1e3, 1e3), st.floats(1e-2, 1e2))
def test_standardizer_property(n, d, loc, scale):
    X = np.random.default_rng(n * 7 + d).normal(loc, scale, size=(n, d))
    Z = Standardizer().fit_transform(X)
    np.testing.assert_allclose(Z.mean(axis=0), 0, atol=1e-9)
    std = Z.std(axis=0)
    assert np.all((np.abs(std - 1) < 1e-9) | (std == 0))


def test_standardizer_errors():
    with pytest.raises(RuntimeError, match="not fitted"):
        Standardizer().transform(np.ones((2, 2)))
    scaler = Standardizer().fit(np.random.default_rng(0).normal(size=(5, 3)))
    with pytest.raises(ValueError, match="X must have 2 dimensions and match"):
        scaler.transform(np.ones((5, 4)))
    with pytest.raises(ValueError, match="X must have 2 dimensions"):
        scaler.transform(np.ones(3))
    with pytest.raises(ValueError, match="axis=2 is out of range"):
        Standardizer().fit(np.ones((2, 2)), axis=2)
    with pytest.raises(ValueError, match="axis must not repeat"):
        Standardizer().fit(np.ones((2, 2)), axis=(0, -2))
    with pytest.raises(ValueError, match="X must be non-empty along axis"):
        Standardizer().fit(np.ones((0, 2)))
    with pytest.raises(ValueError, match="eps must be >= 0"):
        Standardizer(eps=-1.0)
    with pytest.raises(TypeError, match="X must have dtype"):
        Standardizer().fit(np.array(["a", "b"]))
