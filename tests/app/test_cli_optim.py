"""``numdl train`` with the adaptive optimisers, ``--l1`` and ``--clip-grad-norm``: the run
trains, checkpoints the optimiser's state, resumes bit for bit, and clipping bounds the steps."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from numdl.app.checkpoint import load_checkpoint
from numdl.app.config import CHOICES, TrainConfig, TrainConfigError
from numdl.nn.models import MLP
from numdl.optim.factory import OPTIMIZERS

SYN = ["--dataset", "synthetic", "--hidden", "8", "--batch-size", "64", "--backend", "numpy"]
STATE = {"adam": ("m", "v"), "rmsprop": ("square_avg",), "adagrad": ("sum_sq",)}


@pytest.mark.parametrize(
    "name", ["adam", *(pytest.param(n, marks=pytest.mark.slow) for n in ("adagrad", "rmsprop"))]
)
def test_resume_matches_a_straight_run(numdl_main, tmp_path: Path, monkeypatch, name) -> None:
    monkeypatch.chdir(tmp_path)
    opts = [*SYN, "--optimizer", name, "--lr", "1e-3", "--l1", "1e-4", "--clip-grad-norm", "0.5"]
    assert numdl_main("train", *opts, "--epochs", "2", "--out", "straight")[0] == 0
    assert numdl_main("train", *opts, "--epochs", "1", "--out", "short")[0] == 0
    code, _, err = numdl_main("train", "--resume", "short", "--epochs", "2", "--backend", "numpy")
    assert code == 0, err
    config = json.loads(Path("short/config.json").read_text())
    assert (config["optimizer"], config["l1"], config["clip_grad_norm"]) == (name, 1e-4, 0.5)
    resumed, straight = load_checkpoint("short/last.npz"), load_checkpoint("straight/last.npz")
    assert sorted(straight.optim["buffers"]) == sorted(f"flat/{b}" for b in STATE[name])
    assert straight.optim["steps"] == 2 * 94  # 6000 images in batches of 64
    for key, value in straight.optim["buffers"].items():
        np.testing.assert_array_equal(resumed.optim["buffers"][key], value, err_msg=key)
    for key, value in straight.params.items():
        np.testing.assert_array_equal(resumed.params[key], value, err_msg=key)


def test_clipping_bounds_every_sgd_step(numdl_main, tmp_path: Path, monkeypatch) -> None:
    """Plain SGD moves θ by η‖g‖ per step; clipped at v, 94 steps move it at most 94·η·v."""
    monkeypatch.chdir(tmp_path)
    opts = [*SYN, "--optimizer", "sgd", "--lr", "0.2", "--weight-decay", "0", "--epochs", "1"]
    assert numdl_main("train", *opts, "--clip-grad-norm", "1e-3", "--out", "clipped")[0] == 0
    assert numdl_main("train", *opts, "--out", "free")[0] == 0
    init = MLP([784, 8, 10], seed=0).params.data.astype(np.float64)  # as the runs start
    moved = {}
    for run in ("clipped", "free"):
        model = MLP([784, 8, 10])
        model.params.load_state_dict(load_checkpoint(f"{run}/last.npz").params)
        moved[run] = float(np.linalg.norm(model.params.data.astype(np.float64) - init))
    assert 0 < moved["clipped"] <= 94 * 0.2 * 1e-3 * (1 + 1e-5)
    assert moved["free"] > 10 * moved["clipped"]


def test_the_options_are_checked_like_the_others() -> None:
    assert TrainConfig(l1=1e-5, clip_grad_norm=2).clip_grad_norm == 2.0
    with pytest.raises(TrainConfigError, match=r"^l1 must be a number >= 0, got -1"):
        TrainConfig(l1=-1)
    with pytest.raises(TrainConfigError, match=r"^clip_grad_norm=1e\+39 overflows to inf"):
        TrainConfig(clip_grad_norm=1e39)
    assert TrainConfig(optimizer="rmsprop", lr=1e-3).optimizer == "rmsprop"
    assert CHOICES["optimizer"] == OPTIMIZERS  # the command line offers what the factory makes
