"""numdl.core.ops convolution and pooling against PyTorch (forward and autograd backward).

The reference backend ("numpy", :mod:`numdl.core.hotpaths.conv` and ``.pooling``) through the
validated ops, in float64 and float32, on odd shapes: 1×1 kernels, stride 2, padding,
non-square inputs and kernels, batch 1, one channel, overlapping pooling windows. Then max
pooling's tie and NaN rules, and every rejection the interface names (nothing written).
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pytest

import numdl
from numdl.core import ops

torch = pytest.importorskip("torch")
F = torch.nn.functional

DTYPES = [np.float64, np.float32]


@pytest.fixture(autouse=True)
def _numpy_backend():
    with numdl.use_backend("numpy"):
        yield


def _close(got: Any, want: Any, dtype: Any, name: str) -> None:
    """Equal to the float64 PyTorch result within the dtype's rounding (scaled to max|want|)."""
    want = np.asarray(want, dtype=np.float64)
    got = np.asarray(got)
    assert got.dtype == np.dtype(dtype), f"{name}: dtype {got.dtype}"
    assert got.shape == want.shape, f"{name}: shape {got.shape} vs {want.shape}"
    rtol = 1e-11 if np.dtype(dtype) == np.float64 else 1e-5
    scale = max(float(np.abs(want).max(initial=0.0)), 1.0)
    np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol * scale, err_msg=name)


# (B, C, H, W, F, (KH, KW), stride, padding, relu)
CONV_SHAPES = [
    pytest.param(2, 3, 5, 5, 4, (3, 3), 1, 1, True, id="3x3-pad1-relu"),
    pytest.param(1, 1, 6, 7, 2, (1, 1), 1, 0, False, id="1x1-batch1-one-channel"),
    pytest.param(3, 2, 9, 7, 5, (3, 2), (2, 1), (1, 0), True, id="nonsquare-stride2-pad"),
    pytest.param(2, 2, 8, 8, 3, (5, 5), 2, 2, False, id="5x5-stride2-pad2"),
    pytest.param(1, 4, 4, 9, 1, (4, 1), (1, 3), (0, 2), True, id="tall-kernel-stride3"),
    pytest.param(2, 1, 28, 28, 3, (5, 5), 1, 2, True, id="mnist-like"),
    pytest.param(2, 3, 3, 3, 2, (3, 3), 1, 0, False, id="kernel-equals-input"),
]


def _pair(v: Any) -> tuple[int, int]:
    return (v, v) if isinstance(v, int) else tuple(v)


def _conv_inputs(rng, b, c, h, w, f, kernel, dtype):
    x = rng.standard_normal((b, c, h, w)).astype(dtype)
    wt = (rng.standard_normal((f, c, *kernel)) / np.sqrt(c * kernel[0] * kernel[1])).astype(dtype)
    bias = (0.1 * rng.standard_normal(f)).astype(dtype)
    return x, wt, bias


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize(
    ("b", "c", "h", "w", "f", "kernel", "stride", "padding", "relu"), CONV_SHAPES
)
def test_conv2d_matches_torch(b, c, h, w, f, kernel, stride, padding, relu, dtype) -> None:
    rng = np.random.default_rng(0)
    x, wt, bias = _conv_inputs(rng, b, c, h, w, f, kernel, dtype)
    out = ops.conv2d_forward(x, wt, bias, stride=stride, padding=padding, relu=relu)

    xt, wtt, bt = (torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in (x, wt, bias))
    ref = F.conv2d(xt, wtt, bt, stride=_pair(stride), padding=_pair(padding))
    ref = torch.relu(ref) if relu else ref
    _close(out, ref.detach().numpy(), dtype, "out")
    # a gradient away from the ReLU kink: out > 0 agrees with torch's mask (ties only at 0)
    grad = rng.standard_normal(out.shape).astype(dtype)
    ref.backward(torch.tensor(grad, dtype=torch.float64))

    cols = np.empty((c * kernel[0] * kernel[1], out.shape[0] * out.shape[2] * out.shape[3]), dtype)
    out2 = ops.conv2d_forward(x, wt, bias, stride=stride, padding=padding, relu=relu, cols=cols)
    np.testing.assert_array_equal(out2, out)
    dx, dw, db = ops.conv2d_backward(
        grad, cols, wt, out, stride=stride, padding=padding, relu=relu, x_shape=x.shape
    )
    _close(dx, xt.grad.numpy(), dtype, "dx")
    _close(dw, wtt.grad.numpy(), dtype, "dw")
    _close(db, bt.grad.numpy(), dtype, "db")

    # the first layer's call: no dx, the same dw and db
    none, dw1, db1 = ops.conv2d_backward(
        grad,
        cols,
        wt,
        out,
        stride=stride,
        padding=padding,
        relu=relu,
        compute_dx=False,
        x_shape=x.shape,
    )
    assert none is None
    np.testing.assert_array_equal(dw1, dw)
    np.testing.assert_array_equal(db1, db)


