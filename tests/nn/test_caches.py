"""Stale backward caches (numdl.nn.buffers, the Layer protocol): a gradient is never computed
from an array that was overwritten after the forward that saved it.

Every check compares against a *fresh computation*: a twin model, given copies of the input
and parameters as they were at forward time, run forward and backward at once. A backward
either gives exactly the twin's gradients or raises the documented ``RuntimeError``.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import numdl.nn as nn
from numdl.nn import LeakyReLU, Linear, ReLU, Sequential, Sigmoid, Tanh
from numdl.nn.layers.base import Layer
from numdl.nn.losses import SoftmaxCrossEntropy
from numdl.nn.models import MLP
from numdl.optim import SGD

D = 4  # every model here maps D features to D, so any output can feed any model
STALE = r"cannot run backward: .* has been overwritten since"
NEVER_RAN = r"backward called before a training-mode forward"

LAYER_KINDS = {
    "linear": lambda: Linear(D, D),
    "linear_relu": lambda: Linear(D, D, relu=True),
    "relu": ReLU,
    "leaky_relu": lambda: LeakyReLU(0.1),
    "sigmoid": Sigmoid,
    "tanh": Tanh,
}


def build(kinds: tuple[str, ...], seed: int) -> Sequential:
    return Sequential([LAYER_KINDS[k]() for k in kinds], dtype=np.float64, seed=seed)


def fresh(kinds: tuple[str, ...], params: np.ndarray, x: np.ndarray, g: np.ndarray) -> tuple:
    """(parameter gradients, dX) of a new model with ``params`` on input ``x``, grad ``g``."""
    twin = build(kinds, 0)
    twin.params.data[...] = params
    twin.forward(x.copy())
    dx = twin.backward(g.copy(), compute_dx=True)
    return twin.params.grad.copy(), np.array(dx, copy=True)


class Tracked:
    """A model with what its last training forward saw (input and parameters, as copies)."""

    def __init__(self, kinds: tuple[str, ...], seed: int) -> None:
        self.kinds = kinds
        self.model = build(kinds, seed)
        self.seen: tuple[np.ndarray, np.ndarray] | None = None

    def forward(self, x: np.ndarray) -> Any:
        seen = (x.copy(), self.model.params.data.copy())
        out = self.model.forward(x)
        self.seen = seen
        return out

    def backward(self, g: np.ndarray, *, overwrite: bool, compute_dx: bool) -> Any:
        """Run backward; if it returns, assert it equals the fresh computation."""
        g_at_call = g.copy()
        error = None
        try:
            dx = self.model.backward(g, overwrite_grad=overwrite, compute_dx=compute_dx)
        except RuntimeError as exc:
            error = str(exc)
        if error is not None:
            assert ("overwritten since" if self.seen else "before a training-mode") in error
            return None
        assert self.seen is not None, "backward without a forward must raise"
        want_grad, want_dx = fresh(self.kinds, self.seen[1], self.seen[0], g_at_call)
        np.testing.assert_array_equal(self.model.params.grad, want_grad)
        if compute_dx:
            np.testing.assert_array_equal(dx, want_dx)
        return dx


# ----------------------------------------------------------------- the examples
def test_forward_of_own_output_then_backward_gives_the_fresh_gradient() -> None:
    rng = np.random.default_rng(0)
    m = Sequential([Linear(4, 4)], dtype=np.float64, seed=1)
    x, g = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    h = m.forward(x).copy()
    m.forward(m.forward(x))  # the input is the model's own output buffer: copied first
    m.backward(g)
    np.testing.assert_array_equal(m.params.grad_of("layer0.W"), h.T @ g)  # was off by 0.95
    want, _ = fresh(("linear",), m.params.data.copy(), h, g)
    np.testing.assert_array_equal(m.params.grad, want)


def test_standalone_linear_fed_its_own_output() -> None:
    rng = np.random.default_rng(1)
    m = Sequential([Linear(4, 4)], dtype=np.float64, seed=2)
    lin = m.layers[0]
    x, g = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    h = lin.forward(x).copy()
    y = lin.forward(lin.forward(x))
    np.testing.assert_array_equal(y, h @ lin.W + lin.b)
    lin.backward(g)
    np.testing.assert_array_equal(lin.dW, h.T @ g)


def test_consumer_of_an_overwritten_output_raises_naming_the_layer() -> None:
    rng = np.random.default_rng(2)
    a = Sequential([Linear(4, 4)], dtype=np.float64, seed=1)
    b = Sequential([Linear(4, 2)], dtype=np.float64, seed=2)
    x = rng.standard_normal((3, 4))
    h = a.forward(x)
    b.forward(h)
    a.forward(2 * x)  # rewrites h, which b kept as its input
    before = b.params.grad.copy()
    with pytest.raises(RuntimeError, match=STALE) as info:
        b.backward(np.ones((3, 2)))
    message = str(info.value)
    assert "Linear(4, 2) 'layer0'" in message  # the layer that cannot run
    assert "'x'" in message  # what it saved
    assert "reusable 'out' buffer of Linear(4, 4)" in message  # where it lived
    assert "copy" in message  # how to fix it
    np.testing.assert_array_equal(b.params.grad, before)  # nothing written
    # with a copy the same pattern is fine
    h = a.forward(x).copy()
    b.forward(h)
    a.forward(2 * x)
    b.backward(np.ones((3, 2)))
    np.testing.assert_array_equal(b.params.grad_of("layer0.W"), h.T @ np.ones((3, 2)))


def test_optimiser_step_between_forward_and_backward_raises() -> None:
    rng = np.random.default_rng(3)
    m = MLP([4, 5, 3], dtype=np.float64, seed=0)
    opt = SGD(m.params, lr=0.1)
    x = rng.standard_normal((6, 4))
    m.forward(x)
    m.backward(np.ones((6, 3)))
    opt.step()
    with pytest.raises(RuntimeError, match="parameters change"):
        m.backward(np.ones((6, 3)))
    m.forward(x)  # a new forward starts over
    m.backward(np.ones((6, 3)))


def test_load_and_reset_parameters_also_invalidate_the_cache() -> None:
    m = MLP([4, 5, 3], dtype=np.float64, seed=0)
    x = np.ones((2, 4))
    m.forward(x)
    m.params.load_state_dict(m.params.state_dict())
    with pytest.raises(RuntimeError, match=STALE):
        m.backward(np.ones((2, 3)))
    m.forward(x)
    m.reset_parameters(np.random.default_rng(1))
    with pytest.raises(RuntimeError, match=STALE):
        m.backward(np.ones((2, 3)))


def test_evaluation_between_forward_and_backward_changes_nothing() -> None:
    """Activation layers used to cache in evaluation too: predict() broke the next backward."""
    rng = np.random.default_rng(4)
    for activation in ("tanh", "sigmoid", "leaky_relu", "relu"):
        m = MLP([4, 6, 3], activation=activation, dtype=np.float64, seed=5)
        x, g = rng.standard_normal((5, 4)), rng.standard_normal((5, 3))
        m.forward(x)
        m.backward(g)
        want = m.params.grad.copy()
        m.forward(x)
        m.predict(rng.standard_normal((7, 4)))
        m.forward(rng.standard_normal((2, 4)), train=False)
        m.backward(g)
        np.testing.assert_array_equal(m.params.grad, want, err_msg=activation)


def test_model_output_as_its_own_scratch_gradient() -> None:
    rng = np.random.default_rng(5)
    m = Tracked(("linear_relu", "linear"), seed=3)
    y = m.forward(rng.standard_normal((3, D)))
    m.backward(y, overwrite=True, compute_dx=True)  # y is the last layer's saved output


def test_scratch_gradient_that_another_layer_saved_is_not_overwritten() -> None:
    rng = np.random.default_rng(6)
    x = rng.standard_normal((3, D))
    m = Tracked(("linear", "linear_relu"), seed=4)
    m.forward(x)
    keep = x.copy()
    m.backward(x, overwrite=True, compute_dx=True)  # layer 0 saved x: not scratch
    np.testing.assert_array_equal(x, keep)
    # another model that saved the array sees it overwritten, and says by what
    other = Tracked(("linear",), seed=5)
    other.forward(x)
    m.forward(rng.standard_normal((3, D)))
    m.model.backward(x, overwrite_grad=True)
    with pytest.raises(RuntimeError, match="overwrite_grad"):
        other.model.backward(np.ones((3, D)))


def test_loss_gradient_buffer_is_tracked() -> None:
    rng = np.random.default_rng(7)
    loss = SoftmaxCrossEntropy()
    m = Sequential([Linear(4, 4)], dtype=np.float64, seed=0)
    _, d = loss(rng.standard_normal((3, 4)), np.array([0, 1, 2]))
    m.forward(d)  # a (strange) use of the loss gradient as an input
    loss(rng.standard_normal((3, 4)), np.array([1, 1, 1]))  # rewrites it
    with pytest.raises(RuntimeError, match="reusable gradient buffer of SoftmaxCrossEntropy"):
        m.backward(np.ones((3, 4)))


def test_training_loop_is_unchanged_and_never_copies() -> None:
    """The ordinary step: forward a batch, loss, backward with overwrite, step; no raise."""
    rng = np.random.default_rng(8)
    x, y = rng.standard_normal((32, 6)), rng.integers(0, 3, 32)
    m = MLP([6, 8, 3], dtype=np.float64, seed=1)
    opt, loss = SGD(m.params, lr=0.1, momentum=0.9), SoftmaxCrossEntropy()
    outs = set()
    for i in range(8):
        xb = x[(i % 4) * 8 : (i % 4) * 8 + 8]
        out = m.forward(xb)
        outs.add(id(out))
        assert not np.shares_memory(m.layers[0].saved_for_backward()["x"], out)
        assert m.layers[0].saved_for_backward()["x"] is xb  # the batch itself, not a copy
        _, d = loss(out, y[(i % 4) * 8 : (i % 4) * 8 + 8])
        m.backward(d, overwrite_grad=True)
        opt.step()
    assert len(outs) == 1  # the output buffer is reused


def test_a_failing_layer_restores_the_caches() -> None:
    """A forward that fails inside a layer leaves backward correct or raising, never wrong."""

    class Fails(Layer):
        elementwise = True
        fail = False

        def forward(self, x: Any, *, train: bool = True) -> Any:
            if self.fail:
                raise ValueError("boom")
            return x

    rng = np.random.default_rng(9)
    x, g = rng.standard_normal((3, D)), rng.standard_normal((3, D))
    for kinds in (("tanh", "linear"), ("linear", "tanh")):
        layers = [LAYER_KINDS[kinds[0]](), Fails(), LAYER_KINDS[kinds[1]]()]
        m = Sequential(layers, dtype=np.float64, seed=0)
        params = m.params.data.copy()
        m.forward(x)
        layers[1].fail = True
        with pytest.raises(ValueError, match="boom"):
            m.forward(rng.standard_normal((3, D)))
        if kinds[0] == "linear":  # its reused output buffer was overwritten by the failed call
            with pytest.raises(RuntimeError, match="overwritten since"):
                m.backward(g.copy(), compute_dx=True)
        else:  # Tanh's output is a new array each call: the restored cache is intact
            m.backward(g.copy(), compute_dx=True)
            twin = Sequential([Tanh(), Layer(), Linear(D, D)], dtype=np.float64, seed=0)
            twin.params.data[...] = params
            twin.forward(x.copy())
            twin.backward(g.copy(), compute_dx=True)
            np.testing.assert_array_equal(m.params.grad, twin.params.grad)


def test_a_copied_layer_starts_without_cache_or_model() -> None:
    m = MLP([4, 5, 3], dtype=np.float64, seed=0)
    m.forward(np.ones((2, 4)))
    layer = copy.deepcopy(m.layers[0])
    assert not {"_saved", "_buffers", "_model"} & set(vars(layer))
    other = Sequential([layer], dtype=np.float64)  # not "already belongs to another model"
    with pytest.raises(RuntimeError, match=NEVER_RAN):
        other.backward(np.ones((2, 5)))
    m.backward(np.ones((2, 3)))  # the original is untouched


# --------------------------------------------------------- the pattern for every layer
def _layer_classes() -> list[type[Layer]]:
    found, todo = [], [Layer]
    while todo:
        cls = todo.pop()
        for sub in cls.__subclasses__():
            if sub.__module__.startswith("numdl.") and sub not in found:
                found.append(sub)
                todo.append(sub)
    return found


def test_every_numdl_layer_caches_only_through_save_for_backward() -> None:
    """No layer keeps an array in a plain attribute: only parameter views, ``self.buffer``
    buffers and ``save_for_backward`` — the protocol that checks write generations."""
    exported = {getattr(nn, name) for name in nn.__all__}
    classes = _layer_classes()
    assert {Linear, ReLU, LeakyReLU, Sigmoid, Tanh, Sequential} <= set(classes)
    for cls in classes:
        assert cls in exported or cls.__name__ == "MLP", cls
    rng = np.random.default_rng(10)
    allowed = {"W", "b", "dW", "db"}
    for kinds in (("linear",), ("linear_relu",), ("relu",), ("leaky_relu",), ("sigmoid",)):
        m = build((*kinds, "tanh"), seed=0)
        m.forward(rng.standard_normal((3, D)))
        m.backward(np.ones((3, D)), compute_dx=True)
        for layer in [m, *m.layers]:
            arrays = {
                k for k, v in vars(layer).items() if isinstance(v, np.ndarray) and k not in allowed
            }
            assert not arrays, f"{type(layer).__name__} keeps arrays in {arrays}"


def test_a_new_layer_gets_the_check_from_the_base_class() -> None:
    """A layer written with the base-class protocol is checked as a consumer and tracked as
    a producer, with nothing else to do."""

    class Square(Layer):
        """y = x², keeping its input for backward."""

        elementwise = True

        def forward(self, x: Any, *, train: bool = True) -> Any:
            if train:
                self.save_for_backward(x=x)
            return x * x

        def backward(self, grad: Any, **_: Any) -> Any:
            return 2 * self.saved_for_backward()["x"] * grad

    class Double(Layer):
        """y = 2x into a reused output buffer."""

        elementwise = True

        def forward(self, x: Any, *, train: bool = True) -> Any:
            out = self.buffer("out", x.shape, x.dtype)
            np.multiply(self.private_input(x), 2, out=out)
            return out

        def backward(self, grad: Any, **_: Any) -> Any:
            return 2 * grad

    x = np.ones((2, D))
    producer = Sequential([Linear(D, D)], dtype=np.float64, seed=0)
    consumer = Sequential([Square()], dtype=np.float64)
    consumer.forward(producer.forward(x))
    producer.forward(2 * x)
    with pytest.raises(RuntimeError, match=r"Square\(\) 'layer0' cannot run backward: 'x'"):
        consumer.backward(np.ones((2, D)))

    producer = Sequential([Double()], dtype=np.float64)
    consumer = Sequential([LeakyReLU(0.1)], dtype=np.float64)
    consumer.forward(producer.forward(x))
    producer.forward(2 * x)
    with pytest.raises(RuntimeError, match=r"reusable 'out' buffer of Double\(\) 'layer0'"):
        consumer.backward(np.ones((2, D)))
    y = producer.forward(producer.forward(x))  # its own buffer as input: copied first
    np.testing.assert_array_equal(y, 4 * x)


# ------------------------------------------------------------------- property checks
kinds_st = st.lists(st.sampled_from(sorted(LAYER_KINDS)), min_size=1, max_size=3).map(tuple)
_fwd = st.tuples(st.just("fwd"), st.integers(0, 1), st.integers(-1, 7), st.sampled_from([3, 5]))
_feed = st.tuples(st.just("feed"), st.integers(0, 1), st.integers(0, 1))
_bwd = st.tuples(
    st.just("bwd"), st.integers(0, 1), st.integers(-1, 7), st.booleans(), st.booleans()
)
_eval = st.tuples(st.just("eval"), st.integers(0, 1), st.integers(-1, 7), st.just(3))
_step = st.tuples(st.just("step"), st.integers(0, 1))
op_st = st.one_of(_fwd, _feed, _feed, _bwd, _bwd, _eval, _step)  # weighted


@settings(max_examples=200, deadline=None, derandomize=True)
@given(
    kinds=st.tuples(kinds_st, kinds_st),
    program=st.lists(op_st, min_size=6, max_size=20),
    seed=st.integers(0, 2**16),
)
def test_random_reuse_never_gives_a_wrong_gradient(kinds, program, seed) -> None:
    """Any interleaving of forwards (feeding outputs and input-gradients back in, to the same
    or other models), evaluations, backwards (with outputs as overwrite_grad scratch) and
    optimiser steps: every backward equals the fresh computation or raises RuntimeError.

    200 programs of 6–20 operations on two random models of 1–3 layers."""
    rng = np.random.default_rng(seed)
    models = [Tracked(k, seed=i) for i, k in enumerate(kinds)]
    opts = [SGD(m.model.params, lr=0.1) if m.model.params.size else None for m in models]
    pool: list[Any] = []  # every array the models handed out, as they handed it out
    last: dict[int, Any] = {}  # each model's last training-mode output

    def pick(index: int, shape: tuple[int, ...]) -> Any:
        matching = [h for h in pool if np.shape(h) == shape]
        if index < 0 or not matching:
            return rng.standard_normal(shape)  # fresh data
        return matching[index % len(matching)]

    for op in program:
        m = models[op[1]]
        if op[0] == "fwd":
            last[op[1]] = m.forward(pick(op[2], (op[3], D)))
            pool.append(last[op[1]])
        elif op[0] == "feed":  # model op[2] on the last output of model op[1] (maybe itself)
            if op[1] in last:
                last[op[2]] = models[op[2]].forward(last[op[1]])
                pool.append(last[op[2]])
        elif op[0] == "eval":
            m.model.forward(pick(op[2], (op[3], D)), train=False)
        elif op[0] == "bwd":
            shape = m.seen[0].shape if m.seen is not None else (3, D)
            dx = m.backward(pick(op[2], shape), overwrite=op[3], compute_dx=op[4])
            if dx is not None:
                pool.append(dx)
        elif opts[op[1]] is not None:  # a step with a random gradient: the parameters change
            opts[op[1]].step(rng.standard_normal(m.model.params.size))


@settings(max_examples=80, deadline=None, derandomize=True)
@given(
    kinds=st.tuples(kinds_st, kinds_st, kinds_st),
    chain=st.permutations([0, 1, 2]).flatmap(lambda p: st.integers(1, 3).map(lambda n: p[:n])),
    noise=st.lists(st.tuples(st.integers(0, 2), st.booleans()), max_size=4),
    overwrite=st.booleans(),
    rounds=st.integers(1, 3),
    seed=st.integers(0, 2**16),
)
def test_pipelines_run_backward_correctly(kinds, chain, noise, overwrite, rounds, seed) -> None:
    """Chained models (the output of one the input of the next), backward in reverse order
    with each input-gradient passed on, evaluations and forwards of models outside the chain
    in between: nothing was overwritten, so nothing may raise and all must be exact.

    80 draws of 1–3 rounds through chains of 1–3 random models."""
    rng = np.random.default_rng(seed)
    models = [Tracked(k, seed=i) for i, k in enumerate(kinds)]
    for _ in range(rounds):
        h = rng.standard_normal((3, D))
        for i in chain:
            h = models[i].forward(h)
        for i, train in noise:
            if i in chain and train:
                continue  # would overwrite what the chain keeps: not a safe pipeline
            models[i].model.forward(rng.standard_normal((3, D)), train=train)
        g = rng.standard_normal((3, D))
        for i in reversed(chain):
            seen = models[i].seen
            assert seen is not None
            g_copy = g.copy()
            g = models[i].model.backward(g, overwrite_grad=overwrite, compute_dx=True)
            want_grad, want_dx = fresh(models[i].kinds, seen[1], seen[0], g_copy)
            np.testing.assert_array_equal(models[i].model.params.grad, want_grad)
            np.testing.assert_array_equal(g, want_dx)
