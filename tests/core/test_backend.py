"""The backend switch (numdl.core.backend): precedence, scoping, errors, lazy imports."""

from __future__ import annotations

import asyncio
import importlib.util
import subprocess
import sys
import threading

import numpy as np
import pytest

import numdl
from numdl.core import backend

#: A second backend that always loads: the reference module under another name. Scoping
#: tests run with it (and with "numba" when its kernels load), so they do not depend on
#: the compiled kernels being complete.
ALIAS = "numpy_alias"


def _numba_param() -> pytest.param:
    try:
        backend.load("numba")
        marks = ()
    except ImportError as exc:
        marks = (pytest.mark.skip(reason=f"backend 'numba' unavailable here: {exc}"),)
    return pytest.param("numba", marks=marks, id="numba")


@pytest.fixture(autouse=True)
def _isolate(monkeypatch: pytest.MonkeyPatch):
    """Restore the process-wide default and the environment after each test."""
    monkeypatch.setattr(backend, "_default", backend._default)
    monkeypatch.delenv("NUMDL_BACKEND", raising=False)
    backend.register_backend(ALIAS, "numdl.core.hotpaths")
    yield
    backend.unregister_backend(ALIAS)


@pytest.fixture(params=[pytest.param(ALIAS, id="alias"), _numba_param()])
def other(request: pytest.FixtureRequest) -> str:
    """A backend other than "numpy" that loads here."""
    return request.param


# ------------------------------------------------------------------------ selection rules
def test_default_is_numpy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(backend, "_default", None)
    assert numdl.get_backend() == "numpy"
    assert backend.current().name == "numpy"
    assert backend.current().module.__name__ == "numdl.core.hotpaths"


def test_env_var_respected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(backend, "_default", None)
    monkeypatch.setenv("NUMDL_BACKEND", ALIAS)
    assert numdl.get_backend() == ALIAS
    monkeypatch.setenv("NUMDL_BACKEND", "  numba ")  # surrounding blanks are ignored
    assert numdl.get_backend() == "numba"


def test_env_var_empty_means_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(backend, "_default", None)
    monkeypatch.setenv("NUMDL_BACKEND", "")
    assert numdl.get_backend() == "numpy"


def test_invalid_env_var_names_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(backend, "_default", None)
    monkeypatch.setenv("NUMDL_BACKEND", "tensorflow")
    with pytest.raises(ValueError, match="NUMDL_BACKEND") as info:
        numdl.get_backend()
    assert "'tensorflow'" in str(info.value)
    assert "'numpy'" in str(info.value)


def test_set_backend_beats_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(backend, "_default", None)
    monkeypatch.setenv("NUMDL_BACKEND", "numba")
    numdl.set_backend(ALIAS)
    assert numdl.get_backend() == ALIAS


def test_set_and_get_backend() -> None:
    numdl.set_backend(ALIAS)
    assert numdl.get_backend() == ALIAS
    assert backend.current().name == ALIAS
    numdl.set_backend("numpy")
    assert numdl.get_backend() == "numpy"


def test_use_backend_beats_set_backend() -> None:
    numdl.set_backend("numpy")
    with numdl.use_backend(ALIAS) as be:
        assert be.name == ALIAS
        numdl.set_backend("numpy")  # the block still wins until it ends
        assert numdl.get_backend() == ALIAS
    assert numdl.get_backend() == "numpy"


def test_use_backend_restores_on_exit(other: str) -> None:
    assert numdl.get_backend() == "numpy"
    with numdl.use_backend(other) as be:
        assert numdl.get_backend() == other
        assert be is backend.load(other)
        with numdl.use_backend("numpy"):
            assert numdl.get_backend() == "numpy"
        assert numdl.get_backend() == other
    assert numdl.get_backend() == "numpy"


def test_use_backend_restores_on_exception(other: str) -> None:
    def body() -> None:
        with numdl.use_backend(other):
            assert numdl.get_backend() == other
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        body()
    assert numdl.get_backend() == "numpy"


