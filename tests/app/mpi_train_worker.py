"""One rank of the MPI tests (tests/app/test_mpi.py), started by ``mpiexec -n N python ...``.

argv[1] is a JSON object: ``out`` (run directory), ``config`` (TrainConfig fields), ``n``
(training rows), ``resume``, ``backend``, and optionally ``fault`` ({"rank", "step", "kind":
raise | nan | kill | sleep}). Each rank writes its final flat parameters to
``<out>.rank<r>.npy`` (beside the run directory, not in it).
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path

import numpy as np

import numdl
from numdl.app import training
from numdl.app.config import TrainConfig
from numdl.app.distributed import init
from numdl.data.dataset import Dataset, Split
from numdl.nn.losses import SoftmaxCrossEntropy


def blobs(n: int, seed: int = 0, d: int = 20, k: int = 3) -> Dataset:
    """Three Gaussian blobs in 20 dimensions: train ``n`` rows, val and test 30 each."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(k, d)).astype(np.float32)

    def split(m: int) -> Split:
        y = rng.integers(0, k, size=m)
        x = centres[y] + rng.normal(scale=1.5, size=(m, d)).astype(np.float32)
        return Split(x.astype(np.float32), y.astype(np.int64))

    return Dataset(split(n), split(30), split(30), "blobs", None, True, (4, 5), k)


def main() -> None:
    spec = json.loads(sys.argv[1])
    world = init()
    fault = spec.get("fault")
    if fault and fault["rank"] == world.rank:

        class Faulty(SoftmaxCrossEntropy):
            calls = 0

            def __call__(self, logits, target):  # type: ignore[no-untyped-def]
                loss, grad = super().__call__(logits, target)
                Faulty.calls += 1
                if Faulty.calls == fault["step"]:
                    if fault["kind"] == "raise":
                        raise ValueError("injected fault")
                    if fault["kind"] == "kill":
                        os.kill(os.getpid(), signal.SIGKILL)
                    if fault["kind"] == "sleep":
                        time.sleep(60)
                    if fault["kind"] == "nan":
                        loss = loss * np.nan
                return loss, grad

        training.SoftmaxCrossEntropy = Faulty  # type: ignore[misc]
    config = TrainConfig.from_dict({"dataset": "synthetic", **spec["config"]})
    with numdl.use_backend(spec.get("backend", "numpy")):
        result = training.train(
            config,
            blobs(spec["n"]),
            spec["out"],
            resume=spec.get("resume", False),
            progress=False,
            echo=print,
            world=world,
        )
    np.save(
        f"{spec['out']}.rank{world.rank}.npy",
        numdl.core.backend.to_numpy(result["model"].params.data),
    )
    Path(f"{spec['out']}.rank{world.rank}.json").write_text(
        json.dumps({"size": world.size, "history": result["history"]})
    )


if __name__ == "__main__":
    main()
