"""Gradient checks of every layer, loss and the MLP in float64 against central differences.

The helpers in _gradcheck.py compute them (so these tests do not depend on numdl.math.numerics),
with relative error ≤ 1e-6, measured as ‖analytic − numeric‖ / (‖analytic‖ + ‖numeric‖).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from _gradcheck import assert_grad, numeric_grad

from numdl.core.ops import cross_entropy
from numdl.nn import LeakyReLU, Linear, ReLU, Sequential, Sigmoid, Tanh
from numdl.nn import activations as act
from numdl.nn.losses import SoftmaxCrossEntropy, binary_cross_entropy
from numdl.nn.models import MLP
from numdl.nn.regularization import add_l1_subgradient, l1_penalty

KINK = 1e-3  # inputs to ReLU-like units are kept at least this far from 0


# ------------------------------------------------------------------------------ helpers
def away_from_kink(x: np.ndarray) -> np.ndarray:
    return np.where(x >= 0, np.maximum(x, KINK), np.minimum(x, -KINK))


def _linear_model(relu: bool, seed: int) -> tuple[Sequential, np.ndarray]:
    """A one-layer float64 model with random bias and an input keeping |Z| ≥ KINK."""
    rng = np.random.default_rng(seed)
    model = Sequential([Linear(4, 3, relu=relu)], dtype=np.float64, seed=seed)
    model.params["layer0.b"][...] = rng.standard_normal(3)
    for _ in range(100):
        x = rng.standard_normal((5, 4))
        z = x @ model.params["layer0.W"] + model.params["layer0.b"]
        if np.abs(z).min() >= KINK and (z > 0).any() and (z < 0).any():
            return model, x
    raise AssertionError("no input away from the ReLU kink found")  # pragma: no cover


# -------------------------------------------------------------------- gradient checks
@pytest.mark.parametrize("relu", [False, True])
def test_linear_gradients(relu: bool) -> None:
    model, x = _linear_model(relu, seed=3)
    layer = model.layers[0]
    g_out = np.random.default_rng(4).standard_normal((5, 3))
    out = model.forward(x)
    z = x @ layer.W + layer.b
    np.testing.assert_allclose(out, np.maximum(z, 0) if relu else z, rtol=1e-14, atol=1e-15)
    dx = model.backward(g_out.copy(), compute_dx=True).copy()
    dw = model.params.grad_of("layer0.W").copy()
    db = model.params.grad_of("layer0.b").copy()

    def loss() -> float:
        return float(np.sum(g_out * model.forward(x, train=False)))

    assert_grad(dx, numeric_grad(loss, x), "dX")
    assert_grad(dw, numeric_grad(loss, model.params["layer0.W"]), "dW")
    assert_grad(db, numeric_grad(loss, model.params["layer0.b"]), "db")
    if relu:  # inactive units pass no gradient
        dead = z < 0
        np.testing.assert_array_equal(db, np.sum(np.where(dead, 0, g_out), axis=0))


def test_linear_backward_overwrites_not_accumulates() -> None:
    model, x = _linear_model(False, seed=5)
    g_out = np.ones((5, 3))
    model.forward(x)
    model.backward(g_out.copy())
    first = model.params.grad.copy()
    model.forward(x)
    model.backward(g_out.copy())
    np.testing.assert_array_equal(model.params.grad, first)


@pytest.mark.parametrize(
    ("layer", "smooth"),
    [(ReLU(), False), (LeakyReLU(0.1), False), (Sigmoid(), True), (Tanh(), True)],
    ids=["relu", "leaky_relu", "sigmoid", "tanh"],
)
def test_activation_layer_gradients(layer: Any, smooth: bool) -> None:
    rng = np.random.default_rng(11)
    x = rng.standard_normal((4, 6)) * 3
    if not smooth:
        x = away_from_kink(x)
    g_out = rng.standard_normal((4, 6))
    y = layer.forward(x)
    assert y.shape == x.shape
    assert y.dtype == np.float64
    dx = layer.backward(g_out)

    def loss() -> float:
        return float(np.sum(g_out * layer.forward(x, train=False)))

    assert_grad(dx, numeric_grad(loss, x), type(layer).__name__)


def test_activation_values() -> None:
    x = np.array([-2.0, -0.5, 0.0, 0.5, 2.0])
    y, mask = act.relu(x)
    np.testing.assert_array_equal(y, [0, 0, 0, 0.5, 2])
    np.testing.assert_array_equal(mask, [False, False, False, True, True])
    np.testing.assert_array_equal(act.relu_backward(np.ones(5), mask), [0, 0, 0, 1, 1])
    np.testing.assert_array_equal(act.leaky_relu(x, 0.1), [-0.2, -0.05, 0, 0.5, 2])
    np.testing.assert_array_equal(act.leaky_relu_backward(np.ones(5), x, 0.1), [0.1] * 3 + [1] * 2)
    np.testing.assert_allclose(act.tanh(x), np.tanh(x), rtol=0)
    big = np.array([-1e4, 1e4], dtype=np.float32)
    s = act.sigmoid(big)
    np.testing.assert_array_equal(s, [0, 1])
    assert s.dtype == np.float32
    np.testing.assert_array_equal(act.tanh(big), [-1, 1])


def test_activation_validation() -> None:
    with pytest.raises(TypeError, match=r"^x must have dtype"):
        act.relu(np.arange(3))
    with pytest.raises(TypeError, match=r"^mask must be a boolean"):
        act.relu_backward(np.ones(3), np.ones(3))
    with pytest.raises(ValueError, match=r"^grad must have shape"):
        act.relu_backward(np.ones(4), np.ones(3, bool))
    with pytest.raises(ValueError, match=r"^slope must be >= 0"):
        act.leaky_relu(np.ones(3), -0.1)
    with pytest.raises(TypeError, match=r"^grad must have the dtype of y"):
        act.sigmoid_backward(np.ones(3, np.float32), np.ones(3))
    with pytest.raises(ValueError, match=r"^grad must have shape"):
        act.tanh_backward(np.ones(2), np.ones(3))


@pytest.mark.parametrize("kind", ["labels", "probabilities", "unnormalised"])
def test_softmax_cross_entropy_gradient(kind: str) -> None:
    rng = np.random.default_rng(21)
    logits = rng.standard_normal((5, 4)) * 2
    if kind == "labels":
        target: Any = rng.integers(0, 4, size=5)
    else:
        target = rng.uniform(0, 1, size=(5, 4))
        target[0, 1] = 0.0
        if kind == "probabilities":
            target /= target.sum(axis=1, keepdims=True)
    loss, grad = cross_entropy(logits, target, return_grad=True)
    grad = grad.copy()
    assert loss.dtype == np.float64
    assert_grad(grad, numeric_grad(lambda: cross_entropy(logits, target), logits), kind)
    # value: eq. 18 with one-hot (or soft) targets
    t = np.eye(4)[target] if kind == "labels" else target
    log_p = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    np.testing.assert_allclose(loss, -np.sum(t * log_p) / 5, rtol=1e-13)
    if kind != "unnormalised":  # eq. 19: (softmax − t)/B
        np.testing.assert_allclose(grad, (np.exp(log_p) - t) / 5, rtol=1e-12, atol=1e-16)


def test_one_hot_targets_equal_labels() -> None:
    rng = np.random.default_rng(22)
    logits = rng.standard_normal((6, 3))
    labels = rng.integers(0, 3, size=6)
    a = cross_entropy(logits, labels, return_grad=True)
    b = cross_entropy(logits, np.eye(3)[labels], return_grad=True)
    np.testing.assert_allclose(a[0], b[0], rtol=1e-14)
    np.testing.assert_allclose(a[1], b[1], rtol=1e-14, atol=1e-17)


def test_softmax_cross_entropy_object_reuses_its_buffer() -> None:
    rng = np.random.default_rng(23)
    loss_fn = SoftmaxCrossEntropy()
    logits, labels = rng.standard_normal((4, 3)), np.array([0, 1, 2, 0])
    loss, grad = loss_fn(logits, labels)
    want_loss, want_grad = cross_entropy(logits, labels, return_grad=True)
    assert loss == want_loss
    np.testing.assert_array_equal(grad, want_grad)
    _, grad2 = loss_fn(logits * 2, labels)
    assert grad2 is grad  # same shape and dtype: no new allocation
    _, grad3 = loss_fn(logits[:2].astype(np.float32), labels[:2])
    assert grad3.shape == (2, 3)
    assert grad3.dtype == np.float32


def test_binary_cross_entropy_gradient_and_value() -> None:
    rng = np.random.default_rng(31)
    z = rng.standard_normal((4, 3)) * 3
    t = rng.uniform(0, 1, size=(4, 3))
    t[0, 0], t[1, 1] = 0.0, 1.0
    loss, grad = binary_cross_entropy(z, t, return_grad=True)
    assert_grad(grad, numeric_grad(lambda: binary_cross_entropy(z, t), z), "bce")
    s = 1 / (1 + np.exp(-z))
    np.testing.assert_allclose(loss, np.mean(-t * np.log(s) - (1 - t) * np.log(1 - s)), rtol=1e-13)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_binary_cross_entropy_extremes(dtype: Any) -> None:
    z = np.array([1e4, -1e4, 1e4, -1e4], dtype=dtype)
    t = np.array([1, 0, 0, 1], dtype=dtype)
    loss, grad = binary_cross_entropy(z, t, return_grad=True)
    assert loss.dtype == dtype
    np.testing.assert_allclose(loss, 2e4 / 4, rtol=1e-6)
    np.testing.assert_allclose(grad, np.array([0, 0, 1, -1]) / 4, atol=1e-7)


def test_binary_cross_entropy_validation() -> None:
    z = np.zeros(3)
    with pytest.raises(ValueError, match="targets must lie in"):
        binary_cross_entropy(z, np.array([0, 0.5, 1.5]))
    with pytest.raises(TypeError, match=r"^targets must have the dtype of logits"):
        binary_cross_entropy(z, np.zeros(3, np.float32))
    with pytest.raises(ValueError, match=r"^targets must have shape"):
        binary_cross_entropy(z, np.zeros(4))
    with pytest.raises(ValueError, match="empty"):
        binary_cross_entropy(np.zeros(0), np.zeros(0))


def _pre_activations(model: Sequential, x: np.ndarray) -> list[np.ndarray]:
    """The affine outputs Z of every Linear layer of ``model`` on ``x`` (evaluation mode)."""
    zs, h = [], x
    for layer in model.layers:
        if isinstance(layer, Linear):
            z = h @ layer.W + layer.b
            zs.append(z)
            h = np.maximum(z, 0) if layer.relu else z
        else:
            h = layer.forward(h, train=False)
    return zs


@pytest.mark.parametrize(
    ("sizes", "activation"),
    [
        ((5, 7, 3), "relu"),
        ((5, 7, 3), "leaky_relu"),
        ((5, 7, 3), "sigmoid"),
        ((5, 7, 3), "tanh"),
        ((4, 6, 5, 3), "relu"),
        ((4, 6, 5, 3), "tanh"),
    ],
)
def test_mlp_gradient_all_parameters(sizes: tuple[int, ...], activation: str) -> None:
    rng = np.random.default_rng(41)
    model = MLP(sizes, activation=activation, dtype=np.float64, seed=42)
    n_b = model.params.size - model.params.n_decayed
    model.params.data[model.params.n_decayed :] = 0.3 * rng.standard_normal(n_b)
    labels = rng.integers(0, sizes[-1], size=6)
    for _ in range(100):
        x = rng.standard_normal((6, sizes[0]))
        if all(np.abs(z).min() >= KINK for z in _pre_activations(model, x)[:-1]):
            break
    else:  # pragma: no cover
        raise AssertionError("no input away from the kinks found")

    logits = model.forward(x)
    _, dlogits = cross_entropy(logits, labels, return_grad=True)
    model.backward(dlogits)
    analytic = model.params.grad.copy()

    def loss() -> float:
        return float(cross_entropy(model.forward(x, train=False), labels))

    numeric = numeric_grad(loss, model.params.data)
    assert_grad(analytic, numeric, f"MLP{sizes} {activation}")
    # and every parameter receives a gradient (none silently left at zero)
    for name in model.params:
        assert np.any(model.params.grad_of(name) != 0), name


# ---------------------------------------------------------------------- L1 penalty
def test_l1_penalty_gradient_on_a_flat_buffer() -> None:
    """λ sign(w) (eq. 7.20) added by add_l1_subgradient equals ∂(λ‖w‖₁)/∂θ: weights only,
    the biases get nothing (entries kept away from the kink at 0)."""
    model = MLP([5, 4, 3], seed=3, dtype=np.float64)
    model.params.data[:] = away_from_kink(model.params.data)
    model.params.grad[:] = 0.0
    add_l1_subgradient(model.params, 0.3)
    numeric = numeric_grad(lambda: l1_penalty(model.params, 0.3), model.params.data)
    assert_grad(model.params.grad.copy(), numeric, "L1 penalty")
    assert not model.params.grad[model.params.n_decayed :].any()  # the biases: not penalised
