"""The ``numdl`` command line: ``train``, ``evaluate``, ``predict``, ``boundary``, ``study``,
``report``, ``compile`` (and ``bench``).

Expected problems (missing data, a corrupt checkpoint, a diverging run, Ctrl-C) end with a
clear message on stderr and a non-zero exit status, never a traceback.

- **Options.** Every option is checked before anything is printed or written. The argument
  types are built from the rules :class:`~numdl.app.config.TrainConfig` itself is checked
  with (``DOMAINS``, ``CHOICES``), so ``--help`` states each rule and default once; a bad value
  is one line, ``numdl: ...``, on stderr with exit status 2. Rules between options are
  :meth:`TrainConfig.check` (spelt as options), the rules that need the data
  :func:`~numdl.app.config.check_against_dataset`; both run before ``train`` creates the
  run directory, and ``train`` prints the header only through its ``on_start``.
- **Data.** A dataset is named by what its files are (:func:`numdl.data.mnist.identify_dataset`,
  by checksum), else by their directory; the run records it and the absolute directory in
  ``config.json`` and the checkpoints, where ``evaluate`` and ``--resume`` find them.
- **Runs.** ``--resume`` keeps a run's configuration; only ``--epochs`` may change it
  (constant schedule), any other training option given is refused unless equal. A run left
  behind holds a checkpoint: Ctrl-C in the first epoch removes what it wrote.

The parser (options, their rules and help) is :mod:`numdl.app.parser`. The module runs past
500 lines with one function per command: each command's work lives in its own module
(training, report, boundary, study, bench), and what stays here is how each turns problems
into messages and exit codes.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

import numdl
from numdl.app.boundary import plot_decision_boundary
from numdl.app.checkpoint import CheckpointError, load_checkpoint
from numdl.app.config import (
    APPLIES_ONLY_WITH,
    TrainConfig,
    TrainConfigError,
    check_against_dataset,
    model_defaults,
    plural,
)
from numdl.app.metrics import confusion_matrix, per_class_accuracy
from numdl.app.monitor import Monitor
from numdl.app.parser import (
    EXIT_USAGE,
    GENERATED_DATASETS,
    NAMED_DATASETS,
    TRAINING_DEFAULTS,
    build_parser,
    option_name,
)
from numdl.app.training import TrainingDiverged, evaluate, model_from_checkpoint, train
from numdl.app.warmup import start_warm_up
from numdl.core.backend import to_numpy
from numdl.data.dataset import Dataset, DatasetError, DatasetNotFoundError
from numdl.data.images import load_digit_image
from numdl.data.mnist import SOURCES, identify_dataset, load_mnist
from numdl.data.synthetic import load_synthetic_digits
from numdl.data.toy import TOY_DATASETS

EXIT_ERROR, EXIT_INTERRUPTED = 1, 130


class CLIError(Exception):
    """An expected failure: printed as ``numdl: <message>`` with exit status ``code``."""

    def __init__(self, message: str, code: int = EXIT_ERROR) -> None:
        super().__init__(message)
        self.code = code


def _echo(message: str) -> None:
    print(message, flush=True)


def _warn(message: str) -> None:
    print(f"numdl: {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------- the runtime
@contextlib.contextmanager
def _runtime(backend: str | None, threads: int | None) -> Iterator[None]:
    """Select the backend and thread count for the command's duration."""
    name = backend or os.environ.get("NUMDL_BACKEND") or "numba"
    try:
        be = numdl.core.backend.load(name)
    except (ImportError, ValueError) as exc:
        raise CLIError(str(exc)) from None
    with contextlib.ExitStack() as stack:
        if threads is not None:
            try:
                from threadpoolctl import threadpool_limits

                stack.enter_context(threadpool_limits(limits=threads))
            except ImportError:
                _warn("threadpoolctl is not installed; BLAS keeps its own thread count")
            if be.name == "numba":
                import numba

                saved = numba.get_num_threads()
                numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
                stack.callback(numba.set_num_threads, saved)
        stack.enter_context(numdl.use_backend(name))
        yield


