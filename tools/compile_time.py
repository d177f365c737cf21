"""Compile time of the numba backend as a user meets it: the first float32 MNIST training step
(784-512-10, batch 256) in a fresh process, with an empty Numba cache and then with the cache
it filled. Usage: ``python tools/compile_time.py``. (asv's ``track_cold_compile_seconds``
measures every kernel in both dtypes.)"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile

STEP = """
import time
import numpy as np
import numdl
from numdl.nn.losses import SoftmaxCrossEntropy
from numdl.nn.models import MLP
from numdl.optim import make_optimizer

numdl.set_backend("numba")
rng = np.random.default_rng(0)
x = rng.random((256, 784), dtype=np.float32)
y = rng.integers(0, 10, 256)
model = MLP([784, 512, 10])
opt = make_optimizer("momentum", model.params, lr=0.01, weight_decay=1e-4)
t0 = time.perf_counter()
loss, dlogits = SoftmaxCrossEntropy()(model.forward(x), y)
model.backward(dlogits, overwrite_grad=True)
opt.step()
print(time.perf_counter() - t0)
"""


def first_step_seconds(cache_dir: str) -> float:
    env = dict(os.environ, NUMBA_CACHE_DIR=cache_dir)
    done = subprocess.run(
        [sys.executable, "-c", STEP], env=env, capture_output=True, text=True, check=True
    )
    return float(done.stdout.split()[-1])


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="numdl-numba-cache-") as cache:
        cold = first_step_seconds(cache)
        warm = first_step_seconds(cache)
    print(f"first float32 training step: {cold:.2f} s with an empty cache, {warm:.2f} s cached")


if __name__ == "__main__":
    main()
