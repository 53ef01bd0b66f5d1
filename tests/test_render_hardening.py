"""What probing the render as an attacker and as a new user turned up: file names that collide,
folders left half-written, invisible characters and auto-linked URLs from Name tags."""

from __future__ import annotations

import copy
import hashlib
import json
import os
import re
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from archviz import model
from archviz import snapshot as snap
from archviz.errors import ArchvizError
from archviz.files import folder_lock
from archviz.render import output, render
from tests.conftest import invoke

LINK = re.compile(r"\]\(([^)\s]+)\)")


@pytest.fixture(scope="module")
def demo_doc(demo_crawl):
    return copy.deepcopy(demo_crawl[1])


def files_under(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()}


def assert_consistent(folder: Path) -> dict:
    """The folder holds exactly what its manifest lists (plus the manifest), each file unaltered."""
    manifest = json.loads((folder / output.MANIFEST).read_text())
    assert files_under(folder) == set(manifest["files"]) | {output.MANIFEST}
    for rel, digest in manifest["files"].items():
        assert hashlib.sha256((folder / rel).read_bytes()).hexdigest() == digest, rel
    return manifest


def test_rendered_files_are_world_readable_under_umask_022(demo_doc, tmp_path):
    old = os.umask(0o022)
    try:
        site = render(copy.deepcopy(demo_doc), tmp_path)
    finally:
        os.umask(old)
    for rel in site.files + [output.MANIFEST]:
        assert stat.S_IMODE(os.stat(tmp_path / rel).st_mode) == 0o644, rel


def _colliding(doc: dict) -> dict:
    doc = copy.deepcopy(doc)
    first, second = doc["endpoint_services"][:2]
    renames = {first["service_id"]: "vpce-svc:collide", second["service_id"]: "vpce-svc/collide"}
    for rec in doc["endpoint_services"] + doc["endpoint_connections"]:
        rec["service_id"] = renames.get(rec["service_id"], rec["service_id"])
    first["name"], second["name"] = "colon-service", "slash-service"
    return model.apply(doc)


def test_ids_that_sanitize_alike_keep_their_own_page_and_diagram(demo_doc, tmp_path):
    doc = _colliding(demo_doc)
    site = render(doc, tmp_path)
    pages = sorted(f for f in site.files if f.startswith("services/vpce-svc_collide"))
    diagrams = sorted(f for f in site.files if f.startswith("diagrams/service-vpce-svc_collide"))
    assert len(pages) == 2 and len(diagrams) == 2
    assert len(site.files) == len(set(site.files)) == len(assert_consistent(tmp_path)["files"])
    index = (tmp_path / "index.md").read_text()
    for name in ("colon-service", "slash-service"):
        target = re.search(rf"\[{name}\]\(([^)]+)\)", index).group(1)
        assert f"# Endpoint service {name}" in (tmp_path / target).read_text()


def test_ids_differing_only_in_case_get_distinct_files(demo_doc, tmp_path):
    doc = copy.deepcopy(demo_doc)
    first, second = doc["endpoint_services"][:2]
    renames = {first["service_id"]: "vpce-svc-ABC", second["service_id"]: "vpce-svc-abc"}
    for rec in doc["endpoint_services"] + doc["endpoint_connections"]:
        rec["service_id"] = renames.get(rec["service_id"], rec["service_id"])
    site = render(model.apply(doc), tmp_path)
    pages = [f.lower() for f in site.files if f.startswith("services/")]
    assert len(pages) == len(set(pages))  # distinct even on a case-insensitive disk


def test_writing_a_file_twice_in_one_render_is_refused(tmp_path):
    with output.Output(tmp_path) as out:
        out.write("index.md", b"a")
        with pytest.raises(ArchvizError, match="written twice"):
            out.write("index.md", b"b")


def test_a_second_render_into_a_locked_folder_says_so(demo_doc, tmp_path):
    source = tmp_path / "snapshot.json"
    source.write_bytes(snap.dumps(demo_doc))
    site = tmp_path / "site"
    with folder_lock(site):
        result = invoke(["render", str(source), "--out", str(site)])
    assert result.returncode == 1
    assert result.stderr.strip() == (f"archviz: error: another archviz run is writing to {site} (it holds "
                                      f"{site / '.archviz.lock'}); wait for it to finish, or write elsewhere")
    assert not (site / output.MANIFEST).exists()


