"""A study's figures: written for settings with seeds and diverged runs; a clear ImportError
without matplotlib."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pytest

from numdl.app.study_plots import plot_accuracy, plot_curves
from numdl.app.study_results import RunResult, settings


def _result(index: int, optimizer: str, seed: int, *, diverged: bool = False) -> RunResult:
    epochs = 1 if diverged else 3
    history = [
        {"epoch": e + 1, "train_loss": 1.0 / (e + 1), "val_acc": 0.5 + 0.1 * e}
        for e in range(epochs)
    ]
    acc = math.nan if diverged else 0.7 + 0.01 * seed
    return RunResult(
        index=index,
        axes={"optimizer": optimizer, "seed": seed},
        epochs=epochs,
        val_acc_final=acc,
        val_acc_best=0.7,
        test_acc_final=acc,
        test_acc_best=0.7,
        seconds=1.0,
        diverged=diverged,
        run_dir="",
        note="the loss became nan" if diverged else "",
        history=history,
    )


RESULTS = [
    _result(0, "sgd", 0),
    _result(1, "sgd", 1),
    _result(2, "adam", 0),
    _result(3, "adam", 1, diverged=True),
]


def test_settings_group_the_seeds_of_each_point() -> None:
    groups = settings(RESULTS, ["optimizer", "seed"])
    assert list(groups) == [("optimizer=sgd",), ("optimizer=adam",)]
    assert [r.index for r in groups[("optimizer=adam",)]] == [2, 3]


@pytest.mark.parametrize("plot", [plot_accuracy, plot_curves])
def test_the_figures_are_written(plot, tmp_path: Path) -> None:
    path = plot(RESULTS, tmp_path / "f.png", ["optimizer", "seed"], title="t")
    assert path == tmp_path / "f.png"
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert path.stat().st_size > 5000  # axes, points and labels, not an empty canvas


@pytest.mark.parametrize("plot", [plot_accuracy, plot_curves])
def test_without_matplotlib_the_error_says_what_to_install(plot, tmp_path, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(ImportError, match=r'pip install "numdl\[plot\]"'):
        plot(RESULTS, tmp_path / "f.png", ["optimizer"])
    assert not (tmp_path / "f.png").exists()
