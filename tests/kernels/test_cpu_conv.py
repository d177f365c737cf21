"""numdl_kernels.cpu conv and pooling kernels: edge cases against loop-by-loop oracles.

The oracles below spell out Goodfellow et al. eq. 9.6 (cross-correlation), its gradients
(ch. 6.5) and the pooling rules of the interface (first maximum, first NaN wins, padding
never chosen; average over KH·KW with padding as zeros) one output at a time in float64,
independently of both the NumPy reference and the kernels. Where the reference
(``numdl.core.hotpaths.conv`` / ``.pooling``) is present, the kernels are also compared with it
(the registry-driven suite in tests/equivalence covers its cases on every backend).
Tolerances: :mod:`numdl.testing.tolerances`.
"""

from __future__ import annotations

import importlib

import numpy as np
import pytest

from numdl.testing.tolerances import assert_backend_close
from numdl_kernels.cpu import _threads, conv, pooling

DTYPES = (np.float32, np.float64)

# (B, C, H, W, F, KH, KW, stride, padding): odd sizes, asymmetric strides and paddings,
# batch 1, one output channel (db summed by NumPy), a kernel as large as the padded input.
CONV_SHAPES = [
    (2, 3, 7, 6, 4, 3, 2, (2, 1), (1, 0)),
    (1, 1, 5, 5, 2, 5, 5, (1, 1), (2, 2)),
    (3, 2, 9, 8, 1, 3, 3, (2, 3), (1, 1)),
    (1, 2, 4, 3, 3, 6, 5, (1, 1), (1, 1)),  # OH = OW = 1
    (2, 4, 11, 10, 5, 4, 3, (3, 2), (2, 1)),
    (2, 8, 6, 7, 3, 3, 3, (1, 2), (1, 1)),  # K = 72
]

# (B, C, H, W, kernel, stride, padding): non-overlapping, overlapping (stride < kernel), padded.
POOL_SHAPES = [
    (2, 3, 8, 8, (2, 2), (2, 2), (0, 0)),
    (2, 2, 7, 5, (2, 2), (2, 2), (0, 0)),  # the 2x2 kernel on odd sizes (last row/column unread)
    (1, 2, 7, 5, (3, 3), (1, 1), (1, 1)),
    (2, 1, 9, 7, (3, 2), (2, 1), (1, 1)),
    (3, 2, 5, 6, (2, 3), (1, 2), (0, 1)),
]


def _reference(family: str):
    """``numdl.core.hotpaths.<family>`` if it exists yet, else None."""
    try:
        return importlib.import_module(f"numdl.core.hotpaths.{family}")
    except ImportError:
        return None


def _out_size(n: int, k: int, s: int, p: int) -> int:
    return (n + 2 * p - k) // s + 1


# ------------------------------------------------------------------------------ oracles
def _oracle_conv(x, w, b, stride, padding, relu):
    """out[b,f,oh,ow] = act(b_f + Σ_{c,i,j} w[f,c,i,j] x_pad[b,c,oh·sh+i,ow·sw+j]), in float64."""
    (sh, sw), (ph, pw) = stride, padding
    nb, _, h, wd = x.shape
    nf, _, kh, kw = w.shape
    oh_n, ow_n = _out_size(h, kh, sh, ph), _out_size(wd, kw, sw, pw)
    xp = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    out = np.empty((nb, nf, oh_n, ow_n))
    for oh in range(oh_n):
        for ow in range(ow_n):
            win = xp[:, :, oh * sh : oh * sh + kh, ow * sw : ow * sw + kw]
            out[:, :, oh, ow] = np.einsum("bcij,fcij->bf", win, w.astype(np.float64)) + b
    return np.maximum(out, 0) if relu else out


