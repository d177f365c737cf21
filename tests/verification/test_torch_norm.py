"""BatchNorm, LayerNorm and Dropout against torch.nn (BatchNorm1d, LayerNorm, inverted dropout).

Forward, backward (dx, dγ, dβ), BatchNorm's running statistics over several steps and its
evaluation mode, on the numpy and numba backends. Tolerances (normwise relative error,
max|a − b| / max|b|): float64 1e-10, float32 1e-5 (as tests/verification/test_torch.py).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip(
    "torch",
    reason="PyTorch not installed (extra 'torch'); verification against torch.nn skipped",
)

import numdl  # noqa: E402
from numdl.nn import MLP, BatchNorm, Dropout, LayerNorm, Sequential  # noqa: E402

TOL = {np.float64: 1e-10, np.float32: 1e-5}
DTYPES = [pytest.param(np.float64, id="f64"), pytest.param(np.float32, id="f32")]
BACKENDS = ["numpy", "numba"]


def close(a: Any, b: Any, dtype: Any, what: str = "") -> None:
    """max|a − b| ≤ tol · max|b| (b the torch value)."""
    a = np.asarray(a.detach().numpy() if isinstance(a, torch.Tensor) else a, dtype=np.float64)
    b = np.asarray(b.detach().numpy() if isinstance(b, torch.Tensor) else b, dtype=np.float64)
    assert a.shape == b.shape, what
    scale = max(float(np.abs(b).max(initial=0.0)), np.finfo(np.float64).tiny)
    err = float(np.abs(a - b).max(initial=0.0)) / scale
    assert err <= TOL[dtype], f"{what}: relative error {err:.2e} > {TOL[dtype]:.0e}"


def _torch_dtype(dtype: Any) -> Any:
    return torch.float64 if dtype == np.float64 else torch.float32


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("relu", [False, True])
@pytest.mark.parametrize("dtype", DTYPES)
def test_batchnorm_matches_batchnorm1d_over_steps(backend: str, relu: bool, dtype: Any) -> None:
    rng = np.random.default_rng(0)
    f = 12
    with numdl.use_backend(backend):
        model = Sequential([BatchNorm(f, momentum=0.1, eps=1e-5, relu=relu)], dtype=dtype)
        bn = model.layers[0]
        gamma, beta = 1 + 0.3 * rng.standard_normal(f), 0.2 * rng.standard_normal(f)
        bn.gamma[...], bn.beta[...] = gamma, beta
        ref = torch.nn.BatchNorm1d(f, eps=1e-5, momentum=0.1).to(_torch_dtype(dtype))
        with torch.no_grad():
            ref.weight.copy_(torch.from_numpy(gamma))
            ref.bias.copy_(torch.from_numpy(beta))
        for step in range(4):
            x = (2 + 3 * rng.standard_normal((16, f))).astype(dtype)
            g = rng.standard_normal((16, f)).astype(dtype)
            xt = torch.tensor(x, requires_grad=True)
            ref.weight.grad = ref.bias.grad = None
            yt = ref(xt)
            yt = torch.relu(yt) if relu else yt
            yt.backward(torch.from_numpy(g))
            y = model.forward(x)
            close(y, yt, dtype, f"forward, step {step}")
            dx = model.backward(g, compute_dx=True)
            close(dx, xt.grad, dtype, f"dx, step {step}")
            close(bn.dgamma, ref.weight.grad, dtype, f"dgamma, step {step}")
            close(bn.dbeta, ref.bias.grad, dtype, f"dbeta, step {step}")
            close(bn.running_mean, ref.running_mean, dtype, f"running mean, step {step}")
            close(bn.running_var, ref.running_var, dtype, f"running var, step {step}")
        x = rng.standard_normal((5, f)).astype(dtype)
        ref.eval()
        expected = ref(torch.from_numpy(x))
        close(model.forward(x, train=False), torch.relu(expected) if relu else expected, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_layernorm_matches_torch(dtype: Any) -> None:
    rng = np.random.default_rng(1)
    f = 10
    model = Sequential([LayerNorm(f)], dtype=dtype)
    ln = model.layers[0]
    gamma, beta = 1 + 0.3 * rng.standard_normal(f), 0.2 * rng.standard_normal(f)
    ln.gamma[...], ln.beta[...] = gamma, beta
    ref = torch.nn.LayerNorm(f, eps=1e-5).to(_torch_dtype(dtype))
    with torch.no_grad():
        ref.weight.copy_(torch.from_numpy(gamma))
        ref.bias.copy_(torch.from_numpy(beta))
    x = (1 + 2 * rng.standard_normal((7, f))).astype(dtype)
    g = rng.standard_normal((7, f)).astype(dtype)
    xt = torch.tensor(x, requires_grad=True)
    yt = ref(xt)
    yt.backward(torch.from_numpy(g))
    close(model.forward(x), yt, dtype, "forward")
    close(model.backward(g, compute_dx=True), xt.grad, dtype, "dx")
    close(ln.dgamma, ref.weight.grad, dtype, "dgamma")
    close(ln.dbeta, ref.bias.grad, dtype, "dbeta")
    close(model.forward(x, train=False), yt, dtype, "eval")


@pytest.mark.parametrize("dtype", DTYPES)
def test_dropout_is_torch_dropout_with_the_same_mask(dtype: Any) -> None:
    """Inverted dropout: y = x ⊙ m/(1 − p); torch's mask recovered from its output."""
    rng = np.random.default_rng(2)
    x = (rng.random((30, 20)) + 0.5).astype(dtype)  # no zeros: the mask shows in y
    g = rng.standard_normal((30, 20)).astype(dtype)
    model = Sequential([Dropout(0.3, seed=5)], dtype=dtype)
    y = model.forward(x)
    keep = y != 0
    xt = torch.tensor(x, requires_grad=True)
    yt = torch.nn.functional.dropout(xt, p=0.3, training=True)
    # torch's own mask differs; apply ours to torch's formula by masking its kept units
    torch_keep = (yt != 0).detach().numpy()
    both = keep & torch_keep
    close(y[both], yt.detach().numpy()[both], dtype, "kept units are scaled by 1/(1 - p)")
    yt.backward(torch.from_numpy(g))
    dx = model.backward(g, compute_dx=True)
    close(dx[both], xt.grad.numpy()[both], dtype, "dx of kept units")
    assert (dx[~keep] == 0).all()


