"""A study's figures (matplotlib, the optional extra ``plot``): accuracy per setting, curves.

A *setting* is a point of the grid but for the seed (:func:`numdl.app.study_results.settings`):
each setting's seeds are its points (accuracy) or its lines (curves), so the spread over
seeds is visible next to the differences between settings.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from numdl.app.study_results import RunResult, settings

__all__ = ["plot_accuracy", "plot_curves"]


def _pyplot() -> Any:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError('plotting needs matplotlib: pip install "numdl[plot]"') from exc
    return plt


def _label(key: tuple[str, ...]) -> str:
    return "\n".join(key) or "all runs"


def plot_accuracy(
    results: Sequence[RunResult],
    path: str | Path,
    axes: Sequence[str],
    *,
    title: str = "",
) -> Path:
    """Final test accuracy per setting, one point per seed (a bar at their mean); a diverged
    run is a red cross at 0 %.

    Raises
    ------
    ImportError
        If matplotlib is not installed.
    """
    plt = _pyplot()
    groups = settings(results, axes)
    fig, ax = plt.subplots(figsize=(max(4.0, 1.3 * len(groups) + 1.5), 3.8), layout="constrained")
    for x, group in enumerate(groups.values()):
        good = [r for r in group if not r.diverged]
        offsets = (
            [0.0]
            if len(group) == 1
            else [(i / (len(group) - 1) - 0.5) * 0.3 for i in range(len(group))]
        )
        for offset, r in zip(offsets, group, strict=True):
            if r.diverged:
                ax.plot(x + offset, 0, "x", color="C3", ms=8, mew=2)
            else:
                ax.plot(x + offset, 100 * r.test_acc_final, "o", color="C0", alpha=0.8)
        if good:
            mean = 100 * sum(r.test_acc_final for r in good) / len(good)
            ax.hlines(mean, x - 0.25, x + 0.25, color="k", lw=1.5)
    if any(r.diverged for r in results):
        ax.plot([], [], "x", color="C3", mew=2, label="diverged")
        ax.legend(loc="best")
    ax.set_xticks(range(len(groups)), [_label(k) for k in groups], fontsize=8)
    ax.set(ylabel="test accuracy (%), final model", ylim=(-3, 103))
    ax.set_title(title or "final accuracy per setting", fontsize=10)
    ax.grid(axis="y", alpha=0.3)
    return _save(fig, plt, path)


def plot_curves(
    results: Sequence[RunResult],
    path: str | Path,
    axes: Sequence[str],
    *,
    title: str = "",
) -> Path:
    """Training loss and validation accuracy per epoch: a colour per setting, a line per seed.

    Raises
    ------
    ImportError
        If matplotlib is not installed.
    """
    plt = _pyplot()
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 4), layout="constrained")
    for colour, (key, group) in enumerate(settings(results, axes).items()):
        diverged = sum(r.diverged for r in group)
        name = (", ".join(key) or "all runs") + (f" ({diverged} diverged)" if diverged else "")
        for i, r in enumerate(group):
            epochs = [row["epoch"] for row in r.history]
            loss = [row["train_loss"] for row in r.history]
            acc = [100 * row["val_acc"] for row in r.history]
            style: dict[str, Any] = {"color": f"C{colour % 10}", "marker": "o", "ms": 3, "lw": 1}
            label = name if i == 0 else None
            ax_loss.plot(epochs, loss, **style)
            ax_acc.plot(epochs, acc, label=label, **style)
            if r.diverged and epochs:
                ax_acc.plot(epochs[-1], acc[-1], "x", color="C3", ms=8, mew=2)
    ax_loss.set(xlabel="epoch", ylabel="training cross-entropy", title="Training loss")
    if all(
        math.isfinite(row["train_loss"]) and row["train_loss"] > 0
        for r in results
        for row in r.history
    ):
        ax_loss.set_yscale("log")
    ax_acc.set(xlabel="epoch", ylabel="accuracy (%)", title="Validation accuracy")
    for ax in (ax_loss, ax_acc):
        ax.grid(alpha=0.3)
        ax.xaxis.get_major_locator().set_params(integer=True)
    ax_acc.legend(fontsize=7, loc="best")
    if title:
        fig.suptitle(title)
    return _save(fig, plt, path)


def _save(fig: Any, plt: Any, path: str | Path) -> Path:
    path = Path(path)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