def test_conv2d_cols_is_the_unrolled_input_and_buffers_are_filled() -> None:
    """cols[(c, i, j), (b, oh, ow)] = X̃[b, c, oh·s + i, ow·s + j], zeros where padding."""
    rng = np.random.default_rng(1)
    x, wt, bias = _conv_inputs(rng, 2, 2, 4, 5, 3, (2, 3), np.float64)
    oh, ow = (4 + 2 - 2) // 2 + 1, (5 + 2 - 3) // 2 + 1
    cols = np.full((2 * 2 * 3, 2 * oh * ow), np.nan)
    z = np.full((3, 2 * oh * ow), np.nan)
    out = np.full((2, 3, oh, ow), np.nan)
    res = ops.conv2d_forward(x, wt, bias, stride=2, padding=1, out=out, cols=cols, z=z)
    assert res is out
    padded = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    for bb in range(2):
        for i in range(oh):
            for j in range(ow):
                window = padded[bb, :, 2 * i : 2 * i + 2, 2 * j : 2 * j + 3]
                np.testing.assert_array_equal(cols[:, (bb * oh + i) * ow + j], window.ravel())
    np.testing.assert_allclose(z, wt.reshape(3, -1) @ cols, rtol=1e-13)
    np.testing.assert_allclose(
        out, (z + bias[:, None]).reshape(3, 2, oh, ow).transpose(1, 0, 2, 3), rtol=1e-13
    )


# (B, C, H, W, kernel, stride, padding)
POOL_SHAPES = [
    pytest.param(2, 3, 8, 8, 2, None, 0, id="2x2"),
    pytest.param(1, 1, 7, 5, 3, 1, 1, id="3x3-stride1-overlap-pad-batch1"),
    pytest.param(3, 2, 9, 8, (3, 2), (2, 1), (1, 1), id="nonsquare-overlap-pad"),
    pytest.param(2, 2, 5, 7, (2, 3), 2, (1, 0), id="stride2-pad-odd-size"),
    pytest.param(1, 4, 6, 6, 1, 1, 0, id="1x1"),
    pytest.param(2, 16, 28, 28, 2, 2, 0, id="mnist-pool"),
]


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize(("b", "c", "h", "w", "kernel", "stride", "padding"), POOL_SHAPES)
def test_maxpool2d_matches_torch(b, c, h, w, kernel, stride, padding, dtype) -> None:
    rng = np.random.default_rng(2)
    x = rng.standard_normal((b, c, h, w)).astype(dtype)
    out, argmax = ops.maxpool2d_forward(x, kernel, stride=stride, padding=padding)
    xt = torch.tensor(x, requires_grad=True)
    ref, idx = F.max_pool2d(xt, kernel, stride=stride, padding=padding, return_indices=True)
    np.testing.assert_array_equal(out, ref.detach().numpy())  # a max is exact
    assert argmax.dtype == np.int64
    np.testing.assert_array_equal(argmax, idx.numpy())
    grad = rng.standard_normal(out.shape).astype(dtype)
    ref.backward(torch.tensor(grad))
    dx = ops.maxpool2d_backward(grad, argmax, x.shape)
    _close(dx, xt.grad.numpy(), dtype, "dx")


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize(("b", "c", "h", "w", "kernel", "stride", "padding"), POOL_SHAPES)
def test_avgpool2d_matches_torch(b, c, h, w, kernel, stride, padding, dtype) -> None:
    rng = np.random.default_rng(3)
    x = rng.standard_normal((b, c, h, w)).astype(dtype)
    out = ops.avgpool2d_forward(x, kernel, stride=stride, padding=padding)
    xt = torch.tensor(x.astype(np.float64), requires_grad=True)
    ref = F.avg_pool2d(xt, kernel, stride=stride, padding=padding)  # count_include_pad=True
    _close(out, ref.detach().numpy(), dtype, "out")
    grad = rng.standard_normal(out.shape).astype(dtype)
    ref.backward(torch.tensor(grad, dtype=torch.float64))
    dx = ops.avgpool2d_backward(grad, x.shape, kernel, stride=stride, padding=padding)
    _close(dx, xt.grad.numpy(), dtype, "dx")


