"""numdl_kernels.cuda.normalization under the Numba CUDA simulator, against the reference.

Run in its own process: ``NUMBA_ENABLE_CUDASIM=1 pytest tests/cuda`` (see conftest.py). The
launch settings are shrunk (blocks of 32 threads, at most 2 blocks) so that 70 columns need
several grid-stride passes of the column kernels and 45 rows several row slices.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

from numdl.core import hotpaths as ref
from numdl.testing import assert_backend_close

pytestmark = pytest.mark.cudasim

if os.environ.get("NUMBA_ENABLE_CUDASIM") == "1":
    import numdl_kernels.cuda as K
else:  # collected but skipped by conftest.py
    K = None

DTYPES = [np.float32, np.float64]


@pytest.fixture
def small_launches():
    previous = K.configure(block_size=32, max_blocks=2)
    yield
    K.configure(**previous)


def _inputs(dtype, relu):
    rng = np.random.default_rng(0)
    x = (1 + 2 * rng.standard_normal((45, 70))).astype(dtype)
    gamma = (1 + 0.2 * rng.standard_normal(70)).astype(dtype)
    beta = (0.1 * rng.standard_normal(70)).astype(dtype)
    out, mean, var = np.empty_like(x), np.empty(70, dtype), np.empty(70, dtype)
    ref.batchnorm_forward(x, gamma, beta, 1e-5, relu, out, mean, var)
    return x, gamma, beta, out, mean, var, rng.standard_normal(x.shape).astype(dtype)


@pytest.mark.parametrize("relu", [False, True])
@pytest.mark.parametrize("dtype", DTYPES)
def test_forward(small_launches, dtype, relu) -> None:
    x, gamma, beta, want, want_mean, want_var, _ = _inputs(dtype, relu)
    out, mean, var = np.empty_like(x), np.empty_like(gamma), np.empty_like(gamma)
    assert K.batchnorm_forward(x, gamma, beta, 1e-5, relu, out, mean, var) is out
    for got, expected, name in (
        (out, want, "out"),
        (mean, want_mean, "mean"),
        (var, want_var, "var"),
    ):
        assert_backend_close(got, expected, name=name)


@pytest.mark.parametrize("alias", [False, True])
@pytest.mark.parametrize("relu", [False, True])
@pytest.mark.parametrize("dtype", DTYPES)
def test_backward(small_launches, dtype, relu, alias) -> None:
    x, gamma, _, out, mean, var, g = _inputs(dtype, relu)
    want = [np.empty_like(x), np.empty_like(gamma), np.empty_like(gamma)]
    ref.batchnorm_backward(g, x, gamma, out, mean, var, 1e-5, relu, *want)
    grad = g.copy()
    dx = grad if alias else np.empty_like(x)
    dgamma, dbeta = np.empty_like(gamma), np.empty_like(gamma)
    K.batchnorm_backward(grad, x, gamma, out, mean, var, 1e-5, relu, dx, dgamma, dbeta)
    for got, expected, name in zip(
        (dx, dgamma, dbeta), want, ("dx", "dgamma", "dbeta"), strict=True
    ):
        assert_backend_close(got, expected, name=name)
    if not alias:
        np.testing.assert_array_equal(grad, g)  # grad_out is only read
