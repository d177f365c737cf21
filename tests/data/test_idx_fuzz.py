"""Damaged and hostile IDX files: only DatasetError, and memory bounded by the valid payload.

Hypothesis draws (per run, seeded, no example database): 250 damaged files (truncated, bits
flipped, bytes overwritten; plain and gzipped, four dtypes). The gzip bombs are fixed cases,
measured with tracemalloc and, for the decompression itself, in a subprocess by peak RSS.
"""

from __future__ import annotations

import gzip
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from numdl.data import DatasetError, read_idx, write_idx
from numdl.testing.memory import traced_peak

SETTINGS = {"deadline": None, "database": None, "suppress_health_check": [HealthCheck.too_slow]}
MiB = 2**20


def _header(code: int, dims: tuple[int, ...]) -> bytes:
    return struct.pack(f">HBB{len(dims)}I", 0, code, len(dims), *dims)


def _zeros_gzip(header: bytes, n_zeros: int) -> bytes:
    """A gzip member of ``header`` + ``n_zeros`` zero bytes, built without holding them."""
    comp = zlib.compressobj(9, zlib.DEFLATED, 31)  # wbits 31: gzip framing
    parts = [comp.compress(header)]
    block = bytes(MiB)
    for start in range(0, n_zeros, MiB):
        parts.append(comp.compress(block[: min(MiB, n_zeros - start)]))
    parts.append(comp.flush())
    return b"".join(parts)


@pytest.fixture(scope="module")
def valid_files(tmp_path_factory) -> dict[str, tuple[Path, np.ndarray]]:
    directory = tmp_path_factory.mktemp("idx")
    rng = np.random.default_rng(7)
    arrays = {
        "u8": rng.integers(0, 256, size=(9, 7, 5), dtype=np.uint8),
        "i16": rng.integers(-(2**15), 2**15, size=(40, 3), dtype=np.int16),
        "f32": rng.normal(size=(33,)).astype(np.float32),
        "f64": rng.normal(size=(4, 4, 4)).astype(np.float64),
    }
    out = {}
    for name, array in arrays.items():
        for suffix in ("", ".gz"):
            out[name + suffix] = (write_idx(directory / f"{name}-idx{suffix}", array), array)
    return out


@st.composite
def damage(draw, data: bytes, header_len: int) -> bytes:
    """Truncate, or flip bits / overwrite bytes, half the time in the header (or gzip frame)."""
    n = len(data)
    hot = list(range(min(n, max(header_len, 24)))) + list(range(max(0, n - 8), n))
    offset = st.integers(0, n - 1) | st.sampled_from(hot)
    kind = draw(st.sampled_from(["truncate", "bits", "bytes"]))
    if kind == "truncate":
        return data[: draw(offset)]
    out = bytearray(data)
    for _ in range(draw(st.integers(1, 6))):
        at = draw(offset)
        out[at] = (
            out[at] ^ (1 << draw(st.integers(0, 7)))
            if kind == "bits"
            else draw(st.integers(0, 255))
        )
    return bytes(out)


@seed(20240614)
@settings(max_examples=250, **SETTINGS)
@given(data=st.data(), which=st.sampled_from(["u8", "i16", "f32", "f64"]), gz=st.booleans())
def test_damaged_idx_reads_validly_or_raises_dataset_error(
    valid_files, tmp_path_factory, data, which, gz
):
    path, array = valid_files[which + (".gz" if gz else "")]
    original = path.read_bytes()
    damaged = data.draw(damage(original, 4 + 4 * array.ndim))
    target = tmp_path_factory.mktemp("fuzz") / "damaged-idx"
    target.write_bytes(damaged)
    result, peak = traced_peak(lambda: read_idx(target))
    if isinstance(result, Exception):
        assert type(result) is DatasetError, repr(result)
        assert str(target) in str(result)
    else:
        assert isinstance(result, np.ndarray)
        assert result.dtype.isnative
        assert result.flags.writeable
        if gz:  # gzip's CRC-32: whatever still reads is the original
            np.testing.assert_array_equal(result, array)
            assert result.dtype == array.dtype
        else:  # no checksum: a valid file again, whose header matches its size
            assert 4 + 4 * result.ndim + result.nbytes == len(damaged)
    payload = array.nbytes
    assert peak < 3 * payload + 256 * 1024, f"peak {peak} B for a {payload} B payload"


