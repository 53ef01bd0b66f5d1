"""The docs-site step, against the real components a site meets: ``archviz render --site`` and the
``archviz`` MkDocs plugin built by real MkDocs (default theme) and Material for MkDocs with
``--strict``, Mermaid checked by Mermaid's own parser, the built sites opened in Debian's
Chromium (Playwright, no browser download)."""

from __future__ import annotations

import copy
import json
import re
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import yaml

from archviz import model
from archviz.render import build
from archviz.render.mermaid import escape, mermaid
from archviz.render.mermaid import legend as mermaid_legend
from archviz.render.view import View
from archviz.render import legend, pictures
from archviz.sandbox.demo import HOSTILE
from tests.conftest import invoke, run_cli
from tests.site_tools import (CHROMIUM_ARGS, MERMAID_JS, broken_links, chromium, mermaid_parse, mkdocs_build, need,
                              serve, warnings)
from tests.test_render import HOSTILE as MORE_HOSTILE, synthetic

ROOT = Path(__file__).resolve().parent.parent
MATERIAL_MERMAID = """
markdown_extensions:
  - pymdownx.superfences:
      custom_fences:
        - name: mermaid
          class: mermaid
          format: !!python/name:pymdownx.superfences.fence_code_format
"""


@pytest.fixture(scope="module")
def demo_doc(demo_crawl):
    return copy.deepcopy(demo_crawl[1])


def hostile(doc: dict) -> dict:
    """The estate with every name hostile (the demo has three; here all of them are)."""
    doc = copy.deepcopy(doc)
    for i, rec in enumerate(doc["endpoints"] + doc["endpoint_services"] + doc["accounts"] + doc["vpcs"]):
        rec["name"] = (rec.get("name") or "") + MORE_HOSTILE[i % len(MORE_HOSTILE)] + " %% `]` --> x"
    model.apply(doc)
    return doc


def project(root: Path, doc: dict, config: str) -> Path:
    """A site: mkdocs.yml, a home page, the snapshot committed under network/."""
    (root / "docs").mkdir(parents=True, exist_ok=True)
    (root / "network").mkdir()
    (root / "network" / "snapshot.json").write_text(json.dumps(doc))
    (root / "docs" / "index.md").write_text("# Network documentation\n\nSee [PrivateLink](privatelink/index.md).\n")
    (root / "mkdocs.yml").write_text(config)
    return root


def site_with_nav(root: Path, doc: dict, *extra: str, title: str | None = None, nav: str = "fragment") -> Path:
    """``archviz render --site docs/privatelink`` (the real CLI), then a nav entry in mkdocs.yml."""
    project(root, doc, "")
    args = ["render", "../network/snapshot.json", "--site", "privatelink", *extra]
    result = run_cli(args + (["--site-title", title] if title else []), cwd=str(root / "docs"))
    assert result.returncode == 0, result.stderr
    entries = ((root / "docs/privatelink/nav.yml").read_text().split("\n", 1)[1] if nav == "fragment"
               else "- PrivateLink: privatelink/index.md\n")
    # No CDN: the default theme's highlight.js comes from cdnjs unless turned off.
    (root / "mkdocs.yml").write_text("site_name: Northwind\ntheme:\n  name: mkdocs\n  highlightjs: false\n"
                                     "nav:\n  - Home: index.md\n"
                                     + "".join(f"  {line}\n" for line in entries.splitlines()))
    return root


@pytest.fixture(scope="session")  # session: set up once per worker, however pytest-xdist interleaves the modules
def site_a(demo_crawl, tmp_path_factory):
    """--site with the default theme, its nav.yml pasted into mkdocs.yml."""
    root = site_with_nav(tmp_path_factory.mktemp("site-a"), copy.deepcopy(demo_crawl[1]), title='Northwind <PrivateLink> "estate"')
    return root, mkdocs_build(root)


@pytest.fixture(scope="session")  # session: set up once per worker, however pytest-xdist interleaves the modules
def site_b(demo_crawl, tmp_path_factory):
    """The plugin with Material for MkDocs, SVG and Mermaid, Mermaid served from the site itself."""
    root = tmp_path_factory.mktemp("site-b")
    js = ""
    if MERMAID_JS.is_file():  # the npm package, not a CDN: the builder has no internet
        (root / "docs" / "js").mkdir(parents=True)
        shutil.copy(MERMAID_JS, root / "docs" / "js" / "mermaid.min.js")
        js = "extra_javascript:\n  - js/mermaid.min.js\n"
    project(root, copy.deepcopy(demo_crawl[1]), "site_name: Northwind\ntheme:\n  name: material\n  font: false\n" + js
            + "nav:\n  - Home: index.md\n  - PrivateLink: privatelink/index.md\n"
            + "plugins:\n  - search\n  - archviz:\n      snapshot: network/snapshot.json\n"
            + "      path: privatelink\n      diagram_format: [svg, mermaid]\n" + MATERIAL_MERMAID)
    return root, mkdocs_build(root)


