"""numdl's Conv2d, MaxPool2d, AvgPool2d, Flatten and a small CNN against torch.nn autograd.

The same weights in both (numdl's kernel W is (F, C, KH, KW), torch's layout; a Linear
weight is stored transposed); forward outputs and every gradient (input, weights, biases)
are compared. Tolerances (max|a − b| / max|b|): float64 1e-10, float32 1e-5.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip(
    "torch",
    reason="PyTorch not installed (extra 'torch'); verification against torch autograd skipped",
)

from numdl.nn import (  # noqa: E402
    AvgPool2d,
    Conv2d,
    Flatten,
    Linear,
    MaxPool2d,
    Sequential,
    Unflatten,
)

TOL = {np.float64: 1e-10, np.float32: 1e-5}
DTYPES = [pytest.param(np.float64, id="f64"), pytest.param(np.float32, id="f32")]
TORCH_DTYPE = {np.float64: torch.float64, np.float32: torch.float32}


def close(a: Any, b: Any, dtype: Any, what: str = "") -> None:
    """max|a − b| ≤ tol · max|b| (b the torch value)."""
    a = np.asarray(a.detach().numpy() if isinstance(a, torch.Tensor) else a, dtype=np.float64)
    b = np.asarray(b.detach().numpy() if isinstance(b, torch.Tensor) else b, dtype=np.float64)
    assert a.shape == b.shape, what
    scale = max(float(np.abs(b).max(initial=0.0)), np.finfo(np.float64).tiny)
    err = float(np.abs(a - b).max(initial=0.0)) / scale
    assert err <= TOL[dtype], f"{what}: relative error {err:.2e} > {TOL[dtype]:.0e}"


@pytest.fixture(autouse=True)
def _torch_threads():
    prev = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(prev)


def _copy_params(model: Sequential, tmodel: Any) -> None:
    """numdl's parameters into the torch model, layer by layer (Linear weights transposed)."""
    tlayers = [m for m in tmodel if isinstance(m, torch.nn.Conv2d | torch.nn.Linear)]
    ours = [layer for layer in model.layers if isinstance(layer, Conv2d | Linear)]
    assert len(tlayers) == len(ours)
    with torch.no_grad():
        for layer, tl in zip(ours, tlayers, strict=True):
            w = layer.W if isinstance(layer, Conv2d) else layer.W.T
            tl.weight.copy_(torch.from_numpy(np.ascontiguousarray(w)))
            tl.bias.copy_(torch.from_numpy(layer.b.copy()))


def _compare(model: Sequential, tmodel: Any, x: np.ndarray, dtype: Any, seed: int) -> None:
    """Forward, dL/dx and every parameter gradient of L = Σ out ⊙ G, numdl vs torch."""
    _copy_params(model, tmodel)
    out = model.forward(x)
    g = np.random.default_rng(seed).standard_normal(out.shape).astype(dtype)
    dx = model.backward(g.copy(), compute_dx=True)
    tx = torch.tensor(x, requires_grad=True)
    tout = tmodel(tx)
    tout.backward(torch.from_numpy(g))
    close(out, tout, dtype, "out")
    close(dx, tx.grad, dtype, "dx")
    tlayers = [m for m in tmodel if isinstance(m, torch.nn.Conv2d | torch.nn.Linear)]
    ours = [layer for layer in model.layers if isinstance(layer, Conv2d | Linear)]
    for i, (layer, tl) in enumerate(zip(ours, tlayers, strict=True)):
        tw = tl.weight.grad if isinstance(layer, Conv2d) else tl.weight.grad.T
        close(layer.dW, tw, dtype, f"dW of {layer!r} ({i})")
        close(layer.db, tl.bias.grad, dtype, f"db of {layer!r} ({i})")


CONV_CASES = [
    pytest.param(dict(kernel_size=3), (2, 3, 7, 6), id="3x3"),
    pytest.param(dict(kernel_size=3, stride=2, padding=1, relu=True), (2, 3, 9, 8), id="s2p1"),
    pytest.param(dict(kernel_size=1), (3, 3, 4, 5), id="1x1"),
    pytest.param(dict(kernel_size=(2, 4), stride=(1, 2), padding=(1, 2)), (1, 3, 5, 7), id="rect"),
    pytest.param(dict(kernel_size=5, padding=2, relu=True), (4, 3, 8, 8), id="5x5same"),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("kwargs", "shape"), CONV_CASES)
