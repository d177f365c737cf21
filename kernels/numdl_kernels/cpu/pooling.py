"""2-D max and average pooling (Goodfellow et al., ch. 9.3) and their gradients (ch. 6.5).

Equals :mod:`numdl.core.hotpaths.pooling` (same positional arguments, NCHW). Each op is one
compiled pass over the windows: max pooling writes the maximum and its int64 ``argmax``
(flat ``h·W + w`` into the unpadded plane) together; its backward scatter-adds each gradient
onto its argmax (overlapping windows accumulate). Padding is never read: for max pooling it
ranks below every element of the window, −inf included (so a window of −inf picks its first
real entry; the ops reject all-padding windows); for average pooling it counts as zeros in a
window of KH·KW. The results equal the reference bit for bit: the same scan and tie rules,
window sums rounded in NumPy's order (row sums, then their sum), gradients accumulated in the
reference's order.

The max-pooling scan is branch-free (selects, not if/else): on random data the comparisons
defeat the branch predictor, and the branchy scan took 2.1× as long (15.1 vs 7.0 ms for
2×2 windows over 256×16×28×28 float32). 2×2 windows at stride 2 without padding (the CNN's
pooling) have a kernel of their own whose four entries are scanned in straight-line code
in the same order: 14.5 vs 24.2 ms for the general loop at that shape (minima of 9 runs in
one process, on a machine about 3× slower than the one of the other figures here); keeping
the int64 index is what costs, as the maximum alone took 2.1 ms. At the MNIST CNN's shapes
(batch 256, 2×2 stride 2, float32, 2 cores; ``tools/compare_conv_kernels.py``) the serial
kernels took, over 256×16×28×28 / 256×32×14×14, with the general max loop: max forward
7.5–8.3 / 3.9 ms, max backward 1.2–1.3 / 0.85 ms, average forward 4.8–5.6 / 2.5–2.6 ms,
average backward 3.8 / 2.7 ms; the NumPy reference takes 6.8×, 9.6×, 4.6× and 1.4× as long
at the first shape. PyTorch CPU (2 threads) took 0.9–1.0× of these times for max forward,
0.5–0.8× for max backward and average pooling in the quietest run, 1.1–4.8× on a busier
machine. The kernels' 2-thread flavours were 1.1–2.3× *slower* there, so, by the package's
threading policy, they run only on inputs of at least
:func:`numdl_kernels.cpu._threads.parallel_min_size` elements.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from numdl_kernels.cpu._threads import pick_flavour, serial_and_parallel

__all__ = [
    "avgpool2d_backward",
    "avgpool2d_forward",
    "maxpool2d_backward",
    "maxpool2d_forward",
]

_FLAGS = {"cache": True, "nogil": True, "error_model": "numpy"}


@njit(inline="always", **_FLAGS)
def _window(o, s, p, k, n):
    """[lo, hi) = [o·s − p, o·s − p + k) ∩ [0, n): the unpadded rows (columns) of window o."""
    return max(o * s - p, 0), min(o * s - p + k, n)


@njit(inline="always", **_FLAGS)
def _holding(i, s, p, n, o_n):
    """[lo, hi) = the windows o in [0, o_n) whose offset i lies inside: 0 ≤ o·s − p + i < n."""
    lo = min(max((p - i + s - 1) // s, 0), o_n)
    return lo, max(min((n + p - i + s - 1) // s, o_n), lo)


def _maxpool_kernel(x, kh, kw, sh, sw, ph, pw, out, argmax, n_blocks):
    """out = max over the window, argmax = its flat index: the first maximum in row-major
    window order, or the first NaN (``np.argmax``'s rule); padding is never chosen."""
    nb, nc, h_in, w_in = x.shape
    oh_n, ow_n = out.shape[2], out.shape[3]
    for blk in prange(n_blocks):
        for b in range(blk * nb // n_blocks, (blk + 1) * nb // n_blocks):
            for c in range(nc):
                plane = x[b, c]
                for oh in range(oh_n):
                    h_lo, h_hi = _window(oh, sh, ph, kh, h_in)
                    for ow in range(ow_n):
                        w_lo, w_hi = _window(ow, sw, pw, kw, w_in)
                        best = plane[h_lo, w_lo]
                        where = h_lo * w_in + w_lo
                        for h in range(h_lo, h_hi):
                            for w in range(w_lo, w_hi):
                                best, where = _max_step(plane[h, w], best, h * w_in + w, where)
                        out[b, c, oh, ow] = best
                        argmax[b, c, oh, ow] = where


@njit(inline="always", **_FLAGS)
def _max_step(v, best, at, where):
    """(best, where) after scanning v at flat index ``at``: v wins if larger, or if it is the
    window's first NaN (selects, not if/else: see the module notes)."""
    take = (v > best) | ((v != v) & (best == best))
    return (v if take else best), (at if take else where)


def _maxpool_2x2_kernel(x, out, argmax, n_blocks):
    """:func:`_maxpool_kernel` for 2 x 2 windows at stride 2 without padding (the CNN's
    pooling), the four entries scanned in straight-line code in the same row-major order."""
    nb, nc, w_in = x.shape[0], x.shape[1], x.shape[3]
    oh_n, ow_n = out.shape[2], out.shape[3]
    for blk in prange(n_blocks):
        for b in range(blk * nb // n_blocks, (blk + 1) * nb // n_blocks):
            for c in range(nc):
                plane, o, a = x[b, c], out[b, c], argmax[b, c]
                for oh in range(oh_n):
                    top, bottom = plane[2 * oh], plane[2 * oh + 1]
                    row_out, row_arg = o[oh], a[oh]
                    t0 = 2 * oh * w_in  # flat index of the window row's first entry
                    for ow in range(ow_n):
                        w = 2 * ow
                        best, where = top[w], t0 + w
                        best, where = _max_step(top[w + 1], best, t0 + w + 1, where)
                        best, where = _max_step(bottom[w], best, t0 + w_in + w, where)
                        best, where = _max_step(bottom[w + 1], best, t0 + w_in + w + 1, where)
                        row_out[ow] = best
                        row_arg[ow] = where


def _maxpool_backward_kernel(grad, argmax, dx, n_blocks):
    """dx ← 0, then dx[b, c].flat[argmax[b, c, oh, ow]] += grad[b, c, oh, ow] in (oh, ow) order."""
    nb, nc = dx.shape[0], dx.shape[1]
    hw = dx.shape[2] * dx.shape[3]
    oh_n, ow_n = grad.shape[2], grad.shape[3]
    zero = dx.dtype.type(0)
    for blk in prange(n_blocks):
        for b in range(blk * nb // n_blocks, (blk + 1) * nb // n_blocks):
            for c in range(nc):
                d = dx[b, c].reshape(hw)  # dx: a C-contiguous output
                g = grad[b, c]
                a = argmax[b, c]
                for t in range(hw):
                    d[t] = zero
                for oh in range(oh_n):
                    for ow in range(ow_n):
                        d[a[oh, ow]] += g[oh, ow]


def _avgpool_kernel(x, kh, kw, sh, sw, ph, pw, out, n_blocks):
    """out = (Σ_i Σ_j x_pad[…, i, j]) / (KH·KW), padding as 0: each window row summed, then the
    row sums added in order (``np.sum`` over the two window axes rounds the same way)."""
    nb, nc, h_in, w_in = x.shape
    oh_n, ow_n = out.shape[2], out.shape[3]
    zero = out.dtype.type(0)
    count = out.dtype.type(kh * kw)
    for blk in prange(n_blocks):
        for b in range(blk * nb // n_blocks, (blk + 1) * nb // n_blocks):
            for c in range(nc):
                plane = x[b, c]
                for oh in range(oh_n):
                    h_lo, h_hi = _window(oh, sh, ph, kh, h_in)
                    for ow in range(ow_n):
                        w_lo, w_hi = _window(ow, sw, pw, kw, w_in)
                        s = zero
                        for h in range(h_lo, h_hi):
                            r = zero
                            for w in range(w_lo, w_hi):
                                r += plane[h, w]
                            s += r
                        out[b, c, oh, ow] = s / count


def _avgpool_backward_kernel(grad, kh, kw, sh, sw, ph, pw, dx, n_blocks):
    """dx ← 0, then grad[b, c, oh, ow] / (KH·KW) added over each window's unpadded entries,
    window offset (i, j) by offset (each dx entry sums its terms in increasing (i, j))."""
    nb, nc, h_in, w_in = dx.shape
    oh_n, ow_n = grad.shape[2], grad.shape[3]
    zero = dx.dtype.type(0)
    count = dx.dtype.type(kh * kw)
    for blk in prange(n_blocks):
        for b in range(blk * nb // n_blocks, (blk + 1) * nb // n_blocks):
            for c in range(nc):
                d = dx[b, c]
                g = grad[b, c]
                for h in range(h_in):
                    for w in range(w_in):
                        d[h, w] = zero
                for i in range(kh):
                    oh_lo, oh_hi = _holding(i, sh, ph, h_in, oh_n)
                    for j in range(kw):
                        ow_lo, ow_hi = _holding(j, sw, pw, w_in, ow_n)
                        for oh in range(oh_lo, oh_hi):
                            dst = d[oh * sh - ph + i]
                            src = g[oh]
                            for ow in range(ow_lo, ow_hi):
                                dst[ow * sw - pw + j] += src[ow] / count


_MAXPOOL = serial_and_parallel(_maxpool_kernel, **_FLAGS)
_MAXPOOL_2X2 = serial_and_parallel(_maxpool_2x2_kernel, **_FLAGS)
_MAXPOOL_BACKWARD = serial_and_parallel(_maxpool_backward_kernel, **_FLAGS)
_AVGPOOL = serial_and_parallel(_avgpool_kernel, **_FLAGS)
_AVGPOOL_BACKWARD = serial_and_parallel(_avgpool_backward_kernel, **_FLAGS)


def maxpool2d_forward(
    x: np.ndarray,
    kernel: tuple[int, int],
    stride: tuple[int, int],
    padding: tuple[int, int],
    out: np.ndarray,
    argmax: np.ndarray,
) -> np.ndarray:
    """out[b, c, oh, ow] = max_{i,j} x_pad[b, c, oh·sh + i, ow·sw + j] (ch. 9.3), with argmax.

    Equals ``numdl.core.hotpaths.pooling.maxpool2d_forward``: ties go to the first maximum in
    row-major window order, a NaN in the window wins (the first one). Returns ``out``.
    """
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding
    if kernel == stride == (2, 2) and padding == (0, 0):
        fn, n_blocks = pick_flavour(_MAXPOOL_2X2, x.size, x.shape[0])
        fn(x, out, argmax, n_blocks)
        return out
    fn, n_blocks = pick_flavour(_MAXPOOL, x.size, x.shape[0])
    fn(x, kh, kw, sh, sw, ph, pw, out, argmax, n_blocks)
    return out


def maxpool2d_backward(grad: np.ndarray, argmax: np.ndarray, dx: np.ndarray) -> None:
    """dX[b, c].flat[argmax] += dOut[b, c]: each gradient routed to the element chosen (ch. 6.5).

    Equals ``numdl.core.hotpaths.pooling.maxpool2d_backward``; ``dx`` is overwritten.
    """
    fn, n_blocks = pick_flavour(_MAXPOOL_BACKWARD, dx.size, dx.shape[0])
    fn(grad, argmax, dx, n_blocks)


def avgpool2d_forward(
    x: np.ndarray,
    kernel: tuple[int, int],
    stride: tuple[int, int],
    padding: tuple[int, int],
    out: np.ndarray,
) -> np.ndarray:
    """out[b, c, oh, ow] = (1 / KH·KW) Σ_{i,j} x_pad[b, c, oh·sh + i, ow·sw + j] (ch. 9.3).

    Equals ``numdl.core.hotpaths.pooling.avgpool2d_forward`` (padding counted as zeros,
    PyTorch's ``count_include_pad=True``). Returns ``out``.
    """
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding
    fn, n_blocks = pick_flavour(_AVGPOOL, x.size, x.shape[0])
    fn(x, kh, kw, sh, sw, ph, pw, out, n_blocks)
    return out


def avgpool2d_backward(
    grad: np.ndarray,
    kernel: tuple[int, int],
    stride: tuple[int, int],
    padding: tuple[int, int],
    dx: np.ndarray,
) -> None:
    """dX[b, c, h, w] = Σ over the windows holding (h, w) of dOut / (KH·KW) (ch. 6.5).

    Equals ``numdl.core.hotpaths.pooling.avgpool2d_backward``; ``dx`` is overwritten.
    """
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding
    fn, n_blocks = pick_flavour(_AVGPOOL_BACKWARD, dx.size, dx.shape[0])
    fn(grad, kh, kw, sh, sw, ph, pw, dx, n_blocks)
