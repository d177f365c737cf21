"""Side by side: the NumPy reference vs the Numba softmax kernels (numdl_kernels.cpu.softmax).

Usage::

    python tools/compare_softmax_kernels.py            # the headline cases
    python tools/compare_softmax_kernels.py --sweep    # + serial/parallel crossover
    python tools/compare_softmax_kernels.py --bounds   # + exp throughput, bandwidth

All variants of one case run in the same process, interleaved round by round (so a busy
machine slows them alike), after a warm-up; the figure is the median over rounds. Ratios
are reference time / kernel time.
"""

from __future__ import annotations

import argparse
import time
from functools import partial

import numba
import numpy as np

import numdl
from numdl.core import hotpaths, ops
from numdl_kernels.cpu import softmax
from numdl_kernels.cpu._threads import parallel_min_size
from numdl_kernels.cpu.vexp import exp32


def interleaved(variants: dict, rounds: int) -> dict:
    """Median seconds per variant, timing each once per round in turn."""
    for fn in variants.values():  # warm-up (compilation, page faults)
        fn()
        fn()
    times: dict = {name: [] for name in variants}
    for _ in range(rounds):
        for name, fn in variants.items():
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    return {name: float(np.median(ts)) for name, ts in times.items()}


def forced(kernels, parallel: bool):
    """Call the serial or the parallel compiled kernel directly (bypassing the size rule)."""
    kernel = kernels[1] if parallel else kernels[0]
    n_blocks = numba.get_num_threads() if parallel else 1
    return kernel, n_blocks


def report(title: str, res: dict, ref: str) -> None:
    base = res[ref]
    cells = [f"{name} {t * 1e3:9.3f} ms ({base / t:5.1f}x)" for name, t in res.items()]
    print(f"{title}\n    " + "\n    ".join(cells), flush=True)


def ce_case(n_rows: int, n_cols: int, dtype, rounds: int, soft: bool = False) -> None:
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((n_rows, n_cols)) * 3).astype(dtype)
    if soft:
        y = rng.random((n_rows, n_cols)).astype(dtype)
        y /= y.sum(axis=1, keepdims=True)
    else:
        y = rng.integers(0, n_cols, n_rows)
    d = np.empty_like(x)
    ser, n_ser = forced(softmax._CE_SOFT_GRAD if soft else softmax._CE_LABELS_GRAD, False)
    par, n_par = forced(softmax._CE_SOFT_GRAD if soft else softmax._CE_LABELS_GRAD, True)

    def via_ops(backend):
        def run():
            with numdl.use_backend(backend):
                ops.cross_entropy(x, y, dlogits=d)

        return run

    variants = {
        "hotpaths.cross_entropy (numpy)": lambda: hotpaths.cross_entropy(x, y, d),
        "softmax.cross_entropy (auto)": lambda: softmax.cross_entropy(x, y, d),
        "serial kernel": lambda: ser(x, y, d, n_ser),
        "parallel kernel": lambda: par(x, y, d, n_par),
        "ops.cross_entropy numpy": via_ops("numpy"),
        "ops.cross_entropy numba": via_ops("numba"),
    }
    res = interleaved(variants, rounds)
    kind = "soft" if soft else "labels"
    report(
        f"cross_entropy fwd+bwd {n_rows}x{n_cols} {np.dtype(dtype).name} ({kind})",
        res,
        "hotpaths.cross_entropy (numpy)",
    )
    print(
        f"    ops numpy / ops numba: "
        f"{res['ops.cross_entropy numpy'] / res['ops.cross_entropy numba']:.1f}x"
    )


