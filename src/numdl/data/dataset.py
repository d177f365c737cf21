"""The shared pieces of :mod:`numdl.data`: errors, the dataset container, atomic writes."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np

__all__ = [
    "Dataset",
    "DatasetError",
    "DatasetNotFoundError",
    "DownloadError",
    "Split",
]


class DatasetError(ValueError):
    """A dataset file is missing, malformed or fails its checksum; the message names the file."""


class DatasetNotFoundError(DatasetError):
    """The dataset files are not where numdl looked (the message says where, and how to fix it)."""


class DownloadError(DatasetError):
    """Every mirror failed for a file (the message lists each URL tried and why it failed)."""


@dataclass(frozen=True, eq=False)
class Split:
    """One part of a dataset: ``X`` float32 ``(N, D)`` in ``[0, 1]``, ``y`` int64 ``(N,)``.

    Unpacks as ``X, y = split``.
    """

    X: np.ndarray
    y: np.ndarray

    def __post_init__(self) -> None:
        if self.X.ndim != 2 or self.y.shape != (self.X.shape[0],):
            raise ValueError(
                f"Split needs X of shape (N, D) and y of shape (N,), "
                f"got X {self.X.shape} and y {self.y.shape}"
            )

    def __len__(self) -> int:
        return int(self.X.shape[0])

    def __iter__(self) -> Iterator[np.ndarray]:
        return iter((self.X, self.y))


@dataclass(frozen=True, eq=False)
class Dataset:
    """Train / validation / test splits of a 10-class image dataset, with where they came from.

    Attributes
    ----------
    train, val, test : Split
        The three splits; ``X`` rows are flattened images (row-major), ``y`` class labels.
    name : str
        ``"mnist"``, ``"fashion-mnist"``, ``"kmnist"``, ``"synthetic-digits"``, ...
    source_dir : Path or None
        The directory the files were read from (``None`` for generated data).
    synthetic : bool
        ``True`` for generated data, so printed results can say they are not on real data.
    image_shape : tuple of int
        ``(rows, cols)`` of one image; ``X.shape[1] == rows * cols``.
    n_classes : int
        Number of classes (labels lie in ``[0, n_classes)``).
    """

    train: Split
    val: Split
    test: Split
    name: str
    source_dir: Path | None
    synthetic: bool
    image_shape: tuple[int, int] = (28, 28)
    n_classes: int = 10

    def describe(self) -> str:
        """One line for logs: name, split sizes, origin (and a SYNTHETIC warning when so)."""
        sizes = f"train {len(self.train)} / val {len(self.val)} / test {len(self.test)}"
        if self.synthetic:
            return f"{self.name} (SYNTHETIC data, not a real dataset; {sizes})"
        return f"{self.name} ({sizes}; from {self.source_dir})"


def check_path(path: Any, name: str = "path") -> Path:
    """Check that ``path`` names a file (a non-empty ``str`` or ``os.PathLike``) and return it.

    Raises
    ------
    TypeError
        ``path`` is not a ``str`` or ``os.PathLike`` of ``str`` (e.g. ``None``, bytes, a number).
    ValueError
        ``path`` is the empty string.
    """
    if isinstance(path, (str, os.PathLike)):
        text = os.fspath(path)
        if isinstance(text, str):
            if not text:
                raise ValueError(f"{name} must name a file, got the empty string")
            return Path(text)
    raise TypeError(f"{name} must be a str or os.PathLike naming a file, got {type(path).__name__}")


@contextlib.contextmanager
def atomic_write(
    path: str | os.PathLike[str], *, verify: Callable[[Path], None] | None = None
) -> Iterator[IO[bytes]]:
    """Open a temporary file next to ``path`` for binary writing; publish it on success.

    The data go to a hidden temporary file in the same directory (so the final
    :func:`os.replace` is atomic on POSIX and Windows); if the ``with`` block raises, the
    temporary file is deleted and ``path`` is left untouched. Readers never see a partial file.

    Parameters
    ----------
    path : str or os.PathLike
        The file to create or replace; its directory must exist.
    verify : callable, optional
        Called with the temporary file's path once it is complete and synced, before it
        replaces ``path``; if it raises, the temporary file is deleted, ``path`` is left as it
        was and the exception propagates (e.g. a reader that checks the file can be read back).

    Raises
    ------
    FileNotFoundError, PermissionError, OSError
        The temporary file cannot be created (the directory is missing or not writable); the
        message names ``path`` and its directory, not the temporary file.
    """
    path = check_path(path)
    directory = path.parent
    try:
        fd, tmp_name = tempfile.mkstemp(dir=directory, prefix=f".{path.name}.", suffix=".part")
    except FileNotFoundError as exc:
        raise FileNotFoundError(
            exc.errno, f"cannot write {path}: the directory {directory} does not exist", str(path)
        ) from None
    except OSError as exc:
        raise type(exc)(
            exc.errno,
            f"cannot write {path}: cannot create a file in the directory {directory} "
            f"({exc.strerror or exc})",
            str(path),
        ) from None
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        if verify is not None:
            verify(tmp)
        with contextlib.suppress(OSError):
            tmp.chmod(0o644)  # mkstemp creates 0600; published data files are world-readable
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
