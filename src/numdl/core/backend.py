"""The backend switch: which implementation of the hot paths runs.

One name table maps each backend name to a module implementing every function of
:data:`OPS` with the signatures of :mod:`numdl.core.hotpaths` (the NumPy reference, which is the
``"numpy"`` backend). A compiled backend's module is imported only when that backend is
first selected, so ``import numdl`` never imports Numba.

The active backend is, in order: the innermost :func:`use_backend` block of the current
thread or task (scoped with :mod:`contextvars`, so threads and asyncio tasks do not leak
into each other), else the process-wide default set by :func:`set_backend`, else the
``NUMDL_BACKEND`` environment variable, else ``"numpy"``. There is no silent fallback: a name
that is not a string is a ``TypeError``, an unknown name a ``ValueError``, a backend whose
dependencies are missing an ``ImportError``.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import threading
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from numdl.core import hotpaths

#: The hot-path operations every backend implements (names of functions in its module).
OPS: tuple[str, ...] = tuple(hotpaths.__all__)


@dataclass(frozen=True)
class _Spec:
    module: str  # module implementing OPS
    array_module: str  # where its arrays live (numpy or cupy)
    install_hint: str


_BACKENDS: dict[str, _Spec] = {
    "numpy": _Spec("numdl.core.hotpaths", "numpy", "NumPy is a core dependency of numdl"),
    "numba": _Spec("numdl_kernels.cpu", "numpy", "pip install numba (a core dependency of numdl)"),
    "cuda": _Spec(
        "numdl_kernels.cuda",
        "cupy",
        'pip install "numdl[cuda]" (CuPy for CUDA 12; use cupy-cuda13x for CUDA 13) on a '
        "machine with an NVIDIA GPU and driver",
    ),
}


_BUILTIN = frozenset(_BACKENDS)


class Backend:
    """A loaded backend: its ``name``, array module ``xp``, and one attribute per op."""

    def __init__(self, name: str, module: ModuleType, xp: ModuleType) -> None:
        self.name = name
        self.module = module
        self.xp = xp
        for op in OPS:
            setattr(self, op, getattr(module, op))

    def __repr__(self) -> str:
        return f"<numdl backend {self.name!r} ({self.module.__name__})>"


_loaded: dict[str, Backend] = {}
_load_lock = threading.Lock()
_override: ContextVar[str | None] = ContextVar("numdl_backend", default=None)
_default: str | None = None  # set_backend's choice; None means "from the environment"


def to_numpy(arr: Any) -> Any:
    """``arr`` as a NumPy array: device arrays (CuPy) are copied to the host, others pass."""
    return arr.get() if hasattr(arr, "__cuda_array_interface__") else arr


def array_module(arr: Any) -> ModuleType:
    """The array module (NumPy or CuPy) that ``arr`` belongs to."""
    if hasattr(arr, "__cuda_array_interface__"):
        return importlib.import_module("cupy")
    return importlib.import_module("numpy")


def available_backends() -> list[str]:
    """Names of all known backends, whether or not their dependencies are installed."""
    return list(_BACKENDS)


def register_backend(
    name: str, module: str, *, array_module: str = "numpy", install_hint: str = ""
) -> None:
    """Add backend ``name``, implemented by the importable module named ``module``.

    The module must define every function of :data:`OPS` with the signatures of
    :mod:`numdl.core.hotpaths`; it is imported when the backend is first selected. Registering
    an existing name replaces it (and forgets its loaded module).
    """
    if not isinstance(name, str):
        raise TypeError(f"name must be a string, got {type(name).__name__} {name!r}")
    if not isinstance(module, str):
        raise TypeError(f"module must be a module name (str), got {type(module).__name__}")
    if not name.isidentifier():
        raise ValueError(f"name must be an identifier-like string, got {name!r}")
    with _load_lock:
        _BACKENDS[name] = _Spec(module, array_module, install_hint or f"install {module}")
        _loaded.pop(name, None)


def unregister_backend(name: str) -> None:
    """Remove a backend added with :func:`register_backend` (built-ins cannot be removed)."""
    _check_name(name)
    if name in _BUILTIN:
        raise ValueError(f"cannot unregister the built-in backend {name!r}")
    global _default
    with _load_lock:
        del _BACKENDS[name]
        _loaded.pop(name, None)
        if _default == name:
            _default = None


def _check_name(name: Any) -> str:
    """``name`` if it is a known backend: ``TypeError`` for a non-string, else ``ValueError``."""
    if isinstance(name, str) and name in _BACKENDS:
        return name  # the common case first: every op call passes here
    valid = ", ".join(repr(n) for n in _BACKENDS)
    if not isinstance(name, str):
        raise TypeError(
            f"backend name must be a string, got {type(name).__name__} {name!r}; "
            f"valid backends are {valid}"
        )
    raise ValueError(f"unknown backend {name!r}; valid backends are {valid}")


def load(name: str) -> Backend:
    """Import (once) and return the backend ``name``.

    Raises
    ------
    TypeError
        If ``name`` is not a string.
    ValueError
        If ``name`` is not a known backend.
    ImportError
        If the backend's dependencies are missing or it cannot run on this machine; the
        message says how to install them.
    """
    name = _check_name(name)
    backend = _loaded.get(name)
    if backend is not None:
        return backend
    with _load_lock:
        if name not in _loaded:
            spec = _BACKENDS[name]
            try:
                module = importlib.import_module(spec.module)
                xp = importlib.import_module(spec.array_module)
            except ImportError as exc:
                raise ImportError(
                    f"backend {name!r} is not available: {exc}. To install: {spec.install_hint}"
                ) from exc
            missing = [op for op in OPS if not hasattr(module, op)]
            if missing:
                raise ImportError(f"backend {name!r} ({spec.module}) lacks ops {missing}")
            _loaded[name] = Backend(name, module, xp)
    return _loaded[name]


def get_backend() -> str:
    """Name of the active backend (see the module docstring for the order of precedence)."""
    name = _override.get()
    if name is not None:
        return name
    if _default is not None:
        return _default
    env = os.environ.get("NUMDL_BACKEND", "").strip()
    if env:
        try:
            return _check_name(env)
        except ValueError as exc:
            raise ValueError(f"NUMDL_BACKEND: {exc}") from None
    return "numpy"


def current() -> Backend:
    """The active :class:`Backend`, loaded on first use."""
    return load(get_backend())


def set_backend(name: str) -> None:
    """Select the backend ``name`` for the whole process (until changed).

    The backend is loaded immediately, so a missing dependency fails here, not mid-training.
    Inside a :func:`use_backend` block the block's backend still wins until the block ends.

    Raises
    ------
    TypeError
        If ``name`` is not a string.
    ValueError
        If ``name`` is not a known backend.
    ImportError
        If the backend cannot be loaded (see :func:`load`); the previous backend stays.
    """
    global _default
    load(name)
    _default = name


@contextlib.contextmanager
def use_backend(name: str) -> Iterator[Backend]:
    """Context manager: run the block on backend ``name``, restoring the previous one on exit.

    Scoped to the current thread or asyncio task through :mod:`contextvars`. Raises like
    :func:`set_backend` (``TypeError`` for a non-string ``name``, ``ValueError`` for an
    unknown one, ``ImportError`` for one that cannot load), before the block runs.

    Examples
    --------
    >>> import numdl
    >>> with numdl.use_backend("numpy") as be:
    ...     be.name
    'numpy'
    """
    backend = load(name)
    token = _override.set(name)
    try:
        yield backend
    finally:
        _override.reset(token)
