"""The asv suites run: every benchmark once (quick mode) against the installed project.

``asv run --python=same`` measures the numdl installed in this environment (nothing is
built); a temporary copy of ``asv.conf.json`` points the machine file, results, html and
environment directories into ``tmp_path`` so neither the repository nor ``~/.asv-machine.json``
is touched. asv exits with status 2 when any benchmark fails (skips, e.g. the ``cuda``
backend without a GPU or the MNIST benchmarks without the data, are not failures).

The whole suite takes about 5–6 minutes on two cores, hence ``slow``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _asv(args: list[str], cwd: Path, env: dict[str, str], timeout: float):
    return subprocess.run(
        [sys.executable, "-m", "asv", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _config(tmp_path: Path) -> Path:
    from asv import util

    conf = util.load_json(str(ROOT / "asv.conf.json"), js_comments=True)
    conf.update(
        version=1,
        repo=str(ROOT),
        benchmark_dir=str(ROOT / "benchmarks"),
        env_dir=str(tmp_path / "env"),
        results_dir=str(tmp_path / "results"),
        html_dir=str(tmp_path / "html"),
    )
    path = tmp_path / "asv.conf.json"
    path.write_text(json.dumps(conf, indent=2))
    return path


def test_config_is_valid_for_asv():
    pytest.importorskip("asv")
    from asv import util
    from asv.config import Config

    conf = Config.from_json(util.load_json(str(ROOT / "asv.conf.json"), js_comments=True))
    assert conf.repo == "."
    assert conf.branches == ["main"]
    assert conf.environment_type == "virtualenv"
    assert conf.results_dir.startswith(".asv")
    assert conf.html_dir.startswith(".asv")
    # Building dependency wheels into the cache makes asv fail with "Found multiple wheels".
    assert all("--no-deps" in cmd for cmd in conf.build_command)


@pytest.mark.slow
def test_every_benchmark_runs_once(tmp_path):
    pytest.importorskip("asv")
    if not (ROOT / ".git").exists():
        pytest.skip("asv needs the git repository (run from a clone)")
    home = tmp_path / "home"
    home.mkdir()
    env = dict(os.environ, HOME=str(home))  # asv's machine file goes to $HOME/.asv-machine.json
    env.setdefault("XDG_CACHE_HOME", str(Path.home() / ".cache"))  # keep numdl's data cache
    config = str(_config(tmp_path))

    done = _asv(["machine", "--yes", "--machine", "ci", "--config", config], tmp_path, env, 120)
    assert done.returncode == 0, done.stdout + done.stderr
    done = _asv(
        [
            "run",
            "--python=same",
            "--quick",
            "--dry-run",
            "--show-stderr",
            "--machine",
            "ci",
            "--config",
            config,
        ],
        tmp_path,
        env,
        1800,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-20000:]
    assert "Discovering benchmarks" in output
    assert "failed" not in output, output[-20000:]
    for name in (
        "ops.TimeOps.time_op",
        "startup.track_import_seconds",
        "FirstTrainingStep",
        "FillCache",
        "MnistEpoch",
        "StepBreakdown",
    ):
        assert name in output, f"{name} did not run"


# ----------------------------------------------------------------------- numdl bench
def test_time_interleaved_takes_one_sample_per_round():
    from numdl.bench import time_interleaved

    calls = {"a": 0, "b": 0}

    def make(name):
        def fn():
            calls[name] += 1

        return fn

    timings = time_interleaved({"a": make("a"), "b": make("b")}, repeats=4, min_sample=1e-4)
    assert set(timings) == {"a", "b"}
    for name, t in timings.items():
        assert len(t.samples) == 4
        assert t.min <= t.median <= t.max
        # warm-up and calibration (2), then per round one untimed call when number > 1
        assert calls[name] == 2 + 4 * t.number + (4 if t.number > 1 else 0)


def test_bench_command_writes_markdown_and_json(tmp_path, capsys):
    pytest.importorskip("numba")
    from numdl.app.cli import main

    out = tmp_path / "bench.json"
    argv = ["bench", "--quick", "--only", "ops", "--cases", "nesterov_update"]
    argv += ["--repeats", "1", "--no-torch", "--json", str(out)]
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "| `nesterov_update` | mnist 407050 | float32 |" in text
    assert "| `nesterov_update` | large 25000000 | float32 |" in text
    report = json.loads(out.read_text())
    assert report["machine"]["threads"] >= 1
    assert report["limits"]["bandwidth"]["gb_per_s"] > 0
    rows = {row["shape_name"]: row for row in report["ops"]}
    assert set(rows) == {"mnist", "large"}
    assert set(rows["large"]["impls"]) == {"numpy", "numba"}
    assert rows["large"]["bandwidth_probes_same_rounds"] is not None  # 500 MB: DRAM-bound
    assert rows["large"]["roofline_s"] > 0


def test_epoch_without_mnist_runs_on_labelled_synthetic_data(tmp_path):
    pytest.importorskip("numba")
    from numdl.bench.epoch import bench_epoch
    from numdl.bench.ops import backend_modules
    from numdl.bench.report import targets, to_markdown

    report = {
        "machine": {
            "date": "d",
            "host": "h",
            "platform": "p",
            "cpu": "c",
            "logical_cpus": 2,
            "usable_cpus": 2,
            "memory_gib": 1.0,
            "threads": 1,
            "blas": "b",
            "python": "3",
            "numdl": "0",
            "numpy": "2",
            "numba": "0",
            "numba_threading_layer": "omp",
            "torch": None,
            "torch_blas": None,
        },
        "settings": {"repeats": 1, "dtype": "float32", "quick": True},
    }
    modules = backend_modules()
    report["epoch"] = bench_epoch(None, modules, str(tmp_path), repeats=1, max_steps=2)
    assert report["epoch"]["synthetic"] is True
    losses = report["epoch"]["first_round_mean_loss"]
    assert losses["numdl-numba"] == pytest.approx(losses["numdl-numpy"], rel=1e-4)
    report["targets"] = targets(report)
    text = to_markdown(report)
    assert "SYNTHETIC data, not MNIST" in text
    assert "| GEMM floor |" in text