def built_pages(root: Path) -> list[str]:
    return sorted(p.relative_to(root / "site").as_posix() for p in (root / "site" / "privatelink").rglob("*.html"))


def expected_pages(doc: dict, formats=("svg",)) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    build(copy.deepcopy(doc), files.__setitem__, formats)
    return files


def html_of(md_path: str) -> str:
    """Where MkDocs (use_directory_urls) puts a page: ``accounts/1.md`` -> ``accounts/1/index.html``."""
    return "privatelink/" + (md_path[:-3] + "/index.html" if md_path != "index.md" else "index.html")


def test_site_folder_builds_strictly_with_its_nav_fragment(site_a, demo_doc):
    root, proc = site_a
    assert proc.returncode == 0 and not warnings(proc), proc.stderr
    files = expected_pages(demo_doc)
    pages = [p for p in files if p.endswith(".md")]
    assert built_pages(root) == sorted(html_of(p) for p in pages)
    for image in (p for p in files if p.endswith(".svg")):
        assert (root / "site" / "privatelink" / image).read_bytes() == files[image], image
    assert broken_links(root / "site") == []
    # The nav lists every page once, in reading order, under the chosen title.
    nav = yaml.safe_load((root / "mkdocs.yml").read_text())["nav"]
    (title, section), = nav[1].items()
    assert title == "Northwind \u2039PrivateLink\u203a \uff02estate\uff02"  # themes write nav titles as they are
    assert section[0] == "privatelink/index.md" and section[-1] == "privatelink/findings.md"
    assert [next(iter(s)) for s in section[1:-1]] == ["Use cases", "Endpoint services", "Accounts"]
    listed = [section[0], *(p for s in section[1:-1] for p in next(iter(s.values()))), section[-1]]
    assert sorted(listed) == sorted("privatelink/" + p for p in pages)
    home = (root / "site" / "privatelink" / "index.html").read_text()
    assert re.search(r'<h1 id="[^"]*">Northwind \u2039PrivateLink\u203a \uff02estate\uff02</h1>', home)


def test_the_awesome_nav_fragment_lists_the_same_pages(site_a):
    root, _ = site_a
    fragment = yaml.safe_load((root / "docs/privatelink/.nav.yml").read_text())
    mkdocs = yaml.safe_load((root / "mkdocs.yml").read_text())["nav"][1]
    (title, section), = mkdocs.items()
    assert fragment["title"] == title

    def strip(entries):
        return [e[len("privatelink/"):] if isinstance(e, str) else {k: strip(v) for k, v in e.items()} for e in entries]
    assert fragment["nav"] == strip(section)


def test_site_folder_needs_no_nav_with_awesome_nav(demo_doc, tmp_path):
    """With the mkdocs-awesome-nav plugin, the folder's own .nav.yml orders the section."""
    root = site_with_nav(tmp_path, demo_doc, title="Private connectivity")
    (root / "mkdocs.yml").write_text("site_name: Northwind\nplugins:\n  - awesome-nav\n")
    proc = mkdocs_build(root)
    assert proc.returncode == 0 and not warnings(proc), proc.stderr
    home = (root / "site" / "index.html").read_text()
    names = re.findall(r'class="(?:nav-link|dropdown-item)[^"]*"[^>]*>([^<]+)<', home)
    start = names.index("Private connectivity")
    assert names[start + 1] == "Private connectivity" and "Findings" in names[start:], names  # section, then its index
    heads = [names.index(h) for h in ("Use cases", "Endpoint services", "Accounts", "Findings")]
    assert heads == sorted(heads) and heads[0] > start, names


