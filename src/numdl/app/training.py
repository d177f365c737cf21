"""The MNIST training loop of the textbook report (section 4.3), built to never lose work.

:func:`train` runs epochs of mini-batch training on the active backend and, after each
epoch, evaluates on the validation split, appends a row to ``log.csv``, and writes
``last.npz`` (and ``best.npz`` when validation accuracy improved) atomically into the run
directory. Everything random in epoch ``e`` (the shuffle, the augmentation) is drawn from a
generator seeded with ``(seed, e)``, so resuming from the checkpoint of epoch ``e − 1``
reproduces an uninterrupted run bit for bit.

The hot loop allocates nothing per step: batches are gathered into a reused buffer, the
layers reuse their output and gradient buffers, and the loss reuses its gradient buffer.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from numdl.app.checkpoint import Checkpoint, CheckpointError, load_checkpoint, save_checkpoint
from numdl.app.logs import CSVLogger
from numdl.core import backend as _backend
from numdl.core import ops
from numdl.core.backend import to_numpy
from numdl.data import Dataset
from numdl.data.augment import random_shift
from numdl.nn.losses import SoftmaxCrossEntropy
from numdl.nn.models import MLP
from numdl.optim import Optimizer, make_optimizer
from numdl.optim.schedules import Schedule, make_schedule

__all__ = ["EpochStats", "TrainConfig", "TrainingDiverged", "evaluate", "train"]

LOG_FIELDS = [
    "epoch",
    "train_loss",
    "val_loss",
    "val_acc",
    "lr",
    "epoch_seconds",
    "samples_per_second",
]


@dataclass
class TrainConfig:
    """Hyperparameters; the defaults are the textbook report's Table 1."""

    hidden: list[int] = field(default_factory=lambda: [512])
    activation: str = "relu"
    init: str = "glorot_uniform"
    batch_size: int = 256
    optimizer: str = "momentum"
    lr: float = 0.2
    momentum: float = 0.9
    weight_decay: float = 1e-4
    epochs: int = 20
    schedule: str = "constant"
    warmup_epochs: float = 0.0
    lr_min: float = 0.0
    augment: str = "none"
    max_shift: int = 2
    seed: int = 0
    dtype: str = "float32"
    dataset: str = "mnist"
    validation_size: int = 5000

    def __post_init__(self) -> None:
        if not self.hidden or any(int(h) < 1 for h in self.hidden):
            raise ValueError(f"hidden must list positive layer widths, got {self.hidden}")
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size}")
        if self.epochs < 1:
            raise ValueError(f"epochs must be >= 1, got {self.epochs}")
        if self.augment not in ("none", "shift"):
            raise ValueError(f"augment must be 'none' or 'shift', got {self.augment!r}")
        if self.dtype not in ("float32", "float64"):
            raise ValueError(f"dtype must be 'float32' or 'float64', got {self.dtype!r}")

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(values) - known
        if unknown:
            raise ValueError(f"unknown training options {sorted(unknown)}")
        return cls(**values)


