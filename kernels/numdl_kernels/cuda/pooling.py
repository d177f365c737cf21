"""2-D max and average pooling on the GPU (Goodfellow et al., ch. 9.3) and their gradients.

Equals :mod:`numdl.core.hotpaths.pooling` (same positional arguments, NCHW). Forward: one
thread per output element scans its window's unpadded entries in row-major order (max
pooling writes the maximum and its int64 ``argmax``, the flat ``h·W + w`` into the unpadded
plane, together). Padding is never read: for max pooling it is −inf, below every element of
the window (so no window chooses it; the ops reject all-padding windows), for average
pooling it counts as zeros in a window of KH·KW.

Backward (ch. 6.5), deterministic and without atomics: average pooling gathers, one thread
per input element summing grad/(KH·KW) over the windows holding it, in (i, j) window order.
Max pooling's backward receives no window geometry (only ``argmax``), so one thread per
(b, c) plane zeroes its plane of ``dx`` and adds each gradient onto its argmax in (oh, ow)
order: exactly the reference's scatter order, so overlapping windows accumulate identically.
"""

from __future__ import annotations

import numpy as np
from numba import cuda

from numdl_kernels.cuda._launch import block_size, grid_1d, launch
from numdl_kernels.cuda.conv import _unravel4

__all__ = [
    "avgpool2d_backward",
    "avgpool2d_forward",
    "maxpool2d_backward",
    "maxpool2d_forward",
]


@cuda.jit(device=True)
def _window(o, s, p, k, n):
    """[lo, hi) = [o·s − p, o·s − p + k) ∩ [0, n): the unpadded rows (columns) of window o."""
    lo = o * s - p
    hi = lo + k
    # (not min()/max(): they fail to type in Numba's built-in CUDA target)
    if lo < 0:
        lo = 0
    if hi > n:
        hi = n
    return lo, hi


@cuda.jit
def _maxpool_kernel(x, kh, kw, sh, sw, ph, pw, out, argmax):
    """out = max over the window, argmax = its flat index: the first maximum in row-major
    window order, or the first NaN (``np.argmax``'s rule); padding is never chosen."""
    nc, h_in, w_in = x.shape[1], x.shape[2], x.shape[3]
    oh_n, ow_n = out.shape[2], out.shape[3]
    n = out.shape[0] * nc * oh_n * ow_n
    for t in range(cuda.grid(1), n, cuda.gridsize(1)):
        b, c, oh, ow = _unravel4(t, nc, oh_n, ow_n)
        h_lo, h_hi = _window(oh, sh, ph, kh, h_in)
        w_lo, w_hi = _window(ow, sw, pw, kw, w_in)
        best = x[b, c, h_lo, w_lo]
        where = h_lo * w_in + w_lo
        if best == best:  # not NaN yet: scan the rest of the window
            found_nan = False
            for h in range(h_lo, h_hi):
                for w in range(w_lo, w_hi):
                    v = x[b, c, h, w]
                    if v > best:
                        best = v
                        where = h * w_in + w
                    elif v != v:
                        best = v
                        where = h * w_in + w
                        found_nan = True
                        break
                if found_nan:
                    break
        out[b, c, oh, ow] = best
        argmax[b, c, oh, ow] = where


@cuda.jit
def _maxpool_backward_kernel(grad, argmax, zero, dx):
    """dx[b, c] ← 0, then dx[b, c].flat[argmax[b, c, q]] += grad[b, c, q] in q order, one
    thread per (b, c) plane (grad, argmax (B·C, Q) and dx (B·C, H·W) views)."""
    n_planes, hw = dx.shape
    nq = grad.shape[1]
    for s in range(cuda.grid(1), n_planes, cuda.gridsize(1)):
        for e in range(hw):
            dx[s, e] = zero
        for q in range(nq):
            dx[s, argmax[s, q]] += grad[s, q]


@cuda.jit
def _avgpool_kernel(x, kh, kw, sh, sw, ph, pw, zero, count, out):
    """out = (Σ over the window's unpadded entries, row-major) / (KH·KW): padding counts as 0."""
    nc, h_in, w_in = x.shape[1], x.shape[2], x.shape[3]
    oh_n, ow_n = out.shape[2], out.shape[3]
    n = out.shape[0] * nc * oh_n * ow_n
    for t in range(cuda.grid(1), n, cuda.gridsize(1)):
        b, c, oh, ow = _unravel4(t, nc, oh_n, ow_n)
        h_lo, h_hi = _window(oh, sh, ph, kh, h_in)
        w_lo, w_hi = _window(ow, sw, pw, kw, w_in)
        s = zero
        for h in range(h_lo, h_hi):
            for w in range(w_lo, w_hi):
                s += x[b, c, h, w]
        out[b, c, oh, ow] = s / count


