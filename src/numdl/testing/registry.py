"""The op registry: every hot-path op with its reference, inputs and named shapes.

One :class:`OpCase` per way of calling a backend op. The equivalence suite runs each case
on every backend against :mod:`numdl.core.hotpaths`; the asv suites and the comparison script
time the same cases on the same inputs. A kernel added to a backend without a case here
fails ``tests/equivalence/test_registry.py`` (every op in :data:`numdl.core.backend.OPS` must
be covered), so no kernel exists without its equality test.

A case builds a dict of inputs (``make``), including preallocated output buffers, and calls
an implementation module on it (``call``), which writes the outputs into that dict; the
names in ``outputs`` (and ``"return"``, the call's return value) are what must match.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import numpy as np

from numdl.core.backend import OPS
from numdl.core.hotpaths import conv as _conv
from numdl.core.hotpaths import normalization as _hotpaths
from numdl.core.hotpaths import pooling as _pooling

__all__ = ["CASES", "VALUE_KINDS", "OpCase", "case", "copy_inputs"]

#: How input values are drawn: ordinary values, or the edge cases a kernel must get right.
VALUE_KINDS = ("normal", "extreme")

Inputs = dict[str, Any]
Rng = np.random.Generator
Shape = tuple[int, ...]
Maker = Callable[[Rng, np.dtype, Shape, str], Inputs]


@dataclass(frozen=True)
class OpCase:
    """One way of calling a backend op, with its inputs and the outputs to compare.

    Attributes
    ----------
    name : str
        Unique case name, e.g. ``"cross_entropy_labels"``.
    op : str
        The backend function it calls (an entry of :data:`numdl.core.backend.OPS`).
    make : callable (rng, dtype, shape, values) -> dict
        Builds the inputs for a shape from :attr:`shapes` (or any shape of that form).
    call : callable (module, inputs) -> return value
        Calls ``module.<op>`` on the inputs; outputs are written into ``inputs``.
    outputs : tuple of str
        Entries of the inputs dict that the call writes; ``"return"`` is the return value.
    shapes : dict of str to tuple
        Named shapes: ``"tiny"`` and ``"small"`` for tests, ``"mnist"`` and ``"large"`` for
        benchmarks (asv and the comparison script).
    bytes_moved : callable (shape, itemsize) -> int
        Minimum memory traffic of one call, for roofline figures.
    flops : callable (shape) -> int
        GEMM floating-point operations of one call (0 for memory-bound ops).
    """

    name: str
    op: str
    make: Maker
    call: Callable[[ModuleType, Inputs], Any]
    outputs: tuple[str, ...]
    shapes: dict[str, tuple[int, ...]]
    bytes_moved: Callable[[tuple[int, ...], int], int]
    flops: Callable[[tuple[int, ...]], int] = field(default=lambda shape: 0)


def copy_inputs(inputs: Inputs) -> Inputs:
    """A deep copy of the array entries (so two implementations start from equal inputs)."""
    return {k: v.copy() if isinstance(v, np.ndarray) else v for k, v in inputs.items()}


# ------------------------------------------------------------------------------ generators
def _tiny_value(dtype: np.dtype) -> float:
    """A subnormal of ``dtype`` (well below the smallest normal)."""
    return float(np.finfo(dtype).smallest_normal) / 64


def _values(
    rng: Rng, dtype: np.dtype, shape: Shape, kind: str, *, scale: float = 1.0, special: bool = True
) -> np.ndarray:
    """Random values of ``shape``; with ``kind="extreme"`` sprinkle in the edge cases.

    Extreme values: ±1e4, subnormals and (``special``) −inf and NaN, at ~2 % of entries each.
    """
    x = (rng.standard_normal(shape) * scale).astype(dtype)
    if kind == "normal" or x.size == 0:
        return x
    if kind != "extreme":
        raise ValueError(f"values must be one of {VALUE_KINDS}, got {kind!r}")
    picks = [1e4, -1e4, _tiny_value(dtype), -_tiny_value(dtype)]
    if special:
        picks += [-np.inf, np.nan]
    for value in picks:
        mask = rng.random(shape) < 0.02
        x[mask] = value
    return x


def _logit_rows(rng: Rng, dtype: np.dtype, shape: Shape, kind: str) -> np.ndarray:
    """(B, C) logits scaled like a trained classifier's; extreme adds an all −inf row."""
    x = _values(rng, dtype, shape, kind, scale=3.0)
    if kind == "extreme" and shape[0] > 1:
        x[rng.integers(shape[0])] = -np.inf
    return x


