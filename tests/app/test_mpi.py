"""Data-parallel training on MPI (numdl.app.distributed): each test starts ``mpiexec -n N``
itself, with a timeout, on tiny data (tests/app/mpi_train_worker.py); skipped without mpi4py
or an ``mpiexec``. N ranks with global batch B must train what one process with batch B
trains; a fault on one rank must end every rank within seconds."""

from __future__ import annotations

import itertools
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from numdl.app.checkpoint import load_checkpoint
from numdl.app.distributed import World, launcher_size, threads_per_rank

WORKER = Path(__file__).with_name("mpi_train_worker.py")
MPIEXEC = shutil.which("mpiexec")
try:
    import mpi4py  # noqa: F401

    HAVE_MPI4PY = True
except ImportError:
    HAVE_MPI4PY = False
needs_mpi = pytest.mark.skipif(
    not (HAVE_MPI4PY and MPIEXEC),
    reason='needs mpi4py and an mpiexec (pip install "numdl[mpi]")',
)
#: (rtol, atol): only the rounding differs (the order of the sums, the bᵣ/B weight), ~eps per
#: step, amplified by up to 100 SGD steps at lr 0.1 on batches as small as 1: measured float64
#: up to 1e-10 relative (B = 2, 3 ranks), float32 (eps 6e-8) 1.8e-7 (B = 16, 21 steps, weights
#: ~1.5): bounded here with 10x and 50x margins.
TOL = {"float64": (1e-9, 1e-11), "float32": (1e-5, 1e-5)}
BASE = {"hidden": [8], "epochs": 3, "batch_size": 16, "lr": 0.1, "validation_size": 30}


def _env() -> dict[str, str]:
    env = dict(os.environ)  # root containers (CI): Open MPI refuses root without these
    env.update(OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    env.pop("NUMDL_DISTRIBUTED", None)
    return env


def _mpiexec(n: int) -> list[str]:
    assert MPIEXEC is not None
    version = subprocess.run(
        [MPIEXEC, "--version"], capture_output=True, text=True, timeout=30
    ).stdout
    extra = ["--oversubscribe"] if "Open MPI" in version else []  # more ranks than cores
    return [MPIEXEC, *extra, "-n", str(n)]


def _worker_cmd(n: int, out: Path, config: dict, **spec: object) -> list[str]:
    payload = json.dumps({"out": str(out), "n": spec.pop("rows", 100), "config": config, **spec})
    launcher = _mpiexec(n) if n > 1 else []
    return [*launcher, sys.executable, str(WORKER), payload]


def _run(n: int, out: Path, config: dict, timeout: float = 90, env=None, **spec: object):
    return subprocess.run(
        _worker_cmd(n, out, config, **spec),
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**_env(), **(env or {})},
    )


def _params(out: Path, rank: int = 0) -> np.ndarray:
    return np.load(f"{out}.rank{rank}.npy")


# ----------------------------------------------------------------- without MPI: the rules
@pytest.mark.parametrize(("n", "size"), [(16, 2), (15, 2), (4, 3), (1, 2), (0, 2), (10, 4)])
def test_shards_cover_the_batch_in_order_and_differ_by_at_most_one(n, size) -> None:
    class Fake:
        def __init__(self, rank: int) -> None:
            self.rank, self.size = rank, size

        def Get_rank(self) -> int:
            return self.rank

        def Get_size(self) -> int:
            return self.size

    bounds = []
    for rank in range(size):
        world = World.__new__(World)
        world.rank, world.size = rank, size
        bounds.append(world.shard(n))
    assert bounds[0][0] == 0
    assert bounds[-1][1] == n
    assert all(a[1] == b[0] for a, b in itertools.pairwise(bounds))
    sizes = [hi - lo for lo, hi in bounds]
    assert max(sizes) - min(sizes) <= 1
    assert sizes == sorted(sizes, reverse=True)


def test_threads_split_a_shared_cpu_set_and_keep_an_own_one() -> None:
    node = {0, 1, 2, 3}
    assert threads_per_rank(node, [node, node]) == 2  # unbound: the node's cores shared out
    assert threads_per_rank({0}, [{0}, {1}]) == 1  # bound to a core each (mpiexec's default)
    assert threads_per_rank({0, 1}, [{0, 1}, {2, 3}]) == 2  # Slurm --cpus-per-task 2
    assert threads_per_rank({0}, [{0}, {0}, {0}]) == 1  # never 0


def test_the_launcher_is_recognised_by_its_environment() -> None:
    assert launcher_size({}) == 1
    assert launcher_size({"OMPI_COMM_WORLD_SIZE": "4"}) == 4
    assert launcher_size({"PMI_SIZE": "3"}) == 3
    assert launcher_size({"PMIX_RANK": "0", "SLURM_NTASKS": "8"}) == 8
    assert launcher_size({"SLURM_NTASKS": "8"}) == 1  # a Slurm job, but not an MPI launch


