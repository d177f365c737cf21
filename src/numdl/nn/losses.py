"""Losses from logits (textbook ch. 6), with their gradients in the same call.

Working from logits rather than probabilities keeps the losses finite and accurate: the
multiclass loss goes through log-softmax (eq. 10), the binary one through softplus (eq. 11).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from numdl.core.ops import cross_entropy
from numdl.core.validation import check_float_array, check_same_dtype, check_shape
from numdl.math.numerics import sigmoid, softplus
from numdl.nn.buffers import mark_written, track

__all__ = ["SoftmaxCrossEntropy", "binary_cross_entropy", "cross_entropy"]


def binary_cross_entropy(logits: Any, targets: Any, *, return_grad: bool = False) -> Any:
    """Mean binary cross-entropy from logits z with targets t ∈ [0, 1].

    ℓ(z, t) = −t log σ(z) − (1 − t) log(1 − σ(z)) = softplus(z) − t z, computed with the
    stable softplus (eq. 11); dℓ/dz = (σ(z) − t)/N for the mean over N entries.

    Parameters
    ----------
    logits : array, float32 or float64, any shape
    targets : array of the same shape and dtype, values in [0, 1]
    return_grad : bool, default False

    Returns
    -------
    loss : scalar of the logits' dtype
    grad : array like ``logits``
        Only when ``return_grad``.
    """
    z = check_float_array(logits, "logits")
    t = check_float_array(targets, "targets")
    check_same_dtype(t, "targets", z, "logits")
    check_shape(t, "targets", z.shape)
    if z.size == 0:
        raise ValueError("logits must not be empty")
    if bool(((t < 0) | (t > 1)).any()):
        raise ValueError("targets must lie in [0, 1]")
    loss = z.dtype.type(np.mean(softplus(z) - t * z, dtype=np.float64))
    if not return_grad:
        return loss
    return loss, (sigmoid(z) - t) / z.dtype.type(z.size)


class SoftmaxCrossEntropy:
    """Mean softmax cross-entropy (eqs. 18–19) owning a reusable gradient buffer.

    Calling it returns the loss and dL/dlogits, computed in one pass by the active
    backend; the gradient buffer is reused across calls of the same shape, so a training
    loop allocates nothing per step. The returned gradient is overwritten by the next call.
    """

    def __init__(self) -> None:
        self._grad: Any = None

    def __call__(self, logits: Any, target: Any) -> tuple[Any, Any]:
        if (
            self._grad is None
            or self._grad.shape != getattr(logits, "shape", None)
            or (self._grad.dtype != getattr(logits, "dtype", None))
        ):
            self._grad = None
        else:  # about to be overwritten: a layer that saved it would see it in backward
            mark_written(self._grad, "a later call", self)
        loss, grad = cross_entropy(logits, target, return_grad=True, dlogits=self._grad)
        if grad is not self._grad:
            track(grad, self, "reusable gradient buffer")
            self._grad = grad
        return loss, grad
