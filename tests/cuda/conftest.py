"""The CUDA kernels under Numba's CUDA simulator: a separate pytest process.

The simulator must be switched on before Numba is first imported, so these tests run only
when the process was started with it::

    NUMBA_ENABLE_CUDASIM=1 pytest tests/cuda

Otherwise every test here is skipped (a normal ``pytest`` run imports Numba without it).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

SIMULATOR = os.environ.get("NUMBA_ENABLE_CUDASIM") == "1"
_HERE = Path(__file__).parent
_SKIP = pytest.mark.skip(
    reason="CUDA simulator tests: run them in their own process with "
    "`NUMBA_ENABLE_CUDASIM=1 pytest tests/cuda`"
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if SIMULATOR:
        return
    for item in items:
        if _HERE in Path(item.path).parents:
            item.add_marker(_SKIP)


@pytest.fixture(scope="session", autouse=True)
def _fast_thread_switching():
    """The simulator runs each CUDA thread as a Python thread that meets the others at every
    barrier; a short GIL switch interval makes those barriers several times faster."""
    previous = sys.getswitchinterval()
    sys.setswitchinterval(2e-4)
    yield
    sys.setswitchinterval(previous)
