"""Where a training step's time goes: every GEMM, fused pass, the loss, the update, batch
gathering, Python and dispatch, and what lies between the BLAS calls — measured, per step,
on the same batches as the epoch benchmark, for the numba and numpy backends.

Four measurements of the same step (784-512-10, batch 256, momentum SGD, float32) take turns
every ``chunk`` steps on the epoch's batches, so that load from elsewhere hits them alike:

* **library** — the step as a user runs it (``model.forward``, the loss object,
  ``model.backward``, ``optimizer.step``) on the backend; gathering the batch is timed apart;
* **parts** — the same work as the backend does it, one timed call per piece: each of the five
  GEMMs (the very ``np.matmul`` calls), each fused pass (numba: the kernels' bias+ReLU and
  mask+column-sum passes; numpy: the reference's element-wise operations), the loss (the
  backend's ``cross_entropy``), the update (the backend's ``momentum_update``), and gathering;
* **dispatch** — the library step on a backend whose hot paths do nothing
  (:mod:`numdl.bench.null_backend`): layers, loss and optimiser objects, validation and
  dispatch, i.e. the step's Python, measured rather than inferred;
* **GEMM floor** — the five GEMMs alone, back to back, as in the epoch table.

The table reports each part per step; ``between BLAS calls`` is the in-context GEMM time less
the back-to-back GEMM floor (thread pools waking or spinning around the other passes), and
``unaccounted`` is the library step less the parts and the dispatch: the check that the parts
add up.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from numdl.bench.epoch import Batches, gemm_floor_runner, load_epoch_data, numdl_model
from numdl.bench.timing import gc_off, log, round_order

__all__ = ["PARTS", "bench_breakdown"]

NULL_BACKEND = "bench_null"

#: The parts of a step, in the order the step runs them (GEMMs named by their product).
PARTS: tuple[str, ...] = (
    "gather batch",
    "GEMM X·W1",
    "pass bias+ReLU 1",
    "GEMM H·W2",
    "pass bias 2",
    "loss (cross-entropy fwd+bwd)",
    "pass dZ2 copy + db2",
    "GEMM Hᵀ·dZ2",
    "GEMM dZ2·W2ᵀ",
    "pass ReLU mask + db1",
    "GEMM Xᵀ·dZ1",
    "update (momentum, flat buffer)",
)
GEMMS = tuple(p for p in PARTS if p.startswith("GEMM"))


def _passes(backend: str) -> tuple[Callable, Callable]:
    """(bias[+ReLU] forward pass, mask + column-sum backward pass) as the backend runs them."""
    if backend == "numba":
        from numdl_kernels.cpu import linear as kernels

        return kernels._bias_relu, kernels._mask_colsum  # the passes after/before the GEMMs

    def bias_relu(out: np.ndarray, b: np.ndarray, relu: bool) -> None:
        out += b  # numdl.core.hotpaths.linear.linear_forward, after its GEMM
        if relu:
            np.maximum(out, 0, out=out)

    def mask_colsum(g: np.ndarray, out: np.ndarray, relu: bool, dz: np.ndarray, db) -> None:
        if relu:  # numdl.core.hotpaths.linear.linear_backward, before its GEMMs
            np.multiply(g, out > 0, out=dz)
        elif dz is not g:
            dz[...] = g
        np.sum(dz, axis=0, out=db)

    return bias_relu, mask_colsum


def _parts_runner(backend: str, n_features: int, n_classes: int) -> Callable:
    """A runner timing each part of the step; returns {part: seconds} over its steps."""
    from numdl.core import backend as _backend

    module = _backend.load(backend).module
    model, optimizer = numdl_model(n_features, n_classes, 1)
    params = model.params
    w1, b1 = params["layer0.W"], params["layer0.b"]
    w2, b2 = params["layer1.W"], params["layer1.b"]
    dw1, db1 = params.grad_of("layer0.W"), params.grad_of("layer0.b")
    dw2, db2 = params.grad_of("layer1.W"), params.grad_of("layer1.b")
    velocity = next(iter(optimizer.state.values()))["velocity"]
    bias_relu, mask_colsum = _passes(backend)

    def take(x: np.ndarray, index: np.ndarray, out: np.ndarray) -> np.ndarray:
        return module.take_rows(x, index, out)  # the backend's gather, as the library's

    n_decayed, lr, mom = params.n_decayed, optimizer.lr, optimizer.momentum
    wd = optimizer.weight_decay
    hidden = w1.shape[1]
    buffers: dict[int, tuple[np.ndarray, ...]] = {}

    def run(batches: Batches, first: int, stop: int) -> dict[str, float]:
        spent = dict.fromkeys(PARTS, 0.0)
        clock = time.perf_counter
        for step in range(first, stop):
            t0 = clock()
            xb, yb = batches.gather(step, take)
            t1 = clock()
            k = xb.shape[0]
            if k not in buffers:
                buffers[k] = (
                    np.empty((k, hidden), np.float32),
                    np.empty((k, n_classes), np.float32),
                    np.empty((k, n_classes), np.float32),
                    np.empty((k, hidden), np.float32),
                )
            h, z, dz2, dh = buffers[k]
            np.matmul(xb, w1, out=h)
            t2 = clock()
            bias_relu(h, b1, True)
            t3 = clock()
            np.matmul(h, w2, out=z)
            t4 = clock()
            bias_relu(z, b2, False)
            t5 = clock()
            module.cross_entropy(z, yb, dz2)
            t6 = clock()
            mask_colsum(dz2, z, False, dz2, db2)
            t7 = clock()
            np.matmul(h.T, dz2, out=dw2)
            t8 = clock()
            np.matmul(dz2, w2.T, out=dh)
            t9 = clock()
            mask_colsum(dh, h, True, dh, db1)
            t10 = clock()
            np.matmul(xb.T, dh, out=dw1)
            t11 = clock()
            module.momentum_update(
                params.data, params.grad, velocity, lr, mom, wd, False, n_decayed
            )
            t12 = clock()
            marks = (t0, t1, t2, t3, t4, t5, t6, t7, t8, t9, t10, t11, t12)
            for part, a, b in zip(PARTS, marks[:-1], marks[1:], strict=True):
                spent[part] += b - a
        return spent

    run.model = model  # type: ignore[attr-defined]  # for the test that parts == the step
    return run


def _library_runner(backend: str, n_features: int, n_classes: int) -> Callable:
    """The user's step on ``backend``; returns seconds over its steps, gathering excluded."""
    import numdl
    from numdl.nn.losses import SoftmaxCrossEntropy

    model, optimizer = numdl_model(n_features, n_classes, 1)
    loss_fn = SoftmaxCrossEntropy()

    def run(batches: Batches, first: int, stop: int) -> float:
        spent = 0.0
        clock = time.perf_counter
        with numdl.use_backend(backend):
            for xb, yb in batches.range(first, stop):
                t0 = clock()
                loss, dlogits = loss_fn(model.forward(xb), yb)
                float(loss)  # what a training loop does with it (the NaN check)
                model.backward(dlogits, overwrite_grad=True)
                optimizer.step()
                spent += clock() - t0
        return spent

    run.model = model  # type: ignore[attr-defined]
    return run


