"""Data: datasets, splits and mini-batches, augmentation and standardisation.

Datasets are MNIST-format files (MNIST, Fashion-MNIST, KMNIST), a synthetic stand-in, images:

- :func:`load_mnist` returns a :class:`Dataset` of train / val / test :class:`Split` s, from a
  directory found by :func:`resolve_data_dir` (``--data-dir``, ``NUMDL_DATA_DIR``, then
  ``~/.cache/numdl/<name>``), downloading the files from public mirrors when missing.
- :func:`load_synthetic_digits` generates an MNIST-shaped dataset (``synthetic=True``).
- :func:`load_moons`, :func:`load_spirals`, :func:`load_blobs` generate two-dimensional toy
  problems (``synthetic=True``), named in :data:`TOY_DATASETS`.
- :func:`read_idx` / :func:`write_idx` handle the IDX file format.
- :func:`load_digit_image` turns an image file into an MNIST-style input (needs Pillow).

Every file problem raises :class:`DatasetError` (a ``ValueError``) naming the file; missing
data raises :class:`DatasetNotFoundError`, whose message says where numdl looked and how to
fix it (suitable to print as is, without a traceback).

Modules: :mod:`~numdl.data.dataset` (containers, errors), :mod:`~numdl.data.idx`,
:mod:`~numdl.data.download`, :mod:`~numdl.data.mnist`, :mod:`~numdl.data.synthetic`,
:mod:`~numdl.data.toy` (two-dimensional problems), :mod:`~numdl.data.images`,
:mod:`~numdl.data.splits` (seeded splits, mini-batches, seeding, ch. 5),
:mod:`~numdl.data.augment` (flips, rolls, padding, random shifts) and
:mod:`~numdl.data.standardize` (:class:`Standardizer`).
"""

from numdl.data.dataset import (
    Dataset,
    DatasetError,
    DatasetNotFoundError,
    DownloadError,
    Split,
    atomic_write,
)
from numdl.data.download import download_file, file_md5
from numdl.data.idx import read_idx, write_idx
from numdl.data.images import ImageLoadError, load_digit_image, prepare_digit
from numdl.data.mnist import (
    DATA_DIR_ENV,
    MNIST_FILES,
    SOURCES,
    DatasetSource,
    download_mnist,
    load_mnist,
    resolve_data_dir,
)
from numdl.data.splits import batch_iterator, set_all_seeds, train_val_test_split
from numdl.data.standardize import Standardizer
from numdl.data.synthetic import load_synthetic_digits
from numdl.data.toy import TOY_DATASETS, load_blobs, load_moons, load_spirals

__all__ = [
    "DATA_DIR_ENV",
    "MNIST_FILES",
    "SOURCES",
    "TOY_DATASETS",
    "Dataset",
    "DatasetError",
    "DatasetNotFoundError",
    "DatasetSource",
    "DownloadError",
    "ImageLoadError",
    "Split",
    "Standardizer",
    "atomic_write",
    "batch_iterator",
    "download_file",
    "download_mnist",
    "file_md5",
    "load_blobs",
    "load_digit_image",
    "load_mnist",
    "load_moons",
    "load_spirals",
    "load_synthetic_digits",
    "prepare_digit",
    "read_idx",
    "resolve_data_dir",
    "set_all_seeds",
    "train_val_test_split",
    "write_idx",
]
