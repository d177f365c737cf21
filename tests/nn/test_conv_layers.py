"""Conv2d, MaxPool2d, AvgPool2d, Flatten, Unflatten and Sequential over N-D samples.

Float64 gradient checks against central differences (relative error ≤ 1e-6, the helpers of
tests/nn/_gradcheck.py shared with test_gradients.py), argument rejections that mutate nothing,
the caching protocol (a backward after an overwritten buffer raises) and reused buffers in
training mode.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from _gradcheck import assert_grad, numeric_grad

from numdl.nn import (
    AvgPool2d,
    Conv2d,
    Flatten,
    Linear,
    MaxPool2d,
    ReLU,
    Sequential,
    Unflatten,
)
from numdl.nn.buffers import mark_written
from numdl.nn.init import glorot_uniform, he_normal, he_uniform


# ------------------------------------------------------------------------------ helpers
def check_model_grads(model: Sequential, x: np.ndarray, seed: int) -> None:
    """dL/dθ and dL/dx of L = Σ out ⊙ R (R random) against central differences."""
    out = model.forward(x)
    r = np.random.default_rng(seed).standard_normal(out.shape)
    dx = model.backward(r.copy(), compute_dx=True).copy()
    grad = model.params.grad.copy()

    def loss() -> float:
        return float(np.sum(model.forward(x, train=False) * r))

    assert_grad(dx, numeric_grad(loss, x), f"{model!r} dx")
    if model.params.size:
        assert_grad(grad, numeric_grad(loss, model.params.data), f"{model!r} dparams")


def check_layer_grads(layer: Any, x: np.ndarray, seed: int) -> None:
    """dL/dx of a layer without parameters, L = Σ out ⊙ R."""
    out = layer.forward(x)
    r = np.random.default_rng(seed).standard_normal(out.shape)
    dx = np.array(layer.backward(r.copy()))

    def loss() -> float:
        return float(np.sum(layer.forward(x, train=False) * r))

    assert_grad(dx, numeric_grad(loss, x), f"{layer!r} dx")


def _x(shape: tuple[int, ...], seed: int = 0, dtype: Any = np.float64) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


# ------------------------------------------------------------------- gradient checks
CONV_CASES = {
    "basic, non-square input": ((2, 2, 5, 6), dict(in_channels=2, out_channels=3, kernel_size=3)),
    "stride 2, padding 1, relu": (
        (2, 2, 7, 6),
        dict(in_channels=2, out_channels=3, kernel_size=3, stride=2, padding=1, relu=True),
    ),
    "1x1": ((2, 3, 4, 4), dict(in_channels=3, out_channels=4, kernel_size=1)),
    "non-square kernel, batch 1, one channel": (
        (1, 1, 5, 7),
        dict(
            in_channels=1,
            out_channels=2,
            kernel_size=(2, 3),
            stride=(2, 1),
            padding=(1, 0),
            relu=True,
        ),
    ),
    "kernel = padded input": ((2, 1, 3, 3), dict(in_channels=1, out_channels=2, kernel_size=5,
                                                 padding=1)),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(CONV_CASES))
def test_conv2d_gradients(case: str) -> None:
    shape, kwargs = CONV_CASES[case]
    model = Sequential([Conv2d(**kwargs)], dtype=np.float64, seed=3)
    model.params.data[...] += 0.1 * _x((model.params.size,), 7)  # nonzero biases too
    check_model_grads(model, _x(shape, 1), seed=2)


POOL_CASES = {
    "2x2": ((2, 3, 4, 6), dict(kernel_size=2)),
    "3x3, stride 2, padding 1": ((2, 2, 7, 5), dict(kernel_size=3, stride=2, padding=1)),
    "overlapping, non-square, batch 1, one channel": (
        (1, 1, 5, 6),
        dict(kernel_size=(2, 3), stride=1),
    ),
    "odd size dropped": ((1, 2, 5, 5), dict(kernel_size=2)),
}


@pytest.mark.parametrize("cls", [MaxPool2d, AvgPool2d])
@pytest.mark.parametrize("case", sorted(POOL_CASES))
def test_pool_gradients(cls: type, case: str) -> None:
    shape, kwargs = POOL_CASES[case]
    check_layer_grads(cls(**kwargs), _x(shape, 4), seed=5)


def test_flatten_and_unflatten_are_views_with_the_inverse_backward() -> None:
    x = _x((2, 3, 4, 5))
    flat = Flatten()
    y = flat.forward(x)
    assert y.shape == (2, 60)
    assert np.shares_memory(y, x)
    np.testing.assert_array_equal(y, x.reshape(2, 60))
    g = _x((2, 60), 1)
    dx = flat.backward(g)
    assert dx.shape == x.shape
    assert np.shares_memory(dx, g)
    check_layer_grads(Flatten(), x, seed=3)
    un = Unflatten((3, 4, 5))
    z = un.forward(y)
    assert z.shape == x.shape
    assert np.shares_memory(z, x)
    np.testing.assert_array_equal(z, x)
    assert un.backward(x).shape == (2, 60)
    check_layer_grads(Unflatten((3, 4, 5)), _x((2, 60)), seed=4)
    assert flat.backward(g, compute_dx=False) is None


def small_cnn(dtype: Any = np.float64, seed: int = 0) -> Sequential:
    return Sequential(
        [
            Unflatten((1, 6, 7)),
            Conv2d(1, 3, 3, padding=1, relu=True),
            MaxPool2d(2),
            Conv2d(3, 2, 2, stride=(1, 2)),
            ReLU(),
            AvgPool2d(1),
            Flatten(),
            Linear(2 * 2 * 1, 4),
        ],
        dtype=dtype,
        seed=seed,
    )


def test_small_cnn_gradients() -> None:
    model = small_cnn()
    model.params.data[...] += 0.1 * _x((model.params.size,), 7)
    check_model_grads(model, _x((3, 42), 1), seed=6)


def test_cnn_on_4d_input_gradients() -> None:
    model = Sequential(
        [Conv2d(2, 3, 3, stride=2, padding=1, relu=True), MaxPool2d(2, stride=1), Flatten()],
        dtype=np.float64,
        seed=1,
    )
    assert model.in_shape == (2, None, None)
    assert model.in_width is None
    check_model_grads(model, _x((2, 2, 6, 5), 2), seed=7)


# ---------------------------------------------------------- Sequential and shapes
def test_sequential_chains_per_sample_shapes() -> None:
    model = small_cnn()
    assert model.in_shape == (42,)
    assert model.in_width == 42
    assert model.out_shape(None) == (4,)
    assert model.out_width(42) == 4
    assert Conv2d(3, 8, 5, padding=2).out_shape((3, 28, 28)) == (8, 28, 28)
    assert Conv2d(3, 8, (3, 1), stride=2).out_shape((3, 9, 4)) == (8, 4, 2)
    assert Conv2d(3, 8, 3).out_shape(None) == (8, None, None)
    assert MaxPool2d(2).out_shape((8, 7, 6)) == (8, 3, 3)
    assert AvgPool2d(3, stride=1, padding=1).out_shape((2, 5, 4)) == (2, 5, 4)
    assert Flatten().out_shape((8, 3, 3)) == (72,)
    assert Flatten().out_shape(None) is None
    assert Unflatten((1, 28, 28)).in_shape == (784,)
    with pytest.raises(
        ValueError,
        match=r"^layers\[1\] \(Conv2d\(2, 4, 3\)\) takes samples of "
        r"shape \(2, \*, \*\), but layers\[0\] \(Unflatten\(\(1, 5, 5\)\)\) "
        r"outputs samples of shape \(1, 5, 5\)",
    ):
        Sequential([Unflatten((1, 5, 5)), Conv2d(2, 4, 3)])
    with pytest.raises(
        ValueError,
        match=r"^layers\[3\] \(Linear\(10, 2\)\) takes 10 features, "
        r"but layers\[2\] \(Flatten\(\)\) outputs 4",
    ):
        Sequential([Unflatten((1, 4, 4)), MaxPool2d(2, stride=2), Flatten(), Linear(10, 2)])
    with pytest.raises(
        ValueError,
        match=r"^layers\[1\] \(MaxPool2d\(3\)\) cannot take its "
        r"input: .*its height 2 \(padded: 2\) is smaller than the kernel's 3",
    ):
        Sequential([Unflatten((1, 2, 4)), MaxPool2d(3)])
    with pytest.raises(
        ValueError,
        match=r"takes samples of shape \(\*, \*, \*\), but .*"
        r"outputs samples of shape \(4,\)",
    ):
        Sequential([Linear(3, 4), MaxPool2d(2)])


def test_backward_skips_the_layers_before_the_first_with_parameters() -> None:
    model = small_cnn()
    model.forward(_x((2, 42)))
    assert model.backward(np.ones((2, 4))) is None
    # the first convolution was asked for no dX: its dx buffer was never made
    assert "dx" not in model.layers[1].__dict__["_buffers"]
    assert "dx" not in model.layers[0].__dict__.get("_buffers", {})
    dx = model.backward(np.ones((2, 4)), compute_dx=True)
    assert dx.shape == (2, 42)


def test_mlp_path_unchanged_for_2d_models() -> None:
    model = Sequential([Linear(3, 4, relu=True), Linear(4, 2)], dtype=np.float64)
    assert model.in_shape == (3,)
    assert model.out_shape((3,)) == (2,)
    check_model_grads(model, _x((5, 3)), seed=1)


# ------------------------------------------------------------------------ rejections
def _conv_model(dtype: Any = np.float64) -> Sequential:
    return Sequential([Conv2d(2, 3, 3, padding=1, relu=True), Flatten()], dtype=dtype, seed=0)


BAD_CONV_INPUTS = {
    "rank 3": (np.ones((2, 5, 5)), ValueError, r"^x must be 4-D, got shape \(2, 5, 5\)"),
    "rank 5": (np.ones((1, 2, 2, 5, 5)), ValueError, r"^x must be 4-D"),
    "channels": (
        np.ones((2, 3, 5, 5)),
        ValueError,
        r"^x must have shape \(B, 2, \*, \*\) for this model .*got \(2, 3, 5, 5\)",
    ),
    "too small": (
        np.ones((2, 2, 0, 5)),
        ValueError,
        r"^x is too small for Conv2d\(2, 3, 3, padding=1, relu=True\) 'layer0': its height 0 "
        r"\(padded: 2\)",
    ),
    "float32": (np.ones((2, 2, 5, 5), np.float32), TypeError, r"^x must have dtype float64"),
    "int": (np.ones((2, 2, 5, 5), np.int64), TypeError, r"^x must have dtype float64"),
}


@pytest.mark.parametrize("bad", sorted(BAD_CONV_INPUTS))
def test_rejected_input_mutates_nothing(bad: str) -> None:
    """A rejected forward changes nothing: the last output and the backward of the previous
    forward are as without it."""
    x, exc, pattern = BAD_CONV_INPUTS[bad]
    model = _conv_model()
    good = _x((2, 2, 5, 5))
    g = _x((2, 75), 1)
    out = model.forward(good)
    want_out = out.copy()
    want_dx = model.backward(g.copy(), compute_dx=True).copy()
    want_grad = model.params.grad.copy()
    params = model.params.data.copy()
    out = model.forward(good)
    with pytest.raises(exc, match=pattern):
        model.forward(x)
    with pytest.raises(exc, match=r"^x must|^x is too small"):  # the layer alone, too
        model.layers[0].forward(x)
    np.testing.assert_array_equal(out, want_out)
    dx = model.backward(g.copy(), compute_dx=True)
    np.testing.assert_array_equal(dx, want_dx)
    np.testing.assert_array_equal(model.params.grad, want_grad)
    np.testing.assert_array_equal(model.params.data, params)


@pytest.mark.parametrize("cls", [MaxPool2d, AvgPool2d])
def test_pool_rejections_mutate_nothing(cls: type) -> None:
    pool = cls(3, stride=2, padding=1)
    x = _x((2, 2, 5, 5))
    out = pool.forward(x)
    want = out.copy()
    g = _x(out.shape, 1)
    want_dx = pool.backward(g).copy()
    pool.forward(x)
    for bad, exc, pattern in [
        (np.ones((2, 5, 5)), ValueError, r"^x must be 4-D"),
        (np.ones((2, 2, 5, 5), np.int32), TypeError, r"^x must have dtype float32 or float64"),
        (np.ones((2, 2, 0, 5)), ValueError, r"^x is too small for .*its height 0 \(padded: 2\)"),
    ]:
        with pytest.raises(exc, match=pattern):
            pool.forward(bad)
    with pytest.raises(ValueError, match=r"^grad must have shape \(2, 2, 3, 3\)"):
        pool.backward(np.ones((2, 2, 3, 4)))
    with pytest.raises(TypeError, match=r"^grad must have dtype float64"):
        pool.backward(np.ones(out.shape, np.float32))
    np.testing.assert_array_equal(out, want)
    np.testing.assert_array_equal(pool.backward(g), want_dx)


@pytest.mark.parametrize(
    ("make", "exc", "pattern"),
    [
        (lambda: Conv2d(0, 3, 3), ValueError, r"^in_channels must be >= 1"),
        (lambda: Conv2d(2, 3.0, 3), TypeError, r"^out_channels must be an int"),
        (lambda: Conv2d(2, 3, 0), ValueError, r"^kernel_size must be >= 1"),
        (lambda: Conv2d(2, 3, (3, 0)), ValueError, r"^kernel_size\[1\] must be >= 1"),
        (lambda: Conv2d(2, 3, (3, 3, 3)), ValueError, r"^kernel_size must be an int or a pair"),
        (lambda: Conv2d(2, 3, 3, stride=0), ValueError, r"^stride must be >= 1"),
        (lambda: Conv2d(2, 3, 3, padding=-1), ValueError, r"^padding must be >= 0"),
        (lambda: Conv2d(2, 3, 3, relu=1), TypeError, r"^relu must be True or False"),
        (lambda: Conv2d(2, 3, 3, init="orthogonal"), ValueError, r"^init must be one of"),
        (lambda: MaxPool2d(2, padding=2), ValueError, r"^padding must be at most half"),
        (lambda: AvgPool2d((3, 2), padding=(1, 2)), ValueError, r"^padding must be at most"),
        (lambda: MaxPool2d(2, stride=0), ValueError, r"^stride must be >= 1"),
        (lambda: Unflatten(()), ValueError, r"^shape must not be empty"),
        (lambda: Unflatten(784), TypeError, r"^shape must be a sequence of ints"),
        (lambda: Unflatten((1, 0)), ValueError, r"^shape\[1\] must be >= 1"),
    ],
)
def test_constructors_name_the_bad_argument(make: Any, exc: type, pattern: str) -> None:
    with pytest.raises(exc, match=pattern):
        make()


def test_reshape_rejections() -> None:
    with pytest.raises(ValueError, match=r"^x must be at least 2-D"):
        Flatten().forward(np.ones(3))
    with pytest.raises(ValueError, match=r"^x must have shape \(B, 12\) for Unflatten"):
        Unflatten((3, 4)).forward(np.ones((2, 11)))
    with pytest.raises(ValueError, match=r"^x must be 2-D"):
        Unflatten((3, 4)).forward(np.ones((2, 3, 4)))
    flat = Flatten()
    with pytest.raises(RuntimeError, match="before a training-mode forward"):
        flat.backward(np.ones((2, 3)))
    flat.forward(np.ones((2, 3, 4)))
    with pytest.raises(ValueError, match=r"^grad must have shape \(2, 12\)"):
        flat.backward(np.ones((2, 3, 4)))


def test_conv_without_a_model_has_no_parameters() -> None:
    with pytest.raises(RuntimeError, match="has no parameters yet"):
        Conv2d(1, 2, 3).forward(np.ones((1, 1, 4, 4)))


# -------------------------------------------------------------- the caching protocol
def test_backward_after_an_overwritten_buffer_raises() -> None:
    model = small_cnn()
    x, g = _x((2, 42)), np.ones((2, 4))
    model.forward(x)
    model.layers[1].forward(model.layers[0].forward(_x((2, 42), 1)))  # conv's cols and out
    with pytest.raises(RuntimeError, match=r"'layer2' cannot run backward: 'x'.*overwritten"):
        model.backward(g)
    model.forward(x)
    model.layers[2].forward(_x((2, 3, 6, 7), 2))  # the pooling's out and argmax
    with pytest.raises(RuntimeError, match=r"overwritten since"):
        model.backward(g)
    model.forward(x)
    mark_written(model.params.data, "a step")  # an optimiser step before backward
    with pytest.raises(RuntimeError, match=r"'parameters'.*overwritten since"):
        model.backward(g)
    model.forward(x)
    model.backward(g)  # and a fresh forward is fine again


def test_training_mode_reuses_its_buffers() -> None:
    """No allocation per step: every output, scratch, argmax and gradient buffer is the same
    array from one training step to the next."""
    model = small_cnn(np.float32)
    x, g = _x((4, 42), 0, np.float32), np.ones((4, 4), np.float32)

    def step() -> tuple[Any, dict[tuple[int, str], int]]:
        out = model.forward(x)
        model.backward(g, compute_dx=True)
        ids = {
            (i, name): id(entry[0])
            for i, layer in enumerate(model.layers)
            for name, entry in layer.__dict__.get("_buffers", {}).items()
        }
        return out, ids

    out1, ids1 = step()
    out2, ids2 = step()
    assert out1 is out2
    assert ids1 == ids2
    names = {name for (_, name) in ids1}
    assert {"cols", "z", "out", "dz", "dcols", "dx", "argmax"} <= names
    assert model.layers[1].__dict__["_buffers"]["cols"][0].dtype == np.float32
    assert model.layers[2].__dict__["_buffers"]["argmax"][0].dtype == np.int64


def test_float32_matches_float64() -> None:
    m64, m32 = small_cnn(np.float64, 3), small_cnn(np.float32, 3)
    x = _x((3, 42))
    out64 = m64.forward(x).copy()
    out32 = m32.forward(x.astype(np.float32))
    assert out32.dtype == np.float32
    np.testing.assert_allclose(out32, out64, rtol=1e-4, atol=1e-5)
    m64.backward(np.ones((3, 4)))
    m32.backward(np.ones((3, 4), np.float32))
    np.testing.assert_allclose(m32.params.grad, m64.params.grad, rtol=1e-4, atol=1e-5)


# --------------------------------------------------------------- parameters, init
def test_conv_parameters_layout_init_and_decay() -> None:
    model = Sequential([Conv2d(3, 8, (5, 3))], dtype=np.float64, seed=0)
    conv = model.layers[0]
    assert conv.W.shape == (8, 3, 5, 3)
    assert conv.b.shape == (8,)
    assert conv.dW.shape == conv.W.shape
    assert conv.db.shape == (8,)
    # weight decay covers the kernel and not the bias: the kernel is the decayed block
    assert model.params.n_decayed == conv.W.size
    assert np.shares_memory(conv.W, model.params.data[: model.params.n_decayed])
    np.testing.assert_array_equal(conv.b, 0)
    limit = math.sqrt(6 / (3 * 5 * 3))  # he_uniform, fan_in = C·KH·KW
    assert np.abs(conv.W).max() <= limit
    assert np.abs(conv.W).max() > 0.8 * limit


def test_init_fans_of_conv_kernels() -> None:
    shape = (64, 16, 5, 5)
    w = he_uniform(shape, 0, np.float64)
    assert w.shape == shape
    assert np.abs(w).max() <= math.sqrt(6 / (16 * 25))
    np.testing.assert_allclose(w.var(), 2 / (16 * 25), rtol=0.1)
    g = glorot_uniform(shape, 1, np.float64)
    np.testing.assert_allclose(g.var(), 2 / (16 * 25 + 64 * 25), rtol=0.1)
    np.testing.assert_allclose(he_normal(shape, 2, np.float64).std(), math.sqrt(2 / 400), rtol=0.1)
    # the 2-D behaviour is unchanged
    np.testing.assert_array_equal(he_uniform((4, 3), 5), he_uniform((4, 3), 5))
    assert np.abs(he_uniform((400, 3), 5, np.float64)).max() <= math.sqrt(6 / 400)
    with pytest.raises(ValueError, match=r"^shape must be \(fan_in, fan_out\) or a convolution"):
        he_uniform((3, 4, 5))
