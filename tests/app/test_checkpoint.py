"""Tests for numdl.app.checkpoint: one set of rules for save and load, bounded reads, fuzzing.

Hypothesis draws (per run, seeded, no example database): 60 random valid checkpoints for the
save/load round trip, 80 (checkpoint, defect) pairs for rejected saves, and 300 damaged files
(truncated, bits flipped, bytes overwritten) for the loader, each under a tracemalloc bound.
"""

from __future__ import annotations

import io
import json
import math
import struct
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

import numdl.app.checkpoint as checkpoint_module
from numdl.app.checkpoint import (
    FORMAT_VERSION,
    Checkpoint,
    CheckpointError,
    _mlp_param_shapes,
    load_checkpoint,
    save_checkpoint,
)
from numdl.nn.init import INITIALIZERS
from numdl.nn.models import ACTIVATIONS, MLP
from numdl.optim.adamw import AdamW
from numdl.optim.sgd import SGD
from numdl.testing.memory import traced_peak

SETTINGS = {"deadline": None, "database": None, "suppress_health_check": [HealthCheck.too_slow]}


def _checkpoint(
    sizes=(6, 5, 3), *, dtype="float32", optimizer="adamw", activation="tanh", seed_=0
) -> Checkpoint:
    model = MLP(list(sizes), activation=activation, dtype=dtype, seed=seed_)
    opt = (AdamW if optimizer == "adamw" else SGD)(model.params, lr=0.01)
    rng = np.random.default_rng(seed_)
    for buffers in opt.state.values():  # non-zero optimiser state, so a mix-up would show
        for arr in buffers.values():
            arr[...] = rng.normal(size=arr.shape)
    opt.steps = 7
    meta = {
        "model": model.config,
        "train": {"lr": 0.01, "hidden": list(sizes[1:-1]), "optimizer": optimizer},
        "epoch": 2,
        "history": [{"epoch": 1, "loss": 0.5}, {"epoch": 2, "loss": float("nan")}],
        "best_val_acc": 0.75,
        "dataset": {"name": "synthetic-digits", "image_shape": [2, 3]},
    }
    return Checkpoint(params=model.params.state_dict(), optim=opt.state_dict(), meta=meta)


def _assert_same(back: Checkpoint, ckpt: Checkpoint) -> None:
    assert back.params.keys() == ckpt.params.keys()
    for name, arr in ckpt.params.items():
        assert back.params[name].dtype == arr.dtype.newbyteorder("=")
        assert back.params[name].flags.c_contiguous
        assert back.params[name].dtype.isnative
        np.testing.assert_array_equal(back.params[name], arr)
    assert back.optim["buffers"].keys() == ckpt.optim["buffers"].keys()
    for key, arr in ckpt.optim["buffers"].items():
        assert back.optim["buffers"][key].dtype == arr.dtype.newbyteorder("=")
        np.testing.assert_array_equal(back.optim["buffers"][key], arr)
    assert (back.optim["steps"], back.optim["lr"]) == (ckpt.optim["steps"], ckpt.optim["lr"])
    assert json.dumps(back.meta, sort_keys=True) == json.dumps(ckpt.meta, sort_keys=True)


def _raw_save(path: Path, ckpt: Checkpoint, *, scalars: Any = None, compressed=False) -> Path:
    """Write a checkpoint file the way save_checkpoint lays it out, but without any checks."""
    meta = dict(ckpt.meta) if isinstance(ckpt.meta, dict) else ckpt.meta
    if isinstance(meta, dict):
        meta.setdefault("format_version", FORMAT_VERSION)
        meta.setdefault(
            "optim_scalars",
            scalars or {"steps": ckpt.optim.get("steps"), "lr": ckpt.optim.get("lr")},
        )
    arrays = {"meta": np.array(json.dumps(meta))}
    arrays.update({f"param/{k}": np.asarray(v) for k, v in ckpt.params.items()})
    arrays.update({f"optim/{k}": np.asarray(v) for k, v in ckpt.optim["buffers"].items()})
    with open(path, "wb") as handle:
        (np.savez_compressed if compressed else np.savez)(handle, **arrays)
    return path


