"""Tests of numdl.data: IDX files, MNIST loading and download, the synthetic digits."""

from __future__ import annotations

import functools
import gzip
import hashlib
import http.server
import struct
import sys
import threading
import urllib.error
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from numdl.data import (
    MNIST_FILES,
    SOURCES,
    Dataset,
    DatasetError,
    DatasetNotFoundError,
    DatasetSource,
    DownloadError,
    Split,
    atomic_write,
    download_file,
    download_mnist,
    file_md5,
    load_mnist,
    load_synthetic_digits,
    read_idx,
    resolve_data_dir,
    write_idx,
)
from numdl.data import download as download_module
from numdl.data.synthetic import SEGMENTS, digit_templates


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch, tmp_path):
    """No test reads the user's NUMDL_DATA_DIR or cache, and none can reach the network."""
    monkeypatch.delenv("NUMDL_DATA_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    for var in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")


def _no_network(url, timeout):
    raise urllib.error.URLError(f"network disabled in tests ({url})")


# ----------------------------------------------------------------------------------- IDX


@pytest.mark.parametrize("suffix", ["", ".gz"])
@pytest.mark.parametrize(
    ("dtype", "shape"),
    [
        (np.uint8, (7, 28, 28)),  # images
        (np.uint8, (11,)),  # labels
        (np.int8, (3, 4)),
        (np.int16, (5, 2)),
        (np.int32, (2, 3, 2)),
        (np.float32, (6,)),
        (np.float64, (2, 2, 2, 2)),
        (np.uint8, (0, 28, 28)),  # empty
    ],
)
def test_idx_round_trip(tmp_path, dtype, shape, suffix):
    rng = np.random.default_rng(0)
    info = np.iinfo(dtype) if np.dtype(dtype).kind in "iu" else None
    if info is not None:
        array = rng.integers(info.min, info.max, size=shape, endpoint=True).astype(dtype)
    else:
        array = rng.normal(size=shape).astype(dtype)
    path = write_idx(tmp_path / f"data-idx{len(shape)}-ubyte{suffix}", array)
    back = read_idx(path)
    assert back.dtype == np.dtype(dtype)
    assert back.dtype.isnative
    assert back.shape == shape
    np.testing.assert_array_equal(back, array)
    assert back.flags.writeable
    assert (path.read_bytes()[:2] == b"\x1f\x8b") == (suffix == ".gz")


@settings(max_examples=25, deadline=None)
@given(
    array=hnp.arrays(
        dtype=st.sampled_from([np.uint8, np.int16, np.float32]),
        shape=hnp.array_shapes(min_dims=1, max_dims=4, max_side=6),
    ),
    gz=st.booleans(),
)
def test_idx_round_trip_property(tmp_path_factory, array, gz):
    path = tmp_path_factory.mktemp("idx") / ("a-idx-ubyte.gz" if gz else "a-idx-ubyte")
    back = read_idx(write_idx(path, array))
    np.testing.assert_array_equal(back, array)  # NaNs compare equal here
    assert back.dtype == array.dtype
    assert back.shape == array.shape


def test_idx_layout_is_the_published_format(tmp_path):
    labels = np.array([5, 0, 4], dtype=np.uint8)
    path = write_idx(tmp_path / "labels-idx1-ubyte", labels)
    assert path.read_bytes() == b"\x00\x00\x08\x01" + struct.pack(">I", 3) + b"\x05\x00\x04"
    ints = np.array([[1, -2]], dtype=np.int32)
    raw = write_idx(tmp_path / "ints-idx2", ints).read_bytes()
    assert raw == b"\x00\x00\x0c\x02" + struct.pack(">II", 1, 2) + struct.pack(">ii", 1, -2)


def test_read_idx_detects_gzip_by_content_not_name(tmp_path):
    array = np.arange(12, dtype=np.uint8).reshape(3, 4)
    gz = write_idx(tmp_path / "a-idx2-ubyte.gz", array)
    renamed = gz.rename(tmp_path / "a-idx2-ubyte")
    np.testing.assert_array_equal(read_idx(renamed), array)