def test_plugin_builds_strictly_with_material_and_orders_the_section(site_b, demo_doc):
    root, proc = site_b
    assert proc.returncode == 0 and not warnings(proc), proc.stderr
    assert "not included in the \"nav\"" not in proc.stderr  # every page of the section is in the nav
    assert not (root / "docs" / "privatelink").exists()  # generated at build time, nothing written in docs/
    files = expected_pages(demo_doc, ("svg", "mermaid"))
    pages = [p for p in files if p.endswith(".md")]
    assert built_pages(root) == sorted(html_of(p) for p in pages)
    assert broken_links(root / "site") == []
    home = (root / "site" / "index.html").read_text()
    titles = [t.strip() for t in re.findall(r'<span class="md-ellipsis">\s*([^<]+?)\s*</span>', home)]
    start = titles.index("PrivateLink")  # the nav's own title for the entry it replaced
    order = titles[start:]
    assert order[1] == "PrivateLink architecture" and order[-1] == "Findings"
    heads = [order.index(h) for h in ("Use cases", "Endpoint services", "Accounts")]
    assert heads == sorted(heads)
    overview = (root / "site" / "privatelink" / "index.html").read_text()
    assert overview.count('class="mermaid"') == 2 and "diagrams/overview.svg" in overview  # the diagram, its legend


def test_plugin_without_nav_puts_the_section_in_order_and_needs_no_graphviz(demo_doc, tmp_path):
    root = project(tmp_path, demo_doc, "site_name: Northwind\nplugins:\n  - archviz:\n"
                                       "      snapshot: network/snapshot.json\n      diagram_format: [mermaid]\n")
    (tmp_path / "bin").mkdir()
    proc = mkdocs_build(root, PATH=str(tmp_path / "bin"))  # no `dot` anywhere
    assert proc.returncode == 0 and not warnings(proc), proc.stderr
    site = root / "site"
    assert not list((site / "privatelink").rglob("*.svg")) and list((site / "privatelink").rglob("*.mmd"))
    home = (site / "privatelink" / "index.html").read_text()
    names = re.findall(r'class="dropdown-item[^"]*"[^>]*>([^<]+)<', home)
    assert names[0] == "PrivateLink architecture" and names[-1] == "Findings", names
    assert "language-mermaid" in home  # the default theme shows the block as code unless a site adds Mermaid


@pytest.mark.parametrize("content, message", [
    (None, "network/snapshot.json: no such file"),
    ("{not json", "snapshot.json: not JSON"),
    ('{"schema_version": 1}', "snapshot.json: invalid snapshot at (top level)"),
])
def test_plugin_fails_the_build_with_one_line_on_a_missing_or_invalid_snapshot(tmp_path, content, message):
    root = project(tmp_path, {}, "site_name: x\nplugins:\n  - archviz:\n      snapshot: network/snapshot.json\n")
    if content is None:
        (root / "network" / "snapshot.json").unlink()
    else:
        (root / "network" / "snapshot.json").write_text(content)
    proc = mkdocs_build(root)
    errors = [line for line in proc.stderr.splitlines() if line.startswith("ERROR")]
    assert proc.returncode != 0 and "Traceback" not in proc.stderr, proc.stderr
    assert len(errors) == 1 and errors[0].startswith("ERROR   -  archviz: ") and message in errors[0], proc.stderr


def test_plugin_refuses_a_path_outside_the_docs_folder(tmp_path, demo_doc):
    root = project(tmp_path, demo_doc, "site_name: x\nplugins:\n  - archviz:\n"
                                       "      snapshot: network/snapshot.json\n      path: ../elsewhere\n")
    proc = mkdocs_build(root)
    assert proc.returncode != 0 and "archviz: 'path' must be a folder inside the docs folder" in proc.stderr


def nav_titles(page: Path) -> list[str]:
    """The titles of the default theme's navigation, in order."""
    return re.findall(r'class="(?:nav-link|dropdown-item)[^"]*"[^>]*>([^<]+)<', page.read_text())


