"""``numdl study``: the grid from a file and/or options, the checks before anything runs, and
a study end to end from the command line."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from numdl.app.parser import build_parser
from numdl.app.study_cli import spec_from_args
from numdl.app.study_results import load_results

SYN = ["--set", "dataset=synthetic", "--set", "epochs=1", "--set", "hidden=8", "--backend", "numpy"]


@pytest.fixture
def spec_file(tmp_path: Path) -> Path:
    path = tmp_path / "grid.json"
    spec = {
        "name": "grid",
        "description": "two axes",
        "axes": {"optimizer": ["sgd", "momentum"], "seed": [0, 1, 2]},
        "fixed": {"epochs": 2, "lr": 0.05},
    }
    path.write_text(json.dumps(spec))
    return path


def _spec(*argv: str):
    return spec_from_args(build_parser().parse_args(["study", *argv]))


def test_options_add_to_and_override_the_file(spec_file: Path) -> None:
    spec = _spec(str(spec_file), "--axis", "lr=0.1,0.01", "--set", "epochs=3")
    assert spec.axes == {"optimizer": ["sgd", "momentum"], "seed": [0, 1, 2], "lr": [0.1, 0.01]}
    assert spec.fixed == {"epochs": 3}  # the axis lr replaced the fixed lr
    one_seed = _spec(str(spec_file), "--set", "seed=0", "--name", "quick")
    assert one_seed.axes == {"optimizer": ["sgd", "momentum"]}
    assert one_seed.fixed["seed"] == 0
    assert one_seed.name == "quick"
    assert one_seed.description == "two axes"


def test_the_grid_from_options_alone() -> None:
    spec = _spec("--axis", "depth=2,4", "--width", "16", "--set", "activation=tanh")
    assert spec.name == "study"
    assert [r.config.hidden for r in spec.runs()] == [[16] * 2, [16] * 4]
    assert {r.config.activation for r in spec.runs()} == {"tanh"}


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([], r"give a study file \(SPEC\) or at least one --axis"),
        (["--axis", "speed=1,2"], "axis or option 'speed' is not a training option"),
        (["--axis", "seed=0,x"], "seed: expected an integer, got 'x'"),
        (["--axis", "depth=2,4"], "depth needs width"),
        (["--axis", "lr=0.1,0"], r"run 1 \(lr=0.0\): lr must be a number > 0, got 0.0"),
        (["--axis", "seed=0,1", "--set", "momentum=0.5", "--set", "optimizer=sgd"], "momentum"),
        (["--axis", "batch_size=64,99999", *SYN], r"run 1 \(batch_size=99999\): batch_size must"),
        (["nowhere.json"], r"cannot read the study nowhere\.json"),
        (["--axis", "seed=0", *SYN, "--data-dir", "."], "data_dir does not apply to synthetic"),
    ],
)
def test_a_bad_study_is_one_line_and_exit_status_2(numdl_main, tmp_path, argv, message) -> None:
    code, _, err = numdl_main("study", *argv, "--out", str(tmp_path / "s"))
    assert code == 2
    assert re.search(message, err), err
    assert "Traceback" not in err
    assert not (tmp_path / "s").exists()


def test_an_option_without_a_value_is_refused_by_the_parser(numdl_main) -> None:
    code, _, err = numdl_main("study", "--axis", "seed")
    assert code == 2
    assert "expected NAME=VALUE, got 'seed'" in err


def test_a_study_from_the_command_line(numdl_main, tmp_path: Path) -> None:
    out = tmp_path / "s"
    code, stdout, err = numdl_main(
        "study", "--axis", "hidden=8,4-4", *SYN[:4], "--jobs", "1", "--out", str(out),
        "--backend", "numpy",
    )  # fmt: skip
    assert code == 0, err
    assert "study study: 2 runs on the numpy backend, 1 process x " in stdout
    assert "[2/2] hidden=" in stdout
    rows = load_results(out)
    assert [row["hidden"] for row in rows] == [[8], [4, 4]]
    assert all(not row["diverged"] and row["epochs"] == 1 for row in rows)
    assert json.loads((out / "study.json").read_text())["ran"]["backend"] == "numpy"
    code, _, err = numdl_main("study", "--axis", "seed=0", *SYN, "--out", str(out))
    assert code == 2
    assert "already holds a study" in err
