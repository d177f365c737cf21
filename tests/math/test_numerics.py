"""Tests for numdl.math.numerics: floating-point utilities, stable activations, gradient checks."""

from __future__ import annotations

import dataclasses
import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from numdl.core import ops
from numdl.math import numerics
from numdl.math.numerics import (
    GradCheck,
    check_grad,
    exp_safe_range,
    kahan_sum,
    log_sigmoid,
    machine_epsilon,
    numerical_gradient,
    sigmoid,
    softplus,
    ulp,
)

FLOATS = [np.float32, np.float64]


# ------------------------------------------------------------------ floating-point utilities
@pytest.mark.parametrize("dtype", FLOATS)
def test_machine_epsilon_matches_finfo(dtype):
    eps = machine_epsilon(dtype)
    assert eps == np.finfo(dtype).eps
    assert eps.dtype == np.dtype(dtype)
    one = dtype(1)
    assert one + eps > one
    assert one + eps / 2 == one  # rounds back to 1 (ties to even)


def test_machine_epsilon_rejects_non_float_dtype():
    with pytest.raises(TypeError, match="dtype"):
        machine_epsilon(np.int32)
    with pytest.raises(TypeError, match="dtype"):
        machine_epsilon("not a dtype")


@pytest.mark.parametrize("dtype", FLOATS)
def test_ulp_is_gap_to_next_float(dtype):
    x = np.array([1.0, -1.0, 1024.0, 0.0, 3.5e-3], dtype=dtype)
    got = ulp(x)
    assert got.dtype == np.dtype(dtype)
    expected = np.nextafter(np.abs(x), dtype(np.inf)) - np.abs(x)
    np.testing.assert_array_equal(got, expected)
    assert ulp(dtype(1.0)) == np.finfo(dtype).eps


def test_ulp_rejects_integers():
    with pytest.raises(TypeError, match="x must have dtype"):
        ulp(np.arange(3))


@pytest.mark.parametrize("dtype", FLOATS)
def test_exp_safe_range_edges(dtype):
    lo, hi = exp_safe_range(dtype)
    assert lo.dtype == hi.dtype == np.dtype(dtype)
    info = np.finfo(dtype)
    inf = dtype(np.inf)
    with np.errstate(over="ignore", under="ignore"):
        assert np.isfinite(np.exp(hi))
        assert np.exp(hi) > info.max / 2
        assert np.isinf(np.exp(np.nextafter(hi, inf)))  # hi is the last safe float
        assert np.isinf(np.exp(hi * dtype(1 + 1e-6)))
        assert np.exp(lo) >= info.tiny
        assert np.exp(np.nextafter(lo, -inf)) < info.tiny  # lo is the first normal result
    assert math.isclose(hi, math.log(float(info.max)), rel_tol=1e-6)
    assert math.isclose(lo, math.log(float(info.tiny)), rel_tol=1e-6)


@pytest.mark.parametrize("dtype", FLOATS)
def test_exp_safe_range_subnormal_bound(dtype):
    lo_sub, _ = exp_safe_range(dtype, subnormal=True)
    lo, _ = exp_safe_range(dtype)
    assert lo_sub < lo
    with np.errstate(under="ignore"):
        assert np.exp(lo_sub) > 0
        assert np.exp(np.nextafter(lo_sub, dtype(-np.inf))) == 0


def test_kahan_sum_recovers_cancelled_terms_float32():
    x = np.array([1e8, 1.0, -1e8], dtype=np.float32)
    assert np.sum(x) == 0.0  # naive float32 loses the 1 entirely
    assert kahan_sum(x) == 1.0
    assert kahan_sum(x).dtype == np.float32


