"""The ``numdl`` argument parser: every option, its rule and its default, stated once.

The training options' types, choices and help are built from the tables the configuration
is checked with (:data:`~numdl.app.config.DOMAINS`, :data:`~numdl.app.config.CHOICES`, the
defaults of :class:`~numdl.app.config.TrainConfig`), so ``--help`` says what is enforced. A
bad value is one line, ``numdl: ...``, on stderr with exit status 2.
"""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

import numdl
from numdl.app.config import CHOICES, CNN_RECIPE, DOMAINS, LIST_OPTIONS, Domain, TrainConfig
from numdl.app.monitor import DEFAULT_EVERY
from numdl.data.toy import TOY_DATASETS

__all__ = [
    "EXIT_USAGE",
    "GENERATED_DATASETS",
    "NAMED_DATASETS",
    "TRAINING_DEFAULTS",
    "build_parser",
    "option_name",
]

EXIT_USAGE = 2
#: The datasets made by numdl itself (no files, fixed splits, regenerated from the run's seed).
GENERATED_DATASETS = ("synthetic", *TOY_DATASETS)
NAMED_DATASETS = ("mnist", "fashion-mnist", "kmnist", *GENERATED_DATASETS)
#: Every training option's default (``numdl train`` shows them in ``--help``).
TRAINING_DEFAULTS: dict[str, Any] = {
    k: v for k, v in dataclasses.asdict(TrainConfig()).items() if k != "data_dir"
}


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line, ``numdl: ...``, and exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"numdl: {message} (see '{self.prog} --help')\n")


def option_name(name: str) -> str:
    """The command-line spelling of a training field: ``batch_size`` -> ``--batch-size``."""
    return "--" + name.replace("_", "-")


def _typed(domain: Domain, name: str) -> Callable[[str], Any]:
    """An argparse ``type`` enforcing ``domain``; its message says what is expected."""

    def parse(text: str) -> Any:
        try:
            return domain.check(int(text) if domain.kind is int else float(text), name)
        except (TypeError, ValueError):
            raise argparse.ArgumentTypeError(
                f"expected {domain.describe()}, got {text!r}"
            ) from None

    return parse


def _dataset(text: str) -> str:
    if text in NAMED_DATASETS or Path(text).is_dir():
        return text
    raise argparse.ArgumentTypeError(
        f"expected one of {', '.join(NAMED_DATASETS)}, or an existing directory of "
        f"MNIST-format files, got {text!r}"
    )


def _shown(value: object) -> str:
    return " ".join(map(str, value)) if isinstance(value, list) else str(value)


def _with_default(text: str, default: object) -> str:
    return f"{text} (default: {default})"


#: What each training option does; its rule (training.DOMAINS, CHOICES) and its default
#: (TrainConfig) are appended from the tables the configuration itself is checked with.
TRAIN_HELP: dict[str, str] = {
    "dataset": f"the data: {', '.join(NAMED_DATASETS[:3])} (downloaded when missing), "
    "synthetic (generated seven-segment digits, no files), "
    f"{', '.join(TOY_DATASETS)} (generated points in the plane, 2000/500/500), "
    "or a directory of the four MNIST-format files; the run "
    "is named by what the files are (their md5 checksums), else by their directory",
    "model": "the network: mlp (the textbook report's, Table 1's defaults) or cnn (ch. 9: "
    "per --channels entry a --kernel-size convolution with ReLU and 2 x 2 max pooling, then "
    "the --hidden dense layers; its defaults are the CNN recipe: "
    + ", ".join(f"{option_name(k)} {_shown(v)}" for k, v in CNN_RECIPE.items())
    + ")",
    "hidden": "hidden layer widths (cnn: of the dense head)",
    "channels": "filters of each convolution block, for --model cnn only",
    "kernel_size": "side of the square convolution kernels (padding kernel-size // 2), for "
    "--model cnn only",
    "activation": "activation of the hidden layers (mlp only: the cnn's is ReLU)",
    "init": "weight initialisation",
    "norm": "normalisation between each hidden linear layer and its activation: batch "
    "(BatchNorm, running statistics for evaluation) or layer (LayerNorm); mlp only",
    "dropout": "inverted dropout probability after each hidden activation (masks seeded from "
    "--seed and the epoch)",
    "batch_size": "mini-batch size (at most the training split)",
    "optimizer": "update rule: sgd, momentum (heavy ball), nesterov, adamw, adam (coupled L2 "
    "decay), rmsprop (no momentum) or adagrad; adam/adamw use betas (0.9, 0.999) and eps "
    "1e-8, rmsprop alpha 0.99 and eps 1e-8, adagrad eps 1e-10 (torch.optim's defaults); the "
    "adaptive ones want a small --lr (e.g. 1e-3 for adam, rmsprop; 1e-2 for adagrad)",
    "lr": "(peak) learning rate",
    "momentum": "momentum β, for --optimizer momentum or nesterov only",
    "weight_decay": "weight decay: L2 on the weights (decoupled for adamw, added to the "
    "gradient for the others)",
    "l1": "λ of the L1 penalty λ‖w‖₁ on the weights (not biases): λ·sign(w) is added to the "
    "gradient after backward, before clipping and the update; 0 is off",
    "clip_grad_norm": "rescale the gradient to this global L2 norm when it is larger, "
    "between backward and the update (as torch.nn.utils.clip_grad_norm_); 0 is off",
    "epochs": "passes over the training split; with --resume, the epoch to train on to",
    "patience": "early stopping (ch. 7.8): stop when validation accuracy has not improved "
    "for PATIENCE epochs (best.npz holds the best model); 0: off",
    "schedule": "learning-rate schedule",
    "warmup_epochs": "linear warm-up (eq. 25), for --schedule cosine only; below --epochs",
    "lr_min": "final rate, for --schedule cosine only; at most --lr",
    "augment": "'shift': random shifts of up to --max-shift pixels",
    "max_shift": "largest shift in pixels, for --augment shift only; below the image size",
    "validation_size": "training images held out for validation (fewer than the training "
    "images); not for the generated datasets (synthetic, moons, ...), whose splits are fixed",
    "dtype": "floating-point type of the parameters and arithmetic",
    "seed": "seed of the initialisation, shuffles, shifts and validation split",
}