def _make_rows(rng: Rng, dtype: np.dtype, shape: Shape, kind: str) -> Inputs:
    b, c = shape
    return {
        "x": _logit_rows(rng, dtype, shape, kind),
        "out_lse": np.empty(b, dtype),
        "out_lsm": np.empty((b, c), dtype),
    }


def _make_ce(target: str, grad: bool) -> Maker:
    def make(rng: Rng, dtype: np.dtype, shape: Shape, kind: str) -> Inputs:
        b, c = shape
        inputs = {"logits": _logit_rows(rng, dtype, shape, kind)}
        if target == "labels":
            inputs["target"] = rng.integers(0, c, size=b).astype(np.int64)
        else:
            t = rng.random((b, c)).astype(dtype)
            inputs["target"] = t / t.sum(axis=1, keepdims=True)
        inputs["dlogits"] = np.empty((b, c), dtype) if grad else None
        return inputs

    return make


def _make_linear(relu: bool, backward: bool, inplace: bool = False, dx: bool = True) -> Maker:
    def make(rng: Rng, dtype: np.dtype, shape: Shape, kind: str) -> Inputs:
        b, d_in, d_out = shape
        x = _values(rng, dtype, (b, d_in), kind, special=False)
        w = _values(rng, dtype, (d_in, d_out), "normal", scale=1 / np.sqrt(d_in))
        bias = _values(rng, dtype, (d_out,), kind, scale=0.1, special=False)
        inputs: Inputs = {
            "x": x,
            "w": w,
            "b": bias,
            "relu": relu,
            "out": np.empty((b, d_out), dtype),
        }
        if backward:
            out = np.matmul(x, w) + bias
            inputs["out"] = np.maximum(out, 0) if relu else out
            inputs["grad_out"] = _values(rng, dtype, (b, d_out), kind, special=False)
            inputs["dz"] = "grad_out" if inplace else np.empty((b, d_out), dtype)
            inputs["dx"] = np.empty((b, d_in), dtype) if dx else None
            inputs["dw"] = np.empty((d_in, d_out), dtype)
            inputs["db"] = np.empty(d_out, dtype)
        return inputs

    return make


def _call_linear_backward(m: ModuleType, a: Inputs) -> Any:
    dz = a["grad_out"] if isinstance(a["dz"], str) else a["dz"]
    args = (a["grad_out"], a["x"], a["w"], a["out"], a["relu"], dz, a["dx"], a["dw"], a["db"])
    return m.linear_backward(*args)


def _make_batchnorm(relu: bool, backward: bool, inplace: bool = False) -> Maker:
    def make(rng: Rng, dtype: np.dtype, shape: Shape, kind: str) -> Inputs:
        b, f = shape
        inputs: Inputs = {
            "x": _values(rng, dtype, (b, f), kind, scale=2.0, special=False) + dtype.type(0.5),
            "gamma": 1 + _values(rng, dtype, (f,), "normal", scale=0.2),
            "beta": _values(rng, dtype, (f,), "normal", scale=0.1),
            "eps": 1e-5,
            "relu": relu,
            "out": np.empty((b, f), dtype),
            "mean": np.empty(f, dtype),
            "var": np.empty(f, dtype),
        }
        if backward:
            a = inputs
            _hotpaths.batchnorm_forward(
                a["x"], a["gamma"], a["beta"], 1e-5, relu, a["out"], a["mean"], a["var"]
            )
            inputs["grad_out"] = _values(rng, dtype, (b, f), kind, special=False)
            inputs["dx"] = "grad_out" if inplace else np.empty((b, f), dtype)
            inputs["dgamma"] = np.empty(f, dtype)
            inputs["dbeta"] = np.empty(f, dtype)
        return inputs

    return make


