"""``numdl report``: one self-contained HTML page, checked as written and in headless Chromium
(skipped when Chromium is not installed: ``apt-get install chromium``)."""

from __future__ import annotations

import base64
import io
import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from numdl.app.cli import main
from numdl.app.report import Predictions, render_report

pytest.importorskip("matplotlib")
Image = pytest.importorskip("PIL.Image")

#: The figures of a monitored run: curves, dynamics, three kinds of histograms, confusion
#: matrix, misclassified images.
FIGURES = 7
DATA_URI = re.compile(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)"')

#: Recorded into the page's <body> on load by the probe the browser test adds: how many images
#: it has, how many decoded, and every error event (a failed load, a script error).
PROBE = """<script nonce="probe">
const errors = [];
window.addEventListener("error", (e) => errors.push(String(e.message || e.target.src)), true);
window.addEventListener("load", () => {
  const images = [...document.images];
  document.body.dataset.images = images.length;
  document.body.dataset.decoded = images.filter((i) => i.complete && i.naturalWidth > 0).length;
  document.body.dataset.errors = JSON.stringify(errors);
});
</script>"""


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    """A small monitored run on synthetic digits, and its report."""
    run = tmp_path_factory.mktemp("report") / "run"
    args = ["--dataset", "synthetic", "--hidden", "16", "--batch-size", "500", "--epochs", "2"]
    assert main(["train", *args, "--monitor", "4", "--backend", "numpy", "--out", str(run)]) == 0
    assert main(["report", str(run), "--backend", "numpy"]) == 0
    return run


@pytest.mark.slow
def test_the_page_is_self_contained_and_holds_every_figure(run: Path) -> None:
    page = (run / "report.html").read_text()
    assert page.startswith("<!DOCTYPE html>")
    assert "Content-Security-Policy" in page
    assert "default-src 'none'; img-src data:" in page
    assert not re.search(r"(src|href)=\"(?!data:)", page), "a reference to another resource"
    assert "http://" not in page
    assert "https://" not in page
    images = DATA_URI.findall(page)
    assert len(images) == FIGURES
    assert page.count("<img ") == FIGURES
    for data in images:
        with Image.open(io.BytesIO(base64.b64decode(data, validate=True))) as im:
            assert im.format == "PNG"
            assert min(im.size) > 100
    for title in ("Learning curves", "Training dynamics", "Gradients", "confusion", "misclass"):
        assert title in page
    accuracy = json.loads((run / "test.json").read_text())["test_accuracy"]
    assert f"{100 * accuracy:.2f}% (best.npz)" in page


def _chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        pytest.skip("chromium is not installed (apt-get install chromium): no browser check")
    return path


def _browse(chromium: str, page: Path, *flags: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
         "--enable-logging=stderr", "--v=0", "--virtual-time-budget=20000", *flags,
         page.resolve().as_uri()],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def _with_probe(page: str) -> str:
    """The page with :data:`PROBE` first in its head, its policy extended by the probe's nonce
    only (so that every image and style is still under the page's own policy)."""
    assert "default-src 'none';" in page
    page = page.replace("default-src 'none';", "default-src 'none'; script-src 'nonce-probe';", 1)
    return page.replace("<head>", "<head>" + PROBE, 1)


def _loaded(dom: str) -> dict[str, str]:
    body = re.search(r"<body([^>]*)>", dom)
    assert body is not None, dom[:500]
    found = dict(re.findall(r'data-(\w+)="([^"]*)"', body.group(1)))
    assert "images" in found, f"the page never finished loading: {body.group(0)[:300]}"
    return found


