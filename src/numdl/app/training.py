"""The MNIST training loop of the textbook report (section 4.3), built to never lose work.

:func:`train` runs epochs of mini-batch training on the active backend and, after each
epoch, evaluates on the validation split, appends a row to ``log.csv``, and writes
``last.npz`` (and ``best.npz`` when validation accuracy improved) atomically into the run
directory. Everything random in epoch ``e`` (the shuffle, the augmentation) is drawn from a
generator seeded with ``(seed, e)`` (the dropout masks from one seeded with
``(seed, e, DROPOUT_STREAM)``), so resuming from the checkpoint of epoch ``e − 1``
reproduces an uninterrupted run bit for bit.

With ``config.patience`` the run stops early (ch. 7.8) once validation accuracy has not
improved for that many epochs, counted from the history, so a resumed run continues the count.
A :class:`~numdl.app.monitor.Monitor` passed to :func:`train` records the training dynamics
every N steps; without one, nothing of it runs.

The hot loop allocates nothing per step: batches are gathered into a reused buffer, the
layers reuse their output and gradient buffers, and the loss reuses its gradient buffer.

The module runs past 500 lines because the loop, its resume rules and the run directory's
bookkeeping (checkpoints, log columns, early stopping) change together; the options live in
:mod:`numdl.app.config`, the monitoring in :mod:`numdl.app.monitor`.

The configuration (:class:`~numdl.app.config.TrainConfig`) checks every option on
construction (:mod:`numdl.app.config`); :func:`train` checks the rest (the dataset, the
checkpoint) before it writes anything.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import io
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from numdl.app.checkpoint import Checkpoint, CheckpointError, load_checkpoint, save_checkpoint
from numdl.app.config import (
    RESUME_OVERRIDES,
    TrainConfig,
    TrainConfigError,
    check_against_dataset,
    plural,
)
from numdl.app.distributed import World
from numdl.app.logs import CSVLogger
from numdl.app.monitor import Monitor
from numdl.core import backend as _backend
from numdl.core import ops
from numdl.core.backend import to_numpy
from numdl.core.validation import check_int
from numdl.data.augment import random_shift
from numdl.data.dataset import Dataset, atomic_write
from numdl.nn.losses import SoftmaxCrossEntropy
from numdl.nn.models import DROPOUT_STREAM, MLP, Classifier
from numdl.nn.regularization import add_l1_subgradient
from numdl.optim import Optimizer, make_optimizer
from numdl.optim.clipping import clip_grad_norm
from numdl.optim.schedules import Schedule, make_schedule

__all__ = [
    "EpochStats",
    "TrainingDiverged",
    "epochs_since_best",
    "evaluate",
    "train",
]

LOG_FIELDS = [
    "epoch",
    "train_loss",
    "train_acc",
    "val_loss",
    "val_acc",
    "lr",
    "epoch_seconds",
    "samples_per_second",
]


@dataclass
class EpochStats:
    """One epoch's summary (a row of ``log.csv``)."""

    epoch: int
    train_loss: float
    train_acc: float
    val_loss: float
    val_acc: float
    lr: float
    epoch_seconds: float
    samples_per_second: float

    def line(self, epochs: int) -> str:
        return (
            f"epoch {self.epoch:>3}/{epochs}  train loss {self.train_loss:.4f}  "
            f"train acc {100 * self.train_acc:6.2f}%  val loss {self.val_loss:.4f}  "
            f"val acc {100 * self.val_acc:6.2f}%  "
            f"lr {self.lr:.4g}  {self.epoch_seconds:6.2f} s  "
            f"{self.samples_per_second:,.0f} samples/s"
        )


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite; the last good checkpoint is kept."""


def evaluate(
    model: Classifier, x: Any, y: Any, *, batch_size: int = 10000, world: World | None = None
) -> tuple[float, float]:
    """Mean cross-entropy and top-1 accuracy of ``model`` on (x, y), without backward caches;
    with a distributed ``world``, each rank scores its shard of the rows and the sums are
    reduced (:meth:`~numdl.app.distributed.World.shard`)."""
    lo, hi = (0, x.shape[0]) if world is None else world.shard(x.shape[0])
    total_loss, correct = 0.0, 0
    for start in range(lo, hi, batch_size):
        stop = min(start + batch_size, hi)
        xb, yb = x[start:stop], y[start:stop]
        logits = model.forward(xb, train=False)
        total_loss += float(ops.cross_entropy(logits, yb)) * xb.shape[0]
        correct += int((logits.argmax(axis=1) == yb).sum())
    if world is not None and world.distributed:
        sums = world.allreduce_sum(np.array([total_loss, correct], dtype=np.float64))
        total_loss, correct = float(sums[0]), round(sums[1])
    return total_loss / x.shape[0], correct / x.shape[0]


def _dropout_rng(seed: int, epoch: int) -> np.random.Generator:
    """The generator of the dropout masks in ``epoch``: a stream apart from the shuffle's,
    seeded with ``(seed, epoch, DROPOUT_STREAM)``, so a resumed run draws the same masks."""
    return np.random.default_rng([seed, epoch, DROPOUT_STREAM])


def _epoch_rng(seed: int, epoch: int) -> np.random.Generator:
    """The generator for everything random in ``epoch`` (shuffle, augmentation)."""
    return np.random.default_rng([seed, epoch])


def build_model(
    config: TrainConfig,
    n_features: int,
    n_classes: int,
    image_shape: tuple[int, ...] | None = None,
) -> Classifier:
    """The model ``config.model`` names, for rows of ``n_features``: an MLP, or a CNN of
    one-channel ``image_shape`` images (default: square ones of ``n_features`` pixels).

    Raises
    ------
    ValueError
        For a CNN, if ``image_shape`` does not hold ``n_features`` pixels, or the images are
        too small for its blocks.
    """
    dtype = np.dtype(config.dtype)
    if config.model == "cnn":
        from numdl.nn.cnn import CNN  # the convolution layers load only for a CNN

        if image_shape is None:
            side = math.isqrt(n_features)
            image_shape = (side, side)
        if len(image_shape) != 2 or math.prod(image_shape) != n_features:
            raise ValueError(
                f"a CNN needs the rows' {n_features} features to be one image of H x W "
                f"pixels, got image shape {tuple(image_shape)}"
            )
        return CNN(
            (1, *image_shape),
            config.channels,
            config.kernel_size,
            config.hidden,
            n_classes,
            dropout=config.dropout,
            init=config.init,
            dtype=dtype,
            seed=config.seed,
        )
    return MLP(
        [n_features, *config.hidden, n_classes],
        activation=config.activation,
        init=config.init,
        norm=None if config.norm == "none" else config.norm,
        dropout=config.dropout,
        dtype=dtype,
        seed=config.seed,
    )


def build(
    config: TrainConfig,
    n_features: int,
    n_classes: int,
    steps_per_epoch: int,
    image_shape: tuple[int, ...] | None = None,
) -> tuple[Classifier, Optimizer, Schedule]:
    """The model (:func:`build_model`), optimiser and schedule a configuration describes."""
    model = build_model(config, n_features, n_classes, image_shape)
    optimizer = make_optimizer(
        config.optimizer,
        model.params,
        lr=config.lr,
        momentum=config.momentum,
        weight_decay=config.weight_decay,
    )
    total = config.epochs * steps_per_epoch
    warmup = min(round(config.warmup_epochs * steps_per_epoch), total - 1)
    schedule = make_schedule(
        config.schedule, config.lr, total_steps=total, warmup_steps=warmup, lr_min=config.lr_min
    )
    return model, optimizer, schedule


def _checkpoint(
    model: Classifier,
    optimizer: Optimizer,
    config: TrainConfig,
    epoch: int,
    history: list[dict[str, float]],
    dataset: Dataset,
    best: float,
) -> Checkpoint:
    meta = {
        "model": model.config,
        "train": dataclasses.asdict(config),
        "epoch": epoch,
        "best_val_acc": best,
        "history": history,
        "dataset": {
            "name": dataset.name,
            "synthetic": dataset.synthetic,
            "image_shape": list(dataset.image_shape),
            "n_classes": dataset.n_classes,
        },
    }
    return Checkpoint(
        params=model.params.state_dict(),
        optim=optimizer.state_dict(),
        meta=meta,
        state=model.running_state(),
    )


def _resume_state(ckpt: Checkpoint, config: TrainConfig, path: Path) -> int:
    """Check that ``config`` may continue the run of ``ckpt``; return its completed epochs."""
    try:
        saved = TrainConfig.from_dict(dict(ckpt.meta.get("train") or {}))
        done = check_int(ckpt.meta.get("epoch"), "epoch", minimum=0)
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"{path} has an unusable training configuration: {exc}") from None
    changed = [
        f"{f.name} {getattr(saved, f.name)!r} there, {getattr(config, f.name)!r} here"
        for f in dataclasses.fields(TrainConfig)
        if f.name not in RESUME_OVERRIDES and getattr(saved, f.name) != getattr(config, f.name)
    ]
    if changed:
        raise CheckpointError(
            f"{path} was written with a different configuration ({'; '.join(changed)}); "
            f"resuming may change only {' and '.join(RESUME_OVERRIDES)}"
        )
    if config.epochs != saved.epochs and config.schedule != "constant":
        raise TrainConfigError(
            f"epochs cannot change on resume with the {config.schedule} schedule, which was "
            f"planned over the run's {plural(saved.epochs, 'epoch')}, got {config.epochs}"
        )
    if config.epochs < done:
        raise TrainConfigError(
            f"epochs must be at least {done}, as {plural(done, 'epoch')} already completed, "
            f"got {config.epochs}"
        )
    return done


def _make_dirs(path: Path) -> list[Path]:
    """``mkdir -p path``; return the directories it created, deepest first."""
    created, here = [], path
    while not here.exists() and here != here.parent:
        created.append(here)
        here = here.parent
    path.mkdir(parents=True, exist_ok=True)
    return created


def _add_new_log_columns(path: Path, history: list[dict[str, float]]) -> None:
    """Give a ``log.csv`` written before a column was added (``train_acc``) the current
    columns, its rows rewritten from the checkpoint's history (values it lacks empty), so that
    the run can resume; any other header is left for :class:`CSVLogger` to refuse."""
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            header = next(csv.reader(handle), None)
    except (OSError, UnicodeDecodeError, csv.Error):
        return
    if header is None or not set(header) < set(LOG_FIELDS):
        return
    text = io.StringIO()
    writer = csv.DictWriter(text, LOG_FIELDS, restval="", extrasaction="ignore")
    writer.writeheader()
    writer.writerows(history)
    with atomic_write(path) as handle:
        handle.write(text.getvalue().encode())


def _remove_incomplete_run(run_dir: Path, created: list[Path]) -> None:
    """Remove what a run that saved no checkpoint wrote: its files, then the folders it made."""
    for name in ("config.json", "log.csv"):
        with contextlib.suppress(OSError):
            (run_dir / name).unlink(missing_ok=True)
    for directory in created:
        try:
            directory.rmdir()
        except OSError:  # not empty: someone else's files are there
            break


def train(
    config: TrainConfig,
    dataset: Dataset,
    run_dir: str | Path,
    *,
    resume: bool = False,
    progress: bool = True,
    echo: Callable[[str], None] = print,
    on_start: Callable[[], None] | None = None,
    monitor: Monitor | None = None,
    world: World | None = None,
) -> dict[str, Any]:
    """Train the model of ``config`` (MLP or CNN) on ``dataset``, checkpointing into ``run_dir``.

    Everything that can be checked is checked before anything is written: ``config``
    against the dataset (:func:`check_against_dataset`), the model, optimiser and schedule
    built, and on resume the checkpoint read and compared. Only then is ``on_start`` called
    and ``run_dir`` created. A fresh run that ends (error, divergence, Ctrl-C) before its
    first checkpoint removes what it wrote, so a run directory left behind always holds
    ``last.npz``.

    Parameters
    ----------
    config : TrainConfig
    dataset : Dataset
    run_dir : path
        Receives ``config.json``, ``log.csv``, ``last.npz``, ``best.npz``.
    resume : bool, default False
        Continue from ``run_dir/last.npz`` (parameters, optimiser state, schedule position,
        epoch). The configuration must match the checkpoint's except for
        :data:`RESUME_OVERRIDES`: ``epochs`` may grow (constant schedule only) and
        ``data_dir`` may change; ``config.json`` is rewritten with the new values.
    progress : bool, default True
        Show a tqdm progress bar per epoch (when tqdm is installed).
    echo : callable
        Receives one summary line per epoch.
    on_start : callable, optional
        Called once, after every check and before anything is written (the CLI prints its
        header there).
    monitor : Monitor, optional
        Records the training dynamics every ``monitor.every`` steps into ``monitor.csv`` and
        ``monitor.npz`` (:mod:`numdl.app.monitor`); ``None`` (default): nothing runs.
    world : World, optional
        The ranks training this model together (:func:`numdl.app.distributed.init`; default:
        this process alone). Each rank trains on its shard of every global batch of
        ``config.batch_size`` and the gradients are summed (docs/distributed.md); rank 0 alone
        prints, monitors and writes ``run_dir``. An error on one rank ends every rank.

    Returns
    -------
    dict
        ``history`` (list of per-epoch dicts), ``best_val_acc``, ``model`` (the final model),
        ``best_path``, ``stopped_early`` (the message when ``config.patience`` ended the run,
        else ``None``).

    Raises
    ------
    TrainConfigError
        ``config`` does not fit ``dataset`` or cannot continue the checkpoint (nothing written).
    CheckpointError
        On resume: ``last.npz`` is missing, corrupt, or from a different configuration.
    TrainingDiverged
        If the loss becomes NaN or infinite; ``last.npz`` still holds the last good epoch.
    KeyboardInterrupt
        Propagated after the current state is left consistent (the last completed epoch's
        checkpoint is on disk).
    """
    run_dir = Path(run_dir)
    check_against_dataset(config, dataset)
    xp = _backend.current().xp
    world = world or World()
    if world.distributed and xp.__name__ == "cupy":
        from numdl.app.distributed import bind_device

        bind_device(world)  # one GPU per rank of a node, before the model is allocated
    if not world.is_root:  # rank 0 alone prints and writes
        progress, echo, on_start, monitor = False, lambda line: None, None, None
    dtype = np.dtype(config.dtype)
    n, n_features = dataset.train.X.shape
    steps_per_epoch = math.ceil(n / config.batch_size)
    try:
        model, optimizer, schedule = build(
            config, n_features, dataset.n_classes, steps_per_epoch, dataset.image_shape
        )
    except (TypeError, ValueError) as exc:
        raise TrainConfigError(f"cannot build the model: {exc}") from None

    history: list[dict[str, float]] = []
    best = -1.0
    start_epoch = 0
    last_path, best_path = run_dir / "last.npz", run_dir / "best.npz"
    if resume:
        ckpt = load_checkpoint(last_path)
        start_epoch = _resume_state(ckpt, config, last_path)
        try:
            model.params.load_state_dict(ckpt.params)
            model.load_running_state(ckpt.state)
            optimizer.load_state_dict(ckpt.optim)
        except (TypeError, ValueError, KeyError) as exc:
            raise CheckpointError(f"{last_path} does not fit this model: {exc}") from None
        history = list(ckpt.meta["history"])
        best = float(ckpt.meta["best_val_acc"])
    x_train = xp.asarray(dataset.train.X, dtype=dtype)
    y_train = xp.asarray(dataset.train.y)
    x_val = xp.asarray(dataset.val.X, dtype=dtype)
    y_val = xp.asarray(dataset.val.y)

    if on_start is not None:
        on_start()
    created = _make_dirs(run_dir) if world.is_root else []
    try:
        if world.is_root:
            with atomic_write(run_dir / "config.json") as handle:
                handle.write(json.dumps(dataclasses.asdict(config), indent=2).encode())
        if resume and world.is_root:
            _add_new_log_columns(run_dir / "log.csv", history)
        if monitor is not None:
            monitor.start(run_dir, resume_epoch=start_epoch if resume else None)
        best, stopped = _run_epochs(
            config,
            dataset,
            (x_train, y_train, x_val, y_val),
            (model, optimizer, schedule),
            range(start_epoch, config.epochs),
            history,
            best,
            run_dir,
            progress=progress,
            echo=echo,
            monitor=monitor,
            world=world,
        )
    except BaseException as exc:
        if world.is_root and not resume and not last_path.exists():
            _remove_incomplete_run(run_dir, created)
        if world.distributed and not isinstance(exc, TrainingDiverged):  # raised on one rank
            kept = f"; the last checkpoint is {last_path}" if last_path.exists() else ""
            world.fail(exc, kept)
        raise
    world.barrier()  # rank 0's files are complete before any rank reads them
    return {
        "history": history,
        "best_val_acc": best,
        "model": model,
        "best_path": best_path,
        "stopped_early": stopped,
    }


def _run_epochs(
    config: TrainConfig,
    dataset: Dataset,
    arrays: tuple[Any, Any, Any, Any],
    parts: tuple[Classifier, Optimizer, Schedule],
    epochs: range,
    history: list[dict[str, float]],
    best: float,
    run_dir: Path,
    *,
    progress: bool,
    echo: Callable[[str], None],
    monitor: Monitor | None = None,
    world: World | None = None,
) -> tuple[float, str | None]:
    """The epochs of :func:`train`: append to ``history``, checkpoint each; the best val acc,
    and the early-stopping message when ``config.patience`` ended the run."""
    world = world or World()
    xp = _backend.current().xp
    x_train, y_train, x_val, y_val = arrays
    model, optimizer, schedule = parts
    n, n_features = dataset.train.X.shape
    steps_per_epoch = math.ceil(n / config.batch_size)
    last_path, best_path = run_dir / "last.npz", run_dir / "best.npz"
    loss_fn = SoftmaxCrossEntropy()
    x_buf = xp.empty((config.batch_size, n_features), dtype=x_train.dtype)
    y_buf = xp.empty(config.batch_size, dtype=y_train.dtype)
    l1_scratch = xp.empty(model.params.n_decayed, model.params.dtype) if config.l1 else None
    bar_factory = _progress_bar if progress else None
    stopped = _early_stop(config, history, best_path)
    if stopped is not None:  # a resumed run that had already stopped
        echo(stopped)
        return best, stopped

    logger = CSVLogger(run_dir / "log.csv", LOG_FIELDS) if world.is_root else _NoLog()
    with logger as log, world.watchdog(world.timeout):  # NUMDL_MPI_TIMEOUT, under MPI
        for epoch in epochs:
            rng = _epoch_rng(config.seed, epoch)
            dropout_rng = _dropout_rng(config.seed, epoch)
            if world.distributed:  # each rank's own masks for its own rows, reproducibly
                dropout_rng = np.random.default_rng(
                    [config.seed, epoch, DROPOUT_STREAM, world.rank]
                )
            model.set_dropout_generator(dropout_rng)
            order = xp.asarray(rng.permutation(n))
            t0 = time.perf_counter()
            loss_sum, correct = 0.0, 0
            bar = (
                bar_factory(steps_per_epoch, f"epoch {epoch + 1}/{config.epochs}")
                if bar_factory
                else None
            )
            for step in range(steps_per_epoch):
                batch = order[step * config.batch_size : (step + 1) * config.batch_size]
                lo, hi = world.shard(batch.shape[0])  # this rank's rows of the global batch
                idx = batch[lo:hi]
                xb, yb = x_buf[: idx.shape[0]], y_buf[: idx.shape[0]]
                xp.take(y_train, idx, axis=0, out=yb)
                if config.augment == "shift":
                    # On the host (random_shift is NumPy code), then into the batch buffer; the
                    # shifts are drawn for the whole global batch, as one process draws them.
                    whole = x_buf[: batch.shape[0]]
                    ops.take_rows(x_train, batch, out=whole)
                    images = to_numpy(whole).reshape(batch.shape[0], *dataset.image_shape)
                    shifted = random_shift(images, config.max_shift, rng)[lo:hi]
                    xb[...] = xp.asarray(shifted.reshape(xb.shape))
                else:
                    ops.take_rows(x_train, idx, out=xb)  # the backend's gather (ch. 5.9)
                global_step = epoch * steps_per_epoch + step
                optimizer.lr = schedule(global_step)
                loss, hits = 0.0, 0  # a rank with no rows of this batch (N > B) adds nothing
                if idx.shape[0]:
                    logits = model.forward(xb)
                    loss, dlogits = loss_fn(logits, yb)
                    loss = float(loss)
                    # train_acc: the batch as it is trained, from its logits, before the update
                    hits = int((logits.argmax(axis=1) == yb).sum())
                # Σ over the ranks of bᵣ·lossᵣ and of the hits; every rank sees a NaN anywhere
                batch_loss, hits, bad = world.step_stats(loss, idx.shape[0], hits)
                if bad:
                    saved = (
                        f"the last good checkpoint is {last_path}"
                        if last_path.exists()
                        else "no epoch had completed, so nothing was saved"
                    )
                    where = (
                        f"non-finite on rank {', '.join(map(str, bad))} of {world.size}"
                        if world.distributed
                        else str(loss)
                    )
                    raise TrainingDiverged(
                        f"the loss became {where} at epoch {epoch + 1}, step {step + 1} "
                        f"(learning rate {optimizer.lr:.4g}); try a smaller --lr; {saved}"
                    )
                correct += hits
                if idx.shape[0]:
                    if world.distributed:  # weight bᵣ/B: the sum over ranks is the batch mean
                        dlogits *= idx.shape[0] / batch.shape[0]
                    model.backward(dlogits, overwrite_grad=True)
                else:
                    model.params.grad[...] = 0
                world.allreduce_grad(model.params.grad)  # Σ over the ranks, in place
                if config.l1:  # + λ·sign(w): the L1 term's share of the gradient (eq. 7.20)
                    add_l1_subgradient(model.params, config.l1, scratch=l1_scratch)
                if config.clip_grad_norm:  # on the whole gradient, before the update
                    clip_grad_norm(model.params, config.clip_grad_norm)
                watch = monitor is not None and monitor.due(global_step)
                if watch:
                    monitor.before_step(model, xb, global_step, epoch + 1)
                optimizer.step()
                if watch:
                    monitor.after_step(model)
                loss_sum += batch_loss
                if bar is not None:
                    bar.update(1)
                    if step % 20 == 0:
                        bar.set_postfix(loss=f"{batch_loss / batch.shape[0]:.4f}")
            if bar is not None:
                bar.close()
            seconds = time.perf_counter() - t0
            if world.distributed and model.running_state():  # BatchNorm: the ranks' average
                model.load_running_state(world.average_state(model.running_state()))
            val_loss, val_acc = (
                evaluate(model, x_val, y_val, world=world)
                if len(dataset.val)
                else (math.nan, math.nan)
            )
            stats = EpochStats(
                epoch + 1,
                loss_sum / n,
                correct / n,
                val_loss,
                val_acc,
                optimizer.lr,
                seconds,
                n / seconds,
            )
            history.append(dataclasses.asdict(stats))
            log.log(**dataclasses.asdict(stats))
            echo(stats.line(config.epochs))
            improved = val_acc > best or math.isnan(val_acc)
            best = val_acc if improved else best
            if world.is_root:
                ckpt = _checkpoint(model, optimizer, config, epoch + 1, history, dataset, best)
                save_checkpoint(last_path, ckpt)
                if improved:
                    save_checkpoint(best_path, ckpt)
            if monitor is not None:
                monitor.write()
            stopped = _early_stop(config, history, best_path)
            if stopped is not None:
                echo(stopped)
                break
    return best, stopped


class _NoLog(contextlib.nullcontext):
    """The log of a rank other than 0: nothing written."""

    def __enter__(self) -> _NoLog:
        return self

    def log(self, **row: Any) -> None:
        pass


def epochs_since_best(history: list[dict[str, float]]) -> int:
    """Epochs since validation accuracy last improved (0: the last epoch was the best)."""
    accs = [row["val_acc"] for row in history]
    return len(accs) - 1 - int(np.argmax(accs)) if accs else 0


def _early_stop(
    config: TrainConfig, history: list[dict[str, float]], best_path: Path
) -> str | None:
    """Early stopping (ch. 7.8): why the run stops, when validation accuracy has not improved
    for ``config.patience`` epochs; ``None`` to go on (always, with patience 0)."""
    waited = epochs_since_best(history)
    if config.patience == 0 or waited < config.patience:
        return None
    best = len(history) - waited
    return (
        f"stopped early after epoch {len(history)}: validation accuracy has not improved for "
        f"{plural(waited, 'epoch')} (patience {config.patience}); the best, "
        f"{100 * history[best - 1]['val_acc']:.2f}% at epoch {best}, is {best_path}"
    )


def _progress_bar(total: int, desc: str) -> Any:
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return None
    return tqdm(total=total, desc=desc, leave=False, unit="batch", dynamic_ncols=True)


def model_from_checkpoint(ckpt: Checkpoint) -> Classifier:
    """Rebuild the model (MLP or CNN, by ``kind``) a checkpoint describes and load its
    parameters (validated)."""
    cfg = ckpt.meta.get("model")
    kind = cfg.get("kind", "mlp") if isinstance(cfg, dict) else None  # none before the CNN
    if kind not in ("mlp", "cnn") or ("sizes" if kind == "mlp" else "channels") not in cfg:
        raise CheckpointError("checkpoint metadata lacks the model configuration")
    try:
        model: Classifier
        if kind == "cnn":
            from numdl.nn.cnn import CNN  # the convolution layers load only for a CNN

            model = CNN(
                cfg["in_shape"],
                cfg["channels"],
                cfg["kernel_size"],
                cfg["hidden"],
                cfg["n_classes"],
                dropout=cfg.get("dropout", 0.0),
                init=cfg["init"],
                dtype=cfg["dtype"],
            )
        else:
            model = MLP(
                cfg["sizes"],
                activation=cfg["activation"],
                init=cfg["init"],
                norm=cfg.get("norm"),  # absent from checkpoints before normalisation: none
                dropout=cfg.get("dropout", 0.0),
                dtype=cfg["dtype"],
            )
        model.params.load_state_dict(ckpt.params)
        model.load_running_state(ckpt.state)
    except (ValueError, TypeError, KeyError) as exc:
        raise CheckpointError(f"checkpoint does not match its model configuration: {exc}") from None
    return model