# ----------------------------------------------------------------------- the examples
def test_a_npy_file_is_a_checkpoint_error(tmp_path):
    path = tmp_path / "weights.npy"
    np.save(path, np.zeros(3))
    with pytest.raises(CheckpointError, match=r"single \.npy array") as info:
        load_checkpoint(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize("meta", ["3", "[1, 2]", '"text"', "null", "{", "[" * 100_000])
def test_metadata_that_is_not_an_object_is_a_checkpoint_error(tmp_path, meta):
    path = tmp_path / "m.npz"
    with open(path, "wb") as handle:
        np.savez(handle, meta=np.array(meta), **{"param/layer0.W": np.zeros((2, 2))})
    with pytest.raises(CheckpointError, match=r"metadata|meta must be a JSON object") as info:
        load_checkpoint(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize("drop", ["lr", "steps"])
def test_missing_optimiser_scalar_is_a_checkpoint_error(tmp_path, drop):
    ckpt = _checkpoint()
    scalars = {"steps": 3, "lr": 0.1}
    del scalars[drop]
    path = _raw_save(tmp_path / "c.npz", ckpt, scalars=scalars)
    with pytest.raises(CheckpointError, match=r"optim_scalars.*'steps' and 'lr'") as info:
        load_checkpoint(path)
    assert str(path) in str(info.value)


def test_member_declaring_8_tib_is_refused_without_allocating(tmp_path):
    """The issue's npz member with a header for 2**40 float64 values (np.load: MemoryError)."""
    ckpt = _checkpoint(dtype="float64")
    path = _raw_save(tmp_path / "c.npz", ckpt)
    header = {"descr": "<f8", "fortran_order": False, "shape": (2**40,)}
    forged = tmp_path / "forged.npz"
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(forged, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == "param/layer0.W.npy":
                buf = io.BytesIO()
                np.lib.format.write_array_header_1_0(buf, header)
                data = buf.getvalue() + data[_npy_header_len(data) :]
            dst.writestr(info.filename, data)
    result, peak = traced_peak(lambda: load_checkpoint(forged))
    assert isinstance(result, CheckpointError), result
    assert str(forged) in str(result)
    assert "shape" in str(result)
    assert peak < 10 * forged.stat().st_size + 2**20


def _patch_central(data: bytes, name: str, *, size=None, offset=None) -> bytes:
    """Rewrite the zip directory entry of ``name``: declared sizes and/or local-header offset."""
    out = bytearray(data)
    pos = out.find(b"PK\x01\x02")
    while pos != -1:
        n, m, k = struct.unpack("<3H", out[pos + 28 : pos + 34])
        if out[pos + 46 : pos + 46 + n].decode() == name:
            if size is not None:
                out[pos + 20 : pos + 28] = struct.pack("<2L", size, size)
            if offset is not None:
                out[pos + 42 : pos + 46] = struct.pack("<L", offset)
            return bytes(out)
        pos = out.find(b"PK\x01\x02", pos + 46 + n + m + k)
    raise AssertionError(f"{name} not in the zip directory")


def test_forged_model_and_zip_sizes_are_refused_before_allocating(tmp_path):
    """Metadata declaring a 1 GiB layer, a header to match and zip sizes to match: refused."""
    small = _checkpoint(optimizer="sgd")
    model = {**small.meta["model"], "sizes": [2**14, 2**14, 1]}
    header = {"descr": "<f4", "fortran_order": False, "shape": (2**14, 2**14)}
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, header)
    arrays = {
        "meta": np.array(
            json.dumps(
                {
                    **small.meta,
                    "model": model,
                    "format_version": 1,
                    "optim_scalars": {"steps": 1, "lr": 0.1},
                }
            )
        )
    }
    path = tmp_path / "forged.npz"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("meta.npy", _npy_bytes(arrays["meta"]))
        zf.writestr("param/layer0.W.npy", buf.getvalue() + bytes(64))
        for name, arr in small.params.items():
            if name != "layer0.W":
                zf.writestr(f"param/{name}.npy", _npy_bytes(arr))
    declared = len(buf.getvalue()) + 4 * 2**28
    path.write_bytes(_patch_central(path.read_bytes(), "param/layer0.W.npy", size=declared))
    result, peak = traced_peak(lambda: load_checkpoint(path))
    assert isinstance(result, CheckpointError), result
    assert "corrupt or truncated" in str(result)
    assert "layer0.W" in str(result)
    assert peak < 2**20


def _npy_header_len(data: bytes) -> int:
    stream = io.BytesIO(data)
    np.lib.format.read_magic(stream)
    np.lib.format.read_array_header_1_0(stream)
    return stream.tell()


def _npy_bytes(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=False)
    return buf.getvalue()


def test_overlapping_members_are_refused(tmp_path):
    """Two directory entries pointing at the same data (the overlapping-zip-bomb trick)."""
    path = _raw_save(tmp_path / "c.npz", _checkpoint())
    with zipfile.ZipFile(path) as zf:
        first = zf.getinfo("optim/flat/m.npy").header_offset
    path.write_bytes(_patch_central(path.read_bytes(), "optim/flat/v.npy", offset=first))
    with pytest.raises(CheckpointError, match="overlaps") as info:
        load_checkpoint(path)
    assert str(path) in str(info.value)


def test_save_refuses_an_object_array_and_keeps_the_good_file(tmp_path):
    path = tmp_path / "last.npz"
    good = _checkpoint()
    save_checkpoint(path, good)
    before = path.read_bytes()
    bad = _checkpoint()
    bad.params["layer0.W"] = np.array([[object()] * 5] * 6)
    with pytest.raises(
        TypeError, match=r"ckpt\.params\['layer0\.W'\] must be a numeric array, got an object array"
    ):
        save_checkpoint(path, bad)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.npz"]
    _assert_same(load_checkpoint(path), good)


def test_pickled_member_is_refused(tmp_path):
    ckpt = _checkpoint()
    ckpt.params["layer0.W"] = np.array([[object()] * 5] * 6)
    path = _raw_save(tmp_path / "c.npz", ckpt)  # np.savez pickles the object array
    with pytest.raises(CheckpointError, match=r"param/layer0\.W must have dtype float32"):
        load_checkpoint(path)


def test_save_into_a_missing_directory_names_the_target(tmp_path):
    target = tmp_path / "no" / "such" / "dir" / "last.npz"
    with pytest.raises(FileNotFoundError) as info:
        save_checkpoint(target, _checkpoint())
    message = str(info.value)
    assert str(target) in message
    assert str(target.parent) in message
    assert ".part" not in message
    assert not (tmp_path / "no").exists()


def test_paths_must_be_paths(tmp_path):
    for bad in (None, 3, b"x.npz"):
        with pytest.raises(TypeError, match=r"path must be a str or os\.PathLike"):
            load_checkpoint(bad)
        with pytest.raises(TypeError, match=r"path must be a str or os\.PathLike"):
            save_checkpoint(bad, _checkpoint())
    with pytest.raises(CheckpointError, match="does not exist"):
        load_checkpoint(tmp_path / "missing.npz")
    with pytest.raises(CheckpointError, match="is not a file"):
        load_checkpoint(tmp_path)


def test_a_file_that_does_not_read_back_is_never_published(tmp_path, monkeypatch):
    path = tmp_path / "last.npz"
    save_checkpoint(path, _checkpoint())
    before = path.read_bytes()
    real_savez = np.savez

    def truncating_savez(handle, **arrays):
        real_savez(handle, **arrays)
        handle.truncate(handle.tell() - 10)  # a disk that loses the end of the file

    monkeypatch.setattr(checkpoint_module.np, "savez", truncating_savez)
    with pytest.raises(CheckpointError, match=r"was not written.*unchanged") as info:
        save_checkpoint(path, _checkpoint(seed_=1))
    assert str(path) in str(info.value)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.npz"]


# -------------------------------------------------------------------------- the shared rules
def test_layout_matches_the_mlp_for_every_activation():
    for activation in ACTIVATIONS:
        for sizes in ([3, 2], [4, 3, 2], [5, 4, 3, 2]):
            specs = MLP(sizes, activation=activation).params.specs
            got = _mlp_param_shapes(sizes, activation)
            assert got == {name: tuple(spec.shape) for name, spec in specs.items()}


def _set(path: str, value: Any):
    """A defect: set ckpt.<path> (``meta.model.sizes``) to ``value`` (``DELETE`` removes it)."""

    def apply(ckpt: Checkpoint) -> None:
        *parents, last = path.split(".")
        obj: Any = ckpt
        for i, part in enumerate(parents):
            obj = getattr(obj, part) if i == 0 else obj[part]
        if len(parents) == 0:
            setattr(ckpt, last, value)
        elif value is DELETE:
            del obj[last]
        else:
            obj[last] = value

    return apply


DELETE = object()
_W = "layer0.W"

#: defect -> (how to apply it, error type save raises, whether a file can hold it)
DEFECTS: dict[str, tuple[Any, type, bool]] = {
    "object param": (lambda c: c.params.update({_W: np.array([None] * 3)}), TypeError, True),
    "int param": (lambda c: c.params.update({_W: c.params[_W].astype(np.int32)}), TypeError, True),
    "float64 param in float32 model": (
        lambda c: c.params.update({_W: c.params[_W].astype(np.float64)}),
        TypeError,
        True,
    ),
    "complex param": (
        lambda c: c.params.update({_W: c.params[_W].astype(np.complex64)}),
        TypeError,
        True,
    ),
    "string param": (lambda c: c.params.update({_W: np.array("abc")}), TypeError, True),
    "param of the wrong shape": (
        lambda c: c.params.update({_W: c.params[_W].T.copy()}),
        ValueError,
        True,
    ),
    "missing param": (lambda c: c.params.pop("layer0.b"), ValueError, True),
    "unknown param": (lambda c: c.params.update({"layer9.W": np.zeros(2, "f4")}), ValueError, True),
    "non-string param name": (lambda c: c.params.update({3: np.zeros(2, "f4")}), TypeError, False),
    "params not a dict": (_set("params", [1, 2]), TypeError, False),
    "buffer of the wrong shape": (
        lambda c: c.optim["buffers"].update({"flat/m": np.zeros(3, "f4")}),
        ValueError,
        True,
    ),
    "buffer of the wrong dtype": (
        lambda c: c.optim["buffers"].update({"flat/m": c.optim["buffers"]["flat/m"].astype("f8")}),
        TypeError,
        True,
    ),
    "buffer of an unknown slot": (
        lambda c: c.optim["buffers"].update({"nowhere/m": np.zeros(3, "f4")}),
        ValueError,
        True,
    ),
    "buffer with a bad name": (
        lambda c: c.optim["buffers"].update({"flat": np.zeros(3, "f4")}),
        ValueError,
        True,
    ),
    "buffers not a dict": (_set("optim.buffers", [1]), TypeError, False),
    "no steps": (_set("optim.steps", DELETE), ValueError, True),
    "negative steps": (_set("optim.steps", -1), ValueError, True),
    "bool steps": (_set("optim.steps", True), TypeError, True),
    "float steps": (_set("optim.steps", 2.5), TypeError, True),
    "no lr": (_set("optim.lr", DELETE), ValueError, True),
    "nan lr": (_set("optim.lr", float("nan")), ValueError, True),
    "inf lr": (_set("optim.lr", float("inf")), ValueError, True),
    "negative lr": (_set("optim.lr", -0.1), ValueError, True),
    "string lr": (_set("optim.lr", "0.1"), TypeError, True),
    "meta not a dict": (_set("meta", [1]), TypeError, True),
    "meta a number": (_set("meta", 3), TypeError, True),
    "no model": (_set("meta.model", DELETE), ValueError, True),
    "no train": (_set("meta.train", DELETE), ValueError, True),
    "no epoch": (_set("meta.epoch", DELETE), ValueError, True),
    "no history": (_set("meta.history", DELETE), ValueError, True),
    "no best_val_acc": (_set("meta.best_val_acc", DELETE), ValueError, True),
    "model not a dict": (_set("meta.model", "mlp"), TypeError, True),
    "model without sizes": (_set("meta.model.sizes", DELETE), ValueError, True),
    "one size": (_set("meta.model.sizes", [6]), ValueError, True),
    "zero size": (_set("meta.model.sizes", [6, 0, 3]), ValueError, True),
    "float size": (_set("meta.model.sizes", [6, 5.0, 3]), TypeError, True),
    "bool size": (_set("meta.model.sizes", [6, True, 3]), TypeError, True),
    "sizes not a list": (_set("meta.model.sizes", "6-5-3"), ValueError, True),
    "other sizes": (_set("meta.model.sizes", [6, 4, 3]), ValueError, True),
    "unknown activation": (_set("meta.model.activation", "gelu"), ValueError, True),
    "unknown init": (_set("meta.model.init", "ones"), ValueError, True),
    "unknown dtype": (_set("meta.model.dtype", "float16"), ValueError, True),
    "train not a dict": (_set("meta.train", [1]), TypeError, True),
    "negative epoch": (_set("meta.epoch", -1), ValueError, True),
    "string epoch": (_set("meta.epoch", "2"), TypeError, True),
    "history not a list": (_set("meta.history", {"a": 1}), TypeError, True),
    "history of numbers": (_set("meta.history", [1, 2]), TypeError, True),
    "string best_val_acc": (_set("meta.best_val_acc", "0.5"), TypeError, True),
    "bool best_val_acc": (_set("meta.best_val_acc", True), TypeError, True),
    "meta not JSON": (_set("meta.extra", {1, 2}), TypeError, False),
    "numpy scalar in meta": (_set("meta.extra", np.float32(1)), TypeError, False),
    "reserved meta key": (_set("meta.format_version", 1), ValueError, False),
    "not a Checkpoint": (None, TypeError, False),
}


def _defective(name: str, base: Checkpoint) -> Any:
    apply = DEFECTS[name][0]
    if apply is None:
        return {"params": base.params, "optim": base.optim, "meta": base.meta}
    apply(base)
    return base


@pytest.mark.parametrize("defect", sorted(DEFECTS))
def test_save_and_load_refuse_the_same_defects(tmp_path, defect):
    """save_checkpoint refuses each defect, naming the part; a file holding it fails to load."""
    path = tmp_path / "last.npz"
    save_checkpoint(path, _checkpoint())
    before = path.read_bytes()
    _, error, storable = DEFECTS[defect]
    bad = _defective(defect, _checkpoint())
    with pytest.raises(error, match=r"ckpt\b") as info:
        save_checkpoint(path, bad)
    assert not isinstance(info.value, CheckpointError)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.npz"]
    if storable:
        raw = _raw_save(tmp_path / "raw.npz", bad)
        with pytest.raises(CheckpointError) as info:
            load_checkpoint(raw)
        assert str(raw) in str(info.value)


# ------------------------------------------------------------------- property-based round trip
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**60), 2**60) | st.floats() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=10,
)


