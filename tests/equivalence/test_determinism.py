"""Compiled kernels are deterministic: bitwise equal on repeated calls with the same thread
count, and within the backend tolerance across thread counts."""

from __future__ import annotations

import numpy as np
import pytest

from numdl.testing import CASES, assert_backend_close, copy_inputs

LARGE_ENOUGH = {1: (2_000_000,), 2: (512, 4000), 3: (256, 784, 512)}


def _large(name: str) -> tuple[int, ...]:
    """A shape large enough for the parallel paths: by rank of the op's shape, or the case's
    own "large" shape (convolution and pooling: a whole layer of the MNIST CNN)."""
    case = CASES[name]
    return LARGE_ENOUGH.get(len(case.shapes["tiny"]), case.shapes["large"])


def _run(be, name: str, dtype, shape):
    case = CASES[name]
    inputs = case.make(np.random.default_rng(11), np.dtype(dtype), shape, "normal")
    work = copy_inputs(inputs)
    ret = case.call(be.module, work)
    return [np.asarray(ret) if out == "return" else work[out] for out in case.outputs]


@pytest.mark.parametrize("name", sorted(CASES))
def test_repeated_calls_are_bitwise_identical(kernel_backend, name) -> None:
    shape = _large(name)
    first = _run(kernel_backend, name, np.float32, shape)
    second = _run(kernel_backend, name, np.float32, shape)
    for a, b in zip(first, second, strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("name", sorted(CASES))
def test_thread_count_changes_results_within_tolerance(kernel_backend, name) -> None:
    if kernel_backend.name != "numba":
        pytest.skip("thread counts are a CPU-backend notion")
    import numba
    from threadpoolctl import threadpool_limits

    shape = _large(name)
    many = _run(kernel_backend, name, np.float32, shape)
    saved = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        with threadpool_limits(limits=1):
            one = _run(kernel_backend, name, np.float32, shape)
    finally:
        numba.set_num_threads(saved)
    for a, b in zip(one, many, strict=True):
        assert_backend_close(a, b, name=f"{name}: 1 thread vs {saved}")
