"""Optimisers (eqs. 22–24, AdamW), learning-rate schedules (eq. 25), L2 regularisation (eq. 20).

Expected optimiser trajectories are written out by hand (float64, two steps) from
θ₀ = [1, −2], g₁ = [0.5, −1], g₂ = [0.25, 0.5], η = 0.1.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np
import pytest

from numdl.nn.params import Parameters, ParamSpec
from numdl.nn.regularization import is_weight, l2_gradient, l2_penalty
from numdl.optim import SGD, AdamW, make_optimizer
from numdl.optim.schedules import ConstantLR, CosineWarmupLR, StepLR, make_schedule

P0 = [1.0, -2.0]
G1 = [0.5, -1.0]
G2 = [0.25, 0.5]
LR = 0.1


def _run(make: Any, decayed: bool) -> list[np.ndarray]:
    """Two steps on θ₀ (as a decayed 1×2 weight "W" or an undecayed vector "b")."""
    name, theta = ("W", np.array([P0])) if decayed else ("b", np.array(P0))
    opt = make({name: theta})
    out = []
    for g in (G1, G2):
        opt.step({name: np.reshape(g, theta.shape)})
        out.append(theta.ravel().copy())
    return out


def _check(got: list[np.ndarray], want: list[list[float]]) -> None:
    for step, (g, w) in enumerate(zip(got, want, strict=True), 1):
        np.testing.assert_allclose(g, w, rtol=1e-13, atol=1e-15, err_msg=f"step {step}")


# ---------------------------------------------------------------- hand-computed steps
def test_sgd_hand_computed() -> None:
    # θ ← θ − η g (eq. 22)
    # θ₁ = [1 − 0.05, −2 + 0.1] = [0.95, −1.9]
    # θ₂ = [0.95 − 0.025, −1.9 − 0.05] = [0.925, −1.95]
    _check(_run(lambda p: SGD(p, lr=LR), decayed=False), [[0.95, -1.9], [0.925, -1.95]])


def test_momentum_hand_computed() -> None:
    # v ← βv + g (eq. 23), θ ← θ − ηv (eq. 24), β = 0.9
    # v₁ = [0.5, −1]                     θ₁ = [0.95, −1.9]
    # v₂ = [0.45 + 0.25, −0.9 + 0.5] = [0.7, −0.4]
    # θ₂ = [0.95 − 0.07, −1.9 + 0.04] = [0.88, −1.86]
    got = _run(lambda p: SGD(p, lr=LR, momentum=0.9), decayed=False)
    _check(got, [[0.95, -1.9], [0.88, -1.86]])


def test_nesterov_hand_computed() -> None:
    # v ← βv + g, θ ← θ − η(βv + g), β = 0.9
    # v₁ = [0.5, −1];  βv₁ + g₁ = [0.95, −1.9];  θ₁ = [1 − 0.095, −2 + 0.19] = [0.905, −1.81]
    # v₂ = [0.7, −0.4]; βv₂ + g₂ = [0.63 + 0.25, −0.36 + 0.5] = [0.88, 0.14]
    # θ₂ = [0.905 − 0.088, −1.81 − 0.014] = [0.817, −1.824]
    got = _run(lambda p: SGD(p, lr=LR, momentum=0.9, nesterov=True), decayed=False)
    _check(got, [[0.905, -1.81], [0.817, -1.824]])


def test_momentum_weight_decay_hand_computed() -> None:
    # g ← ∇ + λθ (eq. 21) with λ = 0.1, then momentum β = 0.9 on the 2-D weight "W"
    # g₁ = [0.5 + 0.1, −1 − 0.2] = [0.6, −1.2];  v₁ = g₁;  θ₁ = [0.94, −1.88]
    # g₂ = [0.25 + 0.094, 0.5 − 0.188] = [0.344, 0.312]
    # v₂ = [0.54 + 0.344, −1.08 + 0.312] = [0.884, −0.768]
    # θ₂ = [0.94 − 0.0884, −1.88 + 0.0768] = [0.8516, −1.8032]
    got = _run(lambda p: SGD(p, lr=LR, momentum=0.9, weight_decay=0.1), decayed=True)
    _check(got, [[0.94, -1.88], [0.8516, -1.8032]])
    # the same optimiser leaves an undecayed bias on the plain momentum trajectory
    got = _run(lambda p: SGD(p, lr=LR, momentum=0.9, weight_decay=0.1), decayed=False)
    _check(got, [[0.95, -1.9], [0.88, -1.86]])


def test_adamw_hand_computed() -> None:
    # β₁ = 0.9, β₂ = 0.999, ε = 1e-8, λ = 0.1 (decoupled, on the weight "W"):
    # θ ← θ(1 − ηλ); m ← β₁m + (1−β₁)g; v ← β₂v + (1−β₂)g²; θ ← θ − η m̂/(√v̂ + ε)
    # step 1: θ(1 − ηλ) = [0.99, −1.98]; m₁ = [0.05, −0.1]; v₁ = [0.00025, 0.001]
    #         m̂ = m₁/0.1 = [0.5, −1]; v̂ = v₁/0.001 = [0.25, 1]; √v̂ = [0.5, 1]
    t1 = [0.99 - 0.1 * 0.5 / (0.5 + 1e-8), -1.98 + 0.1 * 1.0 / (1.0 + 1e-8)]
    # step 2: m₂ = [0.045 + 0.025, −0.09 + 0.05] = [0.07, −0.04]
    #         v₂ = [0.00024975 + 0.0000625, 0.000999 + 0.00025] = [0.00031225, 0.001249]
    #         1 − β₁² = 0.19, 1 − β₂² = 0.001999
    t2 = [
        0.99 * t1[0] - 0.1 * (0.07 / 0.19) / (math.sqrt(0.00031225 / 0.001999) + 1e-8),
        0.99 * t1[1] - 0.1 * (-0.04 / 0.19) / (math.sqrt(0.001249 / 0.001999) + 1e-8),
    ]
    # ≈ [0.890000002, −1.880000000], [0.788008…, −1.834…]: the numbers differ from SGD's
    assert abs(t2[0] - 0.7880) < 1e-3
    got = _run(lambda p: AdamW(p, lr=LR, weight_decay=0.1), decayed=True)
    _check(got, [t1, t2])
    # an undecayed bias follows Adam without the (1 − ηλ) factor
    b1 = [1.0 - 0.1 * 0.5 / (0.5 + 1e-8), -2.0 + 0.1 / (1.0 + 1e-8)]
    got = _run(lambda p: AdamW(p, lr=LR, weight_decay=0.1), decayed=False)
    np.testing.assert_allclose(got[0], b1, rtol=1e-13)


def test_make_optimizer_by_name() -> None:
    p = {"b": np.array(P0)}
    assert make_optimizer("sgd", p, lr=0.1).momentum == 0
    mom = make_optimizer("momentum", p, lr=0.1)
    assert (mom.momentum, mom.nesterov) == (0.9, False)
    nest = make_optimizer("nesterov", p, lr=0.1, momentum=0.5, weight_decay=0.01)
    assert (nest.momentum, nest.nesterov, nest.weight_decay) == (0.5, True, 0.01)
    adam = make_optimizer("adamw", p, lr=0.1, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.0)
    assert (adam.beta1, adam.beta2, adam.eps, adam.weight_decay) == (0.8, 0.99, 1e-6, 0.0)
    with pytest.raises(ValueError, match="optimizer must be one of"):
        make_optimizer("adadelta", p, lr=0.1)


# --------------------------------------------------------------- frozen params, errors
@pytest.mark.parametrize("kind", ["dict", "list"])
@pytest.mark.parametrize("opt_cls", [SGD, AdamW])
def test_none_gradient_freezes(kind: str, opt_cls: Any) -> None:
    w, b = np.ones((2, 2)), np.ones(2)
    params: Any = {"W": w, "b": b} if kind == "dict" else [w, b]
    kw = {"momentum": 0.9} if opt_cls is SGD else {}
    opt = opt_cls(params, lr=0.1, weight_decay=0.5, **kw)
    grads: Any = {"W": np.ones((2, 2)), "b": None} if kind == "dict" else [np.ones((2, 2)), None]
    for _ in range(3):
        opt.step(grads)
    np.testing.assert_array_equal(b, 1.0)  # frozen: untouched, not even decayed
    assert np.all(w < 1.0)
    key = "b" if kind == "dict" else "1"
    for buf in opt.state[key].values():
        np.testing.assert_array_equal(buf, 0.0)
    assert opt.steps == 3


def test_gradient_shape_mismatch_names_key_and_writes_nothing() -> None:
    w, b = np.ones((2, 3)), np.ones(3)
    opt = SGD({"W": w, "b": b}, lr=0.1, momentum=0.9)
    with pytest.raises(ValueError, match=r"grads\['b'\] must have shape \(3,\)"):
        opt.step({"W": np.ones((2, 3)), "b": np.ones(2)})
    with pytest.raises(ValueError, match=r"grads\['W'\] must have shape \(2, 3\)"):
        opt.step({"W": np.ones((3, 2)), "b": np.ones(3)})
    with pytest.raises(ValueError, match=r"grads\[1\] must have shape"):
        SGD([w, b], lr=0.1).step([np.ones((2, 3)), np.ones((3, 1))])
    np.testing.assert_array_equal(w, 1.0)
    np.testing.assert_array_equal(b, 1.0)
    assert opt.steps == 0


def test_gradient_container_mismatch() -> None:
    opt = SGD({"W": np.ones((2, 2))}, lr=0.1)
    with pytest.raises(ValueError, match="keys"):
        opt.step({"V": np.ones((2, 2))})
    with pytest.raises(ValueError, match="keys"):
        opt.step({"W": np.ones((2, 2)), "b": np.ones(2)})
    with pytest.raises(TypeError, match="must be a dict"):
        opt.step([np.ones((2, 2))])
    with pytest.raises(ValueError, match="grads is required"):
        opt.step()
    with pytest.raises(ValueError, match="keys"):
        SGD([np.ones(2), np.ones(2)], lr=0.1).step([np.ones(2)])


def test_rejected_step_writes_nothing_on_dtype_mismatch() -> None:
    w, b = np.ones((2, 2)), np.ones(2)
    opt = SGD({"W": w, "b": b}, lr=0.1, momentum=0.9)
    with pytest.raises(TypeError, match=r"grads\['b'\]"):
        opt.step({"W": np.ones((2, 2)), "b": np.ones(2, dtype=np.float32)})
    np.testing.assert_array_equal(w, 1.0)
    np.testing.assert_array_equal(opt.state["W"]["velocity"], 0.0)
    assert opt.steps == 0


def test_dict_with_non_string_keys() -> None:
    w = np.ones((2, 2))
    opt = SGD({0: w}, lr=0.5)
    opt.step({0: np.ones((2, 2))})
    np.testing.assert_array_equal(w, 0.5)


@pytest.mark.parametrize(
    ("make", "exc", "pattern"),
    [
        (lambda p: SGD(p, lr=-1.0), ValueError, "lr must be"),
        (lambda p: SGD(p, lr=0.1, momentum=1.0), ValueError, "momentum must be in"),
        (lambda p: SGD(p, lr=0.1, nesterov=True), ValueError, "nesterov requires momentum"),
        (lambda p: SGD(p, lr=0.1, weight_decay=-1), ValueError, "weight_decay must be >= 0"),
        (lambda p: AdamW(p, betas=(0.9, 1.0)), ValueError, r"betas\[1\] must be in"),
        (lambda p: AdamW(p, betas=0.9), TypeError, "betas must be a pair"),
        (lambda p: AdamW(p, eps=0.0), ValueError, "eps must be > 0"),
        (lambda p: SGD({}, lr=0.1), ValueError, "params must not be empty"),
        (lambda p: SGD(np.ones(3), lr=0.1), TypeError, "params must be Parameters"),
        (lambda p: SGD({"W": np.ones((2, 2), int)}, lr=0.1), TypeError, r"params\['W'\]"),
    ],
)
def test_invalid_optimiser_config(make: Any, exc: type[Exception], pattern: str) -> None:
    with pytest.raises(exc, match=pattern):
        make({"W": np.ones((2, 2))})


def test_step_rejects_negative_lr_set_by_a_schedule() -> None:
    w = np.ones((2, 2))
    opt = SGD({"W": w}, lr=0.1)
    opt.lr = -0.1
    with pytest.raises(ValueError, match="lr must be"):
        opt.step({"W": np.ones((2, 2))})
    np.testing.assert_array_equal(w, 1.0)


# ---------------------------------------------------------------- weight decay scope
@pytest.mark.parametrize("opt_cls", [SGD, AdamW])
def test_decay_applies_to_weights_only_dict(opt_cls: Any) -> None:
    w, b = np.full((2, 3), 2.0), np.full(3, 2.0)
    gain = np.full(3, 2.0)  # 1-D: not a weight
    opt = opt_cls({"W": w, "b": b, "gain": gain}, lr=0.1, weight_decay=0.5)
    zero = {"W": np.zeros((2, 3)), "b": np.zeros(3), "gain": np.zeros(3)}
    opt.step(zero)
    # zero gradient: SGD θ ← θ − ηλθ, AdamW θ ← θ(1 − ηλ); both give 2 · 0.95
    np.testing.assert_allclose(w, 1.9, rtol=1e-15)
    np.testing.assert_array_equal(b, 2.0)
    np.testing.assert_array_equal(gain, 2.0)


@pytest.mark.parametrize("opt_cls", [SGD, AdamW])
def test_decay_applies_to_weights_only_list(opt_cls: Any) -> None:
    w, b = np.full((2, 3), 2.0), np.full(3, 2.0)
    opt = opt_cls([w, b], lr=0.1, weight_decay=0.5)
    opt.step([np.zeros((2, 3)), np.zeros(3)])
    np.testing.assert_allclose(w, 1.9, rtol=1e-15)
    np.testing.assert_array_equal(b, 2.0)


@pytest.mark.parametrize("opt_cls", [SGD, AdamW])
def test_decay_applies_to_first_n_decayed_of_flat_params(opt_cls: Any) -> None:
    specs = [ParamSpec("b", (3,), decay=False), ParamSpec("W", (2, 2), decay=True)]
    params = Parameters(specs, dtype=np.float64)
    params.data[:] = 2.0
    opt = opt_cls(params, lr=0.1, weight_decay=0.5)
    opt.step()  # uses params.grad, all zero
    assert params.n_decayed == 4
    np.testing.assert_allclose(params.data[:4], 1.9, rtol=1e-15)
    np.testing.assert_allclose(params["W"], 1.9, rtol=1e-15)
    np.testing.assert_array_equal(params["b"], 2.0)


def test_flat_params_step_uses_grad_buffer() -> None:
    params = Parameters([ParamSpec("W", (2, 2), decay=True)], dtype=np.float64)
    params.data[:] = 1.0
    params.grad[:] = [1.0, 2.0, 3.0, 4.0]
    SGD(params, lr=0.5).step()
    np.testing.assert_allclose(params.data, [0.5, 0.0, -0.5, -1.0])
    SGD(params, lr=0.5).step(np.ones(4))  # or an explicit flat gradient
    np.testing.assert_allclose(params.data, [0.0, -0.5, -1.0, -1.5])


# ------------------------------------------------------------------- checkpoints
@pytest.mark.parametrize(
    "make",
    [
        lambda p: SGD(p, lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01),
        lambda p: AdamW(p, lr=0.05, weight_decay=0.01),
    ],
    ids=["nesterov", "adamw"],
)
def test_optimiser_state_round_trip(make: Any) -> None:
    rng = np.random.default_rng(0)
    grads = [{"W": rng.standard_normal((2, 3)), "b": rng.standard_normal(3)} for _ in range(4)]
    params = {"W": rng.standard_normal((2, 3)), "b": rng.standard_normal(3)}
    opt = make(params)
    for g in grads[:2]:
        opt.step(g)
    state = opt.state_dict()
    at_2 = {k: v.copy() for k, v in params.items()}
    assert state["steps"] == 2
    assert set(state["buffers"]) == {f"{k}/{n}" for k in params for n in opt.state_names}
    saved = {k: v.copy() for k, v in state["buffers"].items()}
    for g in grads[2:]:
        opt.step(g)
    for k, v in state["buffers"].items():  # host copies: unaffected by further training
        np.testing.assert_array_equal(v, saved[k])
    # a fresh optimiser restored at step 2 reproduces steps 3 and 4 exactly
    resumed = {k: v.copy() for k, v in at_2.items()}
    other = make(resumed)
    other.load_state_dict(state)
    assert (other.steps, other.lr) == (2, opt.lr)
    for g in grads[2:]:
        other.step(g)
    for k in params:
        np.testing.assert_array_equal(resumed[k], params[k])
    # while one that was not restored does not
    fresh = {k: v.copy() for k, v in at_2.items()}
    plain = make(fresh)
    for g in grads[2:]:
        plain.step(g)
    assert not np.array_equal(fresh["W"], params["W"])


@pytest.mark.parametrize(
    ("edit", "exc", "pattern"),
    [
        (lambda s: s["buffers"].pop("b/m"), ValueError, r"state\['buffers'\] must hold"),
        (lambda s: s["buffers"].update({"c/m": np.zeros(2)}), ValueError, "must hold"),
        (lambda s: s["buffers"].update({"b/v": np.zeros(3)}), ValueError, r"\['b/v'\]"),
        (lambda s: s["buffers"].update({"W/m": np.zeros((2, 3))}), ValueError, "shape"),
        (lambda s: s.update(buffers=None), ValueError, "must hold"),
        (lambda s: s.update(steps=-1), ValueError, r"state\['steps'\] must be >= 0"),
        (lambda s: s.update(steps=2.0), TypeError, r"state\['steps'\]"),
        (lambda s: s.update(lr=-1.0), ValueError, r"state\['lr'\] must be >= 0"),
    ],
    ids=[
        "missing",
        "extra",
        "bias-shape",
        "transposed",
        "no-buffers",
        "neg-steps",
        "steps-float",
        "lr",
    ],
)
def test_optimiser_load_state_rejects_and_writes_nothing(
    edit: Any, exc: type[Exception], pattern: str
) -> None:
    params = {"W": np.ones((3, 2)), "b": np.ones(2)}
    opt = AdamW(params, lr=0.01)
    opt.step({"W": np.ones((3, 2)), "b": np.ones(2)})
    before = {k: {n: a.copy() for n, a in s.items()} for k, s in opt.state.items()}
    state = opt.state_dict()
    state = {
        "steps": 7,
        "lr": 0.5,
        "buffers": {k: np.full_like(v, 9.0) for k, v in state["buffers"].items()},
    }
    edit(state)
    with pytest.raises(exc, match=pattern):
        opt.load_state_dict(state)
    assert (opt.steps, opt.lr) == (1, 0.01)
    for k, s in opt.state.items():
        for n, a in s.items():
            np.testing.assert_array_equal(a, before[k][n])


# ----------------------------------------------------------------------- schedules
def test_constant_lr() -> None:
    s = ConstantLR(0.3)
    assert [s(t) for t in (0, 1, 10**6)] == [0.3, 0.3, 0.3]


def test_step_lr() -> None:
    s = StepLR(1.0, step_size=3, gamma=0.5)
    assert [s(t) for t in range(8)] == [1, 1, 1, 0.5, 0.5, 0.5, 0.25, 0.25]
    assert StepLR(0.1, step_size=1, gamma=1.0)(50) == 0.1


def test_cosine_warmup_matches_eq25() -> None:
    lr_max, lr_min, t_w, t_total = 0.8, 0.1, 10, 110
    s = CosineWarmupLR(lr_max, t_total, warmup_steps=t_w, lr_min=lr_min)
    assert s(0) == 0.0  # eq. 25 starts the warm-up at 0
    assert s(5) == pytest.approx(0.4, rel=1e-15)  # η_max · t/T_w
    assert s(9) == pytest.approx(0.72, rel=1e-15)
    assert s(t_w) == pytest.approx(lr_max, rel=1e-15)  # the boundary: cos(0) = 1
    assert s(60) == pytest.approx((lr_max + lr_min) / 2, rel=1e-15)  # midway: cos(π/2) = 0
    assert s(t_total) == pytest.approx(lr_min, rel=1e-15)  # cos(π) = −1
    assert s(t_total + 1) == lr_min
    assert s(10 * t_total) == lr_min
    for t in (10, 23, 60, 97, 109):
        want = lr_min + 0.5 * (lr_max - lr_min) * (1 + math.cos(math.pi * (t - t_w) / 100))
        assert s(t) == pytest.approx(want, rel=1e-14)
    rates = [s(t) for t in range(t_total + 1)]
    assert all(a <= b for a, b in itertools.pairwise(rates[: t_w + 1]))  # warm-up rises
    assert all(a >= b for a, b in itertools.pairwise(rates[t_w:]))  # then anneals


def test_cosine_without_warmup() -> None:
    s = CosineWarmupLR(1.0, 4)
    assert [s(t) for t in range(6)] == pytest.approx(
        [1.0, (1 + math.cos(math.pi / 4)) / 2, 0.5, (1 + math.cos(3 * math.pi / 4)) / 2, 0, 0],
        abs=1e-15,
    )


def test_make_schedule() -> None:
    assert isinstance(make_schedule("constant", 0.1, total_steps=10), ConstantLR)
    s = make_schedule("cosine", 0.1, total_steps=10, warmup_steps=2, lr_min=0.01)
    assert isinstance(s, CosineWarmupLR)
    assert (s.lr_max, s.total_steps, s.warmup_steps, s.lr_min) == (0.1, 10, 2, 0.01)
    with pytest.raises(ValueError, match="schedule must be"):
        make_schedule("linear", 0.1, total_steps=10)


@pytest.mark.parametrize(
    ("make", "exc", "pattern"),
    [
        (lambda: ConstantLR(0.0), ValueError, "lr must be > 0"),
        (lambda: StepLR(0.1, step_size=0), ValueError, "step_size must be >= 1"),
        (lambda: StepLR(0.1, step_size=2, gamma=0.0), ValueError, "gamma must be in"),
        (lambda: StepLR(0.1, step_size=2, gamma=1.5), ValueError, "gamma must be in"),
        (lambda: CosineWarmupLR(0.0, 10), ValueError, "lr_max must be > 0"),
        (lambda: CosineWarmupLR(0.1, 0), ValueError, "total_steps must be >= 1"),
        (lambda: CosineWarmupLR(0.1, 10, warmup_steps=10), ValueError, "warmup_steps must be <"),
        (lambda: CosineWarmupLR(0.1, 10, warmup_steps=-1), ValueError, "warmup_steps must be"),
        (lambda: CosineWarmupLR(0.1, 10, lr_min=0.2), ValueError, "lr_min must be in"),
        (lambda: CosineWarmupLR(0.1, 10, lr_min=-0.1), ValueError, "lr_min must be in"),
        (lambda: CosineWarmupLR(0.1, 10.0), TypeError, "total_steps must be an integer"),
        (lambda: ConstantLR(0.1)(-1), ValueError, "t must be >= 0"),
        (lambda: ConstantLR(0.1)(1.5), TypeError, "t must be an integer"),
    ],
)
def test_invalid_schedules(make: Any, exc: type[Exception], pattern: str) -> None:
    with pytest.raises(exc, match=pattern):
        make()


def test_schedule_drives_optimiser_from_zero() -> None:
    """Warm-up starts at η₀ = 0 (eq. 25): that first step must be accepted and change nothing."""
    w = np.ones((2, 2))
    opt = SGD({"W": w}, lr=0.1, momentum=0.9)
    sched = CosineWarmupLR(0.1, 10, warmup_steps=2)
    opt.lr = sched(0)
    opt.step({"W": np.ones((2, 2))})
    np.testing.assert_array_equal(w, 1.0)
    opt.lr = sched(1)
    opt.step({"W": np.ones((2, 2))})
    # v = 0.9·1 + 1 = 1.9, η = 0.05
    np.testing.assert_allclose(w, 1 - 0.05 * 1.9, rtol=1e-15)


# ------------------------------------------------------------------ regularisation
def test_l2_penalty_over_weights_only() -> None:
    params = {
        "layer0.W": np.array([[1.0, -2.0], [3.0, 0.5]]),
        "layer0.b": np.array([10.0, 10.0]),
        "fc.bias": np.ones((2, 2)) * 5,
        "gain": np.array([7.0]),
    }
    # λ/2 Σ w² = 0.1/2 · (1 + 4 + 9 + 0.25) = 0.7125
    assert l2_penalty(params, 0.1) == pytest.approx(0.7125, rel=1e-15)
    assert l2_penalty(params, 0.0) == 0.0
    grads = l2_gradient(params, 0.1)
    np.testing.assert_allclose(grads["layer0.W"], [[0.1, -0.2], [0.3, 0.05]], rtol=1e-15)
    for name in ("layer0.b", "fc.bias", "gain"):
        np.testing.assert_array_equal(grads[name], np.zeros_like(params[name]))
    assert grads["layer0.W"].dtype == np.float64


def test_l2_gradient_keeps_float32() -> None:
    g = l2_gradient({"W": np.ones((2, 2), np.float32)}, 0.5)
    assert g["W"].dtype == np.float32
    np.testing.assert_array_equal(g["W"], 0.5)


def test_l2_penalty_on_flat_parameters() -> None:
    params = Parameters(
        [ParamSpec("W", (2,), decay=True), ParamSpec("b", (2,), decay=False)], dtype=np.float32
    )
    params.data[:] = [1.0, 2.0, 30.0, 40.0]
    assert l2_penalty(params, 2.0) == pytest.approx(5.0, rel=1e-15)


def test_l2_penalty_gradient_is_derivative() -> None:
    rng = np.random.default_rng(3)
    w = rng.standard_normal((3, 4))
    lam, h = 0.3, 1e-6
    g = l2_gradient({"W": w}, lam)["W"]
    e = np.zeros_like(w)
    e[1, 2] = h
    num = (l2_penalty({"W": w + e}, lam) - l2_penalty({"W": w - e}, lam)) / (2 * h)
    assert num == pytest.approx(g[1, 2], rel=1e-8)


@pytest.mark.parametrize(
    ("name", "shape", "want"),
    [
        ("W", (2, 3), True),
        ("layer0.W", (2, 3), True),
        ("weight", (4, 4, 3), True),
        ("b", (3,), False),
        ("layer0.b", (3,), False),
        ("b", (2, 3), False),  # named a bias
        ("fc.bias", (1, 3), False),
        ("bias_scale", (2, 2), True),  # only the last dotted component counts
        ("W", (3,), False),  # 1-D
        ("W", (), False),  # 0-D
    ],
)
def test_is_weight_rules(name: str, shape: tuple[int, ...], want: bool) -> None:
    assert is_weight(name, np.zeros(shape)) is want


def test_regularisation_validation() -> None:
    with pytest.raises(ValueError, match="lam must be >= 0"):
        l2_penalty({"W": np.ones((2, 2))}, -1.0)
    with pytest.raises(TypeError, match="params must be"):
        l2_penalty([np.ones((2, 2))], 0.1)
    with pytest.raises(TypeError, match="params must be a dict"):
        l2_gradient([np.ones((2, 2))], 0.1)
    with pytest.raises(TypeError, match=r"params\['W'\] must have dtype"):
        l2_gradient({"W": np.ones((2, 2), int)}, 0.1)
    assert is_weight("W", [[1.0, 2.0]]) is False  # not an array: no ndim
