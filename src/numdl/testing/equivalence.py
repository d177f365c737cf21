"""Run one registry case on an implementation and on the reference, and compare.

Used by the equivalence suite (every backend), the CUDA simulator suite (the CUDA module
called directly on NumPy arrays) and anyone adding a backend.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import numpy as np

from numdl.core import hotpaths
from numdl.core.backend import to_numpy
from numdl.testing.registry import CASES, copy_inputs
from numdl.testing.tolerances import assert_backend_close

__all__ = ["check_case"]


def check_case(
    name: str,
    module: ModuleType,
    dtype: Any,
    shape: tuple[int, ...],
    values: str = "normal",
    seed: int = 0,
    *,
    xp: ModuleType = np,
    label: str | None = None,
) -> None:
    """Assert that ``module`` equals :mod:`numdl.core.hotpaths` on registry case ``name``.

    Both start from equal inputs (moved to ``xp``, e.g. CuPy, for ``module``); every output
    the case names must agree within the tolerance table, and every input that is not an
    output must come back unchanged.
    """
    case = CASES[name]
    dtype = np.dtype(dtype)
    inputs = case.make(np.random.default_rng(seed), dtype, shape, values)
    ref_inputs = copy_inputs(inputs)
    be_inputs = {k: xp.asarray(v) if isinstance(v, np.ndarray) else v for k, v in inputs.items()}
    with np.errstate(all="ignore"):
        ref_ret = case.call(hotpaths, ref_inputs)
    be_ret = case.call(module, be_inputs)
    label = label or f"{name} on {module.__name__} {dtype} {shape} {values}"
    for out in case.outputs:
        if out == "return":
            got = np.asarray(to_numpy(be_ret))
            assert got.dtype == dtype, f"{label}: return dtype {got.dtype}"
            assert_backend_close(got, np.asarray(ref_ret), name=f"{label}: return")
        else:
            got = np.asarray(to_numpy(be_inputs[out]))
            assert_backend_close(got, ref_inputs[out], name=f"{label}: {out}")
    for key, value in inputs.items():
        if isinstance(value, np.ndarray) and key not in case.outputs:
            np.testing.assert_array_equal(
                np.asarray(to_numpy(be_inputs[key])), value, err_msg=f"{label}: {key} mutated"
            )
