"""Backends under test: every known backend except the reference, skipped with the reason
when it cannot load here (e.g. "cuda" without a GPU; its kernels are checked under the CUDA
simulator in tests/cuda)."""

from __future__ import annotations

import pytest

from numdl.core import backend


def _backend_params() -> list:
    params = []
    for name in backend.available_backends():
        if name == "numpy":
            continue
        try:
            backend.load(name)
            marks = ()
        except ImportError as exc:
            why = str(exc).split(". To install")[0]  # the reason, without the install hint
            marks = (pytest.mark.skip(reason=why),)
        params.append(pytest.param(name, marks=marks, id=name))
    return params


BACKEND_PARAMS = _backend_params()


@pytest.fixture(params=BACKEND_PARAMS)
def kernel_backend(request: pytest.FixtureRequest) -> backend.Backend:
    """A compiled backend (its module implements every op of numdl.core.backend.OPS)."""
    return backend.load(request.param)
