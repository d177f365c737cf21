"""Tests for numdl.nn.models: Sequential and the MLP (structure, seeding, guards, dtypes)."""

from __future__ import annotations

import numpy as np
import pytest

from numdl.core.ops import cross_entropy
from numdl.nn import Linear, Sequential, Tanh
from numdl.nn.models import MLP

GRAD_RTOL = 1e-6
KINK = 1e-3  # inputs to ReLU-like units are kept at least this far from 0


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
