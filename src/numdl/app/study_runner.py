"""Running a study: every run of its grid trained by the training loop, in parallel processes.

:func:`run_study` trains each run with :func:`numdl.app.training.train` (a run directory per
run, no second trainer) on any :class:`concurrent.futures.Executor`: by default a pool of
``jobs`` processes started with ``spawn``, each run limited to ``cores // jobs`` BLAS and
Numba threads; another executor runs the same grid unchanged, e.g. on MPI ranks::

    from mpi4py.futures import MPIPoolExecutor

    with MPIPoolExecutor() as pool:
        run_study(spec, "runs/study", executor=pool, threads=1)

The data are checked once, up front, against every run (nothing is run or written if one
does not fit); each worker loads its run's data itself (what is sent is the configuration,
not the arrays). A diverged run (NaN loss) is a result, recorded as such. The study
directory receives:

- ``study.json``: the specification and how it ran;
- ``runs/NNN-<axis=value>...``: each run's directory (``config.json``, ``log.csv``,
  checkpoints);
- ``results.csv`` (rewritten as runs finish) and ``results.md``
  (:mod:`numdl.app.study_results`): one row per run (its axis values, final and best
  validation accuracy, test accuracy of the final model and of the best-by-validation
  checkpoint, epochs, seconds, whether it diverged) and a summary per setting;
- ``accuracy.png`` and ``curves.png`` (:mod:`numdl.app.study_plots`, with matplotlib).
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import dataclasses
import json
import math
import multiprocessing
import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import numdl
from numdl.app.config import TrainConfig, TrainConfigError, plural
from numdl.app.study import OPTIONS, Run, StudyError, StudySpec, format_value
from numdl.app.study_results import RunResult, write_markdown, write_results
from numdl.app.training import TrainingDiverged, evaluate, train
from numdl.core.validation import check_int
from numdl.data.dataset import Dataset, atomic_write

__all__ = ["RunTask", "default_jobs", "load_data", "run_one", "run_study"]


@dataclass(frozen=True)
class RunTask:
    """What a worker process receives: a run, where it goes, and the runtime."""

    run: Run
    run_dir: str
    backend: str
    threads: int | None


def load_data(config: TrainConfig, *, download: bool = False) -> Dataset:
    """The dataset a run's configuration names: generated from its seed (synthetic digits,
    the toy datasets of :mod:`numdl.data.toy`), or MNIST-format files."""
    from numdl.data.mnist import load_mnist
    from numdl.data.synthetic import load_synthetic_digits
    from numdl.data.toy import TOY_DATASETS

    generated = {"synthetic": load_synthetic_digits, **TOY_DATASETS}
    if config.dataset in generated:
        return generated[config.dataset](seed=config.seed)
    return load_mnist(
        config.data_dir,
        name=config.dataset,
        validation_size=config.validation_size,
        seed=config.seed,
        download=download,
        progress=False,
    )


@contextlib.contextmanager
def _runtime(backend: str, threads: int | None) -> Iterator[None]:
    """The backend, and at most ``threads`` BLAS and Numba threads, for one run."""
    with contextlib.ExitStack() as stack:
        if threads is not None:
            with contextlib.suppress(ImportError):  # without threadpoolctl BLAS keeps its own
                from threadpoolctl import threadpool_limits

                stack.enter_context(threadpool_limits(limits=threads))
            if backend == "numba":
                import numba

                saved = numba.get_num_threads()
                numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
                stack.callback(numba.set_num_threads, saved)
        stack.enter_context(numdl.use_backend(backend))
        yield


def run_one(task: RunTask) -> RunResult:
    """Train one run of a study (in whatever process the executor chose) and score it."""
    from numdl.app.checkpoint import load_checkpoint
    from numdl.app.training import model_from_checkpoint

    config, run_dir = task.run.config, Path(task.run_dir)
    with _runtime(task.backend, task.threads):
        dataset = load_data(config)
        xp = numdl.core.backend.current().xp
        x_test, y_test = xp.asarray(dataset.test.X, dtype=config.dtype), xp.asarray(dataset.test.y)
        t0 = time.perf_counter()
        note, final, diverged = "", math.nan, False
        try:  # overflow on the way to a NaN loss is what a diverging run records, not a warning
            with np.errstate(over="ignore", invalid="ignore"):
                outcome = train(config, dataset, run_dir, progress=False, echo=lambda line: None)
            history = outcome["history"]
            final = evaluate(outcome["model"], x_test, y_test)[1]
        except TrainingDiverged as exc:
            last = run_dir / "last.npz"
            history = list(load_checkpoint(last).meta["history"]) if last.exists() else []
            note, diverged = str(exc).replace("; try a smaller --lr", ""), True
        seconds = time.perf_counter() - t0
        best_path = run_dir / "best.npz"
        best = (
            evaluate(model_from_checkpoint(load_checkpoint(best_path)), x_test, y_test)[1]
            if best_path.exists()
            else math.nan
        )
    val = [row["val_acc"] for row in history]
    return RunResult(
        index=task.run.index,
        axes=task.run.axes,
        epochs=len(history),
        val_acc_final=val[-1] if val and not diverged else math.nan,
        val_acc_best=max(val, default=math.nan),
        test_acc_final=final,
        test_acc_best=best,
        seconds=seconds,
        diverged=diverged,
        run_dir=str(run_dir) if run_dir.exists() else "",  # none: no epoch completed
        note=note,
        history=history,
    )


def _check_data(runs: Sequence[Run], download: bool) -> list[Run]:
    """Load each distinct dataset once; check every run against it; record absolute paths."""
    from numdl.app.config import check_against_dataset

    loaded: dict[tuple[str, str | None, int], Dataset] = {}
    checked = []
    for run in runs:
        config = run.config
        key = (config.dataset, config.data_dir, config.validation_size)
        if key not in loaded:
            loaded[key] = load_data(dataclasses.replace(config, seed=0), download=download)
        dataset = loaded[key]
        try:
            check_against_dataset(config, dataset)
        except TrainConfigError as exc:
            raise StudyError(f"run {run.index} ({run.label}): {exc}") from None
        if dataset.synthetic and config.data_dir is not None:
            raise StudyError(
                f"run {run.index} ({run.label}): data_dir does not apply to {config.dataset} "
                "data (generated, no files)"
            )
        if dataset.synthetic and config.validation_size not in (
            OPTIONS["validation_size"],
            len(dataset.val),
        ):
            raise StudyError(
                f"run {run.index} ({run.label}): validation_size does not apply to "
                f"{config.dataset} data (generated, {len(dataset.val)} validation images)"
            )
        source = None if dataset.synthetic else os.path.abspath(dataset.source_dir)
        size = len(dataset.val) if dataset.synthetic else config.validation_size
        config = dataclasses.replace(config, data_dir=source, validation_size=size)
        checked.append(dataclasses.replace(run, config=config))
    return checked


def default_jobs() -> int:
    """The cores this process may use."""
    with contextlib.suppress(AttributeError):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def run_study(
    spec: StudySpec,
    out_dir: str | os.PathLike[str],
    *,
    executor: concurrent.futures.Executor | None = None,
    jobs: int | None = None,
    threads: int | None = None,
    backend: str | None = None,
    download: bool = True,
    plots: bool = True,
    echo: Callable[[str], None] = print,
) -> list[RunResult]:
    """Run every training of ``spec`` and write the study directory ``out_dir``.

    Parameters
    ----------
    spec : StudySpec
    out_dir : path
        The study directory (created; must not hold a study yet).
    executor : concurrent.futures.Executor, optional
        Runs :func:`run_one` per run (it is not shut down here). Default: a pool of
        ``jobs`` processes started with ``spawn``.
    jobs : int, optional
        Processes of the default pool (default: the cores; at most the runs); only without
        ``executor``.
    threads : int, optional
        BLAS and Numba threads per run (default: ``cores // jobs``, at least 1, with the
        default pool; the worker's own setting with an ``executor``).
    backend : str, optional
        Backend of every run (default: the active one).
    download : bool, default True
        Download missing files of mnist, fashion-mnist, kmnist (checked once, up front).
    plots : bool, default True
        Write ``accuracy.png`` and ``curves.png`` (skipped, saying so, without matplotlib).
    echo : callable
        Receives one line per finished run and where the outputs are.

    Returns
    -------
    list of RunResult
        In grid order.

    Raises
    ------
    StudyError
        ``out_dir`` holds a study, ``jobs``/``threads`` are not integers >= 1, or a run does
        not fit its dataset (nothing is run or written).
    numdl.data.DatasetError
        The data are missing or malformed (nothing is run or written).
    """
    if executor is not None and jobs is not None:
        raise StudyError("jobs applies only to the default process pool, not with an executor")
    jobs = check_int(jobs, "jobs", minimum=1) if jobs is not None else default_jobs()
    if threads is not None:
        threads = check_int(threads, "threads", minimum=1)
    backend = backend or numdl.get_backend()
    out = Path(out_dir)
    if (out / "study.json").exists():
        raise StudyError(f"{out} already holds a study; choose another directory")
    runs = _check_data(spec.runs(), download)
    jobs = min(jobs, len(runs))  # no idle processes holding threads
    if threads is None and executor is None:
        threads = max(1, default_jobs() // jobs)
    (out / "runs").mkdir(parents=True, exist_ok=True)
    pool_name = "ProcessPoolExecutor (spawn)" if executor is None else type(executor).__name__
    how = {"backend": backend, "threads_per_run": threads, "executor": pool_name}
    how.update(jobs=jobs if executor is None else None, runs=len(runs))
    with atomic_write(out / "study.json") as handle:
        handle.write(json.dumps({**spec.to_dict(), "ran": how}, indent=2).encode())
    tasks = [RunTask(run, str(out / "runs" / run.name), backend, threads) for run in runs]
    echo(
        f"study {spec.name}: {plural(len(runs), 'run')} on the {backend} backend, "
        + (f"{jobs} process{'es' * (jobs != 1)}" if executor is None else type(executor).__name__)
        + (f" x {plural(threads, 'thread')}" if threads else "")
        + f"; results in {out}"
    )
    results: list[RunResult] = []
    write_results(results, out, list(spec.axes))  # the header: the table always exists
    own = executor is None
    pool = executor or concurrent.futures.ProcessPoolExecutor(
        max_workers=jobs, mp_context=multiprocessing.get_context("spawn")
    )
    try:
        pending = [pool.submit(run_one, task) for task in tasks]
        for future in concurrent.futures.as_completed(pending):
            result = future.result()
            results.append(result)
            results.sort(key=lambda r: r.index)
            write_results(results, out, list(spec.axes))
            echo(f"[{len(results)}/{len(tasks)}] {_summary(result)}")
    except KeyboardInterrupt:
        echo(
            f"interrupted after {len(results)} of {plural(len(tasks), 'run')}; the finished "
            f"ones are in {out / 'results.csv'}"
        )
        raise
    finally:
        if own:
            pool.shutdown(wait=True, cancel_futures=True)
    write_markdown(results, out / "results.md", spec)
    echo(f"results: {out / 'results.csv'}, {out / 'results.md'}")
    if plots:
        try:
            from numdl.app.study_plots import plot_accuracy, plot_curves

            axes = list(spec.axes)
            paths = [plot_accuracy(results, out / "accuracy.png", axes, title=spec.name)]
            paths.append(plot_curves(results, out / "curves.png", axes, title=spec.name))
            echo("plots: " + ", ".join(map(str, paths)))
        except ImportError as exc:
            echo(f"no plots written ({exc})")
    return results


def _summary(result: RunResult) -> str:
    point = " ".join(f"{k}={format_value(v)}" for k, v in result.axes.items())
    if result.diverged:
        return f"{point}: diverged ({result.note}), {result.seconds:.1f} s"
    return (
        f"{point}: val {100 * result.val_acc_final:.2f}%  test {100 * result.test_acc_final:.2f}%"
        f"  ({plural(result.epochs, 'epoch')}, {result.seconds:.1f} s)"
    )
