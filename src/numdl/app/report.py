"""``numdl report``: one self-contained HTML page about a run.

The page shows the run's configuration and outcome, its learning curves, the training dynamics
its :class:`~numdl.app.monitor.Monitor` recorded (when it was trained with ``--monitor``:
activation statistics, gradient norms and update ratios per layer, histograms of activations,
gradients and weights over the epochs), the confusion matrix of a checkpoint on the test set
and a grid of the test images it misclassified most confidently.

Every figure is an inline base64 PNG (matplotlib) and the page carries a Content-Security-Policy
that allows nothing but inline images and styles: it loads nothing from anywhere, so it opens
the same offline, from a mail attachment or from an archive.
"""

from __future__ import annotations

import base64
import html
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from numdl.app.config import plural
from numdl.app.metrics import confusion_matrix, per_class_accuracy
from numdl.app.monitor import HISTOGRAM_KINDS, load_monitor
from numdl.app.plotting import (
    confusion_figure,
    dynamics_figure,
    histograms_figure,
    history_figure,
    misclassified_figure,
    pyplot,
)
from numdl.core.validation import check_int
from numdl.data.dataset import atomic_write

__all__ = ["REPORT_FILE", "Predictions", "render_report", "write_report"]

#: The page's name in the run directory.
REPORT_FILE = "report.html"

