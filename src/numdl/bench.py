"""Side by side: numdl's NumPy reference, its Numba kernels and PyTorch CPU, against the machine.

``numdl bench`` (or ``python -m numdl.bench``) measures, in one process and on the same
inputs:

* every hot-path case of the op registry (:data:`numdl.testing.registry.CASES`) at its
  ``"mnist"`` and ``"large"`` shapes on the ``numpy`` backend (the reference), the ``numba``
  backend and, when it is installed, PyTorch CPU doing the same mathematics
  (``F.linear`` + ``relu`` with autograd, ``F.cross_entropy`` forward + ``autograd.grad``,
  ``torch.logsumexp`` / ``log_softmax``, ``torch.optim.SGD``/``AdamW`` with ``foreach=True``
  on one flat parameter);
* the machine's limits in the same run: memory bandwidth with all threads (STREAM-like
  copy, triad and in-place axpy in Numba ``prange`` loops, counting bytes read + written)
  and the GEMM rate (a 2048³ GEMM and the MNIST-shaped ones), so each op is also reported
  as a fraction of its roofline: ``bytes_moved / bandwidth`` for the memory-bound ops, the
  same GEMMs timed bare (on the same operands) for the linear layers;
* one MNIST training epoch (784-512-10 ReLU MLP, batch 256, momentum SGD lr 0.2 β 0.9,
  weight decay 1e-4 on the weights, float32) on numdl-numba, numdl-numpy and PyTorch
  (``nn.Sequential(Linear, ReLU, Linear)``, ``CrossEntropyLoss``, ``SGD(foreach=True)``,
  initialised with the same weights, fed the same batches gathered the same way), against
  the GEMM floor: the five matrix products of each step alone, over the same batches.

Timing: every implementation of one item is timed in turn, round after round (in a seeded
shuffled order each round), so a busy machine slows them alike; each sample is the mean of
enough calls to last ``min_sample`` seconds; the figure is the median over rounds, with the
min–max spread. Warm-up calls (JIT compilation, first touch of the outputs) come first and
are never timed. All libraries run with the same thread count (``--threads``, default: the
number of Numba threads, i.e. all cores).

The in-place optimiser updates mutate their inputs on every call; the work per call does
not change, which is all a timing needs. PyTorch's SGD/AdamW decay every entry of the
flat parameter, numdl the first ``n_decayed`` (the weights): the same memory traffic.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import math
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["Timing", "add_arguments", "main", "run", "run_from_args", "time_interleaved"]

#: Memory-bound cases moving at least this many bytes are DRAM-bound (beyond any cache);
#: smaller ones (the "mnist" shapes) run from cache and can beat the DRAM roofline.
DRAM_BYTES = 64 * 2**20

#: The registry's shape names measured here (a "large" equal to "mnist" is measured once).
SHAPE_NAMES = ("mnist", "large")
IMPLS = ("numpy", "numba", "torch")


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------- timing
@dataclass
class Timing:
    """Seconds per call: one sample per round (each the mean of ``number`` calls)."""

    samples: list[float]
    number: int

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def min(self) -> float:
        return min(self.samples)

    @property
    def max(self) -> float:
        return max(self.samples)

    def to_json(self) -> dict[str, Any]:
        return {
            "median_s": self.median,
            "min_s": self.min,
            "max_s": self.max,
            "number": self.number,
            "samples_s": self.samples,
        }


@contextlib.contextmanager
def _gc_off() -> Iterator[None]:
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _round_order(names: list[str], round_index: int) -> list[str]:
    """A seeded shuffle per round: no implementation always follows the same other one
    (another library's threads may still be spinning when the next one starts)."""
    order = np.random.default_rng([12345, round_index]).permutation(len(names))
    return [names[i] for i in order]


def time_interleaved(
    fns: dict[str, Callable[[], Any]], repeats: int, min_sample: float = 0.05
) -> dict[str, Timing]:
    """Time each callable ``repeats`` times, interleaved round by round, after a warm-up.

    Each sample is the mean over ``number`` back-to-back calls, ``number`` chosen per
    callable (from its warm-up call) so that a sample lasts at least ``min_sample`` s; a
    short callable gets one untimed call before each sample. The order is shuffled (seeded)
    every round.
    """
    names = list(fns)
    numbers: dict[str, int] = {}
    for name in names:
        fns[name]()  # warm-up: compilation, caches, first touch
        t0 = time.perf_counter()
        fns[name]()
        once = time.perf_counter() - t0
        numbers[name] = max(1, min(100_000, math.ceil(min_sample / max(once, 1e-9))))
    samples: dict[str, list[float]] = {name: [] for name in names}
    with _gc_off():
        for r in range(repeats):
            for name in _round_order(names, r):
                fn, number = fns[name], numbers[name]
                if number > 1:
                    fn()  # untimed: wakes this library's threads after another's ran
                t0 = time.perf_counter()
                for _ in range(number):
                    fn()
                samples[name].append((time.perf_counter() - t0) / number)
    return {name: Timing(samples[name], numbers[name]) for name in names}


# ------------------------------------------------------------------------- the machine
def _cpu_seconds() -> tuple[float, float, float] | None:
    """(all CPUs' busy seconds, their steal seconds, this process's CPU seconds), or None."""
    import resource

    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
        ticks = [int(v) for v in fields]
    except (OSError, ValueError, IndexError):
        return None
    hz = os.sysconf("SC_CLK_TCK")
    user, nice, system, _idle, _iowait, irq, softirq = ticks[:7]
    steal = ticks[7] if len(ticks) > 7 else 0
    own = resource.getrusage(resource.RUSAGE_SELF)
    return (user + nice + system + irq + softirq) / hz, steal / hz, own.ru_utime + own.ru_stime


def other_load(start: tuple | None, stop: tuple | None, seconds: float) -> dict[str, Any] | None:
    """Share of the machine's CPU time that other processes (and the hypervisor) took."""
    if start is None or stop is None or seconds <= 0:
        return None
    cpus = os.cpu_count() or 1
    busy, steal, own = (b - a for a, b in zip(start, stop, strict=True))
    return {
        "wall_s": seconds,
        "other_processes": max(0.0, busy - own) / (seconds * cpus),
        "steal": steal / (seconds * cpus),
    }


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _memory_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 2**20
    except (OSError, ValueError):
        pass
    return None


def _blas_description() -> str:
    try:
        from threadpoolctl import threadpool_info

        blas = [
            f"{i.get('internal_api')} {i.get('version')} ({i.get('threading_layer', '?')}, "
            f"{i.get('architecture', '?')}, {i.get('num_threads')} threads)"
            for i in threadpool_info()
            if i.get("user_api") == "blas"
        ]
        if blas:
            return "; ".join(dict.fromkeys(blas))
    except ImportError:
        pass
    try:
        deps = np.show_config(mode="dicts")["Build Dependencies"]  # type: ignore[index]
        blas = deps["blas"]
        return f"{blas.get('name')} {blas.get('version')} (from numpy.show_config)"
    except Exception:  # older NumPy: no mode="dicts"
        return "unknown (install threadpoolctl)"


def machine_info(threads: int, torch: Any) -> dict[str, Any]:
    """Cores, CPU, memory, BLAS and library versions, for the report's header."""
    import numba

    import numdl

    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    info: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "host": platform.node(),
        "platform": platform.platform(),
        "cpu": _cpu_model(),
        "logical_cpus": os.cpu_count(),
        "usable_cpus": usable,
        "memory_gib": _memory_gib(),
        "threads": threads,
        "blas": _blas_description(),
        "python": platform.python_version(),
        "numdl": numdl.__version__,
        "numpy": np.__version__,
        "numba": numba.__version__,
        "numba_threading_layer": None,
        "torch": None,
        "torch_blas": None,
    }
    if torch is not None:
        info["torch"] = torch.__version__
        for part in torch.__config__.show().replace(",", "\n").splitlines():
            if "BLAS_INFO" in part:
                info["torch_blas"] = part.split("=", 1)[1].strip()
        info["torch_threads"] = torch.get_num_threads()
    return info


