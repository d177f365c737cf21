"""numdl.core.ops: argument validation (identical on every backend) and edge-case numerics.

Every rejected call must raise the documented exception type with a message naming the
argument, the *same* type and message whichever backend is active (validation happens once,
in numdl.core.ops, before dispatch), and must leave every array it was given unchanged.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import numdl
from numdl.core import backend
from numdl.core import ops as numdl_ops


def _backend_param(name: str) -> Any:
    try:
        backend.load(name)
        marks = ()
    except ImportError as exc:
        marks = (pytest.mark.skip(reason=f"backend {name!r} unavailable here: {exc}"),)
    return pytest.param(name, marks=marks, id=name)


BACKENDS = [_backend_param("numpy"), _backend_param("numba")]


@pytest.fixture(params=BACKENDS)
def be(request: pytest.FixtureRequest):
    with numdl.use_backend(request.param):
        yield request.param


# ------------------------------------------------------------------- the rejected calls
def _rng() -> np.random.Generator:
    return np.random.default_rng(1234)


def _linear(dtype: Any = np.float64) -> dict[str, np.ndarray]:
    rng = _rng()
    x = rng.standard_normal((4, 3)).astype(dtype)
    w = rng.standard_normal((3, 5)).astype(dtype)
    b = rng.standard_normal(5).astype(dtype)
    out = np.maximum(x @ w + b, 0)
    return {"x": x, "w": w, "b": b, "out": out, "grad_out": np.ones_like(out)}


def _ce() -> dict[str, np.ndarray]:
    rng = _rng()
    return {"logits": rng.standard_normal((4, 3)), "labels": np.array([0, 2, 1, 2])}


def _momentum(**over: Any) -> dict[str, np.ndarray]:
    arrays = {"param": np.arange(6.0), "grad": np.ones(6), "velocity": np.full(6, 0.5)}
    arrays.update(over)
    return arrays


def _adamw(**over: Any) -> dict[str, np.ndarray]:
    arrays = {
        "param": np.arange(6.0),
        "grad": np.ones(6),
        "m": np.full(6, 0.25),
        "v": np.full(6, 0.5),
    }
    arrays.update(over)
    return arrays


def _strided(n: int, dtype: Any = np.float64) -> np.ndarray:
    return np.arange(2.0 * n, dtype=dtype)[::2]


def _clone(a: np.ndarray) -> np.ndarray:
    """A copy with the same layout (strided stays strided) and writeability."""
    if a.flags.c_contiguous:
        c = a.copy()
    else:  # the strided inputs here are every other column of a wider array
        c = np.zeros((*a.shape[:-1], 2 * a.shape[-1]), dtype=a.dtype)[..., ::2]
        c[...] = a
    c.flags.writeable = a.flags.writeable
    return c


def _readonly(a: np.ndarray) -> np.ndarray:
    a.flags.writeable = False
    return a


Case = Callable[[], tuple[Callable[[], Any], dict[str, np.ndarray]]]
CASES: list[tuple[str, Case, type[Exception], str]] = []


def case(op: str, label: str, exc: type[Exception], pattern: str):
    """Register a builder returning (call, arrays the call must leave unchanged)."""

    def register(build: Case) -> Case:
        CASES.append((f"{op}-{label}", build, exc, pattern))
        return build

    return register


def _lf(**over: Any) -> tuple[Callable[[], Any], dict[str, np.ndarray]]:
    a = _linear()
    kw = {"relu": True, **{k: over.pop(k) for k in list(over) if k in ("out", "relu")}}
    args = {k: over.get(k, a[k]) for k in ("x", "w", "b")}
    arrays = {**args, **({"out": kw["out"]} if "out" in kw else {})}
    return lambda: numdl.linear_forward(args["x"], args["w"], args["b"], **kw), arrays


def _lb(**over: Any) -> tuple[Callable[[], Any], dict[str, np.ndarray]]:
    a = _linear()
    keys = ("dx", "dw", "db", "overwrite_grad", "compute_dx", "relu")
    kw = {k: over.pop(k) for k in list(over) if k in keys}
    args = {k: over.get(k, a[k]) for k in ("grad_out", "x", "w", "out")}
    arrays = {**args, **{k: v for k, v in kw.items() if isinstance(v, np.ndarray)}}
    return lambda: numdl.linear_backward(
        args["grad_out"], args["x"], args["w"], args["out"], **kw
    ), arrays


def _ce_call(logits: Any = None, target: Any = None, **kw: Any):
    a = _ce()
    logits = a["logits"] if logits is None else logits
    target = a["labels"] if target is None else target
    arrays = {"logits": logits, "target": target}
    if isinstance(kw.get("dlogits"), np.ndarray):
        arrays["dlogits"] = kw["dlogits"]
    return lambda: numdl.cross_entropy(logits, target, **kw), arrays


def _mom(arrays: dict[str, np.ndarray], **kw: Any):
    kw = {"lr": 0.1, **kw}
    return lambda: numdl.momentum_update(
        arrays["param"], arrays["grad"], arrays["velocity"], **kw
    ), arrays


def _adam(arrays: dict[str, np.ndarray], **kw: Any):
    kw = {"lr": 0.1, "step": 1, **kw}
    return lambda: numdl.adamw_update(
        arrays["param"], arrays["grad"], arrays["m"], arrays["v"], **kw
    ), arrays


# linear_forward
for _label, _over, _exc, _pat in [
    ("x-int", {"x": np.ones((4, 3), dtype=np.int64)}, TypeError, r"^x must have dtype"),
    ("x-f16", {"x": np.ones((4, 3), dtype=np.float16)}, TypeError, r"^x must have dtype"),
    ("x-str", {"x": np.array([["a"]])}, TypeError, r"^x must have dtype"),
    ("w-mixed", {"w": np.ones((3, 5), dtype=np.float32)}, TypeError, r"^w must have the dtype"),
    ("b-mixed", {"b": np.ones(5, dtype=np.float32)}, TypeError, r"^b must have the dtype of x"),
    ("x-1d", {"x": np.ones(3)}, ValueError, r"^x must be 2-D"),
    ("w-3d", {"w": np.ones((3, 5, 1))}, ValueError, r"^w must be 2-D"),
    ("w-shape", {"w": np.ones((4, 5))}, ValueError, r"^w must have shape \(3, \*\)"),
    ("b-shape", {"b": np.ones(4)}, ValueError, r"^b must have shape \(5,\)"),
    ("b-2d", {"b": np.ones((1, 5))}, ValueError, r"^b must be 1-D"),
    ("out-shape", {"out": np.empty((4, 4))}, ValueError, r"^out must have shape \(4, 5\)"),
    ("out-dtype", {"out": np.empty((4, 5), np.float32)}, TypeError, r"^out must have the dtype"),
    ("out-strided", {"out": np.empty((4, 10))[:, ::2]}, ValueError, r"^out must be C-contig"),
    ("out-readonly", {"out": _readonly(np.empty((4, 5)))}, ValueError, r"^out must be writeable"),
]:
    case("linear_forward", _label, _exc, _pat)(lambda o=_over: _lf(**dict(o)))

# linear_backward
for _label, _over, _exc, _pat in [
    ("x-int", {"x": np.ones((4, 3), dtype=np.int32)}, TypeError, r"^x must have dtype"),
    ("grad-f16", {"grad_out": np.ones((4, 5), np.float16)}, TypeError, r"^grad_out must have"),
    ("grad-mixed", {"grad_out": np.ones((4, 5), np.float32)}, TypeError, r"^grad_out must have"),
    ("out-mixed", {"out": np.ones((4, 5), np.float32)}, TypeError, r"^out must have the dtype"),
    ("w-mixed", {"w": np.ones((3, 5), np.float32)}, TypeError, r"^w must have the dtype of x"),
    ("grad-shape", {"grad_out": np.ones((4, 4))}, ValueError, r"^grad_out must have shape"),
    ("grad-1d", {"grad_out": np.ones(5)}, ValueError, r"^grad_out must be 2-D"),
    ("out-shape", {"out": np.ones((3, 5))}, ValueError, r"^out must have shape \(4, 5\)"),
    ("w-shape", {"w": np.ones((2, 5))}, ValueError, r"^w must have shape \(3, \*\)"),
    ("dx-shape", {"dx": np.zeros((4, 5))}, ValueError, r"^dx must have shape \(4, 3\)"),
    ("dw-shape", {"dw": np.zeros((5, 3))}, ValueError, r"^dw must have shape \(3, 5\)"),
    ("db-dtype", {"db": np.zeros(5, np.float32)}, TypeError, r"^db must have the dtype"),
    ("db-strided", {"db": np.zeros(10)[::2]}, ValueError, r"^db must be C-contiguous"),
    (
        "overwrite-strided",
        {"grad_out": np.ones((4, 10))[:, ::2], "overwrite_grad": True},
        ValueError,
        r"^grad_out must be C-contiguous",
    ),
]:
    case("linear_backward", _label, _exc, _pat)(lambda o=_over: _lb(**dict(o)))


# batchnorm_forward, batchnorm_backward
def _bn(dtype: Any = np.float64) -> dict[str, np.ndarray]:
    rng = _rng()
    x = rng.standard_normal((4, 3)).astype(dtype)
    gamma, beta = np.ones(3, dtype), np.zeros(3, dtype)
    mean, var = x.mean(axis=0), x.var(axis=0)
    out = np.maximum((x - mean) / np.sqrt(var + 1e-5), 0)
    return {"x": x, "gamma": gamma, "beta": beta, "out": out, "mean": mean, "var": var}


def _bnf(**over: Any) -> tuple[Callable[[], Any], dict[str, np.ndarray]]:
    a = _bn()
    kw = {k: over.pop(k) for k in list(over) if k in ("out", "mean", "var", "relu", "eps")}
    args = {k: over.get(k, a[k]) for k in ("x", "gamma", "beta")}
    arrays = {**args, **{k: v for k, v in kw.items() if isinstance(v, np.ndarray)}}
    return lambda: numdl_ops.batchnorm_forward(*args.values(), **kw), arrays


def _bnb(**over: Any) -> tuple[Callable[[], Any], dict[str, np.ndarray]]:
    a = {**_bn(), "grad_out": np.ones((4, 3))}
    keys = ("dx", "dgamma", "dbeta", "overwrite_grad", "relu", "eps")
    kw = {k: over.pop(k) for k in list(over) if k in keys}
    names = ("grad_out", "x", "gamma", "out", "mean", "var")
    args = {k: over.get(k, a[k]) for k in names}
    arrays = {**args, **{k: v for k, v in kw.items() if isinstance(v, np.ndarray)}}
    return lambda: numdl_ops.batchnorm_backward(*args.values(), **kw), arrays


for _label, _over, _exc, _pat in [
    ("x-int", {"x": np.ones((4, 3), dtype=np.int64)}, TypeError, r"^x must have dtype"),
    ("x-1d", {"x": np.ones(3)}, ValueError, r"^x must be 2-D"),
    ("x-empty", {"x": np.ones((0, 3))}, ValueError, r"^x must hold at least one row"),
    ("gamma-mixed", {"gamma": np.ones(3, np.float32)}, TypeError, r"^gamma must have the dtype"),
    ("beta-shape", {"beta": np.ones(4)}, ValueError, r"^beta must have shape \(3,\)"),
    ("gamma-2d", {"gamma": np.ones((1, 3))}, ValueError, r"^gamma must be 1-D"),
    ("eps-0", {"eps": 0.0}, ValueError, r"^eps must be > 0"),
    ("eps-str", {"eps": "1e-5"}, TypeError, r"^eps must be a real number"),
    ("relu-int", {"relu": 1}, TypeError, r"^relu must be True or False"),
    ("out-shape", {"out": np.empty((4, 4))}, ValueError, r"^out must have shape \(4, 3\)"),
    ("mean-readonly", {"mean": _readonly(np.empty(3))}, ValueError, r"^mean must be writeable"),
    ("var-strided", {"var": np.empty(6)[::2]}, ValueError, r"^var must be C-contiguous"),
]:
    case("batchnorm_forward", _label, _exc, _pat)(lambda o=_over: _bnf(**dict(o)))

for _label, _over, _exc, _pat in [
    ("grad-mixed", {"grad_out": np.ones((4, 3), np.float32)}, TypeError, r"^grad_out must have"),
    ("grad-shape", {"grad_out": np.ones((4, 2))}, ValueError, r"^grad_out must have shape"),
    ("out-shape", {"out": np.ones((3, 3))}, ValueError, r"^out must have shape \(4, 3\)"),
    ("mean-shape", {"mean": np.ones(2)}, ValueError, r"^mean must have shape \(3,\)"),
    ("var-int", {"var": np.ones(3, np.int64)}, TypeError, r"^var must have dtype"),
    ("dx-shape", {"dx": np.zeros((4, 2))}, ValueError, r"^dx must have shape \(4, 3\)"),
    ("dgamma-dtype", {"dgamma": np.zeros(3, np.float32)}, TypeError, r"^dgamma must have the"),
    ("dbeta-strided", {"dbeta": np.zeros(6)[::2]}, ValueError, r"^dbeta must be C-contiguous"),
    (
        "dx-with-overwrite",
        {"dx": np.zeros((4, 3)), "overwrite_grad": True},
        ValueError,
        r"^dx must be None with overwrite_grad",
    ),
    (
        "overwrite-strided",
        {"grad_out": np.ones((4, 6))[:, ::2], "overwrite_grad": True},
        ValueError,
        r"^grad_out must be C-contiguous",
    ),
    ("flag-str", {"overwrite_grad": "False"}, TypeError, r"^overwrite_grad must be True or"),
]:
    case("batchnorm_backward", _label, _exc, _pat)(lambda o=_over: _bnb(**dict(o)))

# cross_entropy
_LOGITS = _ce()["logits"]
for _label, _kw, _exc, _pat in [
    ("logits-int", {"logits": np.ones((4, 3), np.int64)}, TypeError, r"^logits must have dtype"),
    ("logits-f16", {"logits": _LOGITS.astype(np.float16)}, TypeError, r"^logits must have dtype"),
    ("logits-1d", {"logits": np.ones(3)}, ValueError, r"^logits must be 2-D"),
    ("logits-3d", {"logits": np.ones((4, 3, 1))}, ValueError, r"^logits must be 2-D"),
    ("logits-empty", {"logits": np.ones((0, 3))}, ValueError, r"^logits must have at least"),
    ("logits-no-class", {"logits": np.ones((4, 0))}, ValueError, r"^logits must have at least"),
    ("label-high", {"target": np.array([0, 3, 1, 2])}, ValueError, r"^target must hold labels"),
    ("label-neg", {"target": np.array([0, -1, 1, 2])}, ValueError, r"in \[0, 3\)"),
    ("label-float", {"target": np.array([0.0, 2, 1, 2])}, TypeError, r"^target must hold int"),
    ("label-bool", {"target": np.array([0, 1, 1, 0], bool)}, TypeError, r"^target must hold"),
    ("label-length", {"target": np.array([0, 1, 2])}, ValueError, r"^target must have shape"),
    (
        "soft-negative",
        {"target": np.array([[1.0, 0, 0], [0, 1, 0], [0.5, 0.6, -0.1], [0, 0, 1]])},
        ValueError,
        r"^target must be non-negative",
    ),
    (
        "soft-mixed",
        {"target": np.full((4, 3), 1 / 3, np.float32)},
        TypeError,
        r"^target must have the dtype of logits",
    ),
    ("soft-shape", {"target": np.full((4, 2), 0.5)}, ValueError, r"^target must have shape"),
    ("soft-3d", {"target": np.full((4, 3, 1), 0.5)}, ValueError, r"^target must be 1-D .* or 2-D"),
    ("soft-int", {"target": np.eye(3, dtype=int)[[0, 1, 2, 0]]}, TypeError, r"^target must have"),
    ("dlogits-shape", {"dlogits": np.zeros((4, 4))}, ValueError, r"^dlogits must have shape"),
    ("dlogits-dtype", {"dlogits": np.zeros((4, 3), np.float32)}, TypeError, r"^dlogits must"),
    ("dlogits-strided", {"dlogits": np.zeros((4, 6))[:, ::2]}, ValueError, r"^dlogits must be C"),
]:
    case("cross_entropy", _label, _exc, _pat)(lambda k=_kw: _ce_call(**dict(k)))

# logsumexp, log_softmax, softmax
for _op in ("logsumexp", "log_softmax", "softmax"):
    for _label, _x, _kw, _exc, _pat in [
        ("int", np.ones((2, 3), np.int64), {}, TypeError, r"^x must have dtype float32 or"),
        ("f16", np.ones((2, 3), np.float16), {}, TypeError, r"^x must have dtype"),
        ("bool", np.ones((2, 3), bool), {}, TypeError, r"^x must have dtype"),
        ("0d", np.array(1.0), {}, ValueError, r"^x must be at least 1-D"),
        ("axis-range", np.ones((2, 3)), {"axis": 2}, ValueError, r"^axis=2 is out of range"),
        ("axis-neg", np.ones((2, 3)), {"axis": -3}, ValueError, r"^axis=-3 is out of range"),
        ("axis-float", np.ones((2, 3)), {"axis": 1.0}, TypeError, r"^axis must be an integer"),
        ("empty-axis", np.ones((2, 0)), {}, ValueError, r"^x must be non-empty along axis 1"),
    ]:
        case(_op, _label, _exc, _pat)(
            lambda op=_op, x=_x, k=_kw: ((lambda: getattr(numdl, op)(x, **k)), {"x": x})
        )

# momentum_update
for _label, _arrays, _kw, _exc, _pat in [
    ("param-int", {"param": np.arange(6)}, {}, TypeError, r"^param must have dtype"),
    ("param-f16", {"param": np.ones(6, np.float16)}, {}, TypeError, r"^param must have dtype"),
    ("grad-mixed", {"grad": np.ones(6, np.float32)}, {}, TypeError, r"^grad must have the dt"),
    ("vel-mixed", {"velocity": np.ones(6, np.float32)}, {}, TypeError, r"^velocity must have"),
    ("grad-shape", {"grad": np.ones(5)}, {}, ValueError, r"^grad must have shape \(6,\)"),
    ("grad-2d", {"grad": np.ones((6, 1))}, {}, ValueError, r"^grad must have shape \(6,\)"),
    ("vel-shape", {"velocity": np.ones(7)}, {}, ValueError, r"^velocity must have shape"),
    ("param-strided", {"param": _strided(6)}, {}, ValueError, r"^param must be C-contiguous"),
    ("vel-strided", {"velocity": _strided(6)}, {}, ValueError, r"^velocity must be C-contig"),
    ("param-ro", {"param": _readonly(np.ones(6))}, {}, ValueError, r"^param must be writeable"),
    ("lr-neg", {}, {"lr": -0.1}, ValueError, r"^lr must be"),
    ("lr-nan", {}, {"lr": float("nan")}, ValueError, r"^lr must be finite"),
    ("lr-str", {}, {"lr": "0.1"}, TypeError, r"^lr must be a real number"),
    ("momentum-1", {}, {"momentum": 1.0}, ValueError, r"^momentum must be in \[0.0, 1.0\)"),
    ("momentum-neg", {}, {"momentum": -0.1}, ValueError, r"^momentum must be in"),
    ("wd-neg", {}, {"weight_decay": -1e-4}, ValueError, r"^weight_decay must be >= 0"),
    ("n_decayed-big", {}, {"n_decayed": 7}, ValueError, r"^n_decayed must be <= param.size"),
    ("n_decayed-neg", {}, {"n_decayed": -1}, ValueError, r"^n_decayed must be >= 0"),
    ("n_decayed-float", {}, {"n_decayed": 2.0}, TypeError, r"^n_decayed must be an integer"),
]:
    case("momentum_update", _label, _exc, _pat)(
        lambda a=_arrays, k=_kw: _mom(_momentum(**{n: _clone(v) for n, v in a.items()}), **k)
    )

# adamw_update
for _label, _arrays, _kw, _exc, _pat in [
    ("param-int", {"param": np.arange(6)}, {}, TypeError, r"^param must have dtype"),
    ("param-f16", {"param": np.ones(6, np.float16)}, {}, TypeError, r"^param must have dtype"),
    ("grad-mixed", {"grad": np.ones(6, np.float32)}, {}, TypeError, r"^grad must have the dt"),
    ("m-mixed", {"m": np.zeros(6, np.float32)}, {}, TypeError, r"^m must have the dtype of"),
    ("v-shape", {"v": np.zeros((2, 3))}, {}, ValueError, r"^v must have shape \(6,\)"),
    ("param-strided", {"param": _strided(6)}, {}, ValueError, r"^param must be C-contiguous"),
    ("m-strided", {"m": _strided(6)}, {}, ValueError, r"^m must be C-contiguous"),
    ("v-readonly", {"v": _readonly(np.ones(6))}, {}, ValueError, r"^v must be writeable"),
    ("lr-neg", {}, {"lr": -1e-3}, ValueError, r"^lr must be"),
    ("step-0", {}, {"step": 0}, ValueError, r"^step must be >= 1, got 0"),
    ("step-float", {}, {"step": 1.0}, TypeError, r"^step must be an integer"),
    ("step-bool", {}, {"step": True}, TypeError, r"^step must be an integer"),
    ("beta1-1", {}, {"beta1": 1.0}, ValueError, r"^beta1 must be in \[0.0, 1.0\)"),
    ("beta2-1", {}, {"beta2": 1.0}, ValueError, r"^beta2 must be in"),
    ("eps-0", {}, {"eps": 0.0}, ValueError, r"^eps must be > 0"),
    ("wd-neg", {}, {"weight_decay": -0.01}, ValueError, r"^weight_decay must be >= 0"),
    ("n_decayed-big", {}, {"n_decayed": 100}, ValueError, r"^n_decayed must be <="),
]:
    case("adamw_update", _label, _exc, _pat)(
        lambda a=_arrays, k=_kw: _adam(_adamw(**{n: _clone(v) for n, v in a.items()}), **k)
    )


# ---------------------------------------------- aliasing, meaningless values, non-bool flags
# An output or in-place array sharing memory with another argument is rejected naming both
# (the numba kernels would read what they already overwrote: a wrong loss, garbage state).
_OVERLAP = r"^{} and {} must not share memory"


def _f32(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {k: v.astype(np.float32) for k, v in arrays.items()}


def _soft_target() -> np.ndarray:
    return np.array([[0.2, 0.3, 0.5], [1.0, 0, 0], [0, 0.5, 0.5], [1 / 3, 1 / 3, 1 / 3]])


def _ce_alias_logits():
    logits = _ce()["logits"]
    return _ce_call(logits, None, dlogits=logits)


def _ce_alias_soft():
    target = _soft_target()
    return _ce_call(None, target, dlogits=target)


def _ce_overlap_view():
    buf = np.zeros(15)
    logits = buf[:12].reshape(4, 3)
    logits[...] = _ce()["logits"]
    return _ce_call(logits, None, dlogits=buf[3:15].reshape(4, 3))


def _ce_labels_in_dlogits():
    """Labels stored (as int64) in the memory of the gradient buffer the call writes."""
    dlogits = np.zeros((4, 3))
    labels = dlogits.view(np.int64)[:, 0]
    labels[...] = [0, 2, 1, 2]
    return _ce_call(None, labels, dlogits=dlogits)


def _soft_with(value: float):
    target = _soft_target()
    target[2, 1] = value
    return _ce_call(None, target)


for _label, _build, _exc, _pat in [
    ("dlogits-is-logits", _ce_alias_logits, ValueError, _OVERLAP.format("dlogits", "logits")),
    ("dlogits-is-target", _ce_alias_soft, ValueError, _OVERLAP.format("dlogits", "target")),
    ("dlogits-overlaps", _ce_overlap_view, ValueError, _OVERLAP.format("dlogits", "logits")),
    ("dlogits-holds-labels", _ce_labels_in_dlogits, ValueError, "dlogits and target must not"),
    ("soft-nan", lambda: _soft_with(np.nan), ValueError, r"^target must be finite"),
    ("soft-inf", lambda: _soft_with(np.inf), ValueError, r"^target must be finite"),
    ("soft-neg-inf", lambda: _soft_with(-np.inf), ValueError, r"^target must be finite"),
    ("target-0d", lambda: _ce_call(None, np.array(1)), ValueError, r"^target must be 1-D"),
    ("masked-logits", lambda: _ce_call(np.ma.array(_ce()["logits"]), None), TypeError, "mask"),
    (
        "return_grad-str",
        lambda: _ce_call(return_grad="False"),
        TypeError,
        r"^return_grad must be True or False, got str 'False'",
    ),
]:
    case("cross_entropy", _label, _exc, _pat)(_build)


def _adam_same(a: str, b: str, **kw: Any):
    arrays = _adamw()
    arrays[a] = arrays[b]
    return _adam(arrays, **kw)


def _mom_same(a: str, b: str):
    arrays = _momentum()
    arrays[a] = arrays[b]
    return _mom(arrays)


def _adam_overlap():
    buf = np.zeros(9)
    return _adam(_adamw(m=buf[:6], v=buf[3:9]))


for _label, _build, _exc, _pat in [
    ("m-is-v", lambda: _adam_same("v", "m"), ValueError, _OVERLAP.format("m", "v")),
    ("param-is-grad", lambda: _adam_same("grad", "param"), ValueError, "param and grad"),
    ("m-overlaps-v", _adam_overlap, ValueError, _OVERLAP.format("m", "v")),
    (
        "eps-underflow-f32",
        lambda: _adam(_f32(_adamw()), eps=1e-50),
        ValueError,
        r"^eps=1e-50 underflows to 0 in float32",
    ),
    ("lr-overflow-f32", lambda: _adam(_f32(_adamw()), lr=1e39), ValueError, r"^lr=1e\+39 over"),
    (
        "wd-overflow-f32",
        lambda: _adam(_f32(_adamw()), weight_decay=1e39),
        ValueError,
        r"^weight_decay=1e\+39 overflows to inf in float32",
    ),
    (
        "beta2-rounds-to-1-f32",
        lambda: _adam(_f32(_adamw()), beta2=0.9999999999),
        ValueError,
        r"^beta2=0.9999999999 is 1.0 in float32: beta2 must be in \[0.0, 1.0\)",
    ),
    (
        "lr-times-wd-overflow",
        lambda: _adam(_adamw(), lr=1e200, weight_decay=1e200),
        ValueError,
        r"^lr \* weight_decay=inf overflows",
    ),
    ("lr-huge-int", lambda: _adam(_adamw(), lr=10**400), ValueError, r"^lr must be finite"),
    ("step-huge", lambda: _adam(_adamw(), step=10**400), ValueError, r"^step must be <= 922337"),
    ("step-2**63", lambda: _adam(_adamw(), step=2**63), ValueError, r"^step must be <= 922337"),
]:
    case("adamw_update", _label, _exc, _pat)(_build)

for _label, _build, _exc, _pat in [
    ("velocity-is-param", lambda: _mom_same("velocity", "param"), ValueError, "param and velo"),
    ("grad-is-velocity", lambda: _mom_same("grad", "velocity"), ValueError, "velocity and grad"),
    (
        "lr-overflow-f32",
        lambda: _mom(_f32(_momentum()), lr=1e39),
        ValueError,
        r"^lr=1e\+39 overflows to inf in float32",
    ),
    (
        "momentum-rounds-to-1-f32",
        lambda: _mom(_f32(_momentum()), momentum=0.99999999),
        ValueError,
        r"^momentum=0.99999999 is 1.0 in float32",
    ),
    (
        "nesterov-int",
        lambda: _mom(_momentum(), nesterov=1),
        TypeError,
        r"^nesterov must be True or False, got int 1",
    ),
    (
        "grad-masked",
        lambda: _mom(_momentum(grad=np.ma.array(np.ones(6), mask=[1, 0, 0, 0, 0, 0]))),
        TypeError,
        r"^grad must be a plain array, got a masked array",
    ),
]:
    case("momentum_update", _label, _exc, _pat)(_build)


def _lf_alias(out_of: str):
    a = _linear()
    if out_of == "x":  # out (4, 5) must alias x: give x that shape
        a["x"], a["w"] = np.ones((4, 5)), np.ones((5, 5))
        out = a["x"]
    else:  # out overlaps the bias: both views of one buffer
        buf = np.zeros(25)
        a["b"] = buf[:5]
        out = buf[:20].reshape(4, 5)
    x, w, b = a["x"], a["w"], a["b"]
    return lambda: numdl.linear_forward(x, w, b, out=out), {"x": x, "w": w, "b": b, "out": out}


def _lb_alias(kind: str):
    a = _linear()
    kw: dict[str, Any] = {}
    if kind == "dw-is-w":
        kw["dw"] = a["w"]
    elif kind == "dx-is-x":
        kw["dx"] = a["x"]
    elif kind == "db-overlaps-dw":
        buf = np.zeros(18)
        kw["dw"], kw["db"] = buf[:15].reshape(3, 5), buf[13:18]
    elif kind == "grad-is-out":  # grad_out is written (dZ) with overwrite_grad
        a["grad_out"] = a["out"]
        kw["overwrite_grad"] = True
    arrays = {k: a[k] for k in ("grad_out", "x", "w", "out")}
    arrays.update({k: v for k, v in kw.items() if isinstance(v, np.ndarray)})
    call = lambda: numdl.linear_backward(a["grad_out"], a["x"], a["w"], a["out"], **kw)  # noqa: E731
    return call, arrays


for _label, _build, _exc, _pat in [
    ("out-is-x", lambda: _lf_alias("x"), ValueError, _OVERLAP.format("out", "x")),
    ("out-overlaps-b", lambda: _lf_alias("b"), ValueError, _OVERLAP.format("out", "b")),
    ("relu-str", lambda: _lf(relu="False"), TypeError, r"^relu must be True or False, got str"),
    ("relu-int", lambda: _lf(relu=0), TypeError, r"^relu must be True or False, got int 0"),
    ("relu-array", lambda: _lf(relu=np.array(True)), TypeError, r"^relu must be True or False"),
]:
    case("linear_forward", _label, _exc, _pat)(_build)

for _label, _build, _exc, _pat in [
    ("dw-is-w", lambda: _lb_alias("dw-is-w"), ValueError, _OVERLAP.format("dw", "w")),
    ("dx-is-x", lambda: _lb_alias("dx-is-x"), ValueError, _OVERLAP.format("dx", "x")),
    ("db-overlaps-dw", lambda: _lb_alias("db-overlaps-dw"), ValueError, "dw and db must not"),
    ("grad-is-out", lambda: _lb_alias("grad-is-out"), ValueError, "grad_out and out must not"),
    (
        "dx-without-compute",
        lambda: _lb(dx=np.zeros((4, 3)), compute_dx=False),
        ValueError,
        r"^dx must be None when compute_dx is False",
    ),
    ("compute_dx-str", lambda: _lb(compute_dx="no"), TypeError, r"^compute_dx must be True or"),
    ("overwrite-int", lambda: _lb(overwrite_grad=1), TypeError, r"^overwrite_grad must be True"),
]:
    case("linear_backward", _label, _exc, _pat)(_build)

case("logsumexp", "keepdims-int", TypeError, r"^keepdims must be True or False, got int 1")(
    lambda: (lambda x: (lambda: numdl.logsumexp(x, keepdims=1), {"x": x}))(np.ones((2, 3)))
)


# adam_update, rmsprop_update, adagrad_update
def _adam_coupled(arrays: dict[str, np.ndarray], **kw: Any):
    kw = {"lr": 0.1, "step": 1, **kw}
    return lambda: numdl.adam_update(
        arrays["param"], arrays["grad"], arrays["m"], arrays["v"], **kw
    ), arrays


def _rmsprop_arrays(**over: Any) -> dict[str, np.ndarray]:
    arrays = {"param": np.arange(6.0), "grad": np.ones(6), "square_avg": np.full(6, 0.5)}
    arrays.update(over)
    return arrays


def _rms(arrays: dict[str, np.ndarray], **kw: Any):
    kw = {"lr": 0.1, **kw}
    buf = arrays.get("momentum_buffer")
    return lambda: numdl.rmsprop_update(
        arrays["param"], arrays["grad"], arrays["square_avg"], buf, **kw
    ), arrays


def _adagrad(arrays: dict[str, np.ndarray], **kw: Any):
    kw = {"lr": 0.1, **kw}
    return lambda: numdl.adagrad_update(
        arrays["param"], arrays["grad"], arrays["sum_sq"], **kw
    ), arrays


def _adagrad_arrays(**over: Any) -> dict[str, np.ndarray]:
    arrays = {"param": np.arange(6.0), "grad": np.ones(6), "sum_sq": np.full(6, 0.5)}
    arrays.update(over)
    return arrays


for _label, _build, _exc, _pat in [
    ("v-shape", lambda: _adam_coupled(_adamw(v=np.zeros(5))), ValueError, r"^v must have shape"),
    ("m-is-v", lambda: _adam_coupled(_adamw(m=(b := np.zeros(6)), v=b)), ValueError, "m and v"),
    ("step-0", lambda: _adam_coupled(_adamw(), step=0), ValueError, r"^step must be >= 1"),
    ("beta2-1", lambda: _adam_coupled(_adamw(), beta2=1.0), ValueError, r"^beta2 must be in"),
    (
        "eps-underflow-f32",
        lambda: _adam_coupled(_f32(_adamw()), eps=1e-50),
        ValueError,
        r"^eps=1e-50 underflows to 0 in float32",
    ),
]:
    case("adam_update", _label, _exc, _pat)(_build)

for _label, _build, _exc, _pat in [
    (
        "square_avg-mixed",
        lambda: _rms(_rmsprop_arrays(square_avg=np.ones(6, np.float32))),
        TypeError,
        r"^square_avg must have the dtype of param",
    ),
    (
        "buffer-without-momentum",
        lambda: _rms(_rmsprop_arrays(momentum_buffer=np.zeros(6))),
        ValueError,
        r"^momentum_buffer must be given exactly when momentum > 0, got momentum=0.0",
    ),
    (
        "momentum-without-buffer",
        lambda: _rms(_rmsprop_arrays(), momentum=0.9),
        ValueError,
        r"^momentum_buffer must be given exactly when momentum > 0, got momentum=0.9",
    ),
    (
        "buffer-is-param",
        lambda: _rms((a := _rmsprop_arrays()) | {"momentum_buffer": a["param"]}, momentum=0.9),
        ValueError,
        "param and momentum_buffer must not share memory",
    ),
    (
        "buffer-strided",
        lambda: _rms(_rmsprop_arrays(momentum_buffer=_strided(6)), momentum=0.9),
        ValueError,
        r"^momentum_buffer must be C-contiguous",
    ),
    ("alpha-1", lambda: _rms(_rmsprop_arrays(), alpha=1.0), ValueError, r"^alpha must be in"),
    ("eps-0", lambda: _rms(_rmsprop_arrays(), eps=0.0), ValueError, r"^eps must be > 0"),
    ("wd-str", lambda: _rms(_rmsprop_arrays(), weight_decay="0"), TypeError, r"^weight_decay"),
]:
    case("rmsprop_update", _label, _exc, _pat)(_build)

for _label, _build, _exc, _pat in [
    (
        "sum_sq-readonly",
        lambda: _adagrad(_adagrad_arrays(sum_sq=_readonly(np.ones(6)))),
        ValueError,
        r"^sum_sq must be writeable",
    ),
    (
        "grad-is-sum_sq",
        lambda: _adagrad((a := _adagrad_arrays()) | {"grad": a["sum_sq"]}),
        ValueError,
        "sum_sq and grad must not share memory",
    ),
    ("lr-nan", lambda: _adagrad(_adagrad_arrays(), lr=np.nan), ValueError, r"^lr must be"),
    (
        "n_decayed-big",
        lambda: _adagrad(_adagrad_arrays(), n_decayed=7),
        ValueError,
        r"^n_decayed must be <= param.size \(6\), got 7",
    ),
]:
    case("adagrad_update", _label, _exc, _pat)(_build)


def _take(x: Any = None, index: Any = None, **kw: Any):
    x = np.arange(12.0).reshape(4, 3) if x is None else x
    index = np.array([3, 0, 0]) if index is None else index
    arrays = {"x": x, "index": index}
    if isinstance(kw.get("out"), np.ndarray):
        arrays["out"] = kw["out"]
    return lambda: numdl.take_rows(x, index, **kw), arrays


for _label, _build, _exc, _pat in [
    ("x-int", lambda: _take(x=np.ones((4, 3), np.int64)), TypeError, r"^x must have dtype"),
    ("x-1d", lambda: _take(x=np.ones(4)), ValueError, r"^x must be 2-D"),
    ("index-float", lambda: _take(index=np.array([1.0])), TypeError, r"^index must hold integer"),
    ("index-2d", lambda: _take(index=np.array([[1]])), ValueError, r"^index must be 1-D"),
    (
        "index-negative",
        lambda: _take(index=np.array([0, -1])),
        ValueError,
        r"^index must hold row indices in \[0, 4\) \(x has 4 rows\), got values in \[-1, 0\]",
    ),
    ("index-too-big", lambda: _take(index=np.array([4])), ValueError, r"^index must hold row"),
    (
        "out-dtype",
        lambda: _take(out=np.empty((3, 3), np.float32)),
        TypeError,
        r"^out must have the dtype of x \(float64\)",
    ),
    (
        "out-shape",
        lambda: _take(out=np.empty((3, 4))),
        ValueError,
        r"^out must have shape \(3, 3\)",
    ),
    (
        "out-readonly",
        lambda: _take(out=_readonly(np.empty((3, 3)))),
        ValueError,
        r"^out must be writeable",
    ),
    (
        "out-is-x",
        lambda: _take(x=(x := np.zeros((3, 3))), index=np.array([0, 1, 2]), out=x),
        ValueError,
        "out and x must not share memory",
    ),
]:
    case("take_rows", _label, _exc, _pat)(_build)


# conv2d_forward, conv2d_backward, maxpool2d_*, avgpool2d_* (the rejections the interface
# names; tests/core/test_ops_conv.py has the full table)
def _conv_arrays() -> dict[str, np.ndarray]:
    rng = _rng()
    x = rng.standard_normal((2, 3, 5, 4))
    w = rng.standard_normal((4, 3, 3, 2))
    b = rng.standard_normal(4)
    cols = np.empty((2 * 3 * 3, 18))
    out = numdl.conv2d_forward(x, w, b, cols=cols)
    return {"x": x, "w": w, "b": b, "cols": cols, "out": out, "grad": np.ones_like(out)}


def _cf(**over: Any) -> tuple[Callable[[], Any], dict[str, np.ndarray]]:
    a = _conv_arrays()
    args = {k: over.pop(k, a[k]) for k in ("x", "w", "b")}
    kw = {"out": np.full((2, 4, 3, 3), 7.0), **over}
    arrays = {**args, **{k: v for k, v in kw.items() if isinstance(v, np.ndarray)}}
    return lambda: numdl.conv2d_forward(*args.values(), **kw), arrays


def _cb(**over: Any) -> tuple[Callable[[], Any], dict[str, np.ndarray]]:
    a = _conv_arrays()
    args = {k: over.pop(k, a[k]) for k in ("grad", "cols", "w", "out")}
    kw = {"x_shape": (2, 3, 5, 4), "dw": np.full((4, 3, 3, 2), 7.0), **over}
    arrays = {**args, **{k: v for k, v in kw.items() if isinstance(v, np.ndarray)}}
    return lambda: numdl.conv2d_backward(*args.values(), **kw), arrays


def _pf(op: str, x: Any = None, kernel: Any = 2, **kw: Any):
    x = np.random.default_rng(3).standard_normal((2, 3, 6, 5)) if x is None else x
    arrays = {"x": x, **{k: v for k, v in kw.items() if isinstance(v, np.ndarray)}}
    return lambda: getattr(numdl, op)(x, kernel, **kw), arrays


def _mpb(**over: Any):
    x = np.random.default_rng(4).standard_normal((2, 3, 6, 5))
    _, argmax = numdl.maxpool2d_forward(x, 2)
    args = {"grad": np.ones((2, 3, 3, 2)), "argmax": argmax, "x_shape": x.shape}
    args.update({k: over.pop(k) for k in list(over) if k in args})
    kw = {"dx": np.full(x.shape, 7.0), **over}
    arrays = {k: v for k, v in {**args, **kw}.items() if isinstance(v, np.ndarray)}
    return lambda: numdl.maxpool2d_backward(*args.values(), **kw), arrays


def _apb(grad: Any = None, x_shape: Any = (2, 3, 6, 5), kernel: Any = 2, **kw: Any):
    grad = np.ones((2, 3, 3, 2)) if grad is None else grad
    kw = {"dx": np.full((2, 3, 6, 5), 7.0), **kw}
    arrays = {"grad": grad, **{k: v for k, v in kw.items() if isinstance(v, np.ndarray)}}
    return lambda: numdl.avgpool2d_backward(grad, x_shape, kernel, **kw), arrays


for _op, _label, _build, _exc, _pat in [
    (
        "conv2d_forward",
        "x-3d",
        lambda: _cf(x=np.ones((3, 5, 4))),
        ValueError,
        r"^x must be 4-D \(B, C, H, W\)",
    ),
    (
        "conv2d_forward",
        "channels",
        lambda: _cf(w=np.ones((4, 2, 3, 2))),
        ValueError,
        r"^w must have 3 input channels",
    ),
    (
        "conv2d_forward",
        "kernel-too-big",
        lambda: _cf(w=np.ones((4, 3, 6, 2))),
        ValueError,
        r"^the kernel of w \(6, 2\) is larger",
    ),
    ("conv2d_forward", "stride-0", lambda: _cf(stride=0), ValueError, r"^stride must be >= 1"),
    (
        "conv2d_forward",
        "padding-neg",
        lambda: _cf(padding=(0, -1)),
        ValueError,
        r"^padding must be >= 0",
    ),
    (
        "conv2d_forward",
        "x-int",
        lambda: _cf(x=np.ones((2, 3, 5, 4), np.int64)),
        TypeError,
        r"^x must have dtype",
    ),
    (
        "conv2d_forward",
        "w-mixed",
        lambda: _cf(w=np.ones((4, 3, 3, 2), np.float32)),
        TypeError,
        r"^w must have the dtype of x",
    ),
    ("conv2d_forward", "relu-int", lambda: _cf(relu=1), TypeError, r"^relu must be True or False"),
    (
        "conv2d_forward",
        "out-is-x",
        lambda: _cf(x=(x := np.ones((2, 4, 3, 3))), w=np.ones((4, 4, 1, 1)), out=x),
        ValueError,
        r"^out and x must not share memory",
    ),
    (
        "conv2d_backward",
        "grad-3d",
        lambda: _cb(grad=np.ones((4, 3, 3))),
        ValueError,
        r"^grad must be 4-D \(B, F, OH, OW\)",
    ),
    (
        "conv2d_backward",
        "grad-shape",
        lambda: _cb(grad=np.ones((2, 4, 3, 2))),
        ValueError,
        r"^grad must have shape \(2, 4, 3, 3\)",
    ),
    (
        "conv2d_backward",
        "cols-shape",
        lambda: _cb(cols=np.ones((18, 17))),
        ValueError,
        r"^cols must have shape \(18, 18\)",
    ),
    (
        "conv2d_backward",
        "x-shape",
        lambda: _cb(x_shape=(2, 3, 5)),
        ValueError,
        r"^x_shape must be a 4-tuple",
    ),
    (
        "conv2d_backward",
        "dx-without-compute",
        lambda: _cb(compute_dx=False, dx=np.zeros((2, 3, 5, 4))),
        ValueError,
        r"^dx must be None when compute_dx is False",
    ),
    (
        "conv2d_backward",
        "dw-is-w",
        lambda: _cb(w=(w := np.ones((4, 3, 3, 2))), dw=w),
        ValueError,
        r"^dw and w must not share memory",
    ),
    (
        "maxpool2d_forward",
        "x-2d",
        lambda: _pf("maxpool2d_forward", x=np.ones((6, 5))),
        ValueError,
        r"^x must be 4-D \(B, C, H, W\)",
    ),
    (
        "maxpool2d_forward",
        "padding-over-half",
        lambda: _pf("maxpool2d_forward", padding=2),
        ValueError,
        r"^padding must be at most half the kernel size",
    ),
    (
        "maxpool2d_forward",
        "kernel-too-big",
        lambda: _pf("maxpool2d_forward", kernel=(2, 6)),
        ValueError,
        r"^kernel_size \(2, 6\) is larger",
    ),
    (
        "maxpool2d_forward",
        "argmax-dtype",
        lambda: _pf("maxpool2d_forward", argmax=np.zeros((2, 3, 3, 2), np.int32)),
        TypeError,
        r"^argmax must have dtype int64",
    ),
    (
        "maxpool2d_forward",
        "out-readonly",
        lambda: _pf("maxpool2d_forward", out=_readonly(np.zeros((2, 3, 3, 2)))),
        ValueError,
        r"^out must be writeable",
    ),
    (
        "maxpool2d_backward",
        "argmax-range",
        lambda: _mpb(argmax=np.full((2, 3, 3, 2), 30)),
        ValueError,
        r"^argmax must hold flat indices in \[0, 30\)",
    ),
    (
        "maxpool2d_backward",
        "argmax-float",
        lambda: _mpb(argmax=np.zeros((2, 3, 3, 2))),
        TypeError,
        r"^argmax must have dtype int64",
    ),
    (
        "maxpool2d_backward",
        "dx-shape",
        lambda: _mpb(dx=np.zeros((2, 3, 6, 4))),
        ValueError,
        r"^dx must have shape \(2, 3, 6, 5\)",
    ),
    (
        "avgpool2d_forward",
        "stride-0",
        lambda: _pf("avgpool2d_forward", stride=0),
        ValueError,
        r"^stride must be >= 1",
    ),
    (
        "avgpool2d_forward",
        "kernel-float",
        lambda: _pf("avgpool2d_forward", kernel=2.0),
        TypeError,
        r"^kernel_size must be an integer",
    ),
    (
        "avgpool2d_forward",
        "x-f16",
        lambda: _pf("avgpool2d_forward", x=np.ones((1, 1, 2, 2), np.float16)),
        TypeError,
        r"^x must have dtype",
    ),
    (
        "avgpool2d_backward",
        "grad-shape",
        lambda: _apb(grad=np.ones((2, 3, 3, 3))),
        ValueError,
        r"^grad must have shape \(2, 3, 3, 2\)",
    ),
    (
        "avgpool2d_backward",
        "dx-dtype",
        lambda: _apb(dx=np.zeros((2, 3, 6, 5), np.float32)),
        TypeError,
        r"^dx must have the dtype",
    ),
]:
    case(_op, _label, _exc, _pat)(_build)


def _snapshot(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {k: np.array(v, copy=True) for k, v in arrays.items()}


def _raise(build: Case, exc: type[Exception]) -> tuple[type, str, dict, dict]:
    call, arrays = build()
    before = _snapshot(arrays)
    with pytest.raises(exc) as info:
        call()
    return type(info.value), str(info.value), before, arrays


@pytest.mark.parametrize(
    ("build", "exc", "pattern"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_rejected_call(be: str, build: Case, exc: type[Exception], pattern: str) -> None:
    got_type, message, before, after = _raise(build, exc)
    assert got_type is exc
    assert re.search(pattern, message), message
    # nothing the call was given changed
    for name, arr in after.items():
        np.testing.assert_array_equal(arr, before[name], err_msg=f"{name} was mutated")
    # the same exception type and message as on the reference backend
    with numdl.use_backend("numpy"):
        ref_type, ref_message, _, _ = _raise(build, exc)
    assert (got_type, message) == (ref_type, ref_message)


def test_every_public_op_has_rejection_cases() -> None:
    covered = {cid.split("-", 1)[0] for cid, *_ in CASES}
    assert covered == set(numdl.core.ops.__all__)


# ----------------------------------------------------------------- accepted edge inputs
def test_update_accepts_strided_grad_and_2d_param(be: str) -> None:
    """Only the arrays updated in place must be contiguous; a strided grad is read as is."""
    param = np.arange(6.0).reshape(2, 3)
    velocity = np.zeros((2, 3))
    grad = np.ones((2, 6))[:, ::2]
    numdl.momentum_update(param, grad, velocity, lr=0.5, momentum=0.0)
    np.testing.assert_array_equal(param, np.arange(6.0).reshape(2, 3) - 0.5)
    np.testing.assert_array_equal(velocity, np.ones((2, 3)))


def test_update_does_not_mutate_grad(be: str) -> None:
    param, grad, vel = np.ones(5), np.full(5, 0.5), np.zeros(5)
    numdl.momentum_update(param, grad, vel, lr=0.1, weight_decay=0.1)
    m, v = np.zeros(5), np.zeros(5)
    numdl.adamw_update(param, grad, m, v, lr=0.1, step=1)
    np.testing.assert_array_equal(grad, np.full(5, 0.5))


def test_lr_zero_leaves_params_unchanged(be: str) -> None:
    """eq. 25 starts the warm-up at η₀ = 0, so a zero learning rate is a valid no-op step."""
    param = np.arange(4.0)
    numdl.momentum_update(param, np.ones(4), np.zeros(4), lr=0.0, weight_decay=0.5)
    numdl.adamw_update(param, np.ones(4), np.zeros(4), np.zeros(4), lr=0.0, step=1)
    np.testing.assert_array_equal(param, np.arange(4.0))


def test_linear_forward_out_is_filled_and_returned(be: str) -> None:
    a = _linear()
    out = np.full((4, 5), np.nan)
    res = numdl.linear_forward(a["x"], a["w"], a["b"], relu=False, out=out)
    assert res is out
    np.testing.assert_allclose(out, a["x"] @ a["w"] + a["b"], rtol=1e-12)


def test_cross_entropy_accepts_list_labels_and_unsigned(be: str) -> None:
    logits = _ce()["logits"]
    ref = numdl.cross_entropy(logits, np.array([0, 2, 1, 2]))
    assert numdl.cross_entropy(logits, [0, 2, 1, 2]) == ref
    assert numdl.cross_entropy(logits, np.array([0, 2, 1, 2], np.uint8)) == ref


def test_flat_buffer_views_that_do_not_overlap_are_accepted(be: str) -> None:
    """A model keeps W and b as adjacent views of one flat buffer, dW and db of another: the
    overlap check must not reject them, and the results equal those of separate arrays."""
    a = _linear()
    params, grads = np.empty(20), np.full(20, np.nan)
    w, b = params[:15].reshape(3, 5), params[15:]
    w[...], b[...] = a["w"], a["b"]
    dw, db = grads[:15].reshape(3, 5), grads[15:]
    out = numdl.linear_forward(a["x"], w, b, out=np.empty((4, 5)))
    np.testing.assert_allclose(out, np.maximum(a["x"] @ a["w"] + a["b"], 0), rtol=1e-12)
    dx, dw_, db_ = numdl.linear_backward(a["grad_out"], a["x"], w, out, dw=dw, db=db)
    assert dw_ is dw
    assert db_ is db
    ref = numdl.linear_backward(a["grad_out"], a["x"], a["w"], out)
    for got, want in zip((dx, dw, db), ref, strict=True):
        np.testing.assert_array_equal(got, want)
    # optimiser state side by side in one buffer, updated in place through its views
    flat = np.arange(24.0)
    p, g, m, v = (flat[i : i + 6] for i in range(0, 24, 6))
    numdl.adamw_update(p, g, m, np.abs(v), lr=0.1, step=3)
    numdl.momentum_update(p, g, m, lr=0.1)
    np.testing.assert_array_equal(flat[6:12], np.arange(6.0, 12.0))  # grad untouched


def test_overwrite_grad_is_the_documented_aliasing(be: str) -> None:
    """dZ written into grad_out is allowed (overwrite_grad) and gives the same gradients."""
    a = _linear()
    want = numdl.linear_backward(a["grad_out"], a["x"], a["w"], a["out"])
    grad = a["grad_out"].copy()
    got = numdl.linear_backward(grad, a["x"], a["w"], a["out"], overwrite_grad=True)
    for g, w in zip(got, want, strict=True):
        np.testing.assert_array_equal(g, w)


def test_largest_step_and_smallest_eps_are_accepted(be: str) -> None:
    """The bounds themselves are valid: step = 2**63 − 1 (int64), eps = the float32 minimum."""
    p32 = np.ones(4, np.float32)
    tiny = float(np.finfo(np.float32).smallest_subnormal)
    numdl.adamw_update(
        p32,
        np.ones(4, np.float32),
        np.zeros(4, np.float32),
        np.zeros(4, np.float32),
        lr=0.1,
        step=2**63 - 1,
        eps=tiny,
    )
    assert np.all(np.isfinite(p32))
    numdl.adamw_update(
        np.ones(4),
        np.ones(4),
        np.zeros(4),
        np.zeros(4),
        lr=0.1,
        step=np.int64(2**63 - 1),
        eps=1e-300,
    )


def test_numpy_bools_are_flags(be: str) -> None:
    a = _linear()
    got = numdl.linear_forward(a["x"], a["w"], a["b"], relu=np.False_)
    np.testing.assert_allclose(got, a["x"] @ a["w"] + a["b"], rtol=1e-12)
    assert numdl.logsumexp(np.zeros((2, 3)), keepdims=np.True_).shape == (2, 1)


@pytest.mark.filterwarnings("ignore:the matrix subclass:PendingDeprecationWarning")
def test_ndarray_subclass_state_is_updated_in_place(be: str) -> None:
    """np.matrix reshapes to 2-D; the op works on a plain view of the same memory."""
    param = np.asmatrix(np.arange(6.0).reshape(2, 3))
    velocity = np.zeros((2, 3))
    numdl.momentum_update(param, np.ones((2, 3)), velocity, lr=0.5, momentum=0.0)
    np.testing.assert_array_equal(np.asarray(param), np.arange(6.0).reshape(2, 3) - 0.5)


# ------------------------------------------------------------------ logsumexp semantics
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_logsumexp_infinities(be: str, dtype: Any) -> None:
    inf = np.inf
    x = np.array(
        [
            [-inf, -inf, -inf],  # all −inf → −inf, not NaN
            [1.0, inf, -inf],  # holds +inf → +inf
            [0.0, -inf, 0.0],  # −inf entries contribute nothing
            [np.nan, 0.0, 1.0],  # NaN propagates
        ],
        dtype=dtype,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = numdl.logsumexp(x, axis=1)
    assert out.dtype == dtype
    assert out[0] == -inf
    assert out[1] == inf
    np.testing.assert_allclose(out[2], np.log(2.0), rtol=1e-6)
    assert np.isnan(out[3])


@pytest.mark.parametrize("axis", [0, 1, 2, -1, -3])
@pytest.mark.parametrize("keepdims", [False, True])
def test_logsumexp_axes_and_keepdims_3d(be: str, axis: int, keepdims: bool) -> None:
    x = np.random.default_rng(7).standard_normal((2, 3, 4)) * 5
    got = numdl.logsumexp(x, axis=axis, keepdims=keepdims)
    want = np.log(np.sum(np.exp(x), axis=axis, keepdims=keepdims))
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-13)


def test_logsumexp_1d_is_scalar_shaped(be: str) -> None:
    got = numdl.logsumexp(np.array([0.0, 0.0]))
    assert np.shape(got) == ()
    np.testing.assert_allclose(got, np.log(2.0), rtol=1e-15)
    assert numdl.logsumexp(np.array([0.0, 0.0]), keepdims=True).shape == (1,)


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_log_softmax_and_softmax_along_axis_3d(be: str, axis: int) -> None:
    x = np.random.default_rng(8).standard_normal((3, 4, 5)) * 3
    ls = numdl.log_softmax(x, axis=axis)
    want = x - np.log(np.sum(np.exp(x), axis=axis, keepdims=True))
    assert ls.shape == x.shape
    np.testing.assert_allclose(ls, want, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(numdl.softmax(x, axis=axis), np.exp(want), rtol=1e-12)


def test_inputs_not_mutated(be: str) -> None:
    x = np.random.default_rng(9).standard_normal((3, 4))
    keep = x.copy()
    numdl.logsumexp(x)
    numdl.log_softmax(x, axis=0)
    numdl.softmax(x)
    numdl.cross_entropy(x, np.array([0, 1, 3]), return_grad=True)
    np.testing.assert_array_equal(x, keep)


# ----------------------------------------------------------------------- properties
def _eps(dtype: Any) -> float:
    return float(np.finfo(dtype).eps)


#: Rows sum to 1 within a few ulps at any magnitude because log-softmax is computed as
#: (x − m) − log s; x − (m + log s) would be off by ~ulp(max|x|) (≈5e-4 at 1e4 in float32).


@settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
@pytest.mark.parametrize(
    ("dtype", "bound"),
    [
        pytest.param(np.float64, 2.0, id="f64-2"),
        pytest.param(np.float32, 2.0, id="f32-2"),
        pytest.param(np.float64, 1e4, id="f64-1e4"),
        pytest.param(np.float32, 1e4, id="f32-1e4"),
    ],
)
def test_softmax_rows_sum_to_one(be: str, dtype: Any, bound: float, data: st.DataObject) -> None:
    shape = data.draw(hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=8))
    x = data.draw(
        hnp.arrays(
            dtype, shape, elements=st.floats(-bound, bound, width=np.dtype(dtype).itemsize * 8)
        )
    )
    p = numdl.softmax(x, axis=-1)
    assert p.dtype == dtype
    assert np.all(p >= 0)
    assert np.all(p <= 1)
    tol = 4 * (shape[1] + 1) * _eps(dtype)
    np.testing.assert_allclose(p.sum(axis=-1, dtype=np.float64), 1.0, rtol=0, atol=tol)


@settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    logits=hnp.arrays(
        np.float64,
        hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=6),
        elements=st.floats(-50, 50),
    ),
    data=st.data(),
)
def test_cross_entropy_invariant_to_row_shifts(
    be: str, logits: np.ndarray, data: st.DataObject
) -> None:
    n, c = logits.shape
    labels = np.array(data.draw(st.lists(st.integers(0, c - 1), min_size=n, max_size=n)))
    shift = data.draw(hnp.arrays(np.float64, (n, 1), elements=st.floats(-1e4, 1e4)))
    loss, grad = numdl.cross_entropy(logits, labels, return_grad=True)
    loss_s, grad_s = numdl.cross_entropy(logits + shift, labels, return_grad=True)
    # logits + shift is rounded to ulp(1e4) ≈ 2e-12: that is the only source of difference
    np.testing.assert_allclose(loss_s, loss, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(grad_s, grad, rtol=0, atol=1e-10)


def test_float32_log_softmax_shift_invariance_exact_case(be: str) -> None:
    # x − max is exact here, so a stable log-softmax gives identical results for both rows
    x = np.array([[0.0, 0.0, -3.0], [1e4, 1e4, 1e4 - 3.0]], dtype=np.float32)
    ls = numdl.log_softmax(x)
    np.testing.assert_allclose(ls[1], ls[0], rtol=4 * _eps(np.float32))
    loss0 = numdl.cross_entropy(x[:1], np.array([0]))
    loss1 = numdl.cross_entropy(x[1:], np.array([0]))
    np.testing.assert_allclose(loss1, loss0, rtol=4 * _eps(np.float32))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cross_entropy_extreme_logits_finite(be: str, dtype: Any) -> None:
    inf = np.inf
    logits = np.array(
        [[1e4, -1e4, 0.0], [-1e4, 1e4, -inf], [0.0, -inf, -inf], [5.0, 5.0, -inf]], dtype=dtype
    )
    labels = np.array([0, 0, 0, 1])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loss, grad = numdl.cross_entropy(logits, labels, return_grad=True)
    assert np.isfinite(loss)
    assert np.all(np.isfinite(grad))
    # per-row losses: 0, 2e4, 0, log 2 → mean
    np.testing.assert_allclose(loss, (2e4 + np.log(2.0)) / 4, rtol=10 * _eps(dtype))
    want = np.array([[0, 0, 0], [-1, 1, 0], [0, 0, 0], [0.5, -0.5, 0]]) / 4
    np.testing.assert_allclose(grad, want, atol=10 * _eps(dtype))


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")  # see below
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_soft_cross_entropy_with_minus_inf_off_target_finite(be: str, dtype: Any) -> None:
    logits = np.array([[0.0, -np.inf, 0.0], [1e4, 0.0, -1e4]], dtype=dtype)
    target = np.array([[0.5, 0.0, 0.5], [1.0, 0.0, 0.0]], dtype=dtype)
    loss, grad = numdl.cross_entropy(logits, target, return_grad=True)
    assert np.isfinite(loss)
    assert np.all(np.isfinite(grad))
    np.testing.assert_allclose(loss, np.log(2.0) / 2, rtol=10 * _eps(dtype))
    np.testing.assert_allclose(grad, np.zeros((2, 3)), atol=10 * _eps(dtype))


def test_soft_cross_entropy_with_minus_inf_emits_no_warning() -> None:
    logits = np.array([[0.0, -np.inf, 0.0]])
    target = np.array([[0.5, 0.0, 0.5]])
    with warnings.catch_warnings(), numdl.use_backend("numpy"):  # the reference's bug
        warnings.simplefilter("error")
        numdl.cross_entropy(logits, target, return_grad=True)