@dataclass
class EpochStats:
    """One epoch's summary (a row of ``log.csv``)."""

    epoch: int
    train_loss: float
    val_loss: float
    val_acc: float
    lr: float
    epoch_seconds: float
    samples_per_second: float

    def line(self, epochs: int) -> str:
        return (
            f"epoch {self.epoch:>3}/{epochs}  train loss {self.train_loss:.4f}  "
            f"val loss {self.val_loss:.4f}  val acc {100 * self.val_acc:6.2f}%  "
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
    return Checkpoint(params=model.params.state_dict(), optim=optimizer.state_dict(), meta=meta)


def train(
    config: TrainConfig,
    dataset: Dataset,
    run_dir: str | Path,
    *,
    resume: bool = False,
    progress: bool = True,
    echo: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Train an MLP on ``dataset`` per ``config``, checkpointing into ``run_dir``.

    Parameters
    ----------
    config : TrainConfig
    dataset : Dataset
    run_dir : path
        Receives ``config.json``, ``log.csv``, ``last.npz``, ``best.npz``.
    resume : bool, default False
        Continue from ``run_dir/last.npz`` (parameters, optimiser state, schedule position,
        epoch); the configuration must match the checkpoint's.
    progress : bool, default True
        Show a tqdm progress bar per epoch (when tqdm is installed).
    echo : callable
        Receives one summary line per epoch.

    Returns
    -------
    dict
        ``history`` (list of per-epoch dicts), ``best_val_acc``, ``model`` (the final model),
        ``best_path``.

    Raises
    ------
    TrainingDiverged
        If the loss becomes NaN or infinite; ``last.npz`` still holds the last good epoch.
    KeyboardInterrupt
        Propagated after the current state is left consistent (the last completed epoch's
        checkpoint is on disk).
    """
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    xp = _backend.current().xp
    dtype = np.dtype(config.dtype)
    x_train = xp.asarray(dataset.train.X, dtype=dtype)
    y_train = xp.asarray(dataset.train.y)
    x_val = xp.asarray(dataset.val.X, dtype=dtype)
    y_val = xp.asarray(dataset.val.y)
    n, n_features = dataset.train.X.shape
    steps_per_epoch = math.ceil(n / config.batch_size)
    model, optimizer, schedule = build(config, n_features, dataset.n_classes, steps_per_epoch)

    history: list[dict[str, float]] = []
    best = -1.0
    start_epoch = 0
    last_path, best_path = run_dir / "last.npz", run_dir / "best.npz"
    if resume:
        ckpt = load_checkpoint(last_path)
        if ckpt.meta.get("train") != dataclasses.asdict(config):
            raise CheckpointError(f"{last_path} was written with a different configuration")
        model.params.load_state_dict(ckpt.params)
        optimizer.load_state_dict(ckpt.optim)
        start_epoch = int(ckpt.meta["epoch"])
        history = list(ckpt.meta["history"])
        best = float(ckpt.meta["best_val_acc"])
    else:
        (run_dir / "config.json").write_text(json.dumps(dataclasses.asdict(config), indent=2))

    loss_fn = SoftmaxCrossEntropy()
    x_buf = xp.empty((config.batch_size, n_features), dtype=dtype)
    y_buf = xp.empty(config.batch_size, dtype=y_train.dtype)
    bar_factory = _progress_bar if progress else None

    with CSVLogger(run_dir / "log.csv", LOG_FIELDS) as log:
        for epoch in range(start_epoch, config.epochs):
            rng = _epoch_rng(config.seed, epoch)
            order = xp.asarray(rng.permutation(n))
            t0 = time.perf_counter()
            loss_sum = 0.0
            bar = (
                bar_factory(steps_per_epoch, f"epoch {epoch + 1}/{config.epochs}")
                if bar_factory
                else None
            )
            for step in range(steps_per_epoch):
                idx = order[step * config.batch_size : (step + 1) * config.batch_size]
                xb, yb = x_buf[: idx.shape[0]], y_buf[: idx.shape[0]]
                xp.take(x_train, idx, axis=0, out=xb)
                xp.take(y_train, idx, axis=0, out=yb)
                if config.augment == "shift":
                    # On the host (random_shift is NumPy code), then into the batch buffer.
                    images = to_numpy(xb).reshape(idx.shape[0], *dataset.image_shape)
                    shifted = random_shift(images, config.max_shift, rng)
                    xb[...] = xp.asarray(shifted.reshape(xb.shape))
                global_step = epoch * steps_per_epoch + step
                optimizer.lr = schedule(global_step)
                loss, dlogits = loss_fn(model.forward(xb), yb)
                loss = float(loss)
                if not math.isfinite(loss):
                    raise TrainingDiverged(
                        f"the loss became {loss} at epoch {epoch + 1}, step {step + 1} "
                        f"(learning rate {optimizer.lr:.4g}); try a smaller --lr. The last good "
                        f"checkpoint is {last_path if last_path.exists() else 'not written yet'}"
                    )
                model.backward(dlogits, overwrite_grad=True)
                optimizer.step()
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
                epoch + 1, loss_sum / n, val_loss, val_acc, optimizer.lr, seconds, n / seconds
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
    return {"history": history, "best_val_acc": best, "model": model, "best_path": best_path}


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
            cfg["sizes"], activation=cfg["activation"], init=cfg["init"], dtype=cfg["dtype"]
        )
        model.params.load_state_dict(ckpt.params)
    except (ValueError, TypeError, KeyError) as exc:
        raise CheckpointError(f"checkpoint does not match its model configuration: {exc}") from None
    return model
