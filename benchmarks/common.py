"""Helpers shared by the asv suites: backends that may be missing, registry inputs, data.

A backend that cannot run here (not installed, no GPU) makes ``setup`` raise
``NotImplementedError``, which asv records as a skipped benchmark; the parameter lists
themselves never depend on what is installed, so results stay comparable across machines.
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any

import numpy as np

import numdl
from numdl.testing.registry import OpCase

#: Every backend, installed or not (asv parameters must not depend on the machine).
BACKENDS = ["numpy", "numba", "cuda"]
DTYPES = ["float32", "float64"]


def _no_sync() -> None:
    return None


def backend(name: str) -> tuple[ModuleType, Any, Callable[[], None]]:
    """(implementation module, array module, synchronise) of backend ``name``.

    Raises ``NotImplementedError`` (asv: skipped) when the backend cannot run here.
    """
    try:
        be = numdl.core.backend.load(name)
    except ImportError as exc:
        raise NotImplementedError(f"backend {name!r} is not available here: {exc}") from None
    if name != "cuda":
        return be.module, be.xp, _no_sync
    try:
        n_devices = be.xp.cuda.runtime.getDeviceCount()
    except Exception as exc:  # CUDARuntimeError when there is no driver
        raise NotImplementedError(f"backend 'cuda': no usable GPU ({exc})") from None
    if n_devices < 1:
        raise NotImplementedError("backend 'cuda': no GPU")
    return be.module, be.xp, be.xp.cuda.get_current_stream().synchronize


def case_inputs(case: OpCase, dtype: str, shape: tuple[int, ...], xp: Any, seed: int = 0) -> dict:
    """The registry inputs of ``case`` at ``shape`` (normal values), as arrays of ``xp``."""
    inputs = case.make(np.random.default_rng(seed), np.dtype(dtype), shape, "normal")
    if xp is np:
        return inputs
    return {k: xp.asarray(v) if isinstance(v, np.ndarray) else v for k, v in inputs.items()}


def chunked_case_inputs(case: OpCase, dtype: str, shape: tuple[int, ...], rows: int = 64) -> dict:
    """Like :func:`case_inputs` for a (B, C) row case, generated ``rows`` rows at a time.

    The generator works in float64 and makes temporaries several times the final size; for
    ``peakmem_`` benchmarks (which report the process's peak RSS, setup included) the inputs
    must be built without a peak of their own.
    """
    n_rows = shape[0]
    rng = np.random.default_rng(0)
    full: dict[str, Any] = {}
    for start in range(0, n_rows, rows):
        stop = min(start + rows, n_rows)
        part = case.make(rng, np.dtype(dtype), (stop - start, *shape[1:]), "normal")
        for key, value in part.items():
            if not isinstance(value, np.ndarray) or value.ndim == 0:
                full.setdefault(key, value)
                continue
            if key not in full:
                full[key] = np.empty((n_rows, *value.shape[1:]), value.dtype)
            full[key][start:stop] = value
    return full


def load_real_mnist() -> Any:
    """Real MNIST from ``NUMDL_DATA_DIR`` (or the numdl cache), never downloaded.

    Raises ``NotImplementedError`` (asv: skipped) when the files are not there: training
    benchmarks on synthetic data would not be comparable, so there is no silent stand-in.
    """
    from numdl.data import DatasetError, load_mnist

    try:
        return load_mnist(None, download=False, progress=False)
    except DatasetError as exc:
        raise NotImplementedError(
            f"real MNIST not found; set NUMDL_DATA_DIR to a directory with the IDX files ({exc})"
        ) from None
