"""Tests of numdl.data.images: image files to MNIST-style 784-vectors."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from numdl.data import ImageLoadError, load_digit_image, prepare_digit
from numdl.data.synthetic import digit_templates

Image = pytest.importorskip("PIL.Image", reason="Pillow (extra 'image') is not installed")
ImageDraw = pytest.importorskip("PIL.ImageDraw")

CENTRE = 13.5


def _seven(size=(200, 300), offset=(0, 0), ink=255, paper=0, mode="L"):
    """A thick '7' (light ink on dark paper unless told otherwise) on a canvas of ``size``."""
    img = Image.new(mode, size, paper)
    dx, dy = offset
    ImageDraw.Draw(img).line(
        [(40 + dx, 60 + dy), (160 + dx, 60 + dy), (90 + dx, 260 + dy)], fill=ink, width=18
    )
    return img


def _centre_of_mass(x: np.ndarray) -> tuple[float, float]:
    field = x.reshape(28, 28)
    total = field.sum()
    return (
        float((field.sum(axis=1) * np.arange(28)).sum() / total),
        float((field.sum(axis=0) * np.arange(28)).sum() / total),
    )


def _ink_extent(x: np.ndarray, level: float = 0.0) -> tuple[int, int]:
    rows, cols = np.nonzero(x.reshape(28, 28) > level)
    return rows.max() - rows.min() + 1, cols.max() - cols.min() + 1


def test_light_on_dark_digit_is_mnist_shaped(tmp_path):
    path = tmp_path / "seven.png"
    _seven().save(path)
    x = load_digit_image(path)
    assert x.shape == (784,)
    assert x.dtype == np.float32
    assert x.min() == 0.0
    assert x.max() == pytest.approx(1.0, abs=1e-6)
    height, width = _ink_extent(x)
    assert height == 20  # the longer side (the 7 is taller than wide) is 20 px
    assert 8 <= width < 20
    row, col = _centre_of_mass(x)
    assert abs(row - CENTRE) <= 0.5 + 1e-9
    assert abs(col - CENTRE) <= 0.5 + 1e-9
    field = x.reshape(28, 28)
    assert field[:3].max() == 0.0  # a MNIST-like empty margin above...
    assert field[:, :3].max() == 0.0  # ...and to the left


def test_dark_on_light_is_inverted_to_the_same_result(tmp_path):
    _seven().save(tmp_path / "light.png")
    _seven(ink=0, paper=255).save(tmp_path / "dark.png")
    light = load_digit_image(tmp_path / "light.png")
    dark = load_digit_image(tmp_path / "dark.png")
    np.testing.assert_allclose(dark, light, atol=1e-5)


def test_photo_of_grey_paper_matches_the_clean_digit(tmp_path):
    _seven().save(tmp_path / "clean.png")
    clean = load_digit_image(tmp_path / "clean.png")
    rng = np.random.default_rng(0)
    stroke = np.asarray(_seven(), dtype=np.float64) / 255
    photo = 0.8 - 0.6 * stroke + rng.normal(0, 0.02, stroke.shape)  # ink 0.2 on paper 0.8
    rgb = np.repeat(np.clip(photo * 255, 0, 255).astype(np.uint8)[..., None], 3, axis=2)
    Image.fromarray(rgb).save(tmp_path / "photo.jpg", quality=90)
    x = load_digit_image(tmp_path / "photo.jpg")
    assert x.shape == (784,)
    assert np.corrcoef(x, clean)[0, 1] > 0.95
    assert np.abs(x - clean).mean() < 0.05


def test_off_centre_digit_on_a_big_canvas_is_centred(tmp_path):
    _seven().save(tmp_path / "centred.png")
    _seven(size=(900, 700), offset=(600, 350)).save(tmp_path / "corner.png")
    centred = load_digit_image(tmp_path / "centred.png")
    corner = load_digit_image(tmp_path / "corner.png")
    np.testing.assert_allclose(corner, centred, atol=1e-5)  # only the crop differs


def test_wide_digit_keeps_its_aspect_ratio(tmp_path):
    img = Image.new("L", (400, 100), 0)
    ImageDraw.Draw(img).rectangle([50, 30, 349, 69], fill=255)  # 300 x 40 bar
    img.save(tmp_path / "dash.png")
    x = load_digit_image(tmp_path / "dash.png")
    height, width = _ink_extent(x, level=0.5)
    assert width == 20
    assert 2 <= height <= 4  # 40/300 * 20 = 2.7 px
    row, col = _centre_of_mass(x)
    assert abs(row - CENTRE) <= 0.5 + 1e-9
    assert abs(col - CENTRE) <= 0.5 + 1e-9


def test_black_ink_on_transparent_canvas(tmp_path):
    rgba = Image.new("RGBA", (200, 300), (0, 0, 0, 0))
    mask = _seven()
    rgba.paste((0, 0, 0, 255), mask=mask)  # black strokes, transparent elsewhere
    rgba.save(tmp_path / "transparent.png")
    _seven().save(tmp_path / "reference.png")
    x = load_digit_image(tmp_path / "transparent.png")
    np.testing.assert_allclose(x, load_digit_image(tmp_path / "reference.png"), atol=1e-5)


def test_upscaled_template_comes_back_as_itself(tmp_path):
    template = digit_templates()[8]  # a centred 20 x 12 block "8"
    big = np.kron(template, np.ones((5, 5)))
    Image.fromarray((255 - big * 255).astype(np.uint8)).save(tmp_path / "eight.bmp")
    x = load_digit_image(tmp_path / "eight.bmp")
    assert np.corrcoef(x, template.ravel())[0, 1] > 0.97


def test_prepare_digit_takes_arrays(tmp_path):
    _seven().save(tmp_path / "seven.png")
    gray = np.asarray(_seven(), dtype=np.float64) / 255
    np.testing.assert_allclose(prepare_digit(gray), load_digit_image(tmp_path / "seven.png"))
    with pytest.raises(ValueError, match="gray must be a non-empty 2-D array"):
        prepare_digit(np.zeros(5))


def test_text_file_named_png_is_rejected(tmp_path):
    path = tmp_path / "fake.png"
    path.write_text("this is not an image\n")
    with pytest.raises(ImageLoadError, match="not an image") as info:
        load_digit_image(path)
    assert str(path) in str(info.value)
    assert isinstance(info.value, ValueError)


def test_truncated_png_is_rejected(tmp_path):
    good = tmp_path / "good.png"
    _seven().save(good)
    path = tmp_path / "cut.png"
    path.write_bytes(good.read_bytes()[:200])
    with pytest.raises(ImageLoadError) as info:
        load_digit_image(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize("value", [0, 255, 128])
def test_blank_image_is_rejected(tmp_path, value):
    path = tmp_path / f"blank{value}.png"
    Image.new("L", (64, 64), value).save(path)
    with pytest.raises(ImageLoadError, match="blank") as info:
        load_digit_image(path)
    assert str(path) in str(info.value)


def test_faint_noise_counts_as_blank(tmp_path):
    rng = np.random.default_rng(1)
    noise = np.clip(230 + rng.normal(0, 3, (80, 80)), 0, 255).astype(np.uint8)
    Image.fromarray(noise).save(tmp_path / "paper.png")
    with pytest.raises(ImageLoadError, match="blank"):
        load_digit_image(tmp_path / "paper.png")


def test_missing_file_is_named(tmp_path):
    path = tmp_path / "nope.png"
    with pytest.raises(ImageLoadError, match="no such file") as info:
        load_digit_image(path)
    assert str(path) in str(info.value)


def test_missing_pillow_says_how_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "PIL", None)
    with pytest.raises(ImportError, match=r'pip install "numdl\[image\]"'):
        load_digit_image(tmp_path / "x.png")


def _with(gray: np.ndarray, at: tuple[int, int], value: float) -> np.ndarray:
    out = gray.astype(np.float64)
    out[at] = value
    return out


GRAY_ERRORS = {
    "string": ("abc", TypeError, "gray must be a real-valued"),
    "object array": (np.array([[None, 1.0], [0.0, 1.0]]), TypeError, "gray must"),
    "complex": (np.full((4, 4), 0.5 + 1j), TypeError, "got dtype complex128"),
    "nested lists of strings": ([["a", "b"], ["c", "d"]], TypeError, "got dtype <U1"),
    "1-D": (np.zeros(5), ValueError, "gray must be a non-empty 2-D array"),
    "3-D": (np.zeros((4, 4, 3)), ValueError, r"got shape \(4, 4, 3\)"),
    "empty": (np.zeros((0, 5)), ValueError, "non-empty"),
    "all NaN": (np.full((5, 5), np.nan), ValueError, "25 NaN or infinite"),
    "one NaN": (_with(np.eye(7), (3, 4), np.nan), ValueError, "1 NaN"),
    "one value above 1": (_with(np.eye(7), (3, 4), 1.5), ValueError, r"\[0, 1\.5\]"),
    "valid float32 control": (np.pad(np.ones((3, 3)), 2).astype(np.float32), None, ""),
    "inf": (np.where(np.eye(6) > 0, np.inf, 0.0), ValueError, "finite values"),
    "8-bit values": (np.asarray(_seven(), dtype=np.float64), ValueError, r"\[0, 255\]"),
    "negative": (np.full((5, 5), -0.5), ValueError, r"in \[0, 1\]"),
}


@pytest.mark.parametrize("case", sorted(GRAY_ERRORS))
def test_prepare_digit_rejects_bad_arrays_naming_gray(case):
    gray, error, message = GRAY_ERRORS[case]
    if error is None:  # a valid float32 image: a control that the checks do not over-reject
        assert prepare_digit(gray).shape == (784,)
        return
    snapshot = np.array(gray, copy=True) if isinstance(gray, np.ndarray) else None
    with pytest.raises(error, match=message) as info:
        prepare_digit(gray)
    assert "gray" in str(info.value)
    assert not isinstance(info.value, ImageLoadError)
    if snapshot is not None:  # a rejected call leaves the input as it was
        np.testing.assert_array_equal(gray, snapshot)


def test_prepare_digit_accepts_integer_and_bool_images_in_range():
    ink = np.zeros((30, 30), dtype=bool)
    ink[5:25, 12:18] = True
    as_bool = prepare_digit(ink)
    np.testing.assert_allclose(prepare_digit(ink.astype(np.uint8)), as_bool)
    np.testing.assert_allclose(prepare_digit(ink.astype(np.float32)), as_bool)
    with pytest.raises(TypeError, match="name must be a string"):
        prepare_digit(ink, name=3)


@pytest.mark.parametrize("bad", [None, 3, b"seven.png"])
def test_load_digit_image_rejects_non_paths(bad):
    with pytest.raises(TypeError, match=r"path must be a str or os\.PathLike"):
        load_digit_image(bad)


def test_float_image_with_nan_pixels_is_an_image_load_error(tmp_path):
    gray = np.zeros((40, 40), dtype=np.float32)
    gray[10:30, 18:22] = 1.0
    gray[0, 0] = np.nan
    path = tmp_path / "nan.tiff"
    Image.fromarray(gray, mode="F").save(path)
    with pytest.raises(ImageLoadError, match="NaN or infinite") as info:
        load_digit_image(path)
    assert str(path) in str(info.value)


def test_directory_is_an_image_load_error(tmp_path):
    with pytest.raises(ImageLoadError) as info:
        load_digit_image(tmp_path)
    assert str(tmp_path) in str(info.value)