def test_two_concurrent_renders_leave_a_folder_consistent_with_its_manifest(demo_doc, tmp_path):
    source_a, source_b = tmp_path / "a.json", tmp_path / "b.json"
    source_a.write_bytes(snap.dumps(demo_doc))
    other = copy.deepcopy(demo_doc)
    other["accounts"][0]["name"] = "renamed-account"
    source_b.write_bytes(snap.dumps(other))
    site = tmp_path / "site"
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    procs = [subprocess.Popen([sys.executable, "-m", "archviz", "render", str(src), "--out", str(site)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
             for src in (source_a, source_b)]
    results = [(p.wait(timeout=300), p.stderr.read()) for p in procs]
    assert any(code == 0 for code, _ in results), results
    for code, err in results:
        assert code == 0 or "another archviz run is writing to" in err, err
    assert_consistent(site)


def test_a_render_killed_while_committing_is_finished_by_the_next(demo_doc, tmp_path, monkeypatch):
    render(copy.deepcopy(demo_doc), tmp_path)
    other = copy.deepcopy(demo_doc)
    other["accounts"][0]["name"] = "renamed-account"
    real_replace, moves = os.replace, []

    def killed_after_three(src, dst):
        if output.STAGING not in str(dst):  # a commit's move (writes into staging come first)
            if len(moves) == 3:
                raise KeyboardInterrupt  # the process dies in the middle of the commit
            moves.append(dst)
        real_replace(src, dst)

    monkeypatch.setattr(output.os, "replace", killed_after_three)
    with pytest.raises(KeyboardInterrupt):
        render(copy.deepcopy(other), tmp_path)
    monkeypatch.setattr(output.os, "replace", real_replace)
    assert (tmp_path / output.STAGING / output.COMPLETE).is_file()
    render(copy.deepcopy(other), tmp_path, only=("overview",))
    manifest = assert_consistent(tmp_path)
    assert not (tmp_path / output.STAGING).exists()
    assert sorted(manifest["files"]) == ["diagrams/overview.svg", "findings.md", "index.md"]


def test_a_render_killed_while_writing_leaves_the_previous_render(demo_doc, tmp_path, monkeypatch):
    render(copy.deepcopy(demo_doc), tmp_path)
    before = {f: (tmp_path / f).read_bytes() for f in files_under(tmp_path)}
    from archviz.render import pages

    def dies(*_a, **_k):
        raise KeyboardInterrupt

    monkeypatch.setattr("archviz.render.render_page", dies)
    with pytest.raises(KeyboardInterrupt):
        render(copy.deepcopy(demo_doc), tmp_path)
    assert {f: (tmp_path / f).read_bytes() for f in files_under(tmp_path)} == before
    assert pages.render_page  # the real one is untouched


def test_stale_temporaries_of_killed_runs_are_removed(demo_doc, tmp_path):
    render(copy.deepcopy(demo_doc), tmp_path)
    stale = [tmp_path / ".index.md.archviz-k1ll3d.tmp", tmp_path / "diagrams" / ".overview.svg.archviz-x.tmp"]
    for path in stale:
        path.write_bytes(b"\0" * 1024)
    mine = tmp_path / ".my-notes.tmp"
    mine.write_text("not archviz's")
    render(copy.deepcopy(demo_doc), tmp_path)
    assert not any(p.exists() for p in stale) and mine.exists()


def test_a_deeply_nested_manifest_does_not_break_later_renders(demo_doc, tmp_path):
    render(copy.deepcopy(demo_doc), tmp_path)
    (tmp_path / output.MANIFEST).write_text('{"files": ' + "[" * 100000 + "]" * 100000 + "}")
    site = render(copy.deepcopy(demo_doc), tmp_path)
    assert site.files and assert_consistent(tmp_path)


BIDI = "hb-\u202egnp.exe"
INVISIBLE = ["\u202e", "\u202d", "\u2066", "\u2067", "\u2068", "\u2069", "\u200b", "\u200c", "\u200d", "\u200e",
             "\u200f", "\ufeff", "\u2060", "\u061c"]
URLS = ["https://evil.example/login", "www.evil.example", "mail admin@evil.example now"]


def test_invisible_characters_are_shown_and_urls_are_not_links(demo_doc, tmp_path):
    doc = copy.deepcopy(demo_doc)
    names = [BIDI, "zero\u200bwidth\ufeff\u2066x", *URLS]
    for i, e in enumerate(doc["endpoints"]):
        e["name"] = e["tags"]["Name"] = names[i % len(names)]
    for i, a in enumerate(doc["accounts"]):
        a["name"] = names[i % len(names)]
    site = render(model.apply(doc), tmp_path)
    shown = ""
    for rel in site.files:
        body = (tmp_path / rel).read_text("utf-8", errors="replace") if not rel.endswith(".png") else ""
        assert not any(ch in body for ch in INVISIBLE), rel
        shown += body
    assert "hb-&lt;U+202E&gt;gnp.exe" in shown  # markdown (and SVG text) show the override visibly
    index = (tmp_path / "index.md").read_text()
    for url in ("https://evil.example/login", "www.evil.example", "admin@evil.example"):
        assert f"`{url}`" in index  # a code span: no renderer auto-links it
        assert re.search(rf"(?<!`){re.escape(url)}", index) is None
    assert not any(t.startswith(("http", "www")) for t in LINK.findall(index))
