"""``numdl train --model cnn`` end to end on a small real-MNIST subset (seconds): train,
checkpoint, resume, evaluate, predict; the CNN options' rules; CNN checkpoints, and MLP
checkpoints written before the model ``kind`` existed."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from numdl.app.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from numdl.app.config import CNN_RECIPE, TrainConfig, TrainConfigError
from numdl.app.training import build_model, model_from_checkpoint
from numdl.data import MNIST_FILES, read_idx, write_idx
from numdl.nn import CNN, MLP

N_TRAIN, N_TEST = 1200, 300
#: A CNN small enough for seconds on the NumPy backend; constant schedule, so that a resumed
#: run may train on to more epochs.
SMALL = [
    *("--model", "cnn", "--channels", "8", "16", "--kernel-size", "3", "--hidden", "32"),
    *("--batch-size", "50", "--lr", "0.1", "--schedule", "constant", "--augment", "none"),
    *("--validation-size", "200", "--no-progress", "--backend", "numpy", "--no-download"),
]


@pytest.fixture(scope="module")
def subset_dir(mnist_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The first 1200 training and 300 test images of real MNIST, as MNIST-format files."""
    found = mnist_dir
    out = tmp_path_factory.mktemp("mnist-subset")
    for stem, n in zip(MNIST_FILES, (N_TRAIN, N_TRAIN, N_TEST, N_TEST), strict=True):
        source = found / f"{stem}.gz"
        write_idx(out / stem, read_idx(source if source.is_file() else found / stem)[:n])
    return out


@pytest.fixture(scope="module")
def cnn_run(subset_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """One epoch of the small CNN through the CLI, then resumed to a second."""
    from numdl.app.cli import main

    run = tmp_path_factory.mktemp("cnn") / "run"
    base = ["train", *SMALL, "--data-dir", str(subset_dir)]
    assert main([*base, "--epochs", "1", "--out", str(run)]) == 0
    assert json.loads((run / "config.json").read_text())["model"] == "cnn"
    first = load_checkpoint(run / "last.npz")
    assert first.meta["epoch"] == 1
    assert main(["train", "--resume", str(run), "--epochs", "2", "--no-progress"]) == 0
    return run, str(subset_dir)


def test_train_checkpoints_a_cnn_and_resumes_it(cnn_run: tuple[Path, str]) -> None:
    run, _ = cnn_run
    ckpt = load_checkpoint(run / "last.npz")
    assert ckpt.meta["epoch"] == 2
    assert ckpt.meta["model"]["kind"] == "cnn"
    assert ckpt.meta["model"]["channels"] == [8, 16]
    assert ckpt.params["layer1.W"].shape == (8, 1, 3, 3)
    assert [row["epoch"] for row in ckpt.meta["history"]] == [1, 2]
    assert len((run / "log.csv").read_text().strip().splitlines()) == 3  # header, 2 epochs
    model = model_from_checkpoint(ckpt)
    assert isinstance(model, CNN)
    np.testing.assert_array_equal(model.params["layer1.W"], ckpt.params["layer1.W"])
    history = ckpt.meta["history"]
    assert history[1]["train_loss"] < history[0]["train_loss"] < np.log(10)
    assert json.loads((run / "test.json").read_text())["test_accuracy"] > 0.5


def test_evaluate_and_predict_a_cnn_checkpoint(
    cnn_run: tuple[Path, str], numdl_main, tmp_path: Path
) -> None:
    run, data_dir = cnn_run
    code, out, err = numdl_main("evaluate", str(run / "best.npz"), "--json", "--backend", "numpy")
    assert code == 0, err
    report = json.loads(out)
    assert np.sum(report["confusion_matrix"]) == N_TEST
    assert report["test_accuracy"] > 0.5  # chance is 0.1
    pil = pytest.importorskip("PIL.Image", reason="Pillow not installed (extra 'image')")
    images = read_idx(Path(data_dir) / MNIST_FILES[2])[:3]
    paths = []
    for i, image in enumerate(images):
        paths.append(tmp_path / f"digit{i}.png")
        pil.fromarray(image).save(paths[-1])
    code, out, err = numdl_main(
        "predict", str(run / "best.npz"), *map(str, paths), "--json", "--backend", "numpy"
    )
    assert code == 0, err
    answers = json.loads(out)
    assert [a["image"] for a in answers] == [str(p) for p in paths]
    for a in answers:
        assert sum(a["probabilities"]) == pytest.approx(1, abs=1e-5)
        assert 0 <= a["prediction"] < 10


def test_the_header_names_the_cnn_and_monitor_records_it(
    subset_dir: Path, numdl_main, tmp_path: Path
) -> None:
    argv = ["--data-dir", str(subset_dir), "--epochs", "1", "--out", str(tmp_path), "--monitor"]
    code, out, err = numdl_main("train", *SMALL, *argv, "5")
    assert code == 0, err
    assert "training a 784-conv3x3:8-16-32-10 CNN on" in out
    assert "test accuracy" in out
    header = (tmp_path / "monitor.csv").read_text().splitlines()[0]
    assert header  # the dynamics of the convolutions, pooling and dense layers
    text = (tmp_path / "monitor.csv").read_text()
    assert "layer1" in text  # the first convolution's activations
    assert "layer1.W" in text


# --------------------------------------------------------------------------- the options
@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--channels", "8"], "--channels applies only with --model cnn, not mlp"),
        (["--kernel-size", "3"], "--kernel-size applies only with --model cnn, not mlp"),
        (["--model", "cnn", "--norm", "batch"], "--norm applies only with --model mlp, not cnn"),
        (["--model", "cnn", "--activation", "tanh"], "--activation applies only with --model mlp"),
        (["--model", "cnn", "--channels", "0"], "--channels"),
        (["--model", "rnn"], "--model"),
    ],
)
def test_inapplicable_or_bad_cnn_options_are_refused(
    argv: list[str], message: str, numdl_main, tmp_path: Path
) -> None:
    out_dir = tmp_path / "run"
    code, _, err = numdl_main("train", "--dataset", "synthetic", *argv, "--out", str(out_dir))
    assert code == 2
    assert message in err
    assert not out_dir.exists()