def _stream_kernels() -> dict[str, Callable]:
    import numba

    @numba.njit(parallel=True)
    def copy(a, b, c, d, s):  # pragma: no cover - compiled
        for i in numba.prange(a.size):
            b[i] = a[i]

    @numba.njit(parallel=True)
    def triad(a, b, c, d, s):  # pragma: no cover - compiled
        for i in numba.prange(a.size):
            a[i] = b[i] + s * c[i]

    @numba.njit(parallel=True)
    def axpy(a, b, c, d, s):  # pragma: no cover - compiled
        for i in numba.prange(a.size):
            a[i] += s * b[i]

    @numba.njit(parallel=True)
    def update(a, b, c, d, s):  # pragma: no cover - compiled
        for i in numba.prange(a.size):
            v = s * c[i] + b[i]
            c[i] = v
            a[i] -= s * v

    return {"copy": copy, "triad": triad, "axpy": axpy, "update": update}


#: Bytes each STREAM-like kernel reads + writes per element (write-allocate not counted).
_STREAM_BYTES_PER_ELEMENT = {"copy": 2, "triad": 3, "axpy": 3, "update": 5}
_STREAM_TEXT = {
    "copy": "copy b = a",
    "triad": "triad a = b + s·c",
    "axpy": "in-place axpy a += s·b",
    "update": "in-place update c = s·c + b; a −= s·c (a momentum step's pattern)",
}


class BandwidthProbe:
    """STREAM-like kernels (Numba ``prange``, all threads) over float32 arrays of ``n``.

    ``copy`` and ``triad`` are STREAM's; ``axpy`` and ``update`` work in place (every array
    written is also read, so there is no write-allocate traffic the count leaves out), the
    access pattern of optimiser updates. Bandwidth counts bytes read + written, as the
    registry's ``bytes_moved`` does. The roofline bandwidth is the best of the four.
    """

    def __init__(self, n: int) -> None:
        self.n = n
        self.kernels = _stream_kernels()
        self.arrays = [np.full(n, v, np.float32) for v in (1.0, 2.0, 0.5, 0.25)]
        self.scale = np.float32(1e-3)
        small = [a[:8] for a in self.arrays]
        for kernel in self.kernels.values():
            kernel(*small, np.float32(0))  # compile

    def fns(self) -> dict[str, Callable[[], Any]]:
        return {
            f"stream {name}": (lambda k=kernel: k(*self.arrays, self.scale))
            for name, kernel in self.kernels.items()
        }

    def bytes(self, name: str) -> int:
        return _STREAM_BYTES_PER_ELEMENT[name] * self.n * 4

    def rates(self, timings: dict[str, Timing]) -> dict[str, dict[str, Any]]:
        """GB/s of each kernel from ``timings`` (keys ``"stream <name>"``)."""
        out = {}
        for name in self.kernels:
            t = timings[f"stream {name}"]
            out[name] = {
                "bytes": self.bytes(name),
                "gb_per_s": self.bytes(name) / t.median / 1e9,
                "gb_per_s_best_sample": self.bytes(name) / t.min / 1e9,
                "timing": t.to_json(),
            }
        return out

    def measure(self, repeats: int) -> dict[str, Any]:
        rates = self.rates(time_interleaved(self.fns(), repeats, min_sample=0.0))
        best = max(rates, key=lambda k: rates[k]["gb_per_s"])
        return {
            "n": self.n,
            "dtype": "float32",
            "kernels": rates,
            "roofline_kernel": best,
            "gb_per_s": rates[best]["gb_per_s"],
        }


