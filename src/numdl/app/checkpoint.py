"""Training checkpoints: one ``.npz`` file, written atomically, read without pickle.

A checkpoint holds the model's parameters (``param/<name>``), its non-trainable state
(``state/<name>``: BatchNorm running averages), the optimiser's state buffers
(``optim/<key>/<buffer>``) and a JSON document (``meta``) with the training configuration,
the model configuration, the optimiser's step count and learning rate, the number of
completed epochs and the history so far.

One set of rules says what a checkpoint may hold (:func:`_check_meta`, :func:`_check_array`,
:func:`_check_names`), and both directions apply it: :func:`save_checkpoint` checks the whole
:class:`Checkpoint` before writing anything, writes to a temporary file, reads that file back
with :func:`load_checkpoint` and only then replaces the old checkpoint, so it never publishes
a file its loader refuses. :func:`load_checkpoint` never trusts a size the file declares: it
reads the zip directory and every ``.npy`` header first (``allow_pickle`` is never used), checks
that the members do not overlap and lie inside the file, reads the metadata (bounded), derives
from the model configuration every array's exact shape and dtype, and allocates an array only
once its header matches that and the zip member holds exactly that many bytes. Memory is
therefore bounded by the file's own size (the deflate ratio for compressed members); anything
malformed is a :class:`CheckpointError` naming the file and what is wrong.

The module runs past 500 lines because the rules and the bounded reader belong together: the
reader derives its allocation bounds from the rules, and save uses both.
"""

from __future__ import annotations

import io
import json
import math
import os
import re
import struct
import zipfile
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np
from numpy.lib import format as npy_format

from numdl.core.backend import to_numpy
from numdl.core.validation import as_array, check_int
from numdl.data.dataset import atomic_write, check_path
from numdl.nn.init import INITIALIZERS
from numdl.nn.models import ACTIVATIONS, NORMS

__all__ = [
    "FORMAT_VERSION",
    "MAX_META_BYTES",
    "Checkpoint",
    "CheckpointError",
    "load_checkpoint",
    "save_checkpoint",
]

#: Version of the checkpoint layout; bumped on incompatible changes.
FORMAT_VERSION = 1
#: Largest metadata member (the JSON text as a NumPy unicode scalar, 4 bytes a character).
MAX_META_BYTES = 64 * 2**20

_META_KEYS = ("model", "train", "epoch", "history", "best_val_acc")  # what the trainer reads
_RESERVED_KEYS = ("format_version", "optim_scalars")  # written by save_checkpoint itself
_MODEL_KEYS = ("sizes", "activation", "init", "dtype")
#: Model keys later versions added, with the value a checkpoint without them means (a
#: checkpoint without ``kind`` predates the CNN: an MLP).
_MODEL_DEFAULTS: dict[str, Any] = {"kind": "mlp", "norm": None, "dropout": 0.0}
#: What a model configuration of each kind must give (``dropout`` is optional for both).
_KIND_KEYS: dict[str, tuple[str, ...]] = {
    "mlp": _MODEL_KEYS,
    "cnn": ("in_shape", "channels", "kernel_size", "hidden", "n_classes", "init", "dtype"),
}
_DTYPES = {"float32": np.dtype(np.float32), "float64": np.dtype(np.float64)}
_BUFFER_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_NPY_HEADER_MAX = 10_000  # numpy.load's own limit on a .npy header
_DEFLATE_MAX_RATIO = 1032  # no deflate stream expands more (zlib technical details)
_LOCAL_HEADER = struct.Struct("<4s2B4HL2L2H")  # a zip member's local header (30 bytes)
_CHUNK = 1 << 20
_BUFFERS_LABEL = "ckpt.optim['buffers']"
_CORRUPT = (
    zipfile.BadZipFile,
    zlib.error,
    EOFError,
    OSError,
    struct.error,
    NotImplementedError,
    RuntimeError,
    OverflowError,
    ValueError,
)


class CheckpointError(ValueError):
    """A checkpoint file is missing, corrupt, truncated or does not match the model."""


