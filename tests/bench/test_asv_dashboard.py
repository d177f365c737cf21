"""``tools/asv_offline.py``: the published asv dashboard loads nothing from the network.

The fast tests rewrite asv's own ``index.html`` and check the pinned tarballs; the slow one
publishes a real (one-benchmark) asv results set, vendors the libraries (``npm pack`` on the
first run, the cache after), serves the pages on 127.0.0.1 and opens them in headless
Chromium with every other host unresolvable: the page must render its benchmark grid and
list, with no script error, failed load or ``console.error``.
"""

from __future__ import annotations

import contextlib
import functools
import html
import http.server
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def tool():
    spec = importlib.util.spec_from_file_location("asv_offline", ROOT / "tools" / "asv_offline.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        del sys.modules[spec.name]


def _asv_index() -> str:
    pytest.importorskip("asv")
    import asv

    return (Path(asv.__file__).parent / "www" / "index.html").read_text(encoding="utf-8")


def _loads(page: str) -> list[str]:
    """The URLs the page's <script> and <link> tags load."""
    return [
        m.group(2)
        for m in re.finditer(r"<(?:script|link)\b[^>]*\b(?:src|href)=(['\"])(.*?)\1", page)
    ]


# ------------------------------------------------------------------------------- fast
def test_every_cdn_tag_of_asvs_page_is_rewritten_to_a_vendored_file(tool):
    page = _asv_index()
    remote = [url for url in _loads(page) if url.startswith(("http:", "https:", "//"))]
    assert len(remote) >= 9, "asv's page loads its libraries from CDNs (else nothing to test)"
    local, unknown = tool.localise(page)
    assert unknown == []
    assert not [url for url in _loads(local) if url.startswith(("http:", "https:", "//"))]
    vendored = {f"vendor/{p}" for lib in tool.LIBRARIES.values() for p in lib.files.values()}
    rewritten = [url for url in _loads(local) if url.startswith("vendor/")]
    assert len(rewritten) == len(remote)
    assert set(rewritten) <= vendored
    for tag in re.findall(r"<(?:script|link)\b[^>]*vendor/[^>]*>", local):
        assert "integrity" not in tag
        assert "crossorigin" not in tag
    assert local.count('onerror="js_load_failure()"') == page.count('onerror="js_load_failure()"')
    assert tool.localise(local) == (local, [])  # idempotent


def test_an_unknown_cdn_url_is_an_error_and_no_page_is_written(tool, tmp_path):
    known = tmp_path / "index.html"
    known.write_text(_asv_index())
    other = tmp_path / "other.html"
    other.write_text('<head><script src="https://cdn.example/new.js"></script></head>')
    before = known.read_text()
    with pytest.raises(tool.VendorError, match=re.escape("https://cdn.example/new.js")):
        tool.localise_pages(tmp_path)
    assert known.read_text() == before


def test_a_tarball_that_fails_its_pinned_integrity_is_refused(tool, tmp_path):
    fake = tmp_path / "jquery-3.3.1.tgz"
    with tarfile.open(fake, "w:gz"):
        pass
    with pytest.raises(tool.VendorError, match="does not match the pinned integrity"):
        tool.fetch("jquery@3.3.1", tmp_path, npm="no-such-npm")
    assert not fake.exists()
    with pytest.raises(tool.VendorError, match="npm is not installed"):
        tool.fetch("jquery@3.3.1", tmp_path, npm="no-such-npm")


def test_every_library_is_pinned_once(tool):
    specs = {lib.spec for lib in tool.LIBRARIES.values()}
    assert specs == set(tool.INTEGRITY)
    assert all(v.startswith("sha512-") for v in tool.INTEGRITY.values())


# ------------------------------------------------------------------------ in a browser
_OBSERVER = b"""<script>
window.__problems = [];
function __note(what) {
  window.__problems.push(String(what));
  document.documentElement.setAttribute("data-problems", JSON.stringify(window.__problems));
}
window.addEventListener("error", function (e) {
  var t = e.target || {};
  __note(e.message || ("failed to load " + (t.src || t.href)));
}, true);
window.addEventListener("unhandledrejection", function (e) { __note("rejection " + e.reason); });
var __consoleError = console.error;
console.error = function () {
  __note(Array.prototype.join.call(arguments, " "));
  __consoleError.apply(console, arguments);
};
</script>"""


def _chromium() -> str | None:
    return next(
        (p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p),
        None,
    )


class _Pages(http.server.SimpleHTTPRequestHandler):
    """The published pages, with :data:`_OBSERVER` first in ``index.html``'s head; every
    request's path and status is recorded in ``served``."""

    served: list[tuple[str, int]]

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        self.served.append((self.path, int(code) if str(code).isdigit() else 0))

    def log_message(self, *args: object) -> None:  # quiet
        pass

    def do_GET(self) -> None:
        if self.path.split("?")[0] not in ("/", "/index.html"):
            return super().do_GET()
        page = (Path(self.directory) / "index.html").read_bytes()
        body = page.replace(b"<head>", b"<head>" + _OBSERVER, 1)
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        return None


@contextlib.contextmanager
def _serve(directory: Path) -> Iterator[tuple[str, list[tuple[str, int]]]]:
    served: list[tuple[str, int]] = []
    handler = type("Pages", (_Pages,), {"served": served})
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(handler, directory=str(directory))
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/index.html", served
    finally:
        server.shutdown()
        server.server_close()


def _browse(chromium: str, url: str, *extra: str) -> subprocess.CompletedProcess[str]:
    """Headless Chromium on ``url``; every host but 127.0.0.1 is unresolvable."""
    return subprocess.run(
        [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
            "--virtual-time-budget=15000",
            "--window-size=1280,900",
            *extra,
            url,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _asv(args: list[str], cwd: Path, env: dict[str, str]) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "asv", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.fixture(scope="module")
def dashboard(tool, tmp_path_factory) -> Path:
    """A published, vendored dashboard of one benchmark (the import time) at HEAD."""
    pytest.importorskip("asv")
    if not (ROOT / ".git").exists():
        pytest.skip("asv needs the git repository (run from a clone)")
    from asv import util

    cache = tool.default_cache()
    if shutil.which("npm") is None and not all(
        (cache / f"{spec.replace('@', '-')}.tgz").is_file() for spec in tool.INTEGRITY
    ):
        pytest.skip(f"npm is not installed and {cache} does not hold the libraries")
    tmp = tmp_path_factory.mktemp("asv")
    home = tmp / "home"
    home.mkdir()
    env = dict(os.environ, HOME=str(home))  # asv's machine file goes to $HOME/.asv-machine.json
    env.setdefault("XDG_CACHE_HOME", str(Path.home() / ".cache"))
    conf = util.load_json(str(ROOT / "asv.conf.json"), js_comments=True)
    conf.update(
        repo=str(ROOT),
        benchmark_dir=str(ROOT / "benchmarks"),
        env_dir=str(tmp / "env"),
        results_dir=str(tmp / "results"),
        html_dir=str(tmp / "html"),
    )
    config = tmp / "asv.conf.json"
    config.write_text(json.dumps(conf, indent=2))
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout.strip()
    _asv(["machine", "--yes", "--machine", "ci", "--config", str(config)], tmp, env)
    bench = ["run", "--python=same", "--quick", "--machine", "ci", "--config", str(config)]
    _asv([*bench, "--set-commit-hash", head, "-b", r"^startup\.track_import"], tmp, env)
    done = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "asv_offline.py"), "--config", str(config)],
        cwd=tmp,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "page(s) rewritten" in done.stdout
    return tmp / "html"


def _problems(dom: str) -> list[str]:
    found = re.search(r'data-problems="([^"]*)"', dom)
    return json.loads(html.unescape(found.group(1))) if found else []


@pytest.mark.slow
def test_the_dashboard_renders_offline_in_chromium(dashboard, tmp_path):
    chromium = _chromium()
    if chromium is None:
        pytest.skip("no Chromium (Debian: apt-get install chromium)")
    image = pytest.importorskip("PIL.Image")
    assert (dashboard / "vendor" / "SOURCES.txt").is_file()
    with _serve(dashboard) as (url, served):
        grid = _browse(chromium, url, "--dump-dom")
        listing = _browse(chromium, url + "#/summarylist", "--dump-dom")
        shot = tmp_path / "grid.png"
        _browse(chromium, url, f"--screenshot={shot}")
    for page in (grid, listing):
        assert page.returncode == 0, page.stderr[-3000:]
        assert "<title>airspeed velocity of an unladen numdl</title>" in page.stdout, (
            "asv's error page: a library failed to load"
        )
        assert _problems(page.stdout) == []
    # the grid names the benchmarks; the list (stupidtable) holds the measured one
    assert "track_import_seconds" in grid.stdout
    assert "TimeOps.time_op" in grid.stdout
    assert re.search(r"<table[^>]*summarylist-table", listing.stdout)
    assert "startup.track_import_seconds" in listing.stdout
    vendored = {path.split("?")[0] for path, _ in served if path.startswith("/vendor/")}
    assert "/vendor/jquery.min.js" in vendored
    assert "/vendor/flot/jquery.flot.js" in vendored
    assert "/vendor/bootstrap/css/bootstrap.min.css" in vendored
    assert all(code == 200 for path, code in served if path.startswith("/vendor/"))
    with image.open(shot) as png:
        assert png.size == (1280, 900)
        colours = png.convert("RGB").getcolors(maxcolors=1 << 20)
    assert len(colours) > 20, "the screenshot is blank"
