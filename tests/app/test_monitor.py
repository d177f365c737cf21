"""The training monitor: what it records is what the model computed, recording changes nothing,
the files load back, and a resumed run's records are those of an uninterrupted run."""

from __future__ import annotations

import csv
import dataclasses
from pathlib import Path

import numpy as np
import pytest

import numdl
from numdl.app.config import TrainConfig
from numdl.app.monitor import BINS, Monitor, histogram, layer_outputs, load_monitor
from numdl.app.training import train
from numdl.data import load_synthetic_digits
from numdl.nn.layers.activation import ReLU
from numdl.nn.layers.dropout import Dropout
from numdl.nn.layers.linear import Linear
from numdl.nn.losses import SoftmaxCrossEntropy
from numdl.nn.models import MLP, Sequential
from numdl.optim import make_optimizer

SMALL = {"hidden": [16], "batch_size": 200, "epochs": 2}  # 6000 images: 30 steps per epoch


@pytest.fixture(scope="module")
def digits():
    return load_synthetic_digits(seed=0)


def _quiet(line: str) -> None:
    pass


def _step(model: MLP, optimizer, x: np.ndarray, y: np.ndarray, monitor: Monitor, step: int):
    """One training step with the monitor's two hooks, as the training loop calls them."""
    _loss, dlogits = SoftmaxCrossEntropy()(model.forward(x), y)
    model.backward(dlogits, overwrite_grad=True)
    grads = model.params.grad.copy()
    before = model.params.data.copy()
    monitor.before_step(model, x, step, 1)
    optimizer.step()
    monitor.after_step(model)
    return grads, before


