"""Running studies: a process pool and an in-process executor end to end, diverged runs as
results, the checks before anything runs, the table read back."""

from __future__ import annotations

import concurrent.futures
import csv
import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from numdl.app.study import StudyError, StudySpec
from numdl.app.study_results import RESULT_FIELDS, load_results
from numdl.app.study_runner import run_study

TINY = {"dataset": "synthetic", "epochs": 1, "hidden": [8], "batch_size": 200}


def _spec(axes: dict, **fixed: object) -> StudySpec:
    fixed = {k: v for k, v in {**TINY, **fixed}.items() if k not in axes}
    return StudySpec(name="t", axes=axes, fixed=fixed)


def _in_process() -> concurrent.futures.Executor:
    return concurrent.futures.ThreadPoolExecutor(max_workers=1)


#: The default executor's study in a fresh interpreter (so that a hung worker is a timeout,
#: not a hung test run): spec as JSON, study directory; progress lines on stdout.
_TWO_PROCESSES = """
import json, sys
from numdl.app.study import StudySpec
from numdl.app.study_runner import run_study
run_study(StudySpec(**json.loads(sys.argv[1])), sys.argv[2], jobs=2, threads=1, echo=print)
"""


def test_a_two_run_study_in_two_processes(tmp_path: Path) -> None:
    """The default executor: spawned processes, one thread each; everything written."""
    spec = _spec({"optimizer": ["sgd", "momentum"]}, lr=0.05)
    study = tmp_path / "s"
    described = json.dumps({"name": spec.name, "axes": spec.axes, "fixed": spec.fixed})
    done = subprocess.run(
        [sys.executable, "-c", _TWO_PROCESSES, described, str(study)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    rows = load_results(study)
    assert [row["optimizer"] for row in rows] == ["sgd", "momentum"]
    for row in rows:
        assert row["diverged"] is False
        assert row["epochs"] == 1
        assert not row["note"]
        assert 0.0 <= row["test_acc_final"] <= 1.0
        assert row["val_acc_final"] == row["val_acc_best"]
        assert (Path(row["run_dir"]) / "last.npz").is_file()
        config = json.loads((Path(row["run_dir"]) / "config.json").read_text())
        assert config["optimizer"] == row["optimizer"]
    for name in ("study.json", "results.csv", "results.md", "accuracy.png", "curves.png"):
        assert (study / name).is_file(), name
    ran = json.loads((study / "study.json").read_text())["ran"]
    assert ran["jobs"] == 2
    assert ran["threads_per_run"] == 1
    assert ran["runs"] == 2
    assert any("[2/2]" in line for line in done.stdout.splitlines())


def test_a_diverged_run_is_a_result(tmp_path: Path) -> None:
    spec = _spec({"lr": [0.05, 1e4]}, optimizer="momentum")
    with _in_process() as pool:
        good, bad = run_study(spec, tmp_path / "s", executor=pool, echo=lambda line: None)
    assert not good.diverged
    assert good.epochs == 1
    assert math.isfinite(good.test_acc_final)
    assert bad.diverged
    assert "the loss became" in bad.note
    assert bad.epochs == 0
    assert math.isnan(bad.test_acc_final)
    assert math.isnan(bad.test_acc_best)
    assert bad.run_dir == ""  # no epoch completed, so the training loop left nothing
    rows = load_results(tmp_path / "s" / "results.csv")
    assert [row["diverged"] for row in rows] == [False, True]
    assert math.isnan(rows[1]["val_acc_final"])
    assert rows[1]["note"] == bad.note
    assert "| lr=10000.0 | 1 | 1 |" in (tmp_path / "s" / "results.md").read_text()


def test_the_results_table_has_the_documented_columns(tmp_path: Path) -> None:
    spec = _spec({"hidden": [[8], [4, 4]], "seed": [0, 1]})
    with _in_process() as pool:
        run_study(spec, tmp_path / "s", executor=pool, plots=False, echo=lambda line: None)
    with (tmp_path / "s" / "results.csv").open() as handle:
        table = list(csv.reader(handle))
    assert table[0] == ["run", "hidden", "seed", *RESULT_FIELDS]
    assert [row[1:3] for row in table[1:]] == [["8", "0"], ["8", "1"], ["4-4", "0"], ["4-4", "1"]]
    assert [row["hidden"] for row in load_results(tmp_path / "s")] == [[8], [8], [4, 4], [4, 4]]
    markdown = (tmp_path / "s" / "results.md").read_text()
    assert "| hidden=8 | 2 | 0 |" in markdown
    assert "| hidden=4-4 | 2 | 0 |" in markdown
    assert not (tmp_path / "s" / "accuracy.png").exists()


def test_nothing_runs_or_is_written_when_a_run_does_not_fit_the_data(tmp_path: Path) -> None:
    spec = _spec({"batch_size": [100, 10**5]})
    with pytest.raises(StudyError, match=r"run 1 \(batch_size=100000\): batch_size must be at"):
        run_study(spec, tmp_path / "s", executor=_in_process())
    assert not (tmp_path / "s").exists()


def test_a_study_directory_is_never_overwritten(tmp_path: Path) -> None:
    (tmp_path / "s").mkdir()
    (tmp_path / "s" / "study.json").write_text("{}")
    with pytest.raises(StudyError, match="already holds a study"):
        run_study(_spec({"seed": [0]}), tmp_path / "s", executor=_in_process())


def test_jobs_and_threads_are_checked(tmp_path: Path) -> None:
    spec = _spec({"seed": [0]})
    with pytest.raises(StudyError, match="jobs applies only to the default process pool"):
        run_study(spec, tmp_path / "s", executor=_in_process(), jobs=2)
    with pytest.raises(ValueError, match="jobs must be >= 1, got 0"):
        run_study(spec, tmp_path / "s", jobs=0)
    with pytest.raises(TypeError, match="threads must be an integer"):
        run_study(spec, tmp_path / "s", threads=1.5)
    assert not (tmp_path / "s").exists()


def test_files_on_disk_are_checked_once_and_recorded_absolute(tmp_path, fake_mnist) -> None:
    data = fake_mnist("digits")
    spec = StudySpec(
        name="files",
        axes={"seed": [0, 1]},
        fixed={**TINY, "dataset": "digits", "data_dir": str(data), "validation_size": 50},
    )
    with _in_process() as pool:
        results = run_study(spec, tmp_path / "s", executor=pool, download=False, echo=print)
    for r in results:
        config = json.loads((Path(r.run_dir) / "config.json").read_text())
        assert config["data_dir"] == str(data.resolve())
        assert config["validation_size"] == 50
    fixed = {**TINY, "dataset": "mnist", "data_dir": str(tmp_path / "nowhere")}
    missing = StudySpec(name="m", axes={"seed": [0]}, fixed=fixed)
    with pytest.raises(ValueError, match="nowhere"):
        run_study(missing, tmp_path / "m", executor=_in_process(), download=False)
    assert not (tmp_path / "m").exists()


def test_each_run_gets_its_share_of_the_threads() -> None:
    """``threads`` bounds BLAS (threadpoolctl) and the numba kernels for the run, then both
    are restored."""
    numba = pytest.importorskip("numba")
    threadpoolctl = pytest.importorskip("threadpoolctl")
    from numdl.app.study_runner import _runtime

    before = numba.get_num_threads()
    with _runtime("numba", 1):
        assert numba.get_num_threads() == 1
        assert {pool["num_threads"] for pool in threadpoolctl.threadpool_info()} == {1}
    assert numba.get_num_threads() == before