def _oracle_conv_grads(x, w, grad, out, stride, padding, relu):
    """(dx, dw, db) of eq. 9.6 by the chain rule: every product's two partial derivatives."""
    (sh, sw), (ph, pw) = stride, padding
    _, _, kh, kw = w.shape
    g = grad.astype(np.float64) * (out > 0) if relu else grad.astype(np.float64)
    xp = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    dxp = np.zeros_like(xp)
    dw = np.zeros(w.shape)
    for oh in range(g.shape[2]):
        for ow in range(g.shape[3]):
            rows, cols = slice(oh * sh, oh * sh + kh), slice(ow * sw, ow * sw + kw)
            dw += np.einsum("bf,bcij->fcij", g[:, :, oh, ow], xp[:, :, rows, cols])
            dxp[:, :, rows, cols] += np.einsum("bf,fcij->bcij", g[:, :, oh, ow], w)
    dx = dxp[:, :, ph : ph + x.shape[2], pw : pw + x.shape[3]]
    return dx, dw, g.sum(axis=(0, 2, 3))


def _oracle_maxpool(x, kernel, stride, padding):
    """max and flat argmax per window, scanning the unpadded entries row-major: a strictly
    larger value or the first NaN replaces the current choice."""
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding
    nb, nc, h, wd = x.shape
    oh_n, ow_n = _out_size(h, kh, sh, ph), _out_size(wd, kw, sw, pw)
    out = np.empty((nb, nc, oh_n, ow_n), x.dtype)
    arg = np.empty((nb, nc, oh_n, ow_n), np.int64)
    for b, c, oh, ow in np.ndindex(nb, nc, oh_n, ow_n):
        best, where = None, -1
        for i in range(kh):
            for j in range(kw):
                r, q = oh * sh - ph + i, ow * sw - pw + j
                if not (0 <= r < h and 0 <= q < wd):
                    continue
                v = x[b, c, r, q]
                if best is None or (not np.isnan(best) and (v > best or np.isnan(v))):
                    best, where = v, r * wd + q
        out[b, c, oh, ow], arg[b, c, oh, ow] = best, where
    return out, arg


def _oracle_avgpool(x, kernel, stride, padding):
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding
    xp = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    oh_n = _out_size(x.shape[2], kh, sh, ph)
    ow_n = _out_size(x.shape[3], kw, sw, pw)
    out = np.empty((*x.shape[:2], oh_n, ow_n))
    for oh in range(oh_n):
        for ow in range(ow_n):
            out[:, :, oh, ow] = xp[:, :, oh * sh : oh * sh + kh, ow * sw : ow * sw + kw].sum(
                axis=(2, 3)
            ) / (kh * kw)
    return out


def _oracle_avgpool_grad(grad, x_shape, kernel, stride, padding):
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding
    dxp = np.zeros((*x_shape[:2], x_shape[2] + 2 * ph, x_shape[3] + 2 * pw))
    for oh in range(grad.shape[2]):
        for ow in range(grad.shape[3]):
            g = grad[:, :, oh, ow].astype(np.float64)[:, :, None, None] / (kh * kw)
            dxp[:, :, oh * sh : oh * sh + kh, ow * sw : ow * sw + kw] += g
    return dxp[:, :, ph : ph + x_shape[2], pw : pw + x_shape[3]]


# ------------------------------------------------------------------------------ helpers
def _close(actual, oracle, name):
    assert_backend_close(actual, np.asarray(oracle).astype(actual.dtype), name=name)


def _conv_buffers(x, w, stride, padding):
    (sh, sw), (ph, pw) = stride, padding
    nb, c, h, wd = x.shape
    nf, _, kh, kw = w.shape
    oh_n, ow_n = _out_size(h, kh, sh, ph), _out_size(wd, kw, sw, pw)
    p_rows, k = nb * oh_n * ow_n, c * kh * kw
    dt = x.dtype
    return (
        np.full((k, p_rows), np.nan, dt),
        np.full((nf, p_rows), np.nan, dt),
        np.full((nb, nf, oh_n, ow_n), np.nan, dt),
    )


