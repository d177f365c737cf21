"""numdl against PyTorch autograd and torch.optim on random problems.

Tolerances (normwise relative error, max|a − b| / max|b|):
    float64: 1e-10
    float32: 1e-5
numdl stores a Linear weight as W (D_in, D_out), torch as weight (D_out, D_in) = Wᵀ.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip(
    "torch",
    reason="PyTorch not installed (extra 'torch'); verification against torch autograd skipped",
)
F = torch.nn.functional

import numdl  # noqa: E402
from numdl.nn.losses import binary_cross_entropy  # noqa: E402
from numdl.nn.models import MLP  # noqa: E402
from numdl.optim import SGD, AdamW  # noqa: E402

TOL = {np.float64: 1e-10, np.float32: 1e-5}
DTYPES = [pytest.param(np.float64, id="f64"), pytest.param(np.float32, id="f32")]


def close(a: Any, b: Any, dtype: Any, what: str = "") -> None:
    """max|a − b| ≤ tol · max|b| (b the torch value)."""
    a = np.asarray(a.detach().numpy() if isinstance(a, torch.Tensor) else a, dtype=np.float64)
    b = np.asarray(b.detach().numpy() if isinstance(b, torch.Tensor) else b, dtype=np.float64)
    assert a.shape == b.shape, what
    scale = max(float(np.abs(b).max(initial=0.0)), np.finfo(np.float64).tiny)
    err = float(np.abs(a - b).max(initial=0.0)) / scale
    assert err <= TOL[dtype], f"{what}: relative error {err:.2e} > {TOL[dtype]:.0e}"


def t(x: np.ndarray, grad: bool = False) -> Any:
    return torch.tensor(x, requires_grad=grad)


@pytest.fixture(autouse=True)
def _torch_threads():
    prev = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(prev)


# ------------------------------------------------------------------------ linear + ReLU
@pytest.mark.parametrize("relu", [True, False])
@pytest.mark.parametrize("dtype", DTYPES)
def test_linear_relu_forward_backward(dtype: Any, relu: bool) -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((16, 7)).astype(dtype)
    w = rng.standard_normal((7, 5)).astype(dtype)
    b = rng.standard_normal(5).astype(dtype)
    g = rng.standard_normal((16, 5)).astype(dtype)

    out = numdl.linear_forward(x, w, b, relu=relu)
    dx, dw, db = numdl.linear_backward(g, x, w, out, relu=relu)
    assert out.dtype == dx.dtype == dw.dtype == db.dtype == dtype

    tx, tw, tb = t(x, True), t(w.T.copy(), True), t(b, True)
    tout = F.linear(tx, tw, tb)
    if relu:
        tout = torch.relu(tout)
    tout.backward(t(g))
    close(out, tout, dtype, "H")
    close(dx, tx.grad, dtype, "dX")
    close(dw, tw.grad.T, dtype, "dW")
    close(db, tb.grad, dtype, "db")


# -------------------------------------------------------------------- softmax family
@pytest.mark.parametrize("dtype", DTYPES)
def test_logsumexp_log_softmax_softmax(dtype: Any) -> None:
    x = (np.random.default_rng(1).standard_normal((6, 9)) * 4).astype(dtype)
    for axis in (0, 1, -1):
        close(numdl.logsumexp(x, axis=axis), torch.logsumexp(t(x), dim=axis), dtype, "lse")
        close(numdl.log_softmax(x, axis=axis), F.log_softmax(t(x), dim=axis), dtype, "lsm")
        close(numdl.softmax(x, axis=axis), F.softmax(t(x), dim=axis), dtype, "softmax")
    x3 = (np.random.default_rng(2).standard_normal((2, 3, 4)) * 4).astype(dtype)
    close(
        numdl.logsumexp(x3, axis=1, keepdims=True),
        torch.logsumexp(t(x3), dim=1, keepdim=True),
        dtype,
        "lse keepdims",
    )


@pytest.mark.parametrize("dtype", DTYPES)
def test_cross_entropy_int_labels(dtype: Any) -> None:
    rng = np.random.default_rng(3)
    logits = (rng.standard_normal((32, 10)) * 3).astype(dtype)
    labels = rng.integers(0, 10, size=32)
    loss, grad = numdl.cross_entropy(logits, labels, return_grad=True)
    tl = t(logits, True)
    tloss = F.cross_entropy(tl, torch.tensor(labels))
    tloss.backward()
    assert loss.dtype == dtype
    close(loss, tloss, dtype, "loss")
    close(grad, tl.grad, dtype, "dlogits")


@pytest.mark.parametrize("dtype", DTYPES)
def test_cross_entropy_soft_targets(dtype: Any) -> None:
    rng = np.random.default_rng(4)
    logits = (rng.standard_normal((12, 5)) * 3).astype(dtype)
    target = rng.dirichlet(np.ones(5), size=12).astype(dtype)
    target[0] = np.eye(5, dtype=dtype)[2]  # one one-hot row (zeros among the targets)
    loss, grad = numdl.cross_entropy(logits, target, return_grad=True)
    tl = t(logits, True)
    tloss = F.cross_entropy(tl, t(target))
    tloss.backward()
    close(loss, tloss, dtype, "loss")
    close(grad, tl.grad, dtype, "dlogits")


@pytest.mark.parametrize("dtype", DTYPES)
def test_binary_cross_entropy_with_logits(dtype: Any) -> None:
    rng = np.random.default_rng(5)
    z = (rng.standard_normal((8, 3)) * 4).astype(dtype)
    z[0, :2] = [60, -60]  # saturated logits
    y = rng.uniform(0, 1, size=(8, 3)).astype(dtype)
    y[1] = [0, 1, 0]
    loss, grad = binary_cross_entropy(z, y, return_grad=True)
    tz = t(z, True)
    tloss = F.binary_cross_entropy_with_logits(tz, t(y))
    tloss.backward()
    close(loss, tloss, dtype, "loss")
    close(grad, tz.grad, dtype, "dlogits")


# ------------------------------------------------------------------------ optimisers
def _compare_optimiser(
    dtype: Any, make_numdl: Any, make_torch: Any, steps: int = 6, seed: int = 6
) -> None:
    """Run both on one 2-D weight with the same gradient sequence; compare every step."""
    rng = np.random.default_rng(seed)
    w0 = rng.standard_normal((4, 3)).astype(dtype)
    grads = [rng.standard_normal((4, 3)).astype(dtype) for _ in range(steps)]
    w = w0.copy()
    opt = make_numdl({"W": w})
    tw = torch.nn.Parameter(t(w0.copy()))
    topt = make_torch([tw])
    for i, g in enumerate(grads):
        opt.step({"W": g})
        tw.grad = t(g.copy())
        topt.step()
        close(w, tw, dtype, f"step {i + 1}")


@pytest.mark.parametrize("nesterov", [False, True])
@pytest.mark.parametrize("dtype", DTYPES)
def test_sgd_momentum_weight_decay_vs_torch(dtype: Any, nesterov: bool) -> None:
    kw = {"lr": 0.05, "momentum": 0.9, "nesterov": nesterov, "weight_decay": 0.01}
    _compare_optimiser(
        dtype, lambda p: SGD(p, **kw), lambda ps: torch.optim.SGD(ps, dampening=0, **kw)
    )


@pytest.mark.parametrize("dtype", DTYPES)
def test_plain_sgd_vs_torch(dtype: Any) -> None:
    _compare_optimiser(
        dtype, lambda p: SGD(p, lr=0.1), lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0)
    )


@pytest.mark.parametrize("dtype", DTYPES)
def test_adamw_vs_torch(dtype: Any) -> None:
    kw = {"lr": 0.01, "betas": (0.9, 0.99), "eps": 1e-8, "weight_decay": 0.05}
    _compare_optimiser(
        dtype, lambda p: AdamW(p, **kw), lambda ps: torch.optim.AdamW(ps, **kw), steps=8
    )


# --------------------------------------------------------------------- full training
def _torch_mlp(model: MLP, dtype: Any) -> Any:
    sizes = model.config["sizes"]
    layers: list[Any] = []
    for i, (d_in, d_out) in enumerate(itertools.pairwise(sizes)):
        lin = torch.nn.Linear(d_in, d_out, dtype=torch.float64 if dtype == np.float64 else None)
        with torch.no_grad():
            lin.weight.copy_(t(np.ascontiguousarray(model.params[f"layer{i}.W"].T)))
            lin.bias.copy_(t(np.array(model.params[f"layer{i}.b"])))
        layers.append(lin)
        if i < len(sizes) - 2:
            layers.append(torch.nn.ReLU())
    return torch.nn.Sequential(*layers)


def _torch_optimiser(name: str, net: Any) -> Any:
    weights = [p for n, p in net.named_parameters() if n.endswith("weight")]
    biases = [p for n, p in net.named_parameters() if n.endswith("bias")]
    groups = [{"params": weights}, {"params": biases, "weight_decay": 0.0}]
    if name == "nesterov":
        return torch.optim.SGD(groups, lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-3)
    return torch.optim.AdamW(groups, lr=0.01, weight_decay=1e-2)


def _numdl_optimiser(name: str, model: MLP) -> Any:
    if name == "nesterov":
        return SGD(model.params, lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-3)
    return AdamW(model.params, lr=0.01, weight_decay=1e-2)


@pytest.mark.parametrize("opt_name", ["nesterov", "adamw"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_mlp_training_matches_torch(dtype: Any, opt_name: str) -> None:
    rng = np.random.default_rng(7)
    model = MLP([12, 16, 4], dtype=dtype, seed=8)
    net = _torch_mlp(model, dtype)
    opt, topt = _numdl_optimiser(opt_name, model), _torch_optimiser(opt_name, net)
    batches = [
        (rng.standard_normal((20, 12)).astype(dtype), rng.integers(0, 4, size=20))
        for _ in range(10)
    ]
    for step, (x, y) in enumerate(batches):
        logits = model.forward(x)
        loss, dlogits = numdl.cross_entropy(logits, y, return_grad=True)
        model.backward(dlogits)
        opt.step()

        topt.zero_grad()
        tloss = F.cross_entropy(net(t(x)), torch.tensor(y))
        tloss.backward()
        topt.step()
        close(loss, tloss, dtype, f"loss at step {step}")

    lin0, lin1 = net[0], net[2]
    close(model.params["layer0.W"], lin0.weight.T, dtype, "layer0.W")
    close(model.params["layer0.b"], lin0.bias, dtype, "layer0.b")
    close(model.params["layer1.W"], lin1.weight.T, dtype, "layer1.W")
    close(model.params["layer1.b"], lin1.bias, dtype, "layer1.b")
    # training moved the parameters (the comparison is not of two untouched copies)
    assert not np.allclose(
        model.params["layer0.W"], MLP([12, 16, 4], dtype=dtype, seed=8).params["layer0.W"]
    )
