"""The application: training on real and synthetic data, and the ``numdl`` command line run
as a user would (subprocesses): train, evaluate, predict, resume, bad checkpoints, Ctrl-C."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from numdl.app.checkpoint import load_checkpoint
from numdl.app.config import TrainConfig
from numdl.app.training import train
from numdl.data import Dataset, Split, load_mnist, load_synthetic_digits

TINY = ["--hidden", "32", "--batch-size", "128", "--no-progress", "--backend", "numpy"]


def numdl_cli(
    *args: str, cwd: Path, timeout: float = 240, **env: str
) -> subprocess.CompletedProcess:
    environment = {**os.environ, "PYTHONUNBUFFERED": "1", **env}
    return subprocess.run(
        [sys.executable, "-m", "numdl", *args],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory) -> Path:
    """A tiny 2-epoch run on synthetic digits, shared by the evaluate/predict tests."""
    work = tmp_path_factory.mktemp("cli")
    result = numdl_cli(
        "train", "--dataset", "synthetic", "--epochs", "2", "--out", "run", *TINY, cwd=work
    )
    assert result.returncode == 0, result.stderr
    assert "SYNTHETIC" in result.stdout
    assert "test accuracy" in result.stdout
    return work / "run"


# --------------------------------------------------------------------------- real MNIST
def test_one_short_epoch_on_a_real_mnist_subset(mnist_dir, tmp_path) -> None:
    data = load_mnist(mnist_dir, download=False)
    subset = Dataset(
        train=Split(data.train.X[:6000], data.train.y[:6000]),
        val=Split(data.val.X[:2000], data.val.y[:2000]),
        test=data.test,
        name="mnist-subset",
        source_dir=mnist_dir,
        synthetic=False,
    )
    config = TrainConfig(hidden=[128], epochs=1, lr=0.1)
    result = train(config, subset, tmp_path, progress=False, echo=lambda line: None)
    (row,) = result["history"]
    assert row["train_loss"] < math.log(10) - 0.5, "the mean loss should fall well below chance"
    assert row["val_acc"] > 0.85, "accuracy should clearly beat chance (10 %) in one epoch"


def test_training_on_synthetic_data_learns(tmp_path) -> None:
    result = train(
        TrainConfig(hidden=[64], epochs=2, batch_size=128),
        load_synthetic_digits(),
        tmp_path,
        progress=False,
        echo=lambda line: None,
    )
    assert result["best_val_acc"] > 0.9


# ------------------------------------------------------------------------------ the CLI
def test_train_writes_a_complete_run_directory(trained_run: Path) -> None:
    for name in ("config.json", "log.csv", "last.npz", "best.npz", "test.json"):
        assert (trained_run / name).is_file(), name
    rows = (trained_run / "log.csv").read_text().strip().splitlines()
    assert len(rows) == 3  # header + 2 epochs
    assert json.loads((trained_run / "test.json").read_text())["synthetic"] is True


def test_evaluate_reports_accuracy_and_confusion(trained_run: Path) -> None:
    result = numdl_cli("evaluate", str(trained_run / "best.npz"), "--json", cwd=trained_run)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    cm = np.array(report["confusion_matrix"])
    assert cm.shape == (10, 10)
    assert cm.sum() == 1000  # the synthetic test split
    assert report["test_accuracy"] == pytest.approx(np.trace(cm) / cm.sum())
    assert report["test_accuracy"] > 0.9


@pytest.fixture(scope="module")
def mnist_run(tmp_path_factory, mnist_dir: Path) -> Path:
    """One epoch of a small MLP on real MNIST, trained through the CLI."""
    found = mnist_dir
    work = tmp_path_factory.mktemp("mnist-cli")
    args = ["--data-dir", str(found), "--no-download", "--epochs", "1", "--out", "run"]
    result = numdl_cli("train", *args, *TINY, cwd=work)
    assert result.returncode == 0, result.stderr
    return work / "run"


def test_predict_reads_pngs_written_here(mnist_run: Path, mnist_dir: Path, tmp_path: Path) -> None:
    pil = pytest.importorskip("PIL.Image", reason="Pillow not installed (extra 'image')")
    data = load_mnist(mnist_dir, download=False)
    paths = []
    for i in range(10):
        image = pil.fromarray((data.test.X[i].reshape(28, 28) * 255).round().astype(np.uint8))
        paths.append(tmp_path / f"digit{i}.png")
        image.resize((84, 84)).save(paths[-1])  # a larger picture, as a user would have
    result = numdl_cli(
        "predict", str(mnist_run / "best.npz"), *map(str, paths), "--json", cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    answers = json.loads(result.stdout)
    assert [a["image"] for a in answers] == [str(p) for p in paths]
    for a in answers:
        assert sum(a["probabilities"]) == pytest.approx(1, abs=1e-5)
        assert a["confidence"] == max(a["probabilities"])
    correct = sum(a["prediction"] == y for a, y in zip(answers, data.test.y[:10], strict=True))
    assert correct >= 8, f"{correct}/10 real test digits recognised after one epoch"


def test_predict_rejects_a_file_that_is_not_an_image(trained_run: Path, tmp_path: Path) -> None:
    fake = tmp_path / "notes.png"
    fake.write_text("this is text")
    result = numdl_cli("predict", str(trained_run / "best.npz"), str(fake), cwd=tmp_path)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert str(fake) in result.stderr


@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty"])
def test_corrupt_checkpoint_is_a_clear_error(
    trained_run: Path, tmp_path: Path, damage: str
) -> None:
    data = (trained_run / "best.npz").read_bytes()
    bad = tmp_path / "bad.npz"
    bad.write_bytes(
        {"truncate": data[: len(data) // 2], "garbage": b"not a zip" * 100, "empty": b""}[damage]
    )
    result = numdl_cli("evaluate", str(bad), cwd=tmp_path)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert str(bad) in result.stderr
    assert "corrupt" in result.stderr


def test_missing_data_offline_is_a_message_not_a_traceback(tmp_path: Path) -> None:
    result = numdl_cli(
        "train",
        "--data-dir",
        str(tmp_path / "nowhere"),
        "--no-download",
        "--epochs",
        "1",
        "--out",
        "run",
        *TINY,
        cwd=tmp_path,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "NUMDL_DATA_DIR" in result.stderr
    assert str(tmp_path / "nowhere") in result.stderr


def test_diverging_loss_stops_with_advice(tmp_path: Path) -> None:
    result = numdl_cli(
        "train",
        "--dataset",
        "synthetic",
        "--epochs",
        "3",
        "--lr",
        "1e30",
        "--out",
        "run",
        *TINY,
        cwd=tmp_path,
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "diverged" in result.stderr
    assert "smaller --lr" in result.stderr
    assert "epoch 1, step" in result.stderr


def _params(path: Path) -> dict[str, np.ndarray]:
    return load_checkpoint(path).params


def test_ctrl_c_keeps_a_checkpoint_and_resume_matches_an_uninterrupted_run(tmp_path: Path) -> None:
    args = ["--dataset", "synthetic", "--epochs", "6", *TINY]
    straight = numdl_cli("train", *args, "--out", "straight", cwd=tmp_path)
    assert straight.returncode == 0, straight.stderr

    run = tmp_path / "interrupted"
    proc = subprocess.Popen(
        [sys.executable, "-m", "numdl", "train", *args, "--out", str(run)],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    deadline = time.monotonic() + 120
    while not (run / "last.npz").exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    if proc.returncode == 0:
        pytest.skip("the run finished before the interrupt arrived (machine too fast)")
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert f"numdl train --resume {run}" in err
    epochs_done = load_checkpoint(run / "last.npz").meta["epoch"]  # loadable after Ctrl-C
    assert 1 <= epochs_done < 6

    resumed = numdl_cli(
        "train", "--resume", str(run), "--no-progress", "--backend", "numpy", cwd=tmp_path
    )
    assert resumed.returncode == 0, resumed.stderr
    final, reference = _params(run / "last.npz"), _params(tmp_path / "straight" / "last.npz")
    for name, value in reference.items():
        np.testing.assert_array_equal(final[name], value, err_msg=name)
