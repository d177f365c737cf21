"""Filling Numba's cache ahead of time (``numdl compile``): every kernel of the ``numba``
backend, in each dtype (and, on request, in its parallel flavour), so that no run compiles.

Every registry case (:data:`numdl.testing.registry.CASES`) is called once per dtype on its
"tiny" inputs, with the kernels' serial paths (and then, with ``parallel``, with their
parallel paths forced by ``set_parallel_min_size(0)``): a kernel's specialisations depend on the
argument types (dtype, layout, flags), not on the sizes, so this compiles every
specialisation a run can reach. Numba writes each one to its on-disk cache (``cache=True``)
— next to the installed kernels when that directory is writable, else in the per-user
cache directory, or in ``NUMBA_CACHE_DIR`` when set.

With ``jobs > 1`` the kernel families (one module each: linear, softmax, optim, gather,
normalization, conv, pooling) compile in that many processes at once. They share no
compiled function, so no two processes write the same cache entry; were they to (two runs
started together), Numba replaces index files atomically and the loser of the race only
recompiles later
(``tests/kernels/test_cache_concurrency.py``).
"""

from __future__ import annotations

import concurrent.futures
import multiprocessing
import time
from collections import defaultdict
from typing import Any

import numpy as np

__all__ = ["compile_kernels"]

DTYPES = ("float32", "float64")


def _families() -> dict[str, list[str]]:
    """Registry case names grouped by the kernel module that implements their op."""
    import numdl_kernels.cpu as kernels
    from numdl.testing.registry import CASES

    groups: dict[str, list[str]] = defaultdict(list)
    for name, case in CASES.items():
        groups[getattr(kernels, case.op).__module__].append(name)
    return dict(groups)


def _dispatchers(module_names: list[str]) -> list[Any]:
    """Every Numba dispatcher defined in the kernel modules ``module_names`` (also those held
    in (serial, parallel) tuples, as softmax, conv and pooling keep theirs)."""
    import importlib

    from numba.core.dispatcher import Dispatcher

    found = []
    for module_name in module_names:
        module = importlib.import_module(module_name)
        for value in vars(module).values():
            items = value if isinstance(value, tuple) else (value,)
            found += [v for v in items if isinstance(v, Dispatcher)]
    return found


def _compile_cases(
    case_names: list[str], dtypes: tuple[str, ...], parallel: bool
) -> dict[str, Any]:
    """Call ``case_names`` on the numba kernels in each dtype (serial, then parallel paths)."""
    import numdl_kernels.cpu as kernels
    from numdl.testing.registry import CASES
    from numdl_kernels.cpu._threads import set_parallel_min_size

    t0 = time.perf_counter()
    rng = np.random.default_rng(0)
    modules = sorted({getattr(kernels, CASES[n].op).__module__ for n in case_names})
    for forced in (False, True) if parallel else (False,):
        previous = set_parallel_min_size(0) if forced else None
        try:
            for dtype in dtypes:
                for name in case_names:
                    case = CASES[name]
                    inputs = case.make(rng, np.dtype(dtype), case.shapes["tiny"], "normal")
                    case.call(kernels, inputs)
        finally:
            if previous is not None:
                set_parallel_min_size(previous)
    compiled = loaded = 0
    cache_dirs = set()
    for d in _dispatchers(modules):
        hits = sum(d.stats.cache_hits.values())
        loaded += hits
        compiled += len(d.signatures) - hits
        if d.stats.cache_path:
            cache_dirs.add(d.stats.cache_path)
    return {
        "seconds": time.perf_counter() - t0,
        "compiled": compiled,
        "loaded": loaded,
        "cache_dirs": sorted(cache_dirs),
    }