@st.composite
def checkpoints(draw) -> Checkpoint:
    sizes = draw(st.lists(st.integers(1, 6), min_size=2, max_size=4))
    activation = draw(st.sampled_from(sorted(ACTIVATIONS)))
    dtype = np.dtype(draw(st.sampled_from(["float32", "float64"])))
    shapes = _mlp_param_shapes(sizes, activation)
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))

    def array(shape: tuple[int, ...]) -> np.ndarray:
        arr = rng.normal(size=shape).astype(dtype)
        if arr.size and draw(st.booleans()):
            arr.flat[0] = draw(st.sampled_from([np.nan, np.inf, -np.inf, -0.0, 1e-45]))
        layout = draw(st.sampled_from(["C", "big-endian", "Fortran"]))
        if layout == "big-endian":
            return arr.astype(arr.dtype.newbyteorder(">"))
        if layout == "Fortran" and arr.ndim == 2:
            return np.asfortranarray(arr)
        return arr

    n_params = sum(math.prod(s) for s in shapes.values())
    buffers: dict[str, np.ndarray] = {}
    for name in draw(st.lists(st.sampled_from(["m", "v", "velocity"]), unique=True, max_size=2)):
        buffers[f"flat/{name}"] = array((n_params,))
    for pname in draw(st.lists(st.sampled_from(sorted(shapes)), unique=True, max_size=2)):
        buffers[f"{pname}/m"] = array(shapes[pname])
    meta = {
        "model": {
            "sizes": sizes,
            "activation": activation,
            "init": draw(st.sampled_from(sorted(INITIALIZERS))),
            "dtype": dtype.name,
        },
        "train": draw(st.dictionaries(st.text(max_size=6), JSON_VALUES, max_size=3)),
        "epoch": draw(st.integers(0, 10**6)),
        "history": draw(
            st.lists(st.dictionaries(st.text(max_size=4), JSON_VALUES, max_size=3), max_size=3)
        ),
        "best_val_acc": draw(st.floats() | st.integers(-5, 5)),
        "notes": draw(st.text(max_size=20)),
    }
    optim = {
        "steps": draw(st.integers(0, 2**40)),
        "lr": draw(st.floats(0, 1e3)),
        "buffers": buffers,
    }
    return Checkpoint({n: array(s) for n, s in shapes.items()}, optim, meta)