# ------------------------------------------------------------------ the tie and NaN rules
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_maxpool_ties_go_to_the_first_maximum_in_row_major_order(dtype) -> None:
    x = np.array([[[[1, 3, 2, 2], [3, 0, 2, 2]]]], dtype)  # windows [[1,3],[3,0]], [[2,2],[2,2]]
    out, argmax = ops.maxpool2d_forward(x, 2)
    np.testing.assert_array_equal(out, [[[[3, 2]]]])
    np.testing.assert_array_equal(argmax, [[[[1, 2]]]])  # (0, 1) and (0, 2): row 0 first
    _, idx = F.max_pool2d(torch.tensor(x), 2, return_indices=True)
    np.testing.assert_array_equal(argmax, idx.numpy())


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_maxpool_nan_wins_and_the_first_nan_is_chosen(dtype) -> None:
    nan = np.nan
    x = np.array([[[[1, nan, 9, 9], [nan, 5, 9, 9]]]], dtype)
    out, argmax = ops.maxpool2d_forward(x, 2)
    assert np.isnan(out[0, 0, 0, 0])
    assert out[0, 0, 0, 1] == 9
    np.testing.assert_array_equal(argmax, [[[[1, 2]]]])
    # PyTorch's values agree (NaN propagates); its CPU index is the *last* NaN (4 here),
    # the interface's is the first, so the indices are not compared with it
    ref = F.max_pool2d(torch.tensor(x), 2)
    np.testing.assert_array_equal(out, ref.numpy())
    dx = ops.maxpool2d_backward(np.ones_like(out), argmax, x.shape)
    np.testing.assert_array_equal(dx, [[[[0, 1, 1, 0], [0, 0, 0, 0]]]])


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_maxpool_all_minus_inf_picks_a_real_entry_not_the_padding(dtype) -> None:
    """Padding is −inf and never chosen: a window of −inf entries reports its first entry."""
    x = np.full((1, 2, 3, 4), -np.inf, dtype)
    x[0, 1, 1, 2] = 0.5
    out, argmax = ops.maxpool2d_forward(x, 3, stride=1, padding=1)
    ref, idx = F.max_pool2d(torch.tensor(x), 3, stride=1, padding=1, return_indices=True)
    np.testing.assert_array_equal(out, ref.numpy())
    np.testing.assert_array_equal(argmax, idx.numpy())
    assert argmax[0, 0, 0, 0] == 0  # the corner window: first real entry (0, 0)


def test_maxpool_backward_accumulates_overlapping_windows() -> None:
    x = np.zeros((1, 1, 3, 3))
    x[0, 0, 1, 1] = 1.0  # the centre is the max of all four 2×2 windows at stride 1
    _, argmax = ops.maxpool2d_forward(x, 2, stride=1)
    np.testing.assert_array_equal(argmax, np.full((1, 1, 2, 2), 4))
    grad = np.array([[[[1.0, 2.0], [3.0, 4.0]]]])
    dx = np.full((1, 1, 3, 3), np.nan)
    assert ops.maxpool2d_backward(grad, argmax, x.shape, dx=dx) is dx
    want = np.zeros((1, 1, 3, 3))
    want[0, 0, 1, 1] = 10.0
    np.testing.assert_array_equal(dx, want)


