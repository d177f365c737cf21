"""Download a file from a list of mirrors, with a progress bar, md5 check and atomic write.

No network access happens at import time or anywhere else in numdl except through
:func:`download_file` (and :func:`numdl.data.download_mnist`, which calls it).
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import os
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Any

from numdl.data.dataset import DatasetError, DownloadError, atomic_write

__all__ = ["DEFAULT_TIMEOUT", "download_file", "file_md5"]

#: Seconds urllib waits on connecting and on each read before giving up on a mirror.
DEFAULT_TIMEOUT = 30.0
_CHUNK = 1 << 16


def file_md5(path: str | os.PathLike[str]) -> str:
    """Return the hexadecimal md5 digest of the file at ``path`` (read in 64 KiB chunks)."""
    digest = hashlib.md5(usedforsecurity=False)
    with Path(path).open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _open_url(url: str, timeout: float) -> Any:
    """Open ``url`` for reading (the one place numdl touches the network; tests replace it)."""
    request = urllib.request.Request(url, headers={"User-Agent": "numdl"})
    return urllib.request.urlopen(request, timeout=timeout)


@contextlib.contextmanager
def _progress(total: int | None, desc: str, enabled: bool) -> Iterator[Any]:
    """A tqdm byte counter on stderr, or a no-op when disabled or tqdm is not installed."""
    bar = None
    if enabled:
        try:
            from tqdm.auto import tqdm
        except ImportError:
            bar = None
        else:
            bar = tqdm(
                total=total, desc=desc, unit="B", unit_scale=True, unit_divisor=1024, leave=False
            )
    try:
        yield bar
    finally:
        if bar is not None:
            bar.close()


class _ChecksumMismatch(Exception):
    pass


class _LocalWriteError(Exception):
    pass


def _mirror_url(mirror: str, filename: str) -> str:
    return mirror if mirror.endswith(filename) else mirror.rstrip("/") + "/" + filename


def _fetch_one(url: str, handle: IO[bytes], md5: str, timeout: float, progress: bool) -> None:
    digest = hashlib.md5(usedforsecurity=False)
    with _open_url(url, timeout) as response:
        length = response.headers.get("Content-Length") if response.headers else None
        total = int(length) if length and length.isdigit() else None
        received = 0
        with _progress(total, url.rsplit("/", 1)[-1], progress) as bar:
            while chunk := response.read(_CHUNK):
                digest.update(chunk)
                try:
                    handle.write(chunk)
                except OSError as exc:
                    raise _LocalWriteError from exc
                received += len(chunk)
                if bar is not None:
                    bar.update(len(chunk))
    if total is not None and received != total:
        raise _ChecksumMismatch(f"incomplete download: got {received} of {total} bytes")
    if digest.hexdigest() != md5.lower():
        raise _ChecksumMismatch(
            f"checksum mismatch: expected md5 {md5.lower()}, got {digest.hexdigest()}"
        )


def download_file(
    filename: str,
    mirrors: Sequence[str],
    dest_dir: str | os.PathLike[str],
    *,
    md5: str,
    timeout: float = DEFAULT_TIMEOUT,
    progress: bool = True,
) -> Path:
    """Download ``filename`` from the first mirror that serves it with the right md5.

    Each mirror is a base URL (``https://host/path/``; the file name is appended) or a full
    URL ending in ``filename``. Mirrors are tried in order; a mirror that fails (network error,
    HTTP error, timeout, short read or checksum mismatch) is skipped for the next one. The
    data stream into a temporary file in ``dest_dir`` that is renamed to ``filename`` only
    once its md5 matches, so an interrupted or corrupt download never leaves a file behind.

    Parameters
    ----------
    filename : str
        Name of the file on the mirrors and in ``dest_dir``.
    mirrors : sequence of str
        URLs to try in turn (``http``, ``https`` or ``file``).
    dest_dir : str or path-like
        Directory to write into; created (with parents) if missing, and removed again
        if it was created and every mirror failed.
    md5 : str
        Expected hexadecimal md5 of the file.
    timeout : float, optional
        Seconds to wait on connecting and on each read (default 30).
    progress : bool, optional
        Show a tqdm progress bar on stderr (skipped silently when tqdm is not installed).

    Returns
    -------
    pathlib.Path
        The written file, ``dest_dir / filename``.

    Raises
    ------
    DownloadError
        Every mirror failed; the message names the file and gives each URL's failure.
    DatasetError
        ``dest_dir`` cannot be created or written.
    """
    if not mirrors:
        raise ValueError("mirrors must list at least one URL, got none")
    dest_dir = Path(dest_dir)
    created = [d for d in (dest_dir, *dest_dir.parents) if not d.exists()]
    try:
        dest_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DatasetError(f"{dest_dir}: cannot create the download directory ({exc})") from exc
    if not os.access(dest_dir, os.W_OK):
        raise DatasetError(f"{dest_dir}: the download directory is not writable")
    dest = dest_dir / filename
    failures: list[str] = []
    for mirror in mirrors:
        url = _mirror_url(mirror, filename)
        try:
            with atomic_write(dest) as handle:
                _fetch_one(url, handle, md5, timeout, progress)
        except _LocalWriteError as exc:
            raise DatasetError(f"{dest}: cannot write the download ({exc.__cause__})") from exc
        except _ChecksumMismatch as exc:
            failures.append(f"{url}: {exc}")
        except (OSError, http.client.HTTPException, ValueError) as exc:
            failures.append(f"{url}: {_reason(exc)}")
        else:
            return dest
    for directory in created:  # leave no empty directories behind after a failed download
        with contextlib.suppress(OSError):
            directory.rmdir()
    raise DownloadError(
        f"could not download {filename} into {dest_dir}; every mirror failed:\n  "
        + "\n  ".join(failures)
    )


def _reason(exc: BaseException) -> str:
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code} {exc.reason}"
    if isinstance(exc, urllib.error.URLError):
        return f"{exc.reason}"
    return f"{type(exc).__name__}: {exc}"
