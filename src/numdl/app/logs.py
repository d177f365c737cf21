"""Run logs: one CSV row per epoch, flushed at once, resumable (textbook ch. 5, section 3.4.2)."""

from __future__ import annotations

import csv
import os
from collections.abc import Sequence
from typing import Any, TextIO

__all__ = ["CSVLogger"]


class CSVLogger:
    """Append one CSV row per ``log(**row)`` call, flushed at once (section 3.4.2).

    The header is written when the file is new or empty. An existing file with the same
    header is appended to (resuming a run); one with a different header is an error rather
    than a silently mixed file. Use it as a context manager, or call :meth:`close`.

    Parameters
    ----------
    path : str or os.PathLike
        The CSV file (created if missing; its directory must exist).
    fieldnames : sequence of str
        Column names, non-empty and unique; every ``log`` call gives exactly these.

    Raises
    ------
    TypeError
        If ``fieldnames`` is not a sequence of strings.
    ValueError
        If ``fieldnames`` is empty or repeats a name, or ``path`` has another header.

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
        self.path = os.fspath(path)
        self.fieldnames: tuple[str, ...] = tuple(names)

        existing = self._read_header()
        if existing is not None and existing != list(names):
            raise ValueError(
                f"path {self.path!r} already has the header {existing!r}, which differs from "
                f"fieldnames {names!r}; use another file or the same fieldnames to resume"
            )
        self._file: TextIO | None = open(self.path, "a", newline="", encoding="utf-8")  # noqa: SIM115
        self._writer = csv.DictWriter(self._file, fieldnames=names)
        if existing is None:
            self._writer.writeheader()
            self._file.flush()

    def _read_header(self) -> list[str] | None:
        """The header row of an existing non-empty file, else ``None``."""
        if not os.path.exists(self.path) or os.path.getsize(self.path) == 0:
            return None
        with open(self.path, newline="", encoding="utf-8") as f:
            return next(csv.reader(f), None)

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
