"""Gradient clipping by global norm (textbook §10.11.1; Pascanu et al., 2013).

If ‖g‖ > v, then g ← g·v/‖g‖ (eq. 10.49), with ‖g‖ the Euclidean norm over *all* of a
model's gradients at once, so the step keeps its direction. Over a flat
:class:`~numdl.nn.params.Parameters` gradient buffer that is one reduction (a BLAS dot) and,
when clipping, one in-place scale; nothing is allocated.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from numdl.core.validation import (
    check_float_array,
    check_no_overlap,
    check_positive,
    check_writeable_contiguous,
)
from numdl.nn.params import Parameters

__all__ = ["clip_grad_norm"]

#: Added to the norm before dividing, as ``torch.nn.utils.clip_grad_norm_`` does.
NORM_EPS = 1e-6


def clip_grad_norm(grads: Any, max_norm: float) -> float:
    """Scale gradients in place so that their global norm is at most ``max_norm`` (eq. 10.49).

    The norm is ‖g‖ = √(Σ g²) over every entry of every gradient; when
    c = max_norm / (‖g‖ + 1e-6) is below 1 (‖g‖ > max_norm − 1e-6), every gradient is
    multiplied by c, exactly as ``torch.nn.utils.clip_grad_norm_``; otherwise nothing is
    written. The sum of squares is accumulated in the gradients'
    dtype and recomputed in float64 (scaled by the largest entry) only if it overflows.

    A non-finite norm (a NaN or infinite entry) leaves the gradients unchanged and is
    returned, so the caller sees it: scaling by c would only spread the NaN to every entry
    (torch's default) or zero the gradient, hiding the divergence.

    Parameters
    ----------
    grads : Parameters, array, or dict or list of arrays
        For :class:`Parameters`, its flat gradient buffer ``grads.grad``; ``None`` entries of
        a dict or list are skipped (frozen parameters). Float32 or float64, writeable,
        C-contiguous, and no two sharing memory.
    max_norm : float > 0

    Returns
    -------
    float
        The global norm before clipping (NaN or inf if an entry is).

    Raises
    ------
    TypeError, ValueError
        For a gradient that is not a float array that can be scaled in place (named
        ``grads[key]``), overlapping gradients, or ``max_norm`` not a finite real > 0.
        Nothing is written then.
    """
    max_norm = check_positive(max_norm, "max_norm")
    arrays = _gradients(grads)
    with np.errstate(over="ignore", invalid="ignore"):  # an overflow is handled below
        squares = sum(float(_dot(g, g)) for g in arrays)
    norm = math.sqrt(squares) if math.isfinite(squares) else _norm_without_overflow(arrays)
    coef = max_norm / (norm + NORM_EPS)
    if math.isfinite(norm) and coef < 1:
        for g in arrays:
            g *= g.dtype.type(coef)
    return norm


def _dot(a: Any, b: Any) -> Any:
    """Σ aᵢbᵢ of two flat arrays (NumPy, or CuPy on the CUDA backend: the array's own dot)."""
    return a.dot(b)


def _norm_without_overflow(arrays: list[Any]) -> float:
    """‖g‖ when Σ g² overflowed the dtype: NaN or inf if an entry is, else in float64, scaled."""
    peaks = [float(abs(g).max()) for g in arrays if g.size]
    if any(math.isnan(p) for p in peaks):
        return math.nan
    peak = max(peaks)
    if math.isinf(peak):
        return math.inf
    scaled = [g.astype(np.float64) / peak for g in arrays]  # entries in [-1, 1]
    return peak * math.sqrt(sum(float(_dot(s, s)) for s in scaled))


def _gradients(grads: Any) -> list[Any]:
    """The gradients to scale, as flat views, each checked (transactional: before any write)."""
    if isinstance(grads, Parameters):
        named = {"grads.grad": grads.grad}
    elif isinstance(grads, Mapping):
        named = {f"grads[{k!r}]": g for k, g in grads.items() if g is not None}
    elif isinstance(grads, Sequence) and not isinstance(grads, (str, bytes)):
        named = {f"grads[{i}]": g for i, g in enumerate(grads) if g is not None}
    else:
        named = {"grads": grads}
    checked = {}
    for name, g in named.items():
        g = check_float_array(g, name)
        check_writeable_contiguous(g, name)
        checked[name] = g
    check_no_overlap(checked, {})
    return [g.reshape(-1) for g in checked.values()]
