"""Figures of a run (matplotlib, the optional extra ``plot``): the learning curves
(``curves.png``), the training dynamics a :class:`~numdl.app.monitor.Monitor` recorded, the
confusion matrix and the worst misclassified test images (the pages of :mod:`numdl.app.report`).

Each ``*_figure`` function returns a matplotlib ``Figure``; the caller saves and closes it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from numdl.app.monitor import MonitorLog

__all__ = [
    "confusion_figure",
    "dynamics_figure",
    "histograms_figure",
    "history_figure",
    "misclassified_figure",
    "plot_history",
    "pyplot",
]


def pyplot() -> Any:
    """``matplotlib.pyplot`` on the non-interactive Agg backend.

    Raises
    ------
    ImportError
        If matplotlib is not installed (``pip install "numdl[plot]"``).
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError('plotting needs matplotlib: pip install "numdl[plot]"') from exc
    return plt


def history_figure(history: Sequence[dict[str, Any]], *, title: str = "") -> Any:
    """Train/validation loss and accuracy per epoch (integer epoch ticks).

    The training accuracy is that of the training batches as they were trained (before each
    step's update, from the logits of the step), so it lags the model slightly; rows of runs
    logged before it was recorded have none.
    """
    plt = pyplot()
    from matplotlib.ticker import MaxNLocator

    epochs = [row["epoch"] for row in history]
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 4), constrained_layout=True)
    ax_loss.plot(epochs, [row["train_loss"] for row in history], marker="o", label="train")
    ax_loss.plot(epochs, [row["val_loss"] for row in history], marker="o", label="validation")
    ax_loss.set(xlabel="epoch", ylabel="cross-entropy", title="Loss")
    train_acc = [100 * row.get("train_acc", np.nan) for row in history]
    ax_acc.plot(epochs, train_acc, marker="o", label="train (batches as trained)")
    val_acc = [100 * row["val_acc"] for row in history]
    ax_acc.plot(epochs, val_acc, marker="o", label="validation")
    ax_acc.set(xlabel="epoch", ylabel="accuracy (%)", title="Accuracy")
    for ax in (ax_loss, ax_acc):
        ax.grid(alpha=0.3)
        ax.legend()
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if title:
        fig.suptitle(title)
    return fig


def plot_history(history: Sequence[dict[str, Any]], path: str | Path, *, title: str = "") -> Path:
    """Plot :func:`history_figure` into ``path`` (``curves.png``).

    Raises
    ------
    ImportError
        If matplotlib is not installed (``pip install "numdl[plot]"``).
    """
    fig = history_figure(history, title=title)
    path = Path(path)
    fig.savefig(path, dpi=120)
    pyplot().close(fig)
    return path


#: The panels of :func:`dynamics_figure`: (stat, title, log scale).
_DYNAMICS = (
    ("act_mean", "activation mean", False),
    ("act_std", "activation std", False),
    ("dead_frac", "dead ReLUs (fraction of units)", False),
    ("grad_norm", "gradient norm ‖g‖", True),
    ("update_ratio", "update ratio ‖Δθ‖/‖θ‖", True),
    ("weight_norm", "weight norm ‖θ‖", False),
)


def dynamics_figure(log: MonitorLog) -> Any:
    """The monitor's scalars against the step: one line per layer or parameter and panel."""
    plt = pyplot()
    fig, axes = plt.subplots(2, 3, figsize=(14, 7.5), constrained_layout=True)
    for ax, (stat, title, log_scale) in zip(axes.flat, _DYNAMICS, strict=True):
        for name, values in sorted(log.scalars.get(stat, {}).items()):
            ax.plot(log.steps, values, marker=".", label=name)
        if stat == "update_ratio":
            ax.axhline(1e-3, color="grey", linestyle="--", linewidth=1, label="1e-3")
        if log_scale and ax.lines:
            ax.set_yscale("log")
        ax.set(title=title, xlabel="step")
        ax.grid(alpha=0.3)
        if ax.lines:
            ax.legend(fontsize="small")
        else:
            ax.text(0.5, 0.5, "no such layers", ha="center", va="center", transform=ax.transAxes)
    return fig


def histograms_figure(log: MonitorLog, kind: str) -> Any:
    """Histograms of ``kind`` (``act``, ``grad``, ``weight``) over epochs: for each series,
    the density of the last record of every epoch, coloured by epoch."""
    plt = pyplot()
    from matplotlib.ticker import MaxNLocator

    series = sorted(log.histograms.get(kind, {}).items())
    cols = min(len(series), 4) or 1
    rows = max(1, -(-len(series) // cols))
    fig, axes = plt.subplots(
        rows, cols, figsize=(3.6 * cols, 3 * rows), constrained_layout=True, squeeze=False
    )
    epochs = np.unique(log.epochs)
    last = [int(np.flatnonzero(log.epochs == e)[-1]) for e in epochs]
    cmap = plt.get_cmap("viridis")
    for ax, (name, hist) in zip(axes.flat, series, strict=False):
        for k, r in enumerate(last):
            edges, counts = hist.edges[r], hist.counts[r]
            total, widths = counts.sum(), np.diff(edges)
            if total == 0 or not np.all(np.isfinite(edges)):
                continue
            density = counts / (total * np.where(widths > 0, widths, 1))
            colour = cmap(k / max(1, len(last) - 1))
            ax.stairs(density, edges, color=colour, label=f"epoch {epochs[k]}")
        ax.set(title=name, xlabel="value", ylabel="density")
        ax.set_yscale("symlog", linthresh=1e-3)
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(series) :]:
        ax.set_visible(False)
    if len(last):
        norm = plt.Normalize(int(epochs[0]), int(epochs[-1]))
        mappable = plt.cm.ScalarMappable(norm=norm, cmap=cmap)
        bar = fig.colorbar(mappable, ax=axes, label="epoch", shrink=0.8)
        bar.ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    return fig


def confusion_figure(confusion: np.ndarray) -> Any:
    """The confusion matrix C_ij (true class i, predicted j) with its counts."""
    plt = pyplot()
    k = confusion.shape[0]
    fig, ax = plt.subplots(figsize=(1 + 0.55 * k, 0.6 + 0.5 * k), constrained_layout=True)
    shown = np.log1p(confusion)
    ax.imshow(shown, cmap="Blues")
    for i in range(k):
        for j in range(k):
            light = shown[i, j] > 0.6 * shown.max()
            colour = "white" if light else "black"
            ax.text(j, i, confusion[i, j], ha="center", va="center", fontsize=8, color=colour)
    ax.set(xlabel="predicted", ylabel="true", xticks=range(k), yticks=range(k))
    ax.set_title("Confusion matrix (test set)")
    return fig


def misclassified_figure(
    images: np.ndarray, labels: np.ndarray, predicted: np.ndarray, confidence: np.ndarray
) -> Any:
    """A grid of (H, W) images titled ``true → predicted (confidence)``."""
    plt = pyplot()
    n = max(1, len(images))
    cols = min(n, 8)
    rows = -(-n // cols)
    fig, axes = plt.subplots(
        rows, cols, figsize=(1.5 * cols, 1.75 * rows), constrained_layout=True, squeeze=False
    )
    for ax in axes.flat:
        ax.axis("off")
    for ax, image, y, p, c in zip(axes.flat, images, labels, predicted, confidence, strict=False):
        ax.imshow(image, cmap="gray_r")
        ax.set_title(f"{y} → {p} ({100 * c:.0f}%)", fontsize=9)
    if not len(images):
        axes[0, 0].text(0.5, 0.5, "none misclassified", ha="center", va="center")
    return fig