@dataclass
class Checkpoint:
    """The contents of a checkpoint file.

    Attributes
    ----------
    params : dict of str to ndarray
        Model parameters by name (``layer{i}.W``, ``layer{i}.b``): exactly those of the model
        (MLP or CNN) that ``meta["model"]`` describes, with its shapes and dtype.
    optim : dict
        Optimiser state as returned by :meth:`numdl.optim.Optimizer.state_dict`: ``steps``
        (int >= 0), ``lr`` (finite, >= 0) and ``buffers`` (``"<slot>/<name>"`` to an array of
        the model's dtype; slot ``flat`` is the whole flat parameter vector, or a parameter's
        name for that parameter's shape).
    meta : dict
        JSON-serialisable metadata: ``model`` (the model's ``config``: ``kind`` "mlp" or
        "cnn", absent from checkpoints before the CNN: "mlp"; an MLP's ``sizes``,
        ``activation``, ``init``, ``dtype``, and optionally ``norm`` (None, "batch", "layer")
        and ``dropout`` (in [0, 1)), which older checkpoints lack: None and 0.0; a CNN's
        ``in_shape``, ``channels``, ``kernel_size``, ``hidden``, ``n_classes``, ``init``,
        ``dtype`` and optionally ``dropout``), ``train`` (training config,
        a dict), ``epoch`` (completed epochs, int >= 0), ``history`` (list of per-epoch
        dicts), ``best_val_acc`` (a number) and anything else the trainer records.
        ``format_version`` and ``optim_scalars`` are reserved for the file layout.
    """

    params: dict[str, np.ndarray]
    optim: dict[str, Any]
    meta: dict[str, Any]
    #: Non-trainable model state by name (``layer{i}.running_mean``, ``layer{i}.running_var``
    #: of each BatchNorm): exactly what the model that ``meta["model"]`` describes has.
    state: dict[str, np.ndarray] = field(default_factory=dict)


# -- the rules, shared by save and load ------------------------------------------------------
@dataclass(frozen=True)
class _Layout:
    """What a checkpoint with this metadata holds: every parameter's shape, and the dtype."""

    dtype: np.dtype
    params: dict[str, tuple[int, ...]]
    n_params: int
    state: dict[str, tuple[int, ...]] = field(default_factory=dict)

    def buffer_shape(self, key: str, label: str) -> tuple[int, ...]:
        """The shape of optimiser buffer ``key`` (``"<slot>/<name>"``)."""
        slot, sep, name = key.rpartition("/")
        if not sep or not _BUFFER_NAME.fullmatch(name):
            raise ValueError(f"{label} must be named '<slot>/<buffer name>', got {key!r}")
        if slot == "flat":
            return (self.n_params,)
        if slot in self.params:
            return self.params[slot]
        raise ValueError(
            f"{label} must belong to slot 'flat' or to a parameter of the model, got slot {slot!r}"
        )


def _mlp_shapes(
    sizes: list[int], activation: str, norm: str | None = None, dropout: float = 0.0
) -> tuple[dict[str, tuple[int, ...]], dict[str, tuple[int, ...]]]:
    """Parameter and non-trainable state names and shapes of the MLP with this configuration,
    allocating nothing.

    Layers are numbered in order; a normalisation, a standalone activation and a dropout
    layer take a number each (:class:`numdl.nn.MLP`'s order).
    """
    shapes: dict[str, tuple[int, ...]] = {}
    state: dict[str, tuple[int, ...]] = {}
    index = 0
    n_linear = len(sizes) - 1
    for k in range(n_linear):
        width = sizes[k + 1]
        shapes[f"layer{index}.W"] = (sizes[k], width)
        shapes[f"layer{index}.b"] = (width,)
        index += 1
        if k == n_linear - 1:
            break
        if norm is not None:
            shapes[f"layer{index}.gamma"] = shapes[f"layer{index}.beta"] = (width,)
            if norm == "batch":
                state[f"layer{index}.running_mean"] = state[f"layer{index}.running_var"] = (width,)
            index += 1
        index += (ACTIVATIONS[activation] is not None) + (dropout > 0)
    return shapes, state


