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

import numpy as np

from numdl.data.dataset import DatasetError, atomic_write

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


def _read_bytes(path: Path) -> bytes:
    try:
        with path.open("rb") as handle:
            raw = handle.read()
    except OSError as exc:
        raise DatasetError(f"{path}: cannot read the file ({exc.strerror or exc})") from exc
    if raw[:2] == _GZIP_MAGIC:
        try:
            return gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as exc:
            raise DatasetError(
                f"{path}: corrupt or truncated gzip data ({exc}); delete the file and fetch it "
                "again"
            ) from exc
    return raw


def read_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """Read an IDX file (gzip-compressed or not) into an array of native byte order.

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
    DatasetError
        The file cannot be read, is corrupt gzip, has a wrong magic number or an unknown type
        code, a truncated header, or a payload shorter or longer than the header's dimensions
        say. The message names the file and what is wrong.
    """
    path = Path(path)
    data = _read_bytes(path)
    if len(data) < 4:
        raise DatasetError(
            f"{path}: not an IDX file: {len(data)} byte(s), shorter than the 4-byte magic number"
        )
    zero, code, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0:
        raise DatasetError(
            f"{path}: not an IDX file: magic number 0x{data[:4].hex()} does not start with "
            "0x0000 (expected e.g. 0x00000803 for images, 0x00000801 for labels)"
        )
    if code not in IDX_DTYPES:
        known = ", ".join(f"0x{c:02X} ({dt.name})" for c, dt in IDX_DTYPES.items())
        raise DatasetError(f"{path}: unknown IDX type code 0x{code:02X}; expected one of {known}")
    if ndim == 0:
        raise DatasetError(f"{path}: IDX header declares 0 dimensions; expected at least 1")
    header_len = 4 + 4 * ndim
    if len(data) < header_len:
        raise DatasetError(
            f"{path}: truncated IDX header: {ndim} dimension sizes need {header_len} bytes, "
            f"the file has {len(data)}"
        )
    dims = struct.unpack(f">{ndim}I", data[4:header_len])
    dtype = IDX_DTYPES[code]
    expected = math.prod(dims) * dtype.itemsize
    got = len(data) - header_len
    if got != expected:
        what = "truncated payload" if got < expected else "trailing bytes after the payload"
        raise DatasetError(
            f"{path}: {what}: the header declares shape {dims} of {dtype.name} "
            f"({expected} bytes) but the file holds {got} payload bytes"
        )
    payload = np.frombuffer(data, dtype=dtype, count=math.prod(dims), offset=header_len)
    return payload.reshape(dims).astype(dtype.newbyteorder("="))


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
    path = Path(path)
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
