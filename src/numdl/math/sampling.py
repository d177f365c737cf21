"""Sampling from categorical distributions given by logits: the Gumbel-max trick."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from numdl.core.validation import (
    as_generator,
    check_float_array,
    check_int,
    check_positive,
    is_sequence,
)

__all__ = ["gumbel_max_sample"]


def gumbel_max_sample(
    logits: Any,
    *,
    temperature: float = 1.0,
    rng: np.random.Generator | int,
    size: int | Sequence[int] | None = None,
) -> np.ndarray:
    """k = argmaxⱼ (ℓⱼ/T + gⱼ), gⱼ ~ Gumbel(0, 1) i.i.d.: k ~ Categorical(softmax(ℓ/T)).

    The Gumbel-max trick: adding independent standard Gumbel noise −log(−log U) to the
    logits and taking the argmax draws class j with probability softmax(ℓ/T)ⱼ, without
    normalising. T → 0 approaches the argmax, T → ∞ the uniform distribution. Classes with
    logit −inf are never drawn.

    Parameters
    ----------
    logits : array-like (..., K), float32 or float64
        Unnormalised log-probabilities along the last axis; leading axes are independent
        distributions.
    temperature : float, default 1.0
        T > 0.
    rng : numpy.random.Generator or int
        Source of the noise (an int is a seed). Required, so every draw is reproducible.
    size : int or tuple of int, optional
        Number of independent draws per distribution; they form the leading axes.

    Returns
    -------
    int64 array of shape (*size, *logits.shape[:-1])
        Class indices in [0, K); a NumPy integer scalar for 1-D logits and ``size=None``.

    Raises
    ------
    TypeError
        If ``logits`` is not float32/float64, ``size`` not integers or ``rng`` not a
        Generator or int.
    ValueError
        If ``logits`` is 0-D or has no classes, ``temperature`` ≤ 0 or a size is negative.
    """
    logits = check_float_array(logits, "logits")
    if logits.ndim == 0 or logits.shape[-1] == 0:
        raise ValueError(
            f"logits must have at least one class on the last axis, got shape {logits.shape}"
        )
    temperature = check_positive(temperature, "temperature")
    generator = as_generator(rng)
    if size is None:
        draws: tuple[int, ...] = ()
    elif is_sequence(size):
        draws = tuple(check_int(s, "size", minimum=0) for s in size)
    else:
        draws = (check_int(size, "size", minimum=0),)
    noise = generator.gumbel(size=(*draws, *logits.shape))
    return np.argmax(logits / temperature + noise, axis=-1)
