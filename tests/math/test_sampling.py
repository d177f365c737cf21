"""Tests for numdl.math.sampling: Gumbel-max draws."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from numdl.core.ops import softmax
from numdl.math.sampling import gumbel_max_sample

IMG = np.array([[1, 2, 3], [4, 5, 6]], dtype=np.float32)  # one 2×3 image


def _layouts(image: np.ndarray):
    """The same image as an (N, H, W) batch and as an (N, C, H, W) batch (2 channels)."""
    return [image[None], np.stack([image, 10 * image])[None]]


# ----------------------------------------------------------------------------- Gumbel-max
@pytest.mark.parametrize("temperature", [1.0, 0.5, 3.0])
def test_gumbel_max_frequencies_match_softmax(temperature):
    logits = np.array([1.0, 0.0, -1.0, 2.0, -np.inf])
    n = 200_000
    samples = gumbel_max_sample(
        logits, temperature=temperature, rng=np.random.default_rng(42), size=n
    )
    assert samples.shape == (n,)
    freq = np.bincount(samples, minlength=len(logits)) / n
    p = softmax(logits / temperature)
    standard_error = np.sqrt(p * (1 - p) / n)  # of a binomial proportion
    assert np.all(np.abs(freq - p) <= 5 * standard_error + 1e-12)
    assert freq[-1] == 0  # a −inf logit is never drawn


def test_gumbel_max_shapes_dtype_and_reproducibility():
    logits = np.random.default_rng(0).normal(size=(4, 6)).astype(np.float32)
    a = gumbel_max_sample(logits, rng=3)
    assert a.shape == (4,)
    assert np.issubdtype(a.dtype, np.integer)
    assert np.all((a >= 0) & (a < 6))
    np.testing.assert_array_equal(a, gumbel_max_sample(logits, rng=np.random.default_rng(3)))
    assert gumbel_max_sample(logits, rng=0, size=(2, 3)).shape == (2, 3, 4)
    assert gumbel_max_sample(logits[0], rng=0).shape == ()
    # temperature → 0 approaches argmax
    cold = gumbel_max_sample(logits, temperature=1e-6, rng=0, size=50)
    np.testing.assert_array_equal(cold, np.broadcast_to(np.argmax(logits, axis=1), (50, 4)))


def test_gumbel_max_errors():
    logits = np.zeros(3)
    with pytest.raises(ValueError, match="temperature must be > 0"):
        gumbel_max_sample(logits, temperature=0.0, rng=0)
    with pytest.raises(TypeError, match="temperature must be a real number"):
        gumbel_max_sample(logits, temperature="1", rng=0)
    with pytest.raises(TypeError, match="logits must have dtype"):
        gumbel_max_sample(np.zeros(3, dtype=int), rng=0)
    with pytest.raises(ValueError, match="logits must have at least one class"):
        gumbel_max_sample(np.zeros((2, 0)), rng=0)
    with pytest.raises(TypeError, match="rng must be"):
        gumbel_max_sample(logits, rng=1.5)
    with pytest.raises(ValueError, match="size must be >= 0"):
        gumbel_max_sample(logits, rng=0, size=-1)
    with pytest.raises(TypeError, match="missing 1 required keyword-only argument: 'rng'"):
        gumbel_max_sample(logits)


def _softmax_over_t(logits: np.ndarray, temperature: float) -> np.ndarray:
    """softmax(ℓ/T) along the last axis, exactly as defined, computed stably in float64."""
    z = (logits.astype(np.float64) - np.max(logits, axis=-1, keepdims=True)) / temperature
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def _assert_frequencies(samples: np.ndarray, p: np.ndarray) -> None:
    n = samples.size
    freq = np.bincount(samples.ravel(), minlength=p.size) / n
    bound = 5 * np.sqrt(p * (1 - p) / n) + 5 / n  # 5 standard errors of a proportion
    assert np.all(np.abs(freq - p) <= bound), (freq, p)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gumbel_max_huge_logits_at_low_temperature_draw_the_larger(dtype):
    """ℓ/T overflowed to [inf, inf] (a tie: class 0 every time); shifted first, class 1."""
    big = [2e36, 3e36] if dtype == np.float32 else [1e308, 1.5e308]
    logits = np.array(big, dtype=dtype)
    samples = gumbel_max_sample(logits, temperature=1e-3, rng=0, size=2000)
    assert np.all(samples == 1)
    batch = np.array([big, big[::-1]], dtype=dtype)
    np.testing.assert_array_equal(
        gumbel_max_sample(batch, temperature=1e-3, rng=1, size=500), np.tile([1, 0], (500, 1))
    )


def test_gumbel_max_temperature_below_float32_range_keeps_ties_fair():
    """T = 1e-50 is 0 in float32 (0/0 = NaN made the first tied class win every time)."""
    logits = np.array([0.0, 0.0, -1.0], dtype=np.float32)
    samples = gumbel_max_sample(logits, temperature=1e-50, rng=5, size=20_000)
    _assert_frequencies(samples, np.array([0.5, 0.5, 0.0]))


@pytest.mark.parametrize(
    ("logits", "pattern"),
    [
        (np.array([-np.inf, -np.inf]), r"^logits must hold a finite value in every distrib"),
        (np.array([[0.0, 1.0], [-np.inf, -np.inf]]), r"got 1 of 2 all -inf"),
        (np.array([0.0, np.nan]), r"^logits must be finite or -inf .*got NaN or \+inf"),
        (np.array([0.0, np.inf]), r"^logits must be finite or -inf"),
        (np.array([[np.inf, np.inf]], dtype=np.float32), r"^logits must be finite or -inf"),
    ],
)
def test_gumbel_max_rejects_logits_with_nothing_to_draw(logits, pattern):
    with pytest.raises(ValueError, match=pattern):
        gumbel_max_sample(logits, rng=0)


def test_gumbel_max_rejects_a_temperature_beyond_every_float():
    with pytest.raises(ValueError, match=r"^temperature must be finite"):
        gumbel_max_sample(np.zeros(3), temperature=10**400, rng=0)
    with pytest.raises(ValueError, match=r"^temperature must be finite"):
        gumbel_max_sample(np.zeros(3), temperature=float("inf"), rng=0)


def test_gumbel_max_does_not_mutate_logits():
    logits = np.array([[3e36, 2e36, -np.inf]], dtype=np.float32)
    keep = logits.copy()
    gumbel_max_sample(logits, temperature=1e-3, rng=0, size=3)
    np.testing.assert_array_equal(logits, keep)


@settings(max_examples=25, deadline=None, derandomize=True)
@given(
    k=st.integers(2, 5),
    seed=st.integers(0, 2**32 - 1),
    offset=st.sampled_from([0.0, 1e4, -1e4, 1e30, -1e300]),
    scale=st.sampled_from([0.5, 3.0]),
    temperature=st.sampled_from([1e-3, 0.5, 1.0, 4.0, 1e6]),
    dtype=st.sampled_from([np.float32, np.float64]),
    minus_inf=st.booleans(),
)
def test_gumbel_max_frequencies_match_softmax_over_temperature(
    k, seed, offset, scale, temperature, dtype, minus_inf
):
    """At every offset and temperature the draws follow softmax(ℓ/T) of the stored logits."""
    rng = np.random.default_rng(seed)
    values = offset + scale * rng.standard_normal(k) * (temperature if temperature < 1 else 1)
    with np.errstate(over="ignore"):
        logits = values.astype(dtype)
    if not np.all(np.isfinite(logits)):  # −1e300 is −inf in float32: one case of minus_inf
        logits = np.where(np.isfinite(logits), logits, -np.inf).astype(dtype)
        if not np.isfinite(logits).any():
            logits[0] = 0
    if minus_inf:
        logits[rng.integers(k)] = -np.inf
        if not np.isfinite(logits).any():
            logits[0] = 0
    p = _softmax_over_t(logits, temperature)
    samples = gumbel_max_sample(logits, temperature=temperature, rng=rng, size=20_000)
    assert samples.shape == (20_000,)
    _assert_frequencies(samples, p)
    assert np.all(p[np.isneginf(logits)] == 0)
    assert not np.isin(np.flatnonzero(np.isneginf(logits)), samples).any()


@pytest.mark.filterwarnings("ignore:the matrix subclass:PendingDeprecationWarning")
def test_gumbel_max_reads_a_matrix_as_a_plain_array_and_rejects_masks():
    logits = np.array([[0.0, 5.0, -1.0], [3.0, 0.0, 0.0]])
    np.testing.assert_array_equal(
        gumbel_max_sample(np.asmatrix(logits), rng=4, size=7),
        gumbel_max_sample(logits, rng=4, size=7),
    )
    with pytest.raises(TypeError, match=r"^logits must be a plain array, got a masked array"):
        gumbel_max_sample(np.ma.array(logits, mask=logits > 1), rng=0)
