"""The ``numdl`` command line: ``train``, ``evaluate``, ``predict``.

Expected problems (missing data, a corrupt checkpoint, a diverging run, Ctrl-C) end with a
clear message on stderr and a non-zero exit status, never a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

import numdl
from numdl.app.checkpoint import CheckpointError, load_checkpoint
from numdl.app.metrics import confusion_matrix, per_class_accuracy
from numdl.app.training import TrainConfig, TrainingDiverged, evaluate, model_from_checkpoint, train
from numdl.core.backend import to_numpy
from numdl.data import (
    DATA_DIR_ENV,
    Dataset,
    DatasetError,
    load_digit_image,
    load_mnist,
    load_synthetic_digits,
)

EXIT_ERROR, EXIT_USAGE, EXIT_INTERRUPTED = 1, 2, 130
NAMED_DATASETS = ("mnist", "fashion-mnist", "kmnist", "synthetic")


class CLIError(Exception):
    """An expected failure: printed as ``numdl: <message>`` with exit status ``code``."""

    def __init__(self, message: str, code: int = EXIT_ERROR) -> None:
        super().__init__(message)
        self.code = code


def _echo(message: str) -> None:
    print(message, flush=True)


def _warn(message: str) -> None:
    print(f"numdl: {message}", file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------- arguments
def _add_runtime_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--backend",
        choices=numdl.available_backends(),
        default=None,
        help="hot-path implementation (default: $NUMDL_BACKEND, else numba)",
    )
    p.add_argument(
        "--threads",
        type=int,
        default=None,
        help="threads for BLAS and the numba kernels (default: all cores)",
    )
    p.add_argument(
        "--data-dir",
        default=None,
        help=f"directory of the dataset files (default: ${DATA_DIR_ENV}, "
        "else ~/.cache/numdl/<dataset>)",
    )
    p.add_argument("--no-download", action="store_true", help="never download missing files")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="numdl",
        description="Train, evaluate and use MLP classifiers on MNIST-format datasets.",
    )
    parser.add_argument("--version", action="version", version=f"numdl {numdl.__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    d = TrainConfig()
    t = sub.add_parser(
        "train",
        help="train an MLP (defaults: the textbook report's Table 1)",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    t.add_argument(
        "--dataset",
        default=d.dataset,
        help=f"one of {', '.join(NAMED_DATASETS)}, or a directory of MNIST-format files",
    )
    t.add_argument("--hidden", type=int, nargs="+", default=d.hidden, help="hidden layer widths")
    t.add_argument(
        "--activation", default=d.activation, choices=["relu", "leaky_relu", "sigmoid", "tanh"]
    )
    t.add_argument(
        "--init",
        default=d.init,
        choices=["glorot_uniform", "glorot_normal", "he_uniform", "he_normal"],
    )
    t.add_argument("--batch-size", type=int, default=d.batch_size)
    t.add_argument(
        "--optimizer", default=d.optimizer, choices=["sgd", "momentum", "nesterov", "adamw"]
    )
    t.add_argument("--lr", type=float, default=d.lr, help="(peak) learning rate")
    t.add_argument("--momentum", type=float, default=d.momentum)
    t.add_argument("--weight-decay", type=float, default=d.weight_decay)
    t.add_argument("--epochs", type=int, default=d.epochs)
    t.add_argument("--schedule", default=d.schedule, choices=["constant", "cosine"])
    t.add_argument(
        "--warmup-epochs",
        type=float,
        default=d.warmup_epochs,
        help="linear warm-up length for the cosine schedule (eq. 25)",
    )
    t.add_argument(
        "--lr-min", type=float, default=d.lr_min, help="final rate of the cosine schedule"
    )
    t.add_argument(
        "--augment",
        default=d.augment,
        choices=["none", "shift"],
        help="'shift': random shifts of up to --max-shift pixels per image",
    )
    t.add_argument("--max-shift", type=int, default=d.max_shift)
    t.add_argument(
        "--validation-size",
        type=int,
        default=d.validation_size,
        help="training images held out for validation",
    )
    t.add_argument("--dtype", default=d.dtype, choices=["float32", "float64"])
    t.add_argument("--seed", type=int, default=d.seed)
    t.add_argument("--out", default=None, help="run directory (default: runs/<dataset>-<time>)")
    t.add_argument(
        "--resume",
        metavar="RUN_DIR",
        default=None,
        help="continue the run in RUN_DIR from its last checkpoint",
    )
    t.add_argument("--no-progress", action="store_true", help="no progress bars")
    _add_runtime_options(t)

    e = sub.add_parser("evaluate", help="test accuracy, per-class accuracy, confusion matrix")
    e.add_argument("checkpoint", help="a .npz checkpoint written by 'numdl train'")
    e.add_argument("--dataset", default=None, help="dataset (default: the checkpoint's)")
    e.add_argument("--json", action="store_true", help="print the results as JSON")
    _add_runtime_options(e)

    p = sub.add_parser("predict", help="classify image files (PNG, JPEG, ...)")
    p.add_argument("checkpoint", help="a .npz checkpoint written by 'numdl train'")
    p.add_argument("images", nargs="+", help="image files of single digits")
    p.add_argument("--json", action="store_true", help="print the results as JSON")
    p.add_argument("--backend", choices=numdl.available_backends(), default=None)

    from numdl import bench as _bench  # light: NumPy only until it runs

    b = sub.add_parser(
        "bench",
        help="side-by-side timings: NumPy reference vs Numba kernels vs PyTorch, vs the machine",
        description=_bench.DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _bench.add_arguments(b)
    return parser


# ---------------------------------------------------------------------------- the runtime
@contextlib.contextmanager
def _runtime(backend: str | None, threads: int | None) -> Iterator[None]:
    """Select the backend and thread count for the command's duration."""
    import os

    name = backend or os.environ.get("NUMDL_BACKEND") or "numba"
    try:
        be = numdl.core.backend.load(name)
    except (ImportError, ValueError) as exc:
        raise CLIError(str(exc)) from None
    with contextlib.ExitStack() as stack:
        if threads is not None:
            if threads < 1:
                raise CLIError(f"--threads must be >= 1, got {threads}", EXIT_USAGE)
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