def test_pool_stride_defaults_to_kernel_and_window_args_take_pairs() -> None:
    x = np.random.default_rng(4).standard_normal((2, 1, 6, 6))
    a, _ = ops.maxpool2d_forward(x, 2)
    b, _ = ops.maxpool2d_forward(x, (2, 2), stride=np.int64(2), padding=(0, 0))
    np.testing.assert_array_equal(a, b)
    assert ops.avgpool2d_forward(x, [3, 2]).shape == (2, 1, 2, 3)


# ------------------------------------------------------------------------ the rejections
def _conv_args(dtype: Any = np.float64) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(5)
    x, w, b = _conv_inputs(rng, 2, 3, 6, 5, 4, (3, 2), dtype)
    out = ops.conv2d_forward(x, w, b)
    cols = np.empty((18, 2 * 4 * 4), dtype)
    ops.conv2d_forward(x, w, b, cols=cols)
    return {"x": x, "w": w, "b": b, "out": out, "cols": cols, "grad": np.ones_like(out)}


def _sentinel(shape: tuple[int, ...], dtype: Any = np.float64) -> np.ndarray:
    return np.full(shape, 7, dtype)


def _conv_fwd(**over: Any):
    a = _conv_args()
    kw = {
        "stride": 1,
        "padding": 0,
        "relu": False,
        "out": _sentinel((2, 4, 4, 4)),
        "cols": _sentinel((18, 32)),
        "z": _sentinel((4, 32)),
    }
    args = {k: a[k] for k in ("x", "w", "b")}
    for k, v in over.items():
        (args if k in args else kw)[k] = v
    arrays = {**args, **{k: v for k, v in kw.items() if isinstance(v, np.ndarray)}}
    return (lambda: ops.conv2d_forward(*args.values(), **kw)), arrays


def _conv_bwd(**over: Any):
    a = _conv_args()
    kw = {
        "x_shape": (2, 3, 6, 5),
        "dx": _sentinel((2, 3, 6, 5)),
        "dw": _sentinel((4, 3, 3, 2)),
        "db": _sentinel((4,)),
        "dz": _sentinel((4, 32)),
        "dcols": _sentinel((18, 32)),
    }
    args = {k: a[k] for k in ("grad", "cols", "w", "out")}
    for k, v in over.items():
        (args if k in args else kw)[k] = v
    arrays = {**args, **{k: v for k, v in kw.items() if isinstance(v, np.ndarray)}}
    return (lambda: ops.conv2d_backward(*args.values(), **kw)), arrays


def _pool_fwd(op: str, **over: Any):
    x = np.random.default_rng(6).standard_normal((2, 3, 6, 5))
    kw: dict[str, Any] = {"out": _sentinel((2, 3, 3, 2))}
    if op == "max":
        kw["argmax"] = _sentinel((2, 3, 3, 2), np.int64)
    args = {"x": x, "kernel_size": 2}
    for k, v in over.items():
        (args if k in args else kw)[k] = v
    fn = ops.maxpool2d_forward if op == "max" else ops.avgpool2d_forward
    arrays = {k: v for k, v in {**args, **kw}.items() if isinstance(v, np.ndarray)}
    return (lambda: fn(*args.values(), **kw)), arrays


def _maxpool_bwd(**over: Any):
    x = np.random.default_rng(7).standard_normal((2, 3, 6, 5))
    _, argmax = ops.maxpool2d_forward(x, 2)
    args = {"grad": np.ones((2, 3, 3, 2)), "argmax": argmax, "x_shape": x.shape}
    kw = {"dx": _sentinel(x.shape)}
    for k, v in over.items():
        (args if k in args else kw)[k] = v
    arrays = {k: v for k, v in {**args, **kw}.items() if isinstance(v, np.ndarray)}
    return (lambda: ops.maxpool2d_backward(*args.values(), **kw)), arrays


def _avgpool_bwd(**over: Any):
    args = {"grad": np.ones((2, 3, 3, 2)), "x_shape": (2, 3, 6, 5), "kernel_size": 2}
    kw = {"dx": _sentinel((2, 3, 6, 5))}
    for k, v in over.items():
        (args if k in args else kw)[k] = v
    arrays = {k: v for k, v in {**args, **kw}.items() if isinstance(v, np.ndarray)}
    return (lambda: ops.avgpool2d_backward(*args.values(), **kw)), arrays