def _mlp_param_shapes(
    sizes: list[int], activation: str, norm: str | None = None, dropout: float = 0.0
) -> dict[str, tuple[int, ...]]:
    """Parameter names and shapes of the MLP with this configuration (:func:`_mlp_shapes`)."""
    return _mlp_shapes(sizes, activation, norm, dropout)[0]


def _check_meta(meta: Any, label: str) -> _Layout:
    """Check the metadata (without the reserved keys); return the layout it describes."""
    if not isinstance(meta, dict):
        raise TypeError(f"{label} must be a dict (a JSON object), got {type(meta).__name__}")
    missing = [key for key in _META_KEYS if key not in meta]
    if missing:
        raise ValueError(f"{label} must record {list(_META_KEYS)}; it lacks {missing}")
    dtype, shapes, state = _check_model(meta["model"], f"{label}['model']")
    if not isinstance(meta["train"], dict):
        raise TypeError(f"{label}['train'] must be a dict, got {type(meta['train']).__name__}")
    check_int(meta["epoch"], f"{label}['epoch']", minimum=0)
    history = meta["history"]
    if not isinstance(history, list) or not all(isinstance(row, dict) for row in history):
        raise TypeError(f"{label}['history'] must be a list of dicts, got {history!r:.80}")
    best = meta["best_val_acc"]
    if isinstance(best, bool) or not isinstance(best, (int, float)):
        raise TypeError(f"{label}['best_val_acc'] must be a number, got {type(best).__name__}")
    n_params = sum(math.prod(s) for s in shapes.values())
    return _Layout(dtype, shapes, n_params, state)


def _check_model(
    model: Any, where: str
) -> tuple[np.dtype, dict[str, tuple[int, ...]], dict[str, tuple[int, ...]]]:
    """Check a model configuration (an MLP's or a CNN's, by ``kind``); return its dtype and
    its parameter and state names and shapes."""
    if not isinstance(model, dict):
        raise TypeError(f"{where} must be a dict (the model config), got {type(model).__name__}")
    kind = model.get("kind", _MODEL_DEFAULTS["kind"])
    if not isinstance(kind, str) or kind not in _KIND_KEYS:
        raise ValueError(f"{where}['kind'] must be one of {sorted(_KIND_KEYS)}, got {kind!r:.80}")
    keys = _KIND_KEYS[kind]
    missing = [key for key in keys if key not in model]
    if missing:
        raise ValueError(f"{where} must give {list(keys)} for a {kind}; it lacks {missing}")
    for key, choices in (("init", INITIALIZERS), ("dtype", _DTYPES)):
        if not isinstance(model[key], str) or model[key] not in choices:
            raise ValueError(
                f"{where}[{key!r}] must be one of {sorted(choices)}, got {model[key]!r:.80}"
            )
    dropout = model.get("dropout", _MODEL_DEFAULTS["dropout"])
    if isinstance(dropout, bool) or not isinstance(dropout, (int, float)):
        raise TypeError(f"{where}['dropout'] must be a number, got {type(dropout).__name__}")
    if not 0 <= dropout < 1:
        raise ValueError(f"{where}['dropout'] must be in [0, 1), got {dropout!r}")
    if kind == "cnn":
        args = {key: model[key] for key in keys[:5]}
        for key in ("in_shape", "channels", "hidden"):  # JSON lists, not strings or numbers
            if not isinstance(args[key], list):
                raise TypeError(f"{where}[{key!r}] must be a list of ints, got {args[key]!r:.80}")
        from numdl.nn.cnn import cnn_shapes  # the convolution layers load only for a CNN

        try:
            shapes = cnn_shapes(**args, dropout=dropout)
        except (TypeError, ValueError) as exc:
            raise type(exc)(f"{where}: {exc}") from None
        return _DTYPES[model["dtype"]], shapes, {}
    sizes = model["sizes"]
    if not isinstance(sizes, list) or len(sizes) < 2:
        raise ValueError(f"{where}['sizes'] must list at least two layer widths, got {sizes!r:.80}")
    sizes = [check_int(s, f"{where}['sizes'][{i}]", minimum=1) for i, s in enumerate(sizes)]
    if not isinstance(model["activation"], str) or model["activation"] not in ACTIVATIONS:
        raise ValueError(
            f"{where}['activation'] must be one of {sorted(ACTIVATIONS)}, "
            f"got {model['activation']!r:.80}"
        )
    norm = model.get("norm", _MODEL_DEFAULTS["norm"])
    if norm is not None and (not isinstance(norm, str) or norm not in NORMS):
        raise ValueError(
            f"{where}['norm'] must be null or one of {sorted(NORMS)}, got {norm!r:.80}"
        )
    shapes, state = _mlp_shapes(sizes, model["activation"], norm, dropout)
    return _DTYPES[model["dtype"]], shapes, state


