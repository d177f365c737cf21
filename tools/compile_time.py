"""Compile time of the numba backend as a user meets it: the first float32 MNIST training step
(784-512-10, batch 256) in a fresh process, with an empty Numba cache and then with the cache
it filled; and filling the cache with every kernel (``numdl compile``). Usage: ``python
tools/compile_time.py [--repeats N]``. The asv suite tracks the same figures
(``benchmarks/startup.py``)."""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile

from numdl.bench.compile import first_step_seconds


def _spread(values: list[float]) -> str:
    return f"{statistics.median(values):.2f} s [{min(values):.2f}-{max(values):.2f}]"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3, help="fresh caches (default 3)")
    args = parser.parse_args()
    cold, warm, warm_total, fill1, fill2 = [], [], [], [], []
    for _ in range(args.repeats):
        with tempfile.TemporaryDirectory(prefix="numdl-numba-cache-") as cache:
            cold.append(first_step_seconds(cache)["step"])
            again = first_step_seconds(cache)
            warm.append(again["step"])
            warm_total.append(again["total"])
        for jobs, into in ((1, fill1), (2, fill2)):
            with tempfile.TemporaryDirectory(prefix="numdl-numba-cache-") as cache:
                into.append(_fill(cache, jobs))
    print(f"first float32 training step, empty cache: {_spread(cold)}")
    print(f"first float32 training step, cached:      {_spread(warm)}")
    print(f"import numdl + numba backend + first step, cached: {_spread(warm_total)}")
    print(f"numdl compile (every kernel, both dtypes), empty cache, 1 process:   {_spread(fill1)}")
    print(f"numdl compile (every kernel, both dtypes), empty cache, 2 processes: {_spread(fill2)}")


def _fill(cache: str, jobs: int) -> float:
    code = (
        "import time; t=time.perf_counter(); from numdl.bench.compile import compile_kernels; "
        f"compile_kernels(jobs={jobs}); print(time.perf_counter()-t)"
    )
    import os

    env = dict(os.environ, NUMBA_CACHE_DIR=cache)
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(done.stderr)
    return float(done.stdout.split()[-1])


if __name__ == "__main__":
    main()