def _mpi_world() -> Any:
    """The :class:`~numdl.app.distributed.World` of this process (one rank without MPI)."""
    from numdl.app.distributed import init

    try:
        return init()
    except RuntimeError as exc:  # under mpiexec without mpi4py
        raise CLIError(str(exc)) from None
    except ValueError as exc:  # NUMDL_MPI_TIMEOUT
        raise _usage(str(exc)) from None


def _show_progress(args: argparse.Namespace) -> bool:
    """Progress bars only on a terminal: in a file or pipe each update would be a line."""
    return not args.no_progress and sys.stderr.isatty()


def load_dataset(
    name: str,
    data_dir: str | None,
    *,
    validation_size: int,
    seed: int,
    download: bool,
    progress: bool = True,
    hint: str = "",
) -> Dataset:
    """A generated dataset (``"synthetic"``, ``"moons"``, ...: from ``seed``), or the
    MNIST-format files of ``name`` in ``data_dir`` (``None``: the
    default search of :func:`numdl.data.resolve_data_dir`), named by what they are (their
    checksums, else their directory); ``hint`` ends a not-found message."""
    if name == "synthetic":
        return load_synthetic_digits(seed=seed)
    if name in TOY_DATASETS:
        return TOY_DATASETS[name](seed=seed)
    try:
        dataset = load_mnist(
            data_dir,
            name=name,
            validation_size=validation_size,
            seed=seed,
            download=download,
            progress=progress,
        )
    except DatasetNotFoundError as exc:
        raise _usage(f"{exc}\n{hint}" if hint else str(exc)) from None
    except DatasetError as exc:
        raise _usage(str(exc)) from None
    except ValueError as exc:  # the one rule that needs the files: fewer val than train images
        raise _usage(str(exc).replace("validation_size", "--validation-size")) from None
    source = Path(os.path.abspath(dataset.source_dir))  # absolute, ".." resolved, links kept
    named = identify_dataset(source) or source.name or str(source)
    return dataclasses.replace(dataset, name=named, source_dir=source)


def _usage(message: str) -> CLIError:
    return CLIError(message, EXIT_USAGE)


def _source(dataset: str, data_dir: str | None) -> tuple[str, str | None]:
    """(name, data directory) of a ``--dataset`` value (a name or a directory) and --data-dir."""
    if dataset in NAMED_DATASETS:
        if dataset in GENERATED_DATASETS and data_dir is not None:
            raise _usage(f"--data-dir does not apply to --dataset {dataset} (generated, no files)")
        return dataset, data_dir
    if data_dir is not None:
        raise _usage(f"--dataset {dataset} and --data-dir {data_dir} both name the data; give one")
    return Path(os.path.abspath(dataset)).name or dataset, dataset


def _recorded_source(
    record: dict[str, Any], data_dir: str | None, whose: str
) -> tuple[str, str | None, str]:
    """(name, data directory, not-found hint) of a run's recorded data; --data-dir wins."""
    name = str(record.get("dataset") or "mnist")
    if name in GENERATED_DATASETS and data_dir is not None:
        raise _usage(f"--data-dir does not apply to {name} data (generated, no files)")
    if data_dir is not None or not record.get("data_dir"):
        return name, data_dir, ""
    hint = f"(This is where {whose} read its data; give --data-dir DIR if the files moved.)"
    return name, str(record["data_dir"]), hint


def _check_identity(dataset: Dataset, expected: str, option: str) -> None:
    """Refuse data that checksums show to be another dataset than ``expected``."""
    if dataset.synthetic or dataset.name == expected:
        return
    if dataset.name in SOURCES or expected in SOURCES:
        what = SOURCES[dataset.name].title if dataset.name in SOURCES else "not a known dataset"
        raise _usage(
            f"{option}: the files in {dataset.source_dir} are {what} (by their md5 "
            f"checksums), not {expected}"
        )


# ------------------------------------------------------------------------------ commands
def _given(args: argparse.Namespace) -> dict[str, Any]:
    """The training options given on the command line (the others are absent: SUPPRESS)."""
    return {name: getattr(args, name) for name in TRAINING_DEFAULTS if hasattr(args, name)}


