"""The CNN model (issue 13): structure and config, shapes without allocation, gradients
against central differences (float64), PyTorch equality, dropout streams and bad arguments."""

from __future__ import annotations

import math

import numpy as np
import pytest

import numdl
from numdl.nn import CNN, MLP, Conv2d, Dropout, Flatten, Linear, MaxPool2d, Unflatten
from numdl.nn.cnn import cnn_shapes
from numdl.nn.losses import SoftmaxCrossEntropy
from numdl.nn.models import Classifier

GRAD_RTOL = 1e-6


def _tiny(dtype: type = np.float64, **kwargs: object) -> CNN:
    """1 x 6 x 6 images, two blocks (6 -> 3 -> 1), a 4-unit head, 3 classes."""
    args: dict[str, object] = {"in_shape": (1, 6, 6), "channels": (2, 3), "kernel_size": 3}
    args.update(hidden=4, n_classes=3, dtype=dtype, seed=1)
    args.update(kwargs)
    return CNN(**args)  # type: ignore[arg-type]


# ----------------------------------------------------------------------- structure
def test_default_structure_config_and_shapes() -> None:
    model = CNN()
    assert isinstance(model, Classifier)
    assert isinstance(MLP([4, 2]), Classifier)
    assert [type(layer) for layer in model.layers] == [
        Unflatten,
        Conv2d,
        MaxPool2d,
        Conv2d,
        MaxPool2d,
        Flatten,
        Linear,
        Linear,
    ]
    assert model.config == {
        "kind": "cnn",
        "in_shape": [1, 28, 28],
        "channels": [16, 32],
        "kernel_size": 5,
        "hidden": [128],
        "n_classes": 10,
        "dropout": 0.0,
        "init": "he_uniform",
        "dtype": "float32",
    }
    assert model.n_features == 784
    shapes = {name: tuple(model.params[name].shape) for name in model.params}
    assert shapes == cnn_shapes((1, 28, 28), (16, 32), 5, 128, 10)
    assert shapes["layer1.W"] == (16, 1, 5, 5)
    assert shapes["layer3.W"] == (32, 16, 5, 5)
    assert shapes["layer6.W"] == (32 * 7 * 7, 128)  # 28 -> 14 -> 7 ("same" conv, 2x2 pool)
    assert shapes["layer7.W"] == (128, 10)
    assert model.running_state() == {}
    assert "CNN(in_shape=(1, 28, 28), channels=(16, 32)" in repr(model)


def test_dropout_layers_are_numbered_like_cnn_shapes() -> None:
    model = _tiny(hidden=(5, 4), dropout=0.25)
    kinds = [type(layer) for layer in model.layers]
    assert kinds[-5:] == [Linear, Dropout, Linear, Dropout, Linear]
    shapes = {name: tuple(model.params[name].shape) for name in model.params}
    assert shapes == cnn_shapes((1, 6, 6), (2, 3), 3, (5, 4), 3, dropout=0.25)


def test_even_kernels_and_odd_images_follow_the_output_size_rule() -> None:
    # "same" padding k // 2 with an even k grows the map by one: 7 -> 8 -> pool 4
    model = CNN((2, 7, 5), channels=(3,), kernel_size=2, hidden=4, n_classes=2, seed=0)
    assert tuple(model.params["layer4.W"].shape) == (3 * 4 * 3, 4)  # 7+1 -> 4, 5+1 -> 3
    x = np.random.default_rng(0).standard_normal((3, 70)).astype(np.float32)
    assert model.forward(x).shape == (3, 2)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_forward_takes_flat_rows_and_predicts(dtype: type) -> None:
    model = _tiny(dtype)
    x = np.random.default_rng(0).standard_normal((5, 36)).astype(dtype)
    logits = model.forward(x)
    assert logits.shape == (5, 3)
    assert logits.dtype == dtype
    np.testing.assert_allclose(model.forward(x, train=False), logits, rtol=1e-6)
    assert model.predict(x).shape == (5,)
    np.testing.assert_allclose(model.predict_proba(x).sum(axis=1), 1.0, rtol=1e-6)