def _run_conv(x, w, b, stride, padding, relu, grad, compute_dx=True):
    cols, z, out = _conv_buffers(x, w, stride, padding)
    returned = conv.conv2d_forward(x, w, b, stride, padding, relu, cols, z, out)
    assert returned is out
    dz = np.full_like(z, np.nan)  # garbage: every output must be overwritten
    dcols = np.full_like(cols, np.nan) if compute_dx else None
    dx = np.full_like(x, np.nan) if compute_dx else None
    dw, db = np.full_like(w, np.nan), np.full_like(b, np.nan)
    conv.conv2d_backward(
        grad, cols, w, out, stride, padding, relu, compute_dx, dz, dcols, dx, dw, db
    )
    return {
        "cols": cols,
        "z": z,
        "out": out,
        "dz": dz,
        "dcols": dcols,
        "dx": dx,
        "dw": dw,
        "db": db,
    }


def _conv_inputs(rng, dtype, shape):
    nb, c, h, wd, nf, kh, kw, stride, padding = shape
    x = rng.standard_normal((nb, c, h, wd)).astype(dtype)
    w = (rng.standard_normal((nf, c, kh, kw)) / np.sqrt(c * kh * kw)).astype(dtype)
    b = (0.1 * rng.standard_normal(nf)).astype(dtype)
    oh_n, ow_n = _out_size(h, kh, stride[0], padding[0]), _out_size(wd, kw, stride[1], padding[1])
    grad = rng.standard_normal((nb, nf, oh_n, ow_n)).astype(dtype)
    return x, w, b, stride, padding, grad


@pytest.fixture(params=["serial", "parallel"])
def flavour(request):
    """Run a test on the serial kernels and on their parallel (prange) flavours."""
    previous = _threads.set_parallel_min_size(0 if request.param == "parallel" else 1 << 40)
    yield request.param
    _threads.set_parallel_min_size(previous)


# ------------------------------------------------------------------------------ conv
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", CONV_SHAPES, ids=str)
@pytest.mark.parametrize("relu", [False, True])
def test_conv_matches_oracle(flavour, dtype, shape, relu):
    rng = np.random.default_rng(13)
    x, w, b, stride, padding, grad = _conv_inputs(rng, dtype, shape)
    got = _run_conv(x, w, b, stride, padding, relu, grad)
    want = _oracle_conv(x, w, b, stride, padding, relu)
    _close(got["out"], want, "out")
    # the saved scratches are the interface's: W.reshape(F, K) @ cols = z
    _close(got["z"], w.reshape(w.shape[0], -1) @ got["cols"].astype(np.float64), "z")
    dx, dw, db = _oracle_conv_grads(x, w, grad, got["out"], stride, padding, relu)
    _close(got["dx"], dx, "dx")
    _close(got["dw"], dw, "dw")
    _close(got["db"], db, "db")


def test_cols_layout_and_padding_zeros():
    """Row k = (c, i, j), column p = (b, oh, ow), zeros where the window covers padding."""
    x = np.arange(1 * 2 * 3 * 3, dtype=np.float64).reshape(1, 2, 3, 3) + 1
    w = np.ones((1, 2, 2, 2))
    cols, z, out = _conv_buffers(x, w, (1, 1), (1, 1))
    conv.conv2d_forward(x, w, np.zeros(1), (1, 1), (1, 1), False, cols, z, out)
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    for oh in range(4):
        for ow in range(4):
            np.testing.assert_array_equal(
                cols[:, oh * 4 + ow], xp[0, :, oh : oh + 2, ow : ow + 2].reshape(-1)
            )
    assert cols[:, 0].tolist() == [0, 0, 0, 1, 0, 0, 0, 10]  # top-left window: one real entry