@pytest.mark.parametrize("variant", ["plain-entry", "nested-path", "no-directory-urls", "pasted-nav"])
def test_plugin_nav_variants(variant, demo_doc, tmp_path):
    plugin = "plugins:\n  - archviz:\n      snapshot: network/snapshot.json\n      title: Our estate\n"
    config = {
        "plain-entry": "nav:\n  - index.md\n  - privatelink/index.md\n" + plugin,
        "nested-path": plugin + "      path: arch/privatelink\n",
        "no-directory-urls": "use_directory_urls: false\nnav:\n  - index.md\n  - Net: privatelink/index.md\n" + plugin,
        "pasted-nav": "nav:\n  - index.md\n",
    }[variant]
    root = project(tmp_path, demo_doc, "site_name: x\n" + config)
    if variant == "nested-path":
        (root / "docs" / "index.md").write_text("# Home\n\nSee [PrivateLink](arch/privatelink/index.md).\n")
    if variant == "pasted-nav":  # moving from `render --site` to the plugin: its nav.yml is kept
        scratch = site_with_nav(tmp_path / "scratch", demo_doc)
        pasted = (scratch / "mkdocs.yml").read_text().split("nav:\n", 1)[1]
        (root / "mkdocs.yml").write_text("site_name: x\nnav:\n" + pasted + plugin)
    proc = mkdocs_build(root)
    assert proc.returncode == 0 and not warnings(proc), proc.stderr
    assert broken_links(root / "site") == []
    home = root / "site" / ("index.html")
    titles = nav_titles(home)
    pages = len(expected_pages(demo_doc)) - len([f for f in expected_pages(demo_doc) if not f.endswith(".md")])
    if variant == "nested-path":
        assert titles.index("Arch") < titles.index("Our estate") < titles.index("Use cases"), titles
    elif variant == "plain-entry":
        assert titles[1] == "Our estate" and "Findings" in titles, titles
    elif variant == "no-directory-urls":
        assert titles[1] == "Net" and (root / "site" / "privatelink" / "accounts").is_dir()
        assert list((root / "site" / "privatelink" / "accounts").glob("*.html"))
    else:  # not nested in itself: each page once
        assert titles.count("Findings") == 1 and titles.count("Use cases") == 1, titles
    assert sum(t.startswith("Account ") for t in titles) == 4 and len(titles) >= pages


def test_site_refuses_the_docs_folder_itself_and_files_that_are_not_its_own(demo_doc, tmp_path):
    root = project(tmp_path, demo_doc, "site_name: x\n")
    result = run_cli(["render", "network/snapshot.json", "--site", "docs"], cwd=str(root))
    assert result.returncode == 2 and "is a docs folder itself" in result.stderr
    assert (root / "docs" / "index.md").read_text().startswith("# Network documentation")
    (root / "docs" / "mine").mkdir()
    (root / "docs" / "mine" / "index.md").write_text("# Mine\n")
    result = run_cli(["render", "network/snapshot.json", "--site", "docs/mine"], cwd=str(root))
    assert result.returncode == 1 and "refusing to replace" in result.stderr and "index.md" in result.stderr
    assert (root / "docs" / "mine" / "index.md").read_text() == "# Mine\n"
    assert result.stderr.count("\n") == 1


def test_site_nav_prefix_follows_the_docs_folder(demo_doc, tmp_path):
    """Below the folder kept beside mkdocs.yml (whatever its name, through a symlink), else below
    a folder named docs, else the folder's own name."""
    root = project(tmp_path, demo_doc, "site_name: x\ndocs_dir: content\n")
    (root / "docs").rename(root / "content")
    (root / "docs").symlink_to("content")
    result = run_cli(["render", "network/snapshot.json", "--site", "docs/arch/privatelink"], cwd=str(root))
    assert result.returncode == 0, result.stderr
    (root / "content" / "index.md").write_text("# Home\n")
    nav = (root / "content/arch/privatelink/nav.yml").read_text()
    assert '- "arch/privatelink/index.md"' in nav
    entries = nav.split("\n", 1)[1]
    (root / "mkdocs.yml").write_text("site_name: x\ndocs_dir: content\nnav:\n  - index.md\n"
                                     + "".join(f"  {line}\n" for line in entries.splitlines()))
    proc = mkdocs_build(root)
    assert proc.returncode == 0 and not warnings(proc), proc.stderr


def test_plugin_refuses_to_shadow_a_file_of_the_docs_folder(tmp_path, demo_doc):
    root = project(tmp_path, demo_doc, "site_name: x\nplugins:\n  - archviz:\n      snapshot: network/snapshot.json\n")
    (root / "docs" / "privatelink").mkdir()
    (root / "docs" / "privatelink" / "findings.md").write_text("# Hand-written\n")
    proc = mkdocs_build(root)
    assert proc.returncode != 0 and "archviz: privatelink/findings.md is in the docs folder already" in proc.stderr


