"""Turn a picture of a handwritten digit into an MNIST-style input vector.

MNIST digits are light ink on a black background, size-normalised so the longer side of
the ink's bounding box is 20 px (aspect ratio kept), then placed in a 28 x 28 field so that
the ink's centre of mass sits at the field's centre. :func:`load_digit_image` applies the
same steps to any image file Pillow can read:

1. **Grayscale**: to luminance in ``[0, 1]`` (ITU-R 601-2, Pillow's ``"L"``), after applying
   the EXIF orientation. Transparent pixels become background: white when the opaque pixels
   are mostly dark (black ink on a transparent canvas), black otherwise.
2. **Polarity**: the outermost ring of pixels is taken as background. If its median
   brightness is above 0.5 the image is dark ink on a light background (a scan or a photo of
   paper) and is inverted (``1 - x``).
3. **Contrast**: the background level (the border median, after inversion) maps to 0 and the
   brightest ink pixel to 1; values are clipped to ``[0, 1]``. An image whose ink is less than
   0.1 brighter than its background is blank and rejected.
4. **Crop**: to the bounding box of the pixels at least 0.25 (ink after step 3).
5. **Resize**: Lanczos-resampled so the longer side is 20 px, keeping the aspect ratio.
6. **Centre**: pasted into a 28 x 28 black field so its centre of mass (intensity-weighted)
   lands on the field's centre (13.5, 13.5) to the nearest pixel, as MNIST did; the shift is
   limited so the 20 px box stays inside the field.

Pillow is an optional dependency (extra ``image``), imported only when an image is loaded.
"""

from __future__ import annotations

import os
import struct
from typing import Any

import numpy as np

from numdl.core.validation import as_array
from numdl.data.dataset import check_path

__all__ = [
    "BLANK_CONTRAST",
    "INK_THRESHOLD",
    "ImageLoadError",
    "load_digit_image",
    "prepare_digit",
]

#: Minimum (ink - background) brightness for an image not to count as blank.
BLANK_CONTRAST = 0.1
#: Brightness (after background removal and stretching) from which a pixel counts as ink.
INK_THRESHOLD = 0.25
_FIELD = 28
_BOX = 20


class ImageLoadError(ValueError):
    """An image file cannot be read, is not an image, or shows no digit (blank)."""


def _require_pillow() -> Any:
    try:
        from PIL import Image, ImageOps
    except ImportError as exc:
        raise ImportError(
            "loading digit images needs Pillow, an optional dependency of numdl: "
            'install it with  pip install "numdl[image]"'
        ) from exc
    return Image, ImageOps


def _to_gray(img: Any) -> np.ndarray:
    """Luminance in [0, 1] as float64 (H, W), with transparency resolved as documented."""
    if img.mode in ("I", "F") or img.mode.startswith("I;16"):
        arr = np.asarray(img, dtype=np.float64)
        top = 255.0 if arr.size == 0 or arr.max() <= 255 else 65535.0
        if img.mode == "F" and arr.size and arr.max() <= 1.0:
            top = 1.0
        return np.clip(arr / top, 0.0, 1.0)
    has_alpha = img.mode in ("RGBA", "LA", "PA", "La", "RGBa") or "transparency" in img.info
    if not has_alpha:
        return np.asarray(img.convert("L"), dtype=np.float64) / 255.0
    la = np.asarray(img.convert("RGBA").convert("LA"), dtype=np.float64) / 255.0
    gray, alpha = la[..., 0], la[..., 1]
    weight = alpha.sum()
    opaque_mean = (gray * alpha).sum() / weight if weight > 0 else 1.0
    background = 1.0 if opaque_mean < 0.5 else 0.0
    return alpha * gray + (1.0 - alpha) * background


def _border(gray: np.ndarray) -> np.ndarray:
    return np.concatenate([gray[0, :], gray[-1, :], gray[1:-1, 0], gray[1:-1, -1]])


def _check_gray(gray: Any) -> np.ndarray:
    """``gray`` as float64, checked: a non-empty 2-D real array of finite values in [0, 1]."""
    arr = as_array(gray, "gray")
    if arr.dtype.kind not in "buif":
        raise TypeError(
            f"gray must be a real-valued (float, integer or bool) array of brightness in [0, 1], "
            f"got dtype {arr.dtype}"
        )
    if arr.ndim != 2 or arr.size == 0:
        raise ValueError(f"gray must be a non-empty 2-D array, got shape {arr.shape}")
    arr = arr.astype(np.float64, copy=False)
    finite = np.isfinite(arr)
    if not finite.all():
        raise ValueError(
            f"gray must hold finite values, got {arr.size - int(finite.sum())} NaN or "
            "infinite pixel(s)"
        )
    low, high = float(arr.min()), float(arr.max())
    if low < 0.0 or high > 1.0:
        raise ValueError(
            f"gray must hold brightness values in [0, 1], got values in [{low:g}, {high:g}] "
            "(divide 8-bit images by 255)"
        )
    return arr