def _call_batchnorm_backward(m: ModuleType, a: Inputs) -> Any:
    dx = a["grad_out"] if isinstance(a["dx"], str) else a["dx"]
    args = (a["grad_out"], a["x"], a["gamma"], a["out"], a["mean"], a["var"], a["eps"])
    return m.batchnorm_backward(*args, a["relu"], dx, a["dgamma"], a["dbeta"])


def _make_update(states: tuple[str, ...], decayed: float) -> Maker:
    def make(rng: Rng, dtype: np.dtype, shape: Shape, kind: str) -> Inputs:
        (n,) = shape
        inputs: Inputs = {
            "param": _values(rng, dtype, (n,), "normal"),
            "grad": _values(rng, dtype, (n,), kind),
            "n_decayed": int(n * decayed),
        }
        for name in states:
            base = _values(rng, dtype, (n,), "normal", scale=0.1)
            # second-moment accumulators are non-negative
            inputs[name] = np.abs(base) if name in ("v", "square_avg", "sum_sq") else base
        return inputs

    return make


def _lin_flops(shape: tuple[int, ...], gemms: int) -> int:
    b, d_in, d_out = shape
    return 2 * b * d_in * d_out * gemms


_LINEAR_SHAPES = {
    "tiny": (1, 1, 1),
    "small": (37, 19, 23),
    "mnist": (256, 784, 512),
    "large": (256, 784, 512),
}
_ROW_SHAPES = {"tiny": (1, 1), "small": (33, 70), "mnist": (256, 10), "large": (2048, 32000)}
#: Batch normalisation: (B, F), a batch of the hidden layer's pre-activations.
_NORM_SHAPES = {"tiny": (1, 1), "small": (37, 23), "mnist": (256, 512), "large": (2048, 4096)}
_FLAT_SHAPES = {"tiny": (1,), "small": (1000,), "mnist": (407_050,), "large": (25_000_000,)}

CASES: dict[str, OpCase] = {}


def _register(c: OpCase) -> None:
    if c.op not in OPS:
        raise ValueError(f"case {c.name!r} calls unknown op {c.op!r}")
    CASES[c.name] = c


def case(name: str) -> OpCase:
    """The registered case ``name`` (``KeyError`` listing the names otherwise)."""
    try:
        return CASES[name]
    except KeyError:
        raise KeyError(f"no op case {name!r}; known: {sorted(CASES)}") from None


for _relu in (True, False):
    _register(
        OpCase(
            name="linear_forward_relu" if _relu else "linear_forward",
            op="linear_forward",
            make=_make_linear(_relu, backward=False),
            call=lambda m, a: m.linear_forward(a["x"], a["w"], a["b"], a["relu"], a["out"]),
            outputs=("out",),
            shapes=_LINEAR_SHAPES,
            bytes_moved=lambda s, k: k * (s[0] * s[1] + s[1] * s[2] + s[2] + s[0] * s[2]),
            flops=lambda s: _lin_flops(s, 1),
        )
    )

for _name, _relu, _inplace, _dx in (
    ("linear_backward_relu", True, False, True),
    ("linear_backward_relu_inplace_first_layer", True, True, False),
    ("linear_backward", False, False, True),
):
    _register(
        OpCase(
            name=_name,
            op="linear_backward",
            make=_make_linear(_relu, backward=True, inplace=_inplace, dx=_dx),
            call=_call_linear_backward,
            outputs=("grad_out", "dw", "db")
            + (() if _inplace else ("dz",))
            + (("dx",) if _dx else ()),
            shapes=_LINEAR_SHAPES,
            bytes_moved=lambda s, k: k * (3 * s[0] * s[2] + s[0] * s[1] * 2 + s[1] * s[2] * 2),
            flops=(lambda s: _lin_flops(s, 2)) if not _dx else (lambda s: _lin_flops(s, 3)),
        )
    )

for _relu in (True, False):
    _register(
        OpCase(
            name="batchnorm_forward_relu" if _relu else "batchnorm_forward",
            op="batchnorm_forward",
            make=_make_batchnorm(_relu, backward=False),
            call=lambda m, a: m.batchnorm_forward(
                a["x"], a["gamma"], a["beta"], a["eps"], a["relu"], a["out"], a["mean"], a["var"]
            ),
            outputs=("out", "mean", "var"),
            shapes=_NORM_SHAPES,
            bytes_moved=lambda s, k: k * (2 * s[0] * s[1] + 4 * s[1]),
        )
    )