def test_model_cnn_takes_the_cnn_recipe_as_its_defaults() -> None:
    config = TrainConfig.from_dict({"model": "cnn"})
    for name, value in CNN_RECIPE.items():
        assert getattr(config, name) == value, name
    assert TrainConfig.from_dict({}) == TrainConfig()  # the MLP's defaults: Table 1's
    given = TrainConfig.from_dict({"model": "cnn", "lr": 0.01, "epochs": 3})
    assert (given.lr, given.epochs, given.batch_size) == (0.01, 3, CNN_RECIPE["batch_size"])
    with pytest.raises(TrainConfigError, match="channels applies only with model cnn"):
        TrainConfig.from_dict({"channels": [8]})


def test_build_model_refuses_images_too_small_for_the_blocks() -> None:
    config = TrainConfig.from_dict({"model": "cnn"})
    assert isinstance(build_model(config, 784, 10, (28, 28)), CNN)
    with pytest.raises(ValueError, match="too small"):
        build_model(config, 2, 2, (1, 2))  # the points in the plane of moons, spirals
    with pytest.raises(ValueError, match="one image of H x W"):
        build_model(config, 784, 10, (20, 20))


# ------------------------------------------------------------------------- checkpoints
def _checkpoint_of(model, tmp_path: Path) -> Path:
    from numdl.app.checkpoint import Checkpoint

    meta = {"model": model.config, "train": {}, "epoch": 0, "history": [], "best_val_acc": 0.0}
    ckpt = Checkpoint(params=model.params.state_dict(), optim=_no_optim(), meta=meta)
    return save_checkpoint(tmp_path / "model.npz", ckpt)


def _no_optim() -> dict:
    return {"steps": 0, "lr": 0.1, "buffers": {}}


def test_a_cnn_checkpoint_round_trips_and_wrong_shapes_are_refused(tmp_path: Path) -> None:
    model = CNN((1, 8, 8), channels=(2,), kernel_size=3, hidden=5, n_classes=3, seed=4)
    path = _checkpoint_of(model, tmp_path)
    back = model_from_checkpoint(load_checkpoint(path))
    assert isinstance(back, CNN)
    assert back.config == model.config
    np.testing.assert_array_equal(back.params.data, model.params.data)
    other = CNN((1, 8, 8), channels=(3,), kernel_size=3, hidden=5, n_classes=3)
    from numdl.app.checkpoint import Checkpoint

    meta = {"model": model.config, "train": {}, "epoch": 0, "history": [], "best_val_acc": 0.0}
    bad = Checkpoint(params=other.params.state_dict(), optim=_no_optim(), meta=meta)
    with pytest.raises(ValueError, match=r"must have shape \(2, 1, 3, 3\)"):
        save_checkpoint(tmp_path / "bad.npz", bad)
    assert not (tmp_path / "bad.npz").exists()
    for key, value, match in [
        ("kind", "rnn", "'kind'.*must be one of"),
        ("channels", "16", "'channels'.*must be a list"),
        ("in_shape", [1, 1, 1], "too small"),
    ]:
        meta_bad = {**meta, "model": {**model.config, key: value}}
        ckpt = Checkpoint(params=model.params.state_dict(), optim=_no_optim(), meta=meta_bad)
        with pytest.raises((TypeError, ValueError), match=match):
            save_checkpoint(tmp_path / "bad.npz", ckpt)


def test_an_mlp_checkpoint_without_a_kind_still_loads_as_an_mlp(tmp_path: Path) -> None:
    model = MLP([6, 4, 3], seed=2)
    config = {k: v for k, v in model.config.items() if k != "kind"}  # as before the CNN

    class Old:
        pass

    old = Old()
    old.config, old.params = config, model.params  # type: ignore[attr-defined]
    ckpt = load_checkpoint(_checkpoint_of(old, tmp_path))
    assert "kind" not in ckpt.meta["model"]
    back = model_from_checkpoint(ckpt)
    assert isinstance(back, MLP)
    np.testing.assert_array_equal(back.params.data, model.params.data)
    with pytest.raises(CheckpointError, match="lacks the model configuration"):
        model_from_checkpoint(type(ckpt)(ckpt.params, ckpt.optim, {**ckpt.meta, "model": {}}))


@pytest.mark.parametrize("channels", [[16, 32], [4, 4, 4]])
def test_the_warm_up_builds_a_toy_cnn_of_the_runs_blocks(channels: list[int]) -> None:
    from numdl.app.warmup import warm_up

    # raises if the toy images were too small for the blocks (start_warm_up would hide it)
    warm_up(TrainConfig.from_dict({"model": "cnn", "channels": channels}), "numpy")
