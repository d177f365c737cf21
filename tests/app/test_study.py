"""Study specifications: grid expansion, the checks of axes, fixed options and values, the
shipped studies."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from numdl.app.study import StudyError, StudySpec, expand_grid, format_value, parse_value

STUDIES = Path(__file__).resolve().parents[2] / "studies"
TINY = {"dataset": "synthetic", "epochs": 1, "hidden": [8], "batch_size": 200}


def _spec(axes: dict, **fixed: object) -> StudySpec:
    fixed = {k: v for k, v in {**TINY, **fixed}.items() if k not in axes}
    return StudySpec(name="t", axes=axes, fixed=fixed)


# -------------------------------------------------------------------------- the grid
def test_expand_grid_is_the_product_last_axis_fastest() -> None:
    grid = expand_grid({"a": [1, 2], "b": ["x", "y", "z"]})
    assert len(grid) == 6
    assert grid[:4] == [
        {"a": 1, "b": "x"},
        {"a": 1, "b": "y"},
        {"a": 1, "b": "z"},
        {"a": 2, "b": "x"},
    ]
    assert expand_grid({}) == [{}]


def test_runs_follow_the_grid_with_fixed_options_and_depth() -> None:
    spec = StudySpec(
        name="deep",
        axes={"depth": [1, 3], "init": ["glorot_uniform", "he_normal"]},
        fixed={"activation": "sigmoid", "epochs": 2},
        width=16,
    )
    runs = spec.runs()
    assert [r.index for r in runs] == [0, 1, 2, 3]
    assert [r.config.hidden for r in runs] == [[16], [16], [16, 16, 16], [16, 16, 16]]
    assert [r.config.init for r in runs] == ["glorot_uniform", "he_normal"] * 2
    assert all(r.config.activation == "sigmoid" and r.config.epochs == 2 for r in runs)
    assert runs[3].name == "003-depth=3-init=he_normal"
    assert runs[3].label == "depth=3, init=he_normal"
    fixed = StudySpec(name="d", axes={"seed": [0, 1]}, fixed={"depth": 2}, width=4)
    assert [r.config.hidden for r in fixed.runs()] == [[4, 4], [4, 4]]


def test_a_fixed_option_an_axis_makes_unused_stays_at_its_default_there() -> None:
    runs = _spec({"optimizer": ["sgd", "momentum"]}, momentum=0.5).runs()
    assert [r.config.momentum for r in runs] == [0.9, 0.5]  # sgd: the default (unused)


def test_an_unused_option_fixed_with_its_fixed_controller_is_an_error() -> None:
    with pytest.raises(StudyError, match=r"run 0 \(seed=0\): momentum applies only with"):
        _spec({"seed": [0]}, optimizer="sgd", momentum=0.5)


# ----------------------------------------------------------------- the specification
@pytest.mark.parametrize(
    ("axes", "fixed", "width", "message"),
    [
        ({"layers": [1, 2]}, {}, None, r"axis 'layers' is not a training option \(one of hidden"),
        ({"seed": [0]}, {"learning_rate": 0.1}, None, "fixed option 'learning_rate' is not a"),
        ({"seed": []}, {}, None, "axis 'seed' must list one or more values, got"),
        ({"seed": 3}, {}, None, "axis 'seed' must list one or more values, got 3"),
        ({"init": "he_normal"}, {}, None, "axis 'init' must list one or more values"),
        ({"seed": [0, 1, 0]}, {}, None, r"axis 'seed' repeats a value: \['0', '1', '0'\]"),
        ({"seed": [0]}, {"seed": 1}, None, "'seed' is both an axis and a fixed option"),
        ({"depth": [2]}, {}, None, "depth needs width"),
        ({"depth": [2]}, {"hidden": [8]}, 8, "depth sets hidden"),
        ({"depth": [0]}, {}, 8, "depth must be >= 1, got 0"),
        ({"seed": [0]}, {}, 8, "width applies only with depth"),
        ({"lr": [0.1, -1.0]}, {}, None, r"run 1 \(lr=-1.0\): lr must be a number > 0, got -1.0"),
        ({"init": ["he_normal", "zeros"]}, {}, None, r"run 1 \(init=zeros\): init must be one of"),
        ({"seed": [0]}, {"lr": "fast"}, None, r"run 0 \(seed=0\): lr must be a real number"),
        ({"hidden": [[8], []]}, {}, None, r"run 1 \(hidden=\): hidden must list one or more"),
    ],
)
def test_a_bad_specification_names_what_to_fix(axes, fixed, width, message) -> None:
    with pytest.raises(StudyError, match=message):
        StudySpec(name="bad", axes=axes, fixed=fixed, width=width)


def test_from_dict_and_from_file_check_the_keys(tmp_path: Path) -> None:
    with pytest.raises(StudyError, match=r"unknown study keys \['seeds'\]"):
        StudySpec.from_dict({"name": "x", "axes": {"seed": [0]}, "seeds": 3})
    with pytest.raises(StudyError, match="a study needs 'axes'"):
        StudySpec.from_dict({"name": "x"})
    with pytest.raises(StudyError, match="name must be a non-empty string"):
        StudySpec.from_dict({"name": "", "axes": {}})
    path = tmp_path / "s.json"
    path.write_text("{not json")
    with pytest.raises(StudyError, match=r"cannot read the study .*s\.json"):
        StudySpec.from_file(path)
    path.write_text(json.dumps({"name": "x", "axes": {"optimiser": ["sgd"]}}))
    with pytest.raises(StudyError, match=r"s\.json: axis 'optimiser' is not a training option"):
        StudySpec.from_file(path)
    spec = _spec({"seed": [0, 1]}, lr=0.05)
    path.write_text(json.dumps(spec.to_dict()))
    assert StudySpec.from_file(path) == spec


@pytest.mark.parametrize(
    ("name", "text", "value"),
    [
        ("hidden", "128-64", [128, 64]),
        ("hidden", "32", [32]),
        ("lr", "0.05", 0.05),
        ("lr", "1e-3", 1e-3),
        ("seed", "7", 7),
        ("depth", "10", 10),
        ("init", "he_normal", "he_normal"),
        ("data_dir", "none", None),
    ],
)
def test_parse_value_reads_what_format_value_writes(name, text, value) -> None:
    assert parse_value(name, text) == value
    assert parse_value(name, format_value(value)) == value


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("seed", "0.5", "seed: expected an integer, got '0.5'"),
        ("lr", "fast", "lr: expected a number, got 'fast'"),
        ("hidden", "128,64", "hidden: expected widths such as 128-128"),
        ("depth", "ten", "depth: expected an integer"),
        ("speed", "1", r"axis or option 'speed' is not a training option .*; or depth"),
    ],
)
def test_parse_value_names_the_option_it_cannot_read(name, text, message) -> None:
    with pytest.raises(StudyError, match=message):
        parse_value(name, text)


@pytest.mark.parametrize("path", sorted(STUDIES.glob("*.json")), ids=lambda p: p.stem)
def test_the_shipped_studies_are_valid(path: Path) -> None:
    spec = StudySpec.from_file(path)
    assert spec.description, "a shipped study says what it shows"
    assert len(spec.runs()) > 1