REJECTIONS = [
    # conv2d_forward
    (
        "conv-x-3d",
        lambda: _conv_fwd(x=np.ones((3, 6, 5))),
        ValueError,
        r"^x must be 4-D \(B, C, H, W\)",
    ),
    (
        "conv-w-2d",
        lambda: _conv_fwd(w=np.ones((4, 18))),
        ValueError,
        r"^w must be 4-D \(F, C, KH, KW\)",
    ),
    (
        "conv-channels",
        lambda: _conv_fwd(w=np.ones((4, 2, 3, 2))),
        ValueError,
        r"^w must have 3 input channels",
    ),
    (
        "conv-kernel-too-big",
        lambda: _conv_fwd(w=np.ones((4, 3, 7, 2))),
        ValueError,
        r"^the kernel of w \(7, 2\) is larger than the padded input \(6, 5\)",
    ),
    ("conv-stride-0", lambda: _conv_fwd(stride=0), ValueError, r"^stride must be >= 1"),
    ("conv-stride-pair-0", lambda: _conv_fwd(stride=(1, 0)), ValueError, r"^stride must be >= 1"),
    (
        "conv-stride-triple",
        lambda: _conv_fwd(stride=(1, 1, 1)),
        ValueError,
        r"^stride must be an integer or a pair",
    ),
    ("conv-stride-float", lambda: _conv_fwd(stride=1.0), TypeError, r"^stride must be an integer"),
    ("conv-padding-neg", lambda: _conv_fwd(padding=-1), ValueError, r"^padding must be >= 0"),
    (
        "conv-x-int",
        lambda: _conv_fwd(x=np.ones((2, 3, 6, 5), np.int64)),
        TypeError,
        r"^x must have dtype float32 or float64",
    ),
    (
        "conv-w-mixed",
        lambda: _conv_fwd(w=np.ones((4, 3, 3, 2), np.float32)),
        TypeError,
        r"^w must have the dtype of x",
    ),
    ("conv-b-shape", lambda: _conv_fwd(b=np.ones(5)), ValueError, r"^b must have shape \(4,\)"),
    ("conv-relu-str", lambda: _conv_fwd(relu="False"), TypeError, r"^relu must be True or False"),
    (
        "conv-out-shape",
        lambda: _conv_fwd(out=_sentinel((2, 4, 4, 3))),
        ValueError,
        r"^out must have shape \(2, 4, 4, 4\)",
    ),
    (
        "conv-cols-shape",
        lambda: _conv_fwd(cols=_sentinel((17, 32))),
        ValueError,
        r"^cols must have shape \(18, 32\)",
    ),
    (
        "conv-z-dtype",
        lambda: _conv_fwd(z=_sentinel((4, 32), np.float32)),
        TypeError,
        r"^z must have the dtype",
    ),
    (
        "conv-out-strided",
        lambda: _conv_fwd(out=_sentinel((2, 4, 4, 8))[..., ::2]),
        ValueError,
        r"^out must be C-contiguous",
    ),
    # conv2d_backward
    (
        "convb-grad-3d",
        lambda: _conv_bwd(grad=np.ones((4, 4, 4))),
        ValueError,
        r"^grad must be 4-D \(B, F, OH, OW\)",
    ),
    (
        "convb-grad-shape",
        lambda: _conv_bwd(grad=np.ones((2, 4, 4, 3))),
        ValueError,
        r"^grad must have shape \(2, 4, 4, 4\)",
    ),
    (
        "convb-x-shape-channels",
        lambda: _conv_bwd(x_shape=(2, 2, 6, 5)),
        ValueError,
        r"^w must have 2 input channels",
    ),
    (
        "convb-x-shape-3",
        lambda: _conv_bwd(x_shape=(2, 3, 6)),
        ValueError,
        r"^x_shape must be a 4-tuple",
    ),
    (
        "convb-cols-shape",
        lambda: _conv_bwd(cols=np.ones((32, 18))),
        ValueError,
        r"^cols must have shape \(18, 32\)",
    ),
    (
        "convb-out-mixed",
        lambda: _conv_bwd(out=np.ones((2, 4, 4, 4), np.float32)),
        TypeError,
        r"^out must have the dtype of grad",
    ),
    (
        "convb-dx-without-compute",
        lambda: _conv_bwd(compute_dx=False, dcols=None),
        ValueError,
        r"^dx must be None when compute_dx is False",
    ),
    (
        "convb-dcols-without-compute",
        lambda: _conv_bwd(compute_dx=False, dx=None),
        ValueError,
        r"^dcols must be None when compute_dx is False",
    ),
    (
        "convb-dw-shape",
        lambda: _conv_bwd(dw=_sentinel((4, 3, 2, 3))),
        ValueError,
        r"^dw must have shape \(4, 3, 3, 2\)",
    ),
    (
        "convb-stride-mismatch",
        lambda: _conv_bwd(stride=2),
        ValueError,
        r"^grad must have shape \(2, 4, 2, 2\)",
    ),
    (
        "convb-flag",
        lambda: _conv_bwd(compute_dx=1),
        TypeError,
        r"^compute_dx must be True or False",
    ),
    # pooling
    (
        "maxpool-x-2d",
        lambda: _pool_fwd("max", x=np.ones((6, 5))),
        ValueError,
        r"^x must be 4-D \(B, C, H, W\)",
    ),
    (
        "maxpool-kernel-0",
        lambda: _pool_fwd("max", kernel_size=0),
        ValueError,
        r"^kernel_size must be >= 1",
    ),
    (
        "maxpool-kernel-too-big",
        lambda: _pool_fwd("max", kernel_size=(7, 2)),
        ValueError,
        r"^kernel_size \(7, 2\) is larger than the padded input",
    ),
    ("maxpool-stride-0", lambda: _pool_fwd("max", stride=0), ValueError, r"^stride must be >= 1"),
    (
        "maxpool-padding-neg",
        lambda: _pool_fwd("max", padding=-1),
        ValueError,
        r"^padding must be >= 0",
    ),
    (
        "maxpool-padding-over-half",
        lambda: _pool_fwd("max", padding=(1, 2)),
        ValueError,
        r"^padding must be at most half the kernel size \(kernel_size // 2 = \(1, 1\)\), "
        r"got \(1, 2\)",
    ),
    (
        "maxpool-x-int",
        lambda: _pool_fwd("max", x=np.ones((2, 3, 6, 5), np.int32)),
        TypeError,
        r"^x must have dtype",
    ),
    (
        "maxpool-argmax-dtype",
        lambda: _pool_fwd("max", argmax=_sentinel((2, 3, 3, 2), np.int32)),
        TypeError,
        r"^argmax must have dtype int64",
    ),
    (
        "maxpool-argmax-shape",
        lambda: _pool_fwd("max", argmax=_sentinel((2, 3, 3, 3), np.int64)),
        ValueError,
        r"^argmax must have shape \(2, 3, 3, 2\)",
    ),
    (
        "maxpool-out-readonly",
        lambda: _pool_fwd("max", out=_readonly(_sentinel((2, 3, 3, 2)))),
        ValueError,
        r"^out must be writeable",
    ),
    (
        "maxpoolb-argmax-range",
        lambda: _maxpool_bwd(argmax=np.full((2, 3, 3, 2), 30)),
        ValueError,
        r"^argmax must hold flat indices in \[0, 30\)",
    ),
    (
        "maxpoolb-argmax-neg",
        lambda: _maxpool_bwd(argmax=np.full((2, 3, 3, 2), -1)),
        ValueError,
        r"^argmax must hold flat indices",
    ),
    (
        "maxpoolb-argmax-float",
        lambda: _maxpool_bwd(argmax=np.zeros((2, 3, 3, 2))),
        TypeError,
        r"^argmax must have dtype int64",
    ),
    (
        "maxpoolb-argmax-shape",
        lambda: _maxpool_bwd(argmax=np.zeros((2, 3, 3, 1), np.int64)),
        ValueError,
        r"^argmax must have shape \(2, 3, 3, 2\)",
    ),
    (
        "maxpoolb-grad-channels",
        lambda: _maxpool_bwd(grad=np.ones((2, 4, 3, 2))),
        ValueError,
        r"^grad must have shape \(2, 3, \*, \*\)",
    ),
    (
        "maxpoolb-x-shape-neg",
        lambda: _maxpool_bwd(x_shape=(2, 3, -6, 5)),
        ValueError,
        r"^x_shape must be >= 0",
    ),
    (
        "avgpool-x-5d",
        lambda: _pool_fwd("avg", x=np.ones((1, 2, 3, 6, 5))),
        ValueError,
        r"^x must be 4-D",
    ),
    (
        "avgpool-padding-over-half",
        lambda: _pool_fwd("avg", kernel_size=3, padding=2),
        ValueError,
        r"^padding must be at most half",
    ),
    (
        "avgpool-out-shape",
        lambda: _pool_fwd("avg", out=_sentinel((2, 3, 3, 3))),
        ValueError,
        r"^out must have shape \(2, 3, 3, 2\)",
    ),
    (
        "avgpoolb-grad-shape",
        lambda: _avgpool_bwd(grad=np.ones((2, 3, 2, 2))),
        ValueError,
        r"^grad must have shape \(2, 3, 3, 2\)",
    ),
    (
        "avgpoolb-kernel-too-big",
        lambda: _avgpool_bwd(kernel_size=6),
        ValueError,
        r"^kernel_size \(6, 6\) is larger",
    ),
    (
        "avgpoolb-dx-dtype",
        lambda: _avgpool_bwd(dx=_sentinel((2, 3, 6, 5), np.float32)),
        TypeError,
        r"^dx must have the dtype",
    ),
]