#: Nothing but inline images (data: URIs) and the page's own style.
_CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1200px; color: #222; }
h1 { font-size: 1.6em; } h2 { border-bottom: 1px solid #ccc; padding-bottom: .2em; }
table { border-collapse: collapse; } td, th { padding: .15em .8em; text-align: left; }
tr:nth-child(even) { background: #f4f4f4; }
figure { margin: 1em 0; } figcaption { color: #555; font-size: .9em; max-width: 60em; }
img { max-width: 100%; height: auto; }
.note { background: #fff6d5; padding: .5em 1em; border-left: 4px solid #e0b000; }
"""

_KIND_TITLES = {
    "act": "Activations (each layer's output)",
    "grad": "Gradients (of each parameter, as the step applies them)",
    "weight": "Weights (each parameter, before the step)",
}


@dataclass
class Predictions:
    """A checkpoint's predictions on the test split (what the confusion matrix and the
    grid of misclassified images are made of).

    Attributes
    ----------
    images : (N, D) array
        The test inputs, rows of flattened ``image_shape`` images.
    labels : (N,) int array
    probabilities : (N, n_classes) array
        The model's softmax outputs.
    image_shape : (int, int)
    checkpoint : str
        Which checkpoint made them (shown on the page).
    dataset : str
        The dataset's name (shown on the page).
    """

    images: np.ndarray
    labels: np.ndarray
    probabilities: np.ndarray
    image_shape: tuple[int, int]
    checkpoint: str
    dataset: str


def _png(fig: Any) -> str:
    """``fig`` as a base64 PNG data URI (and closed)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90)
    pyplot().close(fig)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _figure(fig: Any, alt: str, caption: str) -> str:
    return (
        f'<figure><img src="{_png(fig)}" alt="{html.escape(alt)}">'
        f"<figcaption>{html.escape(caption)}</figcaption></figure>"
    )


def _table(rows: list[tuple[str, Any]]) -> str:
    cells = "".join(
        f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(str(v))}</td></tr>" for k, v in rows
    )
    return f"<table>{cells}</table>"


def _worst(test: Predictions, count: int) -> tuple[np.ndarray, ...]:
    """Indices, predictions and confidences of the ``count`` misclassified test images with
    the lowest probability of their true class."""
    predicted = test.probabilities.argmax(axis=1)
    wrong = np.flatnonzero(predicted != test.labels)
    p_true = test.probabilities[wrong, test.labels[wrong]]
    worst = wrong[np.argsort(p_true, kind="stable")[:count]]
    return worst, predicted[worst], test.probabilities[worst, predicted[worst]]


def render_report(
    run_dir: str | Path,
    history: list[dict[str, Any]],
    config: dict[str, Any],
    test: Predictions,
    *,
    worst: int = 32,
) -> str:
    """The HTML page of the run in ``run_dir`` (its monitor files are read from there).

    Parameters
    ----------
    run_dir : path
        The run directory (its name titles the page; ``monitor.csv``/``monitor.npz`` are
        read from it when present).
    history : list of dict
        The per-epoch rows (the last checkpoint's history, as in ``log.csv``).
    config : dict
        The run's training configuration (``config.json``).
    test : Predictions
    worst : int >= 0, default 32
        How many misclassified images the grid shows.

    Raises
    ------
    ImportError
        If matplotlib is not installed.
    ValueError
        If ``worst`` is negative or ``test`` is inconsistent.
    """
    run_dir = Path(run_dir)
    worst = check_int(worst, "worst", minimum=0)
    n_classes = test.probabilities.shape[1]
    predicted = test.probabilities.argmax(axis=1)
    cm = confusion_matrix(test.labels, predicted, n_classes)
    accuracy = float(np.trace(cm) / max(1, cm.sum()))
    parts = [f"<h1>numdl run {html.escape(run_dir.name)}</h1>"]

    epochs_run, epochs_planned = len(history), int(config.get("epochs", len(history)))
    patience = int(config.get("patience", 0) or 0)
    if patience and epochs_run < epochs_planned:
        best_epoch = 1 + int(np.argmax([row["val_acc"] for row in history]))
        parts.append(
            f'<p class="note">Stopped early after epoch {epochs_run} of {epochs_planned}: '
            f"validation accuracy had not improved for {patience} epochs since epoch "
            f"{best_epoch} (patience {patience}).</p>"
        )
    best_val = max((row["val_acc"] for row in history), default=float("nan"))
    summary = [
        ("dataset", test.dataset),
        ("test accuracy", f"{100 * accuracy:.2f}% ({test.checkpoint})"),
        ("best validation accuracy", f"{100 * best_val:.2f}%"),
        ("epochs trained", f"{epochs_run} of {epochs_planned}"),
    ]
    shown = {k: v for k, v in config.items() if k not in ("data_dir",)}
    parts.append("<h2>Run</h2>" + _table(summary))
    parts.append("<details><summary>configuration</summary>")
    parts.append(_table([(k, json.dumps(v)) for k, v in shown.items()]) + "</details>")

    parts.append("<h2>Learning curves</h2>")
    parts.append(
        _figure(
            history_figure(history),
            "learning curves",
            "Mean cross-entropy and accuracy per epoch. The training accuracy is that of the "
            "training batches as they were trained (from each step's logits, before its "
            "update), so it lags the end-of-epoch model slightly.",
        )
    )

    parts.append("<h2>Training dynamics</h2>")
    try:
        log = load_monitor(run_dir)
    except FileNotFoundError:
        log = None
        parts.append("<p>Not recorded: train with <code>--monitor</code> to see them.</p>")
    if log is not None:
        gaps = np.diff(log.steps)
        when = f", every {int(gaps.min())} steps" if len(gaps) else ""
        parts.append(
            _figure(
                dynamics_figure(log),
                "training dynamics",
                f"{plural(len(log), 'record')}{when}. Per layer, the mean and standard "
                "deviation of its output on the training batch and the fraction of ReLU units "
                "that output zero for every example of it; per parameter, the gradient norm, "
                "the update ratio ‖Δθ‖/‖θ‖ of the optimiser step (around 1e-3 is the usual "
                "healthy order) and the weight norm.",
            )
        )
        for kind in HISTOGRAM_KINDS:
            if log.histograms.get(kind):
                parts.append(f"<h3>{_KIND_TITLES[kind]}</h3>")
                parts.append(
                    _figure(
                        histograms_figure(log, kind),
                        f"histograms of {kind}",
                        "The last record of each epoch, as a density (symmetric-log scale).",
                    )
                )

    parts.append(f"<h2>Test set ({html.escape(test.checkpoint)})</h2>")
    per_class = per_class_accuracy(cm)
    parts.append(
        _figure(
            confusion_figure(cm),
            "confusion matrix",
            "Rows: true class, columns: predicted (colour: log of the count). Per-class "
            "accuracy: " + ", ".join(f"{c}: {100 * a:.1f}%" for c, a in enumerate(per_class)),
        )
    )
    if min(test.image_shape) < 4:
        parts.append("<p>The inputs are not images: no grid of misclassified examples.</p>")
    else:
        index, pred, conf = _worst(test, worst)
        images = test.images[index].reshape(-1, *test.image_shape)
        parts.append(
            _figure(
                misclassified_figure(images, test.labels[index], pred, conf),
                "worst misclassified test images",
                f"The {len(index)} misclassified test images (of "
                f"{int(cm.sum() - np.trace(cm))}) with the lowest probability of their true "
                "class: true → predicted (the model's confidence in its prediction).",
            )
        )

    title = html.escape(f"numdl report: {run_dir.name}")
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">'
        f"<title>{title}</title><style>{_STYLE}</style></head>\n<body>\n"
        + "\n".join(parts)
        + "\n</body></html>\n"
    )


def write_report(
    run_dir: str | Path,
    history: list[dict[str, Any]],
    config: dict[str, Any],
    test: Predictions,
    *,
    out: str | Path | None = None,
    worst: int = 32,
) -> Path:
    """Write :func:`render_report` to ``out`` (default ``run_dir/report.html``), atomically.

    Raises
    ------
    ImportError
        If matplotlib is not installed.
    OSError
        If ``out`` cannot be written.
    """
    page = render_report(run_dir, history, config, test, worst=worst)
    path = Path(run_dir) / REPORT_FILE if out is None else Path(out)
    with atomic_write(path) as handle:
        handle.write(page.encode("utf-8"))
    return path
