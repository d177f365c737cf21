"""Driving: :func:`run` (the whole comparison under one thread count, returning the report),
the command-line options (:func:`add_arguments`, :data:`DESCRIPTION`), :func:`run_from_args`
(print the Markdown, write the files) and :func:`main` (``python -m numdl.bench``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from numdl.bench.breakdown import bench_breakdown
from numdl.bench.compile import bench_startup
from numdl.bench.epoch import bench_cnn_epoch, bench_epoch
from numdl.bench.machine import (
    BandwidthProbe,
    cpu_seconds,
    machine_info,
    measure_gemm,
    other_load,
)
from numdl.bench.ops import backend_modules, bench_ops, import_torch
from numdl.bench.report import targets, to_markdown
from numdl.bench.timing import log


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
            log("threadpoolctl is not installed: NumPy's BLAS keeps its own thread count")
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
    parts: Sequence[str] = ("limits", "ops", "epoch", "breakdown", "startup"),
    cases: Sequence[str] | None = None,
    data_dir: str | None = None,
    hidden: Sequence[int] = (512,),
    batch_size: int = 256,
) -> dict[str, Any]:
    """Run the comparison; returns the report (what ``--json`` writes). ``dtype`` applies to
    the ops and the epoch; ``hidden`` and ``batch_size`` to the epoch."""
    import numba

    torch = import_torch(use_torch)
    threads = threads or numba.config.NUMBA_NUM_THREADS
    repeats = repeats or (3 if quick else 7)
    epoch_repeats = epoch_repeats or (2 if quick else 5)
    min_sample = 0.02 if quick else 0.05
    modules = backend_modules()
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
    load_start, t_start = cpu_seconds(), time.perf_counter()
    with _threads(threads, torch):
        report["machine"] = machine_info(threads, torch)
        bandwidth, probe = math.nan, None
        if "limits" in parts or "ops" in parts:
            log("machine limits: bandwidth")
            probe = BandwidthProbe(20_000_000 if quick else 80_000_000)
            bw = probe.measure(repeats)
            bandwidth = bw["gb_per_s"]
            log("machine limits: GEMM rates")
            gemm = measure_gemm(repeats, 1024 if quick else 2048, np.float32, min_sample)
            report["limits"] = {"bandwidth": bw, "gemm": gemm}
            report["machine"]["numba_threading_layer"] = numba.threading_layer()
        if "ops" in parts:
            log("hot-path ops")
            report["ops"] = bench_ops(
                modules, torch, dtype, repeats, min_sample, probe, bandwidth, case_names=cases
            )
        del probe
        if "epoch" in parts:
            log("MNIST epoch")
            report["epoch"] = bench_epoch(
                torch,
                modules,
                data_dir,
                epoch_repeats,
                40 if quick else None,
                hidden=hidden,
                batch=batch_size,
                dtype=dtype,
            )
        if "cnn" in parts:
            log("MNIST epoch of the CNN")
            report["cnn"] = bench_cnn_epoch(
                torch,
                modules,
                data_dir,
                epoch_repeats,
                40 if quick else None,
                batch=batch_size,
                dtype=dtype,
            )
        if "breakdown" in parts:
            log("training-step breakdown")
            report["breakdown"] = bench_breakdown(
                modules, data_dir, epoch_repeats, 40 if quick else None
            )
        if "startup" in parts and "numba" in modules:
            log("start-up: first training step and the kernel cache")
            report["startup"] = bench_startup(1 if quick else 3, _mnist_dir(data_dir))
    report["machine"]["other_load"] = other_load(
        load_start, cpu_seconds(), time.perf_counter() - t_start
    )
    report["targets"] = targets(report)
    return report


def _mnist_dir(data_dir: str | None) -> str | None:
    """The directory holding MNIST (``data_dir``, ``$NUMDL_DATA_DIR``, the cache), or None."""
    from numdl.data import DatasetError, load_mnist, resolve_data_dir

    try:
        directory = resolve_data_dir(data_dir)
        load_mnist(directory, download=False, progress=False)
    except DatasetError:
        return None
    return str(directory)


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
    parser.add_argument(
        "--dtype",
        default="float32",
        choices=["float32", "float64"],
        help="dtype of the ops and of the epoch's training (default float32)",
    )
    parser.add_argument(
        "--hidden",
        nargs="+",
        type=int,
        default=[512],
        metavar="WIDTH",
        help="hidden widths of the epoch's MLP (default 512: Table 1's 784-512-10)",
    )
    parser.add_argument(
        "--batch-size", type=int, default=256, help="the epoch's batch size (default 256)"
    )
    parser.add_argument(
        "--only",
        nargs="+",
        choices=["limits", "ops", "epoch", "cnn", "breakdown", "startup"],
        default=["limits", "ops", "epoch", "breakdown", "startup"],
        help="run only these parts (ops need the limits for the roofline; they run anyway); "
        "breakdown: where a training step's time goes; startup: the first training step on "
        "an empty and a filled Numba cache, and filling it (fresh processes); cnn (not run "
        "by default): one MNIST epoch of the CNN of 'numdl train --model cnn' (numdl-numba, "
        "numdl-numpy, PyTorch) against its GEMM floor, and the peak memory of a training "
        "step at batch 256",
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
            log(f"unknown cases {unknown}; known: {sorted(CASES)}")
            return 2
    for name, value in (("--threads", args.threads), ("--batch-size", args.batch_size)):
        if value is not None and value < 1:
            log(f"{name} must be >= 1, got {value}")
            return 2
    if any(h < 1 for h in args.hidden):
        log(f"--hidden widths must be >= 1, got {args.hidden}")
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
        hidden=args.hidden,
        batch_size=args.batch_size,
    )
    markdown = to_markdown(report)
    print(markdown)
    if args.markdown:
        Path(args.markdown).write_text(markdown + "\n")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
        log(f"JSON report: {args.json}")
    return 0


DESCRIPTION = """\
Side-by-side timings, in one process and on the same inputs: every hot-path op of the
registry (at its "mnist" and "large" shapes) on numdl's NumPy reference, its Numba kernels
and PyTorch CPU (when installed); the machine's memory bandwidth and GEMM rate measured in
the same run (each op reported as a fraction of its roofline); and one MNIST training
epoch (784-512-10, batch 256, momentum SGD) on each, against the bare GEMMs of the same
steps; and the breakdown of that training step (numba and numpy backends): each GEMM, fused
pass, the loss, the update, gathering, Python and dispatch, and the time between BLAS
calls. Interleaved rounds, median [min-max]. Prints Markdown; --json writes everything.
A full run takes about 3 minutes on a quiet 2-core machine (much longer on a busy one);
--quick about a third of that."""


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m numdl.bench``: the same as ``numdl bench``."""
    parser = argparse.ArgumentParser(prog="numdl bench", description=DESCRIPTION)
    add_arguments(parser)
    return run_from_args(parser.parse_args(argv))
