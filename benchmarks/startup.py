"""Start-up costs, each measured in a fresh interpreter: ``import numdl`` and the cold
compilation of every Numba kernel (an empty ``NUMBA_CACHE_DIR``, so nothing is loaded from
a cache)."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile

from .common import backend

_IMPORT = """
import time
t0 = time.perf_counter()
import numdl
print(time.perf_counter() - t0)
"""

# Every registry case once per dtype at its test shapes and at a "medium" shape of the form
# of "large" (large enough to take the kernels' parallel paths, small enough that running
# it costs nothing next to compiling), so every specialisation of every kernel is compiled.
_COMPILE = """
import math, time
import numpy as np
import numba
from numdl.testing.registry import CASES

def shapes(case):
    medium = list(case.shapes["large"])
    while math.prod(medium) > 1 << 18:
        i = medium.index(max(medium))
        medium[i] = max(1, medium[i] // 2)
    named = [case.shapes[k] for k in ("tiny", "small", "mnist")]
    return list(dict.fromkeys([*named, tuple(medium)]))

rng = np.random.default_rng(0)
work = [
    (case, case.make(rng, np.dtype(dtype), shape, "normal"))
    for dtype in ("float32", "float64")
    for case in CASES.values()
    for shape in shapes(case)
]
t0 = time.perf_counter()
import numdl_kernels.cpu as kernels
for case, inputs in work:
    case.call(kernels, inputs)
print(time.perf_counter() - t0)
"""


def _python(code: str, env: dict | None = None) -> float:
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"subprocess failed ({done.returncode}):\n{done.stderr}")
    return float(done.stdout.strip().splitlines()[-1])


def track_import_seconds() -> float:
    """``import numdl`` in a fresh interpreter (median of 5); Numba is not imported by it."""
    return statistics.median(_python(_IMPORT) for _ in range(5))


track_import_seconds.unit = "seconds"
track_import_seconds.timeout = 120


class NumbaColdCompile:
    """Compiling every kernel of the ``numba`` backend in both dtypes, from nothing."""

    timeout = 900
    unit = "seconds"

    def setup(self) -> None:
        backend("numba")  # NotImplementedError when Numba cannot be imported

    def track_cold_compile_seconds(self) -> float:
        with tempfile.TemporaryDirectory(prefix="numdl-numba-cache-") as cache:
            env = dict(os.environ, NUMBA_CACHE_DIR=cache)
            return _python(_COMPILE, env)


class FirstTrainingStep:
    """The first float32 MNIST training step in a fresh interpreter (numba backend), on an
    empty Numba cache and on the cache that run filled (:func:`numdl.bench.compile.
    first_step_seconds`); ``total``: ``import numdl`` + ``set_backend`` + the step."""

    timeout = 600
    unit = "seconds"

    def setup(self) -> None:
        backend("numba")

    def _run(self) -> tuple[dict, dict]:
        from numdl.bench.compile import first_step_seconds

        with tempfile.TemporaryDirectory(prefix="numdl-numba-cache-") as cache:
            return first_step_seconds(cache), first_step_seconds(cache)

    def track_cold_step_seconds(self) -> float:
        return self._run()[0]["step"]

    def track_cached_import_and_step_seconds(self) -> float:
        return self._run()[1]["total"]


class FillCache:
    """``numdl compile`` (every kernel, both dtypes, serial flavours) on an empty cache, in
    two processes (:func:`numdl.bench.compile.compile_kernels`)."""

    timeout = 900
    unit = "seconds"

    def setup(self) -> None:
        backend("numba")

    def track_fill_cache_two_jobs_seconds(self) -> float:
        from numdl.bench.compile import _fill_seconds

        with tempfile.TemporaryDirectory(prefix="numdl-numba-cache-") as cache:
            return _fill_seconds(cache, 2)