def test_seed_decides_the_initialisation() -> None:
    a, b, c = _tiny(seed=3), _tiny(seed=3), _tiny(seed=4)
    np.testing.assert_array_equal(a.params.data, b.params.data)
    assert not np.array_equal(a.params.data, c.params.data)
    np.testing.assert_array_equal(a.params["layer1.b"], 0)  # biases start at zero


def test_dropout_masks_follow_the_seed_and_the_generator() -> None:
    x = np.random.default_rng(0).standard_normal((8, 36))
    a, b = _tiny(dropout=0.5, seed=2), _tiny(dropout=0.5, seed=2)
    np.testing.assert_array_equal(a.forward(x), b.forward(x))
    a.set_dropout_generator(np.random.default_rng(7))
    b.set_dropout_generator(np.random.default_rng(8))
    assert not np.array_equal(a.forward(x).copy(), b.forward(x))
    a.load_running_state({})  # no BatchNorm: the state is empty, and loads as such
    with pytest.raises(ValueError, match="unexpected"):
        a.load_running_state({"layer1.running_mean": np.zeros(2)})


# ----------------------------------------------------------------------- gradients
def _numeric_grad(f, x: np.ndarray, h: float = 1e-6) -> np.ndarray:
    """Central differences (f(x + h e_i) − f(x − h e_i)) / 2h, perturbing ``x`` in place."""
    g = np.zeros(x.shape)
    flat = x.reshape(-1)
    for i in range(flat.size):
        keep = flat[i]
        flat[i] = keep + h
        up = f()
        flat[i] = keep - h
        down = f()
        flat[i] = keep
        g.reshape(-1)[i] = (up - down) / (2 * h)
    return g


def _rel_err(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(a - b) / (np.linalg.norm(a) + np.linalg.norm(b)))


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_parameter_and_input_gradients_match_central_differences(backend: str) -> None:
    if backend not in numdl.available_backends():
        pytest.skip(f"backend {backend} is not available")
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 36))
    y = np.array([0, 1, 2, 1])
    loss_fn = SoftmaxCrossEntropy()
    with numdl.use_backend(backend):
        model = _tiny()

        def loss() -> float:
            return float(loss_fn(model.forward(x, train=False), y)[0])

        _, dlogits = loss_fn(model.forward(x), y)
        dx = model.backward(dlogits.copy(), compute_dx=True).copy()
        analytic = model.params.grad.copy()
        numeric = _numeric_grad(loss, model.params.data)
        numeric_dx = _numeric_grad(loss, x)
    for name in model.params:  # a check of every parameter: none has a zero gradient
        view = model.params.grad_of(name)
        assert np.linalg.norm(view) > 0, name
    assert _rel_err(analytic, numeric) <= GRAD_RTOL
    assert _rel_err(dx, numeric_dx) <= GRAD_RTOL


