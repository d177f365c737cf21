"""The CPU kernels' bodies, run as Python (``NUMBA_DISABLE_JIT=1``), equal the reference.

Compiled code hides kernel bodies from Python tooling: a branch no equivalence case reaches
looks covered because the kernel "ran". Here the registry's equivalence cases (named tiny and
small shapes, and the hypothesis-drawn ones) run in a subprocess with Numba's JIT disabled,
under ``coverage``, twice: with the default threading threshold (serial kernels) and with
``NUMDL_NUMBA_PARALLEL_MIN_SIZE=0`` (the ``prange`` kernels, which run as plain loops). The
test then asserts that the body of every compiled function in ``numdl_kernels.cpu`` executed
— so a new kernel, or a new path inside one, without a registry case that reaches it fails
here. Only code that runs inside the compiler is exempt: the intrinsics' code generators and
``@overload`` typing functions (their pure-Python twins are what runs here).
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("coverage")

import numdl_kernels.cpu

ROOT = Path(__file__).resolve().parents[2]
#: The kernels as installed (site-packages in CI, the source tree in an editable install).
KERNELS = Path(numdl_kernels.cpu.__file__).resolve().parent
SELECTION = "named_shapes or hypothesis"
_COMPILED = ("njit", "jit", "_jit", "overload", "intrinsic")


def _decorator_name(node: ast.expr) -> str:
    target = node.func if isinstance(node, ast.Call) else node
    return target.attr if isinstance(target, ast.Attribute) else getattr(target, "id", "")


def _compiled_bodies(path: Path) -> dict[str, int]:
    """{function name: first line of its body after the docstring} for compiled functions.

    Compiled means decorated with a Numba decorator, or passed to ``_compile(...)``.
    Intrinsics and ``@overload`` implementations are skipped (their bodies run at typing
    time; the plain functions they stand for are checked instead).
    """
    tree = ast.parse(path.read_text())
    compiled_by_call = {
        arg.id
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "_compile"
        for arg in node.args
        if isinstance(arg, ast.Name)
    }
    bodies = {}
    for node in ast.walk(tree):
        if not isinstance(node, ast.FunctionDef):
            continue
        names = {_decorator_name(d) for d in node.decorator_list}
        if names & {"intrinsic", "overload"}:
            continue  # typing-time code: the plain function it overloads is what runs here
        if not (names & set(_COMPILED)) and node.name not in compiled_by_call:
            continue
        body = node.body
        if isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
            body = body[1:]  # the docstring
        if body:
            bodies[node.name] = body[0].lineno
    return bodies


def _run_pass(tmp: Path, label: str, extra_env: dict[str, str]) -> None:
    env = {
        **os.environ,
        "NUMBA_DISABLE_JIT": "1",
        "COVERAGE_FILE": str(tmp / f".coverage.{label}"),
        **extra_env,
    }
    cmd = [
        sys.executable,
        "-m",
        "coverage",
        "run",
        "--source=numdl_kernels.cpu",
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "-W",
        "ignore::RuntimeWarning",  # NumPy scalar warnings on the extreme values, expected
        str(ROOT / "tests" / "equivalence" / "test_ops.py"),
        "-k",
        SELECTION,
    ]
    done = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"{label} pass failed:\n{done.stdout[-4000:]}{done.stderr[-2000:]}"


@pytest.mark.slow
def test_kernel_bodies_run_as_python_equal_the_reference_and_are_all_reached(tmp_path) -> None:
    _run_pass(tmp_path, "serial", {})
    _run_pass(tmp_path, "parallel", {"NUMDL_NUMBA_PARALLEL_MIN_SIZE": "0"})
    env = {**os.environ, "COVERAGE_FILE": str(tmp_path / ".coverage")}
    for args in (["combine", str(tmp_path)], ["json", "-o", str(tmp_path / "cov.json")]):
        subprocess.run(
            [sys.executable, "-m", "coverage", *args],
            env=env,
            cwd=ROOT,
            check=True,
            capture_output=True,
            timeout=120,
        )
    files = json.loads((tmp_path / "cov.json").read_text())["files"]
    executed = {
        (ROOT / name).resolve(): set(info["executed_lines"]) for name, info in files.items()
    }
    missed = []
    checked = 0
    for path in sorted(KERNELS.glob("*.py")):
        for name, line in _compiled_bodies(path).items():
            checked += 1
            if line not in executed.get(path.resolve(), set()):
                missed.append(f"{path.name}:{line} {name}")
    assert checked >= 20, f"found only {checked} compiled functions: is the scan still right?"
    assert not missed, "compiled functions no equivalence case reaches: " + ", ".join(missed)
