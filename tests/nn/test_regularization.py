"""The L1 penalty λ‖w‖₁ (§7.1.2, eqs. 7.18–7.20): value, subgradient, arguments, effect.

(L2's tests are in ``tests/optim/test_optim.py``, beside the optimisers that apply it; the
L1 gradient is checked against central differences in ``tests/nn/test_gradients.py``.)
"""

from __future__ import annotations

import numpy as np
import pytest

import numdl
from numdl.nn.losses import SoftmaxCrossEntropy
from numdl.nn.models import MLP
from numdl.nn.params import Parameters, ParamSpec
from numdl.nn.regularization import add_l1_subgradient, l1_gradient, l1_penalty
from numdl.optim import SGD


def _params(dtype=np.float64) -> Parameters:
    p = Parameters([ParamSpec("W", (2, 2), True), ParamSpec("b", (2,), False)], dtype)
    p.data[:] = [1.0, -2.0, 0.0, 0.5, 7.0, -7.0]  # W = [[1, −2], [0, 0.5]], b = [7, −7]
    return p


def test_penalty_sums_the_absolute_weights_only() -> None:
    # λ Σ|w| = 0.1 · (1 + 2 + 0 + 0.5) = 0.35; the biases (14 in all) do not count
    assert l1_penalty(_params(), 0.1) == pytest.approx(0.35, rel=1e-15)
    arrays = {"layer.W": np.array([[1.0, -2.0], [0.0, 0.5]]), "layer.b": np.array([7.0, -7.0])}
    assert l1_penalty(arrays, 0.1) == pytest.approx(0.35, rel=1e-15)
    assert l1_penalty(arrays, 0.0) == 0.0


def test_gradient_is_lambda_sign_w_and_zero_for_biases() -> None:
    arrays = {"layer.W": np.array([[1.0, -2.0], [0.0, 0.5]]), "layer.b": np.array([7.0, -7.0])}
    grads = l1_gradient(arrays, 0.1)
    np.testing.assert_array_equal(grads["layer.W"], [[0.1, -0.1], [0.0, 0.1]])  # sign(0) = 0
    np.testing.assert_array_equal(grads["layer.b"], [0.0, 0.0])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("scratch", [False, True])
def test_add_l1_subgradient_adds_to_the_weight_gradients_in_place(dtype, scratch) -> None:
    p = _params(dtype)
    p.grad[:] = 1.0
    buf = np.empty(p.n_decayed, dtype) if scratch else None
    add_l1_subgradient(p, 0.25, scratch=buf)
    np.testing.assert_array_equal(p.grad, np.array([1.25, 0.75, 1.0, 1.25, 1.0, 1.0], dtype))
    np.testing.assert_array_equal(p.data, _params(dtype).data)  # the parameters are untouched


@pytest.mark.parametrize(
    ("kwargs", "exc", "pattern"),
    [
        ({"lam": -0.1}, ValueError, r"^lam must be >= 0"),
        ({"lam": np.nan}, ValueError, r"^lam must be finite"),
        ({"lam": "0.1"}, TypeError, r"^lam must be a real number"),
        ({"lam": 1e39, "dtype": np.float32}, ValueError, r"^lam=1e\+39 overflows to inf"),
        ({"scratch": np.empty(3)}, ValueError, r"^scratch must have shape \(4,\)"),
        ({"scratch": np.empty(4, np.float32)}, TypeError, r"^scratch must have the dtype"),
        ({"scratch": "grad"}, ValueError, r"^scratch and grad must not share memory"),
    ],
)
def test_rejected_arguments_write_nothing(kwargs, exc, pattern) -> None:
    p = _params(kwargs.pop("dtype", np.float64))
    p.grad[:] = 1.0
    if isinstance(kwargs.get("scratch"), str):  # a view of the gradient itself
        kwargs["scratch"] = p.grad[:4]
    with pytest.raises(exc, match=pattern):
        add_l1_subgradient(p, **{"lam": 0.1, **kwargs})
    np.testing.assert_array_equal(p.grad, 1.0)
    with pytest.raises(TypeError, match=r"^params must be Parameters, got dict"):
        add_l1_subgradient({"W": np.ones((2, 2))}, 0.1)


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_l1_drives_useless_weights_to_zero(backend: str) -> None:
    """Only feature 0 carries the label; the other 9 are noise. Trained alike (the training
    loop's order: backward, + λ sign(w), step), L1 leaves the first layer's weights on the
    noise features far smaller, and the first layer sparser, than training without it."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((512, 10))
    y = (x[:, 0] > 0).astype(np.int64)

    def train(lam: float) -> np.ndarray:
        with numdl.use_backend(backend):
            model = MLP([10, 8, 2], seed=1, dtype=np.float64)
            opt, loss_fn = SGD(model.params, lr=0.1), SoftmaxCrossEntropy()
            for _ in range(300):
                _, dlogits = loss_fn(model.forward(x), y)
                model.backward(dlogits, overwrite_grad=True)
                if lam:
                    add_l1_subgradient(model.params, lam)
                opt.step()
            assert float(loss_fn(model.forward(x, train=False), y)[0]) < 0.3  # it learned
            return np.array(model.params["layer0.W"])

    plain, sparse = train(0.0), train(0.01)
    noise_plain, noise_sparse = np.abs(plain[1:]).mean(), np.abs(sparse[1:]).mean()
    assert noise_sparse < 0.25 * noise_plain, (noise_sparse, noise_plain)
    assert (np.abs(sparse) < 1e-2).mean() > 0.5 > (np.abs(plain) < 1e-2).mean()