def _describe(model: dict[str, Any]) -> str:
    """A checked model configuration in a few words: ``[784, 512, 10]``, ``cnn [16, 32]``."""
    if model.get("kind", _MODEL_DEFAULTS["kind"]) == "cnn":
        return f"cnn {model['channels']} (hidden {model['hidden']})"
    return str(model["sizes"])


def _check_scalars(steps: Any, lr: Any, label: str) -> tuple[int, float]:
    """The optimiser's step count (int >= 0) and learning rate (finite, >= 0)."""
    steps = check_int(steps, f"{label}['steps']", minimum=0)
    if isinstance(lr, bool) or not isinstance(lr, (int, float, np.integer, np.floating)):
        raise TypeError(f"{label}['lr'] must be a real number, got {type(lr).__name__}")
    if not (math.isfinite(lr) and lr >= 0):
        raise ValueError(f"{label}['lr'] must be finite and >= 0, got {lr}")
    return steps, float(lr)


def _check_array(
    label: str, shape: tuple[int, ...], dtype: np.dtype, want: tuple[int, ...], layout: _Layout
) -> None:
    """An array (or a ``.npy`` header) must have the model's dtype and exactly ``want``."""
    if dtype.kind != "f" or dtype.newbyteorder("=") != layout.dtype:
        raise TypeError(f"{label} must have dtype {layout.dtype} (the model's), got {dtype}")
    if tuple(shape) != want:
        raise ValueError(f"{label} must have shape {want}, got {tuple(shape)}")


def _check_names(names: set[str], layout: _Layout, label: str, *, state: bool = False) -> None:
    """The parameters (or, with ``state``, the state arrays) present must be exactly the
    model's."""
    known = layout.state if state else layout.params
    missing, extra = sorted(set(known) - names), sorted(names - set(known))
    if missing or extra:
        what = "state arrays" if state else "parameters"
        raise ValueError(
            f"{label} must be exactly the model's {what} {sorted(known)}: "
            f"missing {missing}, unexpected {extra}"
        )


def _want(kind: str, name: str, layout: _Layout, label: str) -> tuple[int, ...] | None:
    """The shape member ``<kind>/<name>`` must have, or None if the model has no such array."""
    if kind == "optim":
        return layout.buffer_shape(name, label)
    return (layout.state if kind == "state" else layout.params).get(name)