def _new_run_config(args: argparse.Namespace, given: dict[str, Any]) -> TrainConfig:
    """The configuration of a new run, every option checked (messages name the options)."""
    values = {**TRAINING_DEFAULTS, **model_defaults(given.get("model")), **given}
    values.pop("data_dir", None)
    for name, (other, used_with) in APPLIES_ONLY_WITH.items():
        if name in given and values[other] not in used_with:
            raise _usage(
                f"{option_name(name)} applies only with {option_name(other)} "
                f"{' or '.join(used_with)}, not {values[other]}"
            )
    if values["dataset"] in GENERATED_DATASETS and "validation_size" in given:
        sizes = (6000, 1000) if values["dataset"] == "synthetic" else (2000, 500)
        raise _usage(
            f"--validation-size does not apply to --dataset {values['dataset']} (generated, with "
            f"fixed splits: {sizes[0]} train / {sizes[1]} validation / {sizes[1]} test)"
        )
    if args.out is not None and Path(args.out).exists():
        if not Path(args.out).is_dir():
            raise _usage(f"--out {args.out} is a file; expected a directory without a run")
        if (Path(args.out) / "last.npz").exists():
            raise _usage(f"--out {args.out} already holds a run; use --resume {args.out}")
    try:
        return TrainConfig.from_dict(values, spell=option_name)
    except (TypeError, ValueError) as exc:
        raise _usage(str(exc)) from None


def _resume_config(args: argparse.Namespace, given: dict[str, Any]) -> tuple[TrainConfig, int]:
    """The configuration a resumed run continues with, and its completed epochs."""
    run_dir = Path(args.resume)
    if args.out is not None:
        raise _usage(f"--out does not apply with --resume: the run continues in {run_dir}")
    config_path, last = run_dir / "config.json", run_dir / "last.npz"
    if not config_path.is_file() or not last.is_file():
        missing = last if config_path.is_file() else config_path
        raise _usage(f"cannot resume {run_dir}: {missing} not found (not a run, or no epoch done)")
    try:
        saved = TrainConfig.from_dict(json.loads(config_path.read_text()))
        done = int(load_checkpoint(last).meta["epoch"])
    except (OSError, TypeError, ValueError) as exc:  # CheckpointError is a ValueError
        raise CLIError(f"cannot resume {run_dir}: {exc}") from None
    for name, value in given.items():
        if name != "epochs" and value != getattr(saved, name):
            raise _usage(
                f"{option_name(name)} {_shown(value)} conflicts with the run's "
                f"{_shown(getattr(saved, name))}: --resume keeps the run's configuration and "
                "only --epochs may change it; train with other options in a new run (--out)"
            )
    epochs = given.get("epochs", saved.epochs)
    if epochs != saved.epochs and saved.schedule != "constant":
        raise _usage(
            f"--epochs cannot change a run with --schedule {saved.schedule}, planned over its "
            f"{plural(saved.epochs, 'epoch')}"
        )
    if epochs < done:
        raise _usage(
            f"--epochs must be at least {done}, as the run has completed "
            f"{plural(done, 'epoch')}, got {epochs}"
        )
    return dataclasses.replace(saved, epochs=epochs), done


def _shown(value: Any) -> str:
    return " ".join(map(str, value)) if isinstance(value, list) else str(value)


def _new_run_dir(name: str) -> Path:
    stem = f"runs/{name}-{time.strftime('%Y%m%d-%H%M%S')}"
    run_dir, n = Path(stem), 1
    while run_dir.exists():
        n += 1
        run_dir = Path(f"{stem}-{n}")
    return run_dir