def compile_kernels(
    dtypes: tuple[str, ...] = DTYPES, jobs: int = 1, *, parallel: bool = False
) -> dict[str, Any]:
    """Compile (or load from the cache) every numba kernel in ``dtypes``, in ``jobs`` processes;
    with ``parallel`` also the kernels' parallel flavours (``prange``, used only on buffers of
    at least :func:`~numdl_kernels.cpu._threads.parallel_min_size` elements; several times
    dearer to compile than the serial ones).

    Returns the wall-clock ``seconds``, the specialisations ``compiled`` and ``loaded`` from
    the cache (only dispatchers that were called count), and the ``cache_dirs`` written.
    """
    families = _families()
    t0 = time.perf_counter()
    if jobs <= 1:
        parts = [_compile_cases([n for g in families.values() for n in g], dtypes, parallel)]
    else:
        # the heaviest family (softmax's exp kernels) first, the others shared out after it
        ordered = sorted(families.values(), key=len, reverse=True)
        context = multiprocessing.get_context("spawn")
        with concurrent.futures.ProcessPoolExecutor(min(jobs, len(ordered)), context) as pool:
            futures = [pool.submit(_compile_cases, g, dtypes, parallel) for g in ordered]
            parts = [f.result() for f in futures]
    return {
        "seconds": time.perf_counter() - t0,
        "compiled": sum(p["compiled"] for p in parts),
        "loaded": sum(p["loaded"] for p in parts),
        "cache_dirs": sorted({d for p in parts for d in p["cache_dirs"]}),
        "jobs": max(1, min(jobs, len(families))),
        "dtypes": list(dtypes),
    }


#: A fresh interpreter's first float32 MNIST-shaped training step (784-512-10, batch 256,
#: momentum SGD) on the numba backend; prints the seconds of ``import numdl`` and
#: ``set_backend``, of the first step, and of both together.
FIRST_STEP = """
import time
t0 = time.perf_counter()
import numpy as np
import numdl
from numdl.nn.losses import SoftmaxCrossEntropy
from numdl.nn.models import MLP
from numdl.optim import make_optimizer

numdl.set_backend("numba")
t1 = time.perf_counter()
rng = np.random.default_rng(0)
data = rng.random((1024, 784), dtype=np.float32)
y = rng.integers(0, 10, 256)
model = MLP([784, 512, 10])
opt = make_optimizer("momentum", model.params, lr=0.01, weight_decay=1e-4)
t2 = time.perf_counter()
x = numdl.take_rows(data, rng.permutation(1024)[:256])
loss, dlogits = SoftmaxCrossEntropy()(model.forward(x), y)
model.backward(dlogits, overwrite_grad=True)
opt.step()
t3 = time.perf_counter()
print(t1 - t0, t3 - t2, (t1 - t0) + (t3 - t2))
"""


