"""Peak memory of a call, for tests that bound what reading a (malformed) file may allocate."""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable
from typing import Any

__all__ = ["traced_peak"]


def traced_peak(fn: Callable[[], Any]) -> tuple[Any, int]:
    """``fn()`` (its result, or the exception it raised) and the tracemalloc peak in bytes.

    NumPy reports its array allocations to tracemalloc, so the peak covers every buffer a
    reader allocates, including one it allocates and then rejects.
    """
    tracemalloc.start()
    try:
        try:
            result = fn()
        except Exception as exc:
            result = exc
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
