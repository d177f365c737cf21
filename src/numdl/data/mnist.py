"""Load MNIST (or any dataset in its file format: Fashion-MNIST, KMNIST) as train/val/test.

Where the files are looked for (:func:`resolve_data_dir`), first match wins:

1. the ``data_dir`` argument (the CLI's ``--data-dir``);
2. the environment variable ``NUMDL_DATA_DIR``;
3. the per-user cache ``$XDG_CACHE_HOME/numdl/<name>`` (``~/.cache/numdl/<name>`` when
   ``XDG_CACHE_HOME`` is unset), e.g. ``~/.cache/numdl/mnist``.

In the chosen directory the four files are looked up by their standard names
(``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``, ``t10k-images-idx3-ubyte``,
``t10k-labels-idx1-ubyte``; each plain or ``.gz``, ``-idx`` or ``.idx``), first in the
directory itself and then in its subdirectory ``<name>`` (so ``NUMDL_DATA_DIR`` may point at
the files or at a folder holding ``mnist/``, ``fashion-mnist/``, ...). Missing files are
downloaded into the chosen directory when ``download=True`` and the dataset has known
mirrors, each checked against its published md5.

:func:`identify_dataset` says which known dataset a directory holds, by the md5 checksums of
its four files (:data:`KNOWN_CHECKSUMS`), so that Fashion-MNIST found where MNIST was
expected is called Fashion-MNIST. The module passes 500 lines because finding, downloading,
identifying and loading the files are one topic: all four use the same file names, search
order and published checksums.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from numdl.core.validation import check_int
from numdl.data.dataset import (
    Dataset,
    DatasetError,
    DatasetNotFoundError,
    Split,
)
from numdl.data.download import DEFAULT_TIMEOUT, download_file, file_md5
from numdl.data.idx import read_idx

__all__ = [
    "DATA_DIR_ENV",
    "KNOWN_CHECKSUMS",
    "MNIST_FILES",
    "RAW_MD5",
    "SOURCES",
    "DatasetSource",
    "download_mnist",
    "identify_dataset",
    "load_mnist",
    "resolve_data_dir",
]

#: Environment variable naming the data directory (after the explicit argument).
DATA_DIR_ENV = "NUMDL_DATA_DIR"

#: The four files of the MNIST format, by their standard (uncompressed) names.
MNIST_FILES: tuple[str, ...] = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)


@dataclass(frozen=True)
class DatasetSource:
    """Where a dataset in MNIST format is published: mirrors and the md5 of each ``.gz`` file."""

    title: str
    homepage: str
    mirrors: tuple[str, ...]
    md5: dict[str, str]


#: Known datasets in MNIST format: name -> mirrors (tried in order) and published md5s.
SOURCES: dict[str, DatasetSource] = {
    "mnist": DatasetSource(
        title="MNIST",
        homepage="http://yann.lecun.com/exdb/mnist/",
        mirrors=(
            "https://ossci-datasets.s3.amazonaws.com/mnist/",
            "https://storage.googleapis.com/cvdf-datasets/mnist/",
        ),
        md5={
            "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
            "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
            "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
            "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
        },
    ),
    "fashion-mnist": DatasetSource(
        title="Fashion-MNIST",
        homepage="https://github.com/zalandoresearch/fashion-mnist",
        mirrors=(
            "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
            "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
        ),
        md5={
            "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
            "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
            "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
            "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
        },
    ),
    "kmnist": DatasetSource(
        title="Kuzushiji-MNIST",
        homepage="https://github.com/rois-codh/kmnist",
        mirrors=(
            "https://codh.rois.ac.jp/kmnist/dataset/kmnist/",
            "http://codh.rois.ac.jp/kmnist/dataset/kmnist/",
        ),
        md5={
            "train-images-idx3-ubyte.gz": "bdb82020997e1d708af4cf47b453dcf7",
            "train-labels-idx1-ubyte.gz": "e144d726b3acfaa3e44228e80efcd344",
            "t10k-images-idx3-ubyte.gz": "5c965bf0a639b31b8f53240b1b52f4d7",
            "t10k-labels-idx1-ubyte.gz": "7320c461ea6c1c855c0b718fb2a4b134",
        },
    ),
}


#: md5 of each file's *uncompressed* IDX bytes, for the datasets where they are known (MNIST
#: and Fashion-MNIST; checked against the published files). They recognise a dataset whatever
#: its compression: plain files, or ``.gz`` files recompressed by a repackager (Debian's
#: ``dataset-fashion-mnist``, for one, ships ``.gz`` files whose md5s differ from Zalando's).
#: KMNIST is recognised by its published ``.gz`` md5s only.
RAW_MD5: dict[str, dict[str, str]] = {
    "mnist": {
        "train-images-idx3-ubyte": "6bbc9ace898e44ae57da46a324031adb",
        "train-labels-idx1-ubyte": "a25bea736e30d166cdddb491f175f624",
        "t10k-images-idx3-ubyte": "2646ac647ad5339dbf082846283269ea",
        "t10k-labels-idx1-ubyte": "27ae3e4e09519cfbb04c329615203637",
    },
    "fashion-mnist": {
        "train-images-idx3-ubyte": "f4a8712d7a061bf5bd6d2ca38dc4d50a",
        "train-labels-idx1-ubyte": "9018921c3c673c538a1fc5bad174d6f9",
        "t10k-images-idx3-ubyte": "8181f5470baa50b63fa0f6fddb340f0a",
        "t10k-labels-idx1-ubyte": "15d484375f8d13e6eb1aabb0c3f46965",
    },
}

#: Known datasets by their files: name -> standard file name -> the md5s that identify it
#: (the published ``.gz`` md5 and, where known, that of the uncompressed file).
KNOWN_CHECKSUMS: dict[str, dict[str, frozenset[str]]] = {
    name: {
        stem: frozenset(
            md5 for md5 in (source.md5[f"{stem}.gz"], RAW_MD5.get(name, {}).get(stem)) if md5
        )
        for stem in MNIST_FILES
    }
    for name, source in SOURCES.items()
}

#: The order files are checked in: the small label files first, so that an unknown dataset
#: costs two small hashes, not a decompression of its images.
_IDENTIFY_ORDER = (MNIST_FILES[1], MNIST_FILES[3], MNIST_FILES[2], MNIST_FILES[0])


def _uncompressed_md5(path: Path) -> str | None:
    """md5 of the decompressed content of a ``.gz`` file (``None`` when it is not valid gzip)."""
    digest = hashlib.md5(usedforsecurity=False)
    try:
        with gzip.open(path, "rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
    except (OSError, EOFError, zlib.error):
        return None
    return digest.hexdigest()


def identify_dataset(directory: str | os.PathLike[str]) -> str | None:
    """Name the known dataset whose four MNIST-format files ``directory`` holds, by checksum.

    Each file (found by its standard name, plain or ``.gz``, as :func:`load_mnist` finds it)
    must match one of the md5s :data:`KNOWN_CHECKSUMS` lists for the same dataset: the
    published md5 of the ``.gz`` file, or the md5 of the uncompressed file (which also
    recognises plain and recompressed copies). The label files are checked first, so
    unknown data costs two small hashes.

    Parameters
    ----------
    directory : str or path-like
        The directory the files were read from (e.g. ``Dataset.source_dir``).

    Returns
    -------
    str or None
        A key of :data:`KNOWN_CHECKSUMS` (``"mnist"``, ``"fashion-mnist"``, ``"kmnist"``), or
        ``None`` when the four files are not all there or are not all of one known dataset
        (a subset, a modified copy, another dataset): name it some other way, e.g. by its
        directory.
    """
    files = _locate(Path(directory))
    if len(files) != len(MNIST_FILES):
        return None
    candidates = set(KNOWN_CHECKSUMS)
    for stem in _IDENTIFY_ORDER:
        path = files[stem]
        digest = file_md5(path)
        matching = {c for c in candidates if digest in KNOWN_CHECKSUMS[c][stem]}
        if not matching and path.name.endswith(".gz"):
            raw = _uncompressed_md5(path)
            matching = {c for c in candidates if raw in KNOWN_CHECKSUMS[c][stem]}
        candidates = matching
        if not candidates:
            return None
    return min(candidates)


def _default_cache_dir(name: str) -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base).expanduser().absolute() / "numdl" / name


def _resolve_with_origin(data_dir: str | os.PathLike[str] | None, name: str) -> tuple[Path, str]:
    if data_dir is not None:
        return Path(data_dir).expanduser().absolute(), "the data_dir argument / --data-dir"
    env = os.environ.get(DATA_DIR_ENV)
    if env:
        return Path(env).expanduser().absolute(), f"the {DATA_DIR_ENV} environment variable"
    return _default_cache_dir(name), "the default per-user cache"


def resolve_data_dir(
    data_dir: str | os.PathLike[str] | None = None, *, name: str = "mnist"
) -> Path:
    """Return the directory numdl reads (and downloads) dataset ``name`` from.

    Order, first match wins: the ``data_dir`` argument; the ``NUMDL_DATA_DIR`` environment
    variable (when set and non-empty); the per-user cache ``$XDG_CACHE_HOME/numdl/<name>``,
    i.e. ``~/.cache/numdl/<name>`` when ``XDG_CACHE_HOME`` is unset. The directory need not
    exist. ``~`` is expanded and the result made absolute.

    Parameters
    ----------
    data_dir : str or path-like, optional
        An explicit directory; wins over everything else.
    name : str, optional
        Dataset name, used for the cache subdirectory (default ``"mnist"``).

    Returns
    -------
    pathlib.Path
    """
    return _resolve_with_origin(data_dir, name)[0]


def _candidates(stem: str) -> tuple[str, ...]:
    dotted = stem.replace("-idx", ".idx")
    return (stem, f"{stem}.gz", dotted, f"{dotted}.gz")


def _locate(directory: Path) -> dict[str, Path]:
    """Map each standard name found in ``directory`` to its file (plain, .gz or dotted)."""
    found: dict[str, Path] = {}
    for stem in MNIST_FILES:
        for candidate in _candidates(stem):
            if (directory / candidate).is_file():
                found[stem] = directory / candidate
                break
    return found


def _search_dirs(root: Path, name: str) -> list[Path]:
    dirs = [root]
    if root.name != name:
        dirs.append(root / name)
    return dirs


def _not_found_message(
    title: str,
    root: Path,
    origin: str,
    searched: Sequence[Path],
    missing: Sequence[str],
    source: DatasetSource | None,
    download_note: str,
) -> str:
    lines = [f"{title} data not found.", "Looked in (chosen by " + origin + "):"]
    lines += [f"  {d}{'' if d.is_dir() else '  (does not exist)'}" for d in searched]
    lines.append("Missing files (each may be plain or gzipped, '.gz'):")
    lines += [f"  {stem}.gz" for stem in missing]
    lines.append(download_note)
    if source is not None:
        lines.append(f"Download the four .gz files of {source.title} from one of:")
        lines += [f"  {m}" for m in source.mirrors]
        lines.append(f"  (homepage: {source.homepage})")
    lines.append(
        f"then put them in {root}, or point numdl at the directory holding them with "
        f"--data-dir DIR or the {DATA_DIR_ENV} environment variable "
        f"(e.g. export {DATA_DIR_ENV}=/path/to/mnist)."
    )
    return "\n".join(lines)


def download_mnist(
    data_dir: str | os.PathLike[str] | None = None,
    *,
    name: str = "mnist",
    timeout: float = DEFAULT_TIMEOUT,
    progress: bool = True,
) -> Path:
    """Ensure the four files of ``name`` are in the data directory, downloading the missing ones.

    Files already present (plain or gzipped) are kept; present ``.gz`` files are checked
    against the published md5. Mirrors are tried in turn (``SOURCES[name].mirrors``); each
    download is md5-checked and written atomically.

    Parameters
    ----------
    data_dir : str or path-like, optional
        Target directory; resolved with :func:`resolve_data_dir` when ``None``.
    name : str, optional
        A key of :data:`SOURCES`: ``"mnist"`` (default), ``"fashion-mnist"`` or ``"kmnist"``.
    timeout : float, optional
        Seconds urllib waits on connecting and each read (default 30).
    progress : bool, optional
        Show a tqdm progress bar per file (skipped when tqdm is missing).

    Returns
    -------
    pathlib.Path
        The directory now holding the files.

    Raises
    ------
    ValueError
        ``name`` is not a known source.
    DatasetError
        A present ``.gz`` file fails its md5 (the message names it), or the directory is not
        writable.
    DownloadError
        Every mirror failed for some file.
    """
    if name not in SOURCES:
        raise ValueError(f"name must be one of {sorted(SOURCES)} to download, got {name!r}")
    source = SOURCES[name]
    root = resolve_data_dir(data_dir, name=name)
    found = _locate(root) if root.is_dir() else {}
    _verify(found, source)
    for stem in MNIST_FILES:
        if stem not in found:
            gz = f"{stem}.gz"
            download_file(
                gz, source.mirrors, root, md5=source.md5[gz], timeout=timeout, progress=progress
            )
    return root


def _verify(found: dict[str, Path], source: DatasetSource) -> None:
    for stem, path in found.items():
        expected = source.md5.get(f"{stem}.gz")
        if expected is None or not path.name.endswith(".gz"):
            continue  # the published checksums are of the .gz files; plain files pass on headers
        got = file_md5(path)
        if got != expected:
            raise DatasetError(
                f"{path}: checksum mismatch for {source.title}: expected md5 {expected}, got "
                f"{got}; the file is corrupt or from another dataset: delete it to re-download"
            )


def _read_pair(images_path: Path, labels_path: Path) -> tuple[np.ndarray, np.ndarray]:
    images = read_idx(images_path)
    labels = read_idx(labels_path)
    if images.dtype != np.uint8 or images.ndim != 3:
        raise DatasetError(
            f"{images_path}: expected uint8 images of shape (N, rows, cols), "
            f"got {images.dtype} of shape {images.shape}"
        )
    if labels.dtype != np.uint8 or labels.ndim != 1:
        raise DatasetError(
            f"{labels_path}: expected uint8 labels of shape (N,), "
            f"got {labels.dtype} of shape {labels.shape}"
        )
    if labels.shape[0] != images.shape[0]:
        raise DatasetError(
            f"{labels_path}: {labels.shape[0]} labels for {images.shape[0]} images "
            f"in {images_path.name}"
        )
    if labels.size and labels.max() > 9:
        raise DatasetError(f"{labels_path}: labels must lie in 0..9, found {labels.max()}")
    return images, labels


def _to_split(images: np.ndarray, labels: np.ndarray) -> Split:
    n, rows, cols = images.shape
    X = images.reshape(n, rows * cols).astype(np.float32)
    X /= np.float32(255.0)
    return Split(X, labels.astype(np.int64))


def load_mnist(
    data_dir: str | os.PathLike[str] | None = None,
    *,
    name: str = "mnist",
    validation_size: int = 5000,
    seed: int = 0,
    download: bool = True,
    verify: bool = False,
    progress: bool = True,
) -> Dataset:
    """Load MNIST (or Fashion-MNIST, KMNIST: any directory of the four MNIST-format files).

    The validation split is carved out of the 60,000 training images: a seeded random subset
    of ``validation_size`` (default **5,000**) images, so MNIST gives train 55,000 / val 5,000
    / test 10,000. Both subsets keep the files' order. The same ``seed`` always gives the same
    split.

    Parameters
    ----------
    data_dir : str or path-like, optional
        Directory of the files; ``None`` resolves it as :func:`resolve_data_dir` documents
        (argument, then ``NUMDL_DATA_DIR``, then ``~/.cache/numdl/<name>``).
    name : str, optional
        Dataset name (default ``"mnist"``); picks the cache subdirectory and, for
        ``"mnist"``, ``"fashion-mnist"`` and ``"kmnist"``, the download mirrors and md5s.
        Any other name loads whatever MNIST-format files the directory holds.
    validation_size : int, optional
        Training images moved to the validation split (0 for none; default 5000).
    seed : int, optional
        Seed of the permutation that picks the validation images (default 0).
    download : bool, optional
        Download missing files (known names only) into the resolved directory (default True).
    verify : bool, optional
        Check the md5 of the ``.gz`` files against the published ones even when nothing is
        downloaded (default False: loading stays fast; downloads are always checked).
    progress : bool, optional
        Show a progress bar while downloading.

    Returns
    -------
    Dataset
        ``train``, ``val``, ``test`` splits with ``X`` float32 ``(N, 784)`` in ``[0, 1]``
        (pixel / 255) and ``y`` int64 ``(N,)`` in ``0..9``; ``name``, ``source_dir``,
        ``synthetic=False``.

    Raises
    ------
    DatasetNotFoundError
        The files are not there and could not be downloaded; the message lists the
        directories searched, the files needed, the mirrors, and ``--data-dir`` /
        ``NUMDL_DATA_DIR``.
    DatasetError
        A file is malformed (see :func:`numdl.data.read_idx`), the image and label files
        disagree, or ``verify=True`` and a checksum differs.
    TypeError, ValueError
        ``validation_size`` or ``seed`` is not an integer, or ``validation_size`` is negative
        or not smaller than the number of training images.
    """
    validation_size = check_int(validation_size, "validation_size", minimum=0)
    seed = check_int(seed, "seed", minimum=0)
    if not isinstance(name, str) or not name:
        raise TypeError(f"name must be a non-empty string, got {name!r}")
    source = SOURCES.get(name)
    title = source.title if source is not None else name
    root, origin = _resolve_with_origin(data_dir, name)
    searched = _search_dirs(root, name)

    files = _find_complete(searched)
    if files is None:
        if not download:
            note = "Automatic download is off (download=False / --no-download)."
        elif source is None:
            note = f"No download mirrors are known for {name!r}; known: {sorted(SOURCES)}."
        else:
            try:
                download_mnist(root, name=name, progress=progress)
            except DatasetError as exc:  # every mirror failed, or the directory is read-only
                note = f"Automatic download failed:\n{exc}"
            else:
                note = ""
                verify = False  # download_mnist has just checked every .gz file
        files = _find_complete(searched)
        if files is None:
            missing = [s for s in MNIST_FILES if s not in _locate_any(searched)]
            raise DatasetNotFoundError(
                _not_found_message(title, root, origin, searched, missing, source, note)
            )
    if verify and source is not None:
        _verify(files, source)

    train_images, train_labels = _read_pair(files[MNIST_FILES[0]], files[MNIST_FILES[1]])
    test_images, test_labels = _read_pair(files[MNIST_FILES[2]], files[MNIST_FILES[3]])
    if train_images.shape[1:] != test_images.shape[1:]:
        raise DatasetError(
            f"{files[MNIST_FILES[2]]}: test images are {test_images.shape[1:]}, "
            f"training images {train_images.shape[1:]}"
        )
    n_train = train_images.shape[0]
    if validation_size >= n_train:
        raise ValueError(
            f"validation_size must be smaller than the {n_train} training images, "
            f"got {validation_size}"
        )
    is_val = np.zeros(n_train, dtype=bool)
    is_val[np.random.default_rng(seed).permutation(n_train)[:validation_size]] = True

    train = _to_split(train_images[~is_val], train_labels[~is_val])
    val = _to_split(train_images[is_val], train_labels[is_val])
    test = _to_split(test_images, test_labels)
    return Dataset(
        train=train,
        val=val,
        test=test,
        name=name,
        source_dir=files[MNIST_FILES[0]].parent,
        synthetic=False,
        image_shape=(int(train_images.shape[1]), int(train_images.shape[2])),
    )


def _find_complete(searched: Sequence[Path]) -> dict[str, Path] | None:
    for directory in searched:
        if directory.is_dir():
            found = _locate(directory)
            if len(found) == len(MNIST_FILES):
                return found
    return None


def _locate_any(searched: Sequence[Path]) -> dict[str, Path]:
    found: dict[str, Path] = {}
    for directory in reversed(searched):
        if directory.is_dir():
            found.update(_locate(directory))
    return found