def _add_trainingoption_name(p: argparse.ArgumentParser, name: str) -> None:
    """A training option: default ``argparse.SUPPRESS``, so that the options a user gave can
    be told from the defaults (``--resume`` refuses them, inapplicable ones are errors)."""
    metavar = {"hidden": "WIDTH", "channels": "FILTERS"}.get(name, name.upper())
    kwargs: dict[str, Any] = {"metavar": metavar}
    text = TRAIN_HELP[name]
    if name in DOMAINS:
        kwargs["type"] = _typed(DOMAINS[name], name)
        text += f"; {'each ' if name in LIST_OPTIONS else ''}{DOMAINS[name].describe()}"
    if name in CHOICES:
        kwargs = {"choices": CHOICES[name]}
    if name == "dataset":
        kwargs["type"] = _dataset
    if name in LIST_OPTIONS:
        kwargs["nargs"] = "+"
    help_text = _with_default(text, _shown(TRAINING_DEFAULTS[name]))
    p.add_argument(option_name(name), default=argparse.SUPPRESS, help=help_text, **kwargs)


def _arg(p: argparse.ArgumentParser, flag: str, text: str, default: str, **kw: Any) -> None:
    """An option whose help says what it does and, once, its default."""
    kw.setdefault("default", None)
    p.add_argument(flag, help=_with_default(text, default), **kw)


def _add_runtime_options(p: argparse.ArgumentParser, data_dir_default: str = "") -> None:
    backends = numdl.available_backends()
    _arg(p, "--backend", "hot-path implementation", "$NUMDL_BACKEND, else numba", choices=backends)
    if not data_dir_default:  # predict reads no data
        return
    text = "threads for BLAS and the numba kernels, an integer >= 1"
    _arg(p, "--threads", text, "all cores", type=_typed(Domain(int, 1), "threads"), metavar="N")
    text = "directory of the dataset's four MNIST-format files (plain or .gz)"
    _arg(p, "--data-dir", text, data_dir_default, metavar="DIR")
    default = "off: missing files of mnist, fashion-mnist and kmnist are downloaded, md5-checked"
    _arg(p, "--no-download", "never download missing files", default, action="store_true")


