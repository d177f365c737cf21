"""Every hot-path op of the registry, on every backend, dtype and benchmark shape.

The parameters are the registry's cases (:data:`numdl.testing.registry.CASES`) × backend ×
dtype × shape name (``"mnist"``: what one MNIST training step does; ``"large"``:
cross-entropy over 2048 × 32000 logits, optimiser updates of 25M parameters). Inputs are
built in ``setup`` by the case's own generator, and ``setup`` calls the op once, so Numba
compilation (and CuPy/CUDA start-up) is never timed.

The in-place optimiser updates (``momentum_update``, ``adamw_update``, ``adam_update``, ...)
mutate their inputs, so repeated calls see drifting parameter values: the work per call is
the same, which is all the timing needs.
"""

from __future__ import annotations

import resource

import numpy as np

from numdl.testing.registry import CASES

from .common import BACKENDS, DTYPES, backend, case_inputs, chunked_case_inputs

SHAPES = ["mnist", "large"]


class TimeOps:
    """Seconds per call of one registry case (the op called on the backend module directly)."""

    params = (list(CASES), BACKENDS, DTYPES, SHAPES)
    param_names = ("case", "backend", "dtype", "shape")
    timeout = 600
    repeat = (1, 10, 10.0)  # at least 1 sample, at most 10, stop adding after 10 s

    def setup(self, case: str, backend_name: str, dtype: str, shape: str) -> None:
        self.case = CASES[case]
        self.module, xp, self.sync = backend(backend_name)
        self.inputs = case_inputs(self.case, dtype, self.case.shapes[shape], xp)
        self.case.call(self.module, self.inputs)  # warm-up: compile, first-touch the outputs
        self.sync()

    def time_op(self, case: str, backend_name: str, dtype: str, shape: str) -> None:
        self.case.call(self.module, self.inputs)
        self.sync()


def _maxrss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # kB on Linux


class MemCrossEntropy:
    """Memory of the fused cross-entropy (loss and gradient) vs the reference, 2048 × 32000.

    ``peakmem_`` is the process's peak RSS (interpreter, NumPy, the compiled kernels and the
    inputs, 2 × 262 MB, included); ``track_extra_bytes`` is how far the call itself raises the
    peak beyond what setup reached: the temporaries the implementation allocates. Both
    backends are imported and compiled first, at a tiny shape, so the baselines are equal.
    Host memory only: the CUDA backend's device memory is not measured here.
    """

    params = (["numpy", "numba"],)
    param_names = ("backend",)
    timeout = 300

    def setup(self, backend_name: str) -> None:
        case = CASES["cross_entropy_labels"]
        for name in ("numpy", "numba"):  # equal baselines: both imported and compiled
            module, xp, _ = backend(name)
            case.call(module, case_inputs(case, "float32", case.shapes["tiny"], xp))
        self.case = case
        self.module = backend(backend_name)[0]
        self.inputs = chunked_case_inputs(case, "float32", case.shapes["large"])
        np.asarray(self.inputs["dlogits"]).fill(0)  # first touch: counted in the baseline

    def peakmem_cross_entropy(self, backend_name: str) -> None:
        self.case.call(self.module, self.inputs)

    def track_extra_bytes(self, backend_name: str) -> int:
        before = _maxrss_bytes()
        self.case.call(self.module, self.inputs)
        return max(0, _maxrss_bytes() - before)

    track_extra_bytes.unit = "bytes"
