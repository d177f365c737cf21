"""Property-based tests of every public op in numdl.core.ops, on every backend that loads.

Two properties, each drawn by hypothesis over dtypes, shapes, values and argument layouts:

* **Rejected calls** — one argument is made invalid (wrong dtype or kind, wrong shape, NaN or
  inf where forbidden, an output or in-place array sharing memory with another argument,
  read-only or non-contiguous outputs and state, a flag that is not a bool, a scalar out of
  range or not representable in the arrays' dtype, a masked array). Every backend must raise
  the expected exception type, with the *same* message naming the argument, and leave every
  array it was given bitwise unchanged (NaN payloads and signed zeros included).
* **Accepted calls** — valid arguments in awkward but legal layouts (strided, Fortran-ordered
  or list inputs, ndarray subclasses, outputs and inputs as adjacent non-overlapping views
  of one buffer, NumPy bools and scalars, empty dimensions, NaN and inf where they
  propagate). Every backend must accept them, agree with the reference backend ("numpy")
  within :data:`numdl.testing.tolerances.TOLERANCES`, and leave what it does not write
  bitwise unchanged.

A drawn case is a *plan* (plain data: op, dtype, sizes, seed, and a list of modifications);
each backend gets its own arrays built from the plan, so every backend sees equal inputs
with the same memory layout and aliasing. Examples per run: see ``INVALID_EXAMPLES`` and
``VALID_EXAMPLES`` (derandomized, so every run draws the same cases).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import numdl
from numdl.core import backend, ops
from numdl.testing.tolerances import assert_backend_close


def _loadable_backends() -> list[str]:
    """Every backend that loads here and works on NumPy arrays (the plans build NumPy arrays;
    a device backend such as "cuda" has its own suite, tests/cuda)."""
    names = []
    for name in backend.available_backends():
        try:
            loaded = backend.load(name)
        except ImportError:
            continue  # e.g. "cuda" without a GPU
        if loaded.xp is np:
            names.append(name)
    return names


BACKENDS = _loadable_backends()
REFERENCE = "numpy"

#: hypothesis examples per op and property: 8 ops × (250 + 100) = 2800 per run, about 30 s
#: here once Numba has cached its kernels (about 80 s on a first run, which compiles them).
INVALID_EXAMPLES = 250
VALID_EXAMPLES = 100

SETTINGS = settings(
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

OP_NAMES = [
    "linear_forward",
    "linear_backward",
    "batchnorm_forward",
    "batchnorm_backward",
    "cross_entropy",
    "logsumexp",
    "log_softmax",
    "softmax",
    "momentum_update",
    "adamw_update",
    "adam_update",
    "rmsprop_update",
    "adagrad_update",
    "take_rows",
    "conv2d_forward",
    "conv2d_backward",
    "maxpool2d_forward",
    "maxpool2d_backward",
    "avgpool2d_forward",
    "avgpool2d_backward",
]
#: The optimiser updates: in-place updates of a parameter and its state buffers.
UPDATE_OPS = ("momentum_update", "adamw_update", "adam_update", "rmsprop_update", "adagrad_update")
#: State buffers that hold sums or averages of g² (non-negative).
_SQUARES = ("v", "square_avg", "sum_sq")

#: Flags that look like booleans but are not: each must be a TypeError naming the flag.
BAD_FLAGS = ["False", "True", 0, 1, 1.0, None, np.array(True), [True], np.int64(1)]
FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


# ------------------------------------------------------------------------------ a call
@dataclass
class Call:
    """One call of an op: its array arguments by name, and everything else."""

    op: str
    pos: tuple[str, ...]  # positional array arguments, in order
    arrays: dict[str, Any]  # every array argument (positional and keyword)
    kwargs: dict[str, Any] = field(default_factory=dict)  # keyword arguments besides arrays
    written: tuple[str, ...] = ()  # array arguments the call writes when it succeeds
    dtype: np.dtype = FLOATS[1]

    def run(self) -> Any:
        fn = getattr(ops, self.op)
        kw_arrays = {n: a for n, a in self.arrays.items() if n not in self.pos}
        return fn(*(self.arrays[n] for n in self.pos), **kw_arrays, **self.kwargs)


def _rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


def _nan_buffer(shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    return np.full(shape, np.nan, dtype)


def _values(rng: np.random.Generator, shape: tuple[int, ...], dtype: np.dtype, kind: str):
    """Normal values; "extreme" sprinkles ±1e4 and the specials allowed by ``kind``."""
    x = rng.standard_normal(shape).astype(dtype)
    if x.size == 0 or kind == "normal":
        return x
    picks = [1e4, -1e4, 0.0, -0.0]
    if kind in ("extreme-inf", "extreme-nan"):
        picks += [np.inf, -np.inf]
    if kind == "extreme-nan":
        picks += [np.nan]
    for value in picks:
        x[rng.random(shape) < 0.08] = value
    return x


# ------------------------------------------------------------------------ base calls
def base_linear_forward(p: dict) -> Call:
    rng, dt = _rng(p["seed"]), p["dtype"]
    b, i, o = p["dims"]
    arrays = {
        "x": _values(rng, (b, i), dt, p.get("values", "normal")),
        "w": (rng.standard_normal((i, o)) / np.sqrt(max(i, 1))).astype(dt),
        "b": rng.standard_normal(o).astype(dt),
    }
    if p.get("out", True):
        arrays["out"] = _nan_buffer((b, o), dt)
    return Call("linear_forward", ("x", "w", "b"), arrays, {"relu": p["relu"]}, ("out",), dt)


def base_linear_backward(p: dict) -> Call:
    rng, dt = _rng(p["seed"]), p["dtype"]
    b, i, o = p["dims"]
    x = _values(rng, (b, i), dt, p.get("values", "normal"))
    w = (rng.standard_normal((i, o)) / np.sqrt(max(i, 1))).astype(dt)
    z = (x @ w + rng.standard_normal(o).astype(dt)).astype(dt)
    arrays = {
        "grad_out": _values(rng, (b, o), dt, p.get("values", "normal")),
        "x": x,
        "w": w,
        "out": np.maximum(z, 0) if p["relu"] else z,
    }
    for name, shape in (("dx", (b, i)), ("dw", (i, o)), ("db", (o,))):
        if p.get(name, True) and (name != "dx" or p["compute_dx"]):
            arrays[name] = _nan_buffer(shape, dt)
    kwargs = {k: p[k] for k in ("relu", "compute_dx", "overwrite_grad")}
    written = ("dx", "dw", "db", *(("grad_out",) if p["overwrite_grad"] else ()))
    return Call("linear_backward", ("grad_out", "x", "w", "out"), arrays, kwargs, written, dt)


def base_batchnorm_forward(p: dict) -> Call:
    rng, dt = _rng(p["seed"]), p["dtype"]
    b, f = p["dims"]
    arrays = {
        "x": _values(rng, (b, f), dt, p.get("values", "normal")),
        "gamma": (1 + 0.3 * rng.standard_normal(f)).astype(dt),
        "beta": rng.standard_normal(f).astype(dt),
    }
    for name, shape in (("out", (b, f)), ("mean", (f,)), ("var", (f,))):
        if p.get(name, True):
            arrays[name] = _nan_buffer(shape, dt)
    kwargs = {"relu": p["relu"], "eps": p.get("eps", 1e-5)}
    return Call(
        "batchnorm_forward", ("x", "gamma", "beta"), arrays, kwargs, ("out", "mean", "var"), dt
    )


def base_batchnorm_backward(p: dict) -> Call:
    rng, dt = _rng(p["seed"]), p["dtype"]
    b, f = p["dims"]
    x = _values(rng, (b, f), dt, p.get("values", "normal"))
    gamma = (1 + 0.3 * rng.standard_normal(f)).astype(dt)
    with np.errstate(all="ignore"):  # the statistics of extreme values may be inf or NaN
        mean, var = x.mean(axis=0), x.var(axis=0)
        z = (x - mean) * (gamma / np.sqrt(var + dt.type(1e-5)))
    arrays = {
        "grad_out": _values(rng, (b, f), dt, p.get("values", "normal")),
        "x": x,
        "gamma": gamma,
        "out": np.maximum(z, 0) if p["relu"] else z,
        "mean": mean,
        "var": var,
    }
    for name, shape in (("dx", (b, f)), ("dgamma", (f,)), ("dbeta", (f,))):
        if p.get(name, True) and (name != "dx" or not p["overwrite_grad"]):
            arrays[name] = _nan_buffer(shape, dt)
    kwargs = {"relu": p["relu"], "overwrite_grad": p["overwrite_grad"], "eps": p.get("eps", 1e-5)}
    written = ("dx", "dgamma", "dbeta", *(("grad_out",) if p["overwrite_grad"] else ()))
    pos = ("grad_out", "x", "gamma", "out", "mean", "var")
    return Call("batchnorm_backward", pos, arrays, kwargs, written, dt)


BATCHNORM_OPS = ("batchnorm_forward", "batchnorm_backward")


def base_cross_entropy(p: dict) -> Call:
    rng, dt = _rng(p["seed"]), p["dtype"]
    b, c = p["dims"]
    arrays: dict[str, Any] = {"logits": 3 * _values(rng, (b, c), dt, p.get("values", "normal"))}
    if p["target"] == "labels":
        arrays["target"] = rng.integers(0, c, size=b).astype(p.get("label_dtype", np.int64))
    else:
        t = rng.random((b, c)).astype(dt)
        t[rng.random((b, c)) < 0.2] = 0  # exact zeros, and rows that need not sum to 1
        arrays["target"] = t
    if p.get("dlogits", False):
        arrays["dlogits"] = _nan_buffer((b, c), dt)
    kwargs = {"return_grad": p["return_grad"]}
    return Call("cross_entropy", ("logits", "target"), arrays, kwargs, ("dlogits",), dt)


def base_rows(p: dict) -> Call:
    rng, dt = _rng(p["seed"]), p["dtype"]
    arrays = {"x": 5 * _values(rng, tuple(p["dims"]), dt, p.get("values", "normal"))}
    kwargs: dict[str, Any] = {"axis": p["axis"]}
    if p["op"] == "logsumexp":
        kwargs["keepdims"] = p["keepdims"]
    return Call(p["op"], ("x",), arrays, kwargs, (), dt)


def base_update(p: dict) -> Call:
    rng, dt = _rng(p["seed"]), p["dtype"]
    shape = tuple(p["dims"])
    momentum_buffer = ("momentum_buffer",) if p["scalars"].get("momentum") else ()
    states = {
        "momentum_update": ("velocity",),
        "rmsprop_update": ("square_avg", *momentum_buffer),
        "adagrad_update": ("sum_sq",),
    }.get(p["op"], ("m", "v"))
    arrays = {
        "param": rng.standard_normal(shape).astype(dt),
        "grad": _values(rng, shape, dt, p.get("values", "normal")),
    }
    for name in states:
        s = (0.1 * rng.standard_normal(shape)).astype(dt)
        arrays[name] = np.abs(s) if name in _SQUARES else s
    kwargs = dict(p["scalars"])
    return Call(p["op"], ("param", "grad", *states), arrays, kwargs, ("param", *states), dt)


def base_take_rows(p: dict) -> Call:
    rng, dt = _rng(p["seed"]), p["dtype"]
    n, b, d = p["dims"]
    arrays: dict[str, Any] = {
        "x": _values(rng, (n, d), dt, p.get("values", "normal")),
        "index": rng.integers(0, max(n, 1), size=b).astype(p.get("index_dtype", np.int64)),
    }
    if p.get("out", True):
        arrays["out"] = _nan_buffer((b, d), dt)
    return Call("take_rows", ("x", "index"), arrays, {}, ("out",), dt)


# convolution and pooling: dims (B, C, H, W, F, KH, KW) and (B, C, H, W); window arguments
# (stride, padding, kernel) are plan entries, ints or pairs, passed as drawn
CONV_OPS = ("conv2d_forward", "conv2d_backward")
POOL_OPS = ("maxpool2d_forward", "maxpool2d_backward", "avgpool2d_forward", "avgpool2d_backward")
SPATIAL_OPS = CONV_OPS + POOL_OPS


def _two(v: Any, default: Any = None) -> tuple[int, int]:
    v = default if v is None else v
    return (int(v), int(v)) if np.ndim(v) == 0 else (int(v[0]), int(v[1]))


def _pooled(h: int, w: int, kernel: Any, stride: Any, padding: Any) -> tuple[int, int]:
    (kh, kw), (sh, sw), (ph, pw) = _two(kernel), _two(stride, kernel), _two(padding)
    return (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1


def _conv_ref(p: dict, rng: np.random.Generator) -> dict[str, Any]:
    """x, w, b and the reference forward's cols and out for a convolution plan."""
    from numdl.core.hotpaths import conv as ref

    dt = p["dtype"]
    b, c, h, w, f, kh, kw = p["dims"]
    oh, ow = _pooled(h, w, (kh, kw), p["stride"], p["padding"])
    x = _values(rng, (b, c, h, w), dt, p.get("values", "normal"))
    wt = (rng.standard_normal((f, c, kh, kw)) / np.sqrt(c * kh * kw)).astype(dt)
    bias = rng.standard_normal(f).astype(dt)
    cols, z = np.empty((c * kh * kw, b * oh * ow), dt), np.empty((f, b * oh * ow), dt)
    out = np.empty((b, f, oh, ow), dt)
    with np.errstate(all="ignore"):
        stride, padding = _two(p["stride"]), _two(p["padding"])
        ref.conv2d_forward(x, wt, bias, stride, padding, p["relu"], cols, z, out)
    return {"x": x, "w": wt, "b": bias, "cols": cols, "z": z, "out": out, "oh": oh, "ow": ow}


