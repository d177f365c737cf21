"""Compiling a run's kernels while its data load: the first step of ``numdl train`` need not
wait for all of Numba's compilation.

A compiled backend (Numba's JIT) compiles each kernel on its first call, so the first
training step of a run on an empty cache pays for every kernel the step uses. Which kernels
(and which specialisations) depends only on the layer kinds, the dtype, the loss and the
optimiser, not on the sizes: :func:`warm_up` runs one training step and one evaluation of
the run's own configuration on a toy batch (two samples of three features, hidden layers
of two units; for a CNN, images of 2^blocks x 2^blocks pixels and two filters a block), which
compiles exactly what the run will use — or loads it from Numba's
cache. :func:`start_warm_up` does it in a background thread, started before the dataset is
read; most of a compilation is Numba's Python but LLVM's passes and the data loading's
decompression release the GIL, and the two overlap on a multi-core machine. The main
thread's first call of a kernel that is still compiling waits for it (Numba's compiler
lock), so the outcome is the same with or without the warm-up.
"""

from __future__ import annotations

import contextlib
import dataclasses
import threading

import numpy as np

from numdl.app.config import TrainConfig
from numdl.app.training import build, evaluate
from numdl.core import backend as _backend
from numdl.core import ops
from numdl.nn.losses import SoftmaxCrossEntropy

__all__ = ["start_warm_up", "warm_up"]

#: Backends warmed up: Numba's CPU kernels. (The CUDA kernels compile too, but a warm-up
#: thread would also set up CuPy and the device from a second thread: untested without a GPU.)
WARMED_UP = ("numba",)


def warm_up(config: TrainConfig, backend: str) -> None:
    """One step and one evaluation of ``config``'s model on a toy batch, on ``backend``."""
    toy = dataclasses.replace(config, hidden=[2] * len(config.hidden))
    side = None
    if config.model == "cnn":  # images of 2^blocks pixels a side: each pooling halves them
        toy = dataclasses.replace(toy, channels=[2] * len(config.channels))
        side = 2 ** len(config.channels)
    n_features = 3 if side is None else side * side
    with _backend.use_backend(backend) as be:
        xp = be.xp
        model, optimizer, _ = build(toy, n_features, 2, 1, None if side is None else (side, side))
        rng = np.random.default_rng(0)
        data = xp.asarray(rng.standard_normal((4, n_features)), dtype=model.dtype)
        labels = xp.asarray(np.array([0, 1, 1, 0]))
        x = ops.take_rows(data, xp.asarray(np.array([3, 0])))  # as the loop gathers a batch
        _, dlogits = SoftmaxCrossEntropy()(model.forward(x), labels[:2])
        model.backward(dlogits, overwrite_grad=True)
        optimizer.step()
        evaluate(model, data, labels)


def start_warm_up(config: TrainConfig, backend: str) -> threading.Thread | None:
    """Start :func:`warm_up` in a daemon thread (``None`` for a backend not in
    :data:`WARMED_UP`).

    A failure in the thread is dropped: the run itself then meets the same error, and
    reports it, at its first step.
    """
    if backend not in WARMED_UP:
        return None

    def run() -> None:
        with contextlib.suppress(Exception):  # the run reports any error itself
            warm_up(config, backend)

    thread = threading.Thread(target=run, name="numdl-warm-up", daemon=True)
    thread.start()
    return thread
