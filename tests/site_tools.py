"""Real components for the docs-site tests: MkDocs builds, a static HTTP server, Mermaid's own
parser under Node, and Debian's Chromium driven by Playwright.

A missing tool skips its tests with the reason, unless ``ARCHVIZ_REQUIRE_SITE_TOOLS=1`` (set by
``.ci/run``) turns the skip into a failure."""

from __future__ import annotations

import functools
import html.parser
import http.server
import json
import os
import posixpath
import shutil
import subprocess
import sys
import threading
import urllib.parse
from contextlib import contextmanager
from pathlib import Path

import pytest

NODE_DIR = Path(__file__).parent / "node"
MERMAID_JS = NODE_DIR / "node_modules" / "mermaid" / "dist" / "mermaid.min.js"
# Chromium's own connections (updates, sync...) are refused on a closed network: keep them off.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-sync",
                 "--disable-background-networking", "--disable-component-update"]


def need(available: bool, why: str) -> None:
    if available:
        return
    if os.environ.get("ARCHVIZ_REQUIRE_SITE_TOOLS") == "1":
        pytest.fail(f"{why} (required here: ARCHVIZ_REQUIRE_SITE_TOOLS=1)")
    pytest.skip(f"{why}; `make test` installs it when it can")


def chromium() -> str:
    path = os.environ.get("ARCHVIZ_CHROMIUM") or shutil.which("chromium") or ""
    need(bool(path), "Debian's 'chromium' is not installed")
    return path


def mermaid_parse(diagrams: dict[str, str]) -> dict[str, dict]:
    """Each diagram's result from Mermaid's own parser (``tests/node/parse.mjs``)."""
    need(shutil.which("node") is not None and (NODE_DIR / "node_modules" / "mermaid").is_dir(),
         "Node.js and tests/node/node_modules (npm ci) are needed for Mermaid's parser")
    items = [{"name": k, "text": v} for k, v in diagrams.items()]
    proc = subprocess.run(["node", str(NODE_DIR / "parse.mjs"), "-"], input=json.dumps(items), text=True,
                          capture_output=True, timeout=300)
    assert proc.returncode in (0, 1), proc.stderr
    results = [json.loads(line) for line in proc.stdout.splitlines()]
    return {r["name"]: r for r in results}


def mkdocs_build(project: Path, **env_overrides: str) -> subprocess.CompletedProcess:
    """``mkdocs build --strict`` in ``project``, in a subprocess, as a docs builder runs it."""
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1", **env_overrides)
    return subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict"], cwd=project, env=env,
                          capture_output=True, text=True, timeout=300)


def warnings(proc: subprocess.CompletedProcess) -> list[str]:
    return [line for line in proc.stderr.splitlines() if line.startswith(("WARNING", "ERROR"))]


class _Refs(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.refs: list[str] = []

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if value and (name, tag) in {("href", "a"), ("href", "link"), ("src", "img"), ("src", "script")}:
                self.refs.append(value)


def broken_links(site: Path) -> list[tuple[str, str]]:
    """Every relative href/src of every built page that points at no file of the site."""
    broken = []
    for page in sorted(site.rglob("*.html")):
        parser = _Refs()
        parser.feed(page.read_text("utf-8"))
        base = page.relative_to(site).as_posix()
        for ref in parser.refs:
            url = urllib.parse.urlsplit(ref)
            if url.scheme or url.netloc or not url.path:
                continue
            ref_path = urllib.parse.unquote(url.path)  # an absolute path (404.html) is from the site's root
            target = posixpath.normpath(ref_path.lstrip("/") if ref_path.startswith("/")
                                        else posixpath.join(posixpath.dirname(base), ref_path))
            path = site / target
            if not (path.is_file() or (path / "index.html").is_file()):
                broken.append((base, ref))
    return broken


@contextmanager
def serve(folder: Path):
    """A static HTTP server for ``folder`` on 127.0.0.1 (what a docs host does), yields its URL."""
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
