"""Chapter 3 — information theory: entropy, cross-entropy, KL (eqs. 6–8): hand-worked
values, identities, errors."""

from __future__ import annotations

import warnings
from contextlib import contextmanager

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from numdl.math import information as info

HYP = settings(max_examples=60, deadline=None, derandomize=True)
FLOATS = [np.float32, np.float64]


@contextmanager
def no_warnings():
    """Turn every warning into an error inside the block."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


# -------------------------------------------------------------- entropy, cross-entropy, KL
@pytest.mark.parametrize("n", [1, 2, 5, 100])
def test_entropy_of_uniform_is_log_n(n):
    assert info.entropy(np.full(n, 1 / n)) == pytest.approx(np.log(n), rel=1e-12, abs=1e-15)
    assert info.entropy(np.full(n, 1 / n), base=2) == pytest.approx(
        np.log2(n), rel=1e-12, abs=1e-15
    )


def test_entropy_hand_examples():
    assert info.entropy([0.5, 0.25, 0.25], base=2) == pytest.approx(1.5, rel=1e-15)
    h = -(0.1 * np.log(0.1) + 0.9 * np.log(0.9))
    assert info.entropy([0.1, 0.9]) == pytest.approx(h, rel=1e-15)


def test_zero_log_zero_is_zero_without_warnings():
    with no_warnings():
        h = info.entropy([1.0, 0.0, 0.0])
        assert h == 0.0
        assert not np.signbit(h)  # +0.0, not −0.0
        assert info.entropy([0.5, 0.0, 0.5]) == pytest.approx(np.log(2))
        # p_i = 0 terms contribute 0 even where q_i = 0 too
        assert info.cross_entropy_discrete([1.0, 0.0], [1.0, 0.0]) == 0.0
        assert info.kl_divergence([0.5, 0.5, 0.0], [0.5, 0.25, 0.25]) == pytest.approx(
            0.5 * np.log(2)
        )
        assert info.kl_divergence([0.0, 1.0], [0.0, 1.0]) == 0.0


def test_q_zero_where_p_positive_gives_plus_inf_not_nan():
    with no_warnings():
        assert info.kl_divergence([0.5, 0.5], [1.0, 0.0]) == np.inf
        assert info.cross_entropy_discrete([0.5, 0.5], [1.0, 0.0]) == np.inf
        batch = info.kl_divergence([[0.5, 0.5], [1.0, 0.0]], [[1.0, 0.0], [1.0, 0.0]])
        np.testing.assert_array_equal(batch, [np.inf, 0.0])


def test_cross_entropy_and_kl_hand_examples():
    p, q = [0.5, 0.5], [0.25, 0.75]
    ce = -(0.5 * np.log(0.25) + 0.5 * np.log(0.75))
    kl = 0.5 * np.log(0.5 / 0.25) + 0.5 * np.log(0.5 / 0.75)
    assert info.cross_entropy_discrete(p, q) == pytest.approx(ce, rel=1e-15)
    assert info.kl_divergence(p, q) == pytest.approx(kl, rel=1e-14)
    assert info.kl_divergence(p, q, base=2) == pytest.approx(kl / np.log(2), rel=1e-14)
    assert info.cross_entropy_discrete(p, p) == pytest.approx(info.entropy(p), rel=1e-15)


@pytest.mark.parametrize("dtype", FLOATS)
def test_information_measures_keep_dtype_and_reduce_along_axis(dtype):
    p = np.array([[0.2, 0.8], [0.5, 0.5], [1.0, 0.0]], dtype)
    q = np.array([[0.5, 0.5], [0.1, 0.9], [0.5, 0.5]], dtype)
    for value in (info.entropy(p), info.cross_entropy_discrete(p, q), info.kl_divergence(p, q)):
        assert value.shape == (3,)
        assert value.dtype == dtype
    assert info.entropy(p[0]).dtype == dtype
    assert np.ndim(info.entropy(p[0])) == 0
    np.testing.assert_allclose(info.entropy(p.T, axis=0), info.entropy(p), rtol=1e-6)
    assert info.kl_divergence(p[0], q[0], base=2.0).dtype == dtype


def distributions(n: int):
    """Probability vectors of length n with some exact zeros (hypothesis strategy)."""
    weights = arrays(
        np.float64,
        n,
        elements=st.one_of(st.just(0.0), st.floats(1e-6, 1e3)),
    ).filter(lambda w: w.sum() > 0)
    return weights.map(lambda w: w / w.sum())


@HYP
@given(data=st.data(), n=st.integers(1, 8))
def test_kl_is_non_negative_and_equals_cross_entropy_minus_entropy(data, n):
    p = data.draw(distributions(n))
    q = data.draw(distributions(n))
    with no_warnings():
        kl = info.kl_divergence(p, q)
        ce = info.cross_entropy_discrete(p, q)
        h = info.entropy(p)
    assert kl >= 0
    assert 0 <= h <= np.log(n) + 1e-12
    assert ce >= h - 1e-12  # Gibbs: H(p, q) ≥ H(p)
    if np.any((p > 0) & (q == 0)):
        assert kl == np.inf
        assert ce == np.inf
    else:
        assert np.isfinite(kl)
        assert kl == pytest.approx(ce - h, abs=1e-9 * max(1.0, ce))


@HYP
@given(p=st.integers(1, 8).flatmap(distributions))
def test_kl_of_p_with_itself_is_exactly_zero(p):
    with no_warnings():
        assert info.kl_divergence(p, p) == 0.0
        assert info.cross_entropy_discrete(p, p) == pytest.approx(
            info.entropy(p), rel=1e-12, abs=1e-15
        )


def test_information_measures_do_not_mutate_inputs():
    p, q = np.array([0.5, 0.5, 0.0]), np.array([0.25, 0.25, 0.5])
    p0, q0 = p.copy(), q.copy()
    info.entropy(p)
    info.kl_divergence(p, q)
    info.cross_entropy_discrete(p, q)
    np.testing.assert_array_equal(p, p0)
    np.testing.assert_array_equal(q, q0)


@pytest.mark.parametrize(
    ("call", "exc", "message"),
    [
        (lambda: info.entropy([0.5, 0.6]), ValueError, r"^p must sum to 1"),
        (lambda: info.entropy([1.5, -0.5]), ValueError, r"^p must be non-negative"),
        (lambda: info.entropy([0.5, 0.5], base=1), ValueError, r"base must be > 0 and != 1"),
        (lambda: info.entropy([0.5, 0.5], base=-2.0), ValueError, r"base must be > 0"),
        (lambda: info.entropy([0.5, 0.5], base="e"), TypeError, r"base must be a real number"),
        (lambda: info.kl_divergence([0.5, 0.5], [0.5, 0.6]), ValueError, r"^q must sum to 1"),
        (
            lambda: info.kl_divergence([0.5, 0.5], [0.5, 0.25, 0.25]),
            ValueError,
            r"q must have the shape of p \(2,\)",
        ),
        (
            lambda: info.cross_entropy_discrete([0.5, 0.5], [-0.5, 1.5]),
            ValueError,
            r"^q must be non-negative",
        ),
        (
            lambda: info.cross_entropy_discrete(
                np.array([0.5, 0.5]), np.array([0.5, 0.5], np.float32)
            ),
            TypeError,
            r"q must have the dtype of p \(float64\), got float32",
        ),
        (
            lambda: info.kl_divergence(["a"], ["b"]),
            TypeError,
            r"p must have dtype float32 or float64",
        ),
        (
            lambda: info.kl_divergence([[0.5, 0.5]], [[0.5, 0.5]], axis=2),
            ValueError,
            r"axis=2 is out of range",
        ),
    ],
)
def test_information_measure_errors_name_the_argument(call, exc, message):
    with pytest.raises(exc, match=message):
        call()
