"""Numba's on-disk cache of the kernels stays correct: two processes compiling into one empty
cache at once both succeed with the same results (and a third then loads everything); an
edited kernel, or another Numba version, is recompiled rather than loaded stale.

Each test starts fresh interpreters with their own ``NUMBA_CACHE_DIR`` (bounded by timeouts).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("numba")

import numdl_kernels

pytestmark = pytest.mark.slow

#: One float32 training step on the numba backend; prints the parameters' checksum and how
#: many kernel specialisations were compiled (not loaded from the cache).
_STEP = """
import hashlib, json, sys
if len(sys.argv) > 1:
    import numba
    numba.__version__ = sys.argv[1]  # before the kernels exist: their caches read it
import numpy as np
import numdl
from numba.core.dispatcher import Dispatcher
from numdl.nn.losses import SoftmaxCrossEntropy
from numdl.nn.models import MLP
from numdl.optim import make_optimizer

numdl.set_backend("numba")
rng = np.random.default_rng(0)
data = rng.standard_normal((64, 20)).astype(np.float32)
x = numdl.take_rows(data, rng.permutation(64)[:32])
y = rng.integers(0, 3, 32)
model = MLP([20, 8, 3])
opt = make_optimizer("momentum", model.params, lr=0.1, weight_decay=1e-4)
_, dlogits = SoftmaxCrossEntropy()(model.forward(x), y)
model.backward(dlogits, overwrite_grad=True)
opt.step()
import numdl_kernels.cpu as k
compiled = 0
for module in (k.linear, k.softmax, k.optim, k.gather):
    for d in vars(module).values():
        if isinstance(d, Dispatcher):
            compiled += len(d.signatures) - sum(d.stats.cache_hits.values())
print(json.dumps({
    "params": hashlib.sha256(model.params.data.tobytes()).hexdigest(),
    "compiled": compiled,
    "kernels": k.__file__,
}))
"""


def _env(cache: Path, pythonpath: Path | None = None) -> dict[str, str]:
    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache))
    if pythonpath is not None:
        env["PYTHONPATH"] = os.pathsep.join(
            [str(pythonpath), *filter(None, [os.environ.get("PYTHONPATH")])]
        )
    return env


def _start(env: dict[str, str], *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", _STEP, *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _result(proc: subprocess.Popen) -> dict:
    try:
        out, err = proc.communicate(timeout=300)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        pytest.fail("a training step on an empty Numba cache did not finish in 300 s")
    assert proc.returncode == 0, err
    return json.loads(out.strip().splitlines()[-1])


def _step(env: dict[str, str], *args: str) -> dict:
    return _result(_start(env, *args))


def test_two_processes_compiling_into_one_empty_cache(tmp_path: Path) -> None:
    env = _env(tmp_path / "cache")
    first, second = _start(env), _start(env)  # started together: they compile at once
    a, b = _result(first), _result(second)
    assert a["compiled"] > 0  # both found the cache empty
    assert b["compiled"] > 0
    assert a["params"] == b["params"]
    third = _step(env)  # every specialisation now comes from what the two wrote
    assert third == {**a, "compiled": 0}


def test_an_edited_kernel_is_recompiled_not_loaded(tmp_path: Path) -> None:
    package = tmp_path / "src" / "numdl_kernels"
    shutil.copytree(Path(numdl_kernels.__file__).parent, package, ignore=_no_caches)
    env = _env(tmp_path / "cache", tmp_path / "src")
    before = _step(env)
    assert Path(before["kernels"]).is_relative_to(package)  # the copy is the one imported
    assert _step(env)["compiled"] == 0  # cached
    linear = package / "cpu" / "linear.py"
    source = linear.read_text()
    edited = source.replace(
        "out[i, j] = zero if z <= zero else z\n", "out[i, j] = zero if z <= zero else z + z\n"
    )
    assert edited != source
    linear.write_text(edited)  # a new size and modification time: a new cache stamp
    after = _step(env)
    assert after["compiled"] > 0
    assert after["params"] != before["params"]  # the edited kernel ran, not the cached one


def test_an_edit_in_a_module_a_kernel_inlines_recompiles_it(tmp_path: Path) -> None:
    # the softmax kernels inline vexp's exp: Numba alone would keep their cached code
    package = tmp_path / "src" / "numdl_kernels"
    shutil.copytree(Path(numdl_kernels.__file__).parent, package, ignore=_no_caches)
    env = _env(tmp_path / "cache", tmp_path / "src")
    before = _step(env)
    assert _step(env)["compiled"] == 0
    vexp = package / "cpu" / "vexp.py"
    vexp.write_text(vexp.read_text() + "\n# edited\n")
    after = _step(env)
    assert after["compiled"] > 0
    assert after["params"] == before["params"]  # the edit changed no arithmetic


def test_another_numba_version_recompiles(tmp_path: Path) -> None:
    env = _env(tmp_path / "cache")
    filled = _step(env)
    assert filled["compiled"] > 0
    other = _step(env, "0.0.0+another")  # the cache index records the Numba version
    assert other["compiled"] > 0
    assert other["params"] == filled["params"]


def _no_caches(directory: str, names: list[str]) -> list[str]:
    return [n for n in names if n == "__pycache__"]
