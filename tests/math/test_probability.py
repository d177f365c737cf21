"""Chapter 3 — probability: pmf checks, marginals and conditionals, moments, sample
statistics: hand-worked tables, identities, errors (information theory is in
test_information.py)."""

from __future__ import annotations

import numpy as np
import pytest

from numdl.math import probability as pr

FLOATS = [np.float32, np.float64]


# Hand-worked 2×3 joint table, X ∈ {0, 1} on the rows, Y ∈ {−1, 0, 2} on the columns.
# Counts [[1, 2, 1], [0, 3, 1]], total 8:
#   P(X, Y) = [[1/8, 2/8, 1/8],
#              [0,   3/8, 1/8]]
#   P(X) = row sums    = [4/8, 4/8]
#   P(Y) = column sums = [1/8, 5/8, 2/8]
#   P(Y | X=0) = [1/4, 2/4, 1/4],   P(Y | X=1) = [0, 3/4, 1/4]
#   P(X | Y=−1) = [1, 0],  P(X | Y=0) = [2/5, 3/5],  P(X | Y=2) = [1/2, 1/2]
#   E[X] = 1/2,  E[Y] = −1/8 + 0 + 4/8 = 3/8
#   E[XY] = (row X=1) 0·(−1) + (3/8)·0 + (1/8)·2 = 1/4
#   Cov(X, Y) = E[XY] − E[X]E[Y] = 1/4 − 3/16 = 1/16
#   Var(Y) = E[Y²] − E[Y]² = (1/8 + 8/8) − 9/64 = 63/64
COUNTS = np.array([[1, 2, 1], [0, 3, 1]])
JOINT = np.array([[1, 2, 1], [0, 3, 1]]) / 8
X_VALUES = np.array([0.0, 1.0])
Y_VALUES = np.array([-1.0, 0.0, 2.0])


# ---------------------------------------------------------------------------- check_probs
def test_check_probs_accepts_and_returns_valid_pmfs():
    p = np.array([0.2, 0.3, 0.5])
    assert pr.check_probs(p) is p
    pr.check_probs(JOINT, axis=None)
    pr.check_probs(np.array([[0.5, 0.5], [1.0, 0.0]]))  # a batch of rows
    pr.check_probs(np.array([[0.5, 1.0], [0.5, 0.0]]), axis=0)  # a batch of columns
    pr.check_probs([1 - 5e-7, 0.0])  # within the default atol=1e-6
    assert pr.check_probs([0, 1]).dtype == np.float64


@pytest.mark.parametrize(
    ("p", "kwargs", "exc", "message"),
    [
        ([0.5, -0.1, 0.6], {}, ValueError, r"p must be non-negative, got a minimum of -0.1"),
        ([0.5, 0.4], {}, ValueError, r"p must sum to 1 along axis 0 \(within atol=1e-06\)"),
        ([1 - 1e-3, 0.0], {"atol": 1e-4}, ValueError, r"p must sum to 1"),
        ([[0.5, 0.5], [0.2, 0.2]], {}, ValueError, r"got sums in \[0.4, 1\]"),
        ([[0.5, 0.5], [0.5, 0.5]], {"axis": None}, ValueError, r"p must sum to 1 in total"),
        ([0.5, np.nan, 0.5], {}, ValueError, r"p must contain only finite"),
        ([np.inf, 0.0], {}, ValueError, r"p must contain only finite"),
        (0.5, {}, ValueError, r"p must be at least 1-D"),
        (np.zeros(0), {}, ValueError, r"p must be non-empty"),
        ([0.5, 0.5], {"axis": 1}, ValueError, r"axis=1 is out of range"),
        (np.array([0.5, 0.5], complex), {}, TypeError, r"p must have dtype float32 or float64"),
        (["a", "b"], {}, TypeError, r"p must have dtype float32 or float64"),
        ([0.5, 0.5], {"atol": -1.0}, ValueError, r"atol must be >= 0"),
        ([0.5, 0.6], {"name": "q"}, ValueError, r"^q must sum to 1"),
    ],
)
def test_check_probs_errors_name_the_argument(p, kwargs, exc, message):
    with pytest.raises(exc, match=message):
        pr.check_probs(p, **kwargs)


# ------------------------------------------------------------- counts, marginals, conditionals
def test_pmf_from_counts_hand_examples():
    np.testing.assert_allclose(pr.pmf_from_counts([2, 3, 5]), [0.2, 0.3, 0.5])
    np.testing.assert_allclose(pr.pmf_from_counts(COUNTS), JOINT)
    np.testing.assert_allclose(
        pr.pmf_from_counts(COUNTS, axis=1), [[1 / 4, 2 / 4, 1 / 4], [0, 3 / 4, 1 / 4]]
    )
    assert pr.pmf_from_counts(COUNTS).dtype == np.float64
    assert pr.pmf_from_counts(np.array([1, 3], np.float32)).dtype == np.float32


