"""The hot-path ops: every registry case timed on each implementation, the numdl backends
that load here (:func:`backend_modules`) and PyTorch CPU doing the same mathematics
(:func:`import_torch`, ``_torch_op``), each against its roofline (the same GEMMs timed bare
for the linear layers; ``bytes_moved`` over the measured bandwidth for the others) in
:func:`bench_ops`.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from numdl.bench.machine import BandwidthProbe
from numdl.bench.timing import log, time_interleaved

#: Memory-bound cases moving at least this many bytes are DRAM-bound (beyond any cache);
#: smaller ones (the "mnist" shapes) run from cache and can beat the DRAM roofline.
DRAM_BYTES = 64 * 2**20

#: The registry's shape names measured here (a "large" equal to "mnist" is measured once).
SHAPE_NAMES = ("mnist", "large")


def import_torch(enabled: bool) -> Any:
    if not enabled:
        return None
    try:
        import torch
    except ImportError:
        return None
    return torch


def _torch_op(name: str, inputs: dict[str, Any], torch: Any) -> Callable[[], Any] | None:
    """PyTorch CPU doing what registry case ``name`` does, on (views of) the same arrays."""
    F = torch.nn.functional

    def t(key: str) -> Any:
        return torch.from_numpy(inputs[key])

    if name.startswith("linear_"):
        x = t("x")
        wt = torch.from_numpy(np.ascontiguousarray(inputs["w"].T)).requires_grad_(True)
        b = t("b").requires_grad_(True)
        relu = inputs["relu"]
        if name.startswith("linear_forward"):

            def forward() -> Any:
                z = F.linear(x, wt, b)
                return F.relu(z) if relu else z

            return forward
        wants_dx = inputs["dx"] is not None
        x.requires_grad_(wants_dx)
        z = F.linear(x, wt, b)
        out = F.relu(z) if relu else z
        grad = t("grad_out")
        wrt = (x, wt, b) if wants_dx else (wt, b)
        return lambda: torch.autograd.grad(out, wrt, grad, retain_graph=True)
    if name == "logsumexp_rows":
        x, out = t("x"), t("out_lse")
        return lambda: torch.logsumexp(x, 1, out=out)
    if name == "log_softmax_rows":
        x = t("x")
        return lambda: F.log_softmax(x, dim=1)
    if name.startswith("cross_entropy"):
        target = t("target")
        if name.endswith("loss_only"):
            logits = t("logits")

            def loss_only() -> Any:
                with torch.no_grad():
                    return F.cross_entropy(logits, target)

            return loss_only
        logits = t("logits").requires_grad_(True)

        def loss_and_grad() -> Any:
            loss = F.cross_entropy(logits, target)
            return loss, torch.autograd.grad(loss, logits)

        return loss_and_grad
    adaptive = {  # the registry cases' hyperparameters
        "adam_update": lambda p: torch.optim.Adam(p, lr=1e-3, weight_decay=1e-2, foreach=True),
        "rmsprop_update": lambda p: torch.optim.RMSprop(
            p, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=1e-2, foreach=True
        ),
        "rmsprop_momentum_update": lambda p: torch.optim.RMSprop(
            p, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=1e-2, momentum=0.9, foreach=True
        ),
        "adagrad_update": lambda p: torch.optim.Adagrad(
            p, lr=1e-2, eps=1e-10, weight_decay=1e-2, foreach=True
        ),
    }
    if name in adaptive:
        param = torch.nn.Parameter(t("param"))
        param.grad = t("grad")
        opt = adaptive[name]([param])
        opt.step()  # creates the state
        return opt.step
    if name in ("momentum_update", "nesterov_update", "adamw_update"):
        param = torch.nn.Parameter(t("param"))
        param.grad = t("grad")
        if name == "adamw_update":
            opt = torch.optim.AdamW(
                [param], lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, foreach=True
            )
        else:
            opt = torch.optim.SGD(
                [param],
                lr=0.05,
                momentum=0.9,
                weight_decay=1e-4,
                nesterov=name == "nesterov_update",
                foreach=True,
            )
        opt.step()  # creates the state (momentum buffer / moments)
        return opt.step
    if name.startswith(("conv2d_", "maxpool2d_", "avgpool2d_")):
        return _torch_conv_pool(name, inputs, torch)
    if name.startswith("batchnorm_"):
        x, gamma, beta, eps, relu = t("x"), t("gamma"), t("beta"), inputs["eps"], inputs["relu"]

        def bn(x: Any, gamma: Any, beta: Any) -> Any:
            y = F.batch_norm(x, None, None, gamma, beta, training=True, eps=eps)
            return F.relu(y) if relu else y

        if name.startswith("batchnorm_forward"):
            return lambda: bn(x, gamma, beta)
        wrt = tuple(a.requires_grad_(True) for a in (x, gamma, beta))
        out, grad = bn(*wrt), t("grad_out")
        return lambda: torch.autograd.grad(out, wrt, grad, retain_graph=True)
    return None


def _torch_conv_pool(name: str, inputs: dict[str, Any], torch: Any) -> Callable[[], Any]:
    """``F.conv2d`` (+ ReLU), ``F.max_pool2d``, ``F.avg_pool2d`` and their autograd backward on
    a registry case's arrays (argument names as the backend functions'). The backward cases
    hold no forward input ``x`` (nor ``b``): torch's forward then runs on a random ``x`` of its
    shape and a zero bias (the timing depends on the shapes, not on the values)."""
    F = torch.nn.functional
    stride, padding = tuple(inputs["stride"]), tuple(inputs["padding"])
    if "x" in inputs:
        x = torch.from_numpy(inputs["x"])
    else:
        grad = inputs["grad"]
        if inputs.get("dx") is not None:
            shape = inputs["dx"].shape
        else:  # the first conv layer's backward: an input size with the same output size
            _, c, kh, kw = inputs["w"].shape
            hw = [
                (o - 1) * s + k - 2 * p
                for o, s, k, p in zip(grad.shape[2:], stride, (kh, kw), padding, strict=True)
            ]
            shape = (grad.shape[0], c, *hw)
        x = torch.from_numpy(np.random.default_rng(0).standard_normal(shape).astype(grad.dtype))
    backward = "_backward" in name
    if name.startswith("conv2d_"):
        w = torch.from_numpy(inputs["w"])
        b = (
            torch.from_numpy(inputs["b"])
            if "b" in inputs
            else torch.zeros(w.shape[0], dtype=w.dtype)
        )
        relu = inputs["relu"]

        def conv(x: Any, w: Any, b: Any) -> Any:
            z = F.conv2d(x, w, b, stride=stride, padding=padding)
            return F.relu(z) if relu else z

        if not backward:
            return lambda: conv(x, w, b)
        wants_dx = inputs.get("compute_dx", True)
        wrt = tuple(a.requires_grad_(True) for a in ((x, w, b) if wants_dx else (w, b)))
        out = conv(x, w, b)
        grad = torch.from_numpy(inputs["grad"])
        return lambda: torch.autograd.grad(out, wrt, grad, retain_graph=True)
    kernel = tuple(inputs["kernel"])
    if name.startswith("maxpool2d_"):

        def pool(x: Any) -> Any:
            return F.max_pool2d(x, kernel, stride, padding, return_indices=True)[0]

    else:

        def pool(x: Any) -> Any:
            return F.avg_pool2d(x, kernel, stride, padding, count_include_pad=True)

    if not backward:
        if name.startswith("maxpool2d_"):  # numdl returns the argmax too
            return lambda: F.max_pool2d(x, kernel, stride, padding, return_indices=True)
        return lambda: pool(x)
    x.requires_grad_(True)
    out, grad = pool(x), torch.from_numpy(inputs["grad"])
    return lambda: torch.autograd.grad(out, x, grad, retain_graph=True)


def _gemm_floor_op(name: str, inputs: dict[str, Any]) -> Callable[[], Any] | None:
    """The bare GEMMs a linear case performs, on its operands (its roofline), else None."""
    if not name.startswith("linear_"):
        return None
    x, w = inputs["x"], inputs["w"]
    b, d_out = x.shape[0], w.shape[1]
    z = np.empty((b, d_out), x.dtype)
    if name.startswith("linear_forward"):
        return lambda: np.matmul(x, w, out=z)
    dz = inputs["grad_out"].copy()
    dw = np.empty_like(w)
    if inputs["dx"] is None:
        return lambda: np.matmul(x.T, dz, out=dw)
    dx = np.empty_like(x)

    def backward() -> None:
        np.matmul(x.T, dz, out=dw)
        np.matmul(dz, w.T, out=dx)

    return backward


def backend_modules() -> dict[str, Any]:
    """The numdl backend modules that load here (numpy always; numba unless it cannot)."""
    from numdl.core import backend

    modules = {}
    for name in ("numpy", "numba"):
        try:
            modules[name] = backend.load(name).module
        except ImportError as exc:
            log(f"numdl backend {name!r} unavailable, left out: {exc}")
    return modules


def bench_ops(
    modules: dict[str, Any],
    torch: Any,
    dtype: Any,
    repeats: int,
    min_sample: float,
    probe: BandwidthProbe,
    bandwidth: float,
    case_names: Sequence[str] | None = None,
    shape_names: Sequence[str] = SHAPE_NAMES,
) -> list[dict[str, Any]]:
    """Time every selected registry case on every implementation (see :mod:`numdl.bench`)."""
    from numdl.testing.registry import CASES, copy_inputs

    dtype = np.dtype(dtype)
    rows = []
    for name, case in CASES.items():
        if case_names and name not in case_names:
            continue
        seen: dict[tuple[int, ...], str] = {}
        for shape_name in shape_names:
            shape = case.shapes[shape_name]
            if shape in seen:
                continue
            label = shape_name
            if shape == case.shapes.get("large") and shape_name == "mnist":
                label = "mnist = large"
            seen[shape] = label
            log(f"  {name} {label} {shape} {dtype}")
            base = case.make(np.random.default_rng(0), dtype, shape, "normal")
            per_impl = {impl: copy_inputs(base) for impl in modules}
            fns: dict[str, Callable[[], Any]] = {
                impl: (lambda m=m, a=per_impl[impl], c=case: c.call(m, a))
                for impl, m in modules.items()
            }
            if torch is not None:
                fn = _torch_op(name, copy_inputs(base), torch)
                if fn is not None:
                    fns["torch"] = fn
            floor = _gemm_floor_op(name, copy_inputs(base))
            if floor is not None:
                fns["gemm floor"] = floor
            nbytes = case.bytes_moved(shape, dtype.itemsize)
            in_dram = floor is None and nbytes >= DRAM_BYTES
            if in_dram:  # the bandwidth probes in the same rounds: drift hits both alike
                fns.update(probe.fns())
            with np.errstate(all="ignore"):
                timings = time_interleaved(fns, repeats, min_sample)
            probe_rates = None
            if floor is not None:
                roof, basis = timings.pop("gemm floor").median, "GEMMs"
            elif in_dram:
                probe_rates = probe.rates(timings)
                for key in probe.kernels:
                    del timings[f"stream {key}"]
                gbs = max(r["gb_per_s"] for r in probe_rates.values())
                roof, basis = nbytes / (gbs * 1e9), f"{gbs:.0f} GB/s"
            else:
                roof, basis = nbytes / (bandwidth * 1e9), "bandwidth, in cache"
            rows.append(
                {
                    "case": name,
                    "op": case.op,
                    "shape_name": label,
                    "shape": list(shape),
                    "dtype": dtype.name,
                    "bytes_moved": nbytes,
                    "flops": case.flops(shape),
                    "roofline_s": roof,
                    "roofline_basis": basis,
                    "bandwidth_probes_same_rounds": probe_rates,
                    "impls": {impl: t.to_json() for impl, t in timings.items()},
                }
            )
            del base, per_impl, fns, timings
            gc.collect()
    return rows