def test_write_idx_gzip_is_reproducible(tmp_path):
    array = np.arange(100, dtype=np.uint8)
    a = write_idx(tmp_path / "a.gz", array).read_bytes()
    b = write_idx(tmp_path / "b.gz", array).read_bytes()
    assert a == b


def test_write_idx_rejects_unsupported_arrays(tmp_path):
    with pytest.raises(TypeError, match=r"array must have an IDX dtype.*int64"):
        write_idx(tmp_path / "x", np.zeros(3, dtype=np.int64))
    with pytest.raises(ValueError, match="1 to 255 dimensions"):
        write_idx(tmp_path / "x", np.uint8(3))
    assert not (tmp_path / "x").exists()


def _header(code: int, dims: tuple[int, ...]) -> bytes:
    return struct.pack(f">HBB{len(dims)}I", 0, code, len(dims), *dims)


BAD_FILES = {
    "wrong magic": (b"\x01\x02\x08\x01" + struct.pack(">I", 2) + b"\x00\x01", "magic number"),
    "text file": (b"hello, this is not IDX\n", "magic number"),
    "wrong dtype code": (_header(0x07, (2,)) + b"\x00\x01", "unknown IDX type code 0x07"),
    "zero dimensions": (b"\x00\x00\x08\x00", "0 dimensions"),
    "too short": (b"\x00\x00", "shorter than the 4-byte magic"),
    "truncated header": (b"\x00\x00\x08\x03" + struct.pack(">I", 5), "truncated IDX header"),
    "truncated payload": (_header(0x08, (3, 2, 2)) + bytes(11), "truncated payload"),
    "header/size mismatch": (_header(0x0C, (4,)) + bytes(4 * 3), "truncated payload"),
    "trailing bytes": (_header(0x08, (2, 2)) + bytes(5), "trailing bytes"),
}


@pytest.mark.parametrize("gz", [False, True], ids=["raw", "gz"])
@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_read_idx_rejects_bad_files_naming_them(tmp_path, case, gz):
    content, message = BAD_FILES[case]
    path = tmp_path / f"bad-{case.replace(' ', '_').replace('/', '_')}-idx-ubyte"
    if gz:
        path = path.with_name(path.name + ".gz")
        content = gzip.compress(content)
    path.write_bytes(content)
    with pytest.raises(DatasetError, match=message) as info:
        read_idx(path)
    assert str(path) in str(info.value)
    assert isinstance(info.value, ValueError)


