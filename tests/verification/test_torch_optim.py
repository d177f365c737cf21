"""Adam, RMSProp, AdaGrad, gradient clipping and the L1 penalty against PyTorch.

The optimisers run 200 steps on one flat parameter buffer (a decayed weight and an
undecayed bias, as torch parameter groups with and without ``weight_decay``) on the same
gradient sequence, on the reference (numpy) and the fused (numba) backend, and the
parameters are compared after every step. Tolerances (normwise relative error,
max|a − b| / max|b|), as in ``test_torch.py``: float64 1e-10, float32 1e-5. The largest
errors measured are ~3e-16 (float64) and ~2e-7 (float32, RMSProp with momentum): the
updates are the same formulas with a few operations rounded in another order, and these
optimisers normalise the step, so the errors do not compound over the 200 steps.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip(
    "torch",
    reason="PyTorch not installed (extra 'torch'); verification against torch.optim skipped",
)
F = torch.nn.functional

import numdl  # noqa: E402
from numdl.nn.models import MLP  # noqa: E402
from numdl.nn.params import Parameters, ParamSpec  # noqa: E402
from numdl.nn.regularization import add_l1_subgradient, l1_penalty  # noqa: E402
from numdl.optim import SGD, AdaGrad, Adam, RMSProp, clip_grad_norm  # noqa: E402

TOL = {np.float64: 1e-10, np.float32: 1e-5}
DTYPES = [pytest.param(np.float64, id="f64"), pytest.param(np.float32, id="f32")]
BACKENDS = ["numpy", "numba"]
STEPS = 200


def close(a: Any, b: Any, dtype: Any, what: str = "") -> None:
    """max|a − b| ≤ tol · max|b| (b the torch value)."""
    a = np.asarray(a.detach().numpy() if isinstance(a, torch.Tensor) else a, dtype=np.float64)
    b = np.asarray(b.detach().numpy() if isinstance(b, torch.Tensor) else b, dtype=np.float64)
    assert a.shape == b.shape, what
    scale = max(float(np.abs(b).max(initial=0.0)), np.finfo(np.float64).tiny)
    err = float(np.abs(a - b).max(initial=0.0)) / scale
    assert err <= TOL[dtype], f"{what}: relative error {err:.2e} > {TOL[dtype]:.0e}"


def t(x: Any) -> Any:
    return torch.tensor(np.array(x, copy=True))


@pytest.fixture(autouse=True)
def _torch_threads():
    prev = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(prev)


# ------------------------------------------------------------------------ optimisers
#: name -> (numdl optimiser, torch optimiser over param groups), the same hyperparameters
OPTIMISERS: dict[str, tuple[Callable[[Any], Any], Callable[[Any], Any]]] = {
    "adam": (
        lambda p: Adam(p, lr=0.01, betas=(0.9, 0.99), eps=1e-8, weight_decay=0.05),
        lambda g: torch.optim.Adam(g, lr=0.01, betas=(0.9, 0.99), eps=1e-8, weight_decay=0.05),
    ),
    "adam_defaults": (
        lambda p: Adam(p),
        lambda g: torch.optim.Adam(g),
    ),
    "rmsprop": (
        lambda p: RMSProp(p, lr=0.01, alpha=0.9, eps=1e-8, weight_decay=0.05),
        lambda g: torch.optim.RMSprop(g, lr=0.01, alpha=0.9, eps=1e-8, weight_decay=0.05),
    ),
    "rmsprop_momentum": (
        lambda p: RMSProp(p, lr=0.005, momentum=0.9, weight_decay=0.05),
        lambda g: torch.optim.RMSprop(g, lr=0.005, momentum=0.9, weight_decay=0.05),
    ),
    "adagrad": (
        lambda p: AdaGrad(p, lr=0.1, eps=1e-10, weight_decay=0.05),
        lambda g: torch.optim.Adagrad(g, lr=0.1, eps=1e-10, weight_decay=0.05),
    ),
}


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", sorted(OPTIMISERS))
@pytest.mark.parametrize("dtype", DTYPES)
def test_optimiser_matches_torch_over_many_steps(dtype: Any, name: str, backend: str) -> None:
    make, make_torch = OPTIMISERS[name]
    rng = np.random.default_rng(12)
    with numdl.use_backend(backend):
        params = Parameters([ParamSpec("W", (6, 5), True), ParamSpec("b", (5,), False)], dtype)
        params.data[:] = rng.standard_normal(params.data.size)
        n_w = params.n_decayed
        opt = make(params)
        tw = torch.nn.Parameter(t(params.data[:n_w]))
        tb = torch.nn.Parameter(t(params.data[n_w:]))
        topt = make_torch([{"params": [tw]}, {"params": [tb], "weight_decay": 0.0}])
        start = params.data.copy()
        for step in range(STEPS):
            # gradients of changing scale, so the adaptive scalings matter
            g = (rng.standard_normal(params.data.size) * (1 + step % 7)).astype(dtype)
            params.grad[:] = g
            opt.step()
            tw.grad, tb.grad = t(g[:n_w]), t(g[n_w:])
            topt.step()
            close(params.data[:n_w], tw, dtype, f"weights after step {step + 1}")
            close(params.data[n_w:], tb, dtype, f"bias after step {step + 1}")
        assert opt.steps == STEPS
        assert np.abs(params.data - start).max() > 1e-2  # the parameters did move


@pytest.mark.parametrize("dtype", DTYPES)
def test_adam_coupled_decay_differs_from_adamw(dtype: Any) -> None:
    """Adam's L2 term goes through the moments: after a few steps torch's Adam and AdamW
    part, and numdl's Adam follows torch's Adam (not AdamW)."""
    rng = np.random.default_rng(3)
    w0 = rng.standard_normal((4, 3)).astype(dtype)
    w = w0.copy()
    opt = Adam({"W": w}, lr=0.05, weight_decay=0.5)
    tw, tw_decoupled = torch.nn.Parameter(t(w0)), torch.nn.Parameter(t(w0))
    topt = torch.optim.Adam([tw], lr=0.05, weight_decay=0.5)
    topt_w = torch.optim.AdamW([tw_decoupled], lr=0.05, weight_decay=0.5)
    for _ in range(20):
        g = rng.standard_normal((4, 3)).astype(dtype)
        opt.step({"W": g})
        tw.grad, tw_decoupled.grad = t(g), t(g)
        topt.step()
        topt_w.step()
    close(w, tw, dtype, "Adam")
    assert np.abs(w - tw_decoupled.detach().numpy()).max() > 1e-3


# -------------------------------------------------------------------------- clipping
@pytest.mark.parametrize("max_norm", [0.5, 3.0, 1e3])
@pytest.mark.parametrize("dtype", DTYPES)
def test_clip_grad_norm_matches_torch(dtype: Any, max_norm: float) -> None:
    rng = np.random.default_rng(5)
    shapes = [(7, 3), (3,), (3, 2), (2,)]
    grads = [rng.standard_normal(s).astype(dtype) for s in shapes]
    tparams = [torch.nn.Parameter(t(np.zeros(s, dtype))) for s in shapes]
    for p, g in zip(tparams, grads, strict=True):
        p.grad = t(g)
    norm = clip_grad_norm(grads, max_norm)
    tnorm = torch.nn.utils.clip_grad_norm_(tparams, max_norm)
    close(norm, tnorm, dtype, "norm")
    for i, (g, p) in enumerate(zip(grads, tparams, strict=True)):
        close(g, p.grad, dtype, f"gradient {i}")


@pytest.mark.parametrize("dtype", DTYPES)
def test_clip_grad_norm_of_a_model_buffer_matches_torch(dtype: Any) -> None:
    model = MLP([9, 6, 4], dtype=dtype, seed=1)
    rng = np.random.default_rng(2)
    model.params.grad[:] = 10 * rng.standard_normal(model.params.grad.size)
    tparams = [torch.nn.Parameter(t(model.params[n])) for n in model.params]
    for name, p in zip(model.params, tparams, strict=True):
        p.grad = t(model.params.grad_of(name))
    norm = clip_grad_norm(model.params, 1.0)
    close(norm, torch.nn.utils.clip_grad_norm_(tparams, 1.0), dtype, "norm")
    for name, p in zip(model.params, tparams, strict=True):
        close(model.params.grad_of(name), p.grad, dtype, name)
    assert abs(float(np.linalg.norm(model.params.grad)) - 1.0) < 1e-5


# ---------------------------------------------------------- L1 + clipping in training
def _torch_mlp(model: MLP, dtype: Any) -> Any:
    sizes = model.config["sizes"]
    layers: list[Any] = []
    for i, (d_in, d_out) in enumerate(itertools.pairwise(sizes)):
        lin = torch.nn.Linear(d_in, d_out, dtype=torch.float64 if dtype == np.float64 else None)
        with torch.no_grad():
            lin.weight.copy_(t(np.ascontiguousarray(model.params[f"layer{i}.W"].T)))
            lin.bias.copy_(t(model.params[f"layer{i}.b"]))
        layers.append(lin)
        if i < len(sizes) - 2:
            layers.append(torch.nn.ReLU())
    return torch.nn.Sequential(*layers)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_l1_and_clipping_in_training_match_torch(dtype: Any, backend: str) -> None:
    """The training loop's order: backward, + λ·sign(w) on the weights, clip, step. Torch
    gets λ‖w‖₁ in its loss (autograd: λ·sign(w)), clip_grad_norm_, then the same Adam."""
    lam, max_norm = 0.01, 0.75
    rng = np.random.default_rng(7)
    with numdl.use_backend(backend):
        model = MLP([12, 16, 4], dtype=dtype, seed=8)
        net = _torch_mlp(model, dtype)
        opt = Adam(model.params, lr=0.01)
        topt = torch.optim.Adam(net.parameters(), lr=0.01)
        weights = [p for n, p in net.named_parameters() if n.endswith("weight")]
        scratch = np.empty(model.params.n_decayed, dtype)
        clipped = 0
        for step in range(30):
            x, y = rng.standard_normal((20, 12)).astype(dtype), rng.integers(0, 4, size=20)
            loss, dlogits = numdl.cross_entropy(model.forward(x), y, return_grad=True)
            penalty = l1_penalty(model.params, lam)
            model.backward(dlogits, overwrite_grad=True)
            add_l1_subgradient(model.params, lam, scratch=scratch)
            norm = clip_grad_norm(model.params, max_norm)
            opt.step()

            topt.zero_grad()
            tpenalty = lam * sum(w.abs().sum() for w in weights)
            tloss = F.cross_entropy(net(t(x)), torch.tensor(y))
            (tloss + tpenalty).backward()
            tnorm = torch.nn.utils.clip_grad_norm_(net.parameters(), max_norm)
            topt.step()
            close(loss, tloss, dtype, f"loss at step {step}")
            close(penalty, tpenalty, dtype, f"L1 penalty at step {step}")
            close(norm, tnorm, dtype, f"gradient norm at step {step}")
            clipped += norm > max_norm
    assert 0 < clipped < 30, clipped  # some steps were clipped, some not
    for i in range(2):
        close(model.params[f"layer{i}.W"], net[2 * i].weight.T, dtype, f"layer{i}.W")
        close(model.params[f"layer{i}.b"], net[2 * i].bias, dtype, f"layer{i}.b")


@pytest.mark.parametrize("dtype", DTYPES)
def test_l1_subgradient_matches_torch_autograd_with_sgd(dtype: Any) -> None:
    """A zero weight gets subgradient 0 from both (torch: d|w|/dw at 0 is 0)."""
    params = Parameters([ParamSpec("W", (3, 4), True), ParamSpec("b", (4,), False)], dtype)
    rng = np.random.default_rng(1)
    params.data[:] = rng.standard_normal(params.data.size)
    params.data[[0, 5]] = 0.0
    tw = torch.nn.Parameter(t(params.data[:12]))
    tb = torch.nn.Parameter(t(params.data[12:]))
    opt = SGD(params, lr=0.1)
    topt = torch.optim.SGD([tw, tb], lr=0.1)
    for _ in range(5):
        g = rng.standard_normal(params.data.size).astype(dtype)
        params.grad[:] = g
        add_l1_subgradient(params, 0.3)
        opt.step()
        topt.zero_grad()
        (0.3 * tw.abs().sum() + (tw * t(g[:12])).sum() + (tb * t(g[12:])).sum()).backward()
        topt.step()
        close(params.data[:12], tw, dtype, "W")
        close(params.data[12:], tb, dtype, "b")
