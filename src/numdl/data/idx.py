"""Read and write IDX files, the format of MNIST, Fashion-MNIST and KMNIST.

An IDX file is a header followed by a big-endian, row-major payload:

==========  ===============================================================================
bytes 0-1   ``0x00 0x00``
byte 2      type code: ``0x08`` uint8, ``0x09`` int8, ``0x0B`` int16, ``0x0C`` int32,
            ``0x0D`` float32, ``0x0E`` float64
byte 3      number of dimensions ``ndim`` (>= 1)
then        ``ndim`` dimension sizes, each a big-endian uint32
then        ``prod(dims)`` items of the type
==========  ===============================================================================

Files may be gzip-compressed; :func:`read_idx` recognises gzip by its content (the magic
``1f 8b``), :func:`write_idx` compresses when the file name ends in ``.gz``.
"""

from __future__ import annotations

import gzip
import math
import os
import struct
import zlib
from pathlib import Path
from typing import IO

import numpy as np

from numdl.data.dataset import DatasetError, atomic_write, check_path

__all__ = ["IDX_DTYPES", "read_idx", "write_idx"]

#: IDX type code -> big-endian NumPy dtype of the payload.
IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_CODE_OF_KIND: dict[tuple[str, int], int] = {
    (dt.kind, dt.itemsize): code for code, dt in IDX_DTYPES.items()
}
_GZIP_MAGIC = b"\x1f\x8b"


#: No deflate stream expands more than this (zlib's technical notes): a gzip file of n bytes
#: cannot hold more than about 1032 * n bytes, whatever its header declares.
_DEFLATE_MAX_RATIO = 1032
_CHUNK = 1 << 20


def _read_upto(stream: IO[bytes], n: int) -> bytes:
    """``n`` bytes, or fewer only where the stream ends."""
    parts, got = [], 0
    while got < n:
        chunk = stream.read(min(n - got, _CHUNK))
        if not chunk:
            break
        parts.append(chunk)
        got += len(chunk)
    return b"".join(parts)


def read_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """Read an IDX file (gzip-compressed or not) into an array of native byte order.

    The header is read and checked first; the payload is then read (decompressed) only up to
    the size the header declares, plus one byte to detect trailing data. A header declaring
    more than the file can hold (its size; for gzip, 1032 times its size, the largest deflate
    ratio) is refused before anything is allocated or decompressed, and payload memory grows
    with the data actually read, so a malformed file or a gzip bomb costs at most about twice
    the payload a valid file with that header holds.

    Parameters
    ----------
    path : str or path-like
        An ``*-idx1-ubyte``, ``*-idx3-ubyte``, ... file, optionally gzipped (``.gz``).

    Returns
    -------
    numpy.ndarray
        A new writeable array with the header's shape and the dtype of its type code
        (``uint8`` for MNIST images and labels).

    Raises
    ------
    TypeError
        ``path`` is not a ``str`` or ``os.PathLike``.
    DatasetError
        The file cannot be read, is corrupt gzip, has a wrong magic number or an unknown type
        code, a truncated header, or a payload shorter or longer than the header's dimensions
        say. The message names the file and what is wrong.
    """
    path = check_path(path)
    try:
        raw = path.open("rb")
    except OSError as exc:
        raise DatasetError(f"{path}: cannot read the file ({exc.strerror or exc})") from exc
    with raw:
        try:
            size = os.fstat(raw.fileno()).st_size
            gzipped = raw.read(2) == _GZIP_MAGIC
            trailer = b""
            if gzipped and size >= 4:
                raw.seek(-4, os.SEEK_END)
                trailer = raw.read(4)  # ISIZE: the (last member's) length mod 2**32
            raw.seek(0)
        except OSError as exc:
            raise DatasetError(f"{path}: cannot read the file ({exc.strerror or exc})") from exc
        if not gzipped:
            return _read_stream(raw, path, size, None)
        try:
            with gzip.GzipFile(fileobj=raw, mode="rb") as stream:
                return _read_stream(stream, path, size * _DEFLATE_MAX_RATIO, trailer)
        except (OSError, EOFError, zlib.error) as exc:
            raise DatasetError(
                f"{path}: corrupt or truncated gzip data ({exc}); delete the file and fetch it "
                "again"
            ) from exc