def test_read_idx_rejects_corrupt_gzip_and_missing_files(tmp_path):
    good = gzip.compress(_header(0x08, (1000,)) + bytes(range(256)) * 4)
    broken = tmp_path / "broken-idx1-ubyte.gz"
    broken.write_bytes(good[: len(good) // 2])
    with pytest.raises(DatasetError, match="corrupt or truncated gzip") as info:
        read_idx(broken)
    assert str(broken) in str(info.value)
    missing = tmp_path / "nothing-here.gz"
    with pytest.raises(DatasetError, match="cannot read") as info:
        read_idx(missing)
    assert str(missing) in str(info.value)


def test_atomic_write_leaves_old_file_on_error(tmp_path):
    target = tmp_path / "file.bin"
    target.write_bytes(b"old")

    def interrupted_write():
        with atomic_write(target) as handle:
            handle.write(b"new, partial")
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        interrupted_write()
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file.bin"]
    with atomic_write(target) as handle:
        handle.write(b"new")
    assert target.read_bytes() == b"new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file.bin"]


@pytest.mark.parametrize("bad", [None, 3, b"labels-idx1-ubyte", ["a"]])
def test_read_and_write_idx_reject_non_paths(bad):
    with pytest.raises(TypeError, match=r"path must be a str or os\.PathLike"):
        read_idx(bad)
    with pytest.raises(TypeError, match=r"path must be a str or os\.PathLike"):
        write_idx(bad, np.zeros(3, dtype=np.uint8))


def test_read_idx_of_a_directory_is_a_dataset_error(tmp_path):
    with pytest.raises(DatasetError, match="cannot read") as info:
        read_idx(tmp_path)
    assert str(tmp_path) in str(info.value)


@pytest.mark.parametrize("gz", [False, True], ids=["raw", "gz"])
def test_read_idx_big_endian_payloads_come_back_native(tmp_path, gz):
    array = np.array([[1.5, -2.25], [3e38, -0.0]], dtype=np.float32)
    path = write_idx(tmp_path / ("f-idx2" + (".gz" if gz else "")), array)
    back = read_idx(path)
    assert back.dtype == np.float32
    assert back.dtype.isnative
    assert back.flags.writeable
    assert back.flags.c_contiguous
    np.testing.assert_array_equal(back, array)


def test_atomic_write_into_a_missing_directory_names_the_target(tmp_path):
    target = tmp_path / "missing" / "file.bin"
    with pytest.raises(FileNotFoundError) as info, atomic_write(target) as handle:
        handle.write(b"never")
    message = str(info.value)
    assert str(target) in message
    assert f"directory {target.parent} does not exist" in message
    assert ".part" not in message
    with pytest.raises(FileNotFoundError, match="does not exist"):
        write_idx(target, np.zeros(3, dtype=np.uint8))


def test_atomic_write_verify_failure_keeps_the_old_file(tmp_path):
    target = tmp_path / "file.bin"
    target.write_bytes(b"old")
    seen = []

    def verify(tmp: Path) -> None:
        seen.append(tmp.read_bytes())
        assert tmp.parent == target.parent
        assert tmp.name.endswith(".part")
        raise ValueError("does not read back")

    with (
        pytest.raises(ValueError, match="does not read back"),
        atomic_write(target, verify=verify) as handle,
    ):
        handle.write(b"new")
    assert seen == [b"new"]  # verify saw the complete, synced temporary file
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file.bin"]
    with atomic_write(target, verify=lambda tmp: None) as handle:
        handle.write(b"new")
    assert target.read_bytes() == b"new"


# ----------------------------------------------------------------------- fake MNIST dirs


def _fake_mnist(directory: Path, *, n_train=60, n_test=20, gz=True, seed=0, dotted=False):
    """Write four small MNIST-format files; labels cycle 0..9, pixel (0, 0) holds the index."""
    directory.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    arrays = {}
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        images[:, 0, 0] = np.arange(n) % 256
        arrays[f"{prefix}-images-idx3-ubyte"] = images
        arrays[f"{prefix}-labels-idx1-ubyte"] = (np.arange(n) % 10).astype(np.uint8)
    for stem, array in arrays.items():
        name = stem.replace("-idx", ".idx") if dotted else stem
        write_idx(directory / (name + (".gz" if gz else "")), array)
    return arrays


def test_load_mnist_from_a_fake_directory(tmp_path):
    arrays = _fake_mnist(tmp_path / "d", n_train=60, n_test=20)
    ds = load_mnist(tmp_path / "d", validation_size=10, download=False)
    assert isinstance(ds, Dataset)
    assert not ds.synthetic
    assert ds.name == "mnist"
    assert ds.source_dir == (tmp_path / "d").absolute()
    assert (len(ds.train), len(ds.val), len(ds.test)) == (50, 10, 20)
    for split in (ds.train, ds.val, ds.test):
        assert split.X.dtype == np.float32
        assert split.X.shape[1] == 784
        assert split.y.dtype == np.int64
        assert split.X.min() >= 0.0
        assert split.X.max() <= 1.0
    train_images = arrays["train-images-idx3-ubyte"]
    # train and val partition the training file, each in file order
    index = np.concatenate([ds.train.X[:, 0], ds.val.X[:, 0]]) * 255
    assert sorted(np.rint(index).astype(int)) == list(range(60))
    assert np.all(np.diff(ds.train.X[:, 0]) > 0)
    assert np.all(np.diff(ds.val.X[:, 0]) > 0)
    rows = np.rint(ds.val.X[:, 0] * 255).astype(int)
    np.testing.assert_array_equal(ds.val.X * 255, train_images[rows].reshape(10, 784))
    np.testing.assert_array_equal(ds.val.y, rows % 10)
    np.testing.assert_array_equal(ds.test.X * 255, arrays["t10k-images-idx3-ubyte"].reshape(20, -1))
    X, y = ds.test  # Split unpacks
    assert X is ds.test.X
    assert y is ds.test.y


def test_load_mnist_split_is_deterministic_per_seed(tmp_path):
    _fake_mnist(tmp_path)
    a = load_mnist(tmp_path, validation_size=15, seed=3, download=False)
    b = load_mnist(tmp_path, validation_size=15, seed=3, download=False)
    c = load_mnist(tmp_path, validation_size=15, seed=4, download=False)
    np.testing.assert_array_equal(a.val.X, b.val.X)
    np.testing.assert_array_equal(a.train.y, b.train.y)
    assert not np.array_equal(a.val.X, c.val.X)
    assert len(load_mnist(tmp_path, validation_size=0, download=False).val) == 0


@pytest.mark.parametrize(("gz", "dotted"), [(False, False), (True, True), (False, True)])
def test_load_mnist_accepts_plain_and_dotted_names(tmp_path, gz, dotted):
    _fake_mnist(tmp_path, gz=gz, dotted=dotted)
    ds = load_mnist(tmp_path, validation_size=5, download=False)
    assert len(ds.train) == 55
    assert len(ds.test) == 20


def test_load_mnist_finds_name_subdirectory_and_env_var(tmp_path, monkeypatch):
    _fake_mnist(tmp_path / "root" / "fashion-mnist", seed=1)
    ds = load_mnist(tmp_path / "root", name="fashion-mnist", validation_size=5, download=False)
    assert ds.name == "fashion-mnist"
    assert ds.source_dir == (tmp_path / "root" / "fashion-mnist").absolute()
    monkeypatch.setenv("NUMDL_DATA_DIR", str(tmp_path / "root"))
    ds_env = load_mnist(name="fashion-mnist", validation_size=5, download=False)
    np.testing.assert_array_equal(ds_env.test.X, ds.test.X)


def test_resolve_data_dir_order(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert resolve_data_dir() == tmp_path / "xdg" / "numdl" / "mnist"
    assert resolve_data_dir(name="kmnist") == tmp_path / "xdg" / "numdl" / "kmnist"
    monkeypatch.setenv("NUMDL_DATA_DIR", str(tmp_path / "env"))
    assert resolve_data_dir() == tmp_path / "env"
    assert resolve_data_dir(tmp_path / "arg") == tmp_path / "arg"
    monkeypatch.delenv("NUMDL_DATA_DIR")
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert resolve_data_dir() == tmp_path / "home" / ".cache" / "numdl" / "mnist"


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"validation_size": 60}, ValueError, "validation_size must be smaller than the 60"),
        ({"validation_size": -1}, ValueError, "validation_size must be >= 0"),
        ({"validation_size": 5.0}, TypeError, "validation_size must be an integer"),
        ({"seed": True}, TypeError, "seed must be an integer"),
    ],
)
def test_load_mnist_rejects_bad_arguments(tmp_path, kwargs, error, message):
    _fake_mnist(tmp_path)
    with pytest.raises(error, match=message):
        load_mnist(tmp_path, download=False, **kwargs)


