"""Shared float64 gradient checks for tests/nn: central differences and a relative-error bound.

Local to the tests (they do not depend on ``numdl.math.numerics``); the error is
‖analytic − numeric‖ / (‖analytic‖ + ‖numeric‖), at most :data:`GRAD_RTOL`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

GRAD_RTOL = 1e-6


def numeric_grad(f: Callable[[], float], x: np.ndarray, h: float = 1e-6) -> np.ndarray:
    """Central differences (f(x + h e_i) − f(x − h e_i)) / 2h, perturbing ``x`` in place."""
    g = np.zeros(x.shape)
    flat, gflat = x.reshape(-1), g.reshape(-1)
    assert np.shares_memory(flat, x)
    for i in range(flat.size):
        keep = flat[i]
        flat[i] = keep + h
        up = float(f())
        flat[i] = keep - h
        down = float(f())
        flat[i] = keep
        gflat[i] = (up - down) / (2 * h)
    return g


def rel_err(a: Any, b: Any) -> float:
    """‖a − b‖ / (‖a‖ + ‖b‖) in float64 (0 when both are zero)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    denom = np.linalg.norm(a) + np.linalg.norm(b)
    return float(np.linalg.norm(a - b) / denom) if denom > 0 else 0.0


def assert_grad(analytic: Any, numeric: np.ndarray, what: str) -> None:
    """rel_err(analytic, numeric) ≤ GRAD_RTOL, same shapes, and a non-zero numeric gradient."""
    analytic = np.asarray(analytic, dtype=np.float64)
    assert analytic.shape == numeric.shape, f"{what}: shape {analytic.shape} != {numeric.shape}"
    assert np.linalg.norm(numeric) > 0, f"{what}: degenerate check (zero gradient)"
    err = rel_err(analytic, numeric)
    assert err <= GRAD_RTOL, f"{what}: relative error {err:.2e}"