def cmd_train(args: argparse.Namespace) -> int:
    """``numdl train``: check every option, find the data, then (and only then) train."""
    given, resume, done = _given(args), args.resume is not None, 0
    if resume:
        config, done = _resume_config(args, given)
        record = dataclasses.asdict(config)
        name, data_dir, hint = _recorded_source(record, args.data_dir, f"the run {args.resume}")
    else:
        config = _new_run_config(args, given)
        (name, data_dir), hint = _source(config.dataset, args.data_dir), ""
    world = _mpi_world()  # several ranks under mpiexec: data-parallel (docs/distributed.md)
    progress = _show_progress(args) and world.is_root
    threads = args.threads if args.threads or not world.distributed else world.threads()
    with _runtime(args.backend, threads):
        start_warm_up(config, numdl.get_backend())  # compiles the run's kernels meanwhile
        dataset = load_dataset(
            name,
            data_dir,
            validation_size=config.validation_size,
            seed=config.seed,
            download=not args.no_download,
            progress=progress,
            hint=hint,
        )
        if resume and args.data_dir is not None:
            _check_identity(dataset, config.dataset, f"--data-dir {args.data_dir}")
        elif given.get("dataset") in SOURCES:
            _check_identity(dataset, given["dataset"], f"--dataset {given['dataset']}")
        recorded = None if dataset.synthetic else str(dataset.source_dir)
        if resume:
            dataset = dataclasses.replace(dataset, name=config.dataset)
            config = dataclasses.replace(config, data_dir=recorded)
        else:
            config = dataclasses.replace(
                config,
                dataset=name if name in GENERATED_DATASETS else dataset.name,
                data_dir=recorded,
                validation_size=len(dataset.val) if dataset.synthetic else config.validation_size,
            )
        run_dir = Path(args.resume or args.out or _new_run_dir(dataset.name))
        n_features = dataset.train.X.shape[1]
        architecture = architecture_name(
            {
                "kind": config.model,
                "sizes": [n_features, *config.hidden, dataset.n_classes],
                "n_features": n_features,
                "channels": config.channels,
                "kernel_size": config.kernel_size,
                "hidden": config.hidden,
                "n_classes": dataset.n_classes,
            }
        )
        plan = (
            (
                f"from epoch {done + 1} to {config.epochs}"
                if done < config.epochs
                else "nothing left"
            )
            if resume
            else plural(config.epochs, "epoch")
        )

        extras = "".join(  # the gradient's regularisers, when on
            f", {label} {value:g}"
            for label, value in (("L1", config.l1), ("clip norm", config.clip_grad_norm))
            if value
        )

        def header() -> None:
            _echo(f"numdl {numdl.__version__}: training a {architecture} on {dataset.describe()}")
            _echo(
                f"backend {numdl.get_backend()}, {config.dtype}, {config.optimizer} lr "
                f"{config.lr} ({config.schedule}){extras}, batch {config.batch_size}, {plan}; "
                f"run directory {run_dir}" + (" (resuming)" if resume else "")
            )

        try:
            check_against_dataset(config, dataset, spell=option_name)
            result = train(
                config,
                dataset,
                run_dir,
                resume=resume,
                progress=progress,
                echo=_echo,
                on_start=header,
                monitor=None if args.monitor is None else Monitor(args.monitor),
                world=world,
            )
        except KeyboardInterrupt:
            _warn(_interrupted(run_dir))
            return EXIT_INTERRUPTED
        except TrainConfigError as exc:
            raise _usage(str(exc)) from None
        except TrainingDiverged as exc:  # raised on every rank together: rank 0 says it
            if not world.is_root:
                return EXIT_ERROR
            raise CLIError(f"training diverged: {exc}") from None
        except (CheckpointError, OSError) as exc:
            raise CLIError(str(exc)) from None

        best = model_from_checkpoint(load_checkpoint(result["best_path"]))
        xp = numdl.core.backend.current().xp
        test_loss, test_acc = evaluate(
            best,
            xp.asarray(dataset.test.X, dtype=best.dtype),
            xp.asarray(dataset.test.y),
            world=world,
        )
        tag = " [SYNTHETIC data]" if dataset.synthetic else ""
        boundary = None  # points in the plane: draw the regions the model learned
        if dataset.train.X.shape[1] == 2 and world.is_root:
            title = f"{dataset.name}: {architecture}{tag}, training points"
            boundary = _draw_boundary(best, dataset.train, run_dir / "boundary.png", title)
    if not world.is_root:  # rank 0 alone reports and writes
        return 0
    _echo(
        f"test accuracy {100 * test_acc:.2f}% (loss {test_loss:.4f}) with the best-by-"
        f"validation checkpoint {result['best_path']}{tag}"
    )
    report = {"test_accuracy": test_acc, "test_loss": test_loss, "dataset": dataset.name}
    report.update(data_dir=config.data_dir, synthetic=dataset.synthetic)
    report["checkpoint"] = str(result["best_path"])
    report["stopped_early"] = result["stopped_early"]
    (run_dir / "test.json").write_text(json.dumps(report, indent=2))
    try:
        from numdl.app.plotting import plot_history

        title = f"{dataset.name}: {architecture}{tag}"
        _echo(f"curves: {plot_history(result['history'], run_dir / 'curves.png', title=title)}")
    except ImportError as exc:
        _warn(f"no plot written ({exc}); the curves are in {run_dir / 'log.csv'}")
    if boundary is not None:
        _echo(f"decision regions: {boundary}")
    return 0


