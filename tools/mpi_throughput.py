"""Data-parallel throughput on one machine: N ranks x T threads against 1 process x N·T threads.

Trains the MNIST MLP (784-512-10, batch 256, momentum SGD, float32, numba backend) on the
first ``--rows`` training images of real MNIST for ``--epochs`` epochs and prints, per
configuration, the samples/s of the epochs after the first (which holds Numba's compilation),
and under MPI the Allreduce time per step and its share of the step (the Allreduce also waits
for the slower rank, so it includes the ranks' imbalance). Run from the repository root::

    python tools/mpi_throughput.py --compare 2   # alternates both configurations, 3 rounds

or one configuration: ``mpiexec -n 2 python tools/mpi_throughput.py --threads 1``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile


def one(args: argparse.Namespace) -> dict:
    import numba
    from threadpoolctl import threadpool_limits

    import numdl
    from numdl.app.config import TrainConfig
    from numdl.app.distributed import init
    from numdl.app.training import train
    from numdl.data.dataset import Dataset, Split
    from numdl.data.mnist import load_mnist

    world = init()
    data = load_mnist(os.environ.get("NUMDL_DATA_DIR"), download=False, progress=False)
    subset = Dataset(
        Split(data.train.X[: args.rows], data.train.y[: args.rows]),
        Split(data.val.X[:2000], data.val.y[:2000]),
        data.test,
        "mnist-subset",
        None,
        False,
    )
    config = TrainConfig(hidden=[512], batch_size=256, epochs=args.epochs, lr=0.1)
    numba.set_num_threads(args.threads)
    limits = threadpool_limits(limits=args.threads)
    with limits, numdl.use_backend("numba"), tempfile.TemporaryDirectory() as run_dir:
        result = train(config, subset, run_dir, progress=False, echo=lambda s: None, world=world)
    later = result["history"][1:]
    steps = -(-args.rows // config.batch_size)
    epoch_s = statistics.median(row["epoch_seconds"] for row in later)
    reduce_s = world.reduce_seconds / max(1, world.reduce_calls)
    return {
        "ranks": world.size,
        "threads": args.threads,
        "samples_per_s": statistics.median(row["samples_per_second"] for row in later),
        "step_ms": 1e3 * epoch_s / steps,
        "allreduce_ms": 1e3 * reduce_s,
        "allreduce_share": reduce_s / (epoch_s / steps) if world.distributed else 0.0,
        "val_acc": result["history"][-1]["val_acc"],
        "is_root": world.is_root,
    }


def compare(n: int, rounds: int, extra: list[str]) -> None:
    env = {**os.environ, "OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1"}
    me = [sys.executable, __file__, *extra]
    mpiexec = ["mpiexec", "-n", str(n), "--bind-to", "core"]
    runs = {
        f"{n} ranks x 1 thread": [*mpiexec, *me, "--threads", "1"],
        f"1 process x {n} threads": [*me, "--threads", str(n)],
    }
    got: dict[str, list[dict]] = {name: [] for name in runs}
    for _ in range(rounds):  # alternated, so that a change in the machine's load hits both
        for name, cmd in runs.items():
            out = subprocess.run(cmd, capture_output=True, text=True, env=env, check=True).stdout
            line = next(x for x in out.splitlines() if x.startswith("{"))
            got[name].append(json.loads(line))
    for name, rows in got.items():
        sps = [r["samples_per_s"] for r in rows]
        print(f"{name}: samples/s {', '.join(f'{s:,.0f}' for s in sps)}", end="")
        if rows[0]["ranks"] > 1:
            ms = statistics.median(r["allreduce_ms"] for r in rows)
            share = statistics.median(r["allreduce_share"] for r in rows)
            step = statistics.median(r["step_ms"] for r in rows)
            print(f"; step {step:.2f} ms, Allreduce {ms:.3f} ms/step ({100 * share:.1f} %)", end="")
        print(f"; val acc {rows[-1]['val_acc']:.4f}")
    a, b = (statistics.median(r["samples_per_s"] for r in rows) for rows in got.values())
    print(f"ratio (median samples/s, {n} ranks / 1 process): {a / b:.3f}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--rows", type=int, default=20000)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--compare", type=int, metavar="N", help="run both configurations")
    p.add_argument("--rounds", type=int, default=3)
    args = p.parse_args()
    if args.compare:
        compare(args.compare, args.rounds, ["--rows", str(args.rows), "--epochs", str(args.epochs)])
        return
    row = one(args)
    if row.pop("is_root"):
        print(json.dumps(row))


if __name__ == "__main__":
    main()
