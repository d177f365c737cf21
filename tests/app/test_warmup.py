"""The warm-up compiles what a run's training step and evaluation use (so the run compiles
nothing more), and ``numdl compile`` fills Numba's cache so that a later process compiles
nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

pytest.importorskip("numba")

#: In a fresh interpreter on an empty cache: warm up for a configuration, then run the real
#: step and evaluation at the real sizes; print how many specialisations each compiled.
_SCRIPT = """
import json, sys
import numpy as np
import numdl
from numba.core.dispatcher import Dispatcher
import numdl_kernels.cpu as k
from numdl.app.config import TrainConfig
from numdl.app.training import build, evaluate
from numdl.app.warmup import warm_up
from numdl.nn.losses import SoftmaxCrossEntropy

def signatures():
    return sum(
        len(d.signatures)
        for m in (k.linear, k.softmax, k.optim, k.gather)
        for d in vars(m).values()
        if isinstance(d, Dispatcher)
    )

config = TrainConfig(**json.loads(sys.argv[1]))
warm_up(config, "numba")
after_warm_up = signatures()
with numdl.use_backend("numba"):
    model, optimizer, _ = build(config, 30, 5, 10)
    rng = np.random.default_rng(1)
    data = rng.standard_normal((100, 30)).astype(config.dtype)
    y = rng.integers(0, 5, 100)
    x = numdl.take_rows(data, rng.permutation(100)[: config.batch_size])
    _, d = SoftmaxCrossEntropy()(model.forward(x), y[: config.batch_size])
    model.backward(d, overwrite_grad=True)
    optimizer.step()
    evaluate(model, data, y)
print(json.dumps({"warm_up": after_warm_up, "more": signatures() - after_warm_up}))
"""


@pytest.mark.parametrize(
    "config",
    [
        {"hidden": [16], "batch_size": 8},
        {"hidden": [16, 8], "batch_size": 8, "dtype": "float64", "optimizer": "adamw"},
        {"hidden": [16], "batch_size": 8, "activation": "tanh", "optimizer": "sgd"},
    ],
)
def test_warm_up_compiles_everything_the_run_uses(tmp_path, config) -> None:
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path))
    done = subprocess.run(
        [sys.executable, "-c", _SCRIPT, json.dumps(config)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    got = json.loads(done.stdout.splitlines()[-1])
    assert got["warm_up"] > 0
    assert got["more"] == 0, f"the run compiled {got['more']} more specialisations"


@pytest.mark.slow
def test_numdl_compile_fills_the_cache(tmp_path) -> None:
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path))
    command = [sys.executable, "-m", "numdl", "compile", "--dtype", "float32", "--jobs", "2"]
    first = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert first.returncode == 0, first.stderr
    assert " 0 loaded from the cache" in first.stdout
    again = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr
    assert ": 0 specialisations compiled" in again.stdout, again.stdout
    assert str(tmp_path) in again.stdout  # where the cache is, said


def test_numdl_compile_rejects_bad_jobs() -> None:
    command = [sys.executable, "-m", "numdl", "compile", "--jobs", "0"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "--jobs" in done.stderr
