"""The CUDA Adam, RMSProp and AdaGrad kernels under the simulator, against the reference.

Run in its own process: ``NUMBA_ENABLE_CUDASIM=1 pytest tests/cuda`` (see conftest.py).
Three steps over 1000 entries on 3 blocks of 64 threads (several grid-stride passes), with
the decayed prefix empty, partial and whole; the registry cases run in test_cuda_sim.py.
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
N = 1000
DECAYED = [0, 700, N]


@pytest.fixture
def small_grid():
    """3 blocks of 64 threads: each thread updates several entries."""
    previous = K.configure(block_size=64, max_blocks=3)
    yield
    K.configure(**previous)


def _arrays(dtype, n_state, seed):
    rng = np.random.default_rng(seed)
    param = rng.standard_normal(N).astype(dtype)
    grads = [rng.standard_normal(N).astype(dtype) for _ in range(3)]
    state = [np.abs(rng.standard_normal(N)).astype(dtype) for _ in range(n_state)]
    return param, grads, state


def _close(got, want, dtype) -> None:
    for g, w in zip(got, want, strict=True):
        assert g.dtype == dtype
        assert_backend_close(g, w, name=f"cuda {np.dtype(dtype)}")


@pytest.mark.parametrize("n_decayed", DECAYED)
@pytest.mark.parametrize("dtype", DTYPES)
def test_adam_update(small_grid, dtype, n_decayed):
    param, grads, (m, v) = _arrays(dtype, 2, seed=1)
    mine, theirs = [param.copy(), m.copy(), v.copy()], [param.copy(), m.copy(), v.copy()]
    for step, grad in enumerate(grads, start=1):
        args = (1e-2, 0.9, 0.999, 1e-8, 0.1, step, n_decayed)
        K.adam_update(mine[0], grad, mine[1], mine[2], *args)
        ref.adam_update(theirs[0], grad, theirs[1], theirs[2], *args)
    _close(mine, theirs, dtype)


@pytest.mark.parametrize("momentum", [0.0, 0.9])
@pytest.mark.parametrize("n_decayed", DECAYED)
@pytest.mark.parametrize("dtype", DTYPES)
def test_rmsprop_update(small_grid, dtype, n_decayed, momentum):
    param, grads, (r, b) = _arrays(dtype, 2, seed=2)
    mine, theirs = [param.copy(), r.copy(), b.copy()], [param.copy(), r.copy(), b.copy()]
    for grad in grads:
        args = (1e-2, 0.9, 1e-8, 0.1, momentum, n_decayed)
        for arrays, module in ((mine, K), (theirs, ref)):
            buf = arrays[2] if momentum else arrays[0][:0]  # none without momentum
            module.rmsprop_update(arrays[0], grad, arrays[1], buf, *args)
    _close(mine, theirs, dtype)
    if not momentum:
        np.testing.assert_array_equal(mine[2], b)  # never touched


@pytest.mark.parametrize("n_decayed", DECAYED)
@pytest.mark.parametrize("dtype", DTYPES)
def test_adagrad_update(small_grid, dtype, n_decayed):
    param, grads, (r,) = _arrays(dtype, 1, seed=3)
    mine, theirs = [param.copy(), r.copy()], [param.copy(), r.copy()]
    for grad in grads:
        args = (1e-2, 1e-10, 0.1, n_decayed)
        K.adagrad_update(mine[0], grad, mine[1], *args)
        ref.adagrad_update(theirs[0], grad, theirs[1], *args)
    _close(mine, theirs, dtype)
