"""Tests for numdl.augment: flips, rolls, padding, random shifts, standardisation, Gumbel-max."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from numdl.augment import Standardizer, flip, gumbel_max_sample, pad, random_shift, roll
from numdl.ops import softmax

IMG = np.array([[1, 2, 3], [4, 5, 6]], dtype=np.float32)  # one 2×3 image


def _layouts(image: np.ndarray):
    """The same image as an (N, H, W) batch and as an (N, C, H, W) batch (2 channels)."""
    return [image[None], np.stack([image, 10 * image])[None]]


# ------------------------------------------------------------------------ flip, roll, pad
@pytest.mark.parametrize("layout", [0, 1])
def test_flip_hand_examples(layout):
    images = _layouts(IMG)[layout]
    before = images.copy()
    h = flip(images, "horizontal")
    v = flip(images, axis="vertical")
    np.testing.assert_array_equal(h, _layouts(np.array([[3, 2, 1], [6, 5, 4]], np.float32))[layout])
    np.testing.assert_array_equal(v, _layouts(np.array([[4, 5, 6], [1, 2, 3]], np.float32))[layout])
    assert h.dtype == np.float32
    h[...] = 0  # a new array, not a view of the input
    np.testing.assert_array_equal(images, before)
    np.testing.assert_array_equal(flip(flip(images)), images)


@pytest.mark.parametrize("layout", [0, 1])
def test_roll_hand_examples(layout):
    images = _layouts(IMG)[layout]
    got = roll(images, shift=(1, 1))
    expected = np.array([[6, 4, 5], [3, 1, 2]], np.float32)
    np.testing.assert_array_equal(got, _layouts(expected)[layout])
    np.testing.assert_array_equal(roll(images, (0, -1)), _layouts(np.roll(IMG, -1, axis=1))[layout])
    np.testing.assert_array_equal(roll(images, (2, 3)), images)  # full periods


@pytest.mark.parametrize("layout", [0, 1])
def test_pad_hand_examples(layout):
    images = _layouts(IMG)[layout]
    got = pad(images, 1)
    expected = np.array(
        [[0, 0, 0, 0, 0], [0, 1, 2, 3, 0], [0, 4, 5, 6, 0], [0, 0, 0, 0, 0]], np.float32
    )
    np.testing.assert_array_equal(got, _layouts(expected)[layout])
    asym = pad(images, ((0, 1), (2, 0)), value=-1)
    expected = np.array([[-1, -1, 1, 2, 3], [-1, -1, 4, 5, 6], [-1, -1, -1, -1, -1]], np.float32)
    assert asym.shape[:-2] == images.shape[:-2]
    np.testing.assert_array_equal(asym[(0,) * (images.ndim - 2)], expected)
    edge = pad(images, (0, 1), mode="edge")
    np.testing.assert_array_equal(
        edge[(0,) * (images.ndim - 2)], [[1, 1, 2, 3, 3], [4, 4, 5, 6, 6]]
    )


def test_augmentations_keep_integer_dtype():
    images = np.arange(2 * 4 * 4, dtype=np.uint8).reshape(2, 4, 4)
    for out in (flip(images), roll(images, 1), pad(images, 2), random_shift(images, 1, 0)):
        assert out.dtype == np.uint8


def test_flip_roll_pad_errors():
    images = np.zeros((2, 3, 3))
    with pytest.raises(ValueError, match="axis must be 'horizontal' or 'vertical'"):
        flip(images, axis=1)
    with pytest.raises(ValueError, match="images must be 3-D or 4-D"):
        flip(np.zeros((3, 3)))
    with pytest.raises(TypeError, match="images must have a numeric dtype"):
        roll(np.array([[["a"]]]), 1)
    with pytest.raises(TypeError, match="shift must be an integer or a pair"):
        roll(images, (1, 2, 3))
    with pytest.raises(TypeError, match="shift must be an integer"):
        roll(images, (1.5, 0))
    with pytest.raises(ValueError, match="pad_width must be >= 0"):
        pad(images, -1)
    with pytest.raises(TypeError, match="pad_width must be"):
        pad(images, "1")
    with pytest.raises(ValueError, match="mode must be one of"):
        pad(images, 1, mode="mirror")
    with pytest.raises(TypeError, match="value must be a real number"):
        pad(images, 1, value="0")


# --------------------------------------------------------------------------- random shift
def _shift_reference(image: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """One image (..., H, W) translated with zero fill, pixel by pixel."""
    out = np.zeros_like(image)
    height, width = image.shape[-2:]
    for i in range(height):
        for j in range(width):
            si, sj = i - dy, j - dx
            if 0 <= si < height and 0 <= sj < width:
                out[..., i, j] = image[..., si, sj]
    return out


@pytest.mark.parametrize("shape", [(16, 7, 6), (9, 2, 5, 8)])
@pytest.mark.parametrize("max_shift", [0, 2, 6])
def test_random_shift_is_exact_zero_filled_shift(shape, max_shift):
    rng = np.random.default_rng(0)
    images = rng.uniform(1, 2, size=shape)  # no zeros, so the fill is visible
    before = images.copy()
    out, shifts = random_shift(images, max_shift, np.random.default_rng(1), return_shifts=True)
    assert out.shape == images.shape
    assert out.dtype == images.dtype
    assert shifts.shape == (shape[0], 2)
    assert np.all(np.abs(shifts) <= max_shift)
    for n in range(shape[0]):
        np.testing.assert_array_equal(out[n], _shift_reference(images[n], *shifts[n]))
    np.testing.assert_array_equal(images, before)


def test_random_shift_uses_the_whole_range_and_is_reproducible():
    images = np.random.default_rng(0).uniform(1, 2, size=(256, 28, 28)).astype(np.float32)
    out1, shifts = random_shift(images, 2, np.random.default_rng(5), return_shifts=True)
    out2 = random_shift(images, 2, np.random.default_rng(5))
    out3 = random_shift(images, 2, 6)
    np.testing.assert_array_equal(out1, out2)
    assert not np.array_equal(out1, out3)
    assert set(np.unique(shifts)) == {-2, -1, 0, 1, 2}
    assert out1.dtype == np.float32
    # exactly the pixels shifted in from outside are zero
    zero_rows = np.abs(shifts[:, 0])
    zero_cols = np.abs(shifts[:, 1])
    n_zero = 28 * zero_rows + 28 * zero_cols - zero_rows * zero_cols
    np.testing.assert_array_equal(np.sum(out1 == 0, axis=(1, 2)), n_zero)


def test_random_shift_errors():
    images = np.ones((2, 4, 4))
    with pytest.raises(ValueError, match="max_shift must be >= 0"):
        random_shift(images, -1, 0)
    with pytest.raises(TypeError, match="max_shift must be an integer"):
        random_shift(images, 1.0, 0)
    with pytest.raises(TypeError, match=r"rng must be a numpy\.random\.Generator"):
        random_shift(images, 1, None)
    with pytest.raises(ValueError, match="images must be 3-D or 4-D"):
        random_shift(np.ones((4, 4)), 1, 0)


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


# ----------------------------------------------------------------------------- Gumbel-max
@pytest.mark.parametrize("temperature", [1.0, 0.5, 3.0])
def test_gumbel_max_frequencies_match_softmax(temperature):
    logits = np.array([1.0, 0.0, -1.0, 2.0, -np.inf])
    n = 200_000
    samples = gumbel_max_sample(
        logits, temperature=temperature, rng=np.random.default_rng(42), size=n
    )
    assert samples.shape == (n,)
    freq = np.bincount(samples, minlength=len(logits)) / n
    p = softmax(logits / temperature)
    standard_error = np.sqrt(p * (1 - p) / n)  # of a binomial proportion
    assert np.all(np.abs(freq - p) <= 5 * standard_error + 1e-12)
    assert freq[-1] == 0  # a −inf logit is never drawn


def test_gumbel_max_shapes_dtype_and_reproducibility():
    logits = np.random.default_rng(0).normal(size=(4, 6)).astype(np.float32)
    a = gumbel_max_sample(logits, rng=3)
    assert a.shape == (4,)
    assert np.issubdtype(a.dtype, np.integer)
    assert np.all((a >= 0) & (a < 6))
    np.testing.assert_array_equal(a, gumbel_max_sample(logits, rng=np.random.default_rng(3)))
    assert gumbel_max_sample(logits, rng=0, size=(2, 3)).shape == (2, 3, 4)
    assert gumbel_max_sample(logits[0], rng=0).shape == ()
    # temperature → 0 approaches argmax
    cold = gumbel_max_sample(logits, temperature=1e-6, rng=0, size=50)
    np.testing.assert_array_equal(cold, np.broadcast_to(np.argmax(logits, axis=1), (50, 4)))


def test_gumbel_max_errors():
    logits = np.zeros(3)
    with pytest.raises(ValueError, match="temperature must be > 0"):
        gumbel_max_sample(logits, temperature=0.0, rng=0)
    with pytest.raises(TypeError, match="temperature must be a real number"):
        gumbel_max_sample(logits, temperature="1", rng=0)
    with pytest.raises(TypeError, match="logits must have dtype"):
        gumbel_max_sample(np.zeros(3, dtype=int), rng=0)
    with pytest.raises(ValueError, match="logits must have at least one class"):
        gumbel_max_sample(np.zeros((2, 0)), rng=0)
    with pytest.raises(TypeError, match="rng must be"):
        gumbel_max_sample(logits, rng=1.5)
    with pytest.raises(ValueError, match="size must be >= 0"):
        gumbel_max_sample(logits, rng=0, size=-1)
    with pytest.raises(TypeError, match="missing 1 required keyword-only argument: 'rng'"):
        gumbel_max_sample(logits)
