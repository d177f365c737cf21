"""Datasets: MNIST-format files (MNIST, Fashion-MNIST, KMNIST), a synthetic stand-in, images.

- :func:`load_mnist` returns a :class:`Dataset` of train / val / test :class:`Split` s, from a
  directory found by :func:`resolve_data_dir` (``--data-dir``, ``NUMDL_DATA_DIR``, then
  ``~/.cache/numdl/<name>``), downloading the files from public mirrors when missing.
- :func:`load_synthetic_digits` generates an MNIST-shaped dataset (``synthetic=True``).
- :func:`read_idx` / :func:`write_idx` handle the IDX file format.
- :func:`load_digit_image` turns an image file into an MNIST-style input (needs Pillow).

Every file problem raises :class:`DatasetError` (a ``ValueError``) naming the file; missing
data raises :class:`DatasetNotFoundError`, whose message says where numdl looked and how to
fix it (suitable to print as is, without a traceback).
"""

from numdl.datasets.base import (
    Dataset,
    DatasetError,
    DatasetNotFoundError,
    DownloadError,
    Split,
    atomic_write,
)
from numdl.datasets.download import download_file, file_md5
from numdl.datasets.idx import read_idx, write_idx
from numdl.datasets.images import ImageLoadError, load_digit_image, prepare_digit
from numdl.datasets.mnist import (
    DATA_DIR_ENV,
    MNIST_FILES,
    SOURCES,
    DatasetSource,
    download_mnist,
    load_mnist,
    resolve_data_dir,
)
from numdl.datasets.synthetic import load_synthetic_digits

__all__ = [
    "DATA_DIR_ENV",
    "MNIST_FILES",
    "SOURCES",
    "Dataset",
    "DatasetError",
    "DatasetNotFoundError",
    "DatasetSource",
    "DownloadError",
    "ImageLoadError",
    "Split",
    "atomic_write",
    "download_file",
    "download_mnist",
    "file_md5",
    "load_digit_image",
    "load_mnist",
    "load_synthetic_digits",
    "prepare_digit",
    "read_idx",
    "resolve_data_dir",
    "write_idx",
]