def test_load_mnist_rejects_inconsistent_files(tmp_path):
    _fake_mnist(tmp_path)
    labels = tmp_path / "train-labels-idx1-ubyte.gz"
    write_idx(labels, np.zeros(59, dtype=np.uint8))
    with pytest.raises(DatasetError, match="59 labels for 60 images") as info:
        load_mnist(tmp_path, validation_size=5, download=False)
    assert str(labels) in str(info.value)
    write_idx(labels, np.full(60, 10, dtype=np.uint8))
    with pytest.raises(DatasetError, match=r"labels must lie in 0\.\.9"):
        load_mnist(tmp_path, validation_size=5, download=False)
    write_idx(labels, np.zeros(60, dtype=np.uint8))
    images = tmp_path / "t10k-images-idx3-ubyte.gz"
    write_idx(images, np.zeros((20, 784), dtype=np.uint8))
    with pytest.raises(DatasetError, match=r"shape \(N, rows, cols\)") as info:
        load_mnist(tmp_path, validation_size=5, download=False)
    assert str(images) in str(info.value)


def test_verify_flag_checks_published_checksums(tmp_path):
    _fake_mnist(tmp_path)
    load_mnist(tmp_path, validation_size=5, download=False)  # no checksum by default
    with pytest.raises(DatasetError, match="checksum mismatch") as info:
        load_mnist(tmp_path, validation_size=5, download=False, verify=True)
    assert "-idx" in str(info.value)
    assert str(tmp_path) in str(info.value)