def architecture_name(config: dict[str, Any]) -> str:
    """A model in a few words: ``784-512-10 MLP``, ``784-conv5x5:16-32-128-10 CNN``.

    ``config`` is a model's ``config`` with ``n_features`` (the CNN's flat input width).
    """
    if config.get("kind", "mlp") == "cnn":
        k, channels = config["kernel_size"], "-".join(map(str, config["channels"]))
        head = "-".join(map(str, [*config["hidden"], config["n_classes"]]))
        return f"{config['n_features']}-conv{k}x{k}:{channels}-{head} CNN"
    return "-".join(map(str, config["sizes"])) + " MLP"


def _draw_boundary(model: Any, split: Any, path: Path, title: str) -> Path | None:
    """:func:`~numdl.app.boundary.plot_decision_boundary` of ``split``; ``None`` (and a
    warning) without matplotlib."""
    try:
        return plot_decision_boundary(model, split.X, split.y, path, title=title)
    except ImportError as exc:
        _warn(f"no decision-boundary plot written ({exc})")
        return None


def _interrupted(run_dir: Path) -> str:
    """What Ctrl-C left: the resume command when a checkpoint exists, else that none does."""
    last = run_dir / "last.npz"
    if last.exists():
        return (
            f"interrupted; the last completed epoch is saved in {last}. "
            f"Resume with: numdl train --resume {run_dir}"
        )
    gone = "" if run_dir.exists() else f"; {run_dir} was removed"
    return f"interrupted before the first epoch completed: nothing was saved{gone}"


def _checkpoint_model(path: str) -> tuple[Any, dict[str, Any]]:
    try:
        ckpt = load_checkpoint(path)
        return model_from_checkpoint(ckpt), ckpt.meta
    except CheckpointError as exc:
        raise CLIError(str(exc)) from None


def _run_record(checkpoint: str, meta: dict[str, Any]) -> dict[str, Any]:
    """A checkpoint's training configuration: its metadata, completed from the run's
    ``config.json`` beside it (checkpoints written before ``data_dir`` was recorded)."""
    beside: Any = {}
    with contextlib.suppress(OSError, ValueError):
        beside = json.loads((Path(checkpoint).parent / "config.json").read_text())
    record = meta.get("train") if isinstance(meta.get("train"), dict) else {}
    base = beside if isinstance(beside, dict) else {}
    return {**base, **{k: v for k, v in record.items() if v is not None}}