@seed(20240611)
@settings(max_examples=60, **SETTINGS)
@given(ckpt=checkpoints())
def test_save_then_load_round_trips(tmp_path_factory, ckpt):
    path = save_checkpoint(tmp_path_factory.mktemp("rt") / "c.npz", ckpt)
    _assert_same(load_checkpoint(path), ckpt)


@seed(20240612)
@settings(max_examples=80, **SETTINGS)
@given(base=checkpoints(), defect=st.sampled_from(sorted(DEFECTS)))
def test_every_invalid_checkpoint_is_refused_and_the_good_file_kept(tmp_path_factory, base, defect):
    directory = tmp_path_factory.mktemp("bad")
    path = save_checkpoint(directory / "last.npz", base)
    before = path.read_bytes()
    bad = _defective(defect, _checkpoint())  # the defects name layer0.W, flat/m: a fixed model
    with pytest.raises(DEFECTS[defect][1]):
        save_checkpoint(path, bad)
    assert path.read_bytes() == before
    assert [p.name for p in directory.iterdir()] == ["last.npz"]


def test_compressed_and_big_endian_checkpoints_load(tmp_path):
    ckpt = _checkpoint(dtype="float64")
    back = load_checkpoint(_raw_save(tmp_path / "z.npz", ckpt, compressed=True))
    _assert_same(back, ckpt)