def base_conv2d_forward(p: dict) -> Call:
    rng, dt = _rng(p["seed"]), p["dtype"]
    r = _conv_ref(p, rng)
    arrays = {k: r[k] for k in ("x", "w", "b")}
    for name in ("out", "cols", "z"):
        if p.get(name, name == "out"):
            arrays[name] = _nan_buffer(r[name].shape, dt)
    kwargs = {"stride": p["stride"], "padding": p["padding"], "relu": p["relu"]}
    return Call("conv2d_forward", ("x", "w", "b"), arrays, kwargs, ("out", "cols", "z"), dt)


def base_conv2d_backward(p: dict) -> Call:
    rng, dt = _rng(p["seed"]), p["dtype"]
    r = _conv_ref(p, rng)
    b, c, h, w, f, kh, kw = p["dims"]
    grad = _values(rng, r["out"].shape, dt, p.get("values", "normal"))
    arrays = {"grad": grad, "cols": r["cols"], "w": r["w"], "out": r["out"]}
    shapes = {
        "dx": (b, c, h, w),
        "dw": (f, c, kh, kw),
        "db": (f,),
        "dz": r["z"].shape,
        "dcols": r["cols"].shape,
    }
    for name, shape in shapes.items():
        if p.get(name, name in ("dx", "dw", "db")) and (
            p["compute_dx"] or name not in ("dx", "dcols")
        ):
            arrays[name] = _nan_buffer(shape, dt)
    kwargs = {k: p[k] for k in ("stride", "padding", "relu", "compute_dx")}
    kwargs["x_shape"] = (b, c, h, w)
    pos = ("grad", "cols", "w", "out")
    return Call("conv2d_backward", pos, arrays, kwargs, tuple(shapes), dt)


def _pool_kwargs(p: dict) -> dict[str, Any]:
    return {"kernel_size": p["kernel"], "stride": p["stride"], "padding": p["padding"]}


def base_pool_forward(p: dict) -> Call:
    rng, dt = _rng(p["seed"]), p["dtype"]
    b, c, h, w = p["dims"]
    oh, ow = _pooled(h, w, p["kernel"], p["stride"], p["padding"])
    arrays: dict[str, Any] = {"x": _values(rng, (b, c, h, w), dt, p.get("values", "normal"))}
    if p.get("out", True):
        arrays["out"] = _nan_buffer((b, c, oh, ow), dt)
    written: tuple[str, ...] = ("out",)
    if p["op"] == "maxpool2d_forward":
        written = ("out", "argmax")
        if p.get("argmax", True):
            arrays["argmax"] = np.full((b, c, oh, ow), -7, np.int64)
    return Call(p["op"], ("x",), arrays, _pool_kwargs(p), written, dt)


