"""Reference for the linear-layer family: Z = XW + b with optional ReLU, and its backward.

Kernels that must equal it: ``numdl_kernels.cpu.linear``, ``numdl_kernels.cuda.linear``.
"""

from __future__ import annotations

import numpy as np

__all__ = ["linear_backward", "linear_forward"]


def linear_forward(
    x: np.ndarray, w: np.ndarray, b: np.ndarray, relu: bool, out: np.ndarray
) -> np.ndarray:
    """Z = XW + b (eq. 13), then H = ReLU(Z) = max(0, Z) (eq. 17) when ``relu``.

    Shapes: x (B, D_in), w (D_in, D_out), b (D_out,), out (B, D_out). Returns ``out``.
    Backward needs only ``out``: the ReLU mask is ``out > 0``, which equals ``Z > 0``.
    """
    np.matmul(x, w, out=out)
    out += b
    if relu:
        np.maximum(out, 0, out=out)
    return out


def linear_backward(
    grad_out: np.ndarray,
    x: np.ndarray,
    w: np.ndarray,
    out: np.ndarray,
    relu: bool,
    dz: np.ndarray,
    dx: np.ndarray | None,
    dw: np.ndarray,
    db: np.ndarray,
) -> None:
    """dZ = dH ⊙ 1[H > 0]; dX = dZ Wᵀ (eq. 14); dW = Xᵀ dZ (eq. 15); db = Σ_i dZ_i (eq. 16).

    Shapes: grad_out, out, dz (B, D_out); x, dx (B, D_in); w, dw (D_in, D_out); db (D_out,).
    ``out`` is the forward output (used for the ReLU mask when ``relu``). ``dz`` receives the
    gradient before the activation and may be ``grad_out`` itself (masked in place);
    ``dx=None`` skips the input gradient (the first layer never needs it).
    """
    if relu:
        np.multiply(grad_out, out > 0, out=dz)
    elif dz is not grad_out:
        dz[...] = grad_out
    np.sum(dz, axis=0, out=db)
    np.matmul(x.T, dz, out=dw)
    if dx is not None:
        np.matmul(dz, w.T, out=dx)