for _name, _relu, _inplace in (
    ("batchnorm_backward_relu", True, False),
    ("batchnorm_backward_relu_inplace", True, True),
    ("batchnorm_backward", False, False),
):
    _register(
        OpCase(
            name=_name,
            op="batchnorm_backward",
            make=_make_batchnorm(_relu, backward=True, inplace=_inplace),
            call=_call_batchnorm_backward,
            outputs=("grad_out", "dgamma", "dbeta") + (() if _inplace else ("dx",)),
            shapes=_NORM_SHAPES,
            bytes_moved=lambda s, k, r=_relu: k * ((3 + r) * s[0] * s[1] + 5 * s[1]),
        )
    )

_register(
    OpCase(
        name="logsumexp_rows",
        op="logsumexp_rows",
        make=_make_rows,
        call=lambda m, a: m.logsumexp_rows(a["x"], a["out_lse"]),
        outputs=("out_lse",),
        shapes=_ROW_SHAPES,
        bytes_moved=lambda s, k: k * (s[0] * s[1] + s[0]),
    )
)
_register(
    OpCase(
        name="log_softmax_rows",
        op="log_softmax_rows",
        make=_make_rows,
        call=lambda m, a: m.log_softmax_rows(a["x"], a["out_lsm"]),
        outputs=("out_lsm",),
        shapes=_ROW_SHAPES,
        bytes_moved=lambda s, k: k * 2 * s[0] * s[1],
    )
)
for _target, _grad in (("labels", True), ("soft", True), ("labels", False), ("soft", False)):
    _register(
        OpCase(
            name=f"cross_entropy_{_target}" + ("" if _grad else "_loss_only"),
            op="cross_entropy",
            make=_make_ce(_target, _grad),
            call=lambda m, a: m.cross_entropy(a["logits"], a["target"], a["dlogits"]),
            outputs=("return", "dlogits") if _grad else ("return",),
            shapes=_ROW_SHAPES,
            bytes_moved=(
                lambda s, k, t=_target, g=_grad: k * s[0] * s[1] * (1 + g + (t == "soft"))
            ),
        )
    )
for _nesterov in (False, True):
    _register(
        OpCase(
            name="nesterov_update" if _nesterov else "momentum_update",
            op="momentum_update",
            make=_make_update(("velocity",), decayed=0.75),
            call=lambda m, a, n=_nesterov: m.momentum_update(
                a["param"], a["grad"], a["velocity"], 0.05, 0.9, 1e-4, n, a["n_decayed"]
            ),
            outputs=("param", "velocity"),
            shapes=_FLAT_SHAPES,
            bytes_moved=lambda s, k: 5 * k * s[0],
        )
    )
_register(
    OpCase(
        name="adamw_update",
        op="adamw_update",
        make=_make_update(("m", "v"), decayed=0.75),
        call=lambda m, a: m.adamw_update(
            a["param"], a["grad"], a["m"], a["v"], 1e-3, 0.9, 0.999, 1e-8, 1e-2, 7, a["n_decayed"]
        ),
        outputs=("param", "m", "v"),
        shapes=_FLAT_SHAPES,
        bytes_moved=lambda s, k: 7 * k * s[0],
    )
)
_register(
    OpCase(
        name="adam_update",
        op="adam_update",
        make=_make_update(("m", "v"), decayed=0.75),
        call=lambda m, a: m.adam_update(
            a["param"], a["grad"], a["m"], a["v"], 1e-3, 0.9, 0.999, 1e-8, 1e-2, 7, a["n_decayed"]
        ),
        outputs=("param", "m", "v"),
        shapes=_FLAT_SHAPES,
        bytes_moved=lambda s, k: 7 * k * s[0],
    )
)
for _momentum in (0.0, 0.9):
    _register(
        OpCase(
            name="rmsprop_momentum_update" if _momentum else "rmsprop_update",
            op="rmsprop_update",
            make=_make_update(("square_avg", "momentum_buffer")[: 1 + bool(_momentum)], 0.75),
            # without momentum the buffer is not touched: an empty one, as numdl.core.ops passes
            call=lambda m, a, mu=_momentum: m.rmsprop_update(
                a["param"],
                a["grad"],
                a["square_avg"],
                a["momentum_buffer"] if mu else a["param"][:0],
                1e-2,
                0.99,
                1e-8,
                1e-2,
                mu,
                a["n_decayed"],
            ),
            outputs=("param", "square_avg") + (("momentum_buffer",) if _momentum else ()),
            shapes=_FLAT_SHAPES,
            bytes_moved=lambda s, k, mu=_momentum: (7 if mu else 5) * k * s[0],
        )
    )
