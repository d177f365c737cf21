"""numdl_kernels.cpu linear and optimiser kernels: aliasing, flags, bitwise agreement, determinism.

The kernels are built to round exactly like the NumPy reference (same GEMM calls, same
elementwise operation order in the same dtype, NumPy's summation order for db), so these
tests compare bitwise; the registry-driven suite in tests/equivalence checks tolerances.
"""

from __future__ import annotations

import itertools

import numba
import numpy as np
import pytest

from numdl.core import hotpaths as ref
from numdl_kernels.cpu import _threads, linear, optim

DTYPES = (np.float32, np.float64)


def _bits_equal(a: np.ndarray, b: np.ndarray) -> bool:
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def _linear_inputs(rng, dtype, n, d_in, d_out):
    x = rng.standard_normal((n, d_in)).astype(dtype)
    w = (rng.standard_normal((d_in, d_out)) / np.sqrt(d_in)).astype(dtype)
    b = rng.standard_normal(d_out).astype(dtype)
    grad_out = rng.standard_normal((n, d_out)).astype(dtype)
    if n:
        grad_out[0] = -0.0  # −0·mask must stay −0, as np.multiply gives
    return x, w, b, grad_out


def _backward(module, grad_out, x, w, out, relu, alias, want_dx):
    g = grad_out.copy()
    dz = g if alias else np.empty_like(g)
    dx = np.empty_like(x) if want_dx else None
    dw = np.empty_like(w)
    db = np.empty(w.shape[1], dtype=x.dtype)
    module.linear_backward(g, x, w, out, relu, dz, dx, dw, db)
    return g, dz, dx, dw, db


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(64, 30, 20), (17, 5, 1), (256, 64, 10), (1, 3, 4)])
@pytest.mark.parametrize(
    ("relu", "alias", "want_dx"), list(itertools.product([True, False], repeat=3))
)
def test_linear_matches_reference_bitwise(dtype, shape, relu, alias, want_dx) -> None:
    rng = np.random.default_rng(sum(shape))
    x, w, b, grad_out = _linear_inputs(rng, dtype, *shape)
    out_ref = ref.linear_forward(x, w, b, relu, np.empty((shape[0], shape[2]), dtype))
    out = np.empty_like(out_ref)
    assert linear.linear_forward(x, w, b, relu, out) is out
    assert _bits_equal(out, out_ref)

    got = _backward(linear, grad_out, x, w, out, relu, alias, want_dx)
    want = _backward(ref, grad_out, x, w, out_ref, relu, alias, want_dx)
    for a, e in zip(got, want, strict=True):
        assert (a is None) == (e is None)
        if a is not None:
            assert _bits_equal(a, e)


@pytest.mark.parametrize("dtype", DTYPES)
def test_dz_aliasing_grad_out_masks_in_place(dtype) -> None:
    rng = np.random.default_rng(3)
    x, w, b, grad_out = _linear_inputs(rng, dtype, 40, 12, 9)
    out = linear.linear_forward(x, w, b, True, np.empty((40, 9), dtype))
    g = grad_out.copy()
    db = np.empty(9, dtype)
    linear.linear_backward(g, x, w, out, True, g, None, np.empty_like(w), db)
    np.testing.assert_array_equal(g, grad_out * (out > 0))
    assert np.any(out <= 0)  # the mask did something
    assert np.any(g != grad_out)
    assert _bits_equal(db, np.sum(grad_out * (out > 0), axis=0))


def test_relu_follows_np_maximum_on_nan_and_signed_zero() -> None:
    x = np.zeros((1, 1), np.float32)
    w = np.zeros((1, 4), np.float32)
    b = np.array([np.nan, -0.0, -1.0, 2.0], np.float32)
    out = linear.linear_forward(x, w, b, True, np.empty((1, 4), np.float32))
    want = np.maximum(np.matmul(x, w) + b, 0)
    assert _bits_equal(out, want)  # NaN kept, 0 + (−0) = +0, negatives to +0


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n_rows", [5, 9, 130, 1000, 20_000])
def test_single_column_bias_grad_uses_numpys_pairwise_order(dtype, n_rows) -> None:
    rng = np.random.default_rng(n_rows)
    dz = (rng.standard_normal((n_rows, 1)) * np.exp(rng.uniform(-8, 8, (n_rows, 1)))).astype(dtype)
    x = np.ones((n_rows, 1), dtype)
    w = np.ones((1, 1), dtype)
    db = np.empty(1, dtype)
    linear.linear_backward(dz, x, w, dz, False, np.empty_like(dz), None, np.empty_like(w), db)
    assert _bits_equal(db, np.sum(dz, axis=0))


def _momentum_case(rng, dtype, size):
    p = rng.standard_normal(size).astype(dtype)
    g = rng.standard_normal(size).astype(dtype)
    v = rng.standard_normal(size).astype(dtype)
    return p, g, v


