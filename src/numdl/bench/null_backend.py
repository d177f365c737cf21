"""A backend whose hot paths do nothing: what is left of a training step is pure Python.

:mod:`numdl.bench.breakdown` registers it as ``"bench_null"`` and runs the library's real
training step on it (layers, losses, optimiser, validated ops, dispatch), so the time it
takes is the step's Python and dispatch cost, measured rather than inferred. Outputs are
left as they are (never read for anything but their shape); the loss is a zero of the
logits' dtype. Not for anything but this measurement.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = [
    "adagrad_update",
    "adam_update",
    "adamw_update",
    "avgpool2d_backward",
    "avgpool2d_forward",
    "batchnorm_backward",
    "batchnorm_forward",
    "conv2d_backward",
    "conv2d_forward",
    "cross_entropy",
    "linear_backward",
    "linear_forward",
    "log_softmax_rows",
    "logsumexp_rows",
    "maxpool2d_backward",
    "maxpool2d_forward",
    "momentum_update",
    "rmsprop_update",
    "take_rows",
]


def linear_forward(x: Any, w: Any, b: Any, relu: bool, out: Any) -> Any:
    """No work: returns ``out`` unwritten."""
    return out


def linear_backward(
    grad_out: Any, x: Any, w: Any, out: Any, relu: bool, dz: Any, dx: Any, dw: Any, db: Any
) -> None:
    """No work."""


def batchnorm_forward(
    x: Any, gamma: Any, beta: Any, eps: float, relu: bool, out: Any, mean: Any, var: Any
) -> Any:
    """No work: returns ``out`` unwritten."""
    return out


def batchnorm_backward(*args: Any) -> None:
    """No work."""


def logsumexp_rows(x: Any, out: Any) -> Any:
    """No work: returns ``out`` unwritten."""
    return out


def log_softmax_rows(x: Any, out: Any) -> Any:
    """No work: returns ``out`` unwritten."""
    return out


def cross_entropy(logits: Any, target: Any, dlogits: Any) -> Any:
    """No work: a zero loss of the logits' dtype; ``dlogits`` unwritten."""
    return np.zeros((), dtype=logits.dtype)[()]


def momentum_update(*args: Any) -> None:
    """No work."""


def adamw_update(*args: Any) -> None:
    """No work."""


def adam_update(*args: Any) -> None:
    """No work."""


def rmsprop_update(*args: Any) -> None:
    """No work."""


def adagrad_update(*args: Any) -> None:
    """No work."""


def take_rows(x: Any, index: Any, out: Any) -> Any:
    """No work: returns ``out`` unwritten."""
    return out


def conv2d_forward(*args: Any) -> Any:
    """No work: returns ``out`` (the last argument) unwritten."""
    return args[-1]


def conv2d_backward(*args: Any) -> None:
    """No work."""


def maxpool2d_forward(x: Any, kernel: Any, stride: Any, padding: Any, out: Any, argmax: Any) -> Any:
    """No work but ``argmax = 0``: the backward op checks its indices are in range.

    Returns ``out`` unwritten.
    """
    argmax.fill(0)
    return out


def maxpool2d_backward(*args: Any) -> None:
    """No work."""


def avgpool2d_forward(*args: Any) -> Any:
    """No work: returns ``out`` (the last argument) unwritten."""
    return args[-1]


def avgpool2d_backward(*args: Any) -> None:
    """No work."""