@pytest.mark.parametrize("estate", ["hostile", "large", "empty", "ous", "ous-mermaid"])
def test_any_estate_builds_strictly_with_only_a_nav_entry(estate, demo_doc, tmp_path):
    from tests.test_render_scale import templated  # OUs: the overview leads to diagrams of OUs and groups

    doc = {"hostile": lambda: hostile(demo_doc), "large": lambda: synthetic(accounts=6, per_region=12,
                                                                             consumers_of_shared=20, targets=10),
           "empty": lambda: _empty(demo_doc), "ous": templated, "ous-mermaid": templated}[estate]()
    formats = "mermaid" if estate == "ous-mermaid" else "svg,mermaid"
    root = site_with_nav(tmp_path, doc, "--diagram-format", formats, nav="entry")
    proc = mkdocs_build(root)
    assert proc.returncode == 0 and not warnings(proc), proc.stderr
    assert broken_links(root / "site") == []
    if estate.startswith("ous"):  # the index lists the diagrams of OUs and groups, with their notes
        index = (root / "site/privatelink/index.html").read_text()
        listed = re.findall(r'href="(diagrams/(?:ou|group)-[^"]+)"', index)
        assert len(listed) >= 3 and all(f.endswith(".svg" if formats != "mermaid" else ".mmd") for f in listed)
        assert "accounts are drawn in 2 parts" in index
    if estate == "hostile":  # the names are on the pages, as text
        text = "".join(p.read_text() for p in (root / "site" / "privatelink").rglob("*.html"))
        assert "<script>alert" not in text and "<img src=x" not in text and "<b>bold" not in text
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text and "&lt;img src=x onerror=alert(1)&gt;" in text
        assert "&lt;b&gt;bold&lt;/b&gt;" in text


def _empty(doc: dict) -> dict:
    doc = copy.deepcopy(doc)
    for key in ("endpoints", "endpoint_services", "endpoint_connections", "load_balancers", "service_details"):
        doc[key] = []
    model.apply(doc)
    return doc