# -- saving ----------------------------------------------------------------------------------
def _serialise(ckpt: Any) -> tuple[str, dict[str, np.ndarray]]:
    """Check ``ckpt`` completely; return the metadata text and the arrays to write."""
    if not isinstance(ckpt, Checkpoint):
        raise TypeError(f"ckpt must be a Checkpoint, got {type(ckpt).__name__}")
    parts = (("params", ckpt.params), ("optim", ckpt.optim), ("meta", ckpt.meta))
    for attr, value in (*parts, ("state", ckpt.state)):
        if not isinstance(value, Mapping):
            raise TypeError(f"ckpt.{attr} must be a dict, got {type(value).__name__}")
    reserved = [key for key in _RESERVED_KEYS if key in ckpt.meta]
    if reserved:
        raise ValueError(f"ckpt.meta must not set {reserved}: save_checkpoint writes them")
    try:
        meta = json.loads(json.dumps(dict(ckpt.meta), allow_nan=True))
    except (TypeError, ValueError, RecursionError) as exc:
        raise TypeError(f"ckpt.meta must be JSON-serialisable: {exc}") from None
    layout = _check_meta(meta, "ckpt.meta")
    missing = [key for key in ("steps", "lr", "buffers") if key not in ckpt.optim]
    if missing:
        raise ValueError(f"ckpt.optim must hold 'steps', 'lr' and 'buffers'; it lacks {missing}")
    steps, lr = _check_scalars(ckpt.optim["steps"], ckpt.optim["lr"], "ckpt.optim")
    buffers = ckpt.optim["buffers"]
    if not isinstance(buffers, Mapping):
        raise TypeError(f"ckpt.optim['buffers'] must be a dict, got {type(buffers).__name__}")
    arrays: dict[str, np.ndarray] = {}
    labels = {"param": "ckpt.params", "optim": _BUFFERS_LABEL, "state": "ckpt.state"}
    for prefix, entries in (("param", ckpt.params), ("optim", buffers), ("state", ckpt.state)):
        for key, value in entries.items():
            where = f"{labels[prefix]}[{key!r}]"
            if not isinstance(key, str) or not key:
                raise TypeError(f"{where}: names must be non-empty strings, got {key!r}")
            arr = np.asarray(to_numpy(as_array(value, where)))
            want = _want(prefix, key, layout, where)
            if want is None:
                what = "state array" if prefix == "state" else "parameter"
                raise ValueError(f"{where} is not a {what} of the model {_describe(meta['model'])}")
            _check_array(where, arr.shape, arr.dtype, want, layout)
            arrays[f"{prefix}/{key}"] = arr
    _check_names(set(ckpt.params), layout, "ckpt.params")
    _check_names(set(ckpt.state), layout, "ckpt.state", state=True)
    text = json.dumps(
        {**meta, "format_version": FORMAT_VERSION, "optim_scalars": {"steps": steps, "lr": lr}},
        allow_nan=True,
    )
    if 4 * len(text) > MAX_META_BYTES:
        raise ValueError(f"ckpt.meta must be at most {MAX_META_BYTES // 4} characters as JSON")
    return text, arrays


def _verify_written(tmp: Path, target: Path, text: str, arrays: dict[str, np.ndarray]) -> None:
    """Read the temporary file back; it must hold exactly what was meant to be written."""
    try:
        back = load_checkpoint(tmp)
    except CheckpointError as exc:
        raise CheckpointError(
            f"checkpoint {target} was not written: the file could not be read back ({exc}); "
            f"{target} is unchanged"
        ) from None
    meta = json.loads(text)
    scalars = meta.pop("optim_scalars")
    meta.pop("format_version")
    got = {f"param/{k}": v for k, v in back.params.items()}
    got.update({f"optim/{k}": v for k, v in back.optim["buffers"].items()})
    got.update({f"state/{k}": v for k, v in back.state.items()})
    same = (
        json.dumps(back.meta, sort_keys=True) == json.dumps(meta, sort_keys=True)
        and (back.optim["steps"], back.optim["lr"]) == (scalars["steps"], scalars["lr"])
        and got.keys() == arrays.keys()
        and all(np.array_equal(got[k], arrays[k], equal_nan=True) for k in arrays)
    )
    if not same:
        raise CheckpointError(
            f"checkpoint {target} was not written: the file read back differs from the "
            f"checkpoint; {target} is unchanged"
        )


