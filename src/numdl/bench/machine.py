"""The machine: its description for the report's header (:func:`machine_info`: CPU model,
cores, memory, BLAS, library versions), the CPU time other processes took during a run
(:func:`cpu_seconds`, :func:`other_load`), and its limits measured in the run: memory
bandwidth with STREAM-like Numba kernels (:class:`BandwidthProbe`) and GEMM rates
(:func:`measure_gemm`, a big cube and the MNIST step's products).
"""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from numdl.bench.timing import Timing, time_interleaved


def cpu_seconds() -> tuple[float, float, float] | None:
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
STREAM_TEXT = {
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