_register(
    OpCase(
        name="adagrad_update",
        op="adagrad_update",
        make=_make_update(("sum_sq",), decayed=0.75),
        call=lambda m, a: m.adagrad_update(
            a["param"], a["grad"], a["sum_sq"], 1e-2, 1e-10, 1e-2, a["n_decayed"]
        ),
        outputs=("param", "sum_sq"),
        shapes=_FLAT_SHAPES,
        bytes_moved=lambda s, k: 5 * k * s[0],
    )
)


def _make_take_rows(rng: Rng, dtype: np.dtype, shape: Shape, kind: str) -> Inputs:
    n, b, d = shape
    return {
        "x": _values(rng, dtype, (n, d), kind),
        "index": rng.integers(0, n, size=b, dtype=np.int64),
        "out": np.empty((b, d), dtype),
    }


_register(
    OpCase(
        name="take_rows",
        op="take_rows",
        make=_make_take_rows,
        call=lambda m, a: m.take_rows(a["x"], a["index"], a["out"]),
        outputs=("out",),
        # (rows in the data set, batch, features): MNIST's training split and batch
        shapes={
            "tiny": (1, 1, 1),
            "small": (50, 37, 19),
            "mnist": (55_000, 256, 784),
            "large": (55_000, 2048, 784),
        },
        bytes_moved=lambda s, k: 2 * k * s[1] * s[2] + 8 * s[1],
    )
)


# ----------------------------------------------------------------- convolution and pooling
#: Convolution: (B, C, H, W, F, KH, KW, sh, sw, ph, pw). "mnist" is the MNIST CNN's first
#: layer (1 → 16 channels, 28×28, 5×5, padding 2), "large" its second (16 → 32 at 14×14),
#: the larger im2col (P·K = 50176·400). "small" has a non-square input and kernel, a stride
#: of 2 in one direction and padding in the other.
_CONV_SHAPES = {
    "tiny": (1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0),
    "small": (3, 2, 9, 7, 5, 3, 2, 2, 1, 1, 0),
    "mnist": (256, 1, 28, 28, 16, 5, 5, 1, 1, 2, 2),
    "large": (256, 16, 14, 14, 32, 5, 5, 1, 1, 2, 2),
}
#: Pooling: (B, C, H, W, KH, KW, sh, sw, ph, pw). "mnist" and "large" are the MNIST CNN's two
#: 2×2 pools (after 16 channels at 28×28, 32 at 14×14); "small" has overlapping windows
#: (stride 1 < kernel 2 across) and padding on both axes.
_POOL_SHAPES = {
    "tiny": (1, 1, 1, 1, 1, 1, 1, 1, 0, 0),
    "small": (3, 2, 9, 8, 3, 2, 2, 1, 1, 1),
    "mnist": (256, 16, 28, 28, 2, 2, 2, 2, 0, 0),
    "large": (256, 32, 14, 14, 2, 2, 2, 2, 0, 0),
}