def save_checkpoint(path: str | os.PathLike[str], ckpt: Checkpoint) -> Path:
    """Write ``ckpt`` to ``path`` atomically, never publishing a file the loader refuses.

    The checkpoint is checked completely first (the rules :func:`load_checkpoint` applies),
    written to a temporary file in the same directory, read back and compared, and only then
    renamed over ``path``. On any error ``path`` is left exactly as it was.

    Parameters
    ----------
    path : str or os.PathLike
        The ``.npz`` file to create or replace; its directory must exist.
    ckpt : Checkpoint
        What to save (see :class:`Checkpoint` for what each part must hold).

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    TypeError
        ``path`` is not a path, or part of ``ckpt`` has the wrong kind or dtype (an object
        array, an integer parameter, metadata that JSON cannot hold); the message names it.
    ValueError
        Part of ``ckpt`` has the wrong shape, name or value (e.g. parameters that are not the
        model's, a negative step count); the message names it.
    FileNotFoundError, OSError
        The directory of ``path`` is missing or not writable (the message names ``path`` and
        the directory).
    CheckpointError
        The written file did not read back as written (a failing disk).
    """
    path = check_path(path)
    text, arrays = _serialise(ckpt)
    with atomic_write(path, verify=lambda tmp: _verify_written(tmp, path, text, arrays)) as fh:
        np.savez(fh, allow_pickle=False, meta=np.array(text), **arrays)
    return path


# -- loading ---------------------------------------------------------------------------------
def load_checkpoint(path: str | os.PathLike[str]) -> Checkpoint:
    """Read a checkpoint written by :func:`save_checkpoint`, checking all of it first.

    Parameters
    ----------
    path : str or os.PathLike
        A ``.npz`` file written by :func:`save_checkpoint`.

    Returns
    -------
    Checkpoint
        Native-endian, C-contiguous arrays; ``meta`` without the reserved layout keys.

    Raises
    ------
    TypeError
        ``path`` is not a ``str`` or ``os.PathLike``.
    CheckpointError
        The file is missing or unreadable, is not a complete zip of ``.npy`` members (corrupt,
        truncated, overlapping or out-of-file members, pickled or unknown members), has
        unreadable or incomplete metadata, an unsupported format version, or arrays whose
        names, shapes or dtypes are not those of the model its metadata describes. The message
        names the file and what is wrong. Memory use is bounded by the file's size.
    """
    path = check_path(path)
    if not path.is_file():
        what = "is not a file" if path.exists() else "does not exist"
        raise CheckpointError(f"checkpoint {path} {what}")
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise CheckpointError(f"checkpoint {path} cannot be read ({exc.strerror or exc})") from None
    with handle:
        try:
            if handle.read(6) == npy_format.MAGIC_PREFIX:
                raise CheckpointError(
                    f"checkpoint {path} is a single .npy array, not a .npz checkpoint archive"
                )
            handle.seek(0)
            return _read_archive(handle, path)
        except CheckpointError:
            raise
        except _CORRUPT as exc:
            raise CheckpointError(f"checkpoint {path} is corrupt or truncated: {exc}") from None


def _invalid(path: Path, exc: Exception | str) -> CheckpointError:
    return CheckpointError(f"checkpoint {path} is not a valid numdl checkpoint: {exc}")


