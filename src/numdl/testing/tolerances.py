"""The one table of tolerances for backend equality, with its justification.

A kernel result ``a`` equals the reference ``r`` (same dtype) when, elementwise,

    |a − r| ≤ rtol·|r| + atol·max|r|,

NaN where the reference has NaN and the same infinities. ``atol`` is relative to the largest
magnitude of the array, so tiny entries next to large ones (softmax probabilities of 1e-30
beside 1) are judged on the array's scale, not their own.

Why these figures (u = unit roundoff: 2⁻²⁴ ≈ 6.0e-8 for float32, 2⁻⁵³ ≈ 1.1e-16 for float64):

* Elementwise kernels (bias + ReLU, optimiser updates) do the reference's operations in the
  same order, so they agree to a few ulp (fused multiply-add contraction may round once
  instead of twice).
* The vectorised exp is within 2 ulp of the correctly rounded exp (``tests/kernels``).
* Reductions (row sums of exp, the bias gradient, the batch mean of the loss) are summed in
  a different order than NumPy's pairwise summation: blocked lanes over rows of up to
  C = 32000 entries. Their relative error is bounded by about (C/lanes)·u in the worst case
  and ~√C·u typically: for float32 at C = 32000 that is ≈ 1e-5 typical, which rtol 1e-4 and
  atol 1e-5 cover with margin; for float64 the same reasoning gives ≈ 1e-14, covered by
  1e-10 / 1e-12 (loose enough for any summation order, tight enough to catch a wrong term).
* GEMMs come from the same BLAS on both sides, but threading may split them differently.

Training over many steps amplifies rounding differences (the loss surface is chaotic in
the last bits), so whole-training comparisons have their own, stated looser entry.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["TOLERANCES", "TRAINING_TOLERANCES", "Tolerance", "assert_backend_close"]


@dataclass(frozen=True)
class Tolerance:
    rtol: float
    atol: float  # relative to max|reference|


#: Single-op backend equality, per dtype.
TOLERANCES: dict[np.dtype, Tolerance] = {
    np.dtype(np.float32): Tolerance(rtol=1e-4, atol=1e-5),
    np.dtype(np.float64): Tolerance(rtol=1e-10, atol=1e-12),
    # integer outputs (max pooling's argmax indices) are exact: the tie and NaN rules decide
    # which entry is chosen, so any difference is a wrong index, not rounding
    np.dtype(np.int64): Tolerance(rtol=0.0, atol=0.0),
}

#: Parameters after 50 training steps on two backends (float32 rounding differences grow
#: step by step; float64 stays ~1e-12 so 1e-8 leaves room for 50 steps of growth).
TRAINING_TOLERANCES: dict[np.dtype, Tolerance] = {
    np.dtype(np.float32): Tolerance(rtol=2e-3, atol=2e-4),
    np.dtype(np.float64): Tolerance(rtol=1e-8, atol=1e-10),
}


def assert_backend_close(
    actual: np.ndarray,
    reference: np.ndarray,
    *,
    name: str = "result",
    table: dict[np.dtype, Tolerance] = TOLERANCES,
) -> None:
    """Assert ``actual`` equals ``reference`` within the dtype's tolerance from ``table``."""
    actual = np.asarray(actual)
    reference = np.asarray(reference)
    if actual.shape != reference.shape:
        raise AssertionError(f"{name}: shape {actual.shape} != reference {reference.shape}")
    if actual.dtype != reference.dtype:
        raise AssertionError(f"{name}: dtype {actual.dtype} != reference {reference.dtype}")
    tol = table[reference.dtype]
    nan_ref, nan_act = np.isnan(reference), np.isnan(actual)
    if not np.array_equal(nan_ref, nan_act):
        idx = np.argwhere(nan_ref != nan_act)[:5].tolist()
        raise AssertionError(f"{name}: NaN positions differ from the reference, e.g. at {idx}")
    inf_ref = np.isinf(reference)
    if not np.array_equal(inf_ref, np.isinf(actual)) or not np.array_equal(
        reference[inf_ref], actual[inf_ref]
    ):
        raise AssertionError(f"{name}: infinities differ from the reference")
    finite = ~(nan_ref | inf_ref)
    if not finite.any():
        return
    r = reference[finite].astype(np.float64)
    a = actual[finite].astype(np.float64)
    bound = tol.rtol * np.abs(r) + tol.atol * np.abs(r).max()
    err = np.abs(a - r)
    if (err > bound).any():
        worst = int(np.argmax(err - bound))
        raise AssertionError(
            f"{name}: {int((err > bound).sum())} of {r.size} entries differ beyond "
            f"rtol={tol.rtol}, atol={tol.atol}·max|ref| ({reference.dtype}); worst: "
            f"{a[worst]!r} vs reference {r[worst]!r}"
        )
