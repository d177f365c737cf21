"""Tests for numdl.math.sampling: Gumbel-max draws."""

from __future__ import annotations

import numpy as np
import pytest

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