def _read_archive(handle: IO[bytes], path: Path) -> Checkpoint:
    size = os.fstat(handle.fileno()).st_size
    with zipfile.ZipFile(handle) as zf:
        members = _check_members(zf, handle, size, path)
        if "meta" not in members:
            raise CheckpointError(f"checkpoint {path} has no metadata (not a numdl checkpoint?)")
        meta = _read_meta(zf, members.pop("meta"), path)
        version = meta.pop("format_version", None)
        if version != FORMAT_VERSION:
            raise CheckpointError(
                f"checkpoint {path} has format version {version!r}; this numdl reads "
                f"{FORMAT_VERSION}"
            )
        scalars = meta.pop("optim_scalars", None)
        try:
            if not isinstance(scalars, dict) or not {"steps", "lr"} <= scalars.keys():
                raise ValueError(
                    f"meta['optim_scalars'] must give 'steps' and 'lr', got {scalars!r:.80}"
                )
            steps, lr = _check_scalars(scalars["steps"], scalars["lr"], "meta['optim_scalars']")
            layout = _check_meta(meta, "meta")
            plan = {}
            for key, info in members.items():  # every header, before any array is allocated
                kind, name = key.split("/", 1)
                header_len, shape, fortran, dtype = _read_header(zf, info, path)
                want = _want(kind, name, layout, key)
                if want is None:
                    raise ValueError(f"{key} is not a {kind} array of the model")
                _check_array(key, shape, dtype, want, layout)
                nbytes = math.prod(shape) * dtype.itemsize
                if info.file_size != header_len + nbytes:
                    raise CheckpointError(
                        f"checkpoint {path} is corrupt or truncated: member {info.filename} "
                        f"holds {info.file_size} bytes, its header declares {header_len + nbytes}"
                    )
                plan[key] = (info, header_len, shape, fortran, dtype)
            for kind in ("param", "state"):
                names = {k.split("/", 1)[1] for k in plan if k.startswith(f"{kind}/")}
                _check_names(names, layout, kind, state=kind == "state")
        except (TypeError, ValueError) as exc:
            if isinstance(exc, CheckpointError):
                raise
            raise _invalid(path, exc) from None
        arrays = {key: _read_data(zf, *entry, path) for key, entry in plan.items()}
    params = {k.split("/", 1)[1]: v for k, v in arrays.items() if k.startswith("param/")}
    buffers = {k.split("/", 1)[1]: v for k, v in arrays.items() if k.startswith("optim/")}
    state = {k.split("/", 1)[1]: v for k, v in arrays.items() if k.startswith("state/")}
    return Checkpoint(
        params=params, optim={"steps": steps, "lr": lr, "buffers": buffers}, meta=meta, state=state
    )


def _check_members(
    zf: zipfile.ZipFile, handle: IO[bytes], size: int, path: Path
) -> dict[str, zipfile.ZipInfo]:
    """Every member: a known name, once, stored or deflated, inside the file, no overlap."""
    members: dict[str, zipfile.ZipInfo] = {}
    for info in zf.infolist():
        name = info.filename
        key = name[: -len(".npy")] if name.endswith(".npy") else ""
        kind, _, rest = key.partition("/")
        if not (key == "meta" or (kind in ("param", "optim", "state") and rest)):
            raise _invalid(
                path, f"unexpected member {name!r} (expected meta, param/*, optim/*, state/*)"
            )
        if key in members:
            raise _invalid(path, f"member {name!r} appears twice")
        if info.flag_bits & 0x1:
            raise _invalid(path, f"member {name!r} is encrypted")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise _invalid(
                path,
                f"member {name!r} uses compression method {info.compress_type}; "
                "numdl reads stored or deflated members",
            )
        members[key] = info
    end = zf.start_dir
    if not 0 <= end <= size:
        raise CheckpointError(f"checkpoint {path} is corrupt or truncated: bad zip directory")
    for info in sorted(members.values(), key=lambda i: i.header_offset, reverse=True):
        start = info.header_offset
        if not 0 <= start <= end - _LOCAL_HEADER.size:
            raise CheckpointError(
                f"checkpoint {path} is corrupt or truncated: member {info.filename} lies outside "
                "the file or overlaps another"
            )
        handle.seek(start)
        fields = _LOCAL_HEADER.unpack(handle.read(_LOCAL_HEADER.size))
        data_end = start + _LOCAL_HEADER.size + fields[10] + fields[11] + info.compress_size
        limit = info.compress_size * _DEFLATE_MAX_RATIO + _DEFLATE_MAX_RATIO
        if (
            fields[0] != b"PK\x03\x04"
            or data_end > end
            or (info.compress_type == zipfile.ZIP_STORED and info.file_size != info.compress_size)
            or info.file_size > limit
        ):
            raise CheckpointError(
                f"checkpoint {path} is corrupt or truncated: member {info.filename} lies outside "
                "the file, overlaps another, or declares a size its data cannot have"
            )
        end = start
    return members


def _read_exact(stream: IO[bytes], n: int) -> bytes:
    data = stream.read(n)
    if len(data) != n:
        raise EOFError(f"{n} bytes expected, {len(data)} found")
    return data