# ------------------------------------------------------------------------------ download


@pytest.fixture
def mirror(tmp_path):
    """A directory of files to serve, and the md5 of the one file in it."""
    root = tmp_path / "mirror"
    root.mkdir()
    payload = bytes(range(256)) * 1000
    (root / "blob.bin").write_bytes(payload)
    return root, hashlib.md5(payload).hexdigest(), payload


@pytest.fixture
def http_server(mirror):
    """An HTTP server on 127.0.0.1 serving the mirror directory (base URL yielded)."""
    root = mirror[0]

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Quiet, directory=str(root))
    )
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def test_download_over_http_writes_verified_file(tmp_path, mirror, http_server):
    _, md5, payload = mirror
    dest = tmp_path / "dest" / "sub"
    path = download_file("blob.bin", [http_server], dest, md5=md5, progress=False)
    assert path == dest / "blob.bin"
    assert path.read_bytes() == payload
    assert [p.name for p in dest.iterdir()] == ["blob.bin"]  # no temporary file left


def test_download_falls_back_to_the_next_mirror(tmp_path, mirror, http_server):
    root, md5, payload = mirror
    mirrors = [http_server + "missing/", root.as_uri() + "/nope/", http_server]
    path = download_file("blob.bin", mirrors, tmp_path, md5=md5, progress=False)
    assert path.read_bytes() == payload


def test_download_from_file_url_and_order_of_mirrors(tmp_path, mirror, monkeypatch):
    root, md5, payload = mirror
    tried = []
    real_open = download_module._open_url

    def recording_open(url, timeout):
        tried.append(url)
        if "first" in url:
            raise urllib.error.URLError("connection refused")
        return real_open(url, timeout)

    monkeypatch.setattr(download_module, "_open_url", recording_open)
    path = download_file(
        "blob.bin", ["https://first.invalid/x", root.as_uri()], tmp_path, md5=md5, progress=False
    )
    assert tried == ["https://first.invalid/x/blob.bin", root.as_uri() + "/blob.bin"]
    assert path.read_bytes() == payload


def test_download_checksum_mismatch_leaves_nothing(tmp_path, mirror, http_server):
    root, _, _ = mirror
    dest = tmp_path / "dest"
    with pytest.raises(DownloadError, match="checksum mismatch") as info:
        download_file("blob.bin", [http_server, root.as_uri()], dest, md5="0" * 32)
    message = str(info.value)
    assert "blob.bin" in message
    assert str(dest) in message
    assert message.count("checksum mismatch: expected md5 " + "0" * 32) == 2  # both mirrors
    assert not dest.exists()


def test_download_checksum_mismatch_keeps_an_existing_file(tmp_path, mirror):
    root, _, _ = mirror
    (tmp_path / "blob.bin").write_bytes(b"previous")
    with pytest.raises(DownloadError):
        download_file("blob.bin", [root.as_uri()], tmp_path, md5="0" * 32, progress=False)
    assert (tmp_path / "blob.bin").read_bytes() == b"previous"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["blob.bin", "mirror"]


def test_download_works_without_tqdm(tmp_path, mirror, monkeypatch):
    root, md5, payload = mirror
    monkeypatch.setitem(sys.modules, "tqdm", None)
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)
    path = download_file("blob.bin", [root.as_uri()], tmp_path / "d", md5=md5, progress=True)
    assert path.read_bytes() == payload


