"""Untrusted text in titles: account and endpoint service names become page titles, and a docs
site's theme writes page and navigation titles into its HTML as it likes (Material for MkDocs
writes ``page.title | striptags`` into ``<title>``, which turns ``&lt;`` back into ``<``; both
themes write navigation titles as they are). Sites whose titles carry hostile names, built with
Material and with the default theme, through ``render --site`` and through the plugin, run no
script and grow no element, in their HTML, their search index and a real browser."""

from __future__ import annotations

import copy
import html.parser
import json
import re
import shutil
from pathlib import Path

import pytest

from archviz import model
from archviz.render import build
from archviz.text import title
from tests.conftest import once_per_run
from tests.site_tools import CHROMIUM_ARGS, chromium, mkdocs_build, serve, warnings
from tests.test_site import CHECK, demo_doc, project, site_with_nav  # noqa: F401 (demo_doc: a fixture)

# Each closes what a theme might put a title in (an element, an attribute, an entity) and opens
# markup, or asks attr_list (in most Material sites) for a handler on the element it ends.
TITLES = ["x</title><img src=x onerror=alert(5)>", '"><svg onload=alert(6)>', "' onmouseover='alert(7)' x='",
          "&lt;img src=x onerror=alert(8)&gt;", "a&amp;lt;script&amp;gt;alert(9)", "svg { onclick=alert(11) }",
          "ops@corp.example{:onclick=alert(12)}", "cell {: onmouseover=alert(13) }"]
SITE_TITLE = "Net</title><script>alert(10)</script> & 'co' {: onclick=alert(14) }"
MATERIAL = "theme:\n  name: material\n  font: false\n"
DEFAULT = "theme:\n  name: mkdocs\n  highlightjs: false\n"
# Extensions a Material site commonly turns on: attr_list and md_in_html read {: ... } after an element.
EXTENSIONS = "markdown_extensions:\n  - attr_list\n  - md_in_html\n  - tables\n  - toc:\n      permalink: true\n"


def titled(doc: dict) -> dict:
    """The demo with every account, endpoint service, endpoint and VPC named to break out of a
    title or a table cell."""
    doc = copy.deepcopy(doc)
    for i, rec in enumerate(doc["accounts"] + doc["endpoint_services"] + doc["endpoints"] + doc["vpcs"]):
        rec["name"] = TITLES[i % len(TITLES)] + f" {i}"
    model.apply(doc)
    return doc


def test_every_heading_of_every_page_is_a_title_no_theme_can_turn_into_markup(demo_doc):
    files: dict[str, bytes] = {}
    build(titled(demo_doc), files.__setitem__, ("svg",), title=SITE_TITLE, nav_prefix="privatelink/")
    headings = [line for rel, data in files.items() if rel.endswith(".md")
                for line in data.decode().splitlines() if line.startswith("#")]
    assert any("onerror=alert(5)" in h for h in headings)  # the names are there, as text
    assert [h for h in headings if any(c in h for c in '<>"') or re.search(r"(?<!\\)[{}]", h)] == []
    nav = files["nav.yml"].decode() + files[".nav.yml"].decode()
    assert title(SITE_TITLE) in nav and "<" not in nav and "Net" in nav


class _Markup(html.parser.HTMLParser):
    """What a page really holds, as a browser parses it: event handlers, images of ``src=x``,
    the text of its scripts and of its <title>."""

    def __init__(self):
        super().__init__()
        self.handlers, self.images, self.scripts, self.titles, self._in = [], 0, "", [], None

    def handle_starttag(self, tag, attrs):
        self.handlers += [name for name, _ in attrs if name.startswith("on")]
        self.images += tag == "img" and ("src", "x") in attrs
        self._in = tag if tag in ("title", "script") else None
        self.titles += [""] if tag == "title" else []

    def handle_endtag(self, tag):
        self._in = None

    def handle_data(self, data):
        if self._in == "title":
            self.titles[-1] += data
        elif self._in == "script":
            self.scripts += data