#: The matrix products of one MNIST step (784-512-10, batch 256): name → (m, k, n, layout).
MNIST_GEMMS: dict[str, tuple[int, int, int]] = {
    "X @ W1": (256, 784, 512),
    "X^T @ dZ1": (784, 256, 512),
    "H @ W2": (256, 512, 10),
    "H^T @ dZ2": (512, 256, 10),
    "dZ2 @ W2^T": (256, 10, 512),
}


def measure_gemm(repeats: int, big: int, dtype: Any, min_sample: float) -> dict[str, Any]:
    """GFLOP/s of a ``big``³ GEMM and of the MNIST-shaped ones (NumPy's BLAS, ``np.matmul``)."""
    rng = np.random.default_rng(0)
    dtype = np.dtype(dtype)
    a = rng.standard_normal((big, big)).astype(dtype)
    b = rng.standard_normal((big, big)).astype(dtype)
    c = np.empty((big, big), dtype)
    result: dict[str, Any] = {}
    t = time_interleaved({"big": lambda: np.matmul(a, b, out=c)}, repeats, min_sample)["big"]
    flops = 2 * big**3
    result[f"{big}^3"] = {"shape": [big, big, big], "gflop_per_s": flops / t.median / 1e9}
    result[f"{big}^3"]["timing"] = t.to_json()
    fns = {}
    for name, (m, k, n) in MNIST_GEMMS.items():
        transposed = "^T @" in name
        lhs = rng.standard_normal((k, m) if transposed else (m, k)).astype(dtype)
        lhs = lhs.T if transposed else lhs
        rhs = rng.standard_normal((k, n)).astype(dtype)
        if name.endswith("^T"):
            rhs = rng.standard_normal((n, k)).astype(dtype).T
        out = np.empty((m, n), dtype)
        fns[name] = lambda lhs=lhs, rhs=rhs, out=out: np.matmul(lhs, rhs, out=out)
    for name, t in time_interleaved(fns, repeats, min_sample).items():
        m, k, n = MNIST_GEMMS[name]
        result[name] = {
            "shape": [m, k, n],
            "gflop_per_s": 2 * m * k * n / t.median / 1e9,
            "timing": t.to_json(),
        }
    return result


# ------------------------------------------------------------------------ implementations
def _import_torch(enabled: bool) -> Any:
    if not enabled:
        return None
    try:
        import torch
    except ImportError:
        return None
    return torch


def _torch_op(name: str, inputs: dict[str, Any], torch: Any) -> Callable[[], Any] | None:
    """PyTorch CPU doing what registry case ``name`` does, on (views of) the same arrays."""
    F = torch.nn.functional

    def t(key: str) -> Any:
        return torch.from_numpy(inputs[key])

    if name.startswith("linear_"):
        x = t("x")
        wt = torch.from_numpy(np.ascontiguousarray(inputs["w"].T)).requires_grad_(True)
        b = t("b").requires_grad_(True)
        relu = inputs["relu"]
        if name.startswith("linear_forward"):

            def forward() -> Any:
                z = F.linear(x, wt, b)
                return F.relu(z) if relu else z

            return forward
        wants_dx = inputs["dx"] is not None
        x.requires_grad_(wants_dx)
        z = F.linear(x, wt, b)
        out = F.relu(z) if relu else z
        grad = t("grad_out")
        wrt = (x, wt, b) if wants_dx else (wt, b)
        return lambda: torch.autograd.grad(out, wrt, grad, retain_graph=True)
    if name == "logsumexp_rows":
        x, out = t("x"), t("out_lse")
        return lambda: torch.logsumexp(x, 1, out=out)
    if name == "log_softmax_rows":
        x = t("x")
        return lambda: F.log_softmax(x, dim=1)
    if name.startswith("cross_entropy"):
        target = t("target")
        if name.endswith("loss_only"):
            logits = t("logits")

            def loss_only() -> Any:
                with torch.no_grad():
                    return F.cross_entropy(logits, target)

            return loss_only
        logits = t("logits").requires_grad_(True)

        def loss_and_grad() -> Any:
            loss = F.cross_entropy(logits, target)
            return loss, torch.autograd.grad(loss, logits)

        return loss_and_grad
    if name in ("momentum_update", "nesterov_update", "adamw_update"):
        param = torch.nn.Parameter(t("param"))
        param.grad = t("grad")
        if name == "adamw_update":
            opt = torch.optim.AdamW(
                [param], lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, foreach=True
            )
        else:
            opt = torch.optim.SGD(
                [param],
                lr=0.05,
                momentum=0.9,
                weight_decay=1e-4,
                nesterov=name == "nesterov_update",
                foreach=True,
            )
        opt.step()  # creates the state (momentum buffer / moments)
        return opt.step
    return None


def _gemm_floor_op(name: str, inputs: dict[str, Any]) -> Callable[[], Any] | None:
    """The bare GEMMs a linear case performs, on its operands (its roofline), else None."""
    if not name.startswith("linear_"):
        return None
    x, w = inputs["x"], inputs["w"]
    b, d_out = x.shape[0], w.shape[1]
    z = np.empty((b, d_out), x.dtype)
    if name.startswith("linear_forward"):
        return lambda: np.matmul(x, w, out=z)
    dz = inputs["grad_out"].copy()
    dw = np.empty_like(w)
    if inputs["dx"] is None:
        return lambda: np.matmul(x.T, dz, out=dw)
    dx = np.empty_like(x)

    def backward() -> None:
        np.matmul(x.T, dz, out=dw)
        np.matmul(dz, w.T, out=dx)

    return backward


def _modules() -> dict[str, Any]:
    """The numdl backend modules that load here (numpy always; numba unless it cannot)."""
    from numdl import backend

    modules = {}
    for name in ("numpy", "numba"):
        try:
            modules[name] = backend.load(name).module
        except ImportError as exc:
            _log(f"numdl backend {name!r} unavailable, left out: {exc}")
    return modules


