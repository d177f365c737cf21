"""Compile time of the numba backend as a user meets it: the first float32 MNIST training step
(784-512-10, batch 256) in a fresh process on an empty Numba cache and on the cache it
filled, and filling the cache with every kernel (``numdl compile``, 1 and 2 processes).
Usage: ``python tools/compile_time.py [--repeats N]``; ``numdl bench --only startup`` reports
the same figures against their targets, and asv tracks them (``benchmarks/startup.py``)."""

from __future__ import annotations

import argparse
import statistics

from numdl.bench.compile import bench_startup


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3, help="fresh caches (default 3)")
    for name, values in bench_startup(parser.parse_args().repeats).items():
        spread = f"{statistics.median(values):.2f} s [{min(values):.2f}-{max(values):.2f}]"
        print(f"{name}: {spread}")


if __name__ == "__main__":
    main()