def _readonly(a: np.ndarray) -> np.ndarray:
    a.flags.writeable = False
    return a


@pytest.mark.parametrize(
    ("build", "exc", "pattern"), [r[1:] for r in REJECTIONS], ids=[r[0] for r in REJECTIONS]
)
def test_rejected_call_names_the_argument_and_writes_nothing(build, exc, pattern) -> None:
    call, arrays = build()
    before = {k: v.copy() for k, v in arrays.items()}
    with pytest.raises(exc) as info:
        call()
    assert re.search(pattern, str(info.value)), str(info.value)
    for name, arr in arrays.items():
        np.testing.assert_array_equal(arr, before[name], err_msg=f"{name} was written")


def test_outputs_sharing_memory_are_rejected() -> None:
    a = _conv_args()
    buf = np.zeros(2 * 4 * 6 * 5 + 10)
    x = buf[: 2 * 3 * 6 * 5].reshape(2, 3, 6, 5)
    x[...] = a["x"]
    out = buf[10 : 10 + 2 * 4 * 4 * 4].reshape(2, 4, 4, 4)
    with pytest.raises(ValueError, match=r"^out and x must not share memory"):
        ops.conv2d_forward(x, a["w"], a["b"], out=out)
    np.testing.assert_array_equal(x, a["x"])
    grad, cols, w, fwd = a["grad"], a["cols"], a["w"], a["out"]
    with pytest.raises(ValueError, match=r"^dw and w must not share memory"):
        ops.conv2d_backward(grad, cols, w, fwd, x_shape=(2, 3, 6, 5), dw=w)
    dcols = np.zeros((18, 32))
    dz = dcols.reshape(-1)[100 : 100 + 32 * 4].reshape(4, 32)  # contiguous, inside dcols
    with pytest.raises(ValueError, match=r"^dz and dcols must not share memory"):
        ops.conv2d_backward(grad, cols, w, fwd, x_shape=(2, 3, 6, 5), dcols=dcols, dz=dz)
    np.testing.assert_array_equal(dcols, 0)
    x = np.zeros((1, 1, 4, 4))
    raw = np.zeros(4, np.int64)
    pooled = raw.view(np.float64).reshape(1, 1, 2, 2)
    with pytest.raises(ValueError, match=r"^out and argmax must not share memory"):
        ops.maxpool2d_forward(x, 2, out=pooled, argmax=raw.reshape(1, 1, 2, 2))
    np.testing.assert_array_equal(raw, 0)
    g = np.zeros((1, 1, 4, 4))
    with pytest.raises(ValueError, match=r"^dx and grad must not share memory"):
        ops.avgpool2d_backward(g[:, :, :2, :2], (1, 1, 4, 4), 2, dx=g)
