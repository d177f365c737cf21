"""Early stopping on validation accuracy with patience (ch. 7.8), across resume, and the
training accuracy the loop logs."""

from __future__ import annotations

import csv
import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

import numdl.app.training
from numdl.app.checkpoint import load_checkpoint
from numdl.app.config import TrainConfig, TrainConfigError
from numdl.app.training import LOG_FIELDS, build, epochs_since_best, evaluate, train
from numdl.data import load_synthetic_digits
from numdl.data.dataset import Split

SMALL = {"hidden": [8], "batch_size": 500, "epochs": 8}


@pytest.fixture(scope="module")
def digits():
    return load_synthetic_digits(seed=0)


@pytest.fixture
def scripted_val_acc(monkeypatch):
    """Make the validation accuracy of epoch e the e-th of ``accs`` (the loss stays real)."""

    real = numdl.app.training.evaluate

    def script(accs: list[float]) -> list[float]:
        calls = iter(accs)

        def fake(model, x, y, **kwargs):
            return real(model, x, y, **kwargs)[0], next(calls)

        monkeypatch.setattr(numdl.app.training, "evaluate", fake)
        return accs

    return script


def test_epochs_since_best_counts_from_the_first_best() -> None:
    rows = [{"val_acc": a} for a in (0.5, 0.7, 0.6, 0.7, 0.65)]
    assert epochs_since_best(rows) == 3  # 0.7 at epoch 2; equalling it is no improvement
    assert epochs_since_best(rows[:2]) == 0
    assert epochs_since_best([]) == 0


def test_training_stops_after_patience_epochs_without_improvement(
    tmp_path: Path, digits, scripted_val_acc
) -> None:
    scripted_val_acc([0.5, 0.6, 0.55, 0.6, 0.59, 0.9, 0.9, 0.9])
    lines: list[str] = []
    config = TrainConfig(**SMALL, patience=3)
    result = train(config, digits, tmp_path, progress=False, echo=lines.append)
    assert [row["epoch"] for row in result["history"]] == [1, 2, 3, 4, 5]
    assert result["stopped_early"] == lines[-1]
    assert "stopped early after epoch 5" in lines[-1]
    assert "not improved for 3 epochs" in lines[-1]
    assert "60.00% at epoch 2" in lines[-1]
    assert load_checkpoint(tmp_path / "best.npz").meta["epoch"] == 2
    assert load_checkpoint(tmp_path / "last.npz").meta["epoch"] == 5
    with open(tmp_path / "log.csv", newline="") as handle:
        assert len(list(csv.DictReader(handle))) == 5


def test_without_patience_training_runs_every_epoch(
    tmp_path: Path, digits, scripted_val_acc
) -> None:
    scripted_val_acc([0.5] * 4)
    config = TrainConfig(**{**SMALL, "epochs": 4})
    result = train(config, digits, tmp_path, progress=False, echo=lambda s: None)
    assert len(result["history"]) == 4
    assert result["stopped_early"] is None


def test_the_patience_count_continues_across_resume(
    tmp_path: Path, digits, scripted_val_acc
) -> None:
    config = TrainConfig(**SMALL, patience=3)
    scripted_val_acc([0.5, 0.6, 0.55])
    train(dataclasses.replace(config, epochs=3), digits, tmp_path, progress=False, echo=print)
    # resuming continues the count: epoch 2 is the best, two more epochs without improving
    scripted_val_acc([0.58, 0.59, 0.9])
    lines: list[str] = []
    result = train(config, digits, tmp_path, resume=True, progress=False, echo=lines.append)
    assert len(result["history"]) == 5
    assert "stopped early after epoch 5" in result["stopped_early"]
    # a run that stopped stays stopped: resuming it again trains nothing
    scripted_val_acc([])
    again = train(config, digits, tmp_path, resume=True, progress=False, echo=lines.append)
    assert len(again["history"]) == 5
    assert again["stopped_early"] == result["stopped_early"]
    assert load_checkpoint(tmp_path / "last.npz").meta["epoch"] == 5


def test_patience_needs_a_validation_split(tmp_path: Path, digits) -> None:
    no_val = dataclasses.replace(digits, val=Split(digits.val.X[:0], digits.val.y[:0]))
    with pytest.raises(TrainConfigError, match="patience needs a validation split"):
        train(TrainConfig(**SMALL, patience=2), no_val, tmp_path / "run", progress=False)
    assert not (tmp_path / "run").exists()
    with pytest.raises(TrainConfigError, match="patience"):
        TrainConfig(patience=-1)


def test_the_cli_stops_early_and_says_so(numdl_main, tmp_path: Path, scripted_val_acc) -> None:
    scripted_val_acc([0.5, 0.4, 0.3, 0.2])
    run = tmp_path / "run"
    code, out, err = numdl_main(
        "train", "--dataset", "synthetic", "--hidden", "8", "--batch-size", "500",
        "--epochs", "4", "--patience", "2", "--backend", "numpy", "--out", str(run),
    )  # fmt: skip
    assert code == 0, err
    assert "stopped early after epoch 3" in out
    assert "stopped early" in json.loads((run / "test.json").read_text())["stopped_early"]
    code, _, err = numdl_main("train", "--resume", str(run), "--patience", "3")
    assert code == 2
    assert "--patience 3 conflicts with the run's 2" in err


def test_train_acc_is_the_accuracy_of_the_batches_as_trained(tmp_path: Path, digits) -> None:
    """With a learning rate too small to move a weight (biases move from 0 to ~1e-30), every
    batch is classified by the initial model, so the logged training accuracy is that model's
    on the training set."""
    config = TrainConfig(**{**SMALL, "epochs": 1}, lr=1e-30, weight_decay=0.0)
    model, _, _ = build(config, 784, 10, 12)
    _, initial_acc = evaluate(model, digits.train.X, digits.train.y)
    result = train(config, digits, tmp_path, progress=False, echo=lambda s: None)
    np.testing.assert_allclose(result["model"].params.data, model.params.data, atol=1e-25)
    assert result["history"][0]["train_acc"] == pytest.approx(initial_acc, abs=1e-12)
    assert "train_acc" in LOG_FIELDS
    with open(tmp_path / "log.csv", newline="") as handle:
        row = next(csv.DictReader(handle))
    assert float(row["train_acc"]) == pytest.approx(initial_acc, abs=1e-12)


def test_a_run_logged_before_train_acc_existed_resumes(tmp_path: Path, digits) -> None:
    config = TrainConfig(**{**SMALL, "epochs": 2})
    train(dataclasses.replace(config, epochs=1), digits, tmp_path, progress=False, echo=print)
    log = tmp_path / "log.csv"
    with open(log, newline="") as handle:
        rows = list(csv.DictReader(handle))
    old_fields = [f for f in LOG_FIELDS if f != "train_acc"]
    with open(log, "w", newline="") as handle:  # the log as the previous version wrote it
        writer = csv.DictWriter(handle, old_fields, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    train(config, digits, tmp_path, resume=True, progress=False, echo=print)
    with open(log, newline="") as handle:
        reader = csv.DictReader(handle)
        assert reader.fieldnames == LOG_FIELDS
        assert [row["epoch"] for row in reader] == ["1", "2"]
    with open(tmp_path / "other.csv", "w") as handle:  # any other header is still refused
        handle.write("a,b\n")
    (tmp_path / "other.csv").replace(log)
    with pytest.raises(ValueError, match="header"):
        train(dataclasses.replace(config, epochs=3), digits, tmp_path, resume=True, progress=False)