def test_gzip_bomb_declaring_a_small_payload_stops_after_it(tmp_path):
    """~64 KiB of gzip expanding to 64 MiB behind a header for 10 bytes: read 11, refuse."""
    path = tmp_path / "bomb-idx1-ubyte.gz"
    path.write_bytes(_zeros_gzip(_header(0x08, (10,)), 64 * MiB))
    assert path.stat().st_size < 128 * 1024
    result, peak = traced_peak(lambda: read_idx(path))
    assert isinstance(result, DatasetError)
    assert "trailing bytes" in str(result)
    assert str(path) in str(result)
    assert peak < 2 * MiB


def test_gzip_bomb_declaring_a_huge_payload_is_refused_before_reading(tmp_path):
    """A small gzip whose header declares 2**62 bytes: more than any gzip of its size holds."""
    path = tmp_path / "huge-idx2-ubyte.gz"
    path.write_bytes(_zeros_gzip(_header(0x08, (2**31, 2**31)), 4 * MiB))
    result, peak = traced_peak(lambda: read_idx(path))
    assert isinstance(result, DatasetError)
    assert "truncated payload" in str(result)
    assert "gzip file of" in str(result)
    assert peak < 2 * MiB


@pytest.mark.parametrize("trailer", ["natural", "forged"])
def test_gzip_declaring_more_than_it_holds_costs_the_data_read(tmp_path, trailer):
    """Header for 32 MiB, stream of 1 MiB: memory follows the data unless ISIZE is forged."""
    declared, held = 32 * MiB, MiB
    data = _zeros_gzip(_header(0x08, (declared,)), held)
    if trailer == "forged":  # ISIZE agreeing with the header: then the payload is preallocated
        data = data[:-4] + struct.pack("<I", (8 + declared) % 2**32)
    path = tmp_path / "short-idx1-ubyte.gz"
    path.write_bytes(data)
    result, peak = traced_peak(lambda: read_idx(path))
    assert isinstance(result, DatasetError)
    assert "truncated payload" in str(result) or "corrupt" in str(result)
    bound = 3 * held + MiB if trailer == "natural" else declared + 2 * MiB
    assert peak < bound


def test_valid_gzip_costs_about_its_payload(tmp_path):
    array = np.zeros((16, 1024, 1024), dtype=np.uint8)
    array[::3, ::7, ::5] = 9
    path = write_idx(tmp_path / "big-idx3-ubyte.gz", array)
    result, peak = traced_peak(lambda: read_idx(path))
    np.testing.assert_array_equal(result, array)
    assert peak < 1.2 * array.nbytes + 2 * MiB


def test_multi_member_gzip_reads_and_stays_bounded(tmp_path):
    array = np.arange(3 * MiB, dtype=np.uint8)
    raw = _header(0x08, array.shape) + array.tobytes()
    path = tmp_path / "two-members-idx1-ubyte.gz"
    path.write_bytes(gzip.compress(raw[: MiB + 5]) + gzip.compress(raw[MiB + 5 :]))
    result, peak = traced_peak(lambda: read_idx(path))
    np.testing.assert_array_equal(result, array)
    assert peak < 2.5 * array.nbytes + 2 * MiB


def test_plain_file_with_a_huge_header_is_refused_without_reading(tmp_path):
    path = tmp_path / "huge-idx4-ubyte"
    path.write_bytes(_header(0x0E, (2**32 - 1,) * 4) + bytes(64))
    result, peak = traced_peak(lambda: read_idx(path))
    assert isinstance(result, DatasetError)
    assert "trailing bytes" not in str(result)
    assert "truncated payload" in str(result)
    assert peak < 256 * 1024


def test_gzip_bomb_resident_memory_stays_small(tmp_path):
    """The issue's measurement: peak RSS of a process reading a bomb (was 635 MB)."""
    path = tmp_path / "bomb-idx1-ubyte.gz"
    path.write_bytes(_zeros_gzip(_header(0x08, (10,)), 300 * MiB))
    script = (
        "import resource, sys\n"
        "from numdl.data import DatasetError, read_idx\n"
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "try:\n"
        "    read_idx(sys.argv[1])\n"
        "except DatasetError as exc:\n"
        "    assert 'trailing bytes' in str(exc), exc\n"
        "else:\n"
        "    raise SystemExit('no error')\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(path)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert int(done.stdout) < 32 * 1024  # KiB on Linux: under 32 MiB of growth