def prepare_digit(gray: np.ndarray, *, name: str = "image") -> np.ndarray:
    """Apply steps 2-6 of the module's recipe to a grayscale image in ``[0, 1]``.

    Parameters
    ----------
    gray : numpy.ndarray
        2-D real array (float, integer or bool) of brightness in ``[0, 1]``, finite, non-empty
        (any size, either polarity).
    name : str, optional
        What to call the image in error messages (a file name).

    Returns
    -------
    numpy.ndarray
        float32 ``(784,)`` in ``[0, 1]``: light ink on black, 28 x 28 row-major.

    Raises
    ------
    ImageLoadError
        The image is blank (no ink brighter than the background by 0.1).
    TypeError
        ``gray`` is not a real-valued array (a string, an object or complex array), or
        ``name`` is not a string.
    ValueError
        ``gray`` is not 2-D or is empty, holds NaN or infinite values, or values outside
        ``[0, 1]``.
    """
    if not isinstance(name, str):
        raise TypeError(f"name must be a string, got {type(name).__name__}")
    gray = _check_gray(gray)
    Image, _ = _require_pillow()
    if np.median(_border(gray)) > 0.5:
        gray = 1.0 - gray  # dark ink on light paper -> light ink on black, as MNIST
    background = float(np.median(_border(gray)))
    peak = float(gray.max())
    if peak - background < BLANK_CONTRAST:
        raise ImageLoadError(
            f"{name}: the image is blank (no ink differs from the background by "
            f"{BLANK_CONTRAST} or more); expected a digit"
        )
    ink = np.clip((gray - background) / (peak - background), 0.0, 1.0)

    rows = np.flatnonzero((ink >= INK_THRESHOLD).any(axis=1))
    cols = np.flatnonzero((ink >= INK_THRESHOLD).any(axis=0))
    if rows.size == 0:  # cannot happen for checked input (the peak maps to 1), kept safe
        raise ImageLoadError(f"{name}: the image is blank (no ink pixel); expected a digit")
    crop = ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]

    h, w = crop.shape
    scale = _BOX / max(h, w)
    new_w, new_h = max(1, round(w * scale)), max(1, round(h * scale))
    patch = Image.fromarray(crop.astype(np.float32)).resize(
        (new_w, new_h), Image.Resampling.LANCZOS
    )
    patch = np.clip(np.asarray(patch, dtype=np.float64), 0.0, 1.0)

    total = patch.sum()
    if total <= 0:  # cannot happen after stretching, but keep the division safe
        raise ImageLoadError(f"{name}: the image is blank after resizing; expected a digit")
    com_r = (patch.sum(axis=1) * np.arange(new_h)).sum() / total
    com_c = (patch.sum(axis=0) * np.arange(new_w)).sum() / total
    centre = (_FIELD - 1) / 2
    top = int(np.clip(round(centre - com_r), 0, _FIELD - new_h))
    left = int(np.clip(round(centre - com_c), 0, _FIELD - new_w))
    field = np.zeros((_FIELD, _FIELD), dtype=np.float32)
    field[top : top + new_h, left : left + new_w] = patch
    return field.reshape(-1)


def load_digit_image(path: str | os.PathLike[str]) -> np.ndarray:
    """Load an image of one handwritten digit as an MNIST-style vector (see the module docs).

    Grayscale, inverted if dark-on-light (border median > 0.5), background removed, cropped to
    the ink, resized so the longer side is 20 px, centred by centre of mass in 28 x 28.

    Parameters
    ----------
    path : str or path-like
        Any image file Pillow can read (PNG, JPEG, BMP, GIF, ...); the first frame is used.

    Returns
    -------
    numpy.ndarray
        float32 ``(784,)`` in ``[0, 1]``, ready for a model trained on MNIST.

    Raises
    ------
    ImageLoadError
        (a ``ValueError``) the file is missing or unreadable, is not an image, holds NaN or
        infinite pixels (a float TIFF), or is blank; the message names the file.
    TypeError
        ``path`` is not a ``str`` or ``os.PathLike``.
    ImportError
        Pillow is not installed (``pip install "numdl[image]"``).
    """
    path = check_path(path)
    Image, ImageOps = _require_pillow()
    try:
        with Image.open(path) as img:
            img.load()
            img = ImageOps.exif_transpose(img)
            gray = _to_gray(img)
    except FileNotFoundError as exc:
        raise ImageLoadError(f"{path}: no such file") from exc
    except Image.UnidentifiedImageError as exc:
        raise ImageLoadError(f"{path}: not an image Pillow can read") from exc
    except (
        OSError,
        EOFError,
        SyntaxError,
        ValueError,
        struct.error,
        Image.DecompressionBombError,
    ) as exc:
        raise ImageLoadError(f"{path}: cannot read the image ({exc})") from exc
    if gray.size == 0:
        raise ImageLoadError(f"{path}: the image has no pixels")
    if not np.isfinite(gray).all():
        raise ImageLoadError(f"{path}: the image holds NaN or infinite pixel values")
    return prepare_digit(gray, name=str(path))
