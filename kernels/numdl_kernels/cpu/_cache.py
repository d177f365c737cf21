"""Numba's on-disk cache, made to notice edits of the modules a kernel calls into.

Numba keys a cached kernel on its own source file (modification time and size) and its
Numba version; a change to a function *in another file* that the kernel inlines goes
unnoticed, and the stale object code would be loaded (Numba's "Notes on Caching" list this
limitation). The softmax kernels inline the vectorised exp of ``vexp.py``, so
:func:`depend_on` folds the stamps of such files into the cache stamp of every cached
dispatcher of a module: editing ``vexp.py`` then recompiles the softmax kernels too.
(``tests/kernels/test_cache_concurrency.py`` checks both cases.)
"""

from __future__ import annotations

import os
from types import ModuleType
from typing import Any

from numba.core.dispatcher import Dispatcher

__all__ = ["depend_on"]


def _stamp(module: ModuleType) -> tuple[str, float, int]:
    path = module.__file__ or ""
    st = os.stat(path)
    return os.path.basename(path), st.st_mtime, st.st_size


def _dispatchers(namespace: dict[str, Any]) -> list[Dispatcher]:
    found = []
    for value in namespace.values():
        items = value if isinstance(value, tuple) else (value,)
        found += [v for v in items if isinstance(v, Dispatcher)]
    return found


def depend_on(namespace: dict[str, Any], *modules: ModuleType) -> None:
    """Make the cached dispatchers in ``namespace`` (a module's ``globals()``, tuples of
    dispatchers included) depend on the source files of ``modules`` as on their own."""
    extra = tuple(_stamp(m) for m in modules)
    for dispatcher in _dispatchers(namespace):
        cache_file = getattr(getattr(dispatcher, "_cache", None), "_cache_file", None)
        if cache_file is None or not hasattr(cache_file, "_source_stamp"):
            continue  # not cached (``cache=False``), or another Numba's internals
        cache_file._source_stamp = (cache_file._source_stamp, extra)