def base_pool_backward(p: dict) -> Call:
    rng, dt = _rng(p["seed"]), p["dtype"]
    b, c, h, w = p["dims"]
    oh, ow = _pooled(h, w, p["kernel"], p["stride"], p["padding"])
    x = _values(rng, (b, c, h, w), dt, p.get("values", "normal"))
    arrays: dict[str, Any] = {"grad": _values(rng, (b, c, oh, ow), dt, p.get("values", "normal"))}
    kwargs: dict[str, Any] = {"x_shape": (b, c, h, w)}
    pos: tuple[str, ...] = ("grad",)
    if p["op"] == "maxpool2d_backward":
        with numdl.use_backend("numpy"), np.errstate(all="ignore"):
            _, arrays["argmax"] = ops.maxpool2d_forward(x, **_pool_kwargs(p))
        pos = ("grad", "argmax")
    else:
        kwargs.update(_pool_kwargs(p))
    if p.get("dx", True):
        arrays["dx"] = _nan_buffer((b, c, h, w), dt)
    return Call(p["op"], pos, arrays, kwargs, ("dx",), dt)


BASES: dict[str, Callable[[dict], Call]] = {
    "linear_forward": base_linear_forward,
    "linear_backward": base_linear_backward,
    "batchnorm_forward": base_batchnorm_forward,
    "batchnorm_backward": base_batchnorm_backward,
    "cross_entropy": base_cross_entropy,
    "logsumexp": base_rows,
    "log_softmax": base_rows,
    "softmax": base_rows,
    "momentum_update": base_update,
    "adamw_update": base_update,
    "adam_update": base_update,
    "rmsprop_update": base_update,
    "adagrad_update": base_update,
    "take_rows": base_take_rows,
    "conv2d_forward": base_conv2d_forward,
    "conv2d_backward": base_conv2d_backward,
    "maxpool2d_forward": base_pool_forward,
    "maxpool2d_backward": base_pool_backward,
    "avgpool2d_forward": base_pool_forward,
    "avgpool2d_backward": base_pool_backward,
}


# --------------------------------------------------------------------- modifications
def _strided_copy(a: np.ndarray) -> np.ndarray:
    """The same values in a non-contiguous view (every other element of a wider buffer)."""
    a = np.asarray(a)
    wide = np.zeros((*a.shape[:-1], 2 * a.shape[-1]) if a.ndim else (2,), a.dtype)
    view = wide[..., ::2] if a.ndim else wide[::2].reshape(())
    view[...] = a
    return view


def _overlapping(keep: np.ndarray, other_shape: tuple, offset: int) -> tuple[Any, Any]:
    """``keep``'s values in a view of a buffer, and a second view of ``other_shape`` that
    starts ``offset`` elements into the first (so they share at least one element)."""
    n_keep = keep.size
    n_other = int(np.prod(other_shape))
    buf = np.full(max(n_keep, offset + n_other), 0.5, keep.dtype)
    first = buf[:n_keep].reshape(keep.shape)
    first[...] = keep
    second = buf[offset : offset + n_other].reshape(other_shape)
    return first, second


def _strided_over(keep: np.ndarray, out_shape: tuple) -> tuple[Any, Any]:
    """``keep``'s values as a strided view (every other element of a buffer) and a
    contiguous view of ``out_shape`` over the start of that buffer (they share elements)."""
    n_keep = keep.size
    n_out = int(np.prod(out_shape))
    buf = np.full(max(2 * n_keep, n_out), 0.5, keep.dtype)
    strided = buf[: 2 * n_keep : 2].reshape(keep.shape)
    strided[...] = keep
    out = buf[:n_out].reshape(out_shape)
    return strided, out


def _packed(arrays: list[np.ndarray], gap: int) -> list[np.ndarray]:
    """The arrays' values as adjacent (``gap`` elements apart), non-overlapping views of
    one buffer, like a model's flat parameter buffer."""
    total = sum(a.size for a in arrays) + gap * len(arrays)
    buf = np.full(total, 7.0, arrays[0].dtype)
    views, start = [], 0
    for a in arrays:
        v = buf[start : start + a.size].reshape(a.shape)
        v[...] = a
        views.append(v)
        start += a.size + gap
    return views


def _cast(a: Any, kind: str, call: Call) -> Any:
    with np.errstate(invalid="ignore"):  # NaN output buffers cast to integers
        return _cast_values(np.asarray(a), kind)


def _cast_values(a: np.ndarray, kind: str) -> Any:
    if kind == "other-float":
        other = FLOATS[0] if a.dtype == FLOATS[1] else FLOATS[1]
        return a.astype(other)
    if kind == "str":
        return a.astype(str)
    if kind == "object":
        return a.astype(object)
    if kind == "bool":
        return a > 0
    if kind == "big-endian":
        return a.astype(a.dtype.newbyteorder(">"))
    return a.astype(kind)


def apply(call: Call, mod: tuple) -> None:
    """Apply one modification (plain data, so a plan can be rebuilt per backend)."""
    kind, *args = mod
    arrays = call.arrays
    if kind == "cast":
        name, to = args
        arrays[name] = _cast(arrays[name], to, call)
    elif kind == "shape":
        name, shape = args
        old = np.asarray(arrays[name])
        arrays[name] = np.full(shape, 0.5 if old.dtype.kind == "f" else 0, old.dtype)
    elif kind == "set":  # one entry of an array set to a value
        name, index, value = args
        a = np.array(arrays[name], copy=True)
        a.flat[index % a.size] = value
        arrays[name] = a
    elif kind == "same":  # the output *is* the other argument
        out, other = args
        arrays[out] = arrays[other]
    elif kind == "overlap":  # the output overlaps the other argument (views of one buffer)
        out, other, offset = args
        keep = np.asarray(arrays[other])
        arrays[other], arrays[out] = _overlapping(keep, np.shape(arrays[out]), offset % keep.size)
    elif kind == "strided-overlap":  # the other argument is strided over the output's memory
        out, other = args
        arrays[other], arrays[out] = _strided_over(np.asarray(arrays[other]), arrays[out].shape)
    elif kind == "readonly":
        (name,) = args
        a = np.array(arrays[name], copy=True)
        a.flags.writeable = False
        arrays[name] = a
    elif kind == "strided":
        (name,) = args
        arrays[name] = _strided_copy(arrays[name])
    elif kind == "fortran":
        (name,) = args
        arrays[name] = np.asfortranarray(arrays[name])
    elif kind == "reversed":  # negative strides: the same values, read back to front
        (name,) = args
        a = np.asarray(arrays[name])
        arrays[name] = np.ascontiguousarray(a[::-1])[::-1] if a.ndim else a
    elif kind == "masked":
        name, index = args
        a = np.asarray(arrays[name])
        mask = np.zeros(a.shape, bool)
        if a.size:
            mask.flat[index % a.size] = True
        arrays[name] = np.ma.array(a, mask=mask)
    elif kind == "matrix":
        (name,) = args
        arrays[name] = np.asmatrix(arrays[name])
    elif kind == "list":
        (name,) = args
        arrays[name] = np.asarray(arrays[name]).tolist()
    elif kind == "pack":  # adjacent, non-overlapping views of one buffer (valid)
        names, gap = args
        for n, v in zip(names, _packed([arrays[n] for n in names], gap), strict=True):
            arrays[n] = v
    elif kind == "add":  # an output buffer the base call did not pass
        name, shape = args
        arrays[name] = _nan_buffer(shape, call.dtype)
    elif kind == "drop":
        (name,) = args
        del arrays[name]
    elif kind == "kw":
        key, value = args
        call.kwargs[key] = value
    else:  # pragma: no cover - a typo in a plan
        raise AssertionError(f"unknown modification {kind!r}")


def build(plan: dict) -> Call:
    call = BASES[plan["op"]](plan)
    for mod in plan.get("mods", ()):
        apply(call, mod)
    return call


