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
    results = []
    for p in procs:
        _out, err = p.communicate(timeout=300)
        results.append((p.returncode, err))
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

    def dies(*_a, **_k):
        raise KeyboardInterrupt

    monkeypatch.setattr("archviz.render.site.render_page", dies)
    with pytest.raises(KeyboardInterrupt):
        render(copy.deepcopy(demo_doc), tmp_path)
    assert {f: (tmp_path / f).read_bytes() for f in files_under(tmp_path)} == before


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
URLS = ["https://evil.example/login", "www.evil.example", "mail admin@evil.example now", "_https://evil.example/x",
        "1https://evil.example/y", "a|_www.evil.example"]


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
    pages = "".join((tmp_path / rel).read_text() for rel in site.files if rel.endswith(".md"))
    for start in ("https://evil.example/", "www.evil.example", "admin@evil.example"):
        spots = [m.start() for m in re.finditer(re.escape(start), pages)]
        assert spots and all(pages[i - 1] == "`" for i in spots), start  # always a code span: never linked
    assert "`https://evil.example/x`" in pages and "1`https://evil.example/y`" in pages
    index = (tmp_path / "index.md").read_text()
    assert not any(t.startswith(("http", "www")) for t in LINK.findall(index))


def test_replaced_pages_keep_their_mode(demo_doc, tmp_path):
    render(copy.deepcopy(demo_doc), tmp_path)
    os.chmod(tmp_path / "index.md", 0o640)
    os.chmod(tmp_path / output.MANIFEST, 0o600)
    render(copy.deepcopy(demo_doc), tmp_path)
    assert stat.S_IMODE(os.stat(tmp_path / "index.md").st_mode) == 0o640
    assert stat.S_IMODE(os.stat(tmp_path / output.MANIFEST).st_mode) == 0o600


def _doctored_staging(folder: Path, files: dict) -> None:
    staging = folder / output.STAGING
    staging.mkdir(parents=True, exist_ok=True)
    (staging / output.MANIFEST).write_text(json.dumps({"files": files}))
    (staging / output.COMPLETE).write_text("")


def test_a_doctored_staging_folder_moves_nothing_outside(demo_doc, tmp_path):
    out = tmp_path / "site"
    out.mkdir()
    victim, elsewhere = tmp_path / "victim.txt", tmp_path / "elsewhere"
    victim.write_text("keep me")
    elsewhere.mkdir()
    (elsewhere / "x.svg").write_text("not archviz's")
    (out / "victim.txt").write_text("attacker's")
    _doctored_staging(out, {"../victim.txt": "x", "diagrams/x.svg": "y", "victim.txt": "z"})
    os.symlink(elsewhere, out / output.STAGING / "diagrams")  # a staged "file" that is really elsewhere
    render(copy.deepcopy(demo_doc), out, only=("overview",))
    assert victim.read_text() == "keep me" and (elsewhere / "x.svg").read_text() == "not archviz's"
    assert (out / "victim.txt").read_text() == "attacker's"  # not an output: never moved or removed
    assert not (out / "diagrams" / "x.svg").exists()


def test_a_run_killed_after_its_manifest_moved_loses_nothing(demo_doc, tmp_path):
    """Killed between moving the manifest in and removing staging: the commit was done."""
    site = render(copy.deepcopy(demo_doc), tmp_path)
    (tmp_path / output.STAGING).mkdir()
    (tmp_path / output.STAGING / output.COMPLETE).write_text("")
    with output.Output(tmp_path):
        pass
    assert files_under(tmp_path) == set(site.files) | {output.MANIFEST}
    assert_consistent(tmp_path)


def test_a_stray_file_named_like_staging_does_not_wedge_the_folder(demo_doc, tmp_path):
    (tmp_path / output.STAGING).write_text("")
    render(copy.deepcopy(demo_doc), tmp_path, only=("overview",))
    assert_consistent(tmp_path)


def test_a_doctored_manifest_cannot_remove_the_lock_or_non_outputs(demo_doc, tmp_path):
    empty = hashlib.sha256(b"").hexdigest()
    (tmp_path / "notes.txt").write_text("")
    (tmp_path / "accounts").mkdir()
    (tmp_path / "accounts" / ".keep").write_text("")
    (tmp_path / output.MANIFEST).write_text(json.dumps({"files": {
        ".archviz.lock": empty, "notes.txt": empty, "accounts/.keep": empty, "snapshot.json": empty}}))
    (tmp_path / "snapshot.json").write_text("")
    render(copy.deepcopy(demo_doc), tmp_path, only=("overview",))
    assert (tmp_path / "notes.txt").exists() and (tmp_path / "accounts" / ".keep").exists()
    assert (tmp_path / "snapshot.json").exists()


def test_ids_shaped_like_hashed_names_and_very_long_ids_still_get_their_own_files(demo_doc, tmp_path):
    from archviz.render.names import MAX_STEM

    doc = copy.deepcopy(demo_doc)
    a, b, c = doc["endpoint_services"][:3]
    renames = {a["service_id"]: "vpce-svc:x", b["service_id"]: "vpce-svc_x-dcab001b", c["service_id"]: "v" * 300}
    for rec in doc["endpoint_services"] + doc["endpoint_connections"]:
        rec["service_id"] = renames.get(rec["service_id"], rec["service_id"])
    site = render(model.apply(doc), tmp_path)
    services = [f for f in site.files if f.startswith("services/")]
    assert len(services) == len(set(services)) == len(doc["endpoint_services"])
    assert all(len(Path(f).name) < MAX_STEM + 40 for f in site.files)


def test_a_rejected_endpoint_keeps_its_own_edge_on_the_account_diagram(demo_doc):
    from archviz.render import pictures
    from archviz.render.view import View

    doc = copy.deepcopy(demo_doc)
    original = next(e for e in doc["endpoints"] if e["name"] == "app-prod-payments")
    twin = dict(original, endpoint_id="vpce-0twin0000000000", state="rejected", name="twin")
    doc["endpoints"].append(twin)
    view = View(model.apply(doc))
    pic = pictures._account(view, original["account_id"], level=2)  # endpoints drawn per VPC
    styles = [e.attrs["style"] for e in pic.edges if e.dst == next(
        n.id for c in pic.root.clusters for n in c.nodes if "payments-api" in n.lines)]
    assert "dotted" in styles and "solid" in styles