def _read_stream(stream: IO[bytes], path: Path, limit: int, trailer: bytes | None) -> np.ndarray:
    """Header, then payload, from ``stream``.

    ``trailer`` is ``None`` for an uncompressed file, whose size ``limit`` is exact, and the
    gzip ISIZE trailer otherwise (``limit`` then bounds what the stream can expand to).
    """
    head = _read_upto(stream, 4)
    if len(head) < 4:
        raise DatasetError(
            f"{path}: not an IDX file: {len(head)} byte(s), shorter than the 4-byte magic number"
        )
    zero, code, ndim = struct.unpack(">HBB", head)
    if zero != 0:
        raise DatasetError(
            f"{path}: not an IDX file: magic number 0x{head.hex()} does not start with "
            "0x0000 (expected e.g. 0x00000803 for images, 0x00000801 for labels)"
        )
    if code not in IDX_DTYPES:
        known = ", ".join(f"0x{c:02X} ({dt.name})" for c, dt in IDX_DTYPES.items())
        raise DatasetError(f"{path}: unknown IDX type code 0x{code:02X}; expected one of {known}")
    if ndim == 0:
        raise DatasetError(f"{path}: IDX header declares 0 dimensions; expected at least 1")
    header_len = 4 + 4 * ndim
    sizes = _read_upto(stream, 4 * ndim)
    if len(sizes) < 4 * ndim:
        raise DatasetError(
            f"{path}: truncated IDX header: {ndim} dimension sizes need {header_len} bytes, "
            f"the file has {4 + len(sizes)}"
        )
    dims = struct.unpack(f">{ndim}I", sizes)
    dtype = IDX_DTYPES[code]
    expected = math.prod(dims) * dtype.itemsize

    def mismatch(got: int | None, holds: str | None = None) -> DatasetError:
        short = got is not None and got < expected
        what = "truncated payload" if short else "trailing bytes after the payload"
        return DatasetError(
            f"{path}: {what}: the header declares shape {dims} of {dtype.name} "
            f"({expected} bytes) but the file holds {holds or got} payload bytes"
        )

    if trailer is None:  # uncompressed: the size is known, check it before reading
        if limit - header_len != expected:
            raise mismatch(limit - header_len)
        payload = np.empty(expected, dtype=np.uint8)
        if stream.readinto(memoryview(payload)) != expected:
            raise mismatch(0, "fewer than the file size says")
    elif expected > limit:
        raise mismatch(0, f"at most {limit} (a gzip file of {limit // _DEFLATE_MAX_RATIO} bytes)")
    elif struct.unpack("<I", trailer.rjust(4, b"\0"))[0] == (header_len + expected) % 2**32:
        payload = np.empty(expected, dtype=np.uint8)  # the trailer agrees: read in place
        view, got = memoryview(payload), 0
        while got < expected and (chunk := stream.read(min(_CHUNK, expected - got))):
            view[got : got + len(chunk)] = chunk
            got += len(chunk)
        if got < expected:
            raise mismatch(got)
    else:  # the trailer disagrees (or a multi-member gzip): grow with the data, then copy
        parts = []
        got = 0
        while got < expected and (chunk := stream.read(min(_CHUNK, expected - got))):
            parts.append(chunk)
            got += len(chunk)
        if got < expected:
            raise mismatch(got)
        joined = bytearray().join(parts)  # writeable: the array shares it, no second copy
        del parts
        payload = np.frombuffer(joined, dtype=np.uint8)
    if stream.read(1):
        raise mismatch(None, f"more than {expected}")
    array = payload.view(dtype).reshape(dims)
    if not dtype.isnative:
        array.byteswap(inplace=True)
        array = array.view(dtype.newbyteorder("="))
    return array


def write_idx(path: str | os.PathLike[str], array: np.ndarray) -> Path:
    """Write ``array`` as an IDX file, gzip-compressed when ``path`` ends in ``.gz``.

    The file is written atomically (temporary file in the same directory, then renamed), so a
    reader never sees a partial file. Gzip output is reproducible (timestamp 0).

    Parameters
    ----------
    path : str or path-like
        Destination; its directory must exist.
    array : array_like
        1 to 255 dimensions, each < 2**32, of dtype uint8, int8, int16, int32, float32 or
        float64.

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    TypeError
        ``array`` has a dtype IDX cannot store (e.g. int64: cast it first).
    ValueError
        ``array`` is 0-D, has more than 255 dimensions, or a dimension >= 2**32.
    """
    path = check_path(path)
    arr = np.asarray(array)
    code = _CODE_OF_KIND.get((arr.dtype.kind, arr.dtype.itemsize))
    if code is None:
        kinds = ", ".join(dt.name for dt in IDX_DTYPES.values())
        raise TypeError(f"array must have an IDX dtype ({kinds}), got {arr.dtype}")
    if not 1 <= arr.ndim <= 255:
        raise ValueError(f"array must have 1 to 255 dimensions for IDX, got {arr.ndim}")
    if any(d >= 2**32 for d in arr.shape):
        raise ValueError(f"array dimensions must be < 2**32 for IDX, got shape {arr.shape}")
    header = struct.pack(f">HBB{arr.ndim}I", 0, code, arr.ndim, *arr.shape)
    payload = np.ascontiguousarray(arr, dtype=IDX_DTYPES[code]).tobytes()
    with atomic_write(path) as handle:
        if path.name.endswith(".gz"):
            with gzip.GzipFile(filename="", mode="wb", fileobj=handle, mtime=0) as gz:
                gz.write(header)
                gz.write(payload)
        else:
            handle.write(header)
            handle.write(payload)
    return path