def bench_ops(
    modules: dict[str, Any],
    torch: Any,
    dtype: Any,
    repeats: int,
    min_sample: float,
    probe: BandwidthProbe,
    bandwidth: float,
    case_names: Sequence[str] | None = None,
    shape_names: Sequence[str] = SHAPE_NAMES,
) -> list[dict[str, Any]]:
    """Time every selected registry case on every implementation (see the module docstring)."""
    from numdl.testing.registry import CASES, copy_inputs

    dtype = np.dtype(dtype)
    rows = []
    for name, case in CASES.items():
        if case_names and name not in case_names:
            continue
        seen: dict[tuple[int, ...], str] = {}
        for shape_name in shape_names:
            shape = case.shapes[shape_name]
            if shape in seen:
                continue
            label = shape_name
            if shape == case.shapes.get("large") and shape_name == "mnist":
                label = "mnist = large"
            seen[shape] = label
            _log(f"  {name} {label} {shape} {dtype}")
            base = case.make(np.random.default_rng(0), dtype, shape, "normal")
            per_impl = {impl: copy_inputs(base) for impl in modules}
            fns: dict[str, Callable[[], Any]] = {
                impl: (lambda m=m, a=per_impl[impl], c=case: c.call(m, a))
                for impl, m in modules.items()
            }
            if torch is not None:
                fn = _torch_op(name, copy_inputs(base), torch)
                if fn is not None:
                    fns["torch"] = fn
            floor = _gemm_floor_op(name, copy_inputs(base))
            if floor is not None:
                fns["gemm floor"] = floor
            nbytes = case.bytes_moved(shape, dtype.itemsize)
            in_dram = floor is None and nbytes >= DRAM_BYTES
            if in_dram:  # the bandwidth probes in the same rounds: drift hits both alike
                fns.update(probe.fns())
            with np.errstate(all="ignore"):
                timings = time_interleaved(fns, repeats, min_sample)
            probe_rates = None
            if floor is not None:
                roof, basis = timings.pop("gemm floor").median, "GEMMs"
            elif in_dram:
                probe_rates = probe.rates(timings)
                for key in probe.kernels:
                    del timings[f"stream {key}"]
                gbs = max(r["gb_per_s"] for r in probe_rates.values())
                roof, basis = nbytes / (gbs * 1e9), f"{gbs:.0f} GB/s"
            else:
                roof, basis = nbytes / (bandwidth * 1e9), "bandwidth, in cache"
            rows.append(
                {
                    "case": name,
                    "op": case.op,
                    "shape_name": label,
                    "shape": list(shape),
                    "dtype": dtype.name,
                    "bytes_moved": nbytes,
                    "flops": case.flops(shape),
                    "roofline_s": roof,
                    "roofline_basis": basis,
                    "bandwidth_probes_same_rounds": probe_rates,
                    "impls": {impl: t.to_json() for impl, t in timings.items()},
                }
            )
            del base, per_impl, fns, timings
            gc.collect()
    return rows


# ---------------------------------------------------------------------------- MNIST epoch
def load_epoch_data(data_dir: str | None) -> Any:
    """Real MNIST (``data_dir``, ``NUMDL_DATA_DIR`` or the cache; never downloaded), else
    synthetic digits of MNIST's shape (``dataset.synthetic`` says which)."""
    from numdl.datasets import DatasetError, load_mnist, load_synthetic_digits

    try:
        return load_mnist(data_dir, download=False, progress=False)
    except DatasetError as exc:
        _log(f"real MNIST not found ({exc}); using SYNTHETIC digits of MNIST's shape")
        return load_synthetic_digits(n_train=55_000, n_val=5_000, n_test=10_000, seed=0)