@pytest.mark.parametrize(
    ("counts", "kwargs", "message"),
    [
        ([0, 0, 0], {}, r"counts must have a positive total"),
        ([[1, 2], [0, 0]], {"axis": 1}, r"counts must have a positive total"),
        ([1, -1, 3], {}, r"counts must be non-negative"),
        ([1.0, np.nan], {}, r"counts must contain only finite"),
        (3, {}, r"counts must be at least 1-D"),
    ],
)
def test_pmf_from_counts_errors(counts, kwargs, message):
    with pytest.raises(ValueError, match=message):
        pr.pmf_from_counts(counts, **kwargs)


def test_marginals_of_the_hand_table():
    np.testing.assert_allclose(pr.marginal(JOINT, axis=1), [4 / 8, 4 / 8])  # P(X)
    np.testing.assert_allclose(pr.marginal(JOINT, axis=0), [1 / 8, 5 / 8, 2 / 8])  # P(Y)
    np.testing.assert_allclose(pr.marginal(JOINT, axis=(0, 1)), 1.0)


def test_marginal_of_a_three_way_table():
    joint = np.random.default_rng(0).dirichlet(np.ones(24)).reshape(2, 3, 4)
    np.testing.assert_allclose(pr.marginal(joint, axis=(1, 2)), joint.sum(axis=(1, 2)))
    np.testing.assert_allclose(pr.marginal(joint, axis=-1), joint.sum(axis=2))


def test_conditionals_of_the_hand_table():
    y_given_x = pr.conditional(JOINT, given_axis=0)
    np.testing.assert_allclose(y_given_x, [[1 / 4, 2 / 4, 1 / 4], [0, 3 / 4, 1 / 4]])
    x_given_y = pr.conditional(JOINT, given_axis=1)
    np.testing.assert_allclose(x_given_y, [[1, 2 / 5, 1 / 2], [0, 3 / 5, 1 / 2]])
    # product rule: P(x, y) = P(y | x) P(x)
    np.testing.assert_allclose(y_given_x * pr.marginal(JOINT, axis=1)[:, None], JOINT)


def test_conditional_on_a_zero_probability_event_raises():
    joint = np.array([[0.5, 0.5], [0.0, 0.0]])
    with pytest.raises(
        ValueError, match=r"joint has zero marginal probability at index \[1\] of given_axis=0"
    ):
        pr.conditional(joint, given_axis=0)
    np.testing.assert_allclose(pr.conditional(joint, given_axis=1), [[1.0, 1.0], [0.0, 0.0]])


@pytest.mark.parametrize(
    ("call", "exc", "message"),
    [
        (
            lambda: pr.marginal([0.5, 0.5], axis=0),
            ValueError,
            r"joint must be at least 2-D \(one axis per variable\)",
        ),
        (lambda: pr.marginal(JOINT * 2, axis=0), ValueError, r"joint must sum to 1 in total"),
        (lambda: pr.marginal(JOINT, axis=2), ValueError, r"axis=2 is out of range"),
        (lambda: pr.marginal(JOINT, axis=(0, 0)), ValueError, r"axis must not repeat"),
        (lambda: pr.marginal(JOINT, axis=0.5), TypeError, r"axis must be an integer"),
        (lambda: pr.conditional(JOINT, given_axis=3), ValueError, r"given_axis=3 is out of range"),
        (lambda: pr.conditional(-JOINT, given_axis=0), ValueError, r"joint must be non-negative"),
    ],
)
def test_marginal_and_conditional_errors(call, exc, message):
    with pytest.raises(exc, match=message):
        call()


# ---------------------------------------------------------------- expectation and variance
def test_fair_die_expectation_and_variance():
    faces, p = np.arange(1, 7), np.full(6, 1 / 6)
    assert pr.expectation(faces, p) == pytest.approx(3.5, rel=1e-15)
    assert pr.variance(faces, p) == pytest.approx(35 / 12, rel=1e-15)


def test_covariance_and_moments_of_the_hand_table():
    assert pr.covariance_from_joint(X_VALUES, Y_VALUES, JOINT) == pytest.approx(1 / 16, rel=1e-14)
    p_y = pr.marginal(JOINT, axis=0)
    assert pr.expectation(Y_VALUES, p_y) == pytest.approx(3 / 8, rel=1e-14)
    assert pr.variance(Y_VALUES, p_y) == pytest.approx(63 / 64, rel=1e-14)
    # Cov(Y, Y) from the diagonal joint P(Y=i, Y=j) = δᵢⱼ P(Y=i) is Var(Y)
    assert pr.covariance_from_joint(Y_VALUES, Y_VALUES, np.diag(p_y)) == pytest.approx(63 / 64)
    # independent variables: joint = outer product of marginals → zero covariance
    indep = np.outer(pr.marginal(JOINT, axis=1), p_y)
    assert pr.covariance_from_joint(X_VALUES, Y_VALUES, indep) == pytest.approx(0.0, abs=1e-15)


