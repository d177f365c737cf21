"""Inverted dropout (Srivastava et al. 2014; textbook ch. 7.12).

The mask is drawn on the host from a NumPy generator the layer owns, so every backend (the
NumPy reference, the Numba kernels, CUDA) applies the very same mask for the same seed.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from numdl.core import backend as _backend
from numdl.core.validation import as_array, as_generator, check_bool, check_in_range
from numdl.nn.layers.base import Layer

__all__ = ["Dropout"]


class Dropout(Layer):
    """Inverted dropout: y = x ⊙ m/(1 − p), m_ij ~ Bernoulli(1 − p), in training mode only.

    Each unit is kept with probability 1 − p and the kept ones are scaled by 1/(1 − p), so
    E[y] = x and evaluation mode is the identity (Srivastava et al. 2014, sec. 10, "inverted"
    so that nothing is rescaled at test time). Backward: dx = dy ⊙ m/(1 − p), the same mask.

    The mask is ``u >= p`` for u uniform on [0, 1) drawn as float32 from the layer's
    generator, one draw of shape (B, F) per training-mode forward: the same masks for float32
    and float64 models and on every backend.

    Parameters
    ----------
    p : float in [0, 1), default 0.5
        Probability of dropping a unit; 0 is the identity.
    seed : int >= 0 or numpy Generator, default 0
        The generator of the masks (a Generator is used, and advanced, as given).

    Raises
    ------
    TypeError
        If ``p`` is not a real number or ``seed`` not an integer or Generator.
    ValueError
        If ``p`` is outside [0, 1) or ``seed`` is negative.
    """

    elementwise = True

    def __init__(self, p: float = 0.5, *, seed: Any = 0) -> None:
        self.p = check_in_range(p, "p", 0.0, 1.0)
        self.rng = as_generator(seed, "seed")

    def __repr__(self) -> str:
        return f"Dropout({self.p})"

    def set_generator(self, rng: Any) -> None:
        """Draw the masks from ``rng`` (a Generator, or an integer seed) from now on."""
        self.rng = as_generator(rng, "rng")

    def forward(self, x: Any, *, train: bool = True) -> Any:
        """x ⊙ m/(1 − p) with a new mask m in training mode; ``x`` itself in evaluation mode."""
        if type(x) is not np.ndarray:
            x = as_array(x, "x")
        if train is not True and not check_bool(train, "train"):
            return x
        if x.dtype.kind != "f":
            raise TypeError(f"x must have dtype float32 or float64, got {x.dtype}")
        xp = _backend.current().xp
        keep = self.rng.random(x.shape, dtype=np.float32) >= self.p
        scale = xp.asarray(x.dtype.type(1 / (1 - self.p)))
        mask = self.buffer("mask", x.shape, x.dtype)
        out = self.buffer("out", x.shape, x.dtype)
        xp.multiply(xp.asarray(keep), scale, out=mask)
        xp.multiply(x, mask, out=out)
        self.save_for_backward(mask=mask)
        return out

    def backward(self, grad: Any, *, compute_dx: bool = True, overwrite_grad: bool = False) -> Any:
        """dL/dx = dL/dy ⊙ m/(1 − p) with the mask of the last training-mode forward."""
        mask = self.saved_for_backward()["mask"]
        compute_dx = check_bool(compute_dx, "compute_dx")
        overwrite_grad = check_bool(overwrite_grad, "overwrite_grad")
        grad = as_array(grad, "grad")
        if grad.dtype != mask.dtype:
            raise TypeError(
                f"grad must have dtype {mask.dtype} (the layer's last input's), got {grad.dtype}"
            )
        if grad.shape != mask.shape:
            raise ValueError(
                f"grad must have shape {mask.shape} (the shape of the last training-mode output "
                f"of {self.describe()}), got {grad.shape}"
            )
        if not compute_dx:
            return None
        grad, scratch = self.take_grad(grad, overwrite_grad)
        xp = _backend.current().xp
        dx = grad if scratch else self.buffer("dx", grad.shape, grad.dtype)
        xp.multiply(grad, mask, out=dx)
        return dx
