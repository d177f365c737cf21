"""Training checkpoints: one ``.npz`` file, written atomically, read without pickle.

A checkpoint holds the model's parameters (``param/<name>``), the optimiser's state buffers
(``optim/<key>/<buffer>``) and a JSON document (``meta``) with the training configuration,
the model configuration, the optimiser's step count and learning rate, the number of
completed epochs and the history so far. Writing goes to a temporary file that replaces the
old checkpoint only once complete, so an interruption never leaves a broken file; reading
uses ``allow_pickle=False`` and validates every entry before anything is used.
"""

from __future__ import annotations

import json
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from numdl.data.dataset import atomic_write

__all__ = ["FORMAT_VERSION", "Checkpoint", "CheckpointError", "load_checkpoint", "save_checkpoint"]

#: Version of the checkpoint layout; bumped on incompatible changes.
FORMAT_VERSION = 1


class CheckpointError(ValueError):
    """A checkpoint file is missing, corrupt, truncated or does not match the model."""


@dataclass
class Checkpoint:
    """The contents of a checkpoint file.

    Attributes
    ----------
    params : dict of str to ndarray
        Model parameters by name.
    optim : dict
        Optimiser state as returned by :meth:`numdl.optim.Optimizer.state_dict`.
    meta : dict
        JSON-serialisable metadata: ``model`` (MLP config), ``train`` (training config),
        ``epoch`` (completed epochs), ``history`` and anything else the trainer records.
    """

    params: dict[str, np.ndarray]
    optim: dict[str, Any]
    meta: dict[str, Any]


def save_checkpoint(path: str | os.PathLike[str], ckpt: Checkpoint) -> Path:
    """Write ``ckpt`` to ``path`` atomically (temporary file + rename). Returns the path."""
    path = Path(path)
    meta = dict(ckpt.meta)
    meta["format_version"] = FORMAT_VERSION
    meta["optim_scalars"] = {"steps": int(ckpt.optim["steps"]), "lr": float(ckpt.optim["lr"])}
    arrays: dict[str, np.ndarray] = {"meta": np.array(json.dumps(meta))}
    arrays.update({f"param/{k}": np.asarray(v) for k, v in ckpt.params.items()})
    arrays.update({f"optim/{k}": np.asarray(v) for k, v in ckpt.optim["buffers"].items()})
    with atomic_write(path) as handle:
        np.savez(handle, **arrays)
    return path


def load_checkpoint(path: str | os.PathLike[str]) -> Checkpoint:
    """Read a checkpoint written by :func:`save_checkpoint`.

    Raises
    ------
    CheckpointError
        If the file is missing, is not a complete ``.npz`` archive, lacks the metadata or
        holds an unsupported format version. The message names the file.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist")
    try:
        with np.load(path, allow_pickle=False) as archive:
            entries = {name: archive[name] for name in archive.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, KeyError) as exc:
        raise CheckpointError(f"checkpoint {path} is corrupt or truncated: {exc}") from None
    if "meta" not in entries:
        raise CheckpointError(f"checkpoint {path} has no metadata (not a numdl checkpoint?)")
    try:
        meta = json.loads(str(entries.pop("meta")))
    except json.JSONDecodeError as exc:
        raise CheckpointError(f"checkpoint {path} has unreadable metadata: {exc}") from None
    version = meta.get("format_version")
    if version != FORMAT_VERSION:
        raise CheckpointError(
            f"checkpoint {path} has format version {version}; this numdl reads {FORMAT_VERSION}"
        )
    params = {k[len("param/") :]: v for k, v in entries.items() if k.startswith("param/")}
    buffers = {k[len("optim/") :]: v for k, v in entries.items() if k.startswith("optim/")}
    scalars = meta.pop("optim_scalars", {"steps": 0, "lr": 0.0})
    optim = {"steps": scalars["steps"], "lr": scalars["lr"], "buffers": buffers}
    if not params:
        raise CheckpointError(f"checkpoint {path} holds no parameters")
    return Checkpoint(params=params, optim=optim, meta=meta)