def test_variance_is_stable_for_a_large_offset():
    # E[X²] − E[X]² loses every digit here in float64; the centred form does not.
    values, p = np.array([1e9, 1e9 + 1, 1e9 + 2]), np.full(3, 1 / 3)
    assert pr.variance(values, p) == pytest.approx(2 / 3, rel=1e-6)


@pytest.mark.parametrize("dtype", FLOATS)
def test_moments_keep_the_dtype(dtype):
    v, p = np.array([1.0, 2.0], dtype), np.array([0.25, 0.75], dtype)
    assert pr.expectation(v, p).dtype == dtype
    assert pr.variance(v, p).dtype == dtype
    assert pr.covariance_from_joint(v, v, np.diag(p)).dtype == dtype
    assert pr.expectation([1, 2], p).dtype == dtype  # integer values take p's dtype


@pytest.mark.parametrize(
    ("call", "exc", "message"),
    [
        (lambda: pr.expectation([1.0, 2.0], [0.5, 0.2]), ValueError, r"^p must sum to 1"),
        (
            lambda: pr.expectation([1.0, 2.0, 3.0], [0.5, 0.5]),
            ValueError,
            r"p must have the shape of values \(3,\)",
        ),
        (
            lambda: pr.expectation(np.ones((2, 2)), np.full(4, 0.25)),
            ValueError,
            r"values must be 1-D",
        ),
        (
            lambda: pr.variance([1.0, 2.0], np.array([0.5, 0.5], np.float32)),
            TypeError,
            r"p must have the dtype of values",
        ),
        (lambda: pr.variance([1.0, 2.0], [1.5, -0.5]), ValueError, r"p must be non-negative"),
        (
            lambda: pr.covariance_from_joint([0.0, 1.0], [0.0, 1.0, 2.0], JOINT.T),
            ValueError,
            r"joint must have shape \(2, 3\)",
        ),
        (
            lambda: pr.covariance_from_joint([[0.0, 1.0]], [0.0, 1.0, 2.0], JOINT),
            ValueError,
            r"x_values must be 1-D",
        ),
        (
            lambda: pr.covariance_from_joint([0.0, 1.0], [0.0, 1.0, 2.0], JOINT * 2),
            ValueError,
            r"joint must sum to 1",
        ),
    ],
)
def test_moment_errors_name_the_argument(call, exc, message):
    with pytest.raises(exc, match=message):
        call()


# --------------------------------------------------------------------- empirical estimators
def test_sample_moments_hand_example():
    x = np.array([1.0, 2.0, 3.0, 4.0])
    assert pr.sample_mean(x) == 2.5
    assert pr.sample_variance(x) == pytest.approx(5 / 3, rel=1e-15)  # (2.25+0.25+0.25+2.25)/3
    X = np.array([[1.0, 2.0], [3.0, 6.0], [5.0, 10.0]])  # second column = 2 × first
    np.testing.assert_allclose(pr.sample_covariance(X), [[4.0, 8.0], [8.0, 16.0]])


@pytest.mark.parametrize("dtype", FLOATS)
def test_sample_moments_match_numpy_unbiased_estimators(dtype):
    X = np.random.default_rng(1).standard_normal((50, 4)).astype(dtype)
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(pr.sample_mean(X), X.mean(axis=0), rtol=rtol)
    np.testing.assert_allclose(pr.sample_variance(X), np.var(X, axis=0, ddof=1), rtol=rtol)
    np.testing.assert_allclose(pr.sample_variance(X, axis=1), np.var(X, axis=1, ddof=1), rtol=rtol)
    np.testing.assert_allclose(
        pr.sample_covariance(X), np.cov(X, rowvar=False), rtol=rtol, atol=rtol
    )
    assert pr.sample_mean(X).dtype == pr.sample_variance(X).dtype == dtype
    assert pr.sample_covariance(X).dtype == dtype
    np.testing.assert_allclose(np.diag(pr.sample_covariance(X)), pr.sample_variance(X), rtol=rtol)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: pr.sample_variance([1.0]), r"x must have at least 2 sample\(s\) along axis 0"),
        (lambda: pr.sample_mean(np.zeros((0, 3))), r"x must have at least 1 sample"),
        (lambda: pr.sample_mean(2.0), r"x must be at least 1-D"),
        (lambda: pr.sample_variance(np.ones((3, 2)), axis=2), r"axis=2 is out of range"),
        (lambda: pr.sample_covariance(np.ones((1, 3))), r"X must have at least 2 rows"),
        (lambda: pr.sample_covariance(np.ones(3)), r"X must be 2-D"),
    ],
)
def test_sample_moment_errors(call, message):
    with pytest.raises(ValueError, match=message):
        call()
