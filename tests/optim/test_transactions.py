"""Transactional optimisers: a rejected construction, step or load_state_dict names the
offending slot or entry and leaves every parameter, gradient, state buffer, the step count
and the learning rate bitwise as they were."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from numdl.nn.models import MLP
from numdl.optim import SGD, AdamW
from numdl.optim.base import Optimizer
from numdl.optim.schedules import CosineWarmupLR

DTYPES = [np.float32, np.float64]


def make_opt(kind: str, params: Any, **kw: Any) -> Optimizer:
    if kind == "sgd":
        return SGD(params, lr=0.1, **kw)
    if kind == "momentum":
        return SGD(params, lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01, **kw)
    return AdamW(params, lr=0.01, weight_decay=0.01, **kw)


def snapshot(opt: Optimizer, params: Any, grads: Any) -> dict[str, Any]:
    values = params.values() if isinstance(params, dict) else params
    gvalues = grads.values() if isinstance(grads, dict) else grads
    return {
        "params": [np.array(p, copy=True) for p in values],
        "grads": [None if g is None else np.array(g, copy=True) for g in gvalues],
        "state": {k: {n: a.copy() for n, a in s.items()} for k, s in opt.state.items()},
        "steps": opt.steps,
        "lr": opt.lr,
    }


def assert_unchanged(opt: Optimizer, params: Any, grads: Any, before: dict[str, Any]) -> None:
    now = snapshot(opt, params, grads)
    for a, b in zip(now["params"], before["params"], strict=True):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(now["grads"], before["grads"], strict=True):
        if b is not None:
            np.testing.assert_array_equal(a, b)
    assert now["state"].keys() == before["state"].keys()
    for k in now["state"]:
        for n in now["state"][k]:
            np.testing.assert_array_equal(now["state"][k][n], before["state"][k][n])
    assert (now["steps"], now["lr"]) == (before["steps"], before["lr"])


def problem(n_slots: int, dtype: Any, as_list: bool, seed: int) -> tuple[Any, Any, list[Any]]:
    rng = np.random.default_rng(seed)
    shapes = [(3, 2) if i % 2 == 0 else (2,) for i in range(n_slots)]
    keys: list[Any] = list(range(n_slots)) if as_list else [f"m{i}.W" for i in range(n_slots)]
    arrays = [rng.standard_normal(s).astype(dtype) for s in shapes]
    grads = [rng.standard_normal(s).astype(dtype) for s in shapes]
    if as_list:
        return arrays, grads, keys
    return dict(zip(keys, arrays, strict=True)), dict(zip(keys, grads, strict=True)), keys


# ------------------------------------------------------------------ the examples
@pytest.mark.parametrize("kind", ["sgd", "momentum", "adamw"])
@pytest.mark.parametrize("flaw", ["read-only", "non-contiguous"])
def test_a_parameter_that_cannot_be_updated_is_rejected_at_construction(kind, flaw) -> None:
    a = np.ones((2, 2))
    b = np.ones((2, 4))[:, ::2] if flaw == "non-contiguous" else np.ones((2, 2))
    if flaw == "read-only":
        b.flags.writeable = False
    what = "writeable" if flaw == "read-only" else "C-contiguous"
    with pytest.raises(ValueError, match=rf"^params\['b.W'\] must be {what}"):
        make_opt(kind, {"a.W": a, "b.W": b})
    np.testing.assert_array_equal(a, 1.0)


@pytest.mark.parametrize("kind", ["sgd", "momentum", "adamw"])
def test_a_parameter_made_read_only_later_is_rejected_by_step(kind) -> None:
    params = {"a.W": np.ones((2, 2)), "b.W": np.ones((2, 2))}
    grads = {"a.W": np.ones((2, 2)), "b.W": np.ones((2, 2))}
    opt = make_opt(kind, params)
    opt.step(grads)
    params["b.W"].flags.writeable = False
    before = snapshot(opt, params, grads)
    with pytest.raises(ValueError, match=r"^params\['b.W'\] must be writeable"):
        opt.step(grads)
    assert_unchanged(opt, params, grads, before)  # a.W, its state and the step count too


@pytest.mark.parametrize(
    ("params", "pattern"),
    [
        ([[[1.0, 2.0], [3.0, 4.0]]], r"^params\[0\] must be a NumPy array .* got list"),
        ({"W": [[1.0, 2.0]]}, r"^params\['W'\] must be a NumPy array"),
        ([np.ones(2), (1.0, 2.0)], r"^params\[1\] must be a NumPy array .* got tuple"),
        ([np.float64(1.0)], r"^params\[0\] must be a NumPy array .* got float64"),
    ],
)
def test_parameters_must_be_arrays_updated_in_place(params: Any, pattern: str) -> None:
    with pytest.raises(TypeError, match=pattern):
        SGD(params, lr=0.5)


@pytest.mark.parametrize(
    ("make", "exc", "pattern"),
    [
        (lambda w: SGD({"a": w, "b": w}, lr=0.1), ValueError, r"params\['a'\] and params\['b'\]"),
        (lambda w: SGD([w, w[:1]], lr=0.1), ValueError, r"params\[0\] and params\[1\]"),
        (lambda w: SGD({1: w, "1": w.copy()}, lr=0.1), ValueError, "differ as strings"),
        (lambda w: SGD([w.astype(np.float32)], lr=1e39), ValueError, r"^lr=1e\+39 overflows"),
        (lambda w: AdamW([w.astype(np.float32)], eps=1e-50), ValueError, r"^eps=1e-50 under"),
        (
            lambda w: AdamW([w.astype(np.float32)], betas=(0.9, 1 - 1e-9)),
            ValueError,
            r"^betas\[1\]=0.999999999 rounds to 1 in float32",
        ),
        (
            lambda w: SGD([w.astype(np.float32)], lr=0.1, momentum=0.99999999),
            ValueError,
            r"^momentum=0.99999999 rounds to 1 in float32",
        ),
        (
            lambda w: AdamW([w.astype(np.float32)], lr=1e20, weight_decay=1e20),
            ValueError,
            r"^lr \* weight_decay=1e\+40 overflows",
        ),
        (lambda w: SGD([w], lr=10**400), ValueError, r"^lr must be finite"),
        (lambda w: SGD([w], lr=0.1, nesterov="False"), TypeError, r"^nesterov must be True"),
        (lambda w: SGD([w], lr=0.1, momentum=0.0, nesterov=True), ValueError, "nesterov requires"),
    ],
)
def test_construction_checks(make: Any, exc: type[Exception], pattern: str) -> None:
    with pytest.raises(exc, match=pattern):
        make(np.ones((2, 2)))


def test_float64_parameters_take_what_float32_cannot() -> None:
    AdamW([np.ones(2)], eps=1e-50, betas=(0.9, 1 - 1e-9))  # representable in float64
    SGD([np.ones(2)], lr=1e39, momentum=0.99999999)


def test_a_tiny_learning_rate_is_not_an_error() -> None:
    """A decayed schedule may reach rates that are 0 in float32: harmless, unlike eps."""
    w = np.ones(2, np.float32)
    opt = SGD([w], lr=0.1)
    opt.lr = 1e-50
    opt.step([np.ones(2, np.float32)])
    np.testing.assert_array_equal(w, 1.0)
    assert opt.steps == 1


def test_the_step_count_is_bounded_for_the_kernels() -> None:
    w = np.ones(2)
    opt = AdamW([w], lr=0.1)
    opt.steps = 2**63 - 1  # the next step would not fit the kernels' int64
    with pytest.raises(ValueError, match=r"^steps must be <= "):
        opt.step([np.ones(2)])
    np.testing.assert_array_equal(w, 1.0)
    with pytest.raises(ValueError, match=r"^state\['steps'\] must be <= "):
        opt.load_state_dict({"steps": 2**63, "lr": 0.1, "buffers": opt.state_dict()["buffers"]})


# ----------------------------------------------------------------- step, property-based
SLOT_FLAWS = {
    # name: (how to break slot `key` of `opt`, exception, message start — {p}, {g}, {s} the
    # slot's parameter, gradient and state names)
    "param read-only": (lambda o, p, g, k: _read_only(p[k]), ValueError, "{p} must be writeable"),
    "grad dtype": (
        lambda o, p, g, k: g.__setitem__(k, g[k].astype(np.float16)),
        TypeError,
        "{g} must have the dtype of {p}",
    ),
    "grad shape": (
        lambda o, p, g, k: g.__setitem__(k, np.ones((*g[k].shape, 2), g[k].dtype)),
        ValueError,
        "{g} must have shape",
    ),
    "grad strings": (
        lambda o, p, g, k: g.__setitem__(k, np.full(g[k].shape, "x")),
        TypeError,
        "{g} must have the dtype of {p}",
    ),
    "grad aliases param": (
        lambda o, p, g, k: g.__setitem__(k, p[k]),
        ValueError,
        "{p} and {g} must not share memory",
    ),
    "state read-only": (
        lambda o, p, g, k: _read_only(next(iter(o.state[str(k)].values()))),
        ValueError,
        "{s} must be writeable",
    ),
    "state non-contiguous": (
        lambda o, p, g, k: _replace_state(o, k, lambda a: np.repeat(a, 2, axis=0)[::2]),
        ValueError,
        "{s} must be C-contiguous",
    ),
    "state shape": (
        lambda o, p, g, k: _replace_state(o, k, lambda a: np.zeros(a.size + 1, a.dtype)),
        ValueError,
        "{s} must have shape",
    ),
}

GLOBAL_FLAWS = {
    "lr negative": (lambda o: setattr(o, "lr", -0.1), ValueError, "lr must be >= 0"),
    "lr nan": (lambda o: setattr(o, "lr", float("nan")), ValueError, "lr must be finite"),
    "lr string": (lambda o: setattr(o, "lr", "0.1"), TypeError, "lr must be a real number"),
    "lr huge int": (lambda o: setattr(o, "lr", 10**400), ValueError, "lr must be finite"),
    "weight_decay": (lambda o: setattr(o, "weight_decay", -1.0), ValueError, "weight_decay"),
    "steps": (lambda o: setattr(o, "steps", 2.0), TypeError, "steps must be an integer"),
}


def _read_only(a: np.ndarray) -> None:
    a.flags.writeable = False


def _replace_state(opt: Optimizer, key: Any, make: Any) -> None:
    state = opt.state[str(key)]
    name = next(iter(state))
    state[name] = make(state[name])


@settings(max_examples=120, deadline=None, derandomize=True)
@given(
    kind=st.sampled_from(["sgd", "momentum", "adamw"]),
    dtype=st.sampled_from(DTYPES),
    n_slots=st.integers(1, 5),
    position=st.integers(0, 100),
    as_list=st.booleans(),
    flaw=st.sampled_from(sorted(SLOT_FLAWS) + sorted(GLOBAL_FLAWS)),
    warm=st.integers(0, 2),
    seed=st.integers(0, 2**16),
)
def test_rejected_step_names_the_slot_and_changes_nothing(
    kind, dtype, n_slots, position, as_list, flaw, warm, seed
) -> None:
    """A flaw in one slot (at a random position) or in a hyperparameter: the step raises,
    naming that slot, and no parameter, gradient, state buffer, step count or lr changes.

    120 draws of optimiser, dtype, number of slots, position, container and flaw."""
    params, grads, keys = problem(n_slots, dtype, as_list, seed)
    opt = make_opt(kind, params)
    for _ in range(warm):  # state buffers that are not all zero
        opt.step(grads)
    key = keys[position % n_slots]
    names = {
        "p": f"params[{key!r}]",
        "g": f"grads[{key!r}]",
        "s": rf"state[{str(key)!r}][{next(iter(opt.state[str(key)]))!r}]",
    }
    if flaw in SLOT_FLAWS:
        breaks, exc, message = SLOT_FLAWS[flaw]
        breaks(opt, params, grads, key)
    else:
        breaks, exc, message = GLOBAL_FLAWS[flaw]
        breaks(opt)
    before = snapshot(opt, params, grads)
    pattern = "^" + "".join(
        {"[": r"\[", "]": r"\]", "(": r"\(", ")": r"\)"}.get(c, c) for c in message.format(**names)
    )
    with pytest.raises(exc, match=pattern):
        opt.step(grads)
    assert_unchanged(opt, params, grads, before)


def test_flat_parameters_step_checks_its_buffers_too() -> None:
    model = MLP([3, 4, 2], dtype=np.float32, seed=0)
    opt = AdamW(model.params, lr=0.01)
    opt.step()
    before = (model.params.data.copy(), {n: a.copy() for n, a in opt.state["flat"].items()})
    opt.lr = 1e39  # cannot be represented in float32: every parameter would become NaN
    with pytest.raises(ValueError, match=r"^lr=1e\+39 overflows to inf in float32"):
        opt.step()
    opt.lr = 0.01
    opt.eps = 1e-50
    with pytest.raises(ValueError, match=r"^eps=1e-50 underflows to 0 in float32"):
        opt.step()
    opt.eps = 1e-8
    with pytest.raises(TypeError, match=r"^grads must have the dtype of params.data"):
        opt.step(np.zeros(model.params.size))
    np.testing.assert_array_equal(model.params.data, before[0])
    for n, a in opt.state["flat"].items():
        np.testing.assert_array_equal(a, before[1][n])
    assert opt.steps == 1
    opt.step()
    assert opt.steps == 2


# ------------------------------------------------------------ load_state_dict
BUFFER_FLAWS = {
    "strings": (lambda a: np.full(a.shape, "a"), TypeError, "must be a numeric array"),
    "object": (lambda a: np.full(a.shape, None, object), TypeError, "must be a numeric array"),
    "bool": (lambda a: np.ones(a.shape, bool), TypeError, "must be a numeric array"),
    "complex": (lambda a: np.ones(a.shape, complex), TypeError, "must be a numeric array"),
    "nan": (lambda a: np.full(a.shape, np.nan), ValueError, "must hold finite values"),
    "inf": (lambda a: np.full(a.shape, np.inf), ValueError, "must hold finite values"),
    "overflow": (lambda a: np.full(a.shape, 1e300), ValueError, "has values too large for"),
    "shape": (lambda a: np.zeros(a.size + 1), ValueError, "must have shape"),
    "list of strings": (lambda a: [["x"]], TypeError, "must be a numeric array"),
}
TOP_FLAWS = {
    "steps negative": (lambda s: s.update(steps=-1), ValueError, r"state\['steps'\] must be >="),
    "steps float": (lambda s: s.update(steps=2.0), TypeError, r"state\['steps'\] must be an"),
    "steps bool": (lambda s: s.update(steps=True), TypeError, r"state\['steps'\] must be an"),
    "lr negative": (lambda s: s.update(lr=-1.0), ValueError, r"state\['lr'\] must be >= 0"),
    "lr nan": (lambda s: s.update(lr=float("nan")), ValueError, r"state\['lr'\] must be finite"),
    "lr string": (lambda s: s.update(lr="0.1"), TypeError, r"state\['lr'\] must be a real"),
    "lr missing": (lambda s: s.pop("lr"), TypeError, r"state\['lr'\] must be a real"),
    "buffer missing": (
        lambda s: s["buffers"].pop(next(iter(s["buffers"]))),
        ValueError,
        r"state\['buffers'\] must hold",
    ),
}


@settings(max_examples=120, deadline=None, derandomize=True)
@given(
    kind=st.sampled_from(["sgd", "momentum", "adamw"]),
    dtype=st.sampled_from(DTYPES),
    n_slots=st.integers(1, 4),
    position=st.integers(0, 100),
    flaw=st.sampled_from(sorted(BUFFER_FLAWS) + sorted(TOP_FLAWS)),
    seed=st.integers(0, 2**16),
)
def test_rejected_load_names_the_entry_and_changes_nothing(
    kind, dtype, n_slots, position, flaw, seed
) -> None:
    """A bad entry at a random position of an otherwise valid state: load_state_dict raises
    naming it, and every buffer, the step count and lr stay bitwise as they were.

    120 draws of optimiser, dtype, number of slots, position and flaw."""
    params, grads, _ = problem(n_slots, dtype, False, seed)
    opt = make_opt(kind, params)
    opt.step(grads)
    state = opt.state_dict()
    state = {"steps": 9, "lr": 0.5, "buffers": {k: v + 1 for k, v in state["buffers"].items()}}
    names = sorted(state["buffers"])
    name = names[position % len(names)]
    if flaw in BUFFER_FLAWS:
        make, exc, message = BUFFER_FLAWS[flaw]
        if flaw == "overflow" and dtype == np.float64:
            make, exc, message = BUFFER_FLAWS["inf"]
        state["buffers"][name] = make(state["buffers"][name])
        pattern = rf"^state\['buffers'\]\[{name!r}\] {message}"
    else:
        make, exc, pattern = TOP_FLAWS[flaw]
        make(state)
        pattern = "^" + pattern
    before = snapshot(opt, params, grads)
    with pytest.raises(exc, match=pattern):
        opt.load_state_dict(state)
    assert_unchanged(opt, params, grads, before)


def test_load_rejects_a_negative_second_moment_and_a_non_mapping() -> None:
    opt = AdamW({"W": np.ones((2, 2))}, lr=0.01)
    state = opt.state_dict()
    state["buffers"]["W/v"] = -np.ones((2, 2))
    with pytest.raises(ValueError, match=r"^state\['buffers'\]\['W/v'\] must be >= 0"):
        opt.load_state_dict(state)
    with pytest.raises(TypeError, match=r"^state must be a dict"):
        opt.load_state_dict([1, 2])
    np.testing.assert_array_equal(opt.state["W"]["v"], 0.0)


def test_integer_buffers_load_and_are_copied() -> None:
    opt = SGD({"W": np.ones((2, 2))}, lr=0.1, momentum=0.9)
    buf = np.arange(4).reshape(2, 2)
    opt.load_state_dict({"steps": 3, "lr": 0.2, "buffers": {"W/velocity": buf}})
    np.testing.assert_array_equal(opt.state["W"]["velocity"], buf)
    assert not np.shares_memory(opt.state["W"]["velocity"], buf)
    assert (opt.steps, opt.lr) == (3, 0.2)


@pytest.mark.parametrize("kind", ["sgd", "momentum", "adamw"])
def test_state_saved_at_lr_zero_round_trips(kind) -> None:
    """Warm-up starts at η₀ = 0 (eq. 25): a checkpoint taken then must load back."""
    w = np.ones((2, 2))
    opt = make_opt(kind, {"W": w})
    sched = CosineWarmupLR(0.1, 10, warmup_steps=3)
    opt.lr = sched(0)
    opt.step({"W": np.ones((2, 2))})
    state = opt.state_dict()
    assert state["lr"] == 0.0
    other = make_opt(kind, {"W": w.copy()})
    other.load_state_dict(state)
    assert (other.steps, other.lr) == (1, 0.0)
    for name, buf in opt.state["W"].items():
        np.testing.assert_array_equal(other.state["W"][name], buf)
