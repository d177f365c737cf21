"""Gradient clipping by global norm (§10.11.1, eq. 10.49): g ← g·v/‖g‖ when ‖g‖ > v."""

from __future__ import annotations

import math

import numpy as np
import pytest

from numdl.nn.models import MLP
from numdl.optim import clip_grad_norm


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_a_large_gradient_is_scaled_to_max_norm_keeping_its_direction(dtype) -> None:
    g = np.array([3.0, -4.0, 0.0], dtype)  # ‖g‖ = 5
    norm = clip_grad_norm(g, 1.0)
    assert norm == 5.0
    np.testing.assert_allclose(g, np.array([0.6, -0.8, 0.0]) * 5 / (5 + 1e-6), rtol=1e-6)
    assert g.dtype == dtype


def test_a_gradient_within_max_norm_is_left_exactly_as_it_was() -> None:
    g = np.array([3.0, -4.0])
    for max_norm in (5.0 + 2e-6, 6.0, 1e9):  # (5.0 itself clips: c = 5/(5 + 1e-6) < 1)
        assert clip_grad_norm(g, max_norm) == 5.0
        np.testing.assert_array_equal(g, [3.0, -4.0])


def test_the_norm_is_global_over_every_gradient() -> None:
    """Two arrays of norm 3 and 4: the global norm is 5 and both scale by the same factor."""
    a, b = np.array([[3.0]]), np.array([0.0, 4.0])
    grads = {"a": a, "b": b, "frozen": None}
    assert clip_grad_norm(grads, 2.5) == 5.0
    coef = 2.5 / (5 + 1e-6)
    np.testing.assert_allclose(a, [[3.0 * coef]], rtol=1e-15)
    np.testing.assert_allclose(b, [0.0, 4.0 * coef], rtol=1e-15)
    assert clip_grad_norm([a, None, b], 2.5) == pytest.approx(2.5, rel=1e-6)


def test_a_model_buffer_is_clipped_in_one_piece() -> None:
    model = MLP([5, 4, 3], seed=0)
    model.params.grad[:] = np.random.default_rng(0).standard_normal(model.params.grad.size)
    before = model.params.grad.copy()
    norm = clip_grad_norm(model.params, 0.5)
    assert norm == pytest.approx(float(np.linalg.norm(before.astype(np.float64))), rel=1e-6)
    np.testing.assert_allclose(model.params.grad, before * (0.5 / (norm + 1e-6)), rtol=1e-6)
    np.testing.assert_array_equal(model.params.data, MLP([5, 4, 3], seed=0).params.data)


def test_float32_sums_of_squares_that_overflow_are_recomputed() -> None:
    """‖g‖ = 5e30 is a float32, its square is not: the norm comes from the float64 path."""
    g = np.array([3e30, -4e30], np.float32)
    norm = clip_grad_norm(g, 1.0)
    assert norm == pytest.approx(5e30, rel=1e-6)
    np.testing.assert_allclose(g, [0.6, -0.8], rtol=1e-6)
    big = np.array([1e300, 1e300])  # float64 overflow: scaled by the largest entry
    assert clip_grad_norm(big, 1.0) == pytest.approx(math.sqrt(2) * 1e300, rel=1e-12)
    np.testing.assert_allclose(big, [2**-0.5, 2**-0.5], rtol=1e-12)


@pytest.mark.parametrize(("bad", "want"), [(np.nan, math.nan), (np.inf, math.inf)])
def test_a_non_finite_gradient_is_reported_and_left_unchanged(bad, want) -> None:
    g = np.array([1.0, bad, 2.0])
    other = np.array([np.inf, 1.0]) if bad != bad else np.array([1.0])  # NaN wins over inf
    norm = clip_grad_norm([g, other], 1.0)
    assert (math.isnan(norm) and math.isnan(want)) or norm == want
    np.testing.assert_array_equal(g, [1.0, bad, 2.0])


@pytest.mark.parametrize(
    ("grads", "max_norm", "exc", "pattern"),
    [
        (np.ones(3), 0.0, ValueError, r"^max_norm must be > 0, got 0.0"),
        (np.ones(3), np.inf, ValueError, r"^max_norm must be finite"),
        (np.ones(3), "1", TypeError, r"^max_norm must be a real number"),
        (np.ones(3, np.int64), 1.0, TypeError, r"^grads must have dtype float32 or float64"),
        ({"W": np.ones((4, 2))[:, ::2]}, 1.0, ValueError, r"^grads\['W'\] must be C-contig"),
        ([np.ones(2), np.ones(2, np.float16)], 1.0, TypeError, r"^grads\[1\] must have dtype"),
    ],
)
def test_bad_arguments(grads, max_norm, exc, pattern) -> None:
    with pytest.raises(exc, match=pattern):
        clip_grad_norm(grads, max_norm)


def test_a_rejected_call_writes_nothing() -> None:
    """The second array is rejected (read-only) after the first was checked: neither changes."""
    a, b = np.full(3, 10.0), np.full(3, 10.0)
    b.flags.writeable = False
    with pytest.raises(ValueError, match=r"^grads\[1\] must be writeable"):
        clip_grad_norm([a, b], 1.0)
    np.testing.assert_array_equal(a, 10.0)
    buf = np.full(4, 10.0)
    with pytest.raises(ValueError, match="must not share memory"):
        clip_grad_norm([buf[:3], buf[1:]], 1.0)
    np.testing.assert_array_equal(buf, 10.0)