class _Batches:
    """The batches of one epoch: a seeded permutation, gathered into a reused buffer."""

    def __init__(self, x: np.ndarray, y: np.ndarray, batch: int, steps: int) -> None:
        self.x, self.y, self.batch, self.steps = x, y, batch, steps
        self.x_buf = np.empty((batch, x.shape[1]), x.dtype)
        self.y_buf = np.empty(batch, y.dtype)
        self.order = np.arange(x.shape[0])

    def shuffle(self, seed: int) -> None:
        self.order = np.random.default_rng([0, seed]).permutation(self.x.shape[0])

    def range(self, first: int, stop: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Gather and yield the batches of steps ``first`` to ``stop − 1``."""
        for step in range(first, stop):
            idx = self.order[step * self.batch : (step + 1) * self.batch]
            xb, yb = self.x_buf[: idx.shape[0]], self.y_buf[: idx.shape[0]]
            np.take(self.x, idx, axis=0, out=xb)
            np.take(self.y, idx, axis=0, out=yb)
            yield xb, yb


#: A runner trains on steps [first, stop) of the current epoch's batches and returns
#: (seconds it counts, sum of the batch losses × batch sizes).
Runner = Callable[[_Batches, int, int], tuple[float, float]]


def _numdl_model(n_features: int, n_classes: int, steps: int) -> tuple[Any, Any]:
    from numdl.training import TrainConfig, build

    model, optimizer, _ = build(TrainConfig(epochs=1), n_features, n_classes, steps)
    return model, optimizer


def _numdl_runner(backend_name: str, n_features: int, n_classes: int) -> Runner:
    """numdl's MLP trained exactly as ``numdl train`` does (gathering included)."""
    import numdl
    from numdl.losses import SoftmaxCrossEntropy

    model, optimizer = _numdl_model(n_features, n_classes, 1)
    loss_fn = SoftmaxCrossEntropy()

    def run(batches: _Batches, first: int, stop: int) -> tuple[float, float]:
        total = 0.0
        t0 = time.perf_counter()
        with numdl.use_backend(backend_name):
            for xb, yb in batches.range(first, stop):
                loss, dlogits = loss_fn(model.forward(xb), yb)
                total += float(loss) * xb.shape[0]
                model.backward(dlogits, overwrite_grad=True)
                optimizer.step()
        return time.perf_counter() - t0, total

    return run


def _torch_runner(torch: Any, n_features: int, n_classes: int) -> Runner:
    """The same model, initial weights, optimiser and batches in PyTorch."""
    nn = torch.nn
    reference, _ = _numdl_model(n_features, n_classes, 1)
    linears = [layer for layer in reference.layers if hasattr(layer, "W")]
    model = nn.Sequential(
        nn.Linear(linears[0].W.shape[0], linears[0].W.shape[1]),
        nn.ReLU(),
        nn.Linear(linears[1].W.shape[0], linears[1].W.shape[1]),
    )
    torch_linears = [model[0], model[2]]
    with torch.no_grad():
        for ours, theirs in zip(linears, torch_linears, strict=True):
            theirs.weight.copy_(torch.from_numpy(np.ascontiguousarray(ours.W.T)))
            theirs.bias.copy_(torch.from_numpy(np.asarray(ours.b)))
    optimizer = torch.optim.SGD(
        [
            {"params": [m.weight for m in torch_linears], "weight_decay": 1e-4},
            {"params": [m.bias for m in torch_linears], "weight_decay": 0.0},
        ],
        lr=0.2,
        momentum=0.9,
        foreach=True,
    )
    criterion = nn.CrossEntropyLoss()

    def run(batches: _Batches, first: int, stop: int) -> tuple[float, float]:
        x_all, y_all = torch.from_numpy(batches.x_buf), torch.from_numpy(batches.y_buf)
        total = 0.0
        t0 = time.perf_counter()
        for xb, _ in batches.range(first, stop):
            k = xb.shape[0]
            optimizer.zero_grad(set_to_none=True)
            loss = criterion(model(x_all[:k]), y_all[:k])
            loss.backward()
            optimizer.step()
            total += loss.item() * k
        return time.perf_counter() - t0, total

    return run


def _gemm_floor_runner(batch: int, n_features: int, n_classes: int, dtype: Any) -> Runner:
    """The step's five GEMMs alone on each batch; only the GEMMs are counted."""
    rng = np.random.default_rng(1)
    d_hidden = 512
    w1 = rng.standard_normal((n_features, d_hidden)).astype(dtype)
    w2 = rng.standard_normal((d_hidden, n_classes)).astype(dtype)
    h = np.empty((batch, d_hidden), dtype)
    logits = np.empty((batch, n_classes), dtype)
    dz1 = rng.standard_normal((batch, d_hidden)).astype(dtype)
    dz2 = rng.standard_normal((batch, n_classes)).astype(dtype)
    dw1, dw2, dh = np.empty_like(w1), np.empty_like(w2), np.empty((batch, d_hidden), dtype)

    def run(batches: _Batches, first: int, stop: int) -> tuple[float, float]:
        spent = 0.0
        for xb, _ in batches.range(first, stop):
            k = xb.shape[0]
            t0 = time.perf_counter()
            np.matmul(xb, w1, out=h[:k])  # X @ W1
            np.matmul(xb.T, dz1[:k], out=dw1)  # X^T @ dZ1
            np.matmul(h[:k], w2, out=logits[:k])  # H @ W2
            np.matmul(h[:k].T, dz2[:k], out=dw2)  # H^T @ dZ2
            np.matmul(dz2[:k], w2.T, out=dh[:k])  # dZ2 @ W2^T
            spent += time.perf_counter() - t0
        return spent, math.nan

    return run


def _gather_runner(batches: _Batches, first: int, stop: int) -> tuple[float, float]:
    t0 = time.perf_counter()
    for _ in batches.range(first, stop):
        pass
    return time.perf_counter() - t0, math.nan


def bench_epoch(
    torch: Any,
    modules: dict[str, Any],
    data_dir: str | None,
    repeats: int,
    max_steps: int | None,
    chunk: int = 16,
) -> dict[str, Any]:
    """One MNIST epoch per implementation, ``repeats`` times.

    The implementations take turns every ``chunk`` steps (in a shuffled order), so a burst
    of load from elsewhere on the machine slows all of them alike; each one's epoch time is
    the sum of its chunks.
    """
    dataset = load_epoch_data(data_dir)
    x = np.ascontiguousarray(dataset.train.X, dtype=np.float32)
    y = np.ascontiguousarray(dataset.train.y, dtype=np.int64)
    n_features, n_classes = x.shape[1], dataset.n_classes
    batch = 256
    steps = math.ceil(x.shape[0] / batch)
    if max_steps is not None:
        steps = min(steps, max_steps)
    samples = min(x.shape[0], steps * batch)
    batches = _Batches(x, y, batch, steps)

    def runners() -> dict[str, Runner]:
        out: dict[str, Runner] = {}
        if "numba" in modules:
            out["numdl-numba"] = _numdl_runner("numba", n_features, n_classes)
        out["numdl-numpy"] = _numdl_runner("numpy", n_features, n_classes)
        if torch is not None:
            out["torch"] = _torch_runner(torch, n_features, n_classes)
        out["GEMM floor"] = _gemm_floor_runner(batch, n_features, n_classes, x.dtype)
        out["batch gathering"] = _gather_runner
        return out

    warm = _Batches(x, y, batch, 3)  # warm-up on throwaway models: compilation, allocator
    warm.shuffle(10_000)
    for run_warm in runners().values():
        run_warm(warm, 0, 3)

    timed = runners()  # fresh models: all start from the same initial weights
    names = list(timed)
    seconds: dict[str, list[float]] = {name: [] for name in names}
    first_loss: dict[str, float] = {}
    with _gc_off():
        for r in range(repeats):
            _log(f"  epoch round {r + 1}/{repeats}")
            batches.shuffle(r)
            spent = dict.fromkeys(names, 0.0)
            loss = dict.fromkeys(names, 0.0)
            for c, first in enumerate(range(0, steps, chunk)):
                stop = min(first + chunk, steps)
                for name in _round_order(names, r * 10_000 + c):
                    dt, total = timed[name](batches, first, stop)
                    spent[name] += dt
                    loss[name] += total
            for name in names:
                seconds[name].append(spent[name])
                if r == 0 and math.isfinite(loss[name]):
                    first_loss[name] = loss[name] / samples
    return {
        "dataset": dataset.name,
        "synthetic": bool(dataset.synthetic),
        "samples": samples,
        "steps": steps,
        "chunk_steps": chunk,
        "full_epoch": max_steps is None,
        "model": "784-512-10 ReLU MLP, float32, batch 256, momentum SGD lr 0.2 β 0.9 wd 1e-4",
        "timings": {name: Timing(s, 1).to_json() for name, s in seconds.items()},
        "first_round_mean_loss": first_loss,
    }


# ------------------------------------------------------------------------------ reporting
def _fmt_time(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "n/a"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds / 1e-9:.3g} ns"


def _fmt_timing(t: dict[str, Any] | None) -> str:
    if t is None:
        return "—"
    lo, hi = t["min_s"], t["max_s"]
    return f"{_fmt_time(t['median_s'])} [{_fmt_time(lo)}–{_fmt_time(hi)}]"


def _ratio(num: dict[str, Any] | None, den: dict[str, Any] | None) -> float | None:
    if num is None or den is None:
        return None
    return num["median_s"] / den["median_s"]


def _fmt_ratio(r: float | None) -> str:
    return "—" if r is None else f"{r:.2f}×"


def _pct(roof: float, t: dict[str, Any] | None) -> str:
    return "—" if t is None else f"{100 * roof / t['median_s']:.0f}%"


def _shape_text(shape: Sequence[int]) -> str:
    return "×".join(str(d) for d in shape)


def targets(report: dict[str, Any]) -> list[dict[str, Any]]:
    """The issue's performance targets, each with the measured value (when measured).

    ``measured`` comes from the medians (what ``met`` judges); ``best`` from the fastest
    rounds, the figure least disturbed by other load on a shared machine.
    """
    out: list[dict[str, Any]] = []

    def ratio(num: dict | None, den: dict | None, key: str) -> float | None:
        return None if num is None or den is None else num[key] / den[key]

    def add(what: str, num: Any, den: Any, goal: float, at_most: bool = False) -> None:
        value, best = ratio(num, den, "median_s"), ratio(num, den, "min_s")
        met = None if value is None else (value <= goal if at_most else value >= goal)
        sign = "≤" if at_most else "≥"
        out.append(
            {"target": what, "measured": value, "best": best, "goal": f"{sign} {goal}", "met": met}
        )

    epoch = report.get("epoch")
    if epoch:
        t = epoch["timings"]
        numba = t.get("numdl-numba")
        add("MNIST epoch: numdl-numba ÷ GEMM floor", numba, t.get("GEMM floor"), 1.10, True)
        add("MNIST epoch: PyTorch ÷ numdl-numba", t.get("torch"), numba, 1.5)
        add("MNIST epoch: numdl-numpy ÷ numdl-numba", t.get("numdl-numpy"), numba, 1.3)
    for row in report.get("ops", []):
        impls = row["impls"]
        if row["dtype"] != "float32":
            continue
        numba = impls.get("numba")
        if row["case"] == "cross_entropy_labels" and row["shape"] == [2048, 32000]:
            add("CE fwd+bwd 2048×32000: numpy ÷ numba", impls.get("numpy"), numba, 6)
            add("CE fwd+bwd 2048×32000: torch ÷ numba", impls.get("torch"), numba, 8)
        probes = row.get("bandwidth_probes_same_rounds")
        if row["op"] in ("momentum_update", "adamw_update") and row["shape"] == [25_000_000]:
            roof = {"median_s": row["roofline_s"], "min_s": row["roofline_s"]}
            if probes:
                best_gbs = max(p["gb_per_s_best_sample"] for p in probes.values())
                roof["min_s"] = row["bytes_moved"] / (best_gbs * 1e9)
            add(f"{row['case']} 25M: numba, fraction of bandwidth", roof, numba, 0.85)
    return out


def to_markdown(report: dict[str, Any]) -> str:
    """The report as Markdown: header, machine limits, ops, MNIST epoch, targets."""
    m = report["machine"]
    s = report["settings"]
    lines = [
        "# numdl bench",
        "",
        f"- date: {m['date']}; host {m['host']} ({m['platform']})",
        f"- CPU: {m['cpu']}; {m['logical_cpus']} logical CPUs ({m['usable_cpus']} usable); "
        + (f"{m['memory_gib']:.1f} GiB RAM" if m["memory_gib"] else "RAM unknown"),
        f"- threads: {m['threads']} for NumPy's BLAS, Numba and PyTorch alike",
        f"- BLAS (NumPy): {m['blas']}",
        f"- versions: Python {m['python']}, numdl {m['numdl']}, NumPy {m['numpy']}, "
        f"Numba {m['numba']} (threading layer {m['numba_threading_layer']}), "
        + (
            f"PyTorch {m['torch']} (BLAS {m['torch_blas']})"
            if m["torch"]
            else "PyTorch not installed"
        ),
        f"- timing: median of {s['repeats']} interleaved rounds [min–max]; ops {s['dtype']}"
        + ("; QUICK mode (fewer rounds, part of an epoch)" if s["quick"] else ""),
    ]
    load = m.get("other_load")
    if load:
        lines.append(
            "- other load during the run: other processes took "
            f"{100 * load['other_processes']:.0f}% of the CPUs' time, the hypervisor (steal) "
            f"{100 * load['steal']:.0f}%"
            f" ({load['wall_s']:.0f} s run)"
        )
        if load["other_processes"] + load["steal"] > 0.1:
            lines.append(
                "- **WARNING: the machine was busy with other work; absolute times (and "
                "multi-threaded code most) are slowed, ratios are only roughly comparable. "
                "Rerun on a quiet machine for numbers to publish.**"
            )
    lines.append("")
    limits = report.get("limits")
    if limits:
        bw = limits["bandwidth"]
        lines += [
            "## Machine limits (measured in this run)",
            "",
            "| measure | size | rate | median time [min–max] |",
            "| --- | --- | --- | --- |",
        ]
        for name, k in bw["kernels"].items():
            lines.append(
                f"| bandwidth: {_STREAM_TEXT[name]} | {bw['n']:,} float32 | "
                f"{k['gb_per_s']:.1f} GB/s | {_fmt_timing(k['timing'])} |"
            )
        for name, g in limits["gemm"].items():
            label = f"GEMM {name}" if "^3" in name else f"GEMM {name} (MNIST step)"
            lines.append(
                f"| {label} | {_shape_text(g['shape'])} | {g['gflop_per_s']:.1f} GFLOP/s | "
                f"{_fmt_timing(g['timing'])} |"
            )
        lines += [
            "",
            f"Roofline bandwidth: {bw['gb_per_s']:.1f} GB/s (the best kernel, "
            f"{bw['roofline_kernel']}; bytes read + written, as the registry's `bytes_moved` "
            "counts them). The ops moving over 64 MiB are compared with these probes run again "
            "in the same rounds as the op (the GB/s shown in their roofline column).",
            "",
        ]
    ops = report.get("ops")
    if ops:
        impl_names = [i for i in IMPLS if any(i in r["impls"] for r in ops)]
        header = ["op", "shape", "dtype", *impl_names]
        header += [
            "numba vs numpy",
            "numba vs torch",
            "roofline",
            "% of roofline (" + " / ".join(impl_names) + ")",
        ]
        lines += [
            "## Hot-path ops (registry cases)",
            "",
            "Speed-ups are numpy (or torch) median ÷ numba median. Roofline: for the linear "
            "layers the same GEMMs timed bare on the same operands; for the memory-bound ops "
            "`bytes_moved` ÷ the best STREAM-like probe's bandwidth (probes interleaved with the "
            "op; ops small enough to run from cache are set against the DRAM figure and may "
            "exceed 100%). % of roofline = roofline time ÷ the implementation's median.",
            "",
            "| " + " | ".join(header) + " |",
            "| " + " | ".join("---" for _ in header) + " |",
        ]
        for r in ops:
            impls = r["impls"]
            cells = [
                f"`{r['case']}`",
                f"{r['shape_name']} {_shape_text(r['shape'])}",
                r["dtype"],
                *(_fmt_timing(impls.get(i)) for i in impl_names),
                _fmt_ratio(_ratio(impls.get("numpy"), impls.get("numba"))),
                _fmt_ratio(_ratio(impls.get("torch"), impls.get("numba"))),
                f"{_fmt_time(r['roofline_s'])} ({r['roofline_basis']})",
                " / ".join(_pct(r["roofline_s"], impls.get(i)) for i in impl_names),
            ]
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    epoch = report.get("epoch")
    if epoch:
        t = epoch["timings"]
        floor = t.get("GEMM floor")
        data = epoch["dataset"] + (" — SYNTHETIC data, not MNIST" if epoch["synthetic"] else "")
        part = "one epoch" if epoch["full_epoch"] else "PART of an epoch"
        lines += [
            f"## MNIST training: {part} ({epoch['steps']} steps, {epoch['samples']:,} samples, "
            f"{data})",
            "",
            f"{epoch['model']}; same initial weights and batches for every implementation, "
            f"which take turns every {epoch['chunk_steps']} steps (shuffled order); an "
            "implementation's epoch time is the sum of its turns.",
            "GEMM floor: the step's five matrix products alone (X·W1, Xᵀ·dZ1, H·W2, Hᵀ·dZ2, "
            "dZ2·W2ᵀ) over the same batches; batch gathering: `np.take` of the batches alone.",
            "",
            "| implementation | time [min–max] | samples/s | ÷ GEMM floor | numpy ÷ it "
            "| torch ÷ it | mean loss, round 1 |",
            "| --- | --- | --- | --- | --- | --- | --- |",
        ]
        for name, timing in t.items():
            loss = epoch["first_round_mean_loss"].get(name)
            lines.append(
                f"| {name} | {_fmt_timing(timing)} | "
                f"{epoch['samples'] / timing['median_s']:,.0f} | "
                f"{_fmt_ratio(_ratio(timing, floor))} | "
                f"{_fmt_ratio(_ratio(t.get('numdl-numpy'), timing))} | "
                f"{_fmt_ratio(_ratio(t.get('torch'), timing))} | "
                + ("—" if loss is None else f"{loss:.4f}")
                + " |"
            )
        lines.append("")
    tg = report.get("targets")
    if tg:
        lines += [
            "## Targets",
            "",
            "Measured from the medians (what *met* judges); *best rounds* from the fastest "
            "samples of each (least disturbed by other load on the machine).",
            "",
            "| target | measured | best rounds | goal | met |",
            "| --- | --- | --- | --- | --- |",
        ]
        for row in tg:
            value = "—" if row["measured"] is None else f"{row['measured']:.2f}"
            best = "—" if row["best"] is None else f"{row['best']:.2f}"
            met = {True: "yes", False: "**no**", None: "not measured"}[row["met"]]
            lines.append(f"| {row['target']} | {value} | {best} | {row['goal']} | {met} |")
        lines.append("")
    return "\n".join(lines)


# ------------------------------------------------------------------------------- driving
@contextlib.contextmanager
def _threads(n: int, torch: Any) -> Iterator[None]:
    import numba

    saved_numba = numba.get_num_threads()
    numba.set_num_threads(min(n, numba.config.NUMBA_NUM_THREADS))
    saved_torch = torch.get_num_threads() if torch is not None else None
    if torch is not None:
        torch.set_num_threads(n)
    with contextlib.ExitStack() as stack:
        try:
            from threadpoolctl import threadpool_limits

            stack.enter_context(threadpool_limits(limits=n))
        except ImportError:
            _log("threadpoolctl is not installed: NumPy's BLAS keeps its own thread count")
        try:
            yield
        finally:
            numba.set_num_threads(saved_numba)
            if torch is not None:
                torch.set_num_threads(saved_torch)


def run(
    *,
    quick: bool = False,
    threads: int | None = None,
    repeats: int | None = None,
    epoch_repeats: int | None = None,
    dtype: str = "float32",
    use_torch: bool = True,
    parts: Sequence[str] = ("limits", "ops", "epoch"),
    cases: Sequence[str] | None = None,
    data_dir: str | None = None,
) -> dict[str, Any]:
    """Run the comparison; returns the report (what ``--json`` writes)."""
    import numba

    torch = _import_torch(use_torch)
    threads = threads or numba.config.NUMBA_NUM_THREADS
    repeats = repeats or (3 if quick else 7)
    epoch_repeats = epoch_repeats or (2 if quick else 5)
    min_sample = 0.02 if quick else 0.05
    modules = _modules()
    report: dict[str, Any] = {
        "settings": {
            "quick": quick,
            "threads": threads,
            "repeats": repeats,
            "epoch_repeats": epoch_repeats,
            "min_sample_s": min_sample,
            "dtype": dtype,
            "parts": list(parts),
            "implementations": [*modules, *(["torch"] if torch is not None else [])],
        }
    }
    load_start, t_start = _cpu_seconds(), time.perf_counter()
    with _threads(threads, torch):
        report["machine"] = machine_info(threads, torch)
        bandwidth, probe = math.nan, None
        if "limits" in parts or "ops" in parts:
            _log("machine limits: bandwidth")
            probe = BandwidthProbe(20_000_000 if quick else 80_000_000)
            bw = probe.measure(repeats)
            bandwidth = bw["gb_per_s"]
            _log("machine limits: GEMM rates")
            gemm = measure_gemm(repeats, 1024 if quick else 2048, np.float32, min_sample)
            report["limits"] = {"bandwidth": bw, "gemm": gemm}
            report["machine"]["numba_threading_layer"] = numba.threading_layer()
        if "ops" in parts:
            _log("hot-path ops")
            report["ops"] = bench_ops(
                modules, torch, dtype, repeats, min_sample, probe, bandwidth, case_names=cases
            )
        del probe
        if "epoch" in parts:
            _log("MNIST epoch")
            report["epoch"] = bench_epoch(
                torch, modules, data_dir, epoch_repeats, 40 if quick else None
            )
    report["machine"]["other_load"] = other_load(
        load_start, _cpu_seconds(), time.perf_counter() - t_start
    )
    report["targets"] = targets(report)
    return report


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``numdl bench`` (shared by ``python -m numdl.bench``)."""
    parser.add_argument(
        "--quick",
        action="store_true",
        help="fewer rounds, smaller bandwidth/GEMM probes, 40 steps instead of an epoch",
    )
    parser.add_argument("--json", metavar="PATH", help="also write the full report as JSON")
    parser.add_argument("--markdown", metavar="PATH", help="also write the Markdown to a file")
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="threads for NumPy's BLAS, Numba and PyTorch (default: Numba's, i.e. all cores)",
    )
    parser.add_argument(
        "--repeats", type=int, default=None, help="rounds per op (default 7; 3 with --quick)"
    )
    parser.add_argument(
        "--epoch-repeats",
        type=int,
        default=None,
        help="rounds of the MNIST epoch (default 5; 2 with --quick)",
    )
    parser.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    parser.add_argument(
        "--only",
        nargs="+",
        choices=["limits", "ops", "epoch"],
        default=["limits", "ops", "epoch"],
        help="run only these parts (ops need the limits for the roofline; they run anyway)",
    )
    parser.add_argument(
        "--cases", nargs="+", default=None, metavar="CASE", help="only these registry cases"
    )
    parser.add_argument("--no-torch", action="store_true", help="leave PyTorch out")
    parser.add_argument(
        "--data-dir",
        default=None,
        help="directory of the MNIST files (default: $NUMDL_DATA_DIR, else ~/.cache/numdl/mnist;"
        " never downloaded; without them the epoch runs on SYNTHETIC digits, labelled so)",
    )


def run_from_args(args: argparse.Namespace) -> int:
    """Run with parsed options, print the Markdown, write the files; the exit status."""
    from numdl.testing.registry import CASES

    if args.cases:
        unknown = sorted(set(args.cases) - set(CASES))
        if unknown:
            _log(f"unknown cases {unknown}; known: {sorted(CASES)}")
            return 2
    if args.threads is not None and args.threads < 1:
        _log(f"--threads must be >= 1, got {args.threads}")
        return 2
    report = run(
        quick=args.quick,
        threads=args.threads,
        repeats=args.repeats,
        epoch_repeats=args.epoch_repeats,
        dtype=args.dtype,
        use_torch=not args.no_torch,
        parts=args.only,
        cases=args.cases,
        data_dir=args.data_dir,
    )
    markdown = to_markdown(report)
    print(markdown)
    if args.markdown:
        Path(args.markdown).write_text(markdown + "\n")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
        _log(f"JSON report: {args.json}")
    return 0


DESCRIPTION = """\
Side-by-side timings, in one process and on the same inputs: every hot-path op of the
registry (at its "mnist" and "large" shapes) on numdl's NumPy reference, its Numba kernels
and PyTorch CPU (when installed); the machine's memory bandwidth and GEMM rate measured in
the same run (each op reported as a fraction of its roofline); and one MNIST training
epoch (784-512-10, batch 256, momentum SGD) on each, against the bare GEMMs of the same
steps. Interleaved rounds, median [min-max]. Prints Markdown; --json writes everything.
A full run takes about 3 minutes on a quiet 2-core machine (much longer on a busy one);
--quick about a third of that."""


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m numdl.bench``: the same as ``numdl bench``."""
    parser = argparse.ArgumentParser(prog="numdl bench", description=DESCRIPTION)
    add_arguments(parser)
    return run_from_args(parser.parse_args(argv))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