def _fresh(script: str, cache_dir: str, *args: str, count: int) -> list[float]:
    """Run ``script`` in a fresh interpreter with ``NUMBA_CACHE_DIR=cache_dir``; the last
    ``count`` numbers it printed (a compilation that hangs fails after 10 minutes)."""
    import os
    import subprocess
    import sys

    env = dict(os.environ, NUMBA_CACHE_DIR=cache_dir)
    done = subprocess.run(
        [sys.executable, "-c", script, *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    if done.returncode != 0:
        raise RuntimeError(f"a start-up measurement failed ({done.returncode}):\n{done.stderr}")
    return [float(v) for v in done.stdout.split()[-count:]]


def first_step_seconds(cache_dir: str) -> dict[str, float]:
    """:data:`FIRST_STEP` in a fresh interpreter with ``NUMBA_CACHE_DIR=cache_dir``: seconds of
    ``import`` (numdl, and the numba backend with it), of the ``step``, and ``total``."""
    imported, step, total = _fresh(FIRST_STEP, cache_dir, count=3)
    return {"import": imported, "step": step, "total": total}


#: ``numdl train``'s way to its first step, in a fresh interpreter: (optionally) start the
#: warm-up, read MNIST, build Table 1's model, gather a batch, one step. Prints the seconds
#: from the start to the data being loaded, and to the end of the first step.
TRAIN_FIRST_STEP = """
import sys, time
t0 = time.perf_counter()
import numpy as np
import numdl
from numdl.app.config import TrainConfig
from numdl.app.training import build
from numdl.app.warmup import start_warm_up
from numdl.data import load_mnist
from numdl.nn.losses import SoftmaxCrossEntropy

config = TrainConfig()
with numdl.use_backend("numba"):
    if sys.argv[2] == "warm-up":
        start_warm_up(config, "numba")
    dataset = load_mnist(sys.argv[1], download=False, progress=False)
    x = np.asarray(dataset.train.X, dtype=np.float32)
    y = np.asarray(dataset.train.y)
    t1 = time.perf_counter()
    model, optimizer, _ = build(config, x.shape[1], dataset.n_classes, 215)
    index = np.random.default_rng(0).permutation(x.shape[0])[:256]
    loss, dlogits = SoftmaxCrossEntropy()(model.forward(numdl.take_rows(x, index)), y[index])
    model.backward(dlogits, overwrite_grad=True)
    optimizer.step()
print(t1 - t0, time.perf_counter() - t0)
"""


def train_first_step_seconds(cache_dir: str, data_dir: str, warm_up: bool) -> dict[str, float]:
    """:data:`TRAIN_FIRST_STEP` in a fresh interpreter: seconds to the data being ``loaded``
    and to the end of the ``first_step``, with or without the background warm-up."""
    mode = "warm-up" if warm_up else "-"
    loaded, first = _fresh(TRAIN_FIRST_STEP, cache_dir, data_dir, mode, count=2)
    return {"loaded": loaded, "first_step": first}


def bench_startup(repeats: int, data_dir: str | None = None) -> dict[str, Any]:
    """Start-up figures, each on fresh interpreters and empty caches, ``repeats`` times: the
    first float32 training step cold and cached (:func:`first_step_seconds`), filling the
    cache with every kernel in both dtypes in one and in two processes, and (with MNIST in
    ``data_dir``) ``numdl train``'s time to its first step with and without the warm-up."""
    import tempfile

    from numdl.bench.timing import log

    cold: list[float] = []
    cached: list[float] = []
    fill: dict[int, list[float]] = {1: [], 2: []}
    for r in range(repeats):
        log(f"  start-up round {r + 1}/{repeats}")
        with tempfile.TemporaryDirectory(prefix="numdl-numba-cache-") as cache:
            cold.append(first_step_seconds(cache)["step"])
            cached.append(first_step_seconds(cache)["total"])
        for jobs, into in fill.items():
            with tempfile.TemporaryDirectory(prefix="numdl-numba-cache-") as cache:
                into.append(_fill_seconds(cache, jobs))
    out: dict[str, Any] = {
        "first_step_cold_s": cold,
        "import_and_first_step_cached_s": cached,
        "fill_cache_1_job_s": fill[1],
        "fill_cache_2_jobs_s": fill[2],
    }
    if data_dir is not None:  # numdl train's way to its first step, with and without warm-up
        for warm in (False, True):
            runs = []
            for _ in range(repeats):
                with tempfile.TemporaryDirectory(prefix="numdl-numba-cache-") as cache:
                    runs.append(train_first_step_seconds(cache, data_dir, warm))
            key = "train_first_step_" + ("warm_up" if warm else "no_warm_up")
            out[key + "_s"] = [r["first_step"] for r in runs]
            out[key + "_data_loaded_s"] = [r["loaded"] for r in runs]
    return out


def _fill_seconds(cache_dir: str, jobs: int) -> float:
    """:func:`compile_kernels` from a fresh interpreter into ``cache_dir`` (wall seconds)."""
    code = (
        "import time; t = time.perf_counter()\n"
        "from numdl.bench.compile import compile_kernels\n"
        f"compile_kernels(jobs={jobs})\n"
        "print(time.perf_counter() - t)\n"
    )
    return _fresh(code, cache_dir, count=1)[0]