def test_ops_dispatch_to_the_active_backend(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    be = backend.load(ALIAS)
    real = be.logsumexp_rows

    def spy(x, out):
        calls.append("alias")
        return real(x, out)

    monkeypatch.setattr(be, "logsumexp_rows", spy)
    x = np.zeros((2, 3))
    numdl.logsumexp(x)
    assert calls == []
    with numdl.use_backend(ALIAS):
        np.testing.assert_allclose(numdl.logsumexp(x), np.log(3.0))
    assert calls == ["alias"]


# ---------------------------------------------------------------------------- scoping
def test_use_backend_is_per_thread(other: str) -> None:
    barrier = threading.Barrier(2, timeout=10)
    seen: dict[str, str] = {}
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            with numdl.use_backend(other):
                seen["worker_inside"] = numdl.get_backend()
                barrier.wait()  # 1: the main thread looks while the worker is inside
                barrier.wait()  # 2: the main thread has looked
            seen["worker_after"] = numdl.get_backend()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
            barrier.abort()

    thread = threading.Thread(target=worker)
    thread.start()
    barrier.wait()
    seen["main_during"] = numdl.get_backend()
    barrier.wait()
    thread.join(10)
    assert not errors
    assert seen == {"worker_inside": other, "main_during": "numpy", "worker_after": "numpy"}


def test_new_thread_does_not_inherit_a_block(other: str) -> None:
    seen: list[str] = []
    with numdl.use_backend(other):
        thread = threading.Thread(target=lambda: seen.append(numdl.get_backend()))
        thread.start()
        thread.join(10)
        assert numdl.get_backend() == other
    assert seen == ["numpy"]


def test_use_backend_is_per_asyncio_task(other: str) -> None:
    async def main() -> dict[str, str]:
        inside = asyncio.Event()
        looked = asyncio.Event()
        seen: dict[str, str] = {}

        async def in_block() -> None:
            with numdl.use_backend(other):
                seen["task_a_inside"] = numdl.get_backend()
                inside.set()
                await looked.wait()
                seen["task_a_still"] = numdl.get_backend()
            seen["task_a_after"] = numdl.get_backend()

        async def outside() -> None:
            await inside.wait()
            seen["task_b"] = numdl.get_backend()
            looked.set()

        await asyncio.wait_for(asyncio.gather(in_block(), outside()), 10)
        seen["main"] = numdl.get_backend()
        return seen

    assert asyncio.run(main()) == {
        "task_a_inside": other,
        "task_b": "numpy",
        "task_a_still": other,
        "task_a_after": "numpy",
        "main": "numpy",
    }


# ----------------------------------------------------------------------------- errors
_SELECTORS = (numdl.set_backend, lambda n: numdl.use_backend(n).__enter__(), backend.load)


@pytest.mark.parametrize("name", ["jax", "NumPy", "", " numpy", "numpy\n"])
def test_unknown_name_lists_valid_ones(name: str) -> None:
    for call in _SELECTORS:
        with pytest.raises(ValueError, match=r"^unknown backend") as info:
            call(name)
        for valid in ("'numpy'", "'numba'", "'cuda'"):
            assert valid in str(info.value)
    assert numdl.get_backend() == "numpy"


@pytest.mark.parametrize(
    "name", [1, 0, None, True, 3.0, b"numpy", ["numpy"], ("numpy",), np.str_("x").encode()]
)
def test_non_string_name_is_a_type_error(name: object) -> None:
    """set_backend(1) is a wrong kind of argument (TypeError), not an unknown name."""
    numdl.set_backend("numpy")
    for call in (*_SELECTORS, backend.unregister_backend):
        with pytest.raises(TypeError, match=r"^backend name must be a string, got ") as info:
            call(name)
        assert type(name).__name__ in str(info.value)
        assert "'numpy'" in str(info.value)  # and says what would be valid
    assert numdl.get_backend() == "numpy"


def test_numpy_string_name_is_accepted() -> None:
    """A NumPy string scalar is a str: it selects the backend like the plain string."""
    numdl.set_backend(np.str_(ALIAS))
    assert numdl.get_backend() == ALIAS


def test_register_backend_argument_kinds() -> None:
    with pytest.raises(TypeError, match=r"^name must be a string, got int"):
        backend.register_backend(3, "numdl.core.hotpaths")
    with pytest.raises(TypeError, match=r"^module must be a module name"):
        backend.register_backend("other", object())
    assert "other" not in numdl.available_backends()


def test_cuda_without_gpu_is_an_import_error() -> None:
    if importlib.util.find_spec("cupy") is not None:
        pytest.skip("CuPy is installed here; the missing-dependency path cannot be exercised")
    numdl.set_backend("numpy")
    with pytest.raises(ImportError, match="'cuda'") as info:
        numdl.set_backend("cuda")
    message = str(info.value)
    assert "To install" in message
    assert "pip install" in message
    assert "numdl[cuda]" in message
    # no silent fallback: the previous backend is still selected, the failed one is not
    assert numdl.get_backend() == "numpy"
    with pytest.raises(ImportError, match="pip install"), numdl.use_backend("cuda"):
        pass  # pragma: no cover - the block must not run
    assert numdl.get_backend() == "numpy"


def test_backend_missing_ops_is_an_import_error() -> None:
    backend.register_backend("broken", "numdl.core.validation")
    try:
        with pytest.raises(ImportError, match="lacks ops"):
            numdl.set_backend("broken")
        assert numdl.get_backend() == "numpy"
    finally:
        backend.unregister_backend("broken")


def test_registry_guards() -> None:
    with pytest.raises(ValueError, match="built-in"):
        backend.unregister_backend("numpy")
    with pytest.raises(ValueError, match="name"):
        backend.register_backend("not an identifier", "numdl.core.hotpaths")
    with pytest.raises(ValueError, match="unknown backend"):
        backend.unregister_backend("never_registered")


def test_unregister_resets_a_default_to_it() -> None:
    backend.register_backend("temporary", "numdl.core.hotpaths")
    numdl.set_backend("temporary")
    backend.unregister_backend("temporary")
    assert numdl.get_backend() != "temporary"


# --------------------------------------------------------------------------- metadata
def test_available_backends() -> None:
    names = numdl.available_backends()
    assert names[:3] == ["numpy", "numba", "cuda"]
    names.append("mutated")  # a copy: the registry is not exposed
    assert "mutated" not in numdl.available_backends()


def test_ops_cover_hotpaths() -> None:
    assert set(backend.OPS) == set(numdl.core.hotpaths.__all__)
    be = backend.load("numpy")
    for op in backend.OPS:
        assert getattr(be, op) is getattr(numdl.core.hotpaths, op)
    assert be.xp is np
    assert "numpy" in repr(be)


def test_import_numdl_does_not_import_numba() -> None:
    code = (
        "import sys, numdl, numdl.nn.layers, numdl.nn.models, numdl.optim, numdl.optim.schedules\n"
        "import numpy as np\nnumdl.softmax(np.zeros((2, 2)))\n"
        "assert 'numba' not in sys.modules, 'numba imported'\n"
        "assert 'numdl_kernels' not in sys.modules, 'numdl_kernels imported'\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
