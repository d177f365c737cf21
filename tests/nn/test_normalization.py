"""BatchNorm, LayerNorm and Dropout: float64 gradient checks of the hand-written backward
passes, running statistics, evaluation mode, the MLP's placement, and bad input."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

import numdl
from numdl.nn import MLP, BatchNorm, Dropout, LayerNorm, Linear, Sequential, Tanh
from numdl.nn.losses import SoftmaxCrossEntropy


def numeric_grad(f: Callable[[], float], x: np.ndarray, h: float = 1e-6) -> np.ndarray:
    """Central differences of the scalar ``f()`` with respect to ``x`` (perturbed in place)."""
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        old = x[i]
        x[i] = old + h
        up = f()
        x[i] = old - h
        down = f()
        x[i] = old
        grad[i] = (up - down) / (2 * h)
    return grad


def assert_grad(analytic: np.ndarray, numeric: np.ndarray, what: str) -> None:
    err = np.abs(analytic - numeric).max() / max(1e-8, np.abs(numeric).max())
    assert err < 1e-6, f"{what}: relative error {err:.2e}"


def _model(norm_layer, seed: int = 0) -> Sequential:
    """Linear(5, 6), the layer under test, Tanh, Linear(6, 3): a smooth loss around it."""
    return Sequential([Linear(5, 6), norm_layer, Tanh(), Linear(6, 3)], dtype=np.float64, seed=seed)


def _check_model_gradients(model: Sequential, x: np.ndarray, y: np.ndarray, reseed=None) -> None:
    loss = SoftmaxCrossEntropy()

    def value() -> float:
        if reseed is not None:
            reseed()
        return float(loss(model.forward(x), y)[0])

    if reseed is not None:
        reseed()
    _, dlogits = loss(model.forward(x), y)
    dx = model.backward(dlogits.copy(), compute_dx=True).copy()
    analytic = model.params.grad.copy()
    assert_grad(analytic, numeric_grad(value, model.params.data), "parameters")
    assert_grad(dx, numeric_grad(value, x), "input")


@pytest.mark.parametrize("relu", [False, True])
@pytest.mark.parametrize("kind", [BatchNorm, LayerNorm])
def test_norm_gradients(kind, relu: bool) -> None:
    rng = np.random.default_rng(3)
    model = _model(kind(6, relu=relu))
    # γ, β away from their initial 1, 0 so that every term of the backward shows
    model.params["layer1.gamma"][...] = 1 + 0.3 * rng.standard_normal(6)
    model.params["layer1.beta"][...] = 0.5 + 0.3 * rng.standard_normal(6)
    x = rng.standard_normal((7, 5))
    _check_model_gradients(model, x, rng.integers(0, 3, 7))


def test_dropout_gradient_with_a_fixed_mask() -> None:
    rng = np.random.default_rng(4)
    model = Sequential(
        [Linear(5, 6), Tanh(), Dropout(0.4, seed=9), Linear(6, 3)], dtype=np.float64, seed=1
    )
    layer = model.layers[2]
    x = rng.standard_normal((7, 5))
    _check_model_gradients(model, x, rng.integers(0, 3, 7), reseed=lambda: layer.set_generator(9))


@pytest.mark.parametrize("norm", ["batch", "layer"])
def test_mlp_with_norm_and_dropout_gradients(norm: str) -> None:
    rng = np.random.default_rng(5)
    model = MLP([5, 6, 4, 3], norm=norm, dropout=0.25, dtype=np.float64, seed=2)
    x = rng.standard_normal((9, 5))

    def reseed() -> None:
        model.set_dropout_generator(np.random.default_rng(11))

    _check_model_gradients(model, x, rng.integers(0, 3, 9), reseed=reseed)


def test_mlp_layout_and_weight_decay() -> None:
    model = MLP([4, 8, 8, 3], activation="tanh", norm="batch", dropout=0.5, seed=0)
    names = [type(layer).__name__ for layer in model.layers]
    assert names == ["Linear", "BatchNorm", "Tanh", "Dropout"] * 2 + ["Linear"]
    assert not model.layers[0].relu
    assert not model.layers[1].relu
    relu = MLP([4, 8, 3], norm="layer")
    assert [repr(layer) for layer in relu.layers] == [
        "Linear(4, 8)",
        "LayerNorm(8, relu=True)",
        "Linear(8, 3)",
    ]
    # γ and β are laid out with the biases, after the decayed weights
    decayed = {n for n, s in model.params.specs.items() if s.decay}
    assert decayed == {"layer0.W", "layer4.W", "layer8.W"}
    assert MLP([4, 8, 3]).config["norm"] is None  # the default model is unchanged
    assert [type(x).__name__ for x in MLP([4, 8, 3]).layers] == ["Linear", "Linear"]


def test_batchnorm_statistics_running_averages_and_eval_mode() -> None:
    rng = np.random.default_rng(6)
    model = Sequential([BatchNorm(4, momentum=0.2)], dtype=np.float64)
    bn = model.layers[0]
    mean, var = np.zeros(4), np.ones(4)
    for _ in range(3):
        x = 3 + 2 * rng.standard_normal((10, 4))
        y = model.forward(x)
        np.testing.assert_allclose(y.mean(axis=0), 0, atol=1e-12)
        np.testing.assert_allclose(y.var(axis=0), x.var(axis=0) / (x.var(axis=0) + 1e-5))
        mean = 0.8 * mean + 0.2 * x.mean(axis=0)
        var = 0.8 * var + 0.2 * x.var(axis=0, ddof=1)  # the unbiased variance
        np.testing.assert_allclose(bn.running_mean, mean)
        np.testing.assert_allclose(bn.running_var, var)
    x = rng.standard_normal((5, 4))
    before = bn.running_state()
    np.testing.assert_allclose(model.forward(x, train=False), (x - mean) / np.sqrt(var + 1e-5))
    after = bn.running_state()
    np.testing.assert_array_equal(before["running_mean"], after["running_mean"])  # eval: no update


def test_layernorm_normalises_rows_the_same_in_both_modes() -> None:
    model = Sequential([LayerNorm(6)], dtype=np.float64)
    x = np.random.default_rng(7).standard_normal((4, 6)) * 5 + 2
    y = model.forward(x).copy()
    np.testing.assert_allclose(y.mean(axis=1), 0, atol=1e-12)
    np.testing.assert_allclose(y.std(axis=1), np.sqrt(x.var(axis=1) / (x.var(axis=1) + 1e-5)))
    np.testing.assert_array_equal(model.forward(x, train=False), y)


def test_dropout_masks_scale_and_eval_identity() -> None:
    model = Sequential([Dropout(0.25, seed=3)], dtype=np.float64)
    x = np.ones((400, 50))
    y = model.forward(x)
    assert set(np.unique(y)) == {0.0, 1 / 0.75}
    assert abs((y == 0).mean() - 0.25) < 0.01
    assert model.forward(x, train=False) is x
    again = Sequential([Dropout(0.25, seed=3)], dtype=np.float32).forward(x.astype(np.float32))
    np.testing.assert_array_equal(again == 0, y == 0)  # the same masks in float32
    dx = model.backward(np.full_like(x, 2.0), compute_dx=True)
    np.testing.assert_array_equal(dx, 2 * y)


@pytest.mark.parametrize("norm", ["batch", "layer"])
def test_backends_train_alike(norm: str) -> None:
    """The same MLP (norm, dropout) trained 5 steps on numpy and numba: same parameters."""
    rng = np.random.default_rng(8)
    x, y = rng.standard_normal((32, 10)), rng.integers(0, 4, 32)
    results = []
    for backend in ("numpy", "numba"):
        with numdl.use_backend(backend):
            model = MLP([10, 12, 4], norm=norm, dropout=0.2, dtype=np.float64, seed=0)
            loss = SoftmaxCrossEntropy()
            for _ in range(5):
                _, dlogits = loss(model.forward(x), y)
                model.backward(dlogits, overwrite_grad=True)
                model.params.data -= 0.1 * model.params.grad
            results.append((model.params.data.copy(), model.running_state()))
    np.testing.assert_allclose(results[0][0], results[1][0], rtol=1e-10, atol=1e-12)
    for key, value in results[0][1].items():
        np.testing.assert_allclose(results[1][1][key], value, rtol=1e-10)


def test_bad_input_is_refused_before_anything_changes() -> None:
    model = Sequential([BatchNorm(3)], dtype=np.float64)
    bn = model.layers[0]
    with pytest.raises(ValueError, match=r"at least 2 rows in training mode"):
        bn.forward(np.ones((1, 3)))
    with pytest.raises(ValueError, match=r"x must have shape \(B, 3\)"):
        bn.forward(np.ones((4, 2)))
    with pytest.raises(TypeError, match="x must have dtype float64"):
        bn.forward(np.ones((4, 3), np.float32))
    np.testing.assert_array_equal(bn.running_mean, 0)
    np.testing.assert_array_equal(bn.running_var, 1)
    with pytest.raises(ValueError, match=r"running_var must be >= 0"):
        bn.load_running_state({"running_mean": np.zeros(3), "running_var": -np.ones(3)})
    with pytest.raises(ValueError, match="momentum must be in"):
        BatchNorm(3, momentum=1.5)
    with pytest.raises(ValueError, match=r"p must be in \[0.0, 1.0\)"):
        Dropout(1.0)
    with pytest.raises(ValueError, match="norm must be None or one of"):
        MLP([3, 4, 2], norm="group")
    model.forward(np.arange(12.0).reshape(4, 3))
    with pytest.raises(ValueError, match=r"grad must have shape \(4, 3\)"):
        model.backward(np.ones((4, 2)))


def test_load_running_state_checks_every_layer_first() -> None:
    model = MLP([3, 4, 4, 2], norm="batch", dtype=np.float64)
    state = model.running_state()
    good = {k: v + 1 for k, v in state.items()}
    good["layer3.running_mean"] = np.array([np.nan, 0, 0, 0])
    with pytest.raises(ValueError, match="running_mean must be finite"):
        model.load_running_state(good)
    for key, value in model.running_state().items():  # the first layer was not written
        np.testing.assert_array_equal(value, state[key])
    with pytest.raises(ValueError, match=r"missing \['layer3.running_var'\]"):
        model.load_running_state({k: v for k, v in state.items() if k != "layer3.running_var"})
