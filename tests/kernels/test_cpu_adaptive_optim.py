"""numdl_kernels.cpu Adam, RMSProp and AdaGrad kernels: bitwise equal to the reference.

Each kernel does the reference's elementwise operations in the same order and dtype, so the
comparison is bitwise, serially and with the ``prange`` kernels at every size (threshold 0),
with the decayed prefix empty, partial and whole (tests/equivalence checks tolerances).
"""

from __future__ import annotations

import numpy as np
import pytest

from numdl.core import hotpaths as ref
from numdl_kernels.cpu import _threads, optim

DTYPES = (np.float32, np.float64)
SIZES = (0, 1, 33, 4099)
DECAYED = ["none", "part", "all"]


def _bits_equal(a: np.ndarray, b: np.ndarray) -> bool:
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


@pytest.fixture(params=["serial", "parallel"])
def update_threads(request):
    """Run the optimiser kernels serially, or in parallel at every size (threshold 0)."""
    previous = _threads.set_parallel_min_size(
        0 if request.param == "parallel" else _threads.DEFAULT_PARALLEL_MIN_SIZE
    )
    yield request.param
    _threads.set_parallel_min_size(previous)


def _arrays(rng, dtype, size, n_states):
    """param, grad (with exact zeros), and states: the last one non-negative (a g² sum)."""
    p = rng.standard_normal(size).astype(dtype)
    g = rng.standard_normal(size).astype(dtype)
    g[::7] = 0
    states = [(0.1 * rng.standard_normal(size)).astype(dtype) for _ in range(n_states)]
    states[-1] = np.abs(states[-1])
    return p, g, states


def _check(call_kernel, call_ref, p, g, states) -> None:
    g_before = g.copy()
    got = [p.copy(), *(s.copy() for s in states)]
    want = [p.copy(), *(s.copy() for s in states)]
    call_kernel(got)
    call_ref(want)
    for name, a, e in zip(["param", *range(len(states))], got, want, strict=True):
        assert _bits_equal(a, e), name
    assert _bits_equal(g, g_before)  # the gradient is read, never written


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("decayed", DECAYED)
@pytest.mark.parametrize("step", [1, 10])
def test_adam_matches_reference_bitwise(update_threads, dtype, size, decayed, step) -> None:
    rng = np.random.default_rng(size + step)
    n_decayed = {"none": 0, "part": size // 3, "all": size}[decayed]
    p, g, states = _arrays(rng, dtype, size, 2)
    args = (1e-3, 0.9, 0.999, 1e-8, 1e-2, step, n_decayed)
    _check(
        lambda a: optim.adam_update(a[0], g, a[1], a[2], *args),
        lambda a: ref.adam_update(a[0], g, a[1], a[2], *args),
        p,
        g,
        states,
    )


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("decayed", DECAYED)
@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_rmsprop_matches_reference_bitwise(update_threads, dtype, size, decayed, momentum):
    rng = np.random.default_rng(size)
    n_decayed = {"none": 0, "part": size // 3, "all": size}[decayed]
    p, g, states = _arrays(rng, dtype, size, 2)  # [momentum buffer, square average]
    args = (1e-2, 0.99, 1e-8, 1e-2, momentum, n_decayed)
    if momentum:
        _check(
            lambda a: optim.rmsprop_update(a[0], g, a[2], a[1], *args),
            lambda a: ref.rmsprop_update(a[0], g, a[2], a[1], *args),
            p,
            g,
            states,
        )
    else:  # no momentum buffer: an empty one, as numdl.core.ops passes
        _check(
            lambda a: optim.rmsprop_update(a[0], g, a[1], a[0][:0], *args),
            lambda a: ref.rmsprop_update(a[0], g, a[1], a[0][:0], *args),
            p,
            g,
            states[1:],
        )


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("decayed", DECAYED)
def test_adagrad_matches_reference_bitwise(update_threads, dtype, size, decayed) -> None:
    rng = np.random.default_rng(size)
    n_decayed = {"none": 0, "part": size // 3, "all": size}[decayed]
    p, g, states = _arrays(rng, dtype, size, 1)
    args = (1e-2, 1e-10, 1e-2, n_decayed)
    _check(
        lambda a: optim.adagrad_update(a[0], g, a[1], *args),
        lambda a: ref.adagrad_update(a[0], g, a[1], *args),
        p,
        g,
        states,
    )


def test_rmsprop_without_momentum_leaves_a_given_buffer_alone(update_threads) -> None:
    """With momentum 0 the buffer is neither read nor written, even a full-size one."""
    rng = np.random.default_rng(3)
    p, g, (buf, r) = _arrays(rng, np.float64, 4096, 2)
    before = buf.copy()
    optim.rmsprop_update(p, g, r, buf, 1e-2, 0.99, 1e-8, 0.0, 0.0, 0)
    assert _bits_equal(buf, before)