def test_download_with_progress_bar(tmp_path, mirror, http_server, capsys):
    pytest.importorskip("tqdm")
    _, md5, payload = mirror
    path = download_file("blob.bin", [http_server], tmp_path, md5=md5, progress=True)
    assert path.read_bytes() == payload
    assert "blob.bin" in capsys.readouterr().err  # the bar's description


def test_download_reports_every_failed_mirror(tmp_path, monkeypatch):
    monkeypatch.setattr(download_module, "_open_url", _no_network)
    with pytest.raises(DownloadError) as info:
        download_file("f.gz", ["https://a.invalid/", "https://b.invalid/"], tmp_path, md5="0")
    assert "https://a.invalid/f.gz" in str(info.value)
    assert "https://b.invalid/f.gz" in str(info.value)
    with pytest.raises(ValueError, match="at least one URL"):
        download_file("f.gz", [], tmp_path, md5="0")


def test_download_mnist_then_load(tmp_path, monkeypatch):
    served = tmp_path / "served"
    _fake_mnist(served)
    md5 = {f"{stem}.gz": file_md5(served / f"{stem}.gz") for stem in MNIST_FILES}
    monkeypatch.setitem(
        SOURCES,
        "mnist",
        DatasetSource("MNIST", "x", ("https://down.invalid/", served.as_uri()), md5),
    )
    real_open = download_module._open_url

    def flaky_open(url, timeout):
        if "down.invalid" in url:
            raise urllib.error.URLError("offline")
        return real_open(url, timeout)

    monkeypatch.setattr(download_module, "_open_url", flaky_open)
    target = tmp_path / "cache"
    ds = load_mnist(target, validation_size=10, progress=False)
    assert (len(ds.train), len(ds.val), len(ds.test)) == (50, 10, 20)
    assert sorted(p.name for p in target.iterdir()) == sorted(f"{s}.gz" for s in MNIST_FILES)
    for stem in MNIST_FILES:
        assert (target / f"{stem}.gz").read_bytes() == (served / f"{stem}.gz").read_bytes()
    # A corrupt local copy is reported, not overwritten.
    (target / "t10k-labels-idx1-ubyte.gz").write_bytes(b"junk")
    with pytest.raises(DatasetError, match="checksum mismatch") as info:
        download_mnist(target, progress=False)
    assert "t10k-labels-idx1-ubyte.gz" in str(info.value)
    assert (target / "t10k-labels-idx1-ubyte.gz").read_bytes() == b"junk"


def test_download_mnist_fetches_only_missing_files(tmp_path, monkeypatch):
    _fake_mnist(tmp_path / "d", gz=False)
    (tmp_path / "d" / "t10k-labels-idx1-ubyte").unlink()
    requested = []

    def fake_open(url, timeout):
        requested.append(url)
        raise urllib.error.URLError("offline")

    monkeypatch.setattr(download_module, "_open_url", fake_open)
    with pytest.raises(DownloadError):
        download_mnist(tmp_path / "d", progress=False)
    assert requested == [m + "t10k-labels-idx1-ubyte.gz" for m in SOURCES["mnist"].mirrors]
    with pytest.raises(ValueError, match="name must be one of"):
        download_mnist(tmp_path, name="cifar")


def test_offline_without_data_explains_where_and_how(tmp_path, monkeypatch):
    monkeypatch.setattr(download_module, "_open_url", _no_network)
    target = tmp_path / "nodata"
    with pytest.raises(DatasetNotFoundError) as info:
        load_mnist(target, progress=False)
    message = str(info.value)
    assert isinstance(info.value, DatasetError)
    assert str(target) in message
    assert str(target / "mnist") in message
    for stem in MNIST_FILES:
        assert stem in message
    for url in SOURCES["mnist"].mirrors:
        assert url in message
    assert "--data-dir" in message
    assert "NUMDL_DATA_DIR" in message
    assert "network disabled in tests" in message  # why the download failed
    assert not target.exists()  # no partial downloads, not even an empty directory