def _read_header(
    zf: zipfile.ZipFile, info: zipfile.ZipInfo, path: Path
) -> tuple[int, tuple[int, ...], bool, np.dtype]:
    """A member's ``.npy`` header (length, shape, Fortran order, dtype), read within bounds."""
    with zf.open(info) as member:
        prefix = member.read(npy_format.MAGIC_LEN)
        if len(prefix) < npy_format.MAGIC_LEN or prefix[:6] != npy_format.MAGIC_PREFIX:
            raise _invalid(path, f"member {info.filename} is not a .npy array")
        version = (prefix[6], prefix[7])
        if version not in ((1, 0), (2, 0)):
            raise _invalid(path, f"member {info.filename} has .npy format version {version}")
        fmt = "<H" if version == (1, 0) else "<I"
        length_bytes = _read_exact(member, struct.calcsize(fmt))
        (length,) = struct.unpack(fmt, length_bytes)
        if length > _NPY_HEADER_MAX:
            raise _invalid(path, f"member {info.filename} has a {length}-byte .npy header")
        header = _read_exact(member, length)
    stream = io.BytesIO(prefix + length_bytes + header)
    npy_format.read_magic(stream)
    read = (
        npy_format.read_array_header_1_0 if version == (1, 0) else npy_format.read_array_header_2_0
    )
    try:
        shape, fortran, dtype = read(stream)
    except (ValueError, TypeError, SyntaxError, RecursionError) as exc:
        raise _invalid(
            path, f"member {info.filename} has a malformed .npy header ({exc})"
        ) from None
    return stream.tell(), shape, fortran, dtype


def _read_data(
    zf: zipfile.ZipFile,
    info: zipfile.ZipInfo,
    header_len: int,
    shape: tuple[int, ...],
    fortran: bool,
    dtype: np.dtype,
    path: Path,
) -> np.ndarray:
    """The array of a checked member, read in chunks straight into its buffer (CRC checked)."""
    flat = np.empty(math.prod(shape), dtype=dtype)
    view = memoryview(flat.view(np.uint8)) if flat.size else memoryview(b"")
    with zf.open(info) as member:
        _read_exact(member, header_len)
        pos = 0
        while pos < len(view):
            chunk = member.read(min(_CHUNK, len(view) - pos))
            if not chunk:
                raise EOFError(f"member {info.filename} ends after {pos} of {len(view)} bytes")
            view[pos : pos + len(chunk)] = chunk
            pos += len(chunk)
        if member.read(1):
            raise EOFError(f"member {info.filename} is longer than its header says")
    arr = flat.reshape(shape[::-1]).T if fortran else flat.reshape(shape)
    return np.ascontiguousarray(arr.astype(dtype.newbyteorder("="), copy=False))


def _read_meta(zf: zipfile.ZipFile, info: zipfile.ZipInfo, path: Path) -> dict[str, Any]:
    """The metadata member: a JSON object in a unicode scalar of at most MAX_META_BYTES."""
    header_len, shape, _, dtype = _read_header(zf, info, path)
    if shape != () or dtype.kind != "U":
        raise _invalid(path, f"meta must be a unicode string scalar, got {dtype} of shape {shape}")
    if dtype.itemsize > MAX_META_BYTES:
        raise _invalid(path, f"meta declares {dtype.itemsize} bytes, over {MAX_META_BYTES}")
    if info.file_size != header_len + dtype.itemsize:
        raise CheckpointError(
            f"checkpoint {path} is corrupt or truncated: meta holds {info.file_size} bytes, its "
            f"header declares {header_len + dtype.itemsize}"
        )
    arr = _read_data(zf, info, header_len, (1,), False, dtype, path)
    try:
        meta = json.loads(str(arr[0]))
    except (ValueError, UnicodeError, RecursionError) as exc:
        raise CheckpointError(f"checkpoint {path} has unreadable metadata: {exc}") from None
    if not isinstance(meta, dict):
        raise _invalid(path, f"meta must be a JSON object, got {type(meta).__name__}")
    return meta
