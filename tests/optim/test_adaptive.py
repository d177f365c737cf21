"""Adam (Alg. 8.7), RMSProp (Alg. 8.5) and AdaGrad (Alg. 8.4): steps, decay, state, checks.

The expected trajectories come from the algorithms written out per scalar in the
textbook's notation (s, r, ρ, δ), independently of the vectorised reference and the kernels;
closed forms check what the algorithms are for (AdaGrad's η/√t steps, Adam's bias correction).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

import numdl
from numdl.nn.models import MLP
from numdl.nn.params import Parameters, ParamSpec
from numdl.optim import AdaGrad, Adam, AdamW, RMSProp, make_optimizer

BACKENDS = ["numpy", "numba"]
THETA0 = [1.0, -2.0, 0.5]
GRADS = [[0.5, -1.0, 0.0], [0.25, 0.5, -2.0], [-1.0, 0.1, 3.0], [0.0, 0.0, 1.0]]


def _textbook(update: Any, decay: float, steps: list[list[float]]) -> list[list[float]]:
    """θ per step from ``update(θ, g, state, t)`` applied entry by entry, in Python floats;
    the L2 gradient λθ is added to g first (weights only: here every entry is a weight)."""
    theta = list(THETA0)
    states: list[dict[str, float]] = [{} for _ in theta]
    out = []
    for t, grads in enumerate(steps, 1):
        for i, g in enumerate(grads):
            theta[i] = update(theta[i], g + decay * theta[i], states[i], t)
        out.append(list(theta))
    return out


def _adam(lr: float, rho1: float, rho2: float, delta: float) -> Any:
    def update(theta: float, g: float, st: dict[str, float], t: int) -> float:
        st["s"] = rho1 * st.get("s", 0.0) + (1 - rho1) * g  # biased first moment
        st["r"] = rho2 * st.get("r", 0.0) + (1 - rho2) * g * g  # biased second moment
        s_hat, r_hat = st["s"] / (1 - rho1**t), st["r"] / (1 - rho2**t)
        return theta - lr * s_hat / (math.sqrt(r_hat) + delta)

    return update


def _rmsprop(lr: float, rho: float, delta: float, mu: float = 0.0) -> Any:
    def update(theta: float, g: float, st: dict[str, float], t: int) -> float:
        st["r"] = rho * st.get("r", 0.0) + (1 - rho) * g * g
        step = g / (math.sqrt(st["r"]) + delta)
        if mu:
            st["b"] = mu * st.get("b", 0.0) + step
            step = st["b"]
        return theta - lr * step

    return update


def _adagrad(lr: float, delta: float) -> Any:
    def update(theta: float, g: float, st: dict[str, float], t: int) -> float:
        st["r"] = st.get("r", 0.0) + g * g
        return theta - lr * g / (math.sqrt(st["r"]) + delta)

    return update


CASES = {
    "adam": (
        lambda p: Adam(p, lr=0.1, betas=(0.8, 0.9), eps=1e-3, weight_decay=0.2),
        _adam(0.1, 0.8, 0.9, 1e-3),
    ),
    "rmsprop": (
        lambda p: RMSProp(p, lr=0.1, alpha=0.7, eps=1e-3, weight_decay=0.2),
        _rmsprop(0.1, 0.7, 1e-3),
    ),
    "rmsprop_momentum": (
        lambda p: RMSProp(p, lr=0.1, alpha=0.7, eps=1e-3, weight_decay=0.2, momentum=0.5),
        _rmsprop(0.1, 0.7, 1e-3, mu=0.5),
    ),
    "adagrad": (
        lambda p: AdaGrad(p, lr=0.1, eps=1e-3, weight_decay=0.2),
        _adagrad(0.1, 1e-3),
    ),
}


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", sorted(CASES))
def test_steps_follow_the_textbook_algorithm(name: str, backend: str) -> None:
    make, update = CASES[name]
    want = _textbook(update, 0.2, GRADS)
    with numdl.use_backend(backend):
        theta = np.array([THETA0])  # a 1×3 weight: decayed
        opt = make({"W": theta})
        for step, g in enumerate(GRADS):
            opt.step({"W": np.array([g])})
            np.testing.assert_allclose(theta[0], want[step], rtol=1e-14, err_msg=f"step {step}")


@pytest.mark.parametrize("name", sorted(CASES))
def test_biases_are_not_decayed(name: str) -> None:
    make, update = CASES[name]
    want = _textbook(update, 0.0, GRADS)
    bias = np.array(THETA0)  # 1-D: not a weight
    opt = make({"b": bias})
    for g in GRADS:
        opt.step({"b": np.array(g)})
    np.testing.assert_allclose(bias, want[-1], rtol=1e-14)


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_flat_buffer_decays_only_its_weights(name: str) -> None:
    """With zero loss gradients, only the decayed prefix (the weights) moves."""
    make, _ = CASES[name]
    params = Parameters([ParamSpec("W", (2, 2), True), ParamSpec("b", (2,), False)], np.float64)
    params.data[:] = np.arange(1.0, 7.0)
    opt = make(params)
    for _ in range(3):
        params.grad[:] = 0.0
        opt.step()
    assert np.all(np.abs(params["W"]) < np.abs(np.arange(1.0, 5.0).reshape(2, 2)))
    np.testing.assert_array_equal(params["b"], [5.0, 6.0])


def test_adagrad_steps_shrink_as_one_over_root_t() -> None:
    """A constant gradient g gives r_t = t g², so step t moves η g/(√t |g| + δ) (Alg. 8.4)."""
    theta = np.zeros(2)
    opt = AdaGrad([theta], lr=0.5, eps=1e-10)
    g = np.array([2.0, -0.25])
    for t in range(1, 51):
        before = theta.copy()
        opt.step([g])
        np.testing.assert_allclose(
            before - theta, 0.5 * g / (math.sqrt(t) * np.abs(g) + 1e-10), rtol=1e-12
        )
    np.testing.assert_allclose(opt.state["0"]["sum_sq"], 50 * g * g, rtol=1e-14)


def test_adam_bias_correction_makes_constant_gradient_steps_eta() -> None:
    """With a constant gradient, m̂ = g and v̂ = g² exactly from step 1 (Alg. 8.7's
    correction), so every step moves η·g/(|g| + δ): about η, whatever the scale of g."""
    for scale in (1e-4, 1.0, 1e4):
        theta = np.zeros(3)
        opt = Adam([theta], lr=0.01, eps=1e-12)
        g = scale * np.array([1.0, -3.0, 0.5])
        for _ in range(5):
            before = theta.copy()
            opt.step([g])
            np.testing.assert_allclose(before - theta, 0.01 * np.sign(g), rtol=1e-7)


def test_rmsprop_average_of_a_constant_gradient() -> None:
    """r_t = (1 − αᵗ) g² from r_0 = 0 (no bias correction in RMSProp)."""
    theta = np.zeros(2)
    opt = RMSProp([theta], lr=0.01, alpha=0.9)
    g = np.array([3.0, -0.5])
    for _ in range(4):
        opt.step([g])
    np.testing.assert_allclose(opt.state["0"]["square_avg"], (1 - 0.9**4) * g * g, rtol=1e-14)


def test_adam_decay_is_coupled_and_differs_from_adamw() -> None:
    """Adam's λθ passes through the moments; AdamW's decay does not. With a zero loss
    gradient Adam's first step is then η·sign(θ)·|λθ|/(|λθ| + δ) ≈ η, AdamW's ηλθ."""
    w_adam, w_adamw = np.array([[2.0, -4.0]]), np.array([[2.0, -4.0]])
    Adam({"W": w_adam}, lr=0.1, weight_decay=0.01, eps=1e-12).step({"W": np.zeros((1, 2))})
    AdamW({"W": w_adamw}, lr=0.1, weight_decay=0.01).step({"W": np.zeros((1, 2))})
    np.testing.assert_allclose(w_adam, [[1.9, -3.9]], rtol=1e-9)
    np.testing.assert_allclose(w_adamw, [[2.0 * 0.999, -4.0 * 0.999]], rtol=1e-14)


# --------------------------------------------------------------------------- state
def test_rmsprop_keeps_a_momentum_buffer_only_with_momentum() -> None:
    assert list(RMSProp([np.zeros(2)]).state["0"]) == ["square_avg"]
    with_momentum = RMSProp([np.zeros(2)], momentum=0.9)
    assert list(with_momentum.state["0"]) == ["square_avg", "momentum_buffer"]
    plain = RMSProp([np.zeros(2)])
    plain.momentum = 0.9  # the buffer cannot appear later
    with pytest.raises(ValueError, match=r"^momentum must stay 0 as at construction"):
        plain.step([np.ones(2)])
    with_momentum.momentum = 0.0
    with pytest.raises(ValueError, match=r"^momentum must stay > 0 as at construction"):
        with_momentum.step([np.ones(2)])
    np.testing.assert_array_equal(with_momentum.state["0"]["square_avg"], 0.0)  # unchanged


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", ["adam", "rmsprop", "rmsprop_momentum", "adagrad"])
def test_state_dict_resume_continues_bit_for_bit(name: str, backend: str) -> None:
    """10 steps straight equal 5 steps, state_dict → a new model and optimiser, 5 steps."""
    make, _ = CASES[name]
    rng = np.random.default_rng(0)
    grads = [rng.standard_normal(MLP([4, 3, 2]).params.data.size) for _ in range(10)]
    with numdl.use_backend(backend):
        straight = MLP([4, 3, 2], seed=1)
        opt = make(straight.params)
        for g in grads:
            straight.params.grad[:] = g
            opt.step()
        first = MLP([4, 3, 2], seed=1)
        opt1 = make(first.params)
        for g in grads[:5]:
            first.params.grad[:] = g
            opt1.step()
        saved_params, saved_opt = first.params.state_dict(), opt1.state_dict()
        resumed = MLP([4, 3, 2], seed=2)  # other weights: all must come from the state
        resumed.params.load_state_dict(saved_params)
        opt2 = make(resumed.params)
        opt2.load_state_dict(saved_opt)
        assert opt2.steps == 5
        for g in grads[5:]:
            resumed.params.grad[:] = g
            opt2.step()
        np.testing.assert_array_equal(resumed.params.data, straight.params.data)
        for key, buf in opt.state["flat"].items():
            np.testing.assert_array_equal(opt2.state["flat"][key], buf, err_msg=key)


@pytest.mark.parametrize(
    ("make", "buffer"),
    [
        (lambda p: Adam(p), "v"),
        (lambda p: RMSProp(p), "square_avg"),
        (lambda p: AdaGrad(p), "sum_sq"),
    ],
)
def test_load_rejects_a_negative_square_accumulator(make: Any, buffer: str) -> None:
    opt = make({"W": np.ones((2, 2))})
    state = opt.state_dict()
    state["buffers"][f"W/{buffer}"] = -np.ones((2, 2))
    with pytest.raises(ValueError, match=rf"^state\['buffers'\]\['W/{buffer}'\] must be >= 0"):
        opt.load_state_dict(state)
    np.testing.assert_array_equal(opt.state["W"][buffer], 0.0)


# ----------------------------------------------------------------------- arguments
@pytest.mark.parametrize(
    ("make", "exc", "pattern"),
    [
        (lambda w: Adam(w, betas=0.9), TypeError, r"^betas must be a pair"),
        (lambda w: Adam(w, betas=(0.9, 1.0)), ValueError, r"^betas\[1\] must be in"),
        (lambda w: Adam(w, lr=-1), ValueError, r"^lr must be > 0"),
        (lambda w: Adam(w, weight_decay=-1), ValueError, r"^weight_decay must be >= 0"),
        (lambda w: RMSProp(w, alpha=1.0), ValueError, r"^alpha must be in"),
        (lambda w: RMSProp(w, momentum=-0.1), ValueError, r"^momentum must be in"),
        (lambda w: RMSProp(w, eps=0), ValueError, r"^eps must be > 0"),
        (lambda w: AdaGrad(w, eps=-1e-10), ValueError, r"^eps must be > 0"),
        (lambda w: AdaGrad(w, lr="0.1"), TypeError, r"^lr must be a real number"),
        (
            lambda w: AdaGrad([w[0].astype(np.float32)], eps=1e-50),
            ValueError,
            r"^eps=1e-50 underflows to 0 in float32",
        ),
        (
            lambda w: RMSProp([w[0].astype(np.float32)], alpha=0.9999999999),
            ValueError,
            r"^alpha=0.9999999999 rounds to 1 in float32",
        ),
    ],
)
def test_construction_checks(make: Any, exc: type[Exception], pattern: str) -> None:
    with pytest.raises(exc, match=pattern):
        make([np.ones((2, 2))])


@pytest.mark.parametrize("name", ["adam", "rmsprop", "adagrad"])
def test_a_rejected_step_changes_nothing(name: str) -> None:
    w = np.ones((2, 2))
    opt = make_optimizer(name, {"W": w}, lr=0.1)
    before = {k: v.copy() for k, v in opt.state["W"].items()}
    with pytest.raises(ValueError, match=r"^grads\['W'\] must have shape \(2, 2\)"):
        opt.step({"W": np.ones(3)})
    np.testing.assert_array_equal(w, 1.0)
    assert opt.steps == 0
    for key, buf in before.items():
        np.testing.assert_array_equal(opt.state["W"][key], buf)


def test_make_optimizer_knows_the_adaptive_optimisers() -> None:
    p = {"W": np.ones((2, 2))}
    adam = make_optimizer("adam", p, lr=1e-3, betas=(0.8, 0.9), eps=1e-6, weight_decay=0.1)
    assert isinstance(adam, Adam)
    assert (adam.beta1, adam.beta2, adam.eps, adam.weight_decay) == (0.8, 0.9, 1e-6, 0.1)
    # a configuration's SGD momentum is not RMSProp's: the factory's RMSProp has none
    rms = make_optimizer("rmsprop", p, lr=1e-3, momentum=0.9, alpha=0.95)
    assert isinstance(rms, RMSProp)
    assert (rms.momentum, rms.alpha) == (0.0, 0.95)
    ada = make_optimizer("adagrad", p, lr=1e-2, eps=1e-8, weight_decay=0.01)
    assert isinstance(ada, AdaGrad)
    assert (ada.eps, ada.weight_decay) == (1e-8, 0.01)
    with pytest.raises(ValueError, match="'adam', 'rmsprop', 'adagrad', got 'adamax'"):
        make_optimizer("adamax", p, lr=0.1)