def test_non_contiguous_inputs():
    """Strided views as inputs give the results of their contiguous copies."""
    rng = np.random.default_rng(6)
    x, w, b, stride, padding, grad = _conv_inputs(rng, np.float32, CONV_SHAPES[0])
    want = _run_conv(x, w, b, stride, padding, True, grad)
    xs = np.repeat(x, 2, axis=3)[..., ::2]
    gs = np.repeat(grad, 2, axis=3)[..., ::2]
    assert not xs.flags.c_contiguous
    got = _run_conv(xs, w, b, stride, padding, True, gs)
    for key in ("out", "dx", "dw", "db"):
        np.testing.assert_array_equal(got[key], want[key])
    out, arg = _run_maxpool(x, (2, 2), (2, 2), (0, 0))
    out_s, arg_s = _run_maxpool(xs, (2, 2), (2, 2), (0, 0))
    np.testing.assert_array_equal(arg_s, arg)
    g = rng.standard_normal(out.shape).astype(np.float32)
    dx, dx_s = np.empty_like(x), np.empty_like(x)
    pooling.maxpool2d_backward(g, arg, dx)
    pooling.maxpool2d_backward(np.repeat(g, 2, axis=3)[..., ::2], arg, dx_s)
    np.testing.assert_array_equal(dx_s, dx)
    pooling.avgpool2d_forward(xs, (2, 2), (2, 2), (0, 0), out_s)
    pooling.avgpool2d_forward(x, (2, 2), (2, 2), (0, 0), out)
    np.testing.assert_array_equal(out_s, out)


def test_conv_without_dx_leaves_dx_alone():
    rng = np.random.default_rng(1)
    x, w, b, stride, padding, grad = _conv_inputs(rng, np.float32, CONV_SHAPES[0])
    with_dx = _run_conv(x, w, b, stride, padding, True, grad)
    without = _run_conv(x, w, b, stride, padding, True, grad, compute_dx=False)
    assert without["dx"] is None
    assert without["dcols"] is None
    for key in ("dw", "db", "dz"):
        np.testing.assert_array_equal(without[key], with_dx[key])


def test_conv_relu_mask_is_strict_and_nan_propagates():
    """Outputs exactly 0 get no gradient (mask out > 0); a NaN input reaches every output
    whose window covers it, and the ReLU keeps it (as np.maximum)."""
    x = np.zeros((1, 1, 4, 4), np.float32)
    w = np.ones((2, 1, 3, 3), np.float32)
    b = np.array([0.0, 1.0], np.float32)
    grad = np.ones((1, 2, 2, 2), np.float32)
    got = _run_conv(x, w, b, (1, 1), (0, 0), True, grad)
    np.testing.assert_array_equal(got["out"][0, 0], 0)
    np.testing.assert_array_equal(got["db"], [0.0, 4.0])
    np.testing.assert_array_equal(got["dw"][0], 0)
    x[0, 0, 0, 0] = np.nan
    got = _run_conv(x, w, b, (1, 1), (0, 0), True, grad)
    assert np.isnan(got["out"][0, :, 0, 0]).all()
    assert not np.isnan(got["out"][0, :, 1, 1]).any()


def test_conv_dx_is_overwritten_not_accumulated():
    rng = np.random.default_rng(2)
    x, w, b, stride, padding, grad = _conv_inputs(rng, np.float64, CONV_SHAPES[2])
    first = _run_conv(x, w, b, stride, padding, False, grad)
    cols, _, out = _conv_buffers(x, w, stride, padding)
    conv.conv2d_forward(x, w, b, stride, padding, False, cols, np.empty_like(first["z"]), out)
    dx = np.full_like(x, 123.0)
    dz, dcols = np.empty_like(first["dz"]), np.empty_like(first["dcols"])
    dw, db = np.empty_like(w), np.empty_like(b)
    conv.conv2d_backward(grad, cols, w, out, stride, padding, False, True, dz, dcols, dx, dw, db)
    np.testing.assert_array_equal(dx, first["dx"])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", CONV_SHAPES, ids=str)