def build_parser() -> argparse.ArgumentParser:
    """The ``numdl`` argument parser: every option's rule and default are in its ``--help``."""
    parser = _Parser(
        prog="numdl",
        description="Train, evaluate and use MLP and CNN classifiers on MNIST-format datasets.",
    )
    parser.add_argument("--version", action="version", version=f"numdl {numdl.__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    t = sub.add_parser(
        "train",
        help="train an MLP (defaults: the textbook report's Table 1) or a CNN (--model cnn)",
        description="Train an MLP (the defaults are the textbook report's Table 1) or a CNN "
        "(--model cnn, with the defaults of the CNN recipe). Every "
        "option is checked before anything is printed or written; a run directory is left "
        "behind only once it holds a checkpoint (Ctrl-C in the first epoch removes it).",
    )
    for name in TRAIN_HELP:
        _add_trainingoption_name(t, name)
    text = "run directory, which must not hold a run yet"
    _arg(t, "--out", text, "runs/<dataset>-<YYYYmmdd-HHMMSS>", metavar="DIR")
    text = (
        "continue the run in RUN_DIR from its last checkpoint, with the run's configuration: "
        "only --epochs may change it (train on to a later epoch; constant schedule only), "
        "and --data-dir (if the files moved); other training options are refused unless "
        "equal to the run's"
    )
    _arg(t, "--resume", text, "start a new run", metavar="RUN_DIR")
    text = "no progress bars, even on a terminal"
    default = "off: bars when stderr is a terminal; in a file or pipe, one line per epoch"
    _arg(t, "--no-progress", text, default, action="store_true")
    text = (
        "record the training dynamics every N steps (activation statistics, dead ReLUs, "
        "gradient norms, update ratios, histograms) into monitor.csv and monitor.npz; "
        f"N an integer >= 1, {DEFAULT_EVERY} when not given; see 'numdl report'"
    )
    kind = _typed(Domain(int, 1), "monitor")
    _arg(t, "--monitor", text, "off", type=kind, nargs="?", const=DEFAULT_EVERY, metavar="N")
    _add_runtime_options(t, "$NUMDL_DATA_DIR, else ~/.cache/numdl/<dataset>; resumed: the run's")

    e = sub.add_parser("evaluate", help="test accuracy, per-class accuracy, confusion matrix")
    e.add_argument("checkpoint", help="a .npz checkpoint written by 'numdl train'")
    text = "evaluate on this dataset instead (as train's --dataset)"
    _arg(e, "--dataset", text, "the checkpoint's", type=_dataset)
    _arg(e, "--json", "print the results as JSON", "off: a text report", action="store_true")
    _add_runtime_options(
        e,
        "the directory the checkpoint's run read its data from (in the checkpoint and the "
        "run's config.json), else $NUMDL_DATA_DIR, else ~/.cache/numdl/<dataset>",
    )

    p = sub.add_parser("predict", help="classify image files (PNG, JPEG, ...)")
    p.add_argument("checkpoint", help="a .npz checkpoint written by 'numdl train'")
    p.add_argument("images", nargs="+", help="image files of single digits")
    _arg(p, "--json", "print the results as JSON", "off: a line per image", action="store_true")
    _add_runtime_options(p)

    d = sub.add_parser(
        "boundary",
        help="draw the decision regions of a model of points in the plane (moons, ...)",
        description="Colour the plane by the class a checkpoint's model predicts and draw the "
        "points of its run's dataset on top, coloured by their true class (a PNG; needs "
        "matplotlib). The data are regenerated from the run's seed.",
    )
    d.add_argument("checkpoint", help="a .npz checkpoint written by 'numdl train' on 2-D data")
    _arg(d, "--out", "the PNG to write", "boundary.png beside the checkpoint", metavar="PATH")
    text = _with_default("the split whose points are drawn", "train")
    d.add_argument("--split", choices=("train", "val", "test"), default="train", help=text)
    text = _with_default("grid points along each axis, an integer >= 2", 200)
    kind = _typed(Domain(int, 2), "resolution")
    d.add_argument("--resolution", type=kind, default=200, metavar="N", help=text)
    _add_runtime_options(d)

    r = sub.add_parser(
        "report",
        help="write one self-contained HTML page about a run",
        description="Write report.html into RUN (or --out): the run's learning curves, the "
        "training dynamics recorded with 'numdl train --monitor', the confusion matrix of a "
        "checkpoint on the test set and its worst misclassified test images. The figures are "
        "inline PNGs (needs matplotlib): the page loads nothing from the network.",
    )
    r.add_argument("run", metavar="RUN", help="a run directory written by 'numdl train'")
    _arg(r, "--out", "the HTML file to write", "RUN/report.html", metavar="PATH")
    text = _with_default("the checkpoint evaluated on the test set", "best")
    r.add_argument("--checkpoint", choices=("best", "last"), default="best", help=text)
    _add_runtime_options(r, "the directory the run read its data from, else $NUMDL_DATA_DIR")

    from numdl.app import study_cli as _study  # light: the study runs only when called

    s = sub.add_parser(
        "study",
        help="a grid of trainings (initialisation x depth x ... x seeds) in parallel processes",
        description=_study.DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _study.add_arguments(s)
    c = sub.add_parser(
        "compile",
        help="fill Numba's cache with every kernel ahead of time (e.g. after installing)",
        description="Compile every kernel of the numba backend (their serial flavours; "
        "--parallel adds the parallel ones) into Numba's on-disk cache, so that no run waits "
        "for compilation. "
        "Already cached kernels are loaded, not recompiled; a kernel whose source changed, "
        "or a new Numba, is recompiled.",
    )
    text = "the dtypes to compile for"
    _arg(c, "--dtype", text, "float32 float64", nargs="+", choices=("float32", "float64"))
    text = "processes compiling at once (one kernel family each), an integer >= 1"
    jobs = _typed(Domain(int, 1), "jobs")
    _arg(c, "--jobs", text, "the number of CPUs, at most 4", type=jobs, metavar="N")
    text = "also the parallel flavours (used on buffers of 2^24 elements and more)"
    _arg(c, "--parallel", text, "serial kernels only", action="store_true")

    from numdl import bench as _bench  # light: NumPy only until it runs

    b = sub.add_parser(
        "bench",
        help="side-by-side timings: NumPy reference vs Numba kernels vs PyTorch, vs the machine",
        description=_bench.DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _bench.add_arguments(b)
    return parser
