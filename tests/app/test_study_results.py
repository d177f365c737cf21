"""The results table: CSV written and read back typed, the Markdown summary per setting."""

from __future__ import annotations

import math
from pathlib import Path

from numdl.app.study import StudySpec
from numdl.app.study_results import (
    RESULT_FIELDS,
    RunResult,
    load_results,
    settings,
    write_markdown,
    write_results,
)

AXES = ["hidden", "lr", "seed"]


def _result(index: int, hidden: list[int], seed: int, acc: float, *, diverged=False) -> RunResult:
    return RunResult(
        index=index,
        axes={"hidden": hidden, "lr": 0.05, "seed": seed},
        epochs=0 if diverged else 2,
        val_acc_final=math.nan if diverged else acc,
        val_acc_best=math.nan if diverged else acc,
        test_acc_final=math.nan if diverged else acc,
        test_acc_best=math.nan if diverged else acc,
        seconds=1.25,
        diverged=diverged,
        run_dir="" if diverged else f"runs/{index:03d}",
        note="the loss became nan at epoch 1, step 3" if diverged else "",
    )


RESULTS = [
    _result(0, [8], 0, 0.80),
    _result(1, [8], 1, 0.90),
    _result(2, [4, 4], 0, 0.5),
    _result(3, [4, 4], 1, 0.0, diverged=True),
]


def test_the_csv_round_trips_typed(tmp_path: Path) -> None:
    path = write_results(RESULTS, tmp_path, AXES)
    assert path.read_text().splitlines()[0] == ",".join(["run", *AXES, *RESULT_FIELDS])
    rows = load_results(tmp_path)
    assert [row["run"] for row in rows] == [0, 1, 2, 3]
    assert [row["hidden"] for row in rows] == [[8], [8], [4, 4], [4, 4]]
    assert {row["lr"] for row in rows} == {0.05}
    assert [row["seed"] for row in rows] == [0, 1, 0, 1]
    assert rows[1]["test_acc_final"] == 0.9
    assert rows[1]["seconds"] == 1.25
    assert rows[0]["run_dir"] == "runs/000"
    assert [row["diverged"] for row in rows] == [False, False, False, True]
    assert math.isnan(rows[3]["val_acc_final"])
    assert rows[3]["note"] == "the loss became nan at epoch 1, step 3"
    assert rows[3]["epochs"] == 0


def test_an_empty_table_is_a_header(tmp_path: Path) -> None:
    write_results([], tmp_path, AXES)
    assert load_results(tmp_path / "results.csv") == []


def test_settings_leave_out_the_seed_only() -> None:
    groups = settings(RESULTS, AXES)
    assert list(groups) == [("hidden=8", "lr=0.05"), ("hidden=4-4", "lr=0.05")]
    assert [r.index for r in groups[("hidden=8", "lr=0.05")]] == [0, 1]


def test_the_markdown_summary_states_mean_sd_and_range(tmp_path: Path) -> None:
    spec = StudySpec(
        name="md",
        axes={"hidden": [[8], [4, 4]], "lr": [0.05], "seed": [0, 1]},
        fixed={"dataset": "synthetic"},
        description="What it shows.",
    )
    text = write_markdown(RESULTS, tmp_path / "results.md", spec).read_text()
    assert text.startswith("# Study md\n\nWhat it shows.\n\nFixed: dataset synthetic.")
    # 80 and 90: mean 85, sample standard deviation 7.07
    assert "| hidden=8, lr=0.05 | 2 | 0 | 85.00 ± 7.07 (80.00–90.00) |" in text
    assert "| hidden=4-4, lr=0.05 | 2 | 1 | 50.00 | 50.00 | 50.00 |" in text
    assert "| 3 | 4-4 | 0.05 | 1 | 0 | – / – | – / – | 1.2 | yes: the loss became nan" in text