def test_conv_equals_reference_bitwise(flavour, dtype, shape):
    """The kernels make the reference's NumPy calls and round their passes like it does,
    so every output and scratch is the reference's bit for bit, in both flavours."""
    ref = _reference("conv")
    if ref is None:
        pytest.skip("numdl.core.hotpaths.conv is not there yet")
    rng = np.random.default_rng(3)
    x, w, b, stride, padding, grad = _conv_inputs(rng, dtype, shape)
    got = _run_conv(x, w, b, stride, padding, True, grad)
    cols, z, out = _conv_buffers(x, w, stride, padding)
    ref.conv2d_forward(x, w, b, stride, padding, True, cols, z, out)
    dz, dcols = np.empty_like(z), np.empty_like(cols)
    dx, dw, db = np.empty_like(x), np.empty_like(w), np.empty_like(b)
    ref.conv2d_backward(grad, cols, w, out, stride, padding, True, True, dz, dcols, dx, dw, db)
    want = {"out": out, "cols": cols, "z": z, "dz": dz, "dcols": dcols, "dx": dx, "dw": dw}
    for name, value in {**want, "db": db}.items():
        np.testing.assert_array_equal(got[name], value, err_msg=name)


# ------------------------------------------------------------------------------ pooling
def _run_maxpool(x, kernel, stride, padding):
    oh_n = _out_size(x.shape[2], kernel[0], stride[0], padding[0])
    ow_n = _out_size(x.shape[3], kernel[1], stride[1], padding[1])
    out = np.full((*x.shape[:2], oh_n, ow_n), np.nan, x.dtype)
    arg = np.full(out.shape, -7, np.int64)
    assert pooling.maxpool2d_forward(x, kernel, stride, padding, out, arg) is out
    return out, arg


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", POOL_SHAPES, ids=str)
def test_maxpool_matches_oracle(flavour, dtype, shape):
    nb, c, h, wd, kernel, stride, padding = shape
    rng = np.random.default_rng(5)
    # few distinct values (ties everywhere), NaNs and -inf sprinkled in
    x = rng.integers(-2, 3, (nb, c, h, wd)).astype(dtype)
    x[rng.random(x.shape) < 0.08] = np.nan
    x[rng.random(x.shape) < 0.08] = -np.inf
    out, arg = _run_maxpool(x, kernel, stride, padding)
    want_out, want_arg = _oracle_maxpool(x, kernel, stride, padding)
    np.testing.assert_array_equal(arg, want_arg)
    np.testing.assert_array_equal(out, want_out)  # NaN == NaN for assert_array_equal
    assert arg.dtype == np.int64
    grad = rng.standard_normal(out.shape).astype(dtype)
    dx = np.full_like(x, np.nan)
    pooling.maxpool2d_backward(grad, arg, dx)
    want_dx = np.zeros(x.shape)
    for b, ch, oh, ow in np.ndindex(out.shape):
        r, q = divmod(int(want_arg[b, ch, oh, ow]), wd)
        want_dx[b, ch, r, q] += grad[b, ch, oh, ow]
    _close(dx, want_dx, "dx")


def test_maxpool_tie_first_nan_first_and_padding_never_chosen():
    x = np.array(
        [[[[1.0, 1.0, 2.0, 2.0], [1.0, 1.0, 2.0, 2.0], [3.0, np.nan, 5.0, 5.0],
           [np.nan, 0.0, 5.0, 5.0]]]],
        np.float32,
    )  # fmt: skip
    out, arg = _run_maxpool(x, (2, 2), (2, 2), (0, 0))
    np.testing.assert_array_equal(arg[0, 0], [[0, 2], [9, 10]])  # ties: first; NaN: first one
    assert np.isnan(out[0, 0, 1, 0])
    assert out[0, 0, 1, 1] == 5
    neg = np.full((1, 1, 3, 3), -np.inf, np.float64)  # all -inf: the first real entry
    out, arg = _run_maxpool(neg, (3, 3), (2, 2), (1, 1))
    np.testing.assert_array_equal(arg[0, 0], [[0, 1], [3, 4]])
    assert np.isneginf(out).all()