def _floor_runner(n_features: int, n_classes: int) -> Callable:
    """The five GEMMs alone, back to back (the epoch table's GEMM floor)."""
    floor = gemm_floor_runner(256, n_features, n_classes, np.float32)
    return lambda batches, first, stop: floor(batches, first, stop)[0]


def bench_breakdown(
    modules: dict[str, Any], data_dir: str | None, repeats: int, max_steps: int | None
) -> dict[str, Any]:
    """The per-step breakdown for the numba (when available) and numpy backends."""
    from numdl.core import backend as _backend

    if NULL_BACKEND not in _backend.available_backends():
        _backend.register_backend(NULL_BACKEND, "numdl.bench.null_backend")
    dataset = load_epoch_data(data_dir)
    x = np.ascontiguousarray(dataset.train.X, dtype=np.float32)
    y = np.ascontiguousarray(dataset.train.y, dtype=np.int64)
    n_features, n_classes = x.shape[1], dataset.n_classes
    steps = math.ceil(x.shape[0] / 256)
    if max_steps is not None:
        steps = min(steps, max_steps)
    batches = Batches(x, y, 256, steps)
    backends = [b for b in ("numba", "numpy") if b in modules or b == "numpy"]

    def runners() -> dict[str, Callable]:
        out: dict[str, Callable] = {}
        for be in backends:
            out[f"{be}: library"] = _library_runner(be, n_features, n_classes)
            out[f"{be}: parts"] = _parts_runner(be, n_features, n_classes)
        out["dispatch"] = _library_runner(NULL_BACKEND, n_features, n_classes)
        out["GEMM floor"] = _floor_runner(n_features, n_classes)
        return out

    warm = Batches(x, y, 256, 3)
    warm.shuffle(10_000)
    for run_warm in runners().values():
        run_warm(warm, 0, 3)
    timed = runners()
    names = list(timed)
    rounds: list[dict[str, Any]] = []
    with gc_off():
        for r in range(repeats):
            log(f"  breakdown round {r + 1}/{repeats}")
            batches.shuffle(r)
            totals: dict[str, Any] = {
                name: dict.fromkeys(PARTS, 0.0) if name.endswith("parts") else 0.0 for name in names
            }
            for c, first in enumerate(range(0, steps, 16)):
                stop = min(first + 16, steps)
                for name in round_order(names, r * 10_000 + c):
                    got = timed[name](batches, first, stop)
                    if isinstance(got, dict):
                        for part, seconds in got.items():
                            totals[name][part] += seconds
                    else:
                        totals[name] += got
            rounds.append(totals)
    return {
        "steps": steps,
        "synthetic": bool(dataset.synthetic),
        "backends": backends,
        "rounds": rounds,
        "summary": {be: _summary(rounds, be, steps) for be in backends},
    }


