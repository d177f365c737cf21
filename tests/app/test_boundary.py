"""Decision boundaries: the grid of predicted classes, the PNG, and ``numdl boundary``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import numdl
from numdl.app.boundary import decision_grid, plot_decision_boundary
from numdl.app.checkpoint import load_checkpoint
from numdl.app.training import model_from_checkpoint
from numdl.data import load_moons
from numdl.nn.models import MLP

TINY = ["--hidden", "16", "--batch-size", "64", "--epochs", "3", "--backend", "numpy"]


@pytest.fixture
def model() -> MLP:
    return MLP([2, 8, 3], seed=1)


def _points(n: int = 60, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 2)).astype(np.float32), rng.integers(0, 3, size=n)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_grid_is_model_predict_on_the_grid_points(dtype):
    net = MLP([2, 8, 3], seed=1, dtype=dtype)
    X, _ = _points()
    with numdl.use_backend("numpy"):
        xs, ys, classes = decision_grid(net, X, resolution=31, margin=0.25)
        assert xs.shape == ys.shape == (31,)
        assert classes.shape == (31, 31)
        assert classes.dtype == np.int64
        for i in (0, 7, 30):
            for j in (0, 12, 30):
                point = np.array([[xs[j], ys[i]]], dtype=dtype)
                assert classes[i, j] == net.predict(point)[0]
        gx, gy = np.meshgrid(xs, ys)
        grid = np.stack([gx.ravel(), gy.ravel()], axis=1).astype(dtype)
        np.testing.assert_array_equal(classes.ravel(), net.predict(grid))
    assert len(np.unique(classes)) > 1, "an untrained 3-class model still splits the plane"


def test_grid_covers_the_points_with_the_margin(model):
    X = np.array([[0.0, -1.0], [2.0, 3.0]], dtype=np.float32)
    xs, ys, _ = decision_grid(model, X, resolution=5, margin=0.5)
    np.testing.assert_allclose([xs[0], xs[-1], ys[0], ys[-1]], [-1.0, 3.0, -3.0, 5.0])
    xs, ys, _ = decision_grid(model, X[:1], resolution=3, margin=0.0)  # one point: a tiny box
    assert xs[0] <= 0.0 <= xs[-1]
    assert xs[0] < xs[-1]


@pytest.mark.parametrize(("size", "dpi"), [((6.0, 5.0), 100), ((4.0, 3.0), 50)])
def test_plot_writes_a_png_of_the_requested_size(model, tmp_path, size, dpi):
    pytest.importorskip("matplotlib")
    image = pytest.importorskip("PIL.Image")
    X, y = _points()
    path = plot_decision_boundary(
        model, X, y, tmp_path / "b.png", resolution=40, size=size, dpi=dpi, title="t"
    )
    assert path == tmp_path / "b.png"
    with image.open(path) as png:
        assert png.format == "PNG"
        assert png.size == (round(size[0] * dpi), round(size[1] * dpi))
        colours = png.convert("RGB").getcolors(maxcolors=1 << 20)
    assert len(colours) > 50, "regions, points and text, not a blank canvas"


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"model": MLP([3, 4, 2])}, ValueError, "model must take two inputs"),
        ({"model": object()}, TypeError, "model must be a numdl model"),
        ({"X": np.zeros((5, 3), np.float32)}, ValueError, r"X must have shape \(\*, 2\)"),
        ({"X": np.zeros((0, 2), np.float32), "y": np.zeros(0, np.int64)}, ValueError, "X must"),
        ({"X": np.full((60, 2), np.nan)}, ValueError, "X must be finite"),
        ({"X": np.array([["a", "b"]] * 60)}, TypeError, "X must hold real numbers"),
        ({"y": np.full(60, 3)}, ValueError, r"y must hold labels in \[0, 3\)"),
        ({"y": np.zeros(59, np.int64)}, ValueError, r"y must have shape \(60,\)"),
        ({"y": np.zeros(60)}, TypeError, "y must hold integer class labels"),
        ({"resolution": 1}, ValueError, "resolution must be >= 2"),
        ({"margin": -0.1}, ValueError, "margin must be >= 0"),
        ({"size": (6.0, 0.0)}, ValueError, r"size\[1\] must be > 0"),
        ({"size": 6.0}, TypeError, "size must be"),
        ({"dpi": 5}, ValueError, "dpi must be >= 10"),
        ({"title": 3}, TypeError, "title must be a string"),
    ],
)
def test_bad_arguments_are_named_and_nothing_is_written(model, tmp_path, kwargs, error, match):
    X, y = _points()
    args = {"model": model, "X": X, "y": y, "path": tmp_path / "b.png", **kwargs}
    with pytest.raises(error, match=match):
        plot_decision_boundary(**args)
    assert not (tmp_path / "b.png").exists()


# ------------------------------------------------------------------------ the command line
def test_train_on_moons_writes_the_boundary_and_boundary_redraws_it(numdl_main, tmp_path):
    pytest.importorskip("matplotlib")
    image = pytest.importorskip("PIL.Image")
    run = tmp_path / "run"
    code, out, err = numdl_main("train", "--dataset", "moons", *TINY, "--out", str(run))
    assert code == 0, err
    assert "training a 2-16-2 MLP on moons (SYNTHETIC" in out
    assert f"decision regions: {run / 'boundary.png'}" in out
    assert json.loads((run / "config.json").read_text())["dataset"] == "moons"
    with image.open(run / "boundary.png") as png:
        assert png.size == (600, 500)

    target = tmp_path / "test-split.png"
    code, out, err = numdl_main(
        "boundary", str(run / "best.npz"), "--out", str(target), "--split", "test",
        "--resolution", "50", "--backend", "numpy",
    )  # fmt: skip
    assert code == 0, err
    assert out.strip() == f"decision regions: {target}"
    with image.open(target) as png:
        assert png.size == (600, 500)
    code, out, err = numdl_main("boundary", str(run / "best.npz"), "--backend", "numpy")
    assert code == 0, err
    assert out.strip() == f"decision regions: {run / 'boundary.png'}"

    # the run's data are regenerated from its seed: evaluate sees the run's test split
    code, out, err = numdl_main("evaluate", str(run / "best.npz"), "--json", "--backend", "numpy")
    assert code == 0, err
    report = json.loads(out)
    assert report["dataset"] == "moons"
    assert report["synthetic"] is True
    best = model_from_checkpoint(load_checkpoint(run / "best.npz"))
    with numdl.use_backend("numpy"):
        X, y = load_moons(seed=0).test
        assert report["test_accuracy"] == pytest.approx(float(np.mean(best.predict(X) == y)))


@pytest.mark.parametrize("name", ["spirals", "blobs"])
def test_train_on_the_other_toy_datasets(numdl_main, tmp_path, name):
    run = tmp_path / name
    code, out, err = numdl_main("train", "--dataset", name, *TINY, "--out", str(run))
    assert code == 0, err
    assert f"training a 2-16-3 MLP on {name} (SYNTHETIC" in out


def test_toy_datasets_refuse_options_that_need_files(numdl_main, tmp_path):
    code, _, err = numdl_main("train", "--dataset", "moons", "--validation-size", "10")
    assert code == 2
    assert "--validation-size does not apply to --dataset moons" in err
    code, _, err = numdl_main("train", "--dataset", "blobs", "--data-dir", str(tmp_path))
    assert code == 2
    assert "--data-dir does not apply to --dataset blobs" in err


def test_boundary_refuses_models_of_images_and_bad_options(numdl_main, tmp_path):
    run = tmp_path / "digits"
    code, _, err = numdl_main(
        "train", "--dataset", "synthetic", "--hidden", "4", "--epochs", "1", "--backend",
        "numpy", "--out", str(run),
    )  # fmt: skip
    assert code == 0, err
    code, out, err = numdl_main("boundary", str(run / "best.npz"), "--backend", "numpy")
    assert code == 1
    assert out == ""
    assert "model takes 784 inputs; numdl boundary draws models of points in the plane" in err
    assert not (run / "boundary.png").exists()
    code, _, err = numdl_main("boundary", str(tmp_path / "none.npz"))
    assert code == 1
    assert "does not exist" in err
    code, _, err = numdl_main("boundary", "x.npz", "--resolution", "1")
    assert code == 2
    assert "--resolution: expected an integer >= 2" in err
    code, _, err = numdl_main("boundary", "x.npz", "--out", str(tmp_path / "no" / "b.png"))
    assert code == 2
    assert "does not exist" in err
    assert not Path("boundary.png").exists()
