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

    Computed stably as argmaxⱼ ((ℓⱼ − max ℓ)/T + gⱼ) in float64: the shift changes no
    argmax, and keeps ℓ/T from overflowing to a tie at +inf (ℓ = [2e36, 3e36] at T = 1e-3
    would otherwise always draw class 0), and T from rounding to 0 in float32.

    Parameters
    ----------
    logits : array-like (..., K), float32 or float64
        Unnormalised log-probabilities along the last axis; leading axes are independent
        distributions. Finite or −inf, with at least one finite logit per distribution.
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
        If ``logits`` is not float32/float64 (or is a masked array), ``size`` not integers or
        ``rng`` not a Generator or int.
    ValueError
        If ``logits`` is 0-D, has no classes, holds NaN or +inf (no distribution), or has a
        distribution whose logits are all −inf (nothing to draw); if ``temperature`` ≤ 0 or
        not finite, or a size is negative.
    """
    logits = check_float_array(logits, "logits")  # np.matrix: plain view
    if logits.ndim == 0 or logits.shape[-1] == 0:
        raise ValueError(
            f"logits must have at least one class on the last axis, got shape {logits.shape}"
        )
    if np.isnan(logits).any() or np.isposinf(logits).any():
        raise ValueError(
            "logits must be finite or -inf (a -inf class is never drawn), got NaN or +inf"
        )
    top = np.max(logits, axis=-1, keepdims=True)
    if np.isneginf(top).any():
        raise ValueError(
            "logits must hold a finite value in every distribution (last axis), got "
            f"{int(np.isneginf(top).sum())} of {top.size} all -inf: nothing to draw there"
        )
    temperature = check_positive(temperature, "temperature")
    generator = as_generator(rng)
    if size is None:
        draws: tuple[int, ...] = ()
    elif is_sequence(size):
        draws = tuple(check_int(s, "size", minimum=0) for s in size)
    else:
        draws = (check_int(size, "size", minimum=0),)
    # ℓ − max ℓ ≤ 0 is exact in float64 (or −inf: probability 0 either way, so overflow in the
    # subtraction or division is the right answer and its warning is silenced)
    with np.errstate(over="ignore"):
        scaled = (logits.astype(np.float64) - top) / temperature
    noise = generator.gumbel(size=(*draws, *logits.shape))
    return np.argmax(scaled + noise, axis=-1)