@pytest.mark.slow
def test_chromium_loads_the_page_without_errors_and_decodes_every_figure(
    run: Path, tmp_path: Path
) -> None:
    chromium = _chromium()
    probed = tmp_path / "probed.html"
    probed.write_text(_with_probe((run / "report.html").read_text()))
    result = _browse(chromium, probed, "--dump-dom")
    assert result.returncode == 0, result.stderr[-2000:]
    loaded = _loaded(result.stdout)
    assert loaded["images"] == str(FIGURES)
    assert loaded["decoded"] == str(FIGURES)
    assert json.loads(loaded["errors"].replace("&quot;", '"')) == []
    console = [line for line in result.stderr.splitlines() if "CONSOLE" in line]
    assert console == [], console

    # and the probe sees a broken page: an image that does not decode, one from the network
    broken = probed.read_text().replace("base64,", "base64,AAAA", 1)
    broken = broken.replace("</body>", '<img src="https://example.invalid/x.png"></body>')
    probed.write_text(broken)
    result = _browse(chromium, probed, "--dump-dom")
    loaded = _loaded(result.stdout)
    assert loaded["decoded"] == str(FIGURES - 1)
    assert any("Content Security Policy" in line for line in result.stderr.splitlines())


@pytest.mark.slow
def test_a_screenshot_of_the_page_shows_its_figures(run: Path, tmp_path: Path) -> None:
    chromium = _chromium()
    shot = tmp_path / "page.png"
    result = _browse(
        chromium, run / "report.html", f"--screenshot={shot}", "--window-size=1280,3000"
    )
    assert result.returncode == 0, result.stderr[-2000:]
    with Image.open(shot) as im:
        pixels = np.asarray(im.convert("RGB"))
    assert pixels.shape[:2] == (3000, 1280)
    ink = np.any(pixels < 200, axis=2)
    assert ink.mean() > 0.02, "the page looks blank"
    colours = np.unique(pixels.reshape(-1, 3)[::97], axis=0)
    assert len(colours) > 100, "plots have many colours; text alone has few"


@pytest.mark.slow
def test_the_last_checkpoint_into_another_file(numdl_main, run: Path, tmp_path: Path) -> None:
    out = tmp_path / "page.html"
    code, stdout, err = numdl_main("report", str(run), "--checkpoint", "last", "--out", str(out))
    assert code == 0, err
    assert f"report: {out}" in stdout
    assert "% (last.npz)" in out.read_text()
    code, _, err = numdl_main("report", str(run), "--out", str(tmp_path / "missing" / "x.html"))
    assert code == 1
    assert "no report written" in err
    assert "does not exist" in err


def _results(n: int, shape: tuple[int, int], seed: int = 0) -> Predictions:
    rng = np.random.default_rng(seed)
    logits = rng.standard_normal((n, 3))
    proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    images = rng.random((n, shape[0] * shape[1]))
    labels = rng.integers(0, 3, size=n)
    return Predictions(images, labels, proba, shape, "last.npz", "toy")


HISTORY = [
    {"epoch": 1, "train_loss": 1.0, "train_acc": 0.5, "val_loss": 1.1, "val_acc": 0.4},
    {"epoch": 2, "train_loss": 0.8, "train_acc": 0.6, "val_loss": 1.0, "val_acc": 0.45},
    {"epoch": 3, "train_loss": 0.7, "train_acc": 0.7, "val_loss": 1.2, "val_acc": 0.42},
]


def test_a_run_without_monitor_records_says_so(tmp_path: Path) -> None:
    page = render_report(tmp_path, HISTORY, {"epochs": 3}, _results(20, (5, 5)))
    assert "Not recorded: train with <code>--monitor</code>" in page
    assert page.count("<img ") == 3  # curves, confusion matrix, misclassified images
    assert "Stopped early" not in page


def test_points_get_no_image_grid_and_early_stopping_is_noted(tmp_path: Path) -> None:
    config = {"epochs": 10, "patience": 1}
    page = render_report(tmp_path, HISTORY, config, _results(20, (1, 2)))
    assert "The inputs are not images" in page
    assert page.count("<img ") == 2
    assert "Stopped early after epoch 3 of 10" in page
    assert "since epoch 2" in page


def test_worst_is_checked(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="worst"):
        render_report(tmp_path, HISTORY, {}, _results(5, (5, 5)), worst=-1)


def test_report_of_a_directory_that_is_no_run(numdl_main, tmp_path: Path) -> None:
    code, _, err = numdl_main("report", str(tmp_path))
    assert code == 2
    assert "is not a run directory" in err
