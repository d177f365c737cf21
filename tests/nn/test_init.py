"""Tests for numdl.nn.init: the initialisers."""

from __future__ import annotations

import numpy as np
import pytest

from numdl.nn import init

GRAD_RTOL = 1e-6
KINK = 1e-3  # inputs to ReLU-like units are kept at least this far from 0


# --------------------------------------------------------------------------- initialisers
INITS = ["glorot_uniform", "glorot_normal", "he_uniform", "he_normal"]


def _target_var(name: str, fan_in: int, fan_out: int) -> float:
    return 2.0 / (fan_in + fan_out) if name.startswith("glorot") else 2.0 / fan_in


@pytest.mark.parametrize("name", INITS)
def test_initialiser_seeded_and_dtype(name: str) -> None:
    f = init.INITIALIZERS[name]
    a = f((20, 30), 5)
    np.testing.assert_array_equal(a, f((20, 30), 5))
    np.testing.assert_array_equal(a, f((20, 30), np.random.default_rng(5)).astype(np.float32))
    assert not np.array_equal(a, f((20, 30), 6))
    assert a.shape == (20, 30)
    assert a.dtype == np.float32
    assert f((2, 3), 0, dtype=np.float64).dtype == np.float64


@pytest.mark.parametrize("name", INITS)
@pytest.mark.parametrize(("fan_in", "fan_out"), [(400, 300), (784, 128)])
def test_initialiser_variance(name: str, fan_in: int, fan_out: int) -> None:
    """Sample variance within 4% of the target: the estimator's relative std is
    √((κ−1)/n) ≤ √(2/50_000) ≈ 0.6% here, so 4% is > 6σ."""
    w = init.INITIALIZERS[name]((fan_in, fan_out), 0, dtype=np.float64)
    target = _target_var(name, fan_in, fan_out)
    assert abs(w.var() / target - 1) < 0.04
    assert abs(w.mean()) < 5 * np.sqrt(target / w.size)
    if name.endswith("uniform"):
        bound = np.sqrt(3 * target)  # √(6/(fan_in+fan_out)) or √(6/fan_in)
        assert np.abs(w).max() <= bound
        assert np.abs(w).max() > 0.99 * bound  # and it is the bound actually used
    else:
        assert np.abs(w).max() > 3 * np.sqrt(target)  # normal tails reach beyond the bound


def test_glorot_uniform_bound_explicit() -> None:
    w = init.glorot_uniform((10, 50), 0, dtype=np.float64)
    assert np.abs(w).max() <= np.sqrt(6 / 60)
    w = init.he_uniform((10, 50), 0, dtype=np.float64)
    assert np.abs(w).max() <= np.sqrt(6 / 10)


def test_initialiser_validation() -> None:
    with pytest.raises(ValueError, match="fan_in, fan_out"):
        init.glorot_uniform((3, 4, 5))
    with pytest.raises(ValueError, match=r"shape\[0\] must be >= 1"):
        init.he_normal((0, 4))
    with pytest.raises(TypeError, match="rng must be"):
        init.glorot_normal((3, 4), rng="seed")
    np.testing.assert_array_equal(init.zeros((2, 3)), np.zeros((2, 3)))


@pytest.mark.parametrize("name", INITS)
def test_initialiser_rejects_non_float_dtype(name: str) -> None:
    with pytest.raises(TypeError, match="dtype"):
        init.INITIALIZERS[name]((4, 4), 0, dtype=np.int64)