def lse_case(n_rows: int, n_cols: int, dtype, rounds: int) -> None:
    x = (np.random.default_rng(1).standard_normal((n_rows, n_cols)) * 3).astype(dtype)
    out1 = np.empty(n_rows, dtype)
    out2 = np.empty_like(x)
    variants = {
        "hotpaths.logsumexp_rows": lambda: hotpaths.logsumexp_rows(x, out1),
        "softmax.logsumexp_rows": lambda: softmax.logsumexp_rows(x, out1),
        "hotpaths.log_softmax_rows": lambda: hotpaths.log_softmax_rows(x, out2),
        "softmax.log_softmax_rows": lambda: softmax.log_softmax_rows(x, out2),
    }
    res = interleaved(variants, rounds)
    a, b, c, e = res.values()
    print(
        f"logsumexp_rows {n_rows}x{n_cols} {np.dtype(dtype).name}: ref {a * 1e3:.3f} ms, "
        f"kernel {b * 1e3:.3f} ms ({a / b:.1f}x); log_softmax_rows: ref {c * 1e3:.3f} ms, "
        f"kernel {e * 1e3:.3f} ms ({c / e:.1f}x)",
        flush=True,
    )


def sweep(rounds: int) -> None:
    """Serial vs parallel kernel over sizes: where does prange start to pay?"""
    print(f"serial vs parallel (threads={numba.get_num_threads()}), cross_entropy float32")
    rng = np.random.default_rng(2)
    for n_rows, n_cols in [
        (256, 10),
        (256, 100),
        (64, 1000),
        (256, 256),
        (128, 1000),
        (256, 1000),
        (512, 1000),
        (1024, 1000),
        (2048, 1000),
        (64, 32000),
    ]:
        x = rng.standard_normal((n_rows, n_cols)).astype(np.float32)
        y = rng.integers(0, n_cols, n_rows)
        d = np.empty_like(x)
        ser, n_ser = forced(softmax._CE_LABELS_GRAD, False)
        par, n_par = forced(softmax._CE_LABELS_GRAD, True)
        res = interleaved(
            {"s": partial(ser, x, y, d, n_ser), "p": partial(par, x, y, d, n_par)}, rounds
        )
        print(
            f"    {n_rows:5d}x{n_cols:<6d} ({x.size:>9d} elts) serial {res['s'] * 1e6:9.1f} us"
            f"  parallel {res['p'] * 1e6:9.1f} us  ({res['s'] / res['p']:.2f}x)",
            flush=True,
        )


@numba.njit(cache=True, fastmath={"contract"})
def _vexp_loop(x, out):
    for i in range(x.size):
        out[i] = exp32(x[i])


def bounds(rounds: int) -> None:
    rng = np.random.default_rng(3)
    big = rng.standard_normal(2048 * 32000).astype(np.float32)
    out = np.empty_like(big)
    small = big[:32000].copy()
    small_out = np.empty_like(small)
    res = interleaved(
        {
            "np.exp 65.5M f32": lambda: np.exp(big, out=out),
            "exp32 loop 65.5M f32": lambda: _vexp_loop(big, out),
            "copy 262 MB": lambda: np.copyto(out, big),
            "np.exp 32000 (in cache)": lambda: np.exp(small, out=small_out),
            "exp32 loop 32000 (in cache)": lambda: _vexp_loop(small, small_out),
        },
        rounds,
    )
    for name, t in res.items():
        n = big.size if "65.5M" in name or "MB" in name else small.size
        print(f"    {name:30s} {t * 1e3:9.3f} ms  ({t / n * 1e9:.3f} ns/element)")
    r = res["np.exp 65.5M f32"] / res["exp32 loop 65.5M f32"]
    print(f"    np.exp / exp32 on 65.5M float32: {r:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=7, help="rounds for the large cases")
    parser.add_argument("--sweep", action="store_true")
    parser.add_argument("--bounds", action="store_true")
    parser.add_argument("--float64", action="store_true", help="also 2048x32000 float64")
    args = parser.parse_args()
    print(f"numba threads: {numba.get_num_threads()}, parallel from {parallel_min_size()} elements")
    ce_case(2048, 32000, np.float32, args.rounds)
    ce_case(256, 10, np.float32, 400)
    ce_case(256, 10, np.float64, 400)
    ce_case(256, 1000, np.float32, 50)
    ce_case(256, 1000, np.float32, 50, soft=True)
    if args.float64:
        ce_case(2048, 32000, np.float64, max(3, args.rounds // 2))
    lse_case(2048, 32000, np.float32, args.rounds)
    lse_case(256, 10, np.float32, 400)
    if args.sweep:
        sweep(100)
    if args.bounds:
        bounds(args.rounds)


if __name__ == "__main__":
    main()