def load_dataset(
    name: str,
    data_dir: str | None,
    *,
    validation_size: int,
    seed: int,
    download: bool,
    progress: bool = True,
) -> Dataset:
    """The dataset a command names: synthetic, a named MNIST-format set, or a directory."""
    if name == "synthetic":
        return load_synthetic_digits(seed=seed)
    if name not in NAMED_DATASETS and Path(name).is_dir():
        data_dir, name = name, Path(name).name
    try:
        return load_mnist(
            data_dir,
            name=name,
            validation_size=validation_size,
            seed=seed,
            download=download,
            progress=progress,
        )
    except DatasetError as exc:
        raise CLIError(str(exc), EXIT_USAGE) from None


# ------------------------------------------------------------------------------ commands
def cmd_train(args: argparse.Namespace) -> int:
    if args.resume:
        run_dir = Path(args.resume)
        config_path = run_dir / "config.json"
        if not config_path.is_file():
            raise CLIError(
                f"cannot resume: {config_path} not found (is {run_dir} a run directory?)"
            )
        config = TrainConfig.from_dict(json.loads(config_path.read_text()))
    else:
        try:
            config = TrainConfig(
                hidden=args.hidden,
                activation=args.activation,
                init=args.init,
                batch_size=args.batch_size,
                optimizer=args.optimizer,
                lr=args.lr,
                momentum=args.momentum,
                weight_decay=args.weight_decay,
                epochs=args.epochs,
                schedule=args.schedule,
                warmup_epochs=args.warmup_epochs,
                lr_min=args.lr_min,
                augment=args.augment,
                max_shift=args.max_shift,
                seed=args.seed,
                dtype=args.dtype,
                dataset=args.dataset,
                validation_size=args.validation_size,
            )
        except ValueError as exc:
            raise CLIError(str(exc), EXIT_USAGE) from None
        stamp = time.strftime("%Y%m%d-%H%M%S")
        run_dir = Path(args.out or f"runs/{Path(config.dataset).name}-{stamp}")
        if (run_dir / "last.npz").exists():
            raise CLIError(
                f"{run_dir} already holds a run; use --resume {run_dir} or another --out"
            )

    with _runtime(args.backend, args.threads):
        dataset = load_dataset(
            config.dataset,
            args.data_dir,
            validation_size=config.validation_size,
            seed=config.seed,
            download=not args.no_download,
            progress=not args.no_progress,
        )
        hidden = "-".join(str(h) for h in config.hidden)
        architecture = f"{dataset.train.X.shape[1]}-{hidden}-{dataset.n_classes}"
        _echo(f"numdl {numdl.__version__}: training a {architecture} MLP on {dataset.describe()}")
        _echo(
            f"backend {numdl.get_backend()}, {config.dtype}, {config.optimizer} lr {config.lr} "
            f"({config.schedule}), batch {config.batch_size}, {config.epochs} epochs; "
            f"run directory {run_dir}" + (" (resuming)" if args.resume else "")
        )
        try:
            result = train(
                config,
                dataset,
                run_dir,
                resume=bool(args.resume),
                progress=not args.no_progress,
                echo=_echo,
            )
        except KeyboardInterrupt:
            last = run_dir / "last.npz"
            saved = (
                f"the last completed epoch is saved in {last}"
                if last.exists()
                else ("no epoch had completed, so there is no checkpoint yet")
            )
            _warn(f"interrupted; {saved}. Resume with: numdl train --resume {run_dir}")
            return EXIT_INTERRUPTED
        except TrainingDiverged as exc:
            raise CLIError(f"training diverged: {exc}") from None
        except CheckpointError as exc:
            raise CLIError(str(exc)) from None

        best = model_from_checkpoint(load_checkpoint(result["best_path"]))
        xp = numdl.core.backend.current().xp
        test_loss, test_acc = evaluate(
            best, xp.asarray(dataset.test.X, dtype=best.dtype), xp.asarray(dataset.test.y)
        )
    tag = " [SYNTHETIC data]" if dataset.synthetic else ""
    _echo(
        f"test accuracy {100 * test_acc:.2f}% (loss {test_loss:.4f}) with the best-by-"
        f"validation checkpoint {result['best_path']}{tag}"
    )
    (run_dir / "test.json").write_text(
        json.dumps(
            {
                "test_accuracy": test_acc,
                "test_loss": test_loss,
                "dataset": dataset.name,
                "synthetic": dataset.synthetic,
                "checkpoint": str(result["best_path"]),
            },
            indent=2,
        )
    )
    try:
        from numdl.app.plotting import plot_history

        png = plot_history(
            result["history"],
            run_dir / "curves.png",
            title=f"{dataset.name}: {architecture} MLP{tag}",
        )
        _echo(f"curves: {png}")
    except ImportError as exc:
        _warn(f"no plot written ({exc}); the curves are in {run_dir / 'log.csv'}")
    return 0


