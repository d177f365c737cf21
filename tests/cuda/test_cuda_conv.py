"""numdl_kernels.cuda conv and pooling under the Numba CUDA simulator, against the reference.

Run in its own process: ``NUMBA_ENABLE_CUDASIM=1 pytest tests/cuda`` (see conftest.py). The
reference is :mod:`numdl.core.hotpaths.conv` / ``.pooling``. Launch settings are shrunk
(blocks of 64 threads, at most 2 blocks) so the small arrays here need several grid-stride
passes, and the db reduction runs 32 columns × 2 row slices over several row chunks. Shapes
are tiny (the simulator runs each CUDA thread as a Python thread) but odd: asymmetric
strides and paddings, one output channel, a window as large as the padded input.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

from numdl.core.hotpaths import conv as ref_conv
from numdl.core.hotpaths import pooling as ref_pool
from numdl.testing import assert_backend_close

pytestmark = pytest.mark.cudasim

if os.environ.get("NUMBA_ENABLE_CUDASIM") == "1":
    import numdl_kernels.cuda as K
else:  # collected but skipped by conftest.py
    K = None

DTYPES = [np.float32, np.float64]

# (B, C, H, W, F, KH, KW, stride, padding)
CONV_SHAPES = [
    (2, 3, 7, 6, 4, 3, 2, (2, 1), (1, 0)),
    (1, 2, 5, 5, 3, 3, 3, (1, 1), (1, 1)),
    (2, 2, 6, 5, 1, 2, 3, (3, 2), (1, 1)),  # one output channel
    (1, 2, 4, 3, 3, 6, 5, (1, 1), (1, 1)),  # window = padded input: OH = OW = 1
]

# (B, C, H, W, kernel, stride, padding): non-overlapping, overlapping, padded, asymmetric.
POOL_SHAPES = [
    (2, 2, 6, 6, (2, 2), (2, 2), (0, 0)),
    (1, 2, 7, 5, (3, 3), (1, 1), (1, 1)),
    (2, 1, 9, 7, (3, 2), (2, 1), (1, 1)),
    (1, 2, 5, 6, (2, 3), (1, 2), (0, 1)),
]


@pytest.fixture
def small_launches():
    previous = K.configure(block_size=64, max_blocks=2)
    yield
    K.configure(**previous)


def _out_size(n: int, k: int, s: int, p: int) -> int:
    return (n + 2 * p - k) // s + 1


def _conv_inputs(shape, dtype, seed=0):
    nb, c, h, wd, nf, kh, kw, stride, padding = shape
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((nb, c, h, wd)).astype(dtype)
    w = (rng.standard_normal((nf, c, kh, kw)) / np.sqrt(c * kh * kw)).astype(dtype)
    b = (0.1 * rng.standard_normal(nf)).astype(dtype)
    oh_n = _out_size(h, kh, stride[0], padding[0])
    ow_n = _out_size(wd, kw, stride[1], padding[1])
    grad = rng.standard_normal((nb, nf, oh_n, ow_n)).astype(dtype)
    return x, w, b, grad


def _conv_run(be, x, w, b, grad, stride, padding, relu, compute_dx=True):
    """Forward then backward on backend module pair ``be`` into NaN-filled buffers."""
    nf, _, kh, kw = w.shape
    nb, c = x.shape[:2]
    oh_n, ow_n = grad.shape[2:]
    p_rows, k = nb * oh_n * ow_n, c * kh * kw
    full = lambda shape: np.full(shape, np.nan, x.dtype)  # noqa: E731  (garbage in)
    r = {"cols": full((k, p_rows)), "z": full((nf, p_rows)), "out": full(grad.shape)}
    returned = be.conv2d_forward(x, w, b, stride, padding, relu, r["cols"], r["z"], r["out"])
    assert returned is r["out"]
    r["dz"] = full((nf, p_rows))
    r["dcols"] = full((k, p_rows)) if compute_dx else None
    r["dx"] = full(x.shape) if compute_dx else None
    r["dw"], r["db"] = full(w.shape), full(b.shape)
    be.conv2d_backward(
        grad,
        r["cols"],
        w,
        r["out"],
        stride,
        padding,
        relu,
        compute_dx,
        r["dz"],
        r["dcols"],
        r["dx"],
        r["dw"],
        r["db"],
    )
    return r


def _assert_conv_equal(got, want, w):
    np.testing.assert_array_equal(got["cols"], want["cols"])  # a pure copy: bitwise
    np.testing.assert_array_equal(got["dz"], want["dz"])  # a masked copy: bitwise
    # z is scratch: the interface's z = W.reshape(F, K) @ cols (the reference reuses its z
    # for the bias and ReLU, so it is checked against the GEMM itself)
    assert_backend_close(got["z"], w.reshape(w.shape[0], -1) @ got["cols"], name="z")
    for name in ("out", "dcols", "dx", "dw", "db"):
        if want[name] is None:
            assert got[name] is None
        else:
            assert_backend_close(got[name], want[name], name=name)


# ------------------------------------------------------------------------------ conv
@pytest.mark.parametrize("relu", [False, True])
@pytest.mark.parametrize("shape", CONV_SHAPES, ids=str)
@pytest.mark.parametrize("dtype", DTYPES)
def test_conv2d(small_launches, dtype, shape, relu) -> None:
    stride, padding = shape[7], shape[8]
    x, w, b, grad = _conv_inputs(shape, dtype)
    saved = [a.copy() for a in (x, w, b, grad)]
    want = _conv_run(ref_conv, x, w, b, grad, stride, padding, relu)
    got = _conv_run(K, x, w, b, grad, stride, padding, relu)
    _assert_conv_equal(got, want, w)
    for a, s in zip((x, w, b, grad), saved, strict=True):
        np.testing.assert_array_equal(a, s)  # inputs are only read


@pytest.mark.parametrize("dtype", DTYPES)
def test_conv2d_without_dx_one_chunk(dtype) -> None:
    # 256 threads a row of dz: P = 25 positions in one chunk (db written directly, no
    # chunk-adding kernel); compute_dx=False leaves dcols and dx alone (None)
    previous = K.configure(block_size=256)
    shape = CONV_SHAPES[1]
    x, w, b, grad = _conv_inputs(shape, dtype, seed=1)
    args = (x, w, b, grad, shape[7], shape[8], True)
    want = _conv_run(ref_conv, *args, compute_dx=False)
    try:
        got = _conv_run(K, *args, compute_dx=False)
    finally:
        K.configure(**previous)
    _assert_conv_equal(got, want, w)


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
@pytest.mark.parametrize("dtype", DTYPES)
def test_conv2d_nan_inf_and_determinism(small_launches, dtype) -> None:
    shape = CONV_SHAPES[1]
    stride, padding = shape[7], shape[8]
    x, w, b, grad = _conv_inputs(shape, dtype, seed=2)
    x[0, 0, 2, 3] = np.nan  # NaN spreads to every output window that reads it
    x[0, 1, 0, 0] = np.inf
    grad[0, 1, 1, 1] = np.nan  # NaN gradient: stays NaN through the ReLU mask (NaN·0)
    for relu in (False, True):
        want = _conv_run(ref_conv, x, w, b, grad, stride, padding, relu)
        got = _conv_run(K, x, w, b, grad, stride, padding, relu)
        assert np.isnan(got["out"]).any()
        _assert_conv_equal(got, want, w)
        again = _conv_run(K, x, w, b, grad, stride, padding, relu)
        for name, value in got.items():
            np.testing.assert_array_equal(again[name], value, err_msg=name)  # bitwise


# ------------------------------------------------------------------------------ pooling
def _pool_input(shape, dtype, seed=0):
    """Small integers (many ties), NaNs and −inf entries, the last plane all −inf."""
    nb, c, h, wd = shape[:4]
    rng = np.random.default_rng(seed)
    x = rng.integers(-2, 3, (nb, c, h, wd)).astype(dtype)
    flat = x.reshape(-1)
    flat[rng.choice(flat.size, 3, replace=False)] = np.nan
    flat[rng.choice(flat.size, 4, replace=False)] = -np.inf
    x[-1, -1] = -np.inf  # every window all −inf (padding must still not be chosen)
    x[0, 0, 1, 2] = x[0, 0, 1, 3] = x[0, 0, 2, 1] = np.nan  # NaNs sharing windows: first wins
    return x


def _pool_shapes(shape):
    nb, c, h, wd, (kh, kw), (sh, sw), (ph, pw) = shape
    return (nb, c, _out_size(h, kh, sh, ph), _out_size(wd, kw, sw, pw))


@pytest.mark.parametrize("shape", POOL_SHAPES, ids=str)
@pytest.mark.parametrize("dtype", DTYPES)
def test_maxpool2d(small_launches, dtype, shape) -> None:
    kernel, stride, padding = shape[4:]
    x = _pool_input(shape, dtype)
    saved = x.copy()
    out_shape = _pool_shapes(shape)
    results = []
    for be in (ref_pool, K):
        out = np.full(out_shape, np.nan, dtype)
        argmax = np.full(out_shape, -7, np.int64)
        assert be.maxpool2d_forward(x, kernel, stride, padding, out, argmax) is out
        # distinct gradients, so a misrouted or dropped one shows
        grad = np.arange(1, out.size + 1, dtype=dtype).reshape(out_shape) / 8
        dx = np.full_like(x, np.nan)
        be.maxpool2d_backward(grad, argmax.copy(), dx)
        results.append((out, argmax, dx))
    (want_out, want_arg, want_dx), (out, argmax, dx) = results
    np.testing.assert_array_equal(argmax, want_arg)  # first maximum, first NaN
    np.testing.assert_array_equal(out, want_out)  # NaN where the reference has NaN
    assert_backend_close(dx, want_dx, name="dx")
    np.testing.assert_array_equal(x, saved)
    assert np.isnan(out).any()
    assert ((argmax >= 0) & (argmax < x[0, 0].size)).all()  # never a padding position


@pytest.mark.parametrize("dtype", DTYPES)
def test_maxpool2d_backward_overlapping_accumulates(small_launches, dtype) -> None:
    # all-equal input, kernel 3, stride 1: the first entry of each window wins, and inner
    # entries are chosen by several windows, so their gradients must add up
    x = np.ones((1, 2, 5, 5), dtype)
    out, argmax = np.empty((1, 2, 3, 3), dtype), np.empty((1, 2, 3, 3), np.int64)
    K.maxpool2d_forward(x, (3, 3), (1, 1), (0, 0), out, argmax)
    ref_out, ref_arg = np.empty_like(out), np.empty_like(argmax)
    ref_pool.maxpool2d_forward(x, (3, 3), (1, 1), (0, 0), ref_out, ref_arg)
    np.testing.assert_array_equal(argmax, ref_arg)
    grad = np.random.default_rng(3).standard_normal(out.shape).astype(dtype)
    dx, want = np.full_like(x, np.nan), np.full_like(x, np.nan)
    K.maxpool2d_backward(grad, argmax, dx)
    ref_pool.maxpool2d_backward(grad, ref_arg, want)
    assert_backend_close(dx, want, name="dx")
    np.testing.assert_allclose(dx.sum(axis=(2, 3)), grad.sum(axis=(2, 3)), rtol=1e-5)


@pytest.mark.parametrize("shape", POOL_SHAPES, ids=str)
@pytest.mark.parametrize("dtype", DTYPES)
def test_avgpool2d(small_launches, dtype, shape) -> None:
    kernel, stride, padding = shape[4:]
    rng = np.random.default_rng(4)
    x = rng.standard_normal(shape[:4]).astype(dtype)
    x[0, 0, 1, 1] = np.nan
    out_shape = _pool_shapes(shape)
    grad = rng.standard_normal(out_shape).astype(dtype)
    results = []
    for be in (ref_pool, K):
        out = np.full(out_shape, np.nan, dtype)
        assert be.avgpool2d_forward(x, kernel, stride, padding, out) is out
        dx = np.full_like(x, np.nan)
        be.avgpool2d_backward(grad, kernel, stride, padding, dx)
        results.append((out, dx))
    (want_out, want_dx), (out, dx) = results
    assert np.isnan(out).any()
    assert_backend_close(out, want_out, name="out")
    assert_backend_close(dx, want_dx, name="dx")