def test_conv2d_matches_torch(kwargs: dict, shape: tuple, dtype: Any) -> None:
    relu = kwargs.get("relu", False)
    kw = {k: v for k, v in kwargs.items() if k != "relu"}
    model = Sequential([Conv2d(shape[1], 4, relu=relu, **kw)], dtype=dtype, seed=1)
    model.params.data[...] += dtype(0.1)  # nonzero biases
    tconv = torch.nn.Conv2d(shape[1], 4, **kw, dtype=TORCH_DTYPE[dtype])
    tmodel = torch.nn.Sequential(tconv, *([torch.nn.ReLU()] if relu else []))
    x = np.random.default_rng(0).standard_normal(shape).astype(dtype)
    _compare(model, tmodel, x, dtype, seed=2)


POOL_CASES = [
    pytest.param(dict(kernel_size=2), (2, 3, 6, 7), id="2x2"),
    pytest.param(dict(kernel_size=3, stride=2, padding=1), (2, 2, 7, 8), id="3s2p1"),
    pytest.param(dict(kernel_size=(2, 3), stride=1), (1, 1, 5, 6), id="overlap"),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("kwargs", "shape"), POOL_CASES)
@pytest.mark.parametrize("kind", ["max", "avg"])
def test_pooling_matches_torch(kind: str, kwargs: dict, shape: tuple, dtype: Any) -> None:
    ours = (MaxPool2d if kind == "max" else AvgPool2d)(**kwargs)
    theirs = (torch.nn.MaxPool2d if kind == "max" else torch.nn.AvgPool2d)(**kwargs)
    x = np.random.default_rng(3).standard_normal(shape).astype(dtype)
    out = ours.forward(x)
    g = np.random.default_rng(4).standard_normal(out.shape).astype(dtype)
    dx = ours.backward(g.copy())
    tx = torch.tensor(x, requires_grad=True)
    tout = theirs(tx)
    tout.backward(torch.from_numpy(g))
    close(out, tout, dtype, "out")
    close(dx, tx.grad, dtype, "dx")


@pytest.mark.parametrize("dtype", DTYPES)
def test_flatten_matches_torch(dtype: Any) -> None:
    x = np.random.default_rng(5).standard_normal((3, 2, 4, 5)).astype(dtype)
    flat = Flatten()
    out = flat.forward(x)
    g = np.random.default_rng(6).standard_normal(out.shape).astype(dtype)
    tx = torch.tensor(x, requires_grad=True)
    tout = torch.nn.Flatten()(tx)
    tout.backward(torch.from_numpy(g))
    close(out, tout, dtype, "out")
    close(flat.backward(g), tx.grad, dtype, "dx")


@pytest.mark.parametrize("dtype", DTYPES)
def test_small_cnn_matches_torch(dtype: Any) -> None:
    """Unflatten → conv(5, same, ReLU) → max pool → conv(3, same, ReLU) → max pool → Flatten →
    Linear(ReLU) → Linear, on flat 12 x 12 rows, as numdl.nn.CNN builds it."""
    model = Sequential(
        [
            Unflatten((1, 12, 12)),
            Conv2d(1, 4, 5, padding=2, relu=True),
            MaxPool2d(2),
            Conv2d(4, 6, 3, padding=1, relu=True),
            MaxPool2d(2),
            Flatten(),
            Linear(6 * 3 * 3, 16, relu=True),
            Linear(16, 10),
        ],
        dtype=dtype,
        seed=3,
    )
    td = TORCH_DTYPE[dtype]
    tmodel = torch.nn.Sequential(
        torch.nn.Unflatten(1, (1, 12, 12)),
        torch.nn.Conv2d(1, 4, 5, padding=2, dtype=td),
        torch.nn.ReLU(),
        torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(4, 6, 3, padding=1, dtype=td),
        torch.nn.ReLU(),
        torch.nn.MaxPool2d(2),
        torch.nn.Flatten(),
        torch.nn.Linear(54, 16, dtype=td),
        torch.nn.ReLU(),
        torch.nn.Linear(16, 10, dtype=td),
    )
    model.params.data[model.params.n_decayed :] = dtype(0.05)  # nonzero biases
    x = np.random.default_rng(7).standard_normal((5, 144)).astype(dtype)
    _compare(model, tmodel, x, dtype, seed=8)