def _sites(doc: dict, root: Path) -> dict[str, Path]:
    """The four ways a site gets the section: --site then each theme, the plugin in each theme."""
    sites = {}
    for theme_name, theme in (("material", MATERIAL), ("default", DEFAULT)):
        folder = site_with_nav(root / f"site-{theme_name}", doc, title=SITE_TITLE)
        (folder / "mkdocs.yml").write_text((folder / "mkdocs.yml").read_text().replace(DEFAULT, theme + EXTENSIONS))
        sites[f"--site, {theme_name}"] = folder
        sites[f"plugin, {theme_name}"] = project(
            root / f"plugin-{theme_name}", doc,
            f"site_name: Northwind\n{theme}{EXTENSIONS}nav:\n  - Home: index.md\n  - PrivateLink: privatelink/index.md\n"
            f"plugins:\n  - search\n  - archviz:\n      snapshot: network/snapshot.json\n"
            f"      title: {json.dumps(SITE_TITLE)}\n")
    for name, folder in sites.items():
        proc = mkdocs_build(folder)
        assert proc.returncode == 0 and not warnings(proc), (name, proc.stderr)
    return sites


@pytest.fixture(scope="session")
def sites(demo_crawl, tmp_path_factory):
    """The four sites, built once per test run (titled() works on a copy of the demo)."""
    return once_per_run(tmp_path_factory, "titled-sites",
                        lambda: _sites(titled(demo_crawl[1]), tmp_path_factory.mktemp("titles")))


def test_built_pages_have_no_markup_from_a_name_in_their_titles_nav_or_search_index(sites):
    for name, folder in sites.items():
        pages = sorted((folder / "site" / "privatelink").rglob("index.html"))
        assert len(pages) > 5, name
        titles = []
        for page in pages:
            found = _Markup()
            found.feed(page.read_text())
            assert found.handlers == [] and found.images == 0 and "alert(" not in found.scripts, (name, page)
            assert len(found.titles) == 1, (name, page)
            titles += found.titles
        assert any(title(TITLES[0]) in t for t in titles), (name, titles)  # shown as the text it is
        index = json.loads((folder / "site" / "search" / "search_index.json").read_text())
        entries = [doc["title"] for doc in index["docs"]]
        assert any("onerror=alert(5)" in t for t in entries), name
        ours = [re.sub(r"</?code>", "", t) for t in entries]  # archviz's own code spans (an e-mail address)
        assert [t for t in ours if "<" in t or "&lt;" in t.replace("&amp;lt;", "")] == [], (name, entries)


# Every element with an event handler attribute, in the page as the browser built it.
HANDLERS = "[...document.querySelectorAll('*')].flatMap(e => [...e.attributes].map(a => a.name)" \
           ".filter(n => n.startsWith('on')).map(n => e.tagName + ' ' + n))"


@pytest.mark.browser
def test_titled_sites_in_a_real_browser(sites):
    path = chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            dialogs, errors = [], []
            page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
            page.on("pageerror", lambda e: errors.append(str(e)))
            for name, folder in sites.items():
                with serve(folder / "site") as url:
                    shown = []
                    for html in sorted((folder / "site" / "privatelink").rglob("index.html")):
                        rel = html.parent.relative_to(folder / "site").as_posix()
                        page.goto(f"{url}/{rel}/", wait_until="load")  # the page, its scripts and images
                        found = page.evaluate(CHECK)
                        assert found["injected"] == 0, (name, rel)
                        assert page.evaluate(HANDLERS) == [], (name, rel)
                        shown.append(page.title())
                    assert any(title(TITLES[0]) in t for t in shown), (name, shown)
                    page.wait_for_load_state("networkidle")  # the last page settles: late requests and their errors
                    if "material" in name:  # Material's search shows titles from its index
                        page.goto(f"{url}/privatelink/", wait_until="networkidle")
                        page.keyboard.press("/")  # Material's shortcut: focus the search box
                        page.keyboard.type("onerror")
                        page.wait_for_selector(".md-search-result__item", timeout=15_000)
                        results = page.inner_text(".md-search-result")
                        assert "onerror" in results and page.evaluate(CHECK)["injected"] == 0, name
            assert dialogs == [] and errors == [], (dialogs, errors)
        finally:
            browser.close()