def test_kahan_sum_beats_naive_float32_on_many_small_terms():
    x = np.concatenate([[np.float32(1.0)], np.full(10_000, 1e-8, dtype=np.float32)])
    exact = 1.0 + 10_000 * float(np.float32(1e-8))
    naive = np.float32(0)
    for v in x:  # sequential naive float32 sum (np.sum is pairwise, hence better than this)
        naive += v
    assert naive == 1.0  # each 1e-8 is below half an ulp of 1 and is lost
    assert abs(float(kahan_sum(x)) - exact) <= float(ulp(np.float32(exact)))
    assert abs(float(kahan_sum(x)) - exact) <= abs(float(np.sum(x)) - exact)  # pairwise


def test_kahan_sum_neumaier_handles_large_later_term():
    x = np.array([1.0, 1e100, 1.0, -1e100])
    assert kahan_sum(x) == 2.0  # plain Kahan gives 0 here


@settings(max_examples=50, deadline=None)
@given(hnp.arrays(np.float64, st.integers(0, 50), elements=st.floats(-1e6, 1e6)))
def test_kahan_sum_is_close_to_exact_sum(x):
    exact = math.fsum(x.tolist())
    bound = 4 * np.finfo(np.float64).eps * float(np.sum(np.abs(x))) + 1e-300
    assert abs(float(kahan_sum(x)) - exact) <= bound


def test_kahan_sum_non_finite_and_errors():
    assert np.isinf(kahan_sum(np.array([1.0, np.inf])))
    with np.errstate(invalid="ignore"):  # inf − inf, as in np.sum
        assert np.isnan(kahan_sum(np.array([np.inf, -np.inf])))
    assert kahan_sum(np.array([], dtype=np.float32)) == 0
    with pytest.raises(ValueError, match="x must be 1-D"):
        kahan_sum(np.ones((2, 2)))
    with pytest.raises(TypeError, match="x must have dtype"):
        kahan_sum([1, 2, 3])


# ----------------------------------------------------------------------- stable activations
def test_reexports_are_the_dispatched_ops():
    assert numerics.logsumexp is ops.logsumexp
    assert numerics.log_softmax is ops.log_softmax
    assert numerics.softmax is ops.softmax
    assert {"logsumexp", "log_softmax", "softmax"} <= set(numerics.__all__)