def test_serve_rebuilds_when_the_snapshot_changes(demo_doc, tmp_path):
    """``mkdocs serve`` watches the snapshot: a new crawl shows without restarting it."""
    root = project(tmp_path, demo_doc, "site_name: x\nplugins:\n  - archviz:\n"
                                       "      snapshot: network/snapshot.json\n      diagram_format: [mermaid]\n")
    with socket_port() as port:
        proc = subprocess.Popen([sys.executable, "-m", "mkdocs", "serve", "-a", f"127.0.0.1:{port}"],
                                cwd=root, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        url = f"http://127.0.0.1:{port}/privatelink/"
        assert "PrivateLink architecture" in fetch_until(url, lambda body: "master (123456789012)" in body)
        doc = copy.deepcopy(demo_doc)
        next(a for a in doc["accounts"] if a["account_id"] == "123456789012")["name"] = "renamed-root"
        (root / "network" / "snapshot.json").write_text(json.dumps(doc))
        assert "renamed-root (123456789012)" in fetch_until(url, lambda body: "renamed-root" in body)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


class socket_port:
    """A free port on 127.0.0.1 (closed before use: the server binds it next)."""

    def __enter__(self) -> int:
        import socket

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            return s.getsockname()[1]

    def __exit__(self, *exc):
        return False


def fetch_until(url: str, ready, timeout: float = 60) -> str:
    deadline, body = time.monotonic() + timeout, ""
    while time.monotonic() < deadline:
        try:
            body = urllib.request.urlopen(url, timeout=5).read().decode("utf-8")
            if ready(body):
                return body
        except OSError:
            pass
        time.sleep(0.3)
    raise AssertionError(f"{url} not ready within {timeout} s; last body: {body[:300]!r}")


@pytest.mark.parametrize("args, message", [
    ([], "pass one of --out DIR and --site DIR"),
    (["--out", "a", "--site", "b"], "pass one of --out DIR and --site DIR"),
    (["--out", "a", "--site-title", "T"], "--site-title goes with --site"),
    (["--site", "a", "--diagram-format", "svg,gif"], "choose from svg, png, drawio, mermaid"),
])
def test_render_site_usage_errors(args, message, tmp_path):
    source = tmp_path / "snapshot.json"
    source.write_text("{}")
    result = invoke(["render", str(source), *args])
    assert result.returncode == 2 and message in result.stderr, result.stderr


# --- Mermaid -----------------------------------------------------------------------------------

def all_pictures(doc: dict):
    view = View(copy.deepcopy(doc))
    overview = pictures.overview(view)
    yield overview
    yield from (pictures.overview(view, scope) for scope in overview.links)
    yield from (pictures.use_case(view, u) for u in view.use_cases)
    yield from (pictures.service(view, s) for s in view.services)
    yield from (pictures.account(view, a) for a in view.crawled_accounts)


_LABEL = re.compile(r'"([^"]*)"')
_ENTITY = re.compile(r"#(\d+);")


def test_mermaid_draws_the_same_scene_with_every_aws_string_inert(demo_doc):
    doc = hostile(demo_doc)
    for pic in all_pictures(doc):
        text = mermaid(pic)
        labels = _LABEL.findall(text)
        for label in labels:  # only entity codes, plain characters and archviz's own markup
            assert re.fullmatch(r"(?:[A-Za-z0-9 .,_-]|#\d+;|<br>|</?i>)*", label), label
        drawing, _, key = text.partition("\n%% Legend: ")  # the legend's rows, as comments at the end
        assert "`" not in drawing and "%%" not in drawing, pic.name
        assert not key or all(line.startswith("%% Legend: ") for line in ("%% Legend: " + key).splitlines())
        nodes = set(re.findall(r"^\s+(n_\w+)[\[(/{]", text, re.M))
        assert nodes == {n.id for n in _nodes(pic.root)}, pic.name
        edges = re.findall(r"^\s+(n_\w+) (?:-->|---|-\.->)(?:\|\"[^\"]*\"\|)? (n_\w+)$", text, re.M)
        assert edges == [(e.src, e.dst) for e in pic.edges], pic.name
        assert text.count("linkStyle ") == len(pic.edges)
        key = mermaid_legend(pic)
        assert (key is not None) == bool(pic.legend is not None and legend.rows(pic))
        assert key is None or [f"{r.sample} {r.text}" for r in legend.rows(pic)] == \
            [_ENTITY.sub(lambda m: chr(int(m.group(1))), x) for x in _LABEL.findall(key)[1:]]
        shown = " ".join(_ENTITY.sub(lambda m: chr(int(m.group(1))), label) for label in labels)
        for node in _nodes(pic.root):  # the same (shortened) text as the SVG label
            for line in node.lines:
                assert _ENTITY.sub(lambda m: chr(int(m.group(1))), escape(line)) in shown


def _nodes(cluster):
    yield from cluster.nodes
    for child in cluster.clusters:
        yield from _nodes(child)


def test_mermaid_escape_cannot_end_a_label_or_add_markup():
    for s in ['"] --> X', "%%{init: {}}%%", "`x`", "<img src=x onerror=alert(1)>", "a\nb", "#35;", "end", "|y|"]:
        out = escape(s, 100)
        assert re.fullmatch(r"(?:[A-Za-z0-9 .,_-]|#\d+;)*", out), out
        assert _ENTITY.sub(lambda m: chr(int(m.group(1))), out) == s.replace("\n", " ")


def test_renders_are_the_same_bytes_in_fresh_processes(demo_doc, tmp_path):
    """Same snapshot, same bytes, whatever the process's hash seed (sets, dicts)."""
    source = tmp_path / "snapshot.json"
    source.write_text(json.dumps(demo_doc))
    outs = []
    for seed in ("1", "2"):
        out = tmp_path / f"docs-{seed}" / "privatelink"
        result = run_cli(["render", str(source), "--site", str(out), "--diagram-format", "svg,mermaid"],
                         env={"PYTHONHASHSEED": seed})
        assert result.returncode == 0, result.stderr
        outs.append({p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()})
    assert outs[0] == outs[1] and any(name.endswith(".mmd") for name in outs[0])


def test_mermaid_pages_are_deterministic_and_carry_the_block(demo_doc):
    first, second = expected_pages(demo_doc, ("mermaid",)), expected_pages(demo_doc, ("mermaid",))
    assert first == second
    assert not [f for f in first if f.endswith((".svg", ".png"))]
    for name, data in first.items():
        if name.endswith(".mmd"):
            page = {"overview": "index.md"}.get(Path(name).stem) or _page_of(Path(name).stem, first)
            assert ("```mermaid\n" + data.decode() + "```") in first[page].decode(), name


def _page_of(stem: str, files: dict) -> str:
    kind, _, rest = stem.partition("-")
    folder = {"use": "use-cases", "service": "services", "account": "accounts"}[kind]
    if kind == "use":
        rest = rest.partition("-")[2]
    return f"{folder}/{rest}.md"


@pytest.mark.node
def test_every_demo_diagram_parses_with_mermaids_own_parser(demo_doc):
    diagrams = {f"{kind}/{pic.name}": mermaid(pic) for kind, doc in (("demo", demo_doc), ("hostile", hostile(demo_doc)))
                for pic in all_pictures(doc)}
    diagrams["control/broken"] = "flowchart LR\n    A[unclosed\n"  # the checker does reject bad text
    results = mermaid_parse(diagrams)
    assert results.pop("control/broken")["ok"] is False
    bad = {k: r["error"] for k, r in results.items() if not r["ok"]}
    assert not bad and len(results) == len(diagrams) - 1, bad
    assert {r["type"] for r in results.values()} == {"flowchart-v2"}


# --- in a real browser -------------------------------------------------------------------------

OPEN_SHADOW = "const a = Element.prototype.attachShadow; Element.prototype.attachShadow = function (o) " \
              "{ return a.call(this, Object.assign({}, o, {mode: 'open'})); };"
CHECK = """() => {
  const roots = [document, ...[...document.querySelectorAll('*')].filter(e => e.shadowRoot).map(e => e.shadowRoot)];
  const all = sel => roots.flatMap(r => [...r.querySelectorAll(sel)]);
  return {
    images: [...document.images].map(i => [i.getAttribute('src'), i.complete, i.naturalWidth]),
    mermaid: [...document.querySelectorAll('.mermaid')].map(m => {
      const svg = (m.shadowRoot || m).querySelector('svg');
      return svg ? (svg.getAttribute('aria-roledescription') || 'svg') + (svg.textContent.includes('Syntax error') ? ' error' : '') : null;
    }),
    injected: all('[onerror], img[src="x"]').length + all('script').filter(s => s.textContent.includes('alert(')).length,
    overflow: [...document.images].filter(i => i.getBoundingClientRect().right > document.documentElement.clientWidth + 1).length,
    text: document.body.innerText + ' ' + all('.mermaid svg, svg').map(s => s.textContent).join(' '),
  };
}"""


@pytest.mark.browser
def test_sites_in_a_real_browser(site_a, site_b):
    path = chromium()
    need(MERMAID_JS.is_file(), "tests/node/node_modules (npm ci) holds Mermaid's JavaScript")
    from playwright.sync_api import sync_playwright

    assert site_a[1].returncode == 0 and site_b[1].returncode == 0
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.add_init_script(OPEN_SHADOW)  # Material draws Mermaid in a closed shadow root: let the test look in
            dialogs, errors, remote = [], [], []
            page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("request", lambda r: remote.append(r.url) if not r.url.startswith(("http://127.0.0.1", "data:")) else None)
            seen = {name: _browse(page, root / "site", name) for name, (root, _) in (("a", site_a), ("b", site_b))}
            assert dialogs == [] and errors == [] and remote == [], (dialogs, errors, remote)
            text = " ".join(seen["a"].values()) + " ".join(seen["b"].values())
            for name in HOSTILE.values():  # shown as the text it is, in pages and in diagrams
                assert name in text or name[:20] in text, name
            with serve(site_b[0] / "site") as url:
                page.goto(f"{url}/privatelink/", wait_until="networkidle")
                page.wait_for_function("() => [...document.querySelectorAll('.mermaid')].every(m => (m.shadowRoot || m).querySelector('svg'))")
                shot = ROOT / "output" / "site-overview.png"
                shot.parent.mkdir(exist_ok=True)
                page.screenshot(path=str(shot), full_page=True)
            assert shot.stat().st_size > 10_000
        finally:
            browser.close()


def _browse(page, site: Path, variant: str) -> dict[str, str]:
    """Open every page of the section; check images, Mermaid blocks and injected markup."""
    texts = {}
    with serve(site) as url:
        for html in sorted((site / "privatelink").rglob("index.html")):
            rel = html.parent.relative_to(site).as_posix()
            # "load": the page, its scripts and its images; what comes later (Mermaid) is waited for below
            page.goto(f"{url}/{rel}/", wait_until="load")
            if variant == "b":
                page.wait_for_function("() => [...document.querySelectorAll('.mermaid')].every(m => (m.shadowRoot || m).querySelector('svg'))",
                                       timeout=30_000)
            found = page.evaluate(CHECK)
            svgs = [i for i in found["images"] if i[0].endswith(".svg")]
            assert svgs or rel.endswith("findings"), rel
            assert all(complete and width > 0 for _, complete, width in svgs), (rel, found["images"])
            if variant == "b" and not rel.endswith("findings"):
                assert found["mermaid"] and all(m == "flowchart-v2" for m in found["mermaid"]), (rel, found["mermaid"])
            assert found["injected"] == 0, rel
            assert found["overflow"] == 0, rel  # every diagram fits the content column
            texts[rel] = found["text"]
    return texts


# Each diagram image of a page: its smallest text as displayed (the SVG's font size, in its viewBox
# units, times the image's displayed width per unit), and whether a click on it opens the diagram.
READABLE = """async () => {
  const out = [];
  for (const img of [...document.images].filter(i => new URL(i.src).pathname.endsWith('.svg'))) {
    const doc = new DOMParser().parseFromString(await (await fetch(img.src)).text(), 'image/svg+xml');
    const box = doc.documentElement.getAttribute('viewBox').split(/\\s+/).map(Number);
    const sizes = [...doc.querySelectorAll('text')].map(t => Number(t.getAttribute('font-size'))).filter(n => n > 0);
    const link = img.closest('a');
    out.push({src: new URL(img.src).pathname, px: Math.min(...sizes) * img.getBoundingClientRect().width / box[2],
              opens: !!link && new URL(link.href).pathname === new URL(img.src).pathname});
  }
  return out;
}"""


@pytest.mark.browser
def test_every_diagram_reads_in_the_site_or_opens_full_size_where_its_links_work(site_a, site_b):
    """At 1,400 px, in the default theme (--site) and in Material (the plugin): every diagram
    shows its text at 9 px or more, or opens at full size with one click; opened, the overview's
    link leads to an account diagram, and the account diagram's to the service diagram it names."""
    path = chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            for root, _ in (site_a, site_b):
                site = root / "site"
                with serve(site) as url:
                    small = 0
                    for html in sorted((site / "privatelink").rglob("index.html")):
                        page.goto(f"{url}/{html.parent.relative_to(site).as_posix()}/", wait_until="load")
                        for image in page.evaluate(READABLE):
                            assert image["px"] >= 9 or image["opens"], image
                            small += image["px"] < 9
                    assert small  # the demo's diagrams do not all read at the column's width: some open instead
                    page.goto(f"{url}/privatelink/", wait_until="load")
                    overview = page.locator("a:has(img[src$='overview.svg'])").first
                    overview.click()
                    page.wait_for_url("**/diagrams/overview.svg")
                    page.locator("xpath=//*[local-name()='a'][starts-with(@*[local-name()='href'], 'account-')]").first.click()
                    page.wait_for_url("**/diagrams/account-*.svg")
                    service = page.locator("xpath=//*[local-name()='a'][starts-with(@*[local-name()='href'], 'service-')]").first
                    target = service.get_attribute("xlink:href") or service.get_attribute("href")
                    service.click()
                    page.wait_for_url(f"**/diagrams/{target}")
                    assert "Endpoint service" in page.locator("svg").first.text_content()
        finally:
            browser.close()


def test_plugin_since_and_redact_in_a_real_build(demo_doc, tmp_path):
    """The plugin with ``since`` and ``redact`` (key from a file): a strict Material build whose
    section shows the changes and names no account id of either snapshot, in any built byte."""
    old = copy.deepcopy(demo_doc)
    new = copy.deepcopy(demo_doc)
    new["endpoint_connections"].append(dict(new["endpoint_connections"][0], endpoint_id="vpce-0fresh0000000000",
                                            endpoint_owner="210987654321"))
    root = project(tmp_path, new, "site_name: Northwind\ntheme:\n  name: material\n  font: false\n"
                                  "plugins:\n  - archviz:\n      snapshot: network/snapshot.json\n"
                                  "      since: network/old.json\n      redact: true\n      redact_key: network/key\n"
                                  "      diagram_format: [svg, mermaid]\n" + MATERIAL_MERMAID)
    (root / "network" / "old.json").write_text(json.dumps(old))
    (root / "network" / "key").write_bytes(b"0123456789abcdef-docs-site-key\n")
    # diff's own page beside it, as a site publishes it, redacted with the same key
    result = run_cli(["diff", "network/old.json", "network/snapshot.json", "--format", "md", "--out", "docs/changes.md",
                      "--redact", "--redact-key", "network/key"], cwd=str(root))
    assert result.returncode == 0, result.stderr
    proc = mkdocs_build(root)
    assert proc.returncode == 0 and not warnings(proc), proc.stderr
    home = (root / "site" / "privatelink" / "index.html").read_text()
    assert "Changes since" in home and "vpce-0fresh0000000000" in home and "1 new" in home
    changes = (root / "site" / "changes" / "index.html").read_text()
    assert "What changed in our PrivateLink estate" in changes and "vpce-0fresh0000000000" in changes
    pseudonym = re.search(r"connection vpce-0fresh0000000000 from ([0-9]{12})", changes).group(1)
    assert pseudonym in home  # one key: the page and the section name the outside account alike
    assert not [a for a in {a["account_id"] for a in demo_doc["accounts"]} | {"210987654321"} if a in changes]
    accounts = {a["account_id"] for a in demo_doc["accounts"]} | {"210987654321"}
    for path in (root / "site" / "privatelink").rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert not [a for a in accounts if a.encode() in data or a in path.name], path
    # the key file and the options are checked like the command line's
    (root / "mkdocs.yml").write_text((root / "mkdocs.yml").read_text().replace("redact: true", "redact: false"))
    proc = mkdocs_build(root)
    assert proc.returncode != 0 and "'redact_key' and 'redact_names' go with 'redact: true'" in proc.stderr
