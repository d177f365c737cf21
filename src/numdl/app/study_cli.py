"""``numdl study``: a grid of trainings from a specification file and/or the command line.

The options are here (:func:`add_arguments`, called by :mod:`numdl.app.parser`); the
study itself is :mod:`numdl.app.study` (the grid) and :mod:`numdl.app.study_runner` (the
trainings), imported only when the command runs.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

DESCRIPTION = """\
Train one MLP per point of a grid of options, in parallel processes, and write a study
directory: study.json, runs/ (one run directory per training), results.csv and results.md
(one row per run: its axis values, final and best validation accuracy, test accuracy,
epochs, seconds, whether it diverged; a summary per setting), accuracy.png and curves.png.

The grid comes from SPEC (a JSON file such as studies/deep-sigmoid.json: "name", "axes",
"fixed", "width", "description") and/or the command line: --axis NAME=V1,V2,... adds or
replaces an axis, --set NAME=VALUE a fixed option (and removes an axis of that name, e.g.
--set seed=0 to run one seed). NAME is a training option of 'numdl train' spelt with
underscores (batch_size, weight_decay, ...), or depth (hidden layers of --width units).
Values as on the 'numdl train' command line; hidden widths joined by '-' (--axis
hidden=64,128-128). Every run's options are checked before any run starts.

examples:
  numdl study studies/deep-sigmoid.json --jobs 2
  numdl study --axis optimizer=sgd,momentum --axis seed=0,1,2 --set epochs=3 \\
              --set dataset=synthetic --out runs/optimisers
"""


def _pair(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name or not value:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    return name.replace("-", "_"), value


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text!r}")
    return value


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The options of ``numdl study``."""
    import numdl

    p.add_argument("spec", nargs="?", help="a study file (JSON); optional with --axis")
    add = p.add_argument
    add(
        "--axis",
        action="append",
        type=_pair,
        default=[],
        metavar="NAME=V1,V2",
        help="an axis of the grid (repeatable; replaces SPEC's axis NAME)",
    )
    add(
        "--set",
        action="append",
        type=_pair,
        default=[],
        metavar="NAME=VALUE",
        help="an option fixed for every run (repeatable; overrides SPEC's)",
    )
    add(
        "--width",
        type=_positive,
        metavar="N",
        help="width of the hidden layers under a depth axis (default: SPEC's)",
    )
    add("--name", help="the study's name (default: SPEC's, else 'study')")
    add(
        "--out",
        metavar="DIR",
        help="study directory, which must not hold a study yet "
        "(default: runs/study-<name>-<YYYYmmdd-HHMMSS>)",
    )
    add(
        "--jobs",
        type=_positive,
        metavar="N",
        help="trainings run at once, one process each (default: the cores)",
    )
    add(
        "--threads",
        type=_positive,
        metavar="N",
        help="BLAS and numba threads of each training (default: cores // jobs, at least 1)",
    )
    add(
        "--backend",
        choices=numdl.available_backends(),
        help="hot-path implementation (default: $NUMDL_BACKEND, else numba)",
    )
    add(
        "--data-dir",
        metavar="DIR",
        help="directory of the dataset's files (default: $NUMDL_DATA_DIR, else "
        "~/.cache/numdl/<dataset>)",
    )
    add(
        "--no-download",
        action="store_true",
        help="never download missing files (default: off: missing files of mnist, "
        "fashion-mnist and kmnist are downloaded, md5-checked)",
    )


def spec_from_args(args: argparse.Namespace) -> Any:
    """The :class:`~numdl.app.study.StudySpec` that SPEC and the options describe."""
    from numdl.app.study import StudySpec, parse_value

    values: dict[str, Any] = {"name": "study", "axes": {}, "fixed": {}}
    if args.spec is not None:
        values = StudySpec.from_file(args.spec).to_dict()
    axes, fixed = dict(values["axes"]), dict(values.get("fixed") or {})
    for name, text in args.axis:
        fixed.pop(name, None)
        axes[name] = [parse_value(name, part) for part in text.split(",")]
    for name, text in args.set:
        axes.pop(name, None)
        fixed[name] = parse_value(name, text)
    if args.data_dir is not None:
        fixed["data_dir"] = os.path.abspath(args.data_dir)
    if args.width is not None:
        values["width"] = args.width
    if args.name is not None:
        values["name"] = args.name
    return StudySpec.from_dict({**values, "axes": axes, "fixed": fixed})


@contextlib.contextmanager
def _executor(args: argparse.Namespace) -> Iterator[tuple[Any, int | None]]:
    """(executor, threads per run) for the study: under an MPI launcher with several ranks,
    mpi4py's ``MPICommExecutor`` over ``COMM_WORLD`` (rank 0 hands out the runs, every other
    rank trains them one at a time; ``False`` on those ranks), else ``None`` (local processes)."""
    from numdl.app.distributed import init, launcher_size

    if launcher_size() <= 1 or os.environ.get("NUMDL_DISTRIBUTED") == "0":
        yield None, args.threads
        return
    from mpi4py.futures import MPICommExecutor

    from numdl.app.cli import CLIError
    from numdl.app.parser import EXIT_USAGE

    if args.jobs is not None:
        raise CLIError(
            "--jobs does not apply under mpiexec: each worker rank runs one training", EXIT_USAGE
        )
    world = init()
    threads = args.threads or world.threads()  # collective: before the ranks part ways
    with MPICommExecutor(world.comm, root=0) as pool:
        yield (False if pool is None else pool), threads


def run_from_args(args: argparse.Namespace) -> int:
    """``numdl study``: check the grid and the data, then run it; the exit status."""
    import numdl
    from numdl.app.cli import CLIError
    from numdl.app.parser import EXIT_USAGE
    from numdl.app.study import StudyError
    from numdl.app.study_runner import run_study
    from numdl.data.dataset import DatasetError

    if args.spec is None and not args.axis:
        raise CLIError("give a study file (SPEC) or at least one --axis", EXIT_USAGE)
    try:
        spec = spec_from_args(args)
    except (StudyError, TypeError) as exc:
        raise CLIError(str(exc), EXIT_USAGE) from None
    backend = args.backend or os.environ.get("NUMDL_BACKEND") or "numba"
    try:
        numdl.core.backend.load(backend)
    except (ImportError, ValueError) as exc:
        raise CLIError(str(exc)) from None
    stamp = time.strftime("%Y%m%d-%H%M%S")
    name = re.sub(r"[^A-Za-z0-9_.+-]", "_", spec.name)
    out = Path(args.out or f"runs/study-{name}-{stamp}")
    try:
        with _executor(args) as (pool, threads):
            if pool is False:  # an MPI worker rank: it trained the runs rank 0 sent it
                return 0
            run_study(
                spec,
                out,
                executor=pool,
                jobs=args.jobs if pool is None else None,
                threads=threads,
                backend=backend,
                download=not args.no_download,
                echo=lambda line: print(line, flush=True),
            )
    except (StudyError, DatasetError) as exc:  # DatasetNotFoundError is a DatasetError
        raise CLIError(str(exc), EXIT_USAGE) from None
    return 0