def cmd_evaluate(args: argparse.Namespace) -> int:
    """``numdl evaluate``: the checkpoint on its run's test split (or ``--dataset``'s)."""
    with _runtime(args.backend, args.threads):
        model, meta = _checkpoint_model(args.checkpoint)
        record, hint = _run_record(args.checkpoint, meta), ""
        if args.dataset is not None:  # another dataset than the run's
            name, data_dir = _source(args.dataset, args.data_dir)
        else:
            whose = f"the run of {args.checkpoint}"
            name, data_dir, hint = _recorded_source(record, args.data_dir, whose)
        seed = record.get("seed")
        dataset = load_dataset(
            name,
            data_dir,
            validation_size=0,  # the test split is all evaluate reads
            seed=seed if isinstance(seed, int) and seed >= 0 else 0,  # synthetic: the run's
            download=not args.no_download,
            progress=sys.stderr.isatty(),
            hint=hint,
        )
        if dataset.train.X.shape[1] != model.n_features:
            raise CLIError(
                f"{args.checkpoint} expects {model.n_features} inputs; "
                f"{dataset.name} has {dataset.train.X.shape[1]}"
            )
        xp = numdl.core.backend.current().xp
        x_test = xp.asarray(dataset.test.X, dtype=model.dtype)
        loss, acc = evaluate(model, x_test, xp.asarray(dataset.test.y))
        pred = to_numpy(model.predict(x_test))
    cm = confusion_matrix(dataset.test.y, pred, dataset.n_classes)
    per_class = per_class_accuracy(cm)
    if args.json:
        report = {"dataset": dataset.name, "synthetic": dataset.synthetic, "test_accuracy": acc}
        report.update(test_loss=loss, per_class_accuracy=per_class.tolist())
        _echo(json.dumps({**report, "confusion_matrix": cm.tolist()}, indent=2))
        return 0
    tag = " [SYNTHETIC data]" if dataset.synthetic else ""
    _echo(
        f"{dataset.name}{tag}: test accuracy {100 * acc:.2f}% (loss {loss:.4f}) "
        f"on {plural(len(dataset.test), 'image')}"
    )
    _echo(
        "per-class accuracy: " + "  ".join(f"{c}: {100 * a:.1f}%" for c, a in enumerate(per_class))
    )
    _echo("confusion matrix (rows: true class, columns: predicted):")
    width = max(5, len(str(cm.max())) + 1)
    _echo("     " + "".join(f"{j:>{width}}" for j in range(cm.shape[1])))
    for i, row in enumerate(cm):
        _echo(f"{i:>4} " + "".join(f"{v:>{width}}" for v in row))
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    """``numdl report``: the run's HTML page, with its checkpoint evaluated on its test split."""
    from numdl.app.report import Predictions, write_report

    run_dir = Path(args.run)
    checkpoint = run_dir / f"{args.checkpoint}.npz"
    if not (run_dir / "last.npz").is_file():
        raise _usage(f"{run_dir} is not a run directory: {run_dir / 'last.npz'} not found")
    with _runtime(args.backend, args.threads):
        model, meta = _checkpoint_model(str(checkpoint))
        history = list(_checkpoint_model(str(run_dir / "last.npz"))[1].get("history") or [])
        record = _run_record(str(checkpoint), meta)
        name, data_dir, hint = _recorded_source(record, args.data_dir, f"the run {run_dir}")
        seed = record.get("seed")
        dataset = load_dataset(
            name,
            data_dir,
            validation_size=0,  # the test split is all the report reads
            seed=seed if isinstance(seed, int) and seed >= 0 else 0,  # generated: the run's
            download=not args.no_download,
            progress=sys.stderr.isatty(),
            hint=hint,
        )
        if dataset.test.X.shape[1] != model.n_features:
            raise CLIError(
                f"{checkpoint} expects {model.n_features} inputs; "
                f"{dataset.name} has {dataset.test.X.shape[1]}"
            )
        xp = numdl.core.backend.current().xp
        proba = to_numpy(model.predict_proba(xp.asarray(dataset.test.X, dtype=model.dtype)))
    test = Predictions(
        images=dataset.test.X,
        labels=dataset.test.y,
        probabilities=proba,
        image_shape=dataset.image_shape,
        checkpoint=checkpoint.name,
        dataset=dataset.name,
    )
    try:
        path = write_report(run_dir, history, record, test, out=args.out)
    except (ImportError, OSError, ValueError) as exc:  # no matplotlib, an unwritable --out
        raise CLIError(f"no report written: {exc}") from None
    _echo(f"report: {path}")
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    with _runtime(args.backend, None):
        model, _ = _checkpoint_model(args.checkpoint)
        try:
            batch = np.stack([load_digit_image(path) for path in args.images])
        except ImportError as exc:
            raise CLIError(str(exc)) from None
        except (DatasetError, ValueError, OSError) as exc:
            raise CLIError(str(exc)) from None
        if batch.shape[1] != model.n_features:
            raise CLIError(
                f"the images give {batch.shape[1]} inputs; the model expects {model.n_features}"
            )
        xp = numdl.core.backend.current().xp
        probs = to_numpy(model.predict_proba(xp.asarray(batch, dtype=model.dtype)))
    results = [
        {
            "image": str(path),
            "prediction": int(p.argmax()),
            "confidence": float(p.max()),
            "probabilities": [float(v) for v in p],
        }
        for path, p in zip(args.images, probs, strict=True)
    ]
    if args.json:
        _echo(json.dumps(results, indent=2))
        return 0
    for r in results:
        probs_text = " ".join(f"{v:.3f}" for v in r["probabilities"])
        _echo(
            f"{r['image']}: {r['prediction']} (confidence {100 * r['confidence']:.1f}%)  "
            f"p = [{probs_text}]"
        )
    return 0