SIZES = (0, 1, 33, 4096, 100_003)


@pytest.fixture(params=["serial", "parallel"])
def update_threads(request):
    """Run the optimiser kernels serially, or in parallel at every size (threshold 0)."""
    previous = _threads.set_parallel_min_size(
        0 if request.param == "parallel" else _threads.DEFAULT_PARALLEL_MIN_SIZE
    )
    yield request.param
    _threads.set_parallel_min_size(previous)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("nesterov", [False, True])
@pytest.mark.parametrize("decayed", ["none", "part", "all"])
def test_momentum_matches_reference_bitwise(update_threads, dtype, size, nesterov, decayed) -> None:
    rng = np.random.default_rng(size)
    n_decayed = {"none": 0, "part": size // 3, "all": size}[decayed]
    p, g, v = _momentum_case(rng, dtype, size)
    g_before = g.copy()
    got = [p.copy(), g, v.copy()]
    want = [p.copy(), g.copy(), v.copy()]
    optim.momentum_update(*got, 0.05, 0.9, 1e-3, nesterov, n_decayed)
    ref.momentum_update(*want, 0.05, 0.9, 1e-3, nesterov, n_decayed)
    for a, e in zip(got, want, strict=True):
        assert _bits_equal(a, e)
    assert _bits_equal(g, g_before)  # the gradient is read, never written


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("decayed", ["none", "part", "all"])
@pytest.mark.parametrize("step", [1, 10])
def test_adamw_matches_reference_bitwise(update_threads, dtype, size, decayed, step) -> None:
    rng = np.random.default_rng(size + step)
    n_decayed = {"none": 0, "part": size // 3, "all": size}[decayed]
    p, g, m = _momentum_case(rng, dtype, size)
    v = rng.random(size).astype(dtype)
    got = [p.copy(), g, m.copy(), v.copy()]
    want = [p.copy(), g.copy(), m.copy(), v.copy()]
    optim.adamw_update(*got, 1e-3, 0.9, 0.999, 1e-8, 1e-2, step, n_decayed)
    ref.adamw_update(*want, 1e-3, 0.9, 0.999, 1e-8, 1e-2, step, n_decayed)
    for a, e in zip(got, want, strict=True):
        assert _bits_equal(a, e)


@pytest.mark.parametrize("size", [4096, 1_000_005])
def test_updates_are_bitwise_repeatable_and_thread_count_independent(update_threads, size) -> None:
    rng = np.random.default_rng(7)
    p, g, v = _momentum_case(rng, np.float32, size)
    m = rng.standard_normal(size).astype(np.float32)

    def run():
        state = [p.copy(), g, v.copy(), m.copy()]
        for step in (1, 2, 3):
            optim.momentum_update(state[0], g, state[2], 0.1, 0.9, 5e-4, True, size // 2)
            optim.adamw_update(
                state[0], g, state[3], state[2], 1e-3, 0.9, 0.99, 1e-8, 0.1, step, size // 2
            )
        return state

    first, second = run(), run()
    saved = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        serial = run()
    finally:
        numba.set_num_threads(saved)
    for a, b, c in zip(first, second, serial, strict=True):
        assert _bits_equal(a, b)
        assert _bits_equal(a, c)  # elementwise: the split across threads cannot matter


def test_linear_backward_is_bitwise_repeatable() -> None:
    rng = np.random.default_rng(5)
    x, w, b, grad_out = _linear_inputs(rng, np.float32, 256, 784, 512)
    out = linear.linear_forward(x, w, b, True, np.empty((256, 512), np.float32))
    first = _backward(linear, grad_out, x, w, out, True, True, True)
    second = _backward(linear, grad_out, x, w, out, True, True, True)
    for a, e in zip(first, second, strict=True):
        assert _bits_equal(a, e)


def test_parallel_threshold_setting_and_environment(monkeypatch) -> None:
    previous = _threads.set_parallel_min_size(10)
    try:
        assert _threads.parallel_min_size() == 10
        assert _threads.parallel_threads(9) == 1
        assert _threads.parallel_threads(10) == numba.get_num_threads()
        with pytest.raises(ValueError, match="size must be >= 0"):
            _threads.set_parallel_min_size(-1)
    finally:
        _threads.set_parallel_min_size(previous)
    monkeypatch.setenv("NUMDL_NUMBA_PARALLEL_MIN_SIZE", "4096")
    assert _threads._from_env() == 4096
    monkeypatch.setenv("NUMDL_NUMBA_PARALLEL_MIN_SIZE", "")
    assert _threads._from_env() == _threads.DEFAULT_PARALLEL_MIN_SIZE
    for bad in ("-3", "many"):
        monkeypatch.setenv("NUMDL_NUMBA_PARALLEL_MIN_SIZE", bad)
        with pytest.raises(ValueError, match="NUMDL_NUMBA_PARALLEL_MIN_SIZE must be"):
            _threads._from_env()
