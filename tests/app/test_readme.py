"""The README's Python examples run as written (so the README cannot drift from the code)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[2] / "README.md"
BLOCKS = re.findall(r"^```python\n(.*?)^```", README.read_text(encoding="utf-8"), re.S | re.M)


def test_the_readme_has_python_examples() -> None:
    assert BLOCKS, "README.md has no ```python block; this test would check nothing"


@pytest.mark.parametrize("code", BLOCKS, ids=[f"block{i}" for i in range(len(BLOCKS))])
def test_readme_python_block_runs_as_written(code: str, tmp_path: Path) -> None:
    """Each block in a fresh interpreter, in an empty directory, with no data files."""
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    if "test accuracy" in code:  # the training example reports what it learned
        accuracy = float(re.search(r"test accuracy ([\d.]+)%", result.stdout).group(1))
        assert accuracy > 90, result.stdout