@cuda.jit
def _avgpool_backward_kernel(grad, kh, kw, sh, sw, ph, pw, zero, count, dx):
    """dx[b, c, h, w] = Σ_{i,j} grad[b, c, oh, ow] / (KH·KW) over oh·sh + i = h + ph,
    ow·sw + j = w + pw (one thread per input element, (i, j) in row-major order)."""
    nc, h_in, w_in = dx.shape[1], dx.shape[2], dx.shape[3]
    oh_n, ow_n = grad.shape[2], grad.shape[3]
    n = dx.shape[0] * nc * h_in * w_in
    for t in range(cuda.grid(1), n, cuda.gridsize(1)):
        b, c, h, w = _unravel4(t, nc, h_in, w_in)
        acc = zero
        for i in range(kh):
            hh = h + ph - i
            if hh >= 0 and hh % sh == 0 and hh // sh < oh_n:
                oh = hh // sh
                for j in range(kw):
                    ww = w + pw - j
                    if ww >= 0 and ww % sw == 0 and ww // sw < ow_n:
                        acc += grad[b, c, oh, ww // sw] / count
        dx[b, c, h, w] = acc


def maxpool2d_forward(x, kernel, stride, padding, out, argmax):
    """out[b, c, oh, ow] = max_{i,j} x_pad[b, c, oh·sh + i, ow·sw + j] (ch. 9.3), with argmax.

    Equals ``numdl.core.hotpaths.pooling.maxpool2d_forward``: ties go to the first maximum in
    row-major window order, a NaN in the window wins (the first one). Returns ``out``.
    """
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding
    if out.size:
        launch(
            _maxpool_kernel,
            grid_1d(out.size),
            block_size(),
            out,
            x,
            kh,
            kw,
            sh,
            sw,
            ph,
            pw,
            out,
            argmax,
        )
    return out


def maxpool2d_backward(grad, argmax, dx):
    """dX[b, c].flat[argmax] += dOut[b, c]: each gradient routed to the element chosen (ch. 6.5).

    Equals ``numdl.core.hotpaths.pooling.maxpool2d_backward``; ``dx`` is overwritten.
    """
    n_planes = dx.shape[0] * dx.shape[1]
    if n_planes == 0:
        return
    zero = np.dtype(dx.dtype).type(0)
    launch(
        _maxpool_backward_kernel,
        grid_1d(n_planes),
        block_size(),
        dx,
        grad.reshape(n_planes, -1),
        argmax.reshape(n_planes, -1),
        zero,
        dx.reshape(n_planes, -1),
    )


def avgpool2d_forward(x, kernel, stride, padding, out):
    """out[b, c, oh, ow] = (1 / KH·KW) Σ_{i,j} x_pad[b, c, oh·sh + i, ow·sw + j] (ch. 9.3).

    Equals ``numdl.core.hotpaths.pooling.avgpool2d_forward`` (padding counted as zeros,
    PyTorch's ``count_include_pad=True``). Returns ``out``.
    """
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding
    dtype = np.dtype(x.dtype)
    if out.size:
        launch(
            _avgpool_kernel,
            grid_1d(out.size),
            block_size(),
            out,
            x,
            kh,
            kw,
            sh,
            sw,
            ph,
            pw,
            dtype.type(0),
            dtype.type(kh * kw),
            out,
        )
    return out


def avgpool2d_backward(grad, kernel, stride, padding, dx):
    """dX[b, c, h, w] = Σ over the windows holding (h, w) of dOut / (KH·KW) (ch. 6.5).

    Equals ``numdl.core.hotpaths.pooling.avgpool2d_backward``; ``dx`` is overwritten.
    """
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding
    dtype = np.dtype(dx.dtype)
    if dx.size:
        launch(
            _avgpool_backward_kernel,
            grid_1d(dx.size),
            block_size(),
            dx,
            grad,
            kh,
            kw,
            sh,
            sw,
            ph,
            pw,
            dtype.type(0),
            dtype.type(kh * kw),
            dx,
        )
