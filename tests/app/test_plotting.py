"""The run's figures: curves.png with training accuracy and integer epoch ticks, and the
figures of the report drawn from what a monitor recorded."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from numdl.app.monitor import BINS, Histograms, MonitorLog
from numdl.app.plotting import (
    confusion_figure,
    dynamics_figure,
    histograms_figure,
    history_figure,
    misclassified_figure,
    plot_history,
    pyplot,
)

pytest.importorskip("matplotlib")

HISTORY = [
    {"epoch": e, "train_loss": 1 / e, "train_acc": 0.5 + e / 20, "val_loss": 1.1 / e,
     "val_acc": 0.45 + e / 20}
    for e in range(1, 8)
]  # fmt: skip


def test_the_curves_show_training_and_validation_accuracy_on_integer_epochs() -> None:
    fig = history_figure(HISTORY, title="t")
    ax_loss, ax_acc = fig.axes
    labels = [line.get_label() for line in ax_acc.lines]
    assert labels == ["train (batches as trained)", "validation"]
    np.testing.assert_allclose(ax_acc.lines[0].get_ydata(), [100 * r["train_acc"] for r in HISTORY])
    fig.canvas.draw()
    for ax in (ax_loss, ax_acc):
        ticks = [t for t in ax.get_xticks() if 1 <= t <= 7]
        assert ticks
        assert all(float(t).is_integer() for t in ticks), ticks
    pyplot().close(fig)


def test_plot_history_writes_a_png_also_for_runs_logged_without_train_acc(tmp_path: Path) -> None:
    old = [{k: v for k, v in row.items() if k != "train_acc"} for row in HISTORY[:2]]
    path = plot_history(old, tmp_path / "curves.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def _log() -> MonitorLog:
    rng = np.random.default_rng(0)
    steps, epochs = np.arange(0, 60, 10), np.repeat([1, 2, 3], 2)
    counts = rng.integers(0, 50, size=(6, BINS))
    edges = np.sort(rng.standard_normal((6, BINS + 1)), axis=1)
    edges[5] = np.nan  # a record whose values were not finite: skipped
    hist = Histograms(counts, edges)
    values = np.abs(rng.standard_normal(6)) + 0.1
    return MonitorLog(
        steps,
        epochs,
        scalars={s: {"layer0": values} for s in ("act_mean", "grad_norm", "update_ratio")},
        histograms={"act": {"layer0": hist, "layer1": hist}},
    )


def test_the_dynamics_figures_draw_one_line_per_series_and_epoch() -> None:
    log = _log()
    fig = dynamics_figure(log)
    by_title = {ax.get_title(): ax for ax in fig.axes}
    assert len(by_title["gradient norm ‖g‖"].lines) == 1
    assert by_title["gradient norm ‖g‖"].get_yscale() == "log"
    assert len(by_title["update ratio ‖Δθ‖/‖θ‖"].lines) == 2  # and the 1e-3 reference
    assert not by_title["dead ReLUs (fraction of units)"].lines
    pyplot().close(fig)
    fig = histograms_figure(log, "act")
    panels = [ax for ax in fig.axes if ax.get_title() in ("layer0", "layer1")]
    assert len(panels) == 2
    # the last record of epochs 1 and 2; epoch 3's last record is not finite
    assert all(len(ax.patches) == 2 for ax in panels)
    pyplot().close(fig)


def test_confusion_and_misclassified_figures() -> None:
    cm = np.array([[5, 1], [0, 7]])
    fig = confusion_figure(cm)
    texts = sorted(t.get_text() for t in fig.axes[0].texts)
    assert texts == ["0", "1", "5", "7"]
    pyplot().close(fig)
    images = np.zeros((3, 4, 4))
    fig = misclassified_figure(images, np.array([1, 2, 3]), np.array([0, 0, 0]), np.ones(3))
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert titles == ["1 → 0 (100%)", "2 → 0 (100%)", "3 → 0 (100%)"]
    pyplot().close(fig)