def cmd_boundary(args: argparse.Namespace) -> int:
    """``numdl boundary``: the decision regions of a model of two inputs, over its run's data."""
    out = Path(args.out) if args.out is not None else Path(args.checkpoint).parent / "boundary.png"
    if not out.parent.is_dir():
        raise _usage(f"--out {out}: the directory {out.parent} does not exist")
    with _runtime(args.backend, None):
        model, meta = _checkpoint_model(args.checkpoint)
        if model.n_features != 2:
            raise CLIError(
                f"{args.checkpoint}'s model takes {model.n_features} inputs; numdl boundary draws "
                "models of points in the plane (2 inputs: --dataset moons, spirals or blobs)"
            )
        record = _run_record(args.checkpoint, meta)
        name, data_dir, hint = _recorded_source(record, None, f"the run of {args.checkpoint}")
        seed = record.get("seed")
        dataset = load_dataset(
            name,
            data_dir,
            validation_size=int(record.get("validation_size") or 0),
            seed=seed if isinstance(seed, int) and seed >= 0 else 0,  # generated: the run's
            download=False,
            progress=False,
            hint=hint,
        )
        split = getattr(dataset, args.split)
        if split.X.shape[1] != 2 or len(split) == 0:
            raise CLIError(f"the {args.split} split of {dataset.name} has no points in the plane")
        tag = " [SYNTHETIC data]" if dataset.synthetic else ""
        architecture = architecture_name({**model.config, "n_features": model.n_features})
        title = f"{dataset.name}: {architecture}{tag}, {args.split} points"
        try:
            path = plot_decision_boundary(
                model, split.X, split.y, out, resolution=args.resolution, title=title
            )
        except ImportError as exc:
            raise CLIError(str(exc)) from None
        except OSError as exc:
            raise CLIError(f"cannot write {out}: {exc}") from None
    _echo(f"decision regions: {path}")
    return 0


def cmd_study(args: argparse.Namespace) -> int:
    """``numdl study``: a grid of trainings in parallel processes (:mod:`numdl.app.study`)."""
    from numdl.app.study_cli import run_from_args

    return run_from_args(args)


def cmd_compile(args: argparse.Namespace) -> int:
    """``numdl compile``: fill Numba's cache with every kernel (:mod:`numdl.bench.compile`)."""
    try:
        import numba  # noqa: F401  (the backend being compiled)
    except ImportError as exc:
        raise CLIError(f"the numba backend is not available: {exc}") from None
    from numdl.bench.compile import DTYPES, compile_kernels

    jobs = args.jobs or min(4, os.cpu_count() or 1)
    done = compile_kernels(tuple(args.dtype or DTYPES), jobs=jobs, parallel=args.parallel)
    processes = f"{done['jobs']} process" + ("es" if done["jobs"] > 1 else "")
    _echo(
        f"numba kernels ({', '.join(done['dtypes'])}): {done['compiled']} specialisations "
        f"compiled, {done['loaded']} loaded from the cache, in {done['seconds']:.1f} s "
        f"({processes}); cache: {', '.join(done['cache_dirs'])}"
    )
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    """``numdl bench``: the side-by-side comparison of :mod:`numdl.bench`."""
    from numdl.bench import run_from_args

    return run_from_args(args)


COMMANDS = {
    "train": cmd_train,
    "evaluate": cmd_evaluate,
    "predict": cmd_predict,
    "report": cmd_report,
    "boundary": cmd_boundary,
    "study": cmd_study,
    "bench": cmd_bench,
    "compile": cmd_compile,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``numdl`` command; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except CLIError as exc:
        _warn(str(exc))
        return exc.code
    except KeyboardInterrupt:
        _warn("interrupted")
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # stdout closed early (e.g. piped into head): not an error of ours
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - so that the exit flush is silent
        return EXIT_ERROR


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