def _summary(rounds: list[dict[str, Any]], backend: str, steps: int) -> dict[str, Any]:
    """Per-step medians over rounds (µs) of every part and of the derived rows."""

    def med(values: list[float]) -> float:
        return float(np.median(values)) / steps * 1e6

    parts = {p: med([r[f"{backend}: parts"][p] for r in rounds]) for p in PARTS}
    gemm_in_context = [sum(r[f"{backend}: parts"][g] for g in GEMMS) for r in rounds]
    floor = [r["GEMM floor"] for r in rounds]
    library = [r[f"{backend}: library"] for r in rounds]
    dispatch = [r["dispatch"] for r in rounds]
    kernel_work = [
        sum(v for p, v in r[f"{backend}: parts"].items() if p != "gather batch") for r in rounds
    ]
    gather = [r[f"{backend}: parts"]["gather batch"] for r in rounds]
    unaccounted = [
        lib - work - disp for lib, work, disp in zip(library, kernel_work, dispatch, strict=True)
    ]
    return {
        "parts_us": parts,
        "gemm_floor_us": med(floor),
        "gemms_in_context_us": med(gemm_in_context),
        "between_blas_us": med([g - f for g, f in zip(gemm_in_context, floor, strict=True)]),
        "dispatch_us": med(dispatch),
        "library_step_us": med(library),
        "unaccounted_us": med(unaccounted),
        "epoch_step_us": med([lib + g for lib, g in zip(library, gather, strict=True)]),
        "ratio_to_floor": float(
            np.median([(lib + g) / f for lib, g, f in zip(library, gather, floor, strict=True)])
        ),
    }
