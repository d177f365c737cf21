"""Where the MNIST training step's time goes, tracked over commits (``numdl.bench.breakdown``).

One breakdown run (40 steps of the Table 1 model on real MNIST, one round) in ``setup_cache``;
each benchmark reports one row of it, in µs per step, per backend: every GEMM, fused pass,
the loss, the update, gathering, Python and dispatch (a null backend), what lies between
the BLAS calls, what the parts leave unaccounted, and the whole step. Needs the real MNIST
files, like the other training benchmarks; skipped without them.
"""

from __future__ import annotations

from numdl.bench.breakdown import PARTS, bench_breakdown
from numdl.bench.ops import backend_modules

from .common import load_real_mnist

DERIVED = {
    "Python and dispatch": "dispatch_us",
    "between BLAS calls": "between_blas_us",
    "unaccounted": "unaccounted_us",
    "step with gathering": "epoch_step_us",
    "GEMM floor": "gemm_floor_us",
}


class StepBreakdown:
    """µs per training step of one part, per backend (``numdl bench --only breakdown``)."""

    params = (["numba", "numpy"], [*PARTS, *DERIVED])
    param_names = ("backend", "part")
    timeout = 900
    unit = "microseconds"

    def setup_cache(self) -> dict:
        try:
            load_real_mnist()
        except NotImplementedError as exc:
            return {"skip": str(exc)}  # not None: asv passes a cache to setup only when set
        return bench_breakdown(backend_modules(), None, repeats=1, max_steps=40)["summary"]

    def setup(self, summary: dict, backend: str, part: str) -> None:
        if "skip" in summary:
            raise NotImplementedError(summary["skip"])
        if backend not in summary:
            raise NotImplementedError(f"backend {backend!r} is not available here")

    def track_us_per_step(self, summary: dict, backend: str, part: str) -> float:
        row = summary[backend]
        return row["parts_us"][part] if part in row["parts_us"] else row[DERIVED[part]]
