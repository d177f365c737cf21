"""Networks: activations, losses, layers, the MLP, the flat parameter buffer, initialisers.

Gradients are checked in float64 against central differences (a local helper, so these
tests do not depend on numdl.numerics) with relative error ≤ 1e-6, measured as
‖analytic − numeric‖ / (‖analytic‖ + ‖numeric‖).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from numdl import activations as act
from numdl import init
from numdl.layers import LeakyReLU, Linear, ReLU, Sequential, Sigmoid, Tanh
from numdl.losses import SoftmaxCrossEntropy, binary_cross_entropy
from numdl.models import MLP
from numdl.ops import cross_entropy
from numdl.params import Parameters, ParamSpec

GRAD_RTOL = 1e-6
KINK = 1e-3  # inputs to ReLU-like units are kept at least this far from 0


# ------------------------------------------------------------------------------ helpers
def numeric_grad(f: Callable[[], float], x: np.ndarray, h: float = 1e-6) -> np.ndarray:
    """Central differences (f(x + h e_i) − f(x − h e_i)) / 2h, perturbing ``x`` in place."""
    g = np.zeros(x.shape)
    flat, gflat = x.reshape(-1), g.reshape(-1)
    assert np.shares_memory(flat, x)
    for i in range(flat.size):
        keep = flat[i]
        flat[i] = keep + h
        up = float(f())
        flat[i] = keep - h
        down = float(f())
        flat[i] = keep
        gflat[i] = (up - down) / (2 * h)
    return g


def rel_err(a: np.ndarray, b: np.ndarray) -> float:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    denom = np.linalg.norm(a) + np.linalg.norm(b)
    return float(np.linalg.norm(a - b) / denom) if denom > 0 else 0.0


def assert_grad(analytic: np.ndarray, numeric: np.ndarray, what: str) -> None:
    assert analytic.shape == numeric.shape, what
    assert np.linalg.norm(numeric) > 0, f"{what}: degenerate check (zero gradient)"
    err = rel_err(analytic, numeric)
    assert err <= GRAD_RTOL, f"{what}: relative error {err:.2e}"


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


# --------------------------------------------------------------------- flat parameters
def test_parameter_views_share_memory_and_layout() -> None:
    model = MLP((3, 4, 2), dtype=np.float64, seed=0)
    p = model.params
    names = list(p)
    assert names == ["layer0.W", "layer0.b", "layer1.W", "layer1.b"]
    for name in names:
        assert np.shares_memory(p[name], p.data)
        assert np.shares_memory(p.grad_of(name), p.grad)
        assert not np.shares_memory(p[name], p.grad)
    w0, w1 = p["layer0.W"], p["layer1.W"]
    assert p.n_decayed == w0.size + w1.size == 3 * 4 + 4 * 2
    assert p.size == p.data.size == p.grad.size == 12 + 8 + 4 + 2
    # weights first (declaration order), then the biases
    np.testing.assert_array_equal(p.data[: p.n_decayed], np.concatenate([w0.ravel(), w1.ravel()]))
    p.data[:] = np.arange(p.size)
    np.testing.assert_array_equal(p["layer0.W"].ravel(), np.arange(12))
    np.testing.assert_array_equal(p["layer1.W"].ravel(), np.arange(12, 20))
    np.testing.assert_array_equal(p["layer0.b"], np.arange(20, 24))
    np.testing.assert_array_equal(p["layer1.b"], np.arange(24, 26))
    # the layers hold the same views
    layer0 = model.layers[0]
    assert np.shares_memory(layer0.W, p.data)
    assert np.shares_memory(layer0.dW, p.grad)
    np.testing.assert_array_equal(layer0.W, p["layer0.W"])
    p.grad[:] = 7
    np.testing.assert_array_equal(layer0.db, 7)


def test_writing_the_flat_buffer_changes_the_model() -> None:
    model = MLP((3, 4, 2), dtype=np.float64, seed=0)
    x = np.ones((2, 3))
    before = model.forward(x, train=False).copy()
    model.params.data[model.params.n_decayed :] += 1.0  # biases
    assert not np.allclose(model.forward(x, train=False), before)


def test_parameters_layout_for_custom_specs() -> None:
    specs = [
        ParamSpec("gain", (3,), decay=False),
        ParamSpec("W", (2, 3), decay=True),
        ParamSpec("bias", (3,), decay=False),
        ParamSpec("V", (3, 1), decay=True),
    ]
    p = Parameters(specs, dtype=np.float64)
    assert list(p) == ["gain", "W", "bias", "V"]
    assert len(p) == 4
    assert p.n_decayed == 9
    assert specs[1].size == 6
    p.data[:] = np.arange(p.size)
    np.testing.assert_array_equal(p["W"].ravel(), np.arange(6))
    np.testing.assert_array_equal(p["V"].ravel(), np.arange(6, 9))
    np.testing.assert_array_equal(p["gain"], np.arange(9, 12))
    np.testing.assert_array_equal(p["bias"], np.arange(12, 15))
    assert p.new_buffer().shape == (15,)
    assert "9 decayed" in repr(p)
    assert [n for n, _ in p.items()] == ["gain", "W", "bias", "V"]


def test_parameters_validation() -> None:
    with pytest.raises(ValueError, match="unique"):
        Parameters([ParamSpec("a", (2,), False), ParamSpec("a", (3,), False)])
    with pytest.raises(TypeError, match=r"^dtype must be float32 or float64"):
        Parameters([ParamSpec("a", (2,), False)], dtype=np.float16)
    p = Parameters([ParamSpec("a", (2,), False)])
    with pytest.raises(KeyError, match="no parameter named 'b'"):
        p["b"]


def _state(model: MLP) -> dict[str, np.ndarray]:
    return {name: np.array(arr) for name, arr in model.params.items()}


def test_state_dict_round_trip() -> None:
    src = MLP((3, 5, 2), dtype=np.float64, seed=1)
    dst = MLP((3, 5, 2), dtype=np.float64, seed=2)
    assert not np.array_equal(src.params.data, dst.params.data)
    state = src.params.state_dict()
    assert set(state) == set(src.params)
    state["layer0.W"] += 1  # host copies, not views
    assert not np.array_equal(state["layer0.W"], src.params["layer0.W"])
    dst.params.load_state_dict(src.params.state_dict())
    np.testing.assert_array_equal(dst.params.data, src.params.data)
    x = np.random.default_rng(0).standard_normal((4, 3))
    np.testing.assert_array_equal(dst.forward(x, train=False), src.forward(x, train=False))
    # float64 state into a float32 model is converted
    f32 = MLP((3, 5, 2), dtype=np.float32, seed=3)
    f32.params.load_state_dict(src.params.state_dict())
    assert f32.params.data.dtype == np.float32
    np.testing.assert_allclose(f32.params.data, src.params.data, rtol=1e-7)


@pytest.mark.parametrize(
    ("edit", "exc", "pattern"),
    [
        (lambda s: s.pop("layer1.b"), ValueError, r"missing \['layer1.b'\]"),
        (lambda s: s.update(extra=np.zeros(2)), ValueError, r"unexpected \['extra'\]"),
        (lambda s: s.update({"layer1.b": np.zeros(3)}), ValueError, r"state\['layer1.b'\]"),
        (lambda s: s.update({"layer1.W": np.zeros((2, 5))}), ValueError, r"must have shape"),
        (lambda s: s.update({"layer1.b": np.zeros(2, int)}), TypeError, r"float array"),
    ],
    ids=["missing", "extra", "bias-shape", "weight-transposed", "int"],
)
def test_load_state_dict_rejects_and_writes_nothing(
    edit: Callable[[dict], Any], exc: type[Exception], pattern: str
) -> None:
    model = MLP((3, 5, 2), dtype=np.float64, seed=1)
    before = model.params.data.copy()
    state = {name: np.full(arr.shape, 9.0) for name, arr in model.params.items()}
    edit(state)
    with pytest.raises(exc, match=pattern):
        model.params.load_state_dict(state)
    np.testing.assert_array_equal(model.params.data, before)


# --------------------------------------------------------------------------- initialisers
INITS = ["glorot_uniform", "glorot_normal", "he_uniform", "he_normal"]


def _target_var(name: str, fan_in: int, fan_out: int) -> float:
    return 2.0 / (fan_in + fan_out) if name.startswith("glorot") else 2.0 / fan_in


@pytest.mark.parametrize("name", INITS)
def test_initialiser_seeded_and_dtype(name: str) -> None:
    f = init.INITIALIZERS[name]
    a = f((20, 30), 5)
    np.testing.assert_array_equal(a, f((20, 30), 5))
    np.testing.assert_array_equal(a, f((20, 30), np.random.default_rng(5)).astype(np.float32))
    assert not np.array_equal(a, f((20, 30), 6))
    assert a.shape == (20, 30)
    assert a.dtype == np.float32
    assert f((2, 3), 0, dtype=np.float64).dtype == np.float64


@pytest.mark.parametrize("name", INITS)
@pytest.mark.parametrize(("fan_in", "fan_out"), [(400, 300), (784, 128)])
def test_initialiser_variance(name: str, fan_in: int, fan_out: int) -> None:
    """Sample variance within 4% of the target: the estimator's relative std is
    √((κ−1)/n) ≤ √(2/50_000) ≈ 0.6% here, so 4% is > 6σ."""
    w = init.INITIALIZERS[name]((fan_in, fan_out), 0, dtype=np.float64)
    target = _target_var(name, fan_in, fan_out)
    assert abs(w.var() / target - 1) < 0.04
    assert abs(w.mean()) < 5 * np.sqrt(target / w.size)
    if name.endswith("uniform"):
        bound = np.sqrt(3 * target)  # √(6/(fan_in+fan_out)) or √(6/fan_in)
        assert np.abs(w).max() <= bound
        assert np.abs(w).max() > 0.99 * bound  # and it is the bound actually used
    else:
        assert np.abs(w).max() > 3 * np.sqrt(target)  # normal tails reach beyond the bound


def test_glorot_uniform_bound_explicit() -> None:
    w = init.glorot_uniform((10, 50), 0, dtype=np.float64)
    assert np.abs(w).max() <= np.sqrt(6 / 60)
    w = init.he_uniform((10, 50), 0, dtype=np.float64)
    assert np.abs(w).max() <= np.sqrt(6 / 10)


def test_initialiser_validation() -> None:
    with pytest.raises(ValueError, match="fan_in, fan_out"):
        init.glorot_uniform((3, 4, 5))
    with pytest.raises(ValueError, match=r"shape\[0\] must be >= 1"):
        init.he_normal((0, 4))
    with pytest.raises(TypeError, match="rng must be"):
        init.glorot_normal((3, 4), rng="seed")
    np.testing.assert_array_equal(init.zeros((2, 3)), np.zeros((2, 3)))


# ------------------------------------------------------------------------------ the MLP
def test_mlp_structure_and_config() -> None:
    model = MLP([784, 512, 10], seed=0)
    assert model.config == {
        "sizes": [784, 512, 10],
        "activation": "relu",
        "init": "glorot_uniform",
        "dtype": "float32",
    }
    assert [type(layer) for layer in model.layers] == [Linear, Linear]
    assert [layer.relu for layer in model.layers] == [True, False]
    assert model.dtype == np.float32
    assert model.params.size == 784 * 512 + 512 + 512 * 10 + 10
    np.testing.assert_array_equal(model.params["layer0.b"], 0)  # biases start at zero
    assert "784-512-10" in repr(model)
    tanh = MLP([4, 6, 5, 3], activation="tanh", init="he_normal", dtype=np.float64)
    assert [type(layer) for layer in tanh.layers] == [Linear, Tanh, Linear, Tanh, Linear]
    assert not any(layer.relu for layer in tanh.layers if isinstance(layer, Linear))
    assert tanh.config["dtype"] == "float64"
    assert list(tanh.params)[-2:] == ["layer4.W", "layer4.b"]


def test_mlp_seeded() -> None:
    a = MLP([5, 4, 3], seed=7).params.data
    np.testing.assert_array_equal(a, MLP([5, 4, 3], seed=7).params.data)
    assert not np.array_equal(a, MLP([5, 4, 3], seed=8).params.data)


@pytest.mark.parametrize(
    ("kwargs", "exc", "pattern"),
    [
        ({"sizes": [5]}, ValueError, "at least an input and an output"),
        ({"sizes": [5, 0, 3]}, ValueError, ">= 1"),
        ({"sizes": [5, 3], "activation": "gelu"}, ValueError, "activation must be one of"),
        ({"sizes": [5, 3], "init": "orthogonal"}, ValueError, "init must be one of"),
        ({"sizes": [5, 3], "dtype": np.int32}, TypeError, "dtype"),
    ],
)
def test_mlp_rejects_bad_config(kwargs: dict, exc: type[Exception], pattern: str) -> None:
    with pytest.raises(exc, match=pattern):
        MLP(**kwargs)


def test_layer_guards() -> None:
    with pytest.raises(TypeError, match="non-empty sequence of Layer"):
        Sequential([])
    with pytest.raises(RuntimeError, match="before a training-mode forward"):
        Sequential([Linear(2, 2)]).layers[0].backward(np.ones((1, 2)))
    model = MLP([3, 2], dtype=np.float64)
    with pytest.raises(ValueError, match=r"^x must be 2-D"):
        model.forward(np.ones(3))
    with pytest.raises(TypeError, match=r"^x must have dtype"):
        model.forward(np.ones((2, 3), np.int64))


def test_predict_shapes_and_batching() -> None:
    rng = np.random.default_rng(51)
    model = MLP([6, 8, 4], dtype=np.float64, seed=0)
    x = rng.standard_normal((23, 6))
    logits = model.predict_logits(x)
    proba = model.predict_proba(x)
    pred = model.predict(x)
    assert logits.shape == proba.shape == (23, 4)
    assert pred.shape == (23,)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-14)
    np.testing.assert_array_equal(pred, logits.argmax(axis=1))
    np.testing.assert_array_equal(proba.argmax(axis=1), pred)
    for batch_size in (1, 5, 22, 23, 100):
        np.testing.assert_allclose(
            model.predict_logits(x, batch_size=batch_size), logits, rtol=1e-13, atol=1e-15
        )
        np.testing.assert_array_equal(model.predict(x, batch_size=batch_size), pred)
    # evaluation does not disturb the training caches
    out_train = model.forward(x[:3])
    keep = out_train.copy()
    model.predict(x, batch_size=4)
    np.testing.assert_array_equal(out_train, keep)
    with pytest.raises(ValueError, match="batch_size must be >= 1"):
        model.predict(x, batch_size=0)


def test_float32_model_keeps_dtype() -> None:
    model = MLP([6, 8, 4], activation="sigmoid", seed=0)
    x = np.random.default_rng(52).standard_normal((5, 6)).astype(np.float32)
    logits = model.forward(x)
    assert logits.dtype == np.float32
    _, d = cross_entropy(logits, np.array([0, 1, 2, 3, 0]), return_grad=True)
    model.backward(d)
    assert model.params.grad.dtype == np.float32
    assert np.all(np.isfinite(model.params.grad))
    assert model.predict_proba(x).dtype == np.float32


def test_training_forward_reuses_its_output_buffer() -> None:
    model = MLP([3, 4, 2], dtype=np.float64, seed=0)
    x = np.ones((5, 3))
    a = model.forward(x)
    b = model.forward(2 * x)
    assert a is b  # documented: copy a result to keep it
    c = model.forward(x, train=False)
    assert c is not b


def test_model_with_array_like_input_is_converted_or_rejected_cleanly() -> None:
    model = MLP([3, 2], dtype=np.float64)
    for call in (model.forward, model.predict):
        message = "x"
        try:
            out = call([[1.0, 2.0, 3.0]])
            assert np.shape(out)[0] == 1
        except (TypeError, ValueError) as exc:
            message = str(exc)
        assert "x" in message


@pytest.mark.parametrize("name", INITS)
def test_initialiser_rejects_non_float_dtype(name: str) -> None:
    with pytest.raises(TypeError, match="dtype"):
        init.INITIALIZERS[name]((4, 4), 0, dtype=np.int64)
