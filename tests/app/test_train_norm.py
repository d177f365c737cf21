"""Training with normalisation and dropout: the options, checkpoints of the BatchNorm running
statistics, resume reproducing an uninterrupted run, and checkpoints from before these options."""

from __future__ import annotations

import numpy as np
import pytest

from numdl.app.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from numdl.app.config import TrainConfig, TrainConfigError, check_against_dataset
from numdl.app.training import model_from_checkpoint, train
from numdl.data import load_synthetic_digits
from numdl.nn import BatchNorm, Dropout, LayerNorm


@pytest.fixture(scope="module")
def data():
    return load_synthetic_digits(n_train=512, n_val=64, n_test=64)


def _config(**kw) -> TrainConfig:
    base = {"hidden": [16], "batch_size": 64, "epochs": 2, "lr": 0.05, "dataset": "synthetic"}
    return TrainConfig(**{**base, **kw})


def test_config_checks_norm_and_dropout(data) -> None:
    assert (_config().norm, _config().dropout) == ("none", 0.0)
    with pytest.raises(TrainConfigError, match="norm must be one of none, batch, layer"):
        _config(norm="group")
    with pytest.raises(TrainConfigError, match=r"dropout must be a number in \[0, 1\)"):
        _config(dropout=1.0)
    # 512 images in batches of 73 leave a last batch of 1: no batch statistics
    with pytest.raises(TrainConfigError, match="leaves a batch of 1"):
        check_against_dataset(_config(norm="batch", batch_size=73), data)
    check_against_dataset(_config(norm="layer", batch_size=73), data)  # fine without BN


@pytest.mark.parametrize("norm", ["batch", "layer"])
def test_training_with_norm_and_dropout_learns_and_checkpoints(tmp_path, data, norm) -> None:
    result = train(_config(norm=norm, dropout=0.2), data, tmp_path, progress=False, echo=str)
    model = result["model"]
    kinds = {type(layer) for layer in model.layers}
    assert {Dropout, BatchNorm if norm == "batch" else LayerNorm} <= kinds
    assert result["history"][-1]["val_acc"] > 0.3  # chance is 0.1
    ckpt = load_checkpoint(tmp_path / "last.npz")
    assert ckpt.meta["model"]["norm"] == norm
    assert ckpt.meta["model"]["dropout"] == 0.2
    if norm == "batch":
        assert set(ckpt.state) == {"layer1.running_mean", "layer1.running_var"}
        np.testing.assert_array_equal(ckpt.state["layer1.running_var"], model.layers[1].running_var)
        assert not np.allclose(ckpt.state["layer1.running_var"], 1)  # it was updated
    else:
        assert ckpt.state == {}
    back = model_from_checkpoint(ckpt)  # evaluation mode uses the saved running averages
    x = data.val.X.astype(np.float32)
    np.testing.assert_array_equal(back.predict_logits(x), model.predict_logits(x))


def test_resume_with_batchnorm_and_dropout_equals_an_uninterrupted_run(tmp_path, data) -> None:
    config = _config(norm="batch", dropout=0.3, epochs=3)
    full = train(config, data, tmp_path / "full", progress=False, echo=str)
    train(_config(norm="batch", dropout=0.3, epochs=1), data, tmp_path / "part", echo=str,
          progress=False)  # fmt: skip
    resumed = train(config, data, tmp_path / "part", resume=True, progress=False, echo=str)
    np.testing.assert_array_equal(resumed["model"].params.data, full["model"].params.data)
    a, b = resumed["model"].running_state(), full["model"].running_state()
    assert a.keys() == b.keys()
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])


def test_checkpoint_state_is_checked(tmp_path, data) -> None:
    train(_config(norm="batch", epochs=1), data, tmp_path, progress=False, echo=str)
    ckpt = load_checkpoint(tmp_path / "last.npz")
    missing = dict(ckpt.state)
    missing.pop("layer1.running_var")
    ckpt.state = missing
    with pytest.raises(ValueError, match=r"ckpt.state must be exactly .*missing \['layer1.runn"):
        save_checkpoint(tmp_path / "bad.npz", ckpt)
    ckpt.state = {**missing, "layer1.running_var": np.ones(3, np.float32)}
    with pytest.raises(ValueError, match=r"running_var'\] must have shape \(16,\)"):
        save_checkpoint(tmp_path / "bad.npz", ckpt)
    assert not (tmp_path / "bad.npz").exists()


def test_old_checkpoints_without_norm_keys_still_load(tmp_path, data) -> None:
    train(_config(epochs=1), data, tmp_path, progress=False, echo=str)
    ckpt = load_checkpoint(tmp_path / "last.npz")
    for key in ("norm", "dropout"):  # as written before these options existed
        del ckpt.meta["model"][key]
    save_checkpoint(tmp_path / "old.npz", ckpt)
    old = load_checkpoint(tmp_path / "old.npz")
    assert old.state == {}
    model = model_from_checkpoint(old)
    assert model.config["norm"] is None
    assert model.config["dropout"] == 0.0
    old.meta["model"]["norm"] = "batch"  # now its parameters are not the model's
    with pytest.raises(CheckpointError, match="does not match"):
        model_from_checkpoint(old)