def test_a_world_of_one_is_a_no_op() -> None:
    world = World()
    grad = np.arange(4.0)
    world.allreduce_grad(grad)
    assert world.size == 1
    assert world.is_root
    assert not world.distributed
    assert world.shard(7) == (0, 7)
    assert grad.tolist() == [0, 1, 2, 3]
    assert world.step_stats(0.5, 4, 3) == (2.0, 3, [])
    assert world.step_stats(float("nan"), 4, 3)[2] == [0]


# --------------------------------------------------------------------- N ranks = 1 process
@needs_mpi
@pytest.mark.parametrize(
    ("ranks", "batch", "dtype"),
    [
        (2, 16, "float64"),  # 100 rows: 6 batches of 8 + 8, a short last batch of 2 + 2
        (2, 15, "float64"),  # not divisible: 8 + 7; last batch 10: 5 + 5
        (2, 1, "float64"),  # N > B: rank 1 has no rows in any batch
        (3, 2, "float64"),  # N > B: 1 + 1 + 0
        (2, 16, "float32"),
        (2, 15, "shift"),  # augmentation: the shifts drawn for the whole global batch
    ],
)
def test_n_ranks_train_what_one_process_trains(tmp_path, ranks, batch, dtype) -> None:
    config = {**BASE, "batch_size": batch, "dtype": dtype}
    if dtype == "shift":
        config.update(dtype="float64", augment="shift", max_shift=1)
        dtype = "float64"
    if batch < 4:
        config["epochs"] = 1
    one = _run(1, tmp_path / "one", config, timeout=60)
    assert one.returncode == 0, one.stderr
    many = _run(ranks, tmp_path / "many", config)
    assert many.returncode == 0, many.stderr
    reference = _params(tmp_path / "one")
    for rank in range(ranks):  # every rank holds the same model, and it is the one process's
        rtol, atol = TOL[dtype]
        np.testing.assert_allclose(_params(tmp_path / "many", rank), reference, rtol, atol)
    assert not np.allclose(reference, 0)
    ran = json.loads(Path(f"{tmp_path / 'many'}.rank0.json").read_text())
    solo = json.loads(Path(f"{tmp_path / 'one'}.rank0.json").read_text())
    assert ran["size"] == ranks
    for mine, theirs in zip(ran["history"], solo["history"], strict=True):  # reduced stats
        for key in ("train_loss", "train_acc", "val_loss", "val_acc"):
            assert mine[key] == pytest.approx(theirs[key], abs=1e-5), key


@needs_mpi
def test_ranks_stay_identical_with_batch_norm_and_dropout(tmp_path) -> None:
    # not one process's model (per-rank batch statistics and masks), but one model on all
    config = {**BASE, "dtype": "float64", "norm": "batch", "dropout": 0.2}
    done = _run(2, tmp_path / "run", config)
    assert done.returncode == 0, done.stderr
    np.testing.assert_array_equal(_params(tmp_path / "run", 0), _params(tmp_path / "run", 1))
    state = load_checkpoint(tmp_path / "run" / "last.npz").state
    assert state, "the batch-norm running averages are in the checkpoint"


@needs_mpi
def test_rank_0_alone_writes_and_prints_and_a_run_resumes_on_another_n(tmp_path) -> None:
    config = {**BASE, "epochs": 2, "dtype": "float64", "schedule": "constant"}
    first = _run(2, tmp_path / "run", config)
    assert first.returncode == 0, first.stderr
    files = sorted(p.name for p in (tmp_path / "run").iterdir())
    assert files == ["best.npz", "config.json", "last.npz", "log.csv"]
    assert first.stdout.count("epoch   1/2") == 1, first.stdout  # one rank prints
    assert len((tmp_path / "run" / "log.csv").read_text().splitlines()) == 3
    # resume the 2-rank run on 3 ranks, then on 1: the same model as 4 epochs in one process
    longer = {**config, "epochs": 3}
    assert _run(3, tmp_path / "run", longer, resume=True).returncode == 0
    longest = {**config, "epochs": 4}
    resumed = _run(1, tmp_path / "run", longest, resume=True, timeout=60)
    assert resumed.returncode == 0, resumed.stderr
    whole = _run(1, tmp_path / "whole", longest, timeout=60)
    assert whole.returncode == 0, whole.stderr
    np.testing.assert_allclose(_params(tmp_path / "run"), _params(tmp_path / "whole"), atol=1e-12)
    assert load_checkpoint(tmp_path / "run" / "last.npz").meta["epoch"] == 4


# ------------------------------------------------------------------------------- faults
def _fault(tmp_path: Path, kind: str, step: int = 10, env=None):
    fault = {"rank": 1, "step": step, "kind": kind}
    t0 = time.perf_counter()
    done = _run(2, tmp_path / "run", {**BASE, "epochs": 50}, env=env, fault=fault)
    return done, time.perf_counter() - t0


