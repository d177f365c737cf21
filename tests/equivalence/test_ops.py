"""Every registered op case, on every backend, equals the NumPy reference (numdl.core.hotpaths).

Shapes: the registry's named test shapes, hypothesis-drawn shapes (1×1, 1×C, B×1, ...),
the MNIST shapes, and C = 32000 rows. Values: ordinary, and extreme (±1e4, −inf, all −inf
rows, subnormals, NaN: NaN must propagate exactly where the reference has it). Tolerances
come from the one table in numdl.testing.tolerances.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from numdl import testing
from numdl.core.backend import OPS, Backend
from numdl.testing import CASES, VALUE_KINDS

DTYPES = [np.dtype(np.float32), np.dtype(np.float64)]


def check_case(
    name: str, be: Backend, dtype: np.dtype, shape: tuple[int, ...], values: str, seed: int = 0
) -> None:
    """Case ``name`` on backend ``be`` (its arrays: NumPy or CuPy) against the reference."""
    testing.check_case(
        name,
        be.module,
        dtype,
        shape,
        values,
        seed,
        xp=be.xp,
        label=f"{name} on {be.name} {dtype} {shape} {values}",
    )


def test_registry_covers_every_op() -> None:
    assert {c.op for c in CASES.values()} == set(OPS)


@pytest.mark.parametrize("values", VALUE_KINDS)
@pytest.mark.parametrize("size", ["tiny", "small"])
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("name", sorted(CASES))
def test_case_named_shapes(
    kernel_backend: Backend, name: str, dtype: np.dtype, size: str, values: str
) -> None:
    check_case(name, kernel_backend, dtype, CASES[name].shapes[size], values)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("name", sorted(CASES))
def test_case_mnist_shapes(kernel_backend: Backend, name: str, dtype: np.dtype) -> None:
    check_case(name, kernel_backend, dtype, CASES[name].shapes["mnist"], "normal")


ROW_CASES = sorted(n for n, c in CASES.items() if len(c.shapes["tiny"]) == 2)
LINEAR_CASES = sorted(n for n, c in CASES.items() if len(c.shapes["tiny"]) == 3)
FLAT_CASES = sorted(n for n, c in CASES.items() if len(c.shapes["tiny"]) == 1)


@pytest.mark.parametrize("values", VALUE_KINDS)
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("name", ROW_CASES)
def test_rows_of_32000_classes(
    kernel_backend: Backend, name: str, dtype: np.dtype, values: str
) -> None:
    check_case(name, kernel_backend, dtype, (3, 32000), values)


_settings = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
_dtypes = st.sampled_from(DTYPES)
_values = st.sampled_from(VALUE_KINDS)
_seeds = st.integers(0, 2**31 - 1)
_dim = st.one_of(st.just(1), st.integers(1, 70))


@_settings
@given(
    name=st.sampled_from(ROW_CASES),
    rows=_dim,
    cols=st.one_of(_dim, st.integers(1, 5000)),
    dtype=_dtypes,
    values=_values,
    seed=_seeds,
)
def test_rows_hypothesis(
    kernel_backend: Backend,
    name: str,
    rows: int,
    cols: int,
    dtype: np.dtype,
    values: str,
    seed: int,
) -> None:
    check_case(name, kernel_backend, dtype, (rows, cols), values, seed)


@_settings
@given(
    name=st.sampled_from(LINEAR_CASES),
    b=_dim,
    d_in=_dim,
    d_out=_dim,
    dtype=_dtypes,
    values=_values,
    seed=_seeds,
)
def test_linear_hypothesis(
    kernel_backend: Backend,
    name: str,
    b: int,
    d_in: int,
    d_out: int,
    dtype: np.dtype,
    values: str,
    seed: int,
) -> None:
    check_case(name, kernel_backend, dtype, (b, d_in, d_out), values, seed)


@_settings
@given(
    name=st.sampled_from(FLAT_CASES),
    n=st.integers(1, 20000),
    dtype=_dtypes,
    values=_values,
    seed=_seeds,
)
def test_updates_hypothesis(
    kernel_backend: Backend, name: str, n: int, dtype: np.dtype, values: str, seed: int
) -> None:
    check_case(name, kernel_backend, dtype, (n,), values, seed)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("name", FLAT_CASES)
def test_updates_large_enough_for_threads(kernel_backend: Backend, name: str, dtype) -> None:
    """3 M parameters: past any size threshold at which a kernel switches to threads."""
    check_case(name, kernel_backend, dtype, (3_000_000,), "normal")
