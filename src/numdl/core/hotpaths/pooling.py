"""Reference for 2-D pooling (Goodfellow et al., ch. 9.3): max and average over windows.

A pooling window of KH×KW at stride (sh, sw) over the input padded by (ph, pw) covers
X̃[b, c, oh·sh + i, ow·sw + j] for 0 ≤ i < KH, 0 ≤ j < KW. Max pooling reports the largest
entry and, for the backward, where it was (``argmax``, the flat index h·W + w into the
unpadded plane): the gradient of a max flows to the entry chosen (ch. 6.5 back-prop through
max). Average pooling divides each window's sum by KH·KW (padding counts as zeros, PyTorch's
``count_include_pad=True``), so its gradient spreads evenly over the window.

Kernels that must equal it: ``numdl_kernels.cpu.pooling``, ``numdl_kernels.cuda.pooling``.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

__all__ = ["avgpool2d_backward", "avgpool2d_forward", "maxpool2d_backward", "maxpool2d_forward"]


def _windows(x: np.ndarray, kernel: tuple, stride: tuple, padding: tuple, fill: float):
    """windows[b, c, oh, ow, i, j] = X̃[b, c, oh·sh + i, ow·sw + j], X̃ = x padded with ``fill``."""
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding
    padded = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=fill)
    return sliding_window_view(padded, (kh, kw), axis=(2, 3))[:, :, ::sh, ::sw]


def maxpool2d_forward(
    x: np.ndarray,
    kernel: tuple,
    stride: tuple,
    padding: tuple,
    out: np.ndarray,
    argmax: np.ndarray,
) -> np.ndarray:
    """out[b, c, oh, ow] = max_{i,j} X̃[b, c, oh·sh + i, ow·sw + j] (X̃ padded with −inf).

    Shapes: x (B, C, H, W); out, argmax (B, C, OH, OW), ``argmax`` int64 holding the flat
    index h·W + w (in the unpadded plane) of the entry chosen: the first maximum in row-major
    window order, or the first NaN (so NaN propagates; PyTorch's CPU kernel reports the *last*
    NaN's index, its values agree). Returns ``out``.
    """
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding
    bsz, c, h, w = x.shape
    oh, ow = out.shape[2:]
    flat = _windows(x, kernel, stride, padding, -np.inf).reshape(bsz, c, oh, ow, kh * kw)
    k = np.argmax(flat, axis=-1)  # first maximum; a NaN counts as the maximum (first NaN)
    # Where every real entry is −inf, argmax may land on padding (−inf too): take the first
    # real entry of the window instead, the first maximum among the entries of x.
    real = _windows(np.ones((1, 1, h, w), bool), kernel, stride, padding, False)
    first_real = np.argmax(real.reshape(oh, ow, kh * kw), axis=-1)
    i, j = np.divmod(k, kw)
    rows = np.arange(oh)[:, None] * sh - ph + i
    cols = np.arange(ow)[None, :] * sw - pw + j
    on_padding = (rows < 0) | (rows >= h) | (cols < 0) | (cols >= w)
    k = np.where(on_padding, first_real, k)
    i, j = np.divmod(k, kw)
    out[...] = np.take_along_axis(flat, k[..., None], axis=-1)[..., 0]
    argmax[...] = (np.arange(oh)[:, None] * sh - ph + i) * w + (
        np.arange(ow)[None, :] * sw - pw + j
    )
    return out


def maxpool2d_backward(grad: np.ndarray, argmax: np.ndarray, dx: np.ndarray) -> None:
    """dX[b, c].flat[argmax[b, c, oh, ow]] += grad[b, c, oh, ow], from dX = 0.

    Shapes: grad, argmax (B, C, OH, OW); dx (B, C, H, W), overwritten. Overlapping windows
    (stride < kernel) add up where they chose the same entry.
    """
    bsz, c, h, w = dx.shape
    n_out = grad.shape[2] * grad.shape[3]
    planes = dx.reshape(bsz * c, h * w)
    planes[...] = 0
    rows = np.arange(bsz * c)[:, None]
    index = argmax.reshape(bsz * c, n_out)
    np.add.at(planes, (rows, index), grad.reshape(bsz * c, n_out))


def avgpool2d_forward(
    x: np.ndarray, kernel: tuple, stride: tuple, padding: tuple, out: np.ndarray
) -> np.ndarray:
    """out[b, c, oh, ow] = (1 / (KH·KW)) Σ_{i,j} X̃[b, c, oh·sh + i, ow·sw + j] (X̃ zero-padded).

    Shapes: x (B, C, H, W), out (B, C, OH, OW). Returns ``out``.
    """
    (kh, kw) = kernel
    windows = _windows(x, kernel, stride, padding, 0)
    np.sum(windows, axis=(4, 5), out=out)
    out /= kh * kw
    return out


def avgpool2d_backward(
    grad: np.ndarray, kernel: tuple, stride: tuple, padding: tuple, dx: np.ndarray
) -> None:
    """dX[b, c, h, w] = Σ over windows covering (h, w) of grad[b, c, oh, ow] / (KH·KW).

    Shapes: grad (B, C, OH, OW), dx (B, C, H, W), overwritten (padding positions dropped).
    """
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding
    bsz, c, h, w = dx.shape
    oh, ow = grad.shape[2:]
    share = grad / (kh * kw)
    padded = np.zeros((bsz, c, h + 2 * ph, w + 2 * pw), dtype=dx.dtype)
    for i in range(kh):  # one strided add per window offset: windows overlap when s < k
        for j in range(kw):
            padded[:, :, i : i + sh * oh : sh, j : j + sw * ow : sw] += share
    dx[...] = padded[:, :, ph : ph + h, pw : pw + w]