@needs_mpi
def test_a_rank_that_raises_stops_every_rank_naming_it(tmp_path) -> None:
    done, seconds = _fault(tmp_path, "raise")
    assert done.returncode != 0
    assert seconds < 30
    assert "numdl: rank 1 of 2 failed: ValueError: injected fault" in done.stderr
    assert load_checkpoint(tmp_path / "run" / "last.npz").meta["epoch"] >= 1  # 7 steps/epoch


@needs_mpi
def test_a_killed_rank_does_not_hang_the_other_and_the_checkpoint_loads(tmp_path) -> None:
    done, seconds = _fault(tmp_path, "kill", step=20)  # mid-epoch 3
    assert done.returncode != 0, done.stderr
    assert seconds < 30
    assert load_checkpoint(tmp_path / "run" / "last.npz").meta["epoch"] == 2


@needs_mpi
def test_a_nan_loss_on_one_rank_stops_every_rank_naming_it(tmp_path) -> None:
    done, seconds = _fault(tmp_path, "nan", step=10)
    assert done.returncode != 0
    assert seconds < 30
    assert "the loss became non-finite on rank 1 of 2 at epoch 2, step 3" in done.stderr
    assert load_checkpoint(tmp_path / "run" / "last.npz").meta["epoch"] == 1


@needs_mpi
def test_a_hung_rank_is_stopped_by_the_watchdog(tmp_path) -> None:
    # rank 1 sleeps 60 s in epoch 3; NUMDL_MPI_TIMEOUT=2 ends both ranks long before
    done, seconds = _fault(tmp_path, "sleep", step=20, env={"NUMDL_MPI_TIMEOUT": "2"})
    assert done.returncode != 0
    assert seconds < 30
    assert "no training step completed for 2 s; stopping all 2 ranks" in done.stderr
    assert load_checkpoint(tmp_path / "run" / "last.npz").meta["epoch"] == 2


def test_the_watchdog_timeout_is_checked() -> None:
    from numdl.app.distributed import watchdog_seconds

    assert watchdog_seconds({}) is None
    assert watchdog_seconds({"NUMDL_MPI_TIMEOUT": "2.5"}) == 2.5
    for bad in ("0", "-1", "soon", "inf", "nan"):
        with pytest.raises(ValueError, match="NUMDL_MPI_TIMEOUT must be a positive number"):
            watchdog_seconds({"NUMDL_MPI_TIMEOUT": bad})


@needs_mpi
@pytest.mark.slow
def test_ctrl_c_on_mpiexec_stops_every_rank_and_keeps_the_checkpoint(tmp_path) -> None:
    # rank 1 stalls in epoch 3, so rank 0 waits in a collective: Ctrl-C must still end both
    cmd = _worker_cmd(
        2, tmp_path / "run", {**BASE, "epochs": 50}, fault={"rank": 1, "step": 20, "kind": "sleep"}
    )
    proc = subprocess.Popen(cmd, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while not (tmp_path / "run" / "last.npz").exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(1.0)
        proc.send_signal(signal.SIGINT)
        t0 = time.perf_counter()
        proc.wait(timeout=30)
        assert time.perf_counter() - t0 < 30
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode != 0
    assert load_checkpoint(tmp_path / "run" / "last.npz").meta["epoch"] == 2


# --------------------------------------------------------------------- the command line
@needs_mpi
@pytest.mark.slow
def test_mpiexec_numdl_train_and_study(tmp_path) -> None:
    base = [sys.executable, "-m", "numdl"]
    tiny = ["--dataset", "synthetic", "--hidden", "16", "--backend", "numpy"]
    train = subprocess.run(
        [*_mpiexec(2), *base, "train", *tiny, "--epochs", "1", "--out", "run"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env=_env(),
    )
    assert train.returncode == 0, train.stderr
    assert train.stdout.count("test accuracy") == 1
    assert (tmp_path / "run" / "test.json").is_file()
    study = subprocess.run(
        [*_mpiexec(3), *base, "study", "--axis", "seed=0,1", "--set", "epochs=1",
         "--set", "dataset=synthetic", "--set", "hidden=16", "--backend", "numpy", "--out", "st"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120, env=_env(),
    )  # fmt: skip
    assert study.returncode == 0, study.stderr
    ran = json.loads((tmp_path / "st" / "study.json").read_text())["ran"]
    assert ran["executor"] == "MPIPoolExecutor"
    assert ran["runs"] == 2
    assert len((tmp_path / "st" / "results.csv").read_text().splitlines()) == 3


# --------------------------------------------------------------------------------- CUDA
def test_device_buffers_reduce_on_the_device() -> None:
    pytest.skip(
        "needs CuPy, a GPU per rank and a CUDA-aware MPI or NCCL: the device path "
        "(numdl.app.distributed._device_reducer: NCCL through cupy.cuda.nccl, else CUDA-aware "
        "MPI with NUMDL_MPI_CUDA_AWARE=1, else staged through the host) is untested here"
    )
