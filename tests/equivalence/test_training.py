"""Whole training steps on a compiled backend match the NumPy backend, and the switch
dispatches every op (shown with a recording mock backend)."""

from __future__ import annotations

import sys
import types

import numpy as np
import pytest

import numdl
from numdl.core import backend, hotpaths
from numdl.nn import AvgPool2d, Conv2d, Flatten, MaxPool2d
from numdl.nn.losses import SoftmaxCrossEntropy
from numdl.nn.models import MLP, Sequential
from numdl.optim import make_optimizer
from numdl.testing import TOLERANCES, TRAINING_TOLERANCES, assert_backend_close

DTYPES = [np.dtype(np.float32), np.dtype(np.float64)]


def _problem(dtype: np.dtype, n: int = 512, d: int = 64, c: int = 10):
    rng = np.random.default_rng(7)
    x = rng.random((n, d)).astype(dtype)
    y = (x[:, :c].argmax(axis=1)).astype(np.int64)  # a learnable rule
    return x, y


SGD_LIKE = ("momentum", "nesterov")  # the others are adaptive: a smaller learning rate


def _train(backend_name: str, dtype: np.dtype, steps: int, optimizer: str) -> tuple:
    x, y = _problem(dtype)
    with numdl.use_backend(backend_name):
        model = MLP([x.shape[1], 48, 32, 10], dtype=dtype, seed=3)
        opt = make_optimizer(
            optimizer, model.params, lr=0.05 if optimizer in SGD_LIKE else 1e-3, weight_decay=1e-4
        )
        loss_fn = SoftmaxCrossEntropy()
        losses = []
        for step in range(steps):
            sl = slice((step * 64) % len(x), (step * 64) % len(x) + 64)
            loss, dlogits = loss_fn(model.forward(x[sl]), y[sl])
            model.backward(dlogits, overwrite_grad=True)
            opt.step()
            losses.append(float(loss))
        return model.params.data.copy(), model.params.grad.copy(), np.array(losses)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_one_training_step_matches_numpy(kernel_backend, dtype) -> None:
    p_ref, g_ref, l_ref = _train("numpy", dtype, 1, "momentum")
    p_be, g_be, l_be = _train(kernel_backend.name, dtype, 1, "momentum")
    assert_backend_close(g_be, g_ref, name="gradients after one step")
    assert_backend_close(p_be, p_ref, name="parameters after one step")
    assert_backend_close(l_be.astype(dtype), l_ref.astype(dtype), name="loss", table=TOLERANCES)


@pytest.mark.parametrize(
    "optimizer", ["momentum", "nesterov", "adamw", "adam", "rmsprop", "adagrad"]
)
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_fifty_training_steps_match_numpy(kernel_backend, dtype, optimizer) -> None:
    p_ref, _, l_ref = _train("numpy", dtype, 50, optimizer)
    p_be, _, _ = _train(kernel_backend.name, dtype, 50, optimizer)
    assert l_ref[-1] < l_ref[0], "the reference run should learn"
    assert_backend_close(p_be, p_ref, name="parameters after 50 steps", table=TRAINING_TOLERANCES)


# ------------------------------------------------------------------------ dispatch (mock)
def _recording_module(calls: list[str]) -> types.ModuleType:
    module = types.ModuleType("numdl_test_recording_backend")
    for op in backend.OPS:

        def wrapper(*args, _op=op):
            calls.append(_op)
            return getattr(hotpaths, _op)(*args)

        setattr(module, op, wrapper)
    return module


def test_switch_dispatches_every_op_to_the_selected_backend(monkeypatch) -> None:
    calls: list[str] = []
    monkeypatch.setitem(sys.modules, "numdl_test_recording_backend", _recording_module(calls))
    backend.register_backend("recording", "numdl_test_recording_backend")
    try:
        x, y = _problem(np.dtype(np.float64), n=32)
        with numdl.use_backend("recording"):
            model = MLP([x.shape[1], 16, 10], dtype=np.float64)
            _, dlogits = SoftmaxCrossEntropy()(model.forward(x), y)
            model.backward(dlogits)
            normed = MLP([x.shape[1], 16, 10], norm="batch", dtype=np.float64)
            normed.backward(SoftmaxCrossEntropy()(normed.forward(x), y)[1])
            make_optimizer("momentum", model.params, lr=0.1).step()
            make_optimizer("adamw", model.params, lr=0.1).step()
            for name in ("adam", "rmsprop", "adagrad"):
                make_optimizer(name, model.params, lr=0.1).step()
            numdl.logsumexp(x)
            numdl.log_softmax(x)
            numdl.take_rows(x, np.arange(3))
            images = np.random.default_rng(0).standard_normal((2, 1, 6, 6))
            cnn = Sequential(
                [Conv2d(1, 2, 3, relu=True), MaxPool2d(2), AvgPool2d(2, stride=1), Flatten()],
                dtype=np.float64,
            )
            cnn.backward(np.ones_like(cnn.forward(images)), compute_dx=True)
        assert set(calls) == set(backend.OPS)
        calls.clear()
        numdl.logsumexp(x)  # outside the block: back on the default backend
        assert calls == []
    finally:
        backend.unregister_backend("recording")
