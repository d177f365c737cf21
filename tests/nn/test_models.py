"""Tests for numdl.nn.models: Sequential and the MLP (structure, seeding, guards, dtypes,
argument checks, transactional forward and backward)."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from numdl.core.ops import cross_entropy
from numdl.nn import LeakyReLU, Linear, Sequential, Tanh
from numdl.nn.models import ACTIVATIONS, MLP

GRAD_RTOL = 1e-6
KINK = 1e-3  # inputs to ReLU-like units are kept at least this far from 0


# ------------------------------------------------------------------------------ the MLP
def test_mlp_structure_and_config() -> None:
    model = MLP([784, 512, 10], seed=0)
    assert model.config == {
        "kind": "mlp",
        "sizes": [784, 512, 10],
        "activation": "relu",
        "init": "glorot_uniform",
        "norm": None,
        "dropout": 0.0,
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
    with pytest.raises(ValueError, match=r"^layers must not be empty"):
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


# ------------------------------------------------------ construction argument checks
@pytest.mark.parametrize(
    ("make", "exc", "pattern"),
    [
        (lambda: MLP(None), TypeError, r"^sizes must be a sequence of layer widths .* NoneType"),
        (lambda: MLP(784), TypeError, r"^sizes must be a sequence"),
        (lambda: MLP("784"), TypeError, r"^sizes must be a sequence"),
        (lambda: MLP([5, 2.0]), TypeError, r"^sizes\[1\] must be an integer"),
        (lambda: MLP([5, True]), TypeError, r"^sizes\[1\] must be an integer"),
        (lambda: MLP([5, 3, -1]), ValueError, r"^sizes\[2\] must be >= 1"),
        (lambda: MLP([5, 3], activation=None), TypeError, r"^activation must be a string"),
        (lambda: MLP([5, 3], activation=["relu"]), TypeError, r"^activation must be a string"),
        (lambda: MLP([5, 3], init=["glorot_uniform"]), TypeError, r"^init must be a string"),
        (lambda: MLP([5, 3], dtype=None), TypeError, r"^dtype must be float32 or float64"),
        (lambda: MLP([5, 3], dtype="float16"), TypeError, r"^dtype must be float32 or float64"),
        (lambda: MLP([5, 3], dtype="nonsense"), TypeError, r"^dtype must be float32 or float64"),
        (lambda: MLP([5, 3], seed=-1), ValueError, r"^seed must be >= 0"),
        (lambda: MLP([5, 3], seed=1.5), TypeError, r"^seed must be a numpy.random.Generator"),
        (lambda: Linear(3, 2, relu="False"), TypeError, r"^relu must be True or False"),
        (lambda: Linear(3, 2, relu=1), TypeError, r"^relu must be True or False"),
        (lambda: Linear(True, 2), TypeError, r"^in_features must be an integer"),
        (lambda: Linear(3, 0), ValueError, r"^out_features must be >= 1"),
        (lambda: Linear(3, 2, init="orthogonal"), ValueError, r"^init must be one of"),
        (lambda: LeakyReLU(-0.1), ValueError, r"^slope must be >= 0"),
        (lambda: LeakyReLU("0.1"), TypeError, r"^slope must be a real number"),
        (lambda: Sequential(None), TypeError, r"^layers must be a sequence of Layer objects"),
        (lambda: Sequential([Linear(2, 2), "relu"]), TypeError, r"^layers\[1\] must be a Layer"),
        (
            lambda: Sequential([Linear(4, 3), Linear(5, 2)]),
            ValueError,
            r"^layers\[1\] \(Linear\(5, 2\)\) takes 5 features, but layers\[0\] "
            r"\(Linear\(4, 3\)\) outputs 3",
        ),
        (
            lambda: Sequential([Linear(4, 3), Tanh(), Linear(5, 2)]),
            ValueError,
            r"^layers\[2\] \(Linear\(5, 2\)\) takes 5 features, but layers\[1\] \(Tanh\(\)\) "
            r"outputs 3",
        ),
        (lambda: Sequential([Linear(2, 2)], dtype=np.int64), TypeError, r"^dtype must be"),
    ],
)
def test_constructors_name_the_bad_argument(make: Any, exc: type[Exception], pattern: str) -> None:
    with pytest.raises(exc, match=pattern):
        make()


def test_sequential_rejects_a_layer_used_twice_or_by_another_model() -> None:
    lin = Linear(3, 3)
    with pytest.raises(ValueError, match=r"^layers\[1\] is the same object as layers\[0\]"):
        Sequential([lin, lin])
    first = Sequential([lin])
    with pytest.raises(ValueError, match=r"^layers\[1\] \(Linear\(3, 3\)\) already belongs"):
        Sequential([Tanh(), lin])
    del first
    Sequential([lin])  # the first model is gone: the layer may be reused


def test_np_bool_flags_and_generators_are_accepted() -> None:
    lin = Linear(3, 2, relu=np.bool_(True))
    assert lin.relu is True
    a = MLP([3, 2], seed=np.random.default_rng(4)).params.data
    np.testing.assert_array_equal(a, MLP([3, 2], seed=np.random.default_rng(4)).params.data)


# ---------------------------------------------------------------- transactional forward
def _trained_state(model: Sequential, x: np.ndarray, g: np.ndarray) -> tuple[np.ndarray, ...]:
    out = model.forward(x).copy()
    model.backward(g.copy(), compute_dx=True)
    return out, model.params.grad.copy()


BAD_INPUTS = {
    "narrow": (lambda d, dt: np.ones((5, d - 1), dt), ValueError),
    "wide": (lambda d, dt: np.ones((5, d + 2), dt), ValueError),
    "1-D": (lambda d, dt: np.ones(d, dt), ValueError),
    "3-D": (lambda d, dt: np.ones((2, 5, d), dt), ValueError),
    "other float": (
        lambda d, dt: np.ones((5, d), np.float32 if dt == np.float64 else np.float64),
        TypeError,
    ),
    "int": (lambda d, dt: np.ones((5, d), np.int64), TypeError),
    "object": (lambda d, dt: np.array([[object()] * d]), TypeError),
}


def test_wrong_width_and_dtype_messages_blame_the_input() -> None:
    model = MLP([7, 5, 3])
    with pytest.raises(ValueError, match=r"^x must have shape") as info:
        model.forward(np.ones((5, 4), np.float32))
    assert str(info.value) == (
        "x must have shape (B, 7) for this model (its first layer takes 7 features), got (5, 4)"
    )
    with pytest.raises(TypeError, match=r"^x must have dtype") as info:
        model.forward(np.ones((5, 7)))
    assert str(info.value) == "x must have dtype float32 (the model's dtype), got float64"
    seq = Sequential([Tanh(), Linear(6, 2)])
    with pytest.raises(ValueError, match=r"its layers\[1\], Linear\(6, 2\), takes 6 features"):
        seq.forward(np.ones((2, 3), np.float32))
    with pytest.raises(ValueError, match=r"x must have shape \(B, 7\) for this model"):
        model.predict(np.ones((5, 4), np.float32))


@settings(max_examples=60, deadline=None, derandomize=True)
@given(
    sizes=st.lists(st.integers(1, 6), min_size=2, max_size=4),
    activation=st.sampled_from(sorted(ACTIVATIONS)),
    dtype=st.sampled_from([np.float32, np.float64]),
    bad=st.sampled_from(sorted(BAD_INPUTS)),
    batch=st.integers(1, 6),
    lead=st.sampled_from([None, Tanh, LeakyReLU]),
    seed=st.integers(0, 2**16),
)
def test_rejected_forward_leaves_the_last_backward_intact(
    sizes, activation, dtype, bad, batch, lead, seed
) -> None:
    """A rejected forward (wrong width, rank or dtype) changes nothing: the backward of the
    previous forward gives the same gradients, bitwise, as without the rejected call.

    60 draws of model (an MLP, or a Sequential starting with an activation), dtype and kind
    of bad input."""
    rng = np.random.default_rng(seed)
    model = MLP(sizes, activation=activation, dtype=dtype, seed=seed)
    if lead is not None:  # an activation first: the first layer to see x is not a Linear
        layers = [lead(), *(Linear(a, b) for a, b in itertools.pairwise(sizes))]
        model = Sequential(layers, dtype=dtype, seed=seed)
    x = rng.standard_normal((batch, sizes[0])).astype(dtype)
    g = rng.standard_normal((batch, sizes[-1])).astype(dtype)
    want_out, want_grad = _trained_state(model, x, g)
    params = model.params.data.copy()
    out = model.forward(x)
    make_bad, exc = BAD_INPUTS[bad]
    with pytest.raises(exc, match=r"^x must"):
        model.forward(make_bad(sizes[0], dtype))
    np.testing.assert_array_equal(out, want_out)  # the last output is as it was
    model.backward(g.copy(), compute_dx=True)
    np.testing.assert_array_equal(model.params.grad, want_grad)
    np.testing.assert_array_equal(model.params.data, params)


def test_rejected_backward_writes_no_gradient() -> None:
    model = MLP([4, 5, 3], dtype=np.float64, seed=0)
    model.forward(np.ones((2, 4)))
    model.backward(np.ones((2, 3)))
    grad = model.params.grad.copy()
    for bad, exc, pattern in [
        (np.ones((2, 4)), ValueError, r"^grad must have shape \(2, 3\)"),
        (np.ones((3, 3)), ValueError, r"^grad must have shape \(2, 3\)"),
        (np.ones((2, 3), np.float32), TypeError, r"^grad must have dtype float64"),
    ]:
        with pytest.raises(exc, match=pattern):
            model.backward(bad)
        np.testing.assert_array_equal(model.params.grad, grad)
    with pytest.raises(TypeError, match=r"^overwrite_grad must be True or False"):
        model.backward(np.ones((2, 3)), overwrite_grad="yes")
    with pytest.raises(TypeError, match=r"^train must be True or False"):
        model.forward(np.ones((2, 4)), train="False")
