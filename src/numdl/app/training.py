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
from numdl.app.logs import CSVLogger
from numdl.app.monitor import Monitor
from numdl.core import backend as _backend
from numdl.core import ops
from numdl.core.backend import to_numpy
from numdl.core.validation import check_int
from numdl.data.augment import random_shift
from numdl.data.dataset import Dataset, atomic_write
from numdl.nn.losses import SoftmaxCrossEntropy
from numdl.nn.models import DROPOUT_STREAM, MLP
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


def evaluate(model: MLP, x: Any, y: Any, *, batch_size: int = 10000) -> tuple[float, float]:
    """Mean cross-entropy and top-1 accuracy of ``model`` on (x, y), without backward caches."""
    total_loss, correct = 0.0, 0
    for start in range(0, x.shape[0], batch_size):
        xb, yb = x[start : start + batch_size], y[start : start + batch_size]
        logits = model.forward(xb, train=False)
        total_loss += float(ops.cross_entropy(logits, yb)) * xb.shape[0]
        correct += int((logits.argmax(axis=1) == yb).sum())
    return total_loss / x.shape[0], correct / x.shape[0]


def _dropout_rng(seed: int, epoch: int) -> np.random.Generator:
    """The generator of the dropout masks in ``epoch``: a stream apart from the shuffle's,
    seeded with ``(seed, epoch, DROPOUT_STREAM)``, so a resumed run draws the same masks."""
    return np.random.default_rng([seed, epoch, DROPOUT_STREAM])


def _epoch_rng(seed: int, epoch: int) -> np.random.Generator:
    """The generator for everything random in ``epoch`` (shuffle, augmentation)."""
    return np.random.default_rng([seed, epoch])


def build(
    config: TrainConfig, n_features: int, n_classes: int, steps_per_epoch: int
) -> tuple[MLP, Optimizer, Schedule]:
    """The model, optimiser and schedule a configuration describes."""
    dtype = np.dtype(config.dtype)
    model = MLP(
        [n_features, *config.hidden, n_classes],
        activation=config.activation,
        init=config.init,
        norm=None if config.norm == "none" else config.norm,
        dropout=config.dropout,
        dtype=dtype,
        seed=config.seed,
    )
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
    model: MLP,
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
) -> dict[str, Any]:
    """Train an MLP on ``dataset`` per ``config``, checkpointing into ``run_dir``.

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
    dtype = np.dtype(config.dtype)
    n, n_features = dataset.train.X.shape
    steps_per_epoch = math.ceil(n / config.batch_size)
    try:
        model, optimizer, schedule = build(config, n_features, dataset.n_classes, steps_per_epoch)
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
    created = _make_dirs(run_dir)
    try:
        with atomic_write(run_dir / "config.json") as handle:
            handle.write(json.dumps(dataclasses.asdict(config), indent=2).encode())
        if resume:
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
        )
    except BaseException:
        if not resume and not last_path.exists():
            _remove_incomplete_run(run_dir, created)
        raise
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
    parts: tuple[MLP, Optimizer, Schedule],
    epochs: range,
    history: list[dict[str, float]],
    best: float,
    run_dir: Path,
    *,
    progress: bool,
    echo: Callable[[str], None],
    monitor: Monitor | None = None,
) -> tuple[float, str | None]:
    """The epochs of :func:`train`: append to ``history``, checkpoint each; the best val acc,
    and the early-stopping message when ``config.patience`` ended the run."""
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

    with CSVLogger(run_dir / "log.csv", LOG_FIELDS) as log:
        for epoch in epochs:
            rng = _epoch_rng(config.seed, epoch)
            model.set_dropout_generator(_dropout_rng(config.seed, epoch))
            order = xp.asarray(rng.permutation(n))
            t0 = time.perf_counter()
            loss_sum, correct = 0.0, 0
            bar = (
                bar_factory(steps_per_epoch, f"epoch {epoch + 1}/{config.epochs}")
                if bar_factory
                else None
            )
            for step in range(steps_per_epoch):
                idx = order[step * config.batch_size : (step + 1) * config.batch_size]
                xb, yb = x_buf[: idx.shape[0]], y_buf[: idx.shape[0]]
                ops.take_rows(x_train, idx, out=xb)  # the backend's gather (ch. 5.9)
                xp.take(y_train, idx, axis=0, out=yb)
                if config.augment == "shift":
                    # On the host (random_shift is NumPy code), then into the batch buffer.
                    images = to_numpy(xb).reshape(idx.shape[0], *dataset.image_shape)
                    shifted = random_shift(images, config.max_shift, rng)
                    xb[...] = xp.asarray(shifted.reshape(xb.shape))
                global_step = epoch * steps_per_epoch + step
                optimizer.lr = schedule(global_step)
                logits = model.forward(xb)
                loss, dlogits = loss_fn(logits, yb)
                loss = float(loss)
                if not math.isfinite(loss):
                    saved = (
                        f"the last good checkpoint is {last_path}"
                        if last_path.exists()
                        else "no epoch had completed, so nothing was saved"
                    )
                    raise TrainingDiverged(
                        f"the loss became {loss} at epoch {epoch + 1}, step {step + 1} "
                        f"(learning rate {optimizer.lr:.4g}); try a smaller --lr; {saved}"
                    )
                # train_acc: the batch as it is trained, from its logits, before the update
                correct += int((logits.argmax(axis=1) == yb).sum())
                model.backward(dlogits, overwrite_grad=True)
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
                loss_sum += loss * idx.shape[0]
                if bar is not None:
                    bar.update(1)
                    if step % 20 == 0:
                        bar.set_postfix(loss=f"{loss:.4f}")
            if bar is not None:
                bar.close()
            seconds = time.perf_counter() - t0
            val_loss, val_acc = (
                evaluate(model, x_val, y_val) if len(dataset.val) else (math.nan, math.nan)
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


def model_from_checkpoint(ckpt: Checkpoint) -> MLP:
    """Rebuild the MLP a checkpoint describes and load its parameters (validated)."""
    cfg = ckpt.meta.get("model")
    if not isinstance(cfg, dict) or "sizes" not in cfg:
        raise CheckpointError("checkpoint metadata lacks the model configuration")
    try:
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
