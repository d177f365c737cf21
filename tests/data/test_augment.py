"""Tests for numdl.data.augment: flips, rolls, padding and random shifts."""

from __future__ import annotations

import numpy as np
import pytest

from numdl.data.augment import flip, pad, random_shift, roll

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