def test_not_found_via_env_and_cache_names_them(tmp_path, monkeypatch):
    monkeypatch.setattr(download_module, "_open_url", _no_network)
    monkeypatch.setenv("NUMDL_DATA_DIR", str(tmp_path / "from-env"))
    with pytest.raises(DatasetNotFoundError, match="NUMDL_DATA_DIR environment variable") as info:
        load_mnist(download=False)
    assert str(tmp_path / "from-env") in str(info.value)
    assert "download is off" in str(info.value)
    monkeypatch.delenv("NUMDL_DATA_DIR")
    with pytest.raises(DatasetNotFoundError, match="default per-user cache") as info:
        load_mnist(name="kmnist", download=False)
    assert str(tmp_path / "xdg-cache" / "numdl" / "kmnist") in str(info.value)
    assert "codh.rois.ac.jp" in str(info.value)


def test_download_false_never_touches_the_network(tmp_path, monkeypatch):
    def fail(url, timeout):
        raise AssertionError(f"network used: {url}")

    monkeypatch.setattr(download_module, "_open_url", fail)
    _fake_mnist(tmp_path / "partial")
    (tmp_path / "partial" / "train-images-idx3-ubyte.gz").unlink()
    with pytest.raises(DatasetNotFoundError) as info:
        load_mnist(tmp_path / "partial", download=False)
    missing_part = str(info.value).split("Missing files")[1].split("\n\n")[0]
    assert "train-images-idx3-ubyte" in missing_part
    assert "t10k-images-idx3-ubyte" not in missing_part.split("Automatic")[0]
    with pytest.raises(DatasetNotFoundError, match="No download mirrors are known for 'emnist'"):
        load_mnist(tmp_path / "other", name="emnist")


def test_known_sources_are_complete():
    for source in SOURCES.values():
        assert set(source.md5) == {f"{stem}.gz" for stem in MNIST_FILES}
        assert all(len(h) == 32 and int(h, 16) >= 0 for h in source.md5.values())
        assert len(source.mirrors) >= 2
    assert SOURCES["mnist"].md5["train-images-idx3-ubyte.gz"] == "f68b3c2dcbeaaa9fbdd348bbdeb94873"


# ---------------------------------------------------------------------------- real MNIST

MNIST_TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
MNIST_TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


@pytest.fixture(scope="module")
def real_mnist(mnist_dir):
    return mnist_dir, load_mnist(mnist_dir, download=False)


def test_real_mnist_shapes_and_values(real_mnist):
    directory, ds = real_mnist
    assert ds.name == "mnist"
    assert not ds.synthetic
    assert ds.image_shape == (28, 28)
    assert ds.source_dir == directory.absolute()
    for split, n in ((ds.train, 55000), (ds.val, 5000), (ds.test, 10000)):
        assert split.X.shape == (n, 784)
        assert split.X.dtype == np.float32
        assert split.y.shape == (n,)
        assert split.y.dtype == np.int64
        assert split.X.min() == 0.0
        assert split.X.max() == 1.0
        assert 0.10 < split.X.mean() < 0.14  # MNIST's mean pixel is about 0.13
    counts = np.bincount(ds.train.y, minlength=10) + np.bincount(ds.val.y, minlength=10)
    assert counts.tolist() == MNIST_TRAIN_COUNTS
    assert np.bincount(ds.test.y, minlength=10).tolist() == MNIST_TEST_COUNTS
    assert ds.test.y[:5].tolist() == [7, 2, 1, 0, 4]
    assert np.all(np.bincount(ds.val.y, minlength=10) > 350)  # a random, not a sorted, subset
    assert "55000" in ds.describe()
    assert "SYNTHETIC" not in ds.describe()


def test_real_mnist_split_is_the_documented_seeded_subset(real_mnist):
    directory, ds = real_mnist
    labels = read_idx(next(directory.glob("train-labels-idx1-ubyte*")))
    is_val = np.zeros(60000, dtype=bool)
    is_val[np.random.default_rng(0).permutation(60000)[:5000]] = True
    np.testing.assert_array_equal(ds.val.y, labels[is_val])
    np.testing.assert_array_equal(ds.train.y, labels[~is_val])