def test_maxpool_backward_accumulates_overlapping_windows():
    x = np.zeros((1, 1, 3, 3), np.float64)
    x[0, 0, 1, 1] = 1.0  # the max of all four overlapping 2×2 windows
    out, arg = _run_maxpool(x, (2, 2), (1, 1), (0, 0))
    assert (arg == 4).all()
    dx = np.full_like(x, np.nan)
    pooling.maxpool2d_backward(np.full(out.shape, 0.5), arg, dx)
    want = np.zeros_like(x)
    want[0, 0, 1, 1] = 2.0
    np.testing.assert_array_equal(dx, want)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", POOL_SHAPES, ids=str)
def test_avgpool_matches_oracle(flavour, dtype, shape):
    nb, c, h, wd, kernel, stride, padding = shape
    rng = np.random.default_rng(7)
    x = rng.standard_normal((nb, c, h, wd)).astype(dtype)
    want = _oracle_avgpool(x, kernel, stride, padding)
    out = np.full(want.shape, np.nan, dtype)
    assert pooling.avgpool2d_forward(x, kernel, stride, padding, out) is out
    _close(out, want, "out")
    grad = rng.standard_normal(out.shape).astype(dtype)
    dx = np.full_like(x, np.nan)
    pooling.avgpool2d_backward(grad, kernel, stride, padding, dx)
    _close(dx, _oracle_avgpool_grad(grad, x.shape, kernel, stride, padding), "dx")


def test_avgpool_counts_padding_as_zeros():
    x = np.ones((1, 1, 4, 4), np.float32)
    out = np.empty((1, 1, 2, 2), np.float32)
    pooling.avgpool2d_forward(x, (3, 3), (2, 2), (1, 1), out)
    np.testing.assert_allclose(out[0, 0], [[4 / 9, 6 / 9], [6 / 9, 9 / 9]], rtol=1e-6)
    x[0, 0, 0, 0] = np.nan  # NaN propagates to the windows holding it only
    pooling.avgpool2d_forward(x, (3, 3), (2, 2), (1, 1), out)
    assert np.isnan(out[0, 0, 0, 0])
    assert not np.isnan(out[0, 0, 1:, 1:]).any()


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", POOL_SHAPES, ids=str)
def test_pooling_matches_reference(dtype, shape):
    ref = _reference("pooling")
    if ref is None:
        pytest.skip("numdl.core.hotpaths.pooling is not there yet")
    nb, c, h, wd, kernel, stride, padding = shape
    rng = np.random.default_rng(9)
    x = rng.integers(-2, 3, (nb, c, h, wd)).astype(dtype)
    x[rng.random(x.shape) < 0.05] = np.nan
    out, arg = _run_maxpool(x, kernel, stride, padding)
    ref_out, ref_arg = np.empty_like(out), np.empty_like(arg)
    ref.maxpool2d_forward(x, kernel, stride, padding, ref_out, ref_arg)
    np.testing.assert_array_equal(arg, ref_arg)
    assert_backend_close(out, ref_out, name="maxpool out")
    grad = rng.standard_normal(out.shape).astype(dtype)
    dx, ref_dx = np.empty_like(x), np.empty_like(x)
    pooling.maxpool2d_backward(grad, arg, dx)
    ref.maxpool2d_backward(grad, ref_arg, ref_dx)
    assert_backend_close(dx, ref_dx, name="maxpool dx")
    pooling.avgpool2d_forward(x, kernel, stride, padding, out)
    ref.avgpool2d_forward(x, kernel, stride, padding, ref_out)
    assert_backend_close(out, ref_out, name="avgpool out")
    pooling.avgpool2d_backward(grad, kernel, stride, padding, dx)
    ref.avgpool2d_backward(grad, kernel, stride, padding, ref_dx)
    assert_backend_close(dx, ref_dx, name="avgpool dx")
