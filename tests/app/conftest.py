"""Helpers for the command-line tests: tiny MNIST-format datasets and an in-process ``numdl``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from numdl.app.cli import main
from numdl.data import MNIST_FILES, write_idx


def write_fake_mnist(
    directory: Path, *, n_train: int = 300, n_test: int = 100, seed: int = 0, gz: bool = True
) -> Path:
    """Write the four MNIST-format files (random 28 x 28 uint8 images, labels 0..9)."""
    directory.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    arrays = []
    for n in (n_train, n_test):
        arrays.append(rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8))
        arrays.append((np.arange(n) % 10).astype(np.uint8))
    for stem, array in zip(MNIST_FILES, arrays, strict=True):
        write_idx(directory / (f"{stem}.gz" if gz else stem), array)
    return directory


@pytest.fixture
def fake_mnist(tmp_path: Path) -> Callable[..., Path]:
    """A factory of tiny MNIST-format directories under ``tmp_path / "data"``."""

    def make(name: str = "digits", **kwargs: object) -> Path:
        return write_fake_mnist(tmp_path / "data" / name, **kwargs)  # type: ignore[arg-type]

    return make


@pytest.fixture
def numdl_main(capsys: pytest.CaptureFixture[str]) -> Callable[..., tuple[int, str, str]]:
    """Run ``numdl ARGS`` in this process: (exit status, stdout, stderr)."""

    def run(*argv: str) -> tuple[int, str, str]:
        try:
            code = main(list(argv))
        except SystemExit as exc:  # argparse: --help, or a bad option value
            code = exc.code if isinstance(exc.code, int) else 1
        out, err = capsys.readouterr()
        return code, out, err

    return run
