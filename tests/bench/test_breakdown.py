"""numdl.bench.breakdown: its parts are the library's training step, piece by piece.

The breakdown is only an account of the step if timing the pieces one by one does the same
work as the step: after the same batches from the same initial weights, the parameters
trained by the timed parts must equal (bitwise) those trained by the library's own step, on
each backend. And the report must render every part.
"""

from __future__ import annotations

import numpy as np
import pytest

from numdl.bench.breakdown import PARTS, _library_runner, _parts_runner, bench_breakdown
from numdl.bench.epoch import Batches
from numdl.bench.ops import backend_modules
from numdl.bench.report import breakdown_markdown


def _batches(steps: int = 4) -> Batches:
    rng = np.random.default_rng(0)
    x = rng.random((steps * 256, 784), dtype=np.float32)
    y = rng.integers(0, 10, steps * 256)
    batches = Batches(x, y, 256, steps)
    batches.shuffle(3)
    return batches


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_parts_do_exactly_the_work_of_the_library_step(backend: str) -> None:
    if backend not in backend_modules():
        pytest.skip(f"backend {backend} not available")
    batches = _batches()
    library = _library_runner(backend, 784, 10)
    parts = _parts_runner(backend, 784, 10)
    np.testing.assert_array_equal(library.model.params.data, parts.model.params.data)
    library(batches, 0, 4)
    spent = parts(batches, 0, 4)
    assert set(spent) == set(PARTS)
    assert all(seconds > 0 for seconds in spent.values())
    trained = library.model.params.data
    assert not np.array_equal(trained, _library_runner(backend, 784, 10).model.params.data)
    np.testing.assert_array_equal(parts.model.params.data, trained)


def test_breakdown_runs_and_renders(tmp_path) -> None:
    report = bench_breakdown(backend_modules(), str(tmp_path), repeats=1, max_steps=3)
    assert report["synthetic"] is True
    text = "\n".join(breakdown_markdown(report))
    for part in PARTS:
        assert f"| {part} |" in text
    for backend in report["backends"]:
        summary = report["summary"][backend]
        assert summary["library_step_us"] > 0
        assert summary["gemm_floor_us"] > 0
        assert summary["ratio_to_floor"] > 0
    assert "÷ GEMM floor" in text