# ------------------------------------------------------------------------------ file fuzzing
def _valid_files(directory: Path) -> dict[str, tuple[Path, Checkpoint]]:
    out = {}
    for dtype in ("float32", "float64"):
        for optimizer in ("sgd", "adamw"):
            ckpt = _checkpoint((12, 8, 4), dtype=dtype, optimizer=optimizer, activation="relu")
            out[f"{dtype}-{optimizer}"] = (
                save_checkpoint(directory / f"{dtype}-{optimizer}.npz", ckpt),
                ckpt,
            )
    ckpt = _checkpoint((12, 8, 4), dtype="float64", optimizer="adamw", activation="sigmoid")
    out["float64-adamw-deflated"] = (_raw_save(directory / "z.npz", ckpt, compressed=True), ckpt)
    return out


@pytest.fixture(scope="module")
def valid_files(tmp_path_factory):
    return _valid_files(tmp_path_factory.mktemp("valid"))


def _structure_offsets(data: bytes) -> list[int]:
    """Offsets of the zip structure: each local header and .npy header, the directory, EOCD."""
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        starts = [i.header_offset for i in zf.infolist()]
        directory = zf.start_dir
    return [s + k for s in starts for k in range(0, 160)] + list(range(directory, len(data)))


@st.composite
def damage(draw, data: bytes) -> bytes:
    n = len(data)
    structure = _structure_offsets(data)
    offset = st.integers(0, n - 1) | st.sampled_from(structure)
    kind = draw(st.sampled_from(["truncate", "bits", "bytes"]))
    out = bytearray(data)
    if kind == "truncate":
        return bytes(out[: draw(st.integers(0, n - 1) | st.sampled_from(structure))])
    for _ in range(draw(st.integers(1, 8))):
        at = draw(offset)
        if kind == "bits":
            out[at] ^= 1 << draw(st.integers(0, 7))
        else:
            out[at] = draw(st.integers(0, 255))
    return bytes(out)


@seed(20240613)
@settings(max_examples=300, **SETTINGS)
@given(
    data=st.data(),
    which=st.sampled_from(
        ["float32-sgd", "float32-adamw", "float64-sgd", "float64-adamw", "float64-adamw-deflated"]
    ),
)
def test_damaged_checkpoints_load_the_same_or_raise_checkpoint_error(
    valid_files, tmp_path_factory, data, which
):
    path, ckpt = valid_files[which]
    original = path.read_bytes()
    damaged = data.draw(damage(original))
    target = tmp_path_factory.mktemp("fuzz") / "damaged.npz"
    target.write_bytes(damaged)
    result, peak = traced_peak(lambda: load_checkpoint(target))
    if isinstance(result, Exception):
        assert type(result) is CheckpointError, repr(result)
        assert str(target) in str(result)
    else:
        _assert_same(result, ckpt)  # zip CRCs: any change that still loads changed no content
    assert peak < 3 * len(original) + 2**18, f"peak {peak} bytes for a {len(original)}-byte file"