# --------------------------------------------------------------------- running plans
def _snapshot(value: Any) -> Any:
    """Bitwise picture of an argument: dtype, shape, bytes (NaN payloads, −0.0 included)."""
    if isinstance(value, np.ndarray):
        data = np.ma.getdata(value)
        return (data.dtype.str, data.shape, np.ascontiguousarray(data).tobytes())
    return copy.deepcopy(value)


def _run(plan: dict, name: str) -> tuple[Call, dict[str, Any], Any, BaseException | None]:
    call = build(plan)
    before = {n: _snapshot(a) for n, a in call.arrays.items()}
    with numdl.use_backend(name), np.errstate(all="ignore"):
        try:
            result = call.run()
        except Exception as exc:  # every exception is compared by the caller
            return call, before, None, exc
    return call, before, result, None


def check_rejected(
    plan: dict, exc_type: type[Exception], names: tuple[str, ...], *, need_all: bool = False
) -> None:
    """Every backend raises ``exc_type``, the same message naming one of ``names`` (all of
    them with ``need_all``), and changes nothing."""
    seen: dict[str, tuple[type, str]] = {}
    for be in BACKENDS:
        call, before, result, exc = _run(plan, be)
        assert exc is not None, f"{be}: {plan} was accepted (returned {result!r})"
        assert type(exc) is exc_type, f"{be}: {plan} raised {type(exc).__name__}: {exc}"
        message = str(exc)
        named = all if need_all else any
        assert named(n in message for n in names), f"{be}: message lacks {names}: {message}"
        for n, arr in call.arrays.items():
            assert _snapshot(arr) == before[n], f"{be}: {n} changed by a rejected call {plan}"
        seen[be] = (type(exc), message)
    ref = seen[REFERENCE]
    for be, got in seen.items():
        assert got == ref, f"{be} raised {got}, the reference {ref}, for {plan}"


def _outputs(call: Call, result: Any) -> dict[str, np.ndarray]:
    """What a successful call produced: its return value(s) and the arrays it wrote."""
    outs: dict[str, Any] = {}
    returned = {
        "linear_backward": ("dx", "dw", "db"),
        "batchnorm_forward": ("out", "mean", "var"),
        "batchnorm_backward": ("dx", "dgamma", "dbeta"),
        "conv2d_backward": ("dx", "dw", "db"),
        "maxpool2d_forward": ("out", "argmax"),
    }.get(call.op)
    if returned is not None:
        for n, r in zip(returned, result, strict=True):
            if r is not None:
                outs[f"return:{n}"] = np.asarray(r)
    elif call.op == "cross_entropy" and isinstance(result, tuple):
        outs["return:loss"], outs["return:dlogits"] = np.asarray(result[0]), result[1]
    elif result is not None:
        outs["return"] = np.asarray(result)
    for n in call.written:
        if n in call.arrays:
            outs[n] = np.asarray(call.arrays[n])
    return outs


def check_accepted(plan: dict) -> None:
    """Every backend accepts the call, leaves what it does not write bitwise unchanged, and
    agrees with the reference within the tolerance table."""
    results: dict[str, dict[str, np.ndarray]] = {}
    for be in BACKENDS:
        call, before, result, exc = _run(plan, be)
        assert exc is None, f"{be}: valid {plan} raised {type(exc).__name__}: {exc}"
        for n, arr in call.arrays.items():
            if n not in call.written:
                assert _snapshot(arr) == before[n], f"{be}: input {n} changed by {plan}"
        outs = _outputs(call, result)
        for n, out in outs.items():
            want = np.dtype(np.int64) if n.endswith("argmax") else call.dtype  # indices
            assert out.dtype == want, f"{be}: {n} has dtype {out.dtype}, not {want}"
        results[be] = outs
    ref = results[REFERENCE]
    for be, outs in results.items():
        assert outs.keys() == ref.keys(), f"{be}: outputs {outs.keys()} vs {ref.keys()}"
        for n, out in outs.items():
            assert_backend_close(out, ref[n], name=f"{be} {n} for {plan}")


# -------------------------------------------------------------- drawing invalid plans
def _dtype(draw) -> np.dtype:
    return draw(st.sampled_from(FLOATS))


def _seed(draw) -> int:
    return draw(st.integers(0, 2**32 - 1))


def _bad_dtype(draw, *, labels: bool = False) -> str:
    kinds = ["int64", "int32", "float16", "bool", "complex128", "str", "object", "big-endian"]
    if labels:
        kinds = ["float64", "float32", "bool", "complex128", "str", "object"]
    else:
        kinds.append("other-float")
    return draw(st.sampled_from(kinds))


def _alias_mod(draw, call: Call, outs: list[str], others: list[str], strided_ok: list[str]):
    """A modification making an output share memory with another argument."""
    out = draw(st.sampled_from(outs))
    other = draw(st.sampled_from([n for n in others if n != out]))
    modes = ["overlap"]
    a, b = call.arrays[out], call.arrays[other]
    if np.shape(a) == np.shape(b) and np.asarray(b).dtype == call.dtype:
        modes.append("same")
    if other in strided_ok:
        modes.append("strided-overlap")
    mode = draw(st.sampled_from(modes))
    if mode == "overlap":
        mod = ("overlap", out, other, draw(st.integers(0, 10**6)))
    else:
        mod = (mode, out, other)
    return mod, (out, other)


def draw_invalid(draw, op: str) -> tuple[dict, type[Exception], tuple[str, ...], bool]:
    """A plan for ``op`` with one invalid argument, the exception type, the names expected
    in the message, and whether all of them (an overlap names both arrays) or any."""
    dt = _dtype(draw)
    plan: dict[str, Any] = {"op": op, "dtype": dt, "seed": _seed(draw)}
    size = st.integers(1, 4)
    if op in ("linear_forward", "linear_backward"):
        plan["dims"] = (draw(size), draw(size), draw(size))
        plan["relu"] = draw(st.booleans())
        if op == "linear_backward":
            plan["compute_dx"] = draw(st.booleans())
            plan["overwrite_grad"] = draw(st.booleans())
            for n in ("dx", "dw", "db"):
                plan[n] = draw(st.booleans())
    elif op in BATCHNORM_OPS:
        plan["dims"] = (draw(size), draw(size))
        plan["relu"] = draw(st.booleans())
        outs = ("out", "mean", "var") if op == "batchnorm_forward" else ("dx", "dgamma", "dbeta")
        for n in outs:
            plan[n] = draw(st.booleans())
        if op == "batchnorm_backward":
            plan["overwrite_grad"] = draw(st.booleans())
    elif op == "cross_entropy":
        plan["dims"] = (draw(size), draw(size))
        plan["target"] = draw(st.sampled_from(["labels", "soft"]))
        plan["label_dtype"] = draw(st.sampled_from([np.int64, np.int32, np.uint8, np.int16]))
        plan["return_grad"] = draw(st.booleans())
        plan["dlogits"] = draw(st.booleans())
    elif op in ("logsumexp", "log_softmax", "softmax"):
        plan["dims"] = tuple(draw(st.lists(size, min_size=1, max_size=3)))
        plan["axis"] = draw(st.integers(-len(plan["dims"]), len(plan["dims"]) - 1))
        plan["keepdims"] = draw(st.booleans())
    elif op == "take_rows":
        plan["dims"] = (draw(size), draw(size), draw(size))
        plan["index_dtype"] = draw(st.sampled_from([np.int64, np.int32, np.uint8, np.int16]))
    elif op in SPATIAL_OPS:
        _draw_window(draw, plan, size)
        for n in ("out", "cols", "z", "argmax", "dx", "dw", "db", "dz", "dcols"):
            plan[n] = draw(st.booleans())
    else:
        plan["dims"] = tuple(draw(st.lists(size, min_size=1, max_size=2)))
        plan["scalars"] = _valid_scalars(draw, op, dt, int(np.prod(plan["dims"])))
    call = BASES[op](plan)  # to see which arrays the call has
    kind = draw(st.sampled_from(_INVALID_KINDS[op]))
    mod, exc, names, *need_all = _INVALID_MAKERS[kind](draw, op, plan, call)
    plan["mods"] = [mod] if not isinstance(mod, list) else mod
    return plan, exc, names, bool(need_all and need_all[0])


