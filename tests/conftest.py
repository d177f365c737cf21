"""Shared test fixtures: where the real MNIST files are (CI points at ../shared/datasets/mnist)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from numdl.data import MNIST_FILES

#: The project's copy of MNIST, beside the repository (never inside it).
SHARED_MNIST = Path(__file__).resolve().parents[1].parent / "shared" / "datasets" / "mnist"


def real_mnist_dir() -> Path | None:
    """``$NUMDL_DATA_DIR`` or ``../shared/datasets/mnist`` if it holds the four MNIST files."""
    for candidate in (os.environ.get("NUMDL_DATA_DIR"), SHARED_MNIST):
        if candidate and all(
            (Path(candidate) / f"{stem}.gz").is_file() or (Path(candidate) / stem).is_file()
            for stem in MNIST_FILES
        ):
            return Path(candidate)
    return None


@pytest.fixture(scope="session")
def mnist_dir() -> Path:
    """The real MNIST directory, or skip (the synthetic-data tests still run)."""
    found = real_mnist_dir()
    if found is None:
        pytest.skip("real MNIST files not found (set NUMDL_DATA_DIR or provide ../shared)")
    return found
