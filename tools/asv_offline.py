"""Publish the asv dashboard so that it works offline: ``asv publish``, then vendor the
JavaScript and CSS it loads from CDNs, from the npm registry, beside the pages.

Usage::

    python tools/asv_offline.py               # asv publish, then vendor into .asv/html
    python tools/asv_offline.py --no-publish  # vendor an already published .asv/html
    asv preview                               # then open http://127.0.0.1:8080

asv 0.6's ``index.html`` loads jQuery, flot and three of its plugins, flot-orderbars,
stupidtable, blueimp-md5 and Bootstrap 3 from code.jquery.com, cdnjs and jsdelivr; without a
network every one fails and the page goes to asv's error page. :data:`LIBRARIES` names, for
each CDN URL, the npm package holding the same library at the same version (stupidtable
excepted: npm has only 1.1.3 of it, the same plugin with fixes) and the file in it. Each
package is fetched once with ``npm pack`` into a cache (``$XDG_CACHE_HOME/numdl/asv-vendor``,
else ``~/.cache/numdl/asv-vendor``) and checked against the sha512 pinned here; its files
(and licence) are copied to ``<html_dir>/vendor/`` with a ``SOURCES.txt``; each CDN
``<script>`` or ``<link>`` becomes a reference to its local copy (the CDN's ``integrity`` and
``crossorigin`` attributes go with the URL). A CDN URL not in the table (a newer asv) is an
error rather than a dashboard that is blank offline. Viewing the pages then fetches nothing
from the network (``tests/bench/test_asv_dashboard.py`` checks it in headless Chromium).
Needs asv and, for the first run on a machine, npm (Debian: ``apt-get install npm``).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tarfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Library:
    """An npm package (``name@version`` and its tarball's sha512 integrity) and the files the
    dashboard takes from it: ``{path in the tarball: path under vendor/}``."""

    spec: str
    integrity: str
    files: dict[str, str]


_BOOTSTRAP = "bootstrap@3.1.1"
_FLOT = "flot@0.8.3"
#: The npm tarballs, pinned by their registry integrity (what ``npm pack --json`` reports).
INTEGRITY = {
    "jquery@3.3.1": "sha512-Ubldcmxp5np52/ENotGxlLe6aGMvmF4R8S6tZjsP6Knsaxd/"
    "xp3Zrh50cG93lR6nPXyUFwzN3ZSOQI0wRJNdGg==",
    _FLOT: "sha512-xg2otcTJDvS+ERK+my4wxG/ASq90QURXtoM4LhacCq0jQW2jbyjdttbRNqU2cPykrpMvJ6b2"
    "uSp6SAgYAzj9tQ==",
    "flot-orderbars@1.0.0": "sha512-Jv51fvzevUjNXEeozpwEKfPjhiZhfiJddv0WHjduUTCmSF+7T5K7C9c9"
    "Y1wIVmUhDBv5fLMjgbwKecT0GIKPZA==",
    "stupid-table-plugin@1.1.3": "sha512-2Vk7XouQPxUQPRe9w0Fu7ZZ8kHLK7rDoLMsCgtKxRNJ7f4dSOGvW"
    "9CkHsq5wD6QsaEnWoyLBYH3xOEsrK3yWBg==",
    "blueimp-md5@2.19.0": "sha512-DRQrD6gJyy8FbiE4s+bDoXS9hiW3Vbx5uCdwvcCf3zLHL+Iv7LtGHLpr+"
    "GZV8rHG8tK766FGYBwRbu8pELTt+w==",
    _BOOTSTRAP: "sha512-TAzqS8E/ISpVHP29gYhy+1NSV+FJwApDVQhDfgLYsIuUDJiqJzH2DfORN5tiu+Ie2iBL"
    "rzEG34t4Rf465cigqg==",
}


def _library(spec: str, files: dict[str, str]) -> Library:
    return Library(spec, INTEGRITY[spec], files)


_FONTS = {
    f"package/dist/fonts/glyphicons-halflings-regular.{ext}": (
        f"bootstrap/fonts/glyphicons-halflings-regular.{ext}"
    )
    for ext in ("eot", "svg", "ttf", "woff")
}  # bootstrap.min.css refers to ../fonts/
_CDNJS, _JSDELIVR = "https://cdnjs.cloudflare.com/ajax/libs", "https://cdn.jsdelivr.net/npm"
#: Every CDN URL of asv 0.6's pages -> the library that replaces it; the first file listed is
#: the one the tag then loads.
LIBRARIES: dict[str, Library] = {
    "https://code.jquery.com/jquery-3.3.1.min.js": _library(
        "jquery@3.3.1", {"package/dist/jquery.min.js": "jquery.min.js"}
    ),
    **{
        f"{_CDNJS}/flot/0.8.3/jquery.flot{part}.min.js": _library(
            _FLOT, {f"package/jquery.flot{part}.js": f"flot/jquery.flot{part}.js"}
        )
        for part in ("", ".time", ".selection", ".categories")
    },
    f"{_JSDELIVR}/flot-orderbars@1.0.0/js/jquery.flot.orderBars.js": _library(
        "flot-orderbars@1.0.0", {"package/js/jquery.flot.orderBars.js": "jquery.flot.orderBars.js"}
    ),
    f"{_CDNJS}/stupidtable/1.0.1/stupidtable.min.js": _library(
        "stupid-table-plugin@1.1.3", {"package/stupidtable.min.js": "stupidtable.min.js"}
    ),
    f"{_CDNJS}/blueimp-md5/2.19.0/js/md5.min.js": _library(
        "blueimp-md5@2.19.0", {"package/js/md5.min.js": "md5.min.js"}
    ),
    f"{_JSDELIVR}/bootstrap@3.1.1/dist/js/bootstrap.min.js": _library(
        _BOOTSTRAP, {"package/dist/js/bootstrap.min.js": "bootstrap/js/bootstrap.min.js"}
    ),
    f"{_JSDELIVR}/bootstrap@3.1.1/dist/css/bootstrap.min.css": _library(
        _BOOTSTRAP,
        {"package/dist/css/bootstrap.min.css": "bootstrap/css/bootstrap.min.css", **_FONTS},
    ),
}

_TAG = re.compile(r"<(?:script|link)\b[^>]*>", re.I)
_URL = re.compile(r"""\b(src|href)\s*=\s*(["'])(.*?)\2""", re.I | re.S)
_CDN_ONLY = re.compile(
    r"""\s(?:integrity|crossorigin|referrerpolicy)(?:\s*=\s*(["']).*?\1)?""", re.I
)


class VendorError(RuntimeError):
    """A library could not be fetched or checked, or a page loads a URL not in LIBRARIES."""


def default_cache() -> Path:
    """Where fetched tarballs are kept: ``$XDG_CACHE_HOME/numdl/asv-vendor``."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "numdl" / "asv-vendor"


def integrity_of(path: Path) -> str:
    """The Subresource-Integrity string of a file, as npm records tarballs: sha512-<base64>."""
    return "sha512-" + base64.b64encode(hashlib.sha512(path.read_bytes()).digest()).decode()


def _is_remote(url: str) -> bool:
    return url.startswith(("http://", "https://", "//"))


def fetch(spec: str, cache: Path, npm: str = "npm") -> Path:
    """The npm tarball of ``spec`` (``name@version``) in ``cache``, fetched with ``npm pack``
    when missing; checked against :data:`INTEGRITY` either way."""
    name, version = spec.rsplit("@", 1)
    tarball = cache / f"{name}-{version}.tgz"
    if not tarball.is_file():
        exe = shutil.which(npm)
        if exe is None:
            raise VendorError(
                f"{tarball} is not cached and npm is not installed to fetch {spec} "
                "(Debian: apt-get install npm)"
            )
        cache.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(
            [exe, "pack", spec, "--pack-destination", str(cache), "--silent"],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        if done.returncode != 0 or not tarball.is_file():
            raise VendorError(f"npm pack {spec} failed: {(done.stderr or done.stdout).strip()}")
    if integrity_of(tarball) != INTEGRITY[spec]:
        tarball.unlink()
        raise VendorError(f"{tarball} does not match the pinned integrity of {spec}; removed")
    return tarball


def vendor(html_dir: Path, cache: Path, npm: str = "npm") -> list[str]:
    """Fetch every library into ``cache``, copy its files to ``html_dir/vendor``; return the
    lines of ``vendor/SOURCES.txt``."""
    out = html_dir / "vendor"
    lines = ["Libraries of the asv dashboard, from the npm registry (tools/asv_offline.py):"]
    for spec in INTEGRITY:
        wanted = {
            k: v for lib in LIBRARIES.values() if lib.spec == spec for k, v in lib.files.items()
        }
        tarball = fetch(spec, cache, npm)
        with tarfile.open(tarball) as archive:
            names = archive.getnames()
            licences = [n for n in names if re.fullmatch(r"package/(LICEN[SC]E|MIT-LICENSE)\S*", n)]
            name = spec.rsplit("@", 1)[0]
            wanted.update({n: f"licenses/{name}-{Path(n).name}" for n in licences})
            for member, target in wanted.items():
                handle = archive.extractfile(member) if member in names else None
                if handle is None:
                    raise VendorError(f"{tarball} has no file {member}")
                dest = out / target
                dest.parent.mkdir(parents=True, exist_ok=True)
                dest.write_bytes(handle.read())
        lines.append(f"{spec} ({INTEGRITY[spec]}): {', '.join(sorted(wanted.values()))}")
    (out / "SOURCES.txt").write_text("\n".join(lines) + "\n")
    return lines


def localise(html: str) -> tuple[str, list[str]]:
    """``html`` with each CDN ``<script>``/``<link>`` pointing at ``vendor/``; and the remote
    URLs it loads that :data:`LIBRARIES` does not know (an empty list when all are known)."""
    unknown: list[str] = []

    def fix(tag: re.Match[str]) -> str:
        text = tag.group(0)
        found = _URL.search(text)
        if found is None or not _is_remote(found.group(3)):
            return text
        url = found.group(3)
        if url not in LIBRARIES:
            unknown.append(url)
            return text
        local = "vendor/" + next(iter(LIBRARIES[url].files.values()))
        quote = found.group(2)
        text = (
            text[: found.start()] + f"{found.group(1)}={quote}{local}{quote}" + text[found.end() :]
        )
        return _CDN_ONLY.sub("", text)

    return _TAG.sub(fix, html), unknown


def localise_pages(html_dir: Path) -> list[Path]:
    """Rewrite every page under ``html_dir`` (see :func:`localise`); return those changed.

    Raises VendorError, before writing any page, if a page loads a URL not in LIBRARIES.
    """
    pages = sorted(html_dir.rglob("*.html"))
    rewritten = {page: localise(page.read_text(encoding="utf-8")) for page in pages}
    unknown = sorted({url for _, urls in rewritten.values() for url in urls})
    if unknown:
        raise VendorError(
            "the published pages load URLs that tools/asv_offline.py does not vendor (a newer "
            f"asv?): {', '.join(unknown)}; add them to LIBRARIES"
        )
    changed = []
    for page, (text, _) in rewritten.items():
        if text != page.read_text(encoding="utf-8"):
            page.write_text(text, encoding="utf-8")
            changed.append(page)
    return changed


def html_dir_of(config: Path) -> Path:
    """The ``html_dir`` of an asv configuration file, relative to the file's directory."""
    from asv import util

    conf = util.load_json(str(config), js_comments=True)
    return (config.parent / conf.get("html_dir", "html")).resolve()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="asv publish, then vendor the dashboard's CDN libraries beside its pages "
        "(from the npm registry), so that it works without a network."
    )
    parser.add_argument("--config", type=Path, default=ROOT / "asv.conf.json", help="asv config")
    parser.add_argument(
        "--no-publish", action="store_true", help="only vendor an already published html_dir"
    )
    text = f"where the npm tarballs are kept (default: {default_cache()})"
    parser.add_argument("--cache", type=Path, default=None, help=text)
    parser.add_argument("--npm", default="npm", help="the npm executable (default: npm)")
    args = parser.parse_args(argv)
    config = args.config.resolve()
    if not args.no_publish:
        done = subprocess.run(
            [sys.executable, "-m", "asv", "publish", "--config", str(config)],
            cwd=config.parent,
            check=False,
        )
        if done.returncode != 0:
            return done.returncode
    html_dir = html_dir_of(config)
    if not (html_dir / "index.html").is_file():
        print(f"asv_offline: {html_dir}/index.html not found (run asv publish)", file=sys.stderr)
        return 1
    try:
        lines = vendor(html_dir, args.cache or default_cache(), args.npm)
        changed = localise_pages(html_dir)
    except VendorError as exc:
        print(f"asv_offline: {exc}", file=sys.stderr)
        return 1
    print(
        f"asv_offline: {len(lines) - 1} npm packages vendored into {html_dir / 'vendor'} (see "
        f"SOURCES.txt there); {len(changed)} page(s) rewritten to load them from there"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
