"""Reference for 2-D convolution: cross-correlation as im2col + one GEMM, and its backward.

Goodfellow et al., *Deep Learning*, ch. 9: the layer computes the cross-correlation
(eq. 9.6, with stride s as in eq. 9.8 and zero padding)

    Z[b, f, oh, ow] = Σ_{c,i,j} X̃[b, c, oh·sh + i, ow·sw + j] · W[f, c, i, j] + b[f],

X̃ the input zero-padded by (ph, pw). Unrolling every receptive field of X̃ into a column of
``cols`` (K, P) (im2col; K = C·KH·KW kernel taps, P = B·OH·OW positions) turns it into the
matrix product Z_flat = W_flat · cols with W_flat = W.reshape(F, K) and Z_flat (F, P), whose
row f holds channel f of every sample. The backward (ch. 6.5 back-prop through the same three
steps, eqs. 9.11–9.13 in matrix form): dZ = dH ⊙ 1[H > 0] as (F, P); db = Σ_p dZ[:, p];
dW_flat = dZ · colsᵀ; dcols = W_flatᵀ · dZ; dX = col2im(dcols), the adjoint of im2col (each
entry of ``dcols`` added back to the input position it was read from, padding dropped).

Positions run along the rows (the (K, P) layout, not (P, K)) because the GEMMs are faster
that way round: at the MNIST CNN's second convolution ((F, K, P) = (32, 400, 50176), float32,
OpenBLAS, 2 threads) W·cols, dZ·colsᵀ and Wᵀ·dZ took 19, 20 and 18 ms against 22, 25 and
29 ms for cols·Wᵀ, dZᵀ·cols and dZ·W on (P, K) (``tools/compare_conv_kernels.py``), and each
row of ``cols`` is a run of output positions, so im2col copies contiguous input rows.

Kernels that must equal it: ``numdl_kernels.cpu.conv``, ``numdl_kernels.cuda.conv``.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

__all__ = ["col2im", "conv2d_backward", "conv2d_forward", "im2col"]


def _out_size(h: int, w: int, kh: int, kw: int, stride: tuple, padding: tuple) -> tuple:
    """OH = (H + 2·ph − KH) // sh + 1, OW = (W + 2·pw − KW) // sw + 1."""
    return (h + 2 * padding[0] - kh) // stride[0] + 1, (w + 2 * padding[1] - kw) // stride[1] + 1


def im2col(
    x: np.ndarray, kh: int, kw: int, stride: tuple, padding: tuple, cols: np.ndarray
) -> np.ndarray:
    """cols[(c, i, j), (b, oh, ow)] = X̃[b, c, oh·sh + i, ow·sw + j] (X̃ zero-padded x).

    Shapes: x (B, C, H, W), cols (K, P) C-contiguous. Returns ``cols``.
    """
    (sh, sw), (ph, pw) = stride, padding
    b, c, h, w = x.shape
    oh, ow = _out_size(h, w, kh, kw, stride, padding)
    padded = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    # windows[b, c, oh, ow, i, j] = X̃[b, c, oh·sh + i, ow·sw + j] (a view, no copy)
    windows = sliding_window_view(padded, (kh, kw), axis=(2, 3))[:, :, ::sh, ::sw]
    cols.reshape(c, kh, kw, b, oh, ow)[...] = windows.transpose(1, 4, 5, 0, 2, 3)
    return cols


def col2im(
    dcols: np.ndarray,
    x_shape: tuple,
    kh: int,
    kw: int,
    stride: tuple,
    padding: tuple,
    dx: np.ndarray,
) -> np.ndarray:
    """dX[b, c, h, w] = Σ over (oh, ow, i, j) with oh·sh + i − ph = h, ow·sw + j − pw = w of
    dcols[(c, i, j), (b, oh, ow)]: the adjoint of :func:`im2col`. Overwrites ``dx``."""
    (sh, sw), (ph, pw) = stride, padding
    b, c, h, w = x_shape
    oh, ow = _out_size(h, w, kh, kw, stride, padding)
    grid = dcols.reshape(c, kh, kw, b, oh, ow).transpose(3, 0, 4, 5, 1, 2)  # (B, C, OH, OW, ·, ·)
    padded = np.zeros((b, c, h + 2 * ph, w + 2 * pw), dtype=dx.dtype)
    for i in range(kh):  # one strided add per kernel offset: windows overlap when s < k
        for j in range(kw):
            padded[:, :, i : i + sh * oh : sh, j : j + sw * ow : sw] += grid[..., i, j]
    dx[...] = padded[:, :, ph : ph + h, pw : pw + w]
    return dx


def conv2d_forward(
    x: np.ndarray,
    w: np.ndarray,
    b: np.ndarray,
    stride: tuple,
    padding: tuple,
    relu: bool,
    cols: np.ndarray,
    z: np.ndarray,
    out: np.ndarray,
) -> np.ndarray:
    """H = act(W_flat · cols + b) in NCHW: the cross-correlation of eq. 9.6 as one GEMM.

    Shapes: x (B, C, H, W), w (F, C, KH, KW), b (F,), cols (K, P), z (F, P),
    out (B, F, OH, OW). ``cols`` (the im2col of x) is written and kept for the backward;
    ``z`` receives the GEMM W_flat · cols (before the bias). ReLU when ``relu``; its mask in
    the backward is ``out > 0``.
    """
    f, _, kh, kw = w.shape
    bsz, _, h, wd = x.shape
    oh, ow = _out_size(h, wd, kh, kw, stride, padding)
    im2col(x, kh, kw, stride, padding, cols)
    np.matmul(w.reshape(f, -1), cols, out=z)  # z[f, (b, oh, ow)] = Z − b: one GEMM
    out[...] = z.reshape(f, bsz, oh, ow).transpose(1, 0, 2, 3)  # (F, P) → NCHW
    out += b[:, None, None]
    if relu:
        np.maximum(out, 0, out=out)
    return out


def conv2d_backward(
    grad: np.ndarray,
    cols: np.ndarray,
    w: np.ndarray,
    out: np.ndarray,
    stride: tuple,
    padding: tuple,
    relu: bool,
    compute_dx: bool,
    dz: np.ndarray,
    dcols: np.ndarray | None,
    dx: np.ndarray | None,
    dw: np.ndarray,
    db: np.ndarray,
) -> None:
    """dZ = dH ⊙ 1[H > 0]; db = Σ_p dZ[:, p]; dW_flat = dZ colsᵀ; dX = col2im(W_flatᵀ dZ).

    Shapes: grad, out (B, F, OH, OW); cols, dcols (K, P); w, dw (F, C, KH, KW); dz (F, P);
    db (F,); dx (B, C, H, W). ``dcols`` and ``dx`` are None unless ``compute_dx``. Every
    output is overwritten.
    """
    f, _, kh, kw = w.shape
    bsz, _, oh, ow = grad.shape
    dz4 = dz.reshape(f, bsz, oh, ow)  # (F, P) seen as CNHW
    if relu:
        np.multiply(grad.transpose(1, 0, 2, 3), out.transpose(1, 0, 2, 3) > 0, out=dz4)
    else:
        dz4[...] = grad.transpose(1, 0, 2, 3)
    np.sum(dz, axis=1, out=db)
    np.matmul(dz, cols.T, out=dw.reshape(f, -1))
    if compute_dx:
        np.matmul(w.reshape(f, -1).T, dz, out=dcols)
        col2im(dcols, dx.shape, kh, kw, stride, padding, dx)
