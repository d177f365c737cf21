"""Data-parallel training on MPI (mpi4py): the world of ranks the trainer runs in.

:func:`init` returns the :class:`World` this process belongs to: under an MPI launcher
(``mpiexec -n N``, ``srun``) with N > 1 ranks, ``MPI.COMM_WORLD`` through mpi4py's buffer API;
otherwise a world of one, whose every collective is a no-op, so that the one training loop of
:mod:`numdl.app.training` runs unchanged in both. What each rank does per step (global batch
``B`` of the shared ``(seed, epoch)`` shuffle, ``N`` ranks):

- rank ``r`` takes rows ``[lo_r, hi_r)`` of the batch, ``b_r = hi_r − lo_r`` of them, the
  first ``B mod N`` ranks one more (:meth:`World.shard`); ``b_r`` may be 0 when ``N > B``;
- its gradient of the mean loss over its rows is weighted by ``b_r / B`` (through dL/dlogits),
  and one ``Allreduce(MPI.IN_PLACE, grad, SUM)`` over the model's flat gradient buffer gives
  every rank ∇ (1/B) Σₙ Lₙ, the gradient one process with batch ``B`` computes
  (Goodfellow et al., eq. 8.2, the minibatch estimate, split over ranks);
- every rank then takes the same optimiser step on the same parameters.

Evaluation is sharded the same way and its sums reduced. Faults end the whole job: an
exception on one rank (:meth:`World.fail`, and :func:`sys.excepthook` for errors outside the
training loop) prints one line naming the rank and the cause and calls ``MPI_Abort``, which
makes the launcher kill every rank, so no rank waits forever in a collective; a non-finite
loss on any rank is seen by all in the step's statistics exchange and raised on every rank
together (:class:`~numdl.app.training.TrainingDiverged`, naming the rank).

Device (CuPy) gradient buffers are reduced on the device: with NCCL through
``cupy.cuda.nccl`` when CuPy has it, else through MPI itself when ``NUMDL_MPI_CUDA_AWARE=1``
says the MPI library is CUDA-aware, else staged through a host buffer. See
``docs/distributed.md``.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

__all__ = ["World", "init", "launcher_size", "threads_per_rank", "watchdog_seconds"]

#: Environment variables through which MPI launchers announce the number of ranks: Open MPI,
#: MPICH/Hydra and Intel MPI (PMI), Slurm's ``srun`` (with ``PMIX_RANK`` or ``PMI_RANK``).
_SIZE_VARIABLES = ("OMPI_COMM_WORLD_SIZE", "PMI_SIZE")


def launcher_size(environ: dict[str, str] | None = None) -> int:
    """The number of ranks an MPI launcher started this process among (1: none did)."""
    env = os.environ if environ is None else environ
    for name in _SIZE_VARIABLES:
        if env.get(name, "").isdigit():
            return int(env[name])
    if ("PMIX_RANK" in env or "PMI_RANK" in env) and env.get("SLURM_NTASKS", "").isdigit():
        return int(env["SLURM_NTASKS"])
    return 1


def threads_per_rank(own: set[int], others: list[set[int]]) -> int:
    """The cores a rank owns: its CPU set shared out among the ranks on its node whose sets
    overlap it (``others`` includes its own), at least 1.

    Ranks bound to their own cores (Open MPI's default ``--bind-to core``, Slurm's
    ``--cpus-per-task``) keep their set; unbound ranks on one node split the node.
    """
    sharing = sum(1 for cpus in others if cpus & own)
    return max(1, len(own) // max(1, sharing))


def _affinity() -> set[int]:
    try:
        return set(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return set(range(os.cpu_count() or 1))


class World:
    """The ranks training one model: ``size`` processes, this one ``rank``.

    ``World()`` is the world of one process (no MPI); :func:`init` returns the launcher's.

    Attributes
    ----------
    comm : mpi4py.MPI.Comm or None
        ``COMM_WORLD`` (``None`` in a world of one).
    rank, size : int
        This process's rank and the number of ranks.
    local_rank, local_size : int
        Its rank among, and the number of, the ranks on its node (MPI's shared-memory split).
    reduce_seconds : float
        Time spent in :meth:`allreduce_grad` so far (the measurement of docs/distributed.md).
    """

    def __init__(self, comm: Any = None) -> None:
        self.comm = comm
        self.rank = 0 if comm is None else comm.Get_rank()
        self.size = 1 if comm is None else comm.Get_size()
        self.local_rank, self.local_size, self._node = 0, 1, None
        if comm is not None and self.size > 1:
            from mpi4py import MPI

            self._node = comm.Split_type(MPI.COMM_TYPE_SHARED, key=self.rank)
            self.local_rank, self.local_size = self._node.Get_rank(), self._node.Get_size()
        self.reduce_seconds, self.reduce_calls = 0.0, 0
        self._stats = np.zeros(3)
        self._gathered = np.zeros((self.size, 3))
        self._device_reduce: Callable[[Any], None] | None = None
        self._beat = time.monotonic()  # when this rank last finished a collective
        #: Seconds without a step before every rank is stopped (:meth:`watchdog`), or None.
        self.timeout: float | None = None

    def __repr__(self) -> str:
        return (
            f"World(rank {self.rank} of {self.size}, local {self.local_rank} of {self.local_size})"
        )

    @property
    def distributed(self) -> bool:
        """More than one rank."""
        return self.size > 1

    @property
    def is_root(self) -> bool:
        """Rank 0: the one that writes files and prints."""
        return self.rank == 0

    def shard(self, n: int) -> tuple[int, int]:
        """[lo, hi) of this rank's rows of ``n``: ⌊n/N⌋ each, the first n mod N one more."""
        q, r = divmod(n, self.size)
        lo = self.rank * q + min(self.rank, r)
        return lo, lo + q + (self.rank < r)

    def threads(self) -> int:
        """BLAS/Numba threads for this rank (:func:`threads_per_rank` over the node's ranks)."""
        own = _affinity()
        if self._node is None:
            return len(own)
        return threads_per_rank(own, self._node.allgather(own))

    # -- collectives (no-ops in a world of one) --------------------------------------------
    def allreduce_grad(self, grad: Any) -> None:
        """grad ← Σ_ranks grad, in place over the flat buffer (host or device)."""
        if self.comm is None:
            return
        t0 = time.perf_counter()
        if isinstance(grad, np.ndarray):
            from mpi4py import MPI

            self.comm.Allreduce(MPI.IN_PLACE, grad, op=MPI.SUM)
        else:
            if self._device_reduce is None:
                self._device_reduce = _device_reducer(self, grad)
            self._device_reduce(grad)
        self.reduce_seconds += time.perf_counter() - t0
        self.reduce_calls += 1
        self._beat = time.monotonic()

    def allreduce_sum(self, values: np.ndarray) -> np.ndarray:
        """values ← Σ_ranks values (a host array), in place; returned."""
        if self.comm is not None:
            from mpi4py import MPI

            self.comm.Allreduce(MPI.IN_PLACE, values, op=MPI.SUM)
            self._beat = time.monotonic()
        return values

    def step_stats(self, loss: float, count: int, correct: int) -> tuple[float, int, list[int]]:
        """(Σ bᵣ·lossᵣ, Σ correctᵣ, ranks whose loss is not finite) over the ranks: one small
        ``Allgather`` per step, so that every rank sees a divergence anywhere."""
        if self.comm is None:
            bad = [] if np.isfinite(loss) else [0]
            return loss * count, correct, bad
        self._stats[:] = (loss if count else 0.0, count, correct)
        self.comm.Allgather(self._stats, self._gathered)
        rows = self._gathered
        bad = [r for r in range(self.size) if not np.isfinite(rows[r, 0])]
        total = float(rows[:, 0] @ rows[:, 1]) if not bad else float("nan")
        return total, int(rows[:, 2].sum()), bad

    def average_state(self, state: dict[str, Any]) -> dict[str, Any]:
        """Each array of ``state`` averaged over the ranks (host copies)."""
        if self.comm is None:
            return state
        out = {}
        for name, value in state.items():
            arr = np.ascontiguousarray(value, dtype=np.float64).copy()
            out[name] = (self.allreduce_sum(arr) / self.size).astype(np.asarray(value).dtype)
        return out

    @contextlib.contextmanager
    def watchdog(self, seconds: float | None) -> Iterator[None]:
        """While inside: if no gradient Allreduce completes for ``seconds`` (a rank hangs, or
        is stopped), end every rank (:meth:`fail`); ``None`` or a world of one: nothing runs.

        MPI collectives have no timeout of their own; this bounds the wait from a thread."""
        if seconds is None or self.comm is None:
            yield
            return
        stop = threading.Event()

        def watch() -> None:
            while not stop.wait(min(1.0, seconds / 4)):
                idle = time.monotonic() - self._beat
                if idle > seconds:
                    self.fail(TimeoutError(f"no training step completed for {seconds:g} s"))

        self._beat = time.monotonic()
        thread = threading.Thread(target=watch, name="numdl-mpi-watchdog", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()

    def barrier(self) -> None:
        if self.comm is not None:
            self.comm.Barrier()

    def fail(self, exc: BaseException, note: str = "") -> None:
        """End every rank: print why this one failed (rank and cause), then ``MPI_Abort``."""
        cause = (
            "interrupted (Ctrl-C or a signal)"
            if isinstance(exc, KeyboardInterrupt)
            else (f"{type(exc).__name__}: {exc}")
        )
        print(
            f"numdl: rank {self.rank} of {self.size} failed: {cause}; stopping all "
            f"{self.size} ranks{note}",
            file=sys.stderr,
            flush=True,
        )
        if self.comm is not None:
            self.comm.Abort(1)


def _device_reducer(world: World, grad: Any) -> Callable[[Any], None]:
    """An in-place sum over the ranks of a CuPy buffer: NCCL through CuPy when available,
    else CUDA-aware MPI (``NUMDL_MPI_CUDA_AWARE=1``), else staged through a host copy."""
    import cupy  # a device buffer means CuPy is there
    from mpi4py import MPI

    try:
        from cupy.cuda import nccl
    except ImportError:
        nccl = None
    if nccl is not None and getattr(nccl, "available", True):
        uid = world.comm.bcast(nccl.get_unique_id() if world.is_root else None, root=0)
        ncomm = nccl.NcclCommunicator(world.size, uid, world.rank)
        kinds = {np.dtype(np.float32): nccl.NCCL_FLOAT32, np.dtype(np.float64): nccl.NCCL_FLOAT64}

        def reduce_nccl(buf: Any) -> None:
            stream = cupy.cuda.get_current_stream()
            ptr = buf.data.ptr
            ncomm.allReduce(ptr, ptr, buf.size, kinds[buf.dtype], nccl.NCCL_SUM, stream.ptr)
            stream.synchronize()

        return reduce_nccl
    if os.environ.get("NUMDL_MPI_CUDA_AWARE") == "1":

        def reduce_mpi(buf: Any) -> None:
            cupy.cuda.get_current_stream().synchronize()  # MPI reads the buffer directly
            world.comm.Allreduce(MPI.IN_PLACE, buf, op=MPI.SUM)

        return reduce_mpi
    host = np.empty(grad.shape, grad.dtype)

    def reduce_staged(buf: Any) -> None:
        buf.get(out=host)
        world.comm.Allreduce(MPI.IN_PLACE, host, op=MPI.SUM)
        buf.set(host)

    return reduce_staged


def watchdog_seconds(environ: dict[str, str] | None = None) -> float | None:
    """``NUMDL_MPI_TIMEOUT``: seconds without a completed step before every rank is stopped
    (:meth:`World.watchdog`); unset: no watchdog.

    Raises
    ------
    ValueError
        If it is set to anything but a positive number of seconds.
    """
    text = (os.environ if environ is None else environ).get("NUMDL_MPI_TIMEOUT", "")
    if not text:
        return None
    try:
        seconds = float(text)
    except ValueError:
        seconds = -1.0
    if not seconds > 0 or seconds == float("inf"):
        raise ValueError(f"NUMDL_MPI_TIMEOUT must be a positive number of seconds, got {text!r}")
    return seconds


def bind_device(world: World) -> None:
    """Give each rank of a node its own GPU (local rank mod devices), before any allocation."""
    import cupy

    count = cupy.cuda.runtime.getDeviceCount()
    if count:
        cupy.cuda.Device(world.local_rank % count).use()


_world: World | None = None


def init() -> World:
    """The world this process runs in (created once): MPI's when a launcher started more than
    one rank and ``NUMDL_DISTRIBUTED`` is not ``0``, else a world of one.

    Under MPI, ``NUMDL_MPI_TIMEOUT`` (seconds) arms :meth:`World.watchdog` during training,
    and it installs a :func:`sys.excepthook` that, after the traceback, ends every
    rank (:meth:`World.fail`), so an error on one rank never leaves the others waiting.

    Raises
    ------
    RuntimeError
        Started by an MPI launcher with several ranks but mpi4py is not installed.
    ValueError
        ``NUMDL_MPI_TIMEOUT`` is set but not a positive number (:func:`watchdog_seconds`).
    """
    global _world
    if _world is not None:
        return _world
    if launcher_size() <= 1 or os.environ.get("NUMDL_DISTRIBUTED") == "0":
        _world = World()
        return _world
    try:
        from mpi4py import MPI
    except ImportError as exc:
        raise RuntimeError(
            f"started by an MPI launcher with {launcher_size()} ranks, but mpi4py is not "
            f'installed ({exc}); pip install "numdl[mpi]", or set NUMDL_DISTRIBUTED=0'
        ) from None
    timeout = watchdog_seconds()
    _world = World(MPI.COMM_WORLD)
    _world.timeout = timeout
    if _world.distributed:
        previous = sys.excepthook

        def abort_on_error(kind: type[BaseException], value: BaseException, tb: Any) -> None:
            previous(kind, value, tb)
            _world.fail(value)  # type: ignore[union-attr]

        sys.excepthook = abort_on_error
    return _world