def test_real_mnist_files_match_published_checksums(real_mnist):
    directory, _ = real_mnist
    for name, md5 in SOURCES["mnist"].md5.items():
        if (directory / name).is_file():
            assert file_md5(directory / name) == md5, name


# ----------------------------------------------------------------------------- synthetic


def test_synthetic_digits_shapes_and_flags():
    ds = load_synthetic_digits(n_train=500, n_val=100, n_test=200, seed=1)
    assert ds.synthetic
    assert ds.name == "synthetic-digits"
    assert ds.source_dir is None
    assert "SYNTHETIC" in ds.describe()
    for split, n in ((ds.train, 500), (ds.val, 100), (ds.test, 200)):
        assert split.X.shape == (n, 784)
        assert split.X.dtype == np.float32
        assert split.y.shape == (n,)
        assert split.y.dtype == np.int64
        assert split.X.min() >= 0.0
        assert split.X.max() <= 1.0
        counts = np.bincount(split.y, minlength=10)
        assert counts.size == 10
        assert counts.max() - counts.min() <= 1


def test_synthetic_digits_are_deterministic_and_not_identical():
    a = load_synthetic_digits(n_train=300, n_val=50, n_test=50, seed=7)
    b = load_synthetic_digits(n_train=300, n_val=50, n_test=50, seed=7)
    c = load_synthetic_digits(n_train=300, n_val=50, n_test=50, seed=8)
    d = load_synthetic_digits(n_train=100, n_val=50, n_test=50, seed=7)
    np.testing.assert_array_equal(a.train.X, b.train.X)
    np.testing.assert_array_equal(a.test.y, b.test.y)
    assert not np.array_equal(a.train.X, c.train.X)
    np.testing.assert_array_equal(a.test.X, d.test.X)  # split streams are independent
    X = a.train.X
    assert len(np.unique(X, axis=0)) == len(X)
    same_class = X[a.train.y == 3]
    assert np.abs(same_class[0] - same_class[1]).max() > 0.3


def test_synthetic_templates_are_distinct_seven_segment_digits():
    templates = digit_templates()
    assert templates.shape == (10, 28, 28)
    flat = templates.reshape(10, -1)
    distances = np.abs(flat[:, None] - flat[None]).sum(-1)
    assert np.all(distances[~np.eye(10, dtype=bool)] >= 15)  # e.g. 3 vs 9: 5x3 px of f
    assert flat[8].sum() > flat[1].sum()  # "8" lights every segment, "1" two
    assert len(SEGMENTS) == 10
    clean = load_synthetic_digits(n_train=20, n_val=0, n_test=0, noise=0.0, max_shift=0)
    X, y = clean.train
    ink = X.max(axis=1)
    np.testing.assert_allclose(X, flat[y] * ink[:, None], rtol=1e-6)
    assert np.all((ink >= 0.6) & (ink <= 1.0))


def test_synthetic_digits_are_learnable_by_a_linear_readout():
    ds = load_synthetic_digits(n_train=3000, n_val=0, n_test=1000, seed=0)
    X, y = ds.train
    targets = np.eye(10)[y]
    W = np.linalg.solve(X.T @ X + 10.0 * np.eye(784), X.T @ targets)
    accuracy = np.mean(np.argmax(ds.test.X @ W, axis=1) == ds.test.y)
    assert accuracy >= 0.9


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"n_train": 0}, ValueError),
        ({"n_val": -1}, ValueError),
        ({"n_test": 2.5}, TypeError),
        ({"noise": -0.1}, ValueError),
        ({"noise": float("nan")}, ValueError),
        ({"max_shift": 5}, ValueError),
        ({"seed": -1}, ValueError),
    ],
)
def test_synthetic_digits_reject_bad_arguments(kwargs, error):
    with pytest.raises(error, match=next(iter(kwargs))):
        load_synthetic_digits(**kwargs)


def test_split_checks_shapes():
    with pytest.raises(ValueError, match="Split needs"):
        Split(np.zeros((3, 4), np.float32), np.zeros(2, np.int64))