def _valid_scalars(draw, op: str, dt: np.dtype, size: int) -> dict[str, Any]:
    real = st.floats(0, 1, allow_nan=False) | st.sampled_from([0.0, 1e-3, np.float32(0.01)])
    beta = st.floats(0, 0.999, allow_nan=False)
    s: dict[str, Any] = {
        "lr": draw(real),
        "weight_decay": draw(st.floats(0, 0.5) | st.just(0)),
        "n_decayed": draw(st.none() | st.integers(0, size) | st.integers(0, size).map(np.int64)),
    }
    eps = st.sampled_from([1e-8, 1e-6, 1e-30 if dt == FLOATS[1] else 1e-38])
    if op == "momentum_update":
        s["momentum"] = draw(beta)
        s["nesterov"] = draw(st.booleans() | st.just(np.bool_(True)))
    elif op in ("adamw_update", "adam_update"):
        s["step"] = draw(st.integers(1, 10**6) | st.just(np.int64(2**63 - 1)))
        s["beta1"] = draw(beta)
        s["beta2"] = draw(beta)
        s["eps"] = draw(eps)
    elif op == "rmsprop_update":
        s["alpha"] = draw(beta)
        s["momentum"] = draw(st.just(0.0) | beta)
        s["eps"] = draw(eps)
    else:
        s["eps"] = draw(eps)
    return s


# Each maker returns (modification(s), exception type, names the message may name).
def _mk_dtype(draw, op, plan, call):
    name = draw(st.sampled_from(sorted(call.arrays)))
    labels = op == "cross_entropy" and name == "target" and plan["target"] == "labels"
    labels = labels or (op == "take_rows" and name == "index")  # integer arrays
    labels = labels or name == "argmax"  # max pooling's int64 indices
    bad = _bad_dtype(draw, labels=labels)
    n_float = sum(np.asarray(a).dtype.kind == "f" for a in call.arrays.values())
    if bad == "other-float" and n_float < 2:  # a lone float array may have either dtype
        bad = "float16"
    return ("cast", name, bad), TypeError, (name,)


def _mk_masked(draw, op, plan, call):
    name = draw(st.sampled_from(sorted(call.arrays)))
    return ("masked", name, draw(st.integers(0, 100))), TypeError, (name,)


def _mk_shape(draw, op, plan, call):
    """A shape that disagrees with the others (or an ndim the op does not take)."""
    names = sorted(call.arrays)
    name = draw(st.sampled_from(names))
    shape = np.shape(call.arrays[name])
    if op in ("logsumexp", "log_softmax", "softmax"):
        axis = plan["axis"] % len(shape)
        empty = tuple(0 if d == axis else s for d, s in enumerate(shape))
        return ("shape", "x", draw(st.sampled_from([(), empty]))), ValueError, ("x",)
    if op in SPATIAL_OPS:
        return _mk_shape_spatial(draw, op, plan, call, name, shape)
    if op in UPDATE_OPS:
        if name == "param":  # param reshaped: the others no longer match it
            other = (int(np.prod(shape)) + 1,)
            return ("shape", "param", other), ValueError, tuple(call.arrays)
        choices = [(int(np.prod(shape)) + 1,), (*shape, 1), (1, *shape)]
        return ("shape", name, draw(st.sampled_from(choices))), ValueError, (name,)
    if op == "take_rows":
        n, b, d = plan["dims"]
        choices = {
            "x": [(n,), (n, d, 1), (n, d + 1)],
            "index": [(), (b, 1)],
            "out": [(b + 1, d), (b, d + 1), (b,)],
        }[name]
        new = draw(st.sampled_from(choices))
        hit = ("x", "out") if name == "x" else (name,)  # x one wider: out no longer fits
        return ("shape", name, new), ValueError, hit
    if op == "cross_entropy" and name == "target" and plan["target"] == "labels":
        b = shape[0]
        choices = [(b + 1,), (), (b, 1, 1)]
        return ("shape", name, draw(st.sampled_from(choices))), ValueError, (name,)
    if op == "cross_entropy" and name == "target":  # soft: 1-D floats would be bad labels
        b, c = shape
        choices = [(b, c + 1), (b + 1, c), (b, c, 1)]
        return ("shape", name, draw(st.sampled_from(choices))), ValueError, (name,)
    if op == "cross_entropy" and name == "logits":
        b, c = shape
        choices = [(b,), (b, c, 1), (0, c), (b, 0)]
        # a logits shape change also mismatches the target: either may be named
        return ("shape", name, draw(st.sampled_from(choices))), ValueError, ("logits", "target")
    # one dimension one longer, or one dimension more or fewer
    dim = draw(st.integers(0, len(shape) - 1))
    if op in ("linear_forward", "batchnorm_forward") and name == "x" and "out" not in call.arrays:
        dim = 1  # B is free when no output buffer is given
    longer = tuple(s + 1 if d == dim else s for d, s in enumerate(shape))
    choices = [longer, shape[:-1] if len(shape) > 1 else (*shape, 1), (*shape, 1)]
    new = draw(st.sampled_from(choices))
    # x and w set the sizes the others are checked against: a change there names either
    names_hit = (name, *(n for n in call.arrays if n != name)) if name in ("x", "w") else (name,)
    if op == "linear_backward" and name == "grad_out":
        names_hit = ("grad_out", "out")
    return ("shape", name, new), ValueError, names_hit


def _mk_shape_spatial(draw, op, plan, call, name, shape):
    """A shape change of a convolution or pooling argument that no call can accept."""
    rank = [shape[:-1], (*shape, 1)]  # every array has a fixed rank
    hit: tuple[str, ...] = (name,)
    if name == "x":
        choices = list(rank)
        if op == "conv2d_forward":  # C no longer matches w's
            choices.append((shape[0], shape[1] + 1, *shape[2:]))
            hit = ("x", "w")
        elif any(n in call.arrays for n in ("out", "argmax")):  # B, C fix the output's
            choices.append((shape[0] + 1, *shape[1:]))
            hit = ("x", "out", "argmax")
    elif name == "w":
        choices = [*rank, (shape[0], shape[1] + 1, *shape[2:]), (shape[0] + 1, *shape[1:])]
        hit = ("w", "b", "grad")  # C against x's, F against b's (forward) or grad's
    else:  # every other array's shape is fixed by the others: any dimension one longer
        dim = draw(st.integers(0, len(shape) - 1))
        choices = [*rank, tuple(s + 1 if d == dim else s for d, s in enumerate(shape))]
        if op == "maxpool2d_backward" and name == "grad":
            hit = ("grad", "argmax")  # OH, OW of grad are checked against argmax's
    return ("shape", name, draw(st.sampled_from(choices))), ValueError, hit