# ----------------------------------------------------------------------- PyTorch
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_matches_pytorch_with_the_same_weights(dtype: type) -> None:
    torch = pytest.importorskip("torch")
    nn = torch.nn
    model = CNN((1, 12, 12), channels=(3, 4), kernel_size=3, hidden=6, n_classes=5, dtype=dtype)
    tdt = torch.float32 if dtype == np.float32 else torch.float64
    p = model.params
    convs = [f"layer{i}." for i, lay in enumerate(model.layers) if isinstance(lay, Conv2d)]
    linears = [f"layer{i}." for i, lay in enumerate(model.layers) if isinstance(lay, Linear)]
    assert convs == ["layer1.", "layer3."]
    assert linears == ["layer6.", "layer7."]
    tconv = [nn.Conv2d(*p[c + "W"].shape[1::-1], 3, padding=1, dtype=tdt) for c in convs]
    tlin = [nn.Linear(*p[lin + "W"].shape, dtype=tdt) for lin in linears]
    with torch.no_grad():
        for ours, theirs in zip(convs, tconv, strict=True):
            theirs.weight.copy_(torch.from_numpy(np.array(p[ours + "W"])))
            theirs.bias.copy_(torch.from_numpy(np.array(p[ours + "b"])))
        for ours, theirs in zip(linears, tlin, strict=True):
            theirs.weight.copy_(torch.from_numpy(np.ascontiguousarray(np.array(p[ours + "W"]).T)))
            theirs.bias.copy_(torch.from_numpy(np.array(p[ours + "b"])))
    net = nn.Sequential(
        nn.Unflatten(1, (1, 12, 12)),
        tconv[0],
        nn.ReLU(),
        nn.MaxPool2d(2),
        tconv[1],
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        tlin[0],
        nn.ReLU(),
        tlin[1],
    )
    rng = np.random.default_rng(5)
    x = rng.standard_normal((6, 144)).astype(dtype)
    y = rng.integers(0, 5, 6)
    loss, dlogits = SoftmaxCrossEntropy()(model.forward(x), y)
    model.backward(dlogits, overwrite_grad=True)
    tloss = nn.functional.cross_entropy(net(torch.from_numpy(x)), torch.from_numpy(y))
    tloss.backward()
    rtol = 1e-4 if dtype == np.float32 else 1e-10
    np.testing.assert_allclose(float(loss), tloss.item(), rtol=rtol)
    pairs = [(c, t.weight, t.bias, False) for c, t in zip(convs, tconv, strict=True)]
    pairs += [(lin, t.weight, t.bias, True) for lin, t in zip(linears, tlin, strict=True)]
    for ours, weight, bias, transposed in pairs:
        want = weight.grad.numpy().T if transposed else weight.grad.numpy()
        scale = float(np.abs(want).max())
        assert scale > 0, ours
        close = {"rtol": rtol, "atol": rtol * scale}
        np.testing.assert_allclose(p.grad_of(ours + "W"), want, **close, err_msg=ours)
        np.testing.assert_allclose(p.grad_of(ours + "b"), bias.grad.numpy(), **close)


# ----------------------------------------------------------------------- bad arguments
@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"in_shape": (28, 28)}, ValueError, "in_shape must have 3 entries"),
        ({"in_shape": 784}, TypeError, "in_shape must be a sequence"),
        ({"in_shape": (1, 3, 3)}, ValueError, "too small"),
        ({"channels": ()}, ValueError, "channels must not be empty"),
        ({"channels": (16, 0)}, ValueError, r"channels\[1\]"),
        ({"kernel_size": 0}, ValueError, "kernel_size"),
        ({"kernel_size": 2.5}, TypeError, "kernel_size"),
        ({"hidden": ()}, ValueError, "hidden must not be empty"),
        ({"n_classes": 0}, ValueError, "n_classes"),
        ({"dropout": 1.0}, ValueError, "dropout"),
        ({"init": "orthogonal"}, ValueError, "init must be one of"),
        ({"init": 3}, TypeError, "init must be a string"),
    ],
)
def test_bad_arguments_name_what_is_wrong(kwargs: dict, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        CNN(**kwargs)
    shape_kwargs = {k: v for k, v in kwargs.items() if k != "init"}
    if shape_kwargs:  # the allocation-free shapes refuse exactly the same
        args = {"in_shape": (1, 28, 28), "channels": (16, 32), "kernel_size": 5, "hidden": 128}
        with pytest.raises(error, match=match):
            cnn_shapes(**{**args, "n_classes": 10, **shape_kwargs})


def test_too_small_images_are_refused_with_the_sizes() -> None:
    with pytest.raises(ValueError, match=r"block 1 gets 1 x 1 features"):
        CNN((1, 3, 3), channels=(2, 2), kernel_size=3)
    assert math.prod(CNN((1, 4, 4), channels=(2, 2), kernel_size=3).config["in_shape"]) == 16