@pytest.mark.parametrize("dtype", DTYPES)
def test_mlp_with_batchnorm_matches_torch_sequential(dtype: Any) -> None:
    """MLP(norm="batch") = Linear, BatchNorm1d, ReLU, Linear: logits and every gradient."""
    rng = np.random.default_rng(3)
    model = MLP([6, 8, 4], norm="batch", dtype=dtype, seed=0)
    w0, b0 = model.params["layer0.W"], model.params["layer0.b"]
    w2, b2 = model.params["layer2.W"], model.params["layer2.b"]
    td = _torch_dtype(dtype)
    lin0, bn, lin2 = torch.nn.Linear(6, 8), torch.nn.BatchNorm1d(8), torch.nn.Linear(8, 4)
    ref = torch.nn.Sequential(lin0, bn, torch.nn.ReLU(), lin2).to(td)
    with torch.no_grad():
        lin0.weight.copy_(torch.from_numpy(w0.T.copy()))
        lin0.bias.copy_(torch.from_numpy(b0))
        lin2.weight.copy_(torch.from_numpy(w2.T.copy()))
        lin2.bias.copy_(torch.from_numpy(b2))
    x = rng.standard_normal((10, 6)).astype(dtype)
    g = rng.standard_normal((10, 4)).astype(dtype)
    out = ref(torch.from_numpy(x))
    out.backward(torch.from_numpy(g))
    close(model.forward(x), out, dtype, "logits")
    model.backward(g)
    close(model.params.grad_of("layer0.W"), lin0.weight.grad.T, dtype, "dW0")
    close(model.params.grad_of("layer1.gamma"), bn.weight.grad, dtype, "dgamma")
    close(model.params.grad_of("layer1.beta"), bn.bias.grad, dtype, "dbeta")
    close(model.params.grad_of("layer2.W"), lin2.weight.grad.T, dtype, "dW2")