def _conv_dims(shape: Shape) -> tuple:
    """(B, C, H, W, F, KH, KW, stride, padding, OH, OW, P, K) of a convolution shape."""
    b, c, h, w, f, kh, kw, sh, sw, ph, pw = shape
    oh, ow = (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1
    return b, c, h, w, f, kh, kw, (sh, sw), (ph, pw), oh, ow, b * oh * ow, c * kh * kw


def _make_conv(relu: bool, backward: bool, dx: bool = True) -> Maker:
    """Inputs of a convolution; the backward's start from the reference forward's outputs.

    ``dz`` and ``dcols`` (backward scratch) start as the reference's own values: a kernel may
    leave them unwritten (it may compute dx without ``dcols``), and one that writes them must
    write these values.
    """

    def make(rng: Rng, dtype: np.dtype, shape: Shape, kind: str) -> Inputs:
        b, c, h, w, f, kh, kw, stride, padding, oh, ow, p, k = _conv_dims(shape)
        inputs: Inputs = {
            "x": _values(rng, dtype, (b, c, h, w), kind, special=False),
            "w": _values(rng, dtype, (f, c, kh, kw), "normal", scale=1 / np.sqrt(k)),
            "b": _values(rng, dtype, (f,), kind, scale=0.1, special=False),
            "stride": stride,
            "padding": padding,
            "relu": relu,
            "cols": np.empty((k, p), dtype),
            "z": np.empty((f, p), dtype),
            "out": np.empty((b, f, oh, ow), dtype),
        }
        if not backward:
            return inputs
        a = inputs
        _conv.conv2d_forward(
            a["x"], a["w"], a["b"], stride, padding, relu, a["cols"], a["z"], a["out"]
        )
        grad = _values(rng, dtype, (b, f, oh, ow), kind, special=False)
        dz = np.empty((f, p), dtype)
        dcols = np.empty((k, p), dtype) if dx else None
        dxa = np.empty((b, c, h, w), dtype) if dx else None
        scratch = (np.empty((f, c, kh, kw), dtype), np.empty(f, dtype))
        _conv.conv2d_backward(
            grad, a["cols"], a["w"], a["out"], stride, padding, relu, dx, dz, dcols, dxa, *scratch
        )
        for name in ("x", "z", "b"):
            del inputs[name]
        inputs.update(
            grad=grad,
            compute_dx=dx,
            dz=dz,
            dcols=dcols,
            dx=np.empty((b, c, h, w), dtype) if dx else None,
            dw=np.empty((f, c, kh, kw), dtype),
            db=np.empty(f, dtype),
        )
        return inputs

    return make


def _call_conv_forward(m: ModuleType, a: Inputs) -> Any:
    args = (a["x"], a["w"], a["b"], a["stride"], a["padding"], a["relu"])
    return m.conv2d_forward(*args, a["cols"], a["z"], a["out"])


def _call_conv_backward(m: ModuleType, a: Inputs) -> Any:
    args = (a["grad"], a["cols"], a["w"], a["out"], a["stride"], a["padding"], a["relu"])
    return m.conv2d_backward(*args, a["compute_dx"], a["dz"], a["dcols"], a["dx"], a["dw"], a["db"])


def _conv_bytes(shape: Shape, k: int, backward: bool, dx: bool = True) -> int:
    """x, w, b read; cols written and read by the GEMM; z written and read; out written.
    Backward: grad and out read, dz written and read, cols read, dw written, and with dx
    dcols written and read, dx written."""
    b, c, h, w, f, _, _, _, _, _, _, p, kk = _conv_dims(shape)
    if not backward:
        return k * (b * c * h * w + f * kk + f + 2 * p * kk + 2 * p * f + p * f)
    base = 2 * p * f + 2 * p * f + p * kk + 2 * f * kk + f
    return k * (base + (2 * p * kk + b * c * h * w if dx else 0))


def _conv_flops(shape: Shape, gemms: int) -> int:
    *_, p, k = _conv_dims(shape)
    return 2 * p * k * shape[4] * gemms


for _relu in (True, False):
    _register(
        OpCase(
            name="conv2d_forward_relu" if _relu else "conv2d_forward",
            op="conv2d_forward",
            make=_make_conv(_relu, backward=False),
            call=_call_conv_forward,
            outputs=("out", "cols", "z"),
            shapes=_CONV_SHAPES,
            bytes_moved=lambda s, k: _conv_bytes(s, k, backward=False),
            flops=lambda s: _conv_flops(s, 1),
        )
    )
for _name, _relu, _dx in (
    ("conv2d_backward_relu", True, True),
    ("conv2d_backward_relu_first_layer", True, False),
    ("conv2d_backward", False, True),
):
    _register(
        OpCase(
            name=_name,
            op="conv2d_backward",
            make=_make_conv(_relu, backward=True, dx=_dx),
            call=_call_conv_backward,
            outputs=("dz", "dw", "db") + (("dcols", "dx") if _dx else ()),
            shapes=_CONV_SHAPES,
            bytes_moved=lambda s, k, d=_dx: _conv_bytes(s, k, backward=True, dx=d),
            flops=lambda s, d=_dx: _conv_flops(s, 1 + d),
        )
    )


def _pool_dims(shape: Shape) -> tuple:
    """(B, C, H, W, kernel, stride, padding, OH, OW) of a pooling shape."""
    b, c, h, w, kh, kw, sh, sw, ph, pw = shape
    oh, ow = (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1
    return b, c, h, w, (kh, kw), (sh, sw), (ph, pw), oh, ow


def _make_pool(kind_of_pool: str, backward: bool) -> Maker:
    """Inputs of a pooling op; extreme values hold −inf and NaN (the tie and NaN rules), and
    the max backward's ``argmax`` comes from the reference forward."""

    def make(rng: Rng, dtype: np.dtype, shape: Shape, kind: str) -> Inputs:
        b, c, h, w, kernel, stride, padding, oh, ow = _pool_dims(shape)
        x = _values(rng, dtype, (b, c, h, w), kind)
        if kind == "extreme" and x.size > 1:  # ties: a run of equal values, and a −inf plane
            x.reshape(-1)[: min(x.size, 2 * w)] = x.reshape(-1)[0]
            x[-1, -1] = -np.inf
        inputs: Inputs = {"kernel": kernel, "stride": stride, "padding": padding}
        if not backward:
            inputs.update(x=x, out=np.empty((b, c, oh, ow), dtype))
            if kind_of_pool == "max":
                inputs["argmax"] = np.empty((b, c, oh, ow), np.int64)
            return inputs
        inputs.update(
            grad=_values(rng, dtype, (b, c, oh, ow), kind, special=False),
            dx=np.empty((b, c, h, w), dtype),
        )
        if kind_of_pool == "max":
            argmax = np.empty((b, c, oh, ow), np.int64)
            out = np.empty((b, c, oh, ow), dtype)
            _pooling.maxpool2d_forward(x, kernel, stride, padding, out, argmax)
            inputs["argmax"] = argmax
        return inputs

    return make


def _pool_bytes(shape: Shape, k: int, argmax: bool) -> int:
    """The input and the output once each, and the int64 ``argmax`` once when used."""
    b, c, h, w, _, _, _, oh, ow = _pool_dims(shape)
    return k * (b * c * h * w + b * c * oh * ow) + (8 * b * c * oh * ow if argmax else 0)


_register(
    OpCase(
        name="maxpool2d_forward",
        op="maxpool2d_forward",
        make=_make_pool("max", backward=False),
        call=lambda m, a: m.maxpool2d_forward(
            a["x"], a["kernel"], a["stride"], a["padding"], a["out"], a["argmax"]
        ),
        outputs=("out", "argmax"),
        shapes=_POOL_SHAPES,
        bytes_moved=lambda s, k: _pool_bytes(s, k, argmax=True),
    )
)
_register(
    OpCase(
        name="maxpool2d_backward",
        op="maxpool2d_backward",
        make=_make_pool("max", backward=True),
        call=lambda m, a: m.maxpool2d_backward(a["grad"], a["argmax"], a["dx"]),
        outputs=("dx",),
        shapes=_POOL_SHAPES,
        bytes_moved=lambda s, k: _pool_bytes(s, k, argmax=True),
    )
)
_register(
    OpCase(
        name="avgpool2d_forward",
        op="avgpool2d_forward",
        make=_make_pool("avg", backward=False),
        call=lambda m, a: m.avgpool2d_forward(
            a["x"], a["kernel"], a["stride"], a["padding"], a["out"]
        ),
        outputs=("out",),
        shapes=_POOL_SHAPES,
        bytes_moved=lambda s, k: _pool_bytes(s, k, argmax=False),
    )
)
_register(
    OpCase(
        name="avgpool2d_backward",
        op="avgpool2d_backward",
        make=_make_pool("avg", backward=True),
        call=lambda m, a: m.avgpool2d_backward(
            a["grad"], a["kernel"], a["stride"], a["padding"], a["dx"]
        ),
        outputs=("dx",),
        shapes=_POOL_SHAPES,
        bytes_moved=lambda s, k: _pool_bytes(s, k, argmax=False),
    )
)
