"""The validated batch-normalisation ops: bad arguments are refused (the same error on every
backend) before anything is written, and the documented aliasing (dx into grad_out) works."""

from __future__ import annotations

import numpy as np
import pytest

import numdl
from numdl.core import hotpaths as ref
from numdl.core.ops import batchnorm_backward, batchnorm_forward

BACKENDS = ["numpy", "numba"]


def _forward_inputs(dtype=np.float64):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((6, 4)).astype(dtype)
    return x, np.ones(4, dtype), np.zeros(4, dtype)


@pytest.mark.parametrize("backend", BACKENDS)
def test_forward_refuses_bad_arguments_writing_nothing(backend: str) -> None:
    x, gamma, beta = _forward_inputs()
    out = np.full((6, 4), 7.0)
    with numdl.use_backend(backend):
        with pytest.raises(ValueError, match=r"gamma must have shape \(4,\)"):
            batchnorm_forward(x, np.ones(3), beta, out=out)
        with pytest.raises(TypeError, match=r"beta must have the dtype of x \(float64\)"):
            batchnorm_forward(x, gamma, beta.astype(np.float32), out=out)
        with pytest.raises(ValueError, match="eps must be > 0"):
            batchnorm_forward(x, gamma, beta, eps=0.0, out=out)
        with pytest.raises(ValueError, match="underflows to 0 in float32"):
            batchnorm_forward(*_forward_inputs(np.float32), eps=1e-50)
        with pytest.raises(TypeError, match="relu must be True or False"):
            batchnorm_forward(x, gamma, beta, relu=1, out=out)
        with pytest.raises(ValueError, match="at least one row"):
            batchnorm_forward(x[:0], gamma, beta)
        with pytest.raises(ValueError, match=r"mean must have shape \(4,\)"):
            batchnorm_forward(x, gamma, beta, out=out, mean=np.empty(5))
        with pytest.raises(ValueError, match="must not share memory"):
            batchnorm_forward(x, gamma, beta, out=x)
        np.testing.assert_array_equal(out, 7.0)


@pytest.mark.parametrize("relu", [False, True])
@pytest.mark.parametrize("backend", BACKENDS)
def test_backward_into_grad_out_equals_a_separate_dx(backend: str, relu: bool) -> None:
    x, gamma, beta = _forward_inputs()
    gamma = gamma + 0.5
    with numdl.use_backend(backend):
        out, mean, var = batchnorm_forward(x, gamma, beta, relu=relu)
        g = np.random.default_rng(1).standard_normal(x.shape)
        dx, dgamma, dbeta = batchnorm_backward(g, x, gamma, out, mean, var, relu=relu)
        scratch = g.copy()
        dx2, dgamma2, dbeta2 = batchnorm_backward(
            scratch, x, gamma, out, mean, var, relu=relu, overwrite_grad=True
        )
    assert dx2 is scratch
    want = [np.empty_like(x), np.empty(4), np.empty(4)]
    ref.batchnorm_backward(g, x, gamma, out, mean, var, 1e-5, relu, *want)
    for got in ((dx, dgamma, dbeta), (dx2, dgamma2, dbeta2)):
        for a, b in zip(got, want, strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(dx.sum(axis=0), 0, atol=1e-12)  # Σ_i dx_i = 0 (a BN identity)


def test_backward_refuses_bad_arguments_writing_nothing() -> None:
    x, gamma, beta = _forward_inputs()
    out, mean, var = batchnorm_forward(x, gamma, beta)
    g = np.ones_like(x)
    dgamma = np.full(4, 3.0)
    with pytest.raises(ValueError, match="dx must be None with overwrite_grad"):
        batchnorm_backward(g, x, gamma, out, mean, var, dx=np.empty_like(x), overwrite_grad=True)
    with pytest.raises(ValueError, match=r"grad_out must have shape \(6, 4\)"):
        batchnorm_backward(g[:, :3], x, gamma, out, mean, var, dgamma=dgamma)
    with pytest.raises(ValueError, match="must not share memory"):
        batchnorm_backward(g, x, gamma, out, mean, var, dx=out, dgamma=dgamma)
    with pytest.raises(ValueError, match="must not share memory"):
        batchnorm_backward(g, x, gamma, out, mean, var, dgamma=dgamma, dbeta=dgamma)
    np.testing.assert_array_equal(dgamma, 3.0)
    np.testing.assert_array_equal(g, 1.0)
