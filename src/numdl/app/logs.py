"""Run logs: one CSV row per epoch, flushed at once, resumable (textbook ch. 5, section 3.4.2)."""

from __future__ import annotations

import csv
import errno
import io
import os
from collections.abc import Sequence
from typing import Any, TextIO

from numdl.data.dataset import check_path

__all__ = ["CSVLogger"]

#: Most characters read from an existing file to find its header row.
_HEADER_LIMIT = 1 << 16


class CSVLogger:
    """Append one CSV row per ``log(**row)`` call, flushed at once (section 3.4.2).

    The header is written when the file is new or empty. An existing file with the same
    header is appended to (resuming a run); one with a different header is an error rather
    than a silently mixed file. Use it as a context manager, or call :meth:`close`.

    Parameters
    ----------
    path : str or os.PathLike
        The CSV file (created if missing; its directory must exist: it is not created, so a
        mistyped directory is an error rather than a new tree).
    fieldnames : sequence of str
        Column names, non-empty and unique; every ``log`` call gives exactly these.

    Raises
    ------
    TypeError
        If ``path`` is not a ``str`` or ``os.PathLike``, or ``fieldnames`` is not a sequence of
        strings.
    ValueError
        If ``fieldnames`` is empty or repeats a name, or ``path`` has another header or is not
        a UTF-8 CSV file.
    FileNotFoundError
        If the directory of ``path`` does not exist (the message names both).
    OSError
        If ``path`` is a directory or cannot be opened (the message names it).

    Examples
    --------
    >>> with CSVLogger("log.csv", ["epoch", "loss"]) as log:  # doctest: +SKIP
    ...     log.log(epoch=1, loss=0.25)
    """

    def __init__(self, path: str | os.PathLike[str], fieldnames: Sequence[str]) -> None:
        if isinstance(fieldnames, str) or not isinstance(fieldnames, Sequence):
            raise TypeError(
                f"fieldnames must be a sequence of strings, got {type(fieldnames).__name__}"
            )
        names = list(fieldnames)
        if not names:
            raise ValueError("fieldnames must name at least one column, got none")
        if not all(isinstance(name, str) for name in names):
            raise TypeError(f"fieldnames must be a sequence of strings, got {names!r}")
        if len(set(names)) != len(names):
            raise ValueError(f"fieldnames must be unique, got {names!r}")
        self.path = os.fspath(check_path(path))
        self.fieldnames: tuple[str, ...] = tuple(names)
        directory = os.path.dirname(self.path) or "."
        if not os.path.isdir(directory):
            raise FileNotFoundError(
                errno.ENOENT,
                f"cannot log to {self.path!r}: the directory {directory!r} does not exist "
                "(create it first)",
                self.path,
            )
        if os.path.isdir(self.path):
            raise IsADirectoryError(
                errno.EISDIR, f"cannot log to {self.path!r}: it is a directory", self.path
            )

        existing = self._read_header()
        if existing is not None and existing != list(names):
            raise ValueError(
                f"path {self.path!r} already has the header {existing!r}, which differs from "
                f"fieldnames {names!r}; use another file or the same fieldnames to resume"
            )
        try:
            handle = open(self.path, "a", newline="", encoding="utf-8")  # noqa: SIM115
        except OSError as exc:
            raise type(exc)(
                exc.errno, f"cannot log to {self.path!r}: {exc.strerror or exc}", self.path
            ) from None
        self._file: TextIO | None = handle
        self._writer = csv.DictWriter(self._file, fieldnames=names)
        if existing is None:
            self._writer.writeheader()
            self._file.flush()

    def _read_header(self) -> list[str] | None:
        """The header row of an existing non-empty file, else ``None``.

        Reads at most :data:`_HEADER_LIMIT` characters, whatever the file holds.
        """
        if not os.path.exists(self.path) or os.path.getsize(self.path) == 0:
            return None
        try:
            with open(self.path, newline="", encoding="utf-8") as f:
                start = f.read(_HEADER_LIMIT)
            return next(csv.reader(io.StringIO(start)), None)
        except OSError as exc:
            raise type(exc)(
                exc.errno, f"cannot read the log {self.path!r}: {exc.strerror or exc}", self.path
            ) from None
        except (UnicodeDecodeError, csv.Error) as exc:
            raise ValueError(
                f"path {self.path!r} exists but is not a UTF-8 CSV log ({exc}); use another file"
            ) from None

    def log(self, **row: Any) -> None:
        """Write one row (one value per field name) and flush it to disk.

        Raises
        ------
        ValueError
            If a field is missing or unknown (both are named), or the logger is closed.
        """
        if self._file is None:
            raise ValueError(f"CSVLogger for {self.path!r} is closed")
        unknown = [key for key in row if key not in self.fieldnames]
        missing = [name for name in self.fieldnames if name not in row]
        if unknown or missing:
            raise ValueError(
                f"row must give exactly the fieldnames {list(self.fieldnames)!r}: "
                f"unknown field(s) {unknown!r}, missing field(s) {missing!r}"
            )
        self._writer.writerow(row)
        self._file.flush()

    def close(self) -> None:
        """Close the file (idempotent)."""
        if self._file is not None:
            self._file.close()
            self._file = None

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` has been called."""
        return self._file is None

    def __enter__(self) -> CSVLogger:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