@pytest.mark.parametrize("dtype", FLOATS)
def test_softplus_sigmoid_extremes_without_warnings(dtype):
    x = np.array([-1e4, 1e4, -np.inf, np.inf], dtype=dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(all="raise"):
            sp = softplus(x)
            sg = sigmoid(x)
            ls = log_sigmoid(x)
    assert sp.dtype == sg.dtype == ls.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(sp, np.array([0, 1e4, 0, np.inf], dtype=dtype))
    np.testing.assert_array_equal(sg, np.array([0, 1, 0, 1], dtype=dtype))
    np.testing.assert_array_equal(ls, np.array([-1e4, 0, -np.inf, 0], dtype=dtype))


@pytest.mark.parametrize("dtype", FLOATS)
def test_softplus_equals_naive_formula_in_safe_range(dtype):
    x = np.linspace(-30, 30, 601, dtype=dtype)
    naive = np.log1p(np.exp(x.astype(np.float64)))
    rtol = 1e-6 if dtype == np.float32 else 1e-14
    np.testing.assert_allclose(softplus(x), naive, rtol=rtol, atol=0)


@settings(max_examples=100, deadline=None)
@given(hnp.arrays(np.float64, st.integers(1, 20), elements=st.floats(-1e4, 1e4)))
def test_sigmoid_symmetry_and_bounds(x):
    s = sigmoid(x)
    assert np.all((s >= 0) & (s <= 1))
    np.testing.assert_allclose(s + sigmoid(-x), 1.0, rtol=0, atol=2 * np.finfo(np.float64).eps)
    # softplus' = sigmoid and log σ(x) = −softplus(−x) = x − softplus(x)
    np.testing.assert_allclose(log_sigmoid(x), x - softplus(x), rtol=1e-12, atol=1e-12)


def test_sigmoid_matches_definition():
    x = np.linspace(-20, 20, 81)
    np.testing.assert_allclose(sigmoid(x), 1 / (1 + np.exp(-x)), rtol=1e-14)


def test_activations_do_not_mutate_and_reject_bad_input():
    x = np.array([-2.0, 0.0, 3.0])
    before = x.copy()
    softplus(x), sigmoid(x), log_sigmoid(x)
    np.testing.assert_array_equal(x, before)
    for fn in (softplus, sigmoid, log_sigmoid):
        with pytest.raises(TypeError, match="x must have dtype"):
            fn(np.array([1, 2]))


# ------------------------------------------------------------------------ gradient checking
@pytest.mark.parametrize("shape", [(5,), (2, 3)])
def test_numerical_gradient_of_dot_is_2x(shape):
    x = np.random.default_rng(0).normal(size=shape)
    before = x.copy()
    g = numerical_gradient(lambda v: np.sum(v * v), x)
    assert g.shape == x.shape
    np.testing.assert_allclose(g, 2 * x, rtol=1e-8, atol=1e-9)
    np.testing.assert_array_equal(x, before)


def test_numerical_gradient_keeps_dtype_and_accepts_ints():
    g32 = numerical_gradient(lambda v: np.sum(v**2), np.ones(3, dtype=np.float32))
    assert g32.dtype == np.float32
    g_int = numerical_gradient(lambda v: float(np.sum(v**3)), [1, 2])
    assert g_int.dtype == np.float64
    np.testing.assert_allclose(g_int, [3.0, 12.0], rtol=1e-8)


def test_numerical_gradient_errors():
    with pytest.raises(TypeError, match="f must be callable"):
        numerical_gradient(3, np.ones(2))
    with pytest.raises(TypeError, match="f must return a real scalar"):
        numerical_gradient(lambda v: v, np.ones(2))
    with pytest.raises(ValueError, match="eps must be > 0"):
        numerical_gradient(np.sum, np.ones(2), eps=0.0)
    with pytest.raises(TypeError, match="x must have dtype"):
        numerical_gradient(np.sum, "abc")


def test_check_grad_accepts_correct_and_flags_wrong_gradient():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(3, 4))
    a = rng.normal(size=(4, 4))

    def f(v):
        return float(np.sum(np.tanh(v @ a)))

    def grad(v):
        return (1 - np.tanh(v @ a) ** 2) @ a.T

    good = check_grad(f, grad, x)
    assert isinstance(good, GradCheck)
    assert good.ok(rtol=1e-6)
    assert good.max_abs_diff < 1e-8

    bad = check_grad(f, lambda v: 1.01 * grad(v), x)
    assert not bad.ok(rtol=1e-4)
    assert bad.max_rel_diff > 1e-3
    wrong_sign = check_grad(f, lambda v: -grad(v), x)
    assert wrong_sign.max_rel_diff == pytest.approx(1.0)


def test_gradcheck_formula_and_ok():
    result = check_grad(lambda v: 3.0 * v[0], lambda v: np.array([2.0, 0.0]), [1.0, 5.0])
    # coordinate 0: |2 − 3| / (2 + 3) = 0.2; coordinate 1: 0 / tiny = 0
    assert result.max_rel_diff == pytest.approx(0.2, rel=1e-8)
    assert result.max_abs_diff == pytest.approx(1.0, rel=1e-8)
    assert not result.ok(rtol=0.1)
    assert result.ok(rtol=0.25)
    assert result.ok(rtol=0.0, atol=1.5)
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.max_abs_diff = 0.0  # type: ignore[misc]


def test_check_grad_errors_name_the_argument():
    with pytest.raises(TypeError, match="grad_f must be callable"):
        check_grad(np.sum, None, np.ones(2))
    with pytest.raises(ValueError, match=r"grad_f\(x\) must have shape"):
        check_grad(np.sum, lambda v: np.ones(3), np.ones(2))