@pytest.mark.parametrize("activation", ["relu", "sigmoid", "leaky_relu"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_a_record_holds_the_statistics_of_the_step(tmp_path: Path, activation, dtype) -> None:
    rng = np.random.default_rng(0)
    model = MLP([6, 5, 4, 3], activation=activation, dtype=dtype, seed=1)
    optimizer = make_optimizer("momentum", model.params, lr=0.5, momentum=0.9)
    x = rng.standard_normal((7, 6)).astype(dtype)
    y = rng.integers(0, 3, size=7)
    monitor = Monitor(every=1)
    monitor.start(tmp_path)
    expected, h = [], x
    for layer in model.layers:  # the same batch through the layers again, in evaluation mode
        h = layer.forward(h, train=False)
        expected.append(h.copy())
    grads, before = _step(model, optimizer, x, y, monitor, 0)
    monitor.write()
    log = load_monitor(tmp_path)

    assert log.steps.tolist() == [0]
    assert log.epochs.tolist() == [1]
    assert sorted(log.scalars["act_mean"]) == [f"layer{i}" for i in range(len(model.layers))]
    for i, out in enumerate(expected):
        name = f"layer{i}"
        np.testing.assert_allclose(log.scalars["act_mean"][name][0], out.mean(), rtol=1e-5)
        np.testing.assert_allclose(log.scalars["act_std"][name][0], out.std(), rtol=1e-5)
        hist = log.histograms["act"][name]
        assert hist.counts.shape == (1, BINS)
        assert hist.edges.shape == (1, BINS + 1)
        assert hist.counts.sum() == out.size
        np.testing.assert_allclose(hist.edges[0, [0, -1]], [out.min(), out.max()], rtol=1e-6)
    relu_layers = {
        f"layer{i}"
        for i, layer in enumerate(model.layers)
        if getattr(layer, "relu", False) or type(layer).__name__ == "ReLU"
    }
    assert set(log.scalars.get("dead_frac", {})) == relu_layers
    for name in relu_layers:
        out = expected[int(name[5:])]
        assert log.scalars["dead_frac"][name][0] == np.mean(np.all(out == 0, axis=0))

    params = model.params
    after = params.data
    for name in params:
        g, w0 = params.view(grads, name), params.view(before, name)
        w1 = params.view(after, name)
        np.testing.assert_allclose(log.scalars["grad_norm"][name][0], np.linalg.norm(g), rtol=1e-5)
        np.testing.assert_allclose(log.scalars["weight_norm"][name][0], np.linalg.norm(w0), 1e-5)
        ratio = log.scalars["update_ratio"][name][0]
        if np.linalg.norm(w0) == 0:  # biases start at zero: the ratio is undefined
            assert np.isnan(ratio)
        else:
            want = np.linalg.norm(w1 - w0) / np.linalg.norm(w0)
            np.testing.assert_allclose(ratio, want, rtol=1e-4)
        assert log.histograms["grad"][name].counts.sum() == g.size
        assert log.histograms["weight"][name].counts.sum() == w0.size
        lo, hi = w0.min(), w0.max()
        if lo == hi:  # all equal (biases at zero): value ± 0.5, as numpy.histogram
            lo, hi = lo - 0.5, hi + 0.5
        edges = log.histograms["weight"][name].edges[0, [0, -1]]
        np.testing.assert_allclose(edges, [lo, hi], rtol=1e-6)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_histogram_counts_every_value_in_its_bin(dtype) -> None:
    x = np.random.default_rng(0).standard_normal((300, 70)).astype(dtype)
    counts, edges = histogram(x)
    want, want_edges = np.histogram(x, bins=BINS)
    np.testing.assert_array_equal(counts, want)
    np.testing.assert_allclose(edges, want_edges, atol=1e-6)  # numpy: in the dtype
    # the edge cases: all equal, the narrowest and the widest range of the dtype, not finite
    counts, edges = histogram(np.full(5, 2.0, dtype=dtype))
    assert counts[BINS // 2] == 5
    assert (edges[0], edges[-1]) == (1.5, 2.5)
    one = dtype(1)
    counts, _ = histogram(np.array([one, np.nextafter(one, dtype(2))]))
    assert (counts[0], counts[-1], counts.sum()) == (1, 1, 2)
    tiny = np.finfo(dtype).smallest_subnormal
    counts, edges = histogram(np.array([0, tiny], dtype=dtype))
    assert counts.sum() == 2
    assert edges[0] <= 0 < tiny <= edges[-1]
    big = np.finfo(dtype).max
    counts, edges = histogram(np.array([-big, 0, big], dtype=dtype))
    assert (counts[0], counts[BINS // 2], counts[-1]) == (1, 1, 1)
    assert edges[-1] == big
    counts, edges = histogram(np.array([0, np.inf], dtype=dtype))
    assert counts.sum() == 0
    assert np.isnan(edges).all()


def test_reading_the_activations_leaves_backward_and_its_caches_intact() -> None:
    """layer_outputs reads what forward saved; the model's backward still runs after it."""
    model = MLP([4, 3, 2], activation="tanh", seed=0)
    x = np.random.default_rng(0).standard_normal((5, 4)).astype(np.float32)
    logits = model.forward(x).copy()
    outs = layer_outputs(model, x)
    np.testing.assert_array_equal(outs[-1], logits)
    model.backward(np.ones_like(logits))  # the caches are as forward left them
    model.check_saved()


def test_the_outputs_of_relu_and_dropout_layers_are_their_masked_inputs() -> None:
    layers = [Linear(4, 6), ReLU(), Dropout(0.5, seed=0), Linear(6, 2)]
    model = Sequential(layers, dtype=np.float64)
    x = np.random.default_rng(0).standard_normal((9, 4))
    model.forward(x)
    outs = layer_outputs(model, x)
    np.testing.assert_allclose(outs[0], x @ layers[0].W + layers[0].b, rtol=1e-12)
    np.testing.assert_array_equal(outs[1], np.maximum(outs[0], 0))
    # what the last Linear was given is the dropout's output (the mask drawn in forward)
    np.testing.assert_array_equal(outs[2], layers[3].saved_for_backward()["x"])
    assert 0 < np.mean(outs[2] == 0) < 1


def test_monitoring_changes_no_result_of_training(tmp_path: Path, digits) -> None:
    config = TrainConfig(**SMALL)
    plain = train(config, digits, tmp_path / "plain", progress=False, echo=_quiet)
    watched = train(
        config, digits, tmp_path / "watched", progress=False, echo=_quiet, monitor=Monitor(7)
    )
    np.testing.assert_array_equal(plain["model"].params.data, watched["model"].params.data)
    timing = {"epoch_seconds", "samples_per_second"}
    for a, b in zip(plain["history"], watched["history"], strict=True):
        assert {k: v for k, v in a.items() if k not in timing} == {
            k: v for k, v in b.items() if k not in timing
        }
    assert not (tmp_path / "plain" / "monitor.csv").exists(), "off: no files"
    log = load_monitor(tmp_path / "watched")
    assert log.steps.tolist() == list(range(0, 60, 7))  # 2 epochs x 30 steps, every 7th
    assert log.epochs.tolist() == [1 + s // 30 for s in range(0, 60, 7)]


def test_the_csv_is_the_documented_long_format(tmp_path: Path, digits) -> None:
    config = TrainConfig(**{**SMALL, "epochs": 1})
    train(config, digits, tmp_path, progress=False, echo=_quiet, monitor=Monitor(10))
    with open(tmp_path / "monitor.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == ["step", "epoch", "name", "stat", "value"]
    stats = {(r["name"], r["stat"]) for r in rows if r["step"] == "0"}
    assert ("layer0", "dead_frac") in stats
    assert ("layer1", "dead_frac") not in stats
    assert ("layer0.W", "update_ratio") in stats
    assert ("layer1.b", "grad_norm") in stats
    assert {r["step"] for r in rows} == {"0", "10", "20"}
    with np.load(tmp_path / "monitor.npz") as npz:
        assert {"steps", "epochs", "act/layer0/counts", "grad/layer0.W/edges"} <= set(npz.files)
        assert npz["weight/layer1.b/counts"].dtype == np.int64


def test_a_resumed_run_records_what_an_uninterrupted_run_records(tmp_path: Path, digits) -> None:
    config = TrainConfig(**{**SMALL, "epochs": 3})
    whole = tmp_path / "whole"
    train(config, digits, whole, progress=False, echo=_quiet, monitor=Monitor(9))
    part = tmp_path / "part"
    short = dataclasses.replace(config, epochs=2)
    train(short, digits, part, progress=False, echo=_quiet, monitor=Monitor(9))
    log = load_monitor(part)
    assert log.epochs.max() == 2
    train(config, digits, part, resume=True, progress=False, echo=_quiet, monitor=Monitor(9))
    a, b = load_monitor(whole), load_monitor(part)
    np.testing.assert_array_equal(a.steps, b.steps)
    np.testing.assert_array_equal(a.epochs, b.epochs)
    for stat, series in a.scalars.items():
        for name, values in series.items():
            np.testing.assert_array_equal(values, b.scalars[stat][name], err_msg=f"{stat} {name}")
    for kind, series in a.histograms.items():
        for name, hist in series.items():
            np.testing.assert_array_equal(hist.counts, b.histograms[kind][name].counts)
            np.testing.assert_array_equal(hist.edges, b.histograms[kind][name].edges)


def test_resume_drops_the_records_of_epochs_after_the_checkpoint(tmp_path: Path, digits) -> None:
    config = TrainConfig(**SMALL)
    train(config, digits, tmp_path, progress=False, echo=_quiet, monitor=Monitor(10))
    monitor = Monitor(10)
    monitor.start(tmp_path, resume_epoch=1)  # as if the checkpoint were that of epoch 1
    monitor.write()
    log = load_monitor(tmp_path)
    assert log.steps.tolist() == [0, 10, 20]
    assert set(log.epochs.tolist()) == {1}
    assert all(len(v) == 3 for series in log.scalars.values() for v in series.values())


def test_the_numba_backend_records_the_same(tmp_path: Path, digits) -> None:
    pytest.importorskip("numba")
    config = TrainConfig(**{**SMALL, "epochs": 1})
    train(config, digits, tmp_path / "a", progress=False, echo=_quiet, monitor=Monitor(10))
    with numdl.use_backend("numba"):
        train(config, digits, tmp_path / "b", progress=False, echo=_quiet, monitor=Monitor(10))
    a, b = load_monitor(tmp_path / "a"), load_monitor(tmp_path / "b")
    for stat in ("act_mean", "grad_norm", "update_ratio"):
        for name, values in a.scalars[stat].items():
            np.testing.assert_allclose(values, b.scalars[stat][name], rtol=1e-3, atol=1e-6)


def test_bad_arguments_and_missing_files_are_named(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="every"):
        Monitor(0)
    with pytest.raises(TypeError, match="every"):
        Monitor(2.5)  # type: ignore[arg-type]
    with pytest.raises(FileNotFoundError, match="--monitor"):
        load_monitor(tmp_path)
    with pytest.raises(RuntimeError, match="start"):
        Monitor().write()
    (tmp_path / "monitor.csv").write_text("a,b\n")
    np.savez(tmp_path / "monitor.npz", steps=np.zeros(0), epochs=np.zeros(0))
    with pytest.raises(ValueError, match="columns"):
        load_monitor(tmp_path)


def test_the_cli_option_records_every_n_steps_and_checks_n(numdl_main, tmp_path: Path) -> None:
    args = ["--dataset", "synthetic", "--hidden", "8", "--batch-size", "500", "--epochs", "1"]
    code, _, err = numdl_main("train", *args, "--monitor", "0", "--out", str(tmp_path / "a"))
    assert code == 2
    assert "--monitor: expected an integer >= 1, got '0'" in err
    run = tmp_path / "run"
    code, _, err = numdl_main("train", *args, "--monitor", "--backend", "numpy", "--out", str(run))
    assert code == 0, err
    assert load_monitor(run).steps.tolist() == [0]  # 12 steps, every DEFAULT_EVERY
    # the monitor is no training option: a resumed run may add it or change N
    code, _, err = numdl_main("train", "--resume", str(run), "--epochs", "2", "--monitor", "5")
    assert code == 0, err
    assert load_monitor(run).steps.tolist() == [0, 15, 20]