def _mk_scalar_spatial(draw, op, plan, call):
    """A window argument (stride, padding, kernel_size) or x_shape out of range or of the
    wrong kind."""
    bad_pair = [((1, 2, 3), ValueError), ((1,), ValueError), (1.5, TypeError)]
    bad_pair += [("1", TypeError), (True, TypeError), ((1, 1.0), TypeError)]
    table: dict[str, list[tuple[Any, type]]] = {
        "stride": [(0, ValueError), (-1, ValueError), ((1, 0), ValueError), *bad_pair],
        "padding": [(-1, ValueError), ((0, -2), ValueError), (None, TypeError), *bad_pair],
    }
    if op in CONV_OPS:
        table["stride"].append((None, TypeError))
    else:
        kh, kw = _two(plan["kernel"])
        big = plan["dims"][2] + 2 * _two(plan["padding"])[0] + 1
        table["kernel_size"] = [(0, ValueError), ((2, 0), ValueError), (None, TypeError)]
        table["kernel_size"] += [((big, kw), ValueError), *bad_pair]
        table["padding"].append(((kh // 2 + 1, 0), ValueError))  # more than half the kernel
    if op.endswith("backward"):
        table["x_shape"] = [((1, 2, 3), ValueError), ("abcd", ValueError)]
        table["x_shape"] += [((1, 1, -1, 1), ValueError), ((1, 1, 2.0, 2), TypeError)]
    if op == "maxpool2d_backward":  # its window is in argmax already
        table = {"x_shape": table["x_shape"]}
    name = draw(st.sampled_from(sorted(table)))
    value, exc = draw(st.sampled_from(table[name]))
    return ("kw", name, value), exc, (name,)


def _mk_alias(draw, op, plan, call):
    if op == "linear_forward":
        outs, strided_ok = ["out"], ["x", "w", "b"]
    elif op == "linear_backward":
        if not any(n in call.arrays for n in call.written):
            plan["dw"] = True  # give the call an output buffer to alias
            call = BASES[op](plan)
        outs = [n for n in call.written if n in call.arrays]
        strided_ok = ["x", "w", "out"] + ([] if plan["overwrite_grad"] else ["grad_out"])
    elif op in BATCHNORM_OPS:
        if not any(n in call.arrays for n in call.written):
            plan["dgamma" if op == "batchnorm_backward" else "mean"] = True  # one to alias
            call = BASES[op](plan)
        outs = [n for n in call.written if n in call.arrays]
        strided_ok = ["x", "gamma"] + (["beta"] if op == "batchnorm_forward" else [])
        if op == "batchnorm_backward":
            strided_ok += ["out", "mean", "var"] + ([] if plan["overwrite_grad"] else ["grad_out"])
    elif op == "cross_entropy":
        outs = ["dlogits"]
        strided_ok = ["logits"] + (["target"] if plan["target"] == "soft" else [])
    elif op == "take_rows":
        if "out" not in call.arrays:
            plan["out"] = True
            call = BASES[op](plan)
        outs, strided_ok = ["out"], ["x"]
    elif op in SPATIAL_OPS:
        first = "dw" if op == "conv2d_backward" else "out" if op.endswith("forward") else "dx"
        if first not in call.arrays:
            plan[first] = True  # give the call a float output buffer to alias
            call = BASES[op](plan)
        outs = [n for n in call.written if n in call.arrays and n != "argmax"]
        strided_ok = [n for n in call.pos if n != "argmax"]  # the float arrays only read
    else:
        outs, strided_ok = list(call.written), ["grad"]
    others = [
        n
        for n in call.arrays
        if not (op == "cross_entropy" and n == "target" and plan["target"] == "labels")
        and not (op == "take_rows" and n == "index")  # integers: a float view is a dtype error
        and n != "argmax"
    ]
    if not outs:
        return _mk_flag(draw, op, plan, call)
    if op == "cross_entropy" and "dlogits" not in call.arrays:
        plan["dlogits"] = True
        call = BASES[op](plan)
    mod, pair = _alias_mod(draw, call, outs, others, strided_ok)
    return mod, ValueError, pair, True


def _mk_layout(draw, op, plan, call):
    """A written array that is read-only, strided or Fortran-ordered."""
    if op == "take_rows" and "out" not in call.arrays:
        plan["out"] = True
    outs = [n for n in call.written if n in BASES[op](plan).arrays]
    if op == "cross_entropy" and not outs:
        plan["dlogits"] = True
        outs = ["dlogits"]
    if not outs:
        return _mk_flag(draw, op, plan, call)
    name = draw(st.sampled_from(outs))
    shape = np.shape(BASES[op](plan).arrays[name])
    kinds = ["readonly"]
    if np.prod(shape) > 1:  # a single element is contiguous with any strides
        kinds.append("strided")
    if sum(s > 1 for s in shape) >= 2:
        kinds.append("fortran")
    return (draw(st.sampled_from(kinds)), name), ValueError, (name,)


def _mk_flag(draw, op, plan, call):
    flags = {
        "linear_forward": ["relu"],
        "linear_backward": ["relu", "compute_dx", "overwrite_grad"],
        "batchnorm_forward": ["relu"],
        "batchnorm_backward": ["relu", "overwrite_grad"],
        "cross_entropy": ["return_grad"],
        "logsumexp": ["keepdims"],
        "momentum_update": ["nesterov"],
        "conv2d_forward": ["relu"],
        "conv2d_backward": ["relu", "compute_dx"],
    }.get(op)
    if flags is None:  # log_softmax, softmax, adamw_update have no flag: a bad axis/step
        return _mk_scalar(draw, op, plan, call)
    flag = draw(st.sampled_from(flags))
    return ("kw", flag, draw(st.sampled_from(BAD_FLAGS))), TypeError, (flag,)


def _mk_nonfinite(draw, op, plan, call):
    if op == "take_rows":  # an index out of range (no wrap-around of negative indices)
        n, b, _ = plan["dims"]
        value = draw(st.sampled_from([n, n + 7, -1]))
        if value < 0 and plan["index_dtype"] == np.uint8:
            value = 255  # −1 wraps to 255 in uint8: out of range too (N ≤ 4)
        return ("set", "index", draw(st.integers(0, b - 1)), value), ValueError, ("index",)
    if op == "maxpool2d_backward":  # an index outside the H·W plane
        _, _, h, w = plan["dims"]
        index = draw(st.integers(0, 10**6))
        value = draw(st.sampled_from([h * w, h * w + 5, -1]))
        return ("set", "argmax", index, value), ValueError, ("argmax",)
    if op != "cross_entropy":
        return _mk_scalar(draw, op, plan, call)
    b, c = plan["dims"]
    index = draw(st.integers(0, b * c - 1))
    if plan["target"] == "labels":
        value = draw(st.sampled_from([c, c + 7, -1]))
        if value < 0 and plan["label_dtype"] == np.uint8:
            value = 255  # −1 wraps to 255 in uint8: out of range too (C ≤ 4)
        return ("set", "target", index, value), ValueError, ("target",)
    value = draw(st.sampled_from([np.nan, np.inf, -np.inf, -0.5, -1e-30]))
    return ("set", "target", index, value), ValueError, ("target",)


def _mk_scalar(draw, op, plan, call):
    dt = plan["dtype"]
    f32 = dt == FLOATS[0]
    if op in ("logsumexp", "log_softmax", "softmax"):
        nd = len(plan["dims"])
        bad = draw(
            st.sampled_from(
                [
                    (nd, ValueError),
                    (-nd - 1, ValueError),
                    (10**30, ValueError),
                    (1.0, TypeError),
                    (True, TypeError),
                    (None, TypeError),
                    ("0", TypeError),
                    ((0,), TypeError),
                ]
            )
        )
        return ("kw", "axis", bad[0]), bad[1], ("axis",)
    if op in SPATIAL_OPS:
        return _mk_scalar_spatial(draw, op, plan, call)
    if op in ("linear_forward", "linear_backward", "cross_entropy"):
        return _mk_flag(draw, op, plan, call)
    size = int(np.prod(plan["dims"]))
    typed = [("0.1", TypeError), (None, TypeError), (True, TypeError), (np.array(0.1), TypeError)]
    table: dict[str, list[tuple[Any, type]]] = {
        "lr": [(-0.1, ValueError), (np.nan, ValueError), (np.inf, ValueError)]
        + [(10**400, ValueError), *typed]
        + ([(1e39, ValueError), (np.float64(-1e39), ValueError)] if f32 else []),
        "weight_decay": [(-1e-3, ValueError), (np.inf, ValueError), (np.nan, ValueError)]
        + [(10**400, ValueError), ("0", TypeError)]
        + ([(3.5e38, ValueError)] if f32 else []),
        "n_decayed": [
            *[(-1, ValueError), (size + 1, ValueError), (10**400, ValueError)],
            *[(1.5, TypeError), (True, TypeError), ("1", TypeError), (np.float64(1), TypeError)],
        ],
    }
    eps = [(0.0, ValueError), (-1e-8, ValueError), (np.nan, ValueError)]
    eps += [(np.inf, ValueError), ("1e-8", TypeError)]
    eps += [(1e-50, ValueError), (1e39, ValueError)] if f32 else [(1e-330, ValueError)]
    if op in BATCHNORM_OPS:
        value, exc = draw(st.sampled_from([*eps, (True, TypeError), (None, TypeError)]))
        return ("kw", "eps", value), exc, ("eps",)
    if op in ("momentum_update", "rmsprop_update"):
        table["momentum"] = [(1.0, ValueError), (-0.1, ValueError), (1.5, ValueError)]
        table["momentum"] += [(np.nan, ValueError), ("0.9", TypeError)]
        table["momentum"] += [(0.99999999, ValueError)] if f32 else []
    if op == "rmsprop_update":
        table["alpha"] = [(1.0, ValueError), (-0.1, ValueError), (np.nan, ValueError)]
        table["alpha"] += [("0.99", TypeError)] + ([(0.9999999999, ValueError)] if f32 else [])
        table["eps"] = eps
    elif op == "adagrad_update":
        table["eps"] = eps
    elif op in ("adamw_update", "adam_update"):
        table["step"] = [(0, ValueError), (-1, ValueError), (10**400, ValueError)]
        table["step"] += [(2**63, ValueError), (np.uint64(2**64 - 1), ValueError)]
        table["step"] += [(1.0, TypeError), (True, TypeError), ("1", TypeError), (None, TypeError)]
        for beta in ("beta1", "beta2"):
            table[beta] = [(1.0, ValueError), (-0.1, ValueError), (np.nan, ValueError)]
            table[beta] += [("0.9", TypeError)] + ([(0.9999999999, ValueError)] if f32 else [])
        table["eps"] = eps
    if op == "adamw_update":
        table["lr * weight_decay"] = []  # below: only AdamW's decay factor 1 − ηλ is a product
    name = draw(st.sampled_from(sorted(table)))
    if name == "lr * weight_decay":  # each fine alone, their product overflows
        lr, wd = (1e20, 1e20) if f32 else (1e200, 1e200)
        mods = [("kw", "lr", lr), ("kw", "weight_decay", wd)]
        return mods, ValueError, ("lr * weight_decay",)
    value, exc = draw(st.sampled_from(table[name]))
    return ("kw", name, value), exc, (name,)


def _mk_dx_without_compute(draw, op, plan, call):
    if op == "conv2d_backward":
        b, c, h, w, _, kh, kw = plan["dims"]
        plan["compute_dx"] = False
        oh, ow = _pooled(h, w, (kh, kw), plan["stride"], plan["padding"])
        name, shape = draw(
            st.sampled_from([("dx", (b, c, h, w)), ("dcols", (c * kh * kw, b * oh * ow))])
        )
        return [("kw", "compute_dx", False), ("add", name, shape)], ValueError, (name,)
    if op != "linear_backward":
        return _mk_flag(draw, op, plan, call)
    b, i, _ = plan["dims"]
    plan["compute_dx"] = False
    return [("kw", "compute_dx", False), ("add", "dx", (b, i))], ValueError, ("dx",)


_INVALID_MAKERS = {
    "dtype": _mk_dtype,
    "masked": _mk_masked,
    "shape": _mk_shape,
    "alias": _mk_alias,
    "layout": _mk_layout,
    "flag": _mk_flag,
    "nonfinite": _mk_nonfinite,
    "scalar": _mk_scalar,
    "dx_without_compute": _mk_dx_without_compute,
}
_COMMON = ["dtype", "masked", "shape"]
_INVALID_KINDS = {
    "linear_forward": [*_COMMON, "alias", "alias", "layout", "flag"],
    "linear_backward": [*_COMMON, "alias", "alias", "layout", "flag", "dx_without_compute"],
    "batchnorm_forward": [*_COMMON, "alias", "alias", "layout", "flag", "scalar"],
    "batchnorm_backward": [*_COMMON, "alias", "alias", "layout", "flag", "scalar"],
    "cross_entropy": [*_COMMON, "alias", "alias", "layout", "flag", "nonfinite", "nonfinite"],
    "logsumexp": [*_COMMON, "scalar", "flag"],
    "log_softmax": [*_COMMON, "scalar"],
    "softmax": [*_COMMON, "scalar"],
    "momentum_update": [*_COMMON, "alias", "alias", "layout", "flag", "scalar", "scalar"],
    "adamw_update": [*_COMMON, "alias", "alias", "layout", "scalar", "scalar", "scalar"],
    "adam_update": [*_COMMON, "alias", "alias", "layout", "scalar", "scalar", "scalar"],
    "rmsprop_update": [*_COMMON, "alias", "alias", "layout", "scalar", "scalar", "scalar"],
    "adagrad_update": [*_COMMON, "alias", "alias", "layout", "scalar", "scalar"],
    "take_rows": [*_COMMON, "alias", "layout", "nonfinite", "nonfinite"],
    "conv2d_forward": [*_COMMON, "alias", "alias", "layout", "flag", "scalar"],
    "conv2d_backward": [
        *_COMMON,
        "alias",
        "alias",
        "layout",
        "flag",
        "scalar",
        "dx_without_compute",
    ],
    "maxpool2d_forward": [*_COMMON, "alias", "layout", "scalar", "scalar"],
    "maxpool2d_backward": [*_COMMON, "alias", "layout", "scalar", "nonfinite"],
    "avgpool2d_forward": [*_COMMON, "alias", "layout", "scalar", "scalar"],
    "avgpool2d_backward": [*_COMMON, "alias", "layout", "scalar", "scalar"],
}


@pytest.mark.parametrize("op", OP_NAMES)
@settings(SETTINGS, max_examples=INVALID_EXAMPLES)
@given(data=st.data())
def test_invalid_arguments_rejected_alike_and_nothing_written(op: str, data: st.DataObject):
    plan, exc, names, need_all = data.draw(st.composite(lambda draw: draw_invalid(draw, op))())
    check_rejected(plan, exc, names, need_all=need_all)


# ---------------------------------------------------------------- drawing valid plans
def _benign_layouts(draw, call: Call, read_only: list[str]) -> list[tuple]:
    """Legal but awkward layouts for arguments the call only reads."""
    mods: list[tuple] = []
    for name in read_only:
        a = call.arrays.get(name)
        if a is None:
            continue
        kinds = ["none", "strided", "readonly", "reversed"]
        if (np.asarray(a).dtype != FLOATS[0]) and np.size(a) and all(np.shape(a)):
            kinds.append("list")  # a list becomes float64 (or int64 labels)
        if np.ndim(a) == 2:
            kinds += ["fortran", "matrix"]
        kind = draw(st.sampled_from(kinds))
        if kind != "none":
            mods.append((kind, name))
    return mods


def _pack_mod(draw, names: list[str]) -> list[tuple]:
    """Some of ``names`` as adjacent non-overlapping views of one buffer (or none)."""
    chosen = draw(st.lists(st.sampled_from(names), unique=True, max_size=len(names)))
    if len(chosen) < 2:
        return []
    return [("pack", tuple(chosen), draw(st.sampled_from([0, 0, 1, 3])))]


def _draw_window(draw, plan: dict, batch: Any) -> None:
    """Dims and window arguments (ints or pairs, as a caller may pass them) of a valid
    convolution or pooling call."""
    op = plan["op"]
    b, c = draw(batch), draw(st.integers(1, 3))
    h, w = draw(st.integers(1, 6)), draw(st.integers(1, 6))
    either = lambda a, b_: draw(st.sampled_from([a, (a, b_)] if a == b_ else [(a, b_)]))  # noqa: E731
    stride = either(draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    if op in CONV_OPS:
        ph, pw = draw(st.integers(0, 2)), draw(st.integers(0, 2))
        kh, kw = draw(st.integers(1, h + 2 * ph)), draw(st.integers(1, w + 2 * pw))
        plan["dims"] = (b, c, h, w, draw(st.integers(1, 3)), kh, kw)
        plan["relu"] = draw(st.booleans() | st.sampled_from([np.True_, np.False_]))
        plan["compute_dx"] = draw(st.booleans())
    else:
        kh, kw = draw(st.integers(1, h + 1)), draw(st.integers(1, w + 1))
        ph = max(draw(st.integers(0, kh // 2)), int(kh > h))  # the kernel must fit
        pw = max(draw(st.integers(0, kw // 2)), int(kw > w))
        plan["dims"] = (b, c, h, w)
        plan["kernel"] = either(kh, kw)
        if draw(st.booleans()):
            stride = None  # the default: the kernel
    plan["stride"] = stride
    plan["padding"] = either(ph, pw)


def _draw_spatial_valid(draw, plan: dict) -> list[tuple]:
    op = plan["op"]
    _draw_window(draw, plan, st.integers(0, 3))  # an empty batch is legal
    plan["values"] = draw(st.sampled_from(["normal", "extreme", "extreme-inf", "extreme-nan"]))
    for n in ("out", "cols", "z", "argmax", "dx", "dw", "db"):
        plan[n] = draw(st.booleans())
    call = BASES[op](plan)
    reads = list(call.pos)  # the arrays only read
    mods: list[tuple] = []
    if op == "conv2d_backward" and draw(st.booleans()):
        mods.append(("same", "grad", "out"))  # both only read: legal aliasing
    mods += _benign_layouts(draw, call, reads)
    if not mods:
        packable = ("w", "b", "out", "dw", "db", "dx") if op in CONV_OPS else ("x", "grad")
        packable = [n for n in (*packable, "out", "dx") if n in call.arrays]
        mods += _pack_mod(draw, packable) if len(packable) > 1 else []
    return mods


def draw_valid(draw, op: str) -> dict:
    dt = _dtype(draw)
    plan: dict[str, Any] = {"op": op, "dtype": dt, "seed": _seed(draw)}
    size0 = st.integers(0, 5)  # empty dimensions are legal where the op allows them
    size1 = st.integers(1, 5)
    mods: list[tuple] = []
    flag = st.booleans() | st.sampled_from([np.True_, np.False_])
    if op in ("linear_forward", "linear_backward"):
        plan["dims"] = (draw(size0), draw(size0), draw(size0))
        plan["relu"] = draw(flag)
        plan["values"] = draw(st.sampled_from(["normal", "extreme"]))
        if op == "linear_forward":
            plan["out"] = draw(st.booleans())
            call = BASES[op](plan)
            mods += _benign_layouts(draw, call, ["x", "w", "b"])
            if not mods:
                mods += _pack_mod(draw, [n for n in ("x", "w", "b", "out") if n in call.arrays])
        else:
            plan["compute_dx"] = draw(flag)
            plan["overwrite_grad"] = draw(flag)
            for n in ("dx", "dw", "db"):
                plan[n] = draw(st.booleans())
            call = BASES[op](plan)
            reads = ["x", "w", "out"] + ([] if plan["overwrite_grad"] else ["grad_out"])
            if not plan["overwrite_grad"] and draw(st.booleans()):
                mods.append(("same", "grad_out", "out"))  # both only read: legal aliasing
            mods += _benign_layouts(draw, call, reads)
            if not mods:
                mods += _pack_mod(
                    draw, [n for n in ("x", "w", "dx", "dw", "db") if n in call.arrays]
                )
    elif op in BATCHNORM_OPS:
        plan["dims"] = (draw(size1), draw(size0))  # a batch of at least one row
        plan["relu"] = draw(flag)
        plan["eps"] = draw(st.sampled_from([1e-5, 1e-3, np.float32(1e-5), 1]))
        plan["values"] = draw(st.sampled_from(["normal", "extreme", "extreme-inf", "extreme-nan"]))
        if op == "batchnorm_forward":
            for n in ("out", "mean", "var"):
                plan[n] = draw(st.booleans())
            call = BASES[op](plan)
            mods += _benign_layouts(draw, call, ["x", "gamma", "beta"])
            if not mods:
                mods += _pack_mod(
                    draw, [n for n in ("gamma", "beta", "mean", "var") if n in call.arrays]
                )
        else:
            plan["overwrite_grad"] = draw(flag)
            for n in ("dx", "dgamma", "dbeta"):
                plan[n] = draw(st.booleans())
            call = BASES[op](plan)
            reads = ["x", "gamma", "out", "mean", "var"]
            if not plan["overwrite_grad"]:
                reads.append("grad_out")
                if draw(st.booleans()):
                    mods.append(("same", "grad_out", "out"))  # both only read: legal aliasing
            mods += _benign_layouts(draw, call, reads)
            if not mods:
                mods += _pack_mod(
                    draw, [n for n in ("gamma", "dgamma", "dbeta") if n in call.arrays]
                )
    elif op == "cross_entropy":
        plan["dims"] = (draw(size1), draw(size1))
        plan["target"] = draw(st.sampled_from(["labels", "soft"]))
        labels = [np.int64, np.int32, np.uint8, np.dtype(">i4")]  # each compiles a kernel
        plan["label_dtype"] = draw(st.sampled_from(labels))
        plan["return_grad"] = draw(flag)
        plan["dlogits"] = draw(st.booleans())
        plan["values"] = draw(st.sampled_from(["normal", "extreme", "extreme-inf", "extreme-nan"]))
        call = BASES[op](plan)
        mods += _benign_layouts(draw, call, ["logits", "target"])
        if not mods and plan["target"] == "soft" and plan["dlogits"]:
            mods += _pack_mod(draw, ["logits", "target", "dlogits"])
    elif op in ("logsumexp", "log_softmax", "softmax"):
        plan["dims"] = tuple(draw(st.lists(size0, min_size=1, max_size=3)))
        nd = len(plan["dims"])
        axis = draw(st.integers(-nd, nd - 1))
        if plan["dims"][axis % nd] == 0:  # the reduced axis must be non-empty
            plan["dims"] = tuple(1 if d == axis % nd else s for d, s in enumerate(plan["dims"]))
        plan["axis"] = draw(st.sampled_from([axis, np.int64(axis)]))
        plan["keepdims"] = draw(flag)
        plan["values"] = draw(st.sampled_from(["normal", "extreme", "extreme-inf", "extreme-nan"]))
        call = BASES[op](plan)
        mods += _benign_layouts(draw, call, ["x"])
    elif op in SPATIAL_OPS:
        mods += _draw_spatial_valid(draw, plan)
    elif op == "take_rows":
        n, b, d = draw(size1), draw(size0), draw(size0)  # rows to take from: at least one
        plan["dims"] = (n, b, d)
        plan["index_dtype"] = draw(st.sampled_from([np.int64, np.int32, np.uint8, ">i4"]))
        plan["out"] = draw(st.booleans())
        plan["values"] = draw(st.sampled_from(["normal", "extreme", "extreme-nan"]))
        call = BASES[op](plan)
        mods += _benign_layouts(draw, call, ["x", "index"])
        if not mods and plan["out"]:
            mods += _pack_mod(draw, ["x", "out"])
    else:
        plan["dims"] = tuple(draw(st.lists(size0, min_size=0, max_size=2)))  # 0-D too
        plan["scalars"] = _valid_scalars(draw, op, dt, int(np.prod(plan["dims"])))
        plan["values"] = draw(st.sampled_from(["normal", "extreme", "extreme-nan"]))
        call = BASES[op](plan)
        kinds = ["none", "readonly"] + (["strided", "reversed"] if plan["dims"] else [])
        kinds += ["fortran"] if len(plan["dims"]) == 2 else []
        grad_kind = draw(st.sampled_from(kinds))
        if grad_kind != "none":
            mods.append((grad_kind, "grad"))
        else:
            mods += _pack_mod(draw, list(call.arrays))
        if draw(st.booleans()):
            mods.append(("matrix", "param") if len(plan["dims"]) == 2 else ("kw", "lr", 0.0))
    plan["mods"] = mods
    return plan


@pytest.mark.filterwarnings("ignore:the matrix subclass:PendingDeprecationWarning")
@pytest.mark.parametrize("op", OP_NAMES)
@settings(SETTINGS, max_examples=VALID_EXAMPLES)
@given(data=st.data())
def test_valid_arguments_accepted_and_backends_agree(op: str, data: st.DataObject):
    plan = data.draw(st.composite(lambda draw: draw_valid(draw, op))())
    check_accepted(plan)


def test_the_properties_cover_every_public_op_and_backend() -> None:
    assert set(OP_NAMES) == set(ops.__all__)
    assert REFERENCE in BACKENDS
    assert set(_INVALID_KINDS) == set(OP_NAMES) == set(BASES)