def _checkpoint_model(path: str) -> tuple[Any, dict[str, Any]]:
    try:
        ckpt = load_checkpoint(path)
        return model_from_checkpoint(ckpt), ckpt.meta
    except CheckpointError as exc:
        raise CLIError(str(exc)) from None


def cmd_evaluate(args: argparse.Namespace) -> int:
    with _runtime(args.backend, args.threads):
        model, meta = _checkpoint_model(args.checkpoint)
        cfg = meta.get("train", {})
        name = args.dataset or cfg.get("dataset", "mnist")
        dataset = load_dataset(
            name,
            args.data_dir,
            validation_size=cfg.get("validation_size", 5000),
            seed=cfg.get("seed", 0),
            download=not args.no_download,
        )
        if dataset.train.X.shape[1] != model.config["sizes"][0]:
            raise CLIError(
                f"{args.checkpoint} expects {model.config['sizes'][0]} inputs; "
                f"{dataset.name} has {dataset.train.X.shape[1]}"
            )
        xp = numdl.core.backend.current().xp
        x_test = xp.asarray(dataset.test.X, dtype=model.dtype)
        loss, acc = evaluate(model, x_test, xp.asarray(dataset.test.y))
        pred = to_numpy(model.predict(x_test))
    cm = confusion_matrix(dataset.test.y, pred, dataset.n_classes)
    per_class = per_class_accuracy(cm)
    if args.json:
        _echo(
            json.dumps(
                {
                    "dataset": dataset.name,
                    "synthetic": dataset.synthetic,
                    "test_accuracy": acc,
                    "test_loss": loss,
                    "per_class_accuracy": per_class.tolist(),
                    "confusion_matrix": cm.tolist(),
                },
                indent=2,
            )
        )
        return 0
    tag = " [SYNTHETIC data]" if dataset.synthetic else ""
    _echo(
        f"{dataset.name}{tag}: test accuracy {100 * acc:.2f}% (loss {loss:.4f}) "
        f"on {len(dataset.test)} images"
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


def cmd_predict(args: argparse.Namespace) -> int:
    with _runtime(args.backend, None):
        model, _ = _checkpoint_model(args.checkpoint)
        try:
            batch = np.stack([load_digit_image(path) for path in args.images])
        except ImportError as exc:
            raise CLIError(str(exc)) from None
        except (DatasetError, ValueError, OSError) as exc:
            raise CLIError(str(exc)) from None
        if batch.shape[1] != model.config["sizes"][0]:
            raise CLIError(
                f"the images give {batch.shape[1]} inputs; the model expects "
                f"{model.config['sizes'][0]}"
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


def cmd_bench(args: argparse.Namespace) -> int:
    """``numdl bench``: the side-by-side comparison of :mod:`numdl.bench`."""
    from numdl.bench import run_from_args

    return run_from_args(args)


COMMANDS = {
    "train": cmd_train,
    "evaluate": cmd_evaluate,
    "predict": cmd_predict,
    "bench": cmd_bench,
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


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
