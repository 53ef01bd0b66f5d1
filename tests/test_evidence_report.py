"""report.html of an audit evidence pack (archviz.evidence.report): every page and diagram of a
render in one self-contained HTML file. Small hand-made packs check the conversion, the links,
the images and that no AWS string becomes markup; a real render of the demo organization (and of
an estate with OU diagrams) is opened in Debian's Chromium, which must load nothing, run nothing,
show every diagram and print."""

from __future__ import annotations

import base64
import copy
import html.parser
import re
from pathlib import Path

import pytest

from archviz import model
from archviz.evidence.report import CSP, _markdown, figure_id, page_id, report_html
from archviz.render import build
from archviz.render.pages import md
from archviz.sandbox.demo import HOSTILE
from tests.site_tools import CHROMIUM_ARGS, chromium

SVG = (b'<?xml version="1.0" encoding="UTF-8"?>\n<svg xmlns="http://www.w3.org/2000/svg" '
       b'xmlns:xlink="http://www.w3.org/1999/xlink" width="120pt" height="60pt" viewBox="0 0 120 60">'
       b'<a xlink:href="%s" xlink:title="see"><rect width="120" height="60" fill="#3b7"/></a></svg>')
PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==")
INJECTIONS = ["<script>alert(1)</script>", '"><img src=x onerror=alert(2)>', "<b onclick=alert(3)>bold</b>",
              "</section><script>alert(4)</script>", "<svg onload=alert(5)>", "'><iframe src=//evil.example>"]
ALLOWED_TAGS = {"html", "head", "meta", "title", "style", "body", "header", "h1", "h2", "h3", "h4", "h5", "h6",
                "table", "thead", "tbody", "tr", "th", "td", "nav", "ol", "ul", "li", "a", "main", "section", "p",
                "figure", "figcaption", "img", "span", "code", "pre", "strong", "em", "br", "hr", "blockquote"}


class Parsed(html.parser.HTMLParser):
    """Every element of a document, as a browser's tokenizer sees it, and its text."""

    def __init__(self, document: bytes):
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict]] = []
        self.text: list[str] = []
        self.feed(document.decode("utf-8"))
        self.close()

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)

    def ids(self) -> set[str]:
        return {a["id"] for _, a in self.elements if "id" in a}

    def all(self, tag: str) -> list[dict]:
        return [a for t, a in self.elements if t == tag]


def assert_inert(document: bytes) -> Parsed:
    """No element or attribute beyond what the report writes; links in the document or http(s);
    images from data: only; every anchor lands on an element."""
    doc = Parsed(document)
    assert {t for t, _ in doc.elements} <= ALLOWED_TAGS, {t for t, _ in doc.elements} - ALLOWED_TAGS
    attrs = {name for _, a in doc.elements for name in a}
    assert attrs <= {"id", "class", "href", "rel", "src", "alt", "lang", "charset", "http-equiv", "content", "name",
                     "scope", "style", "aria-labelledby"}, attrs
    assert all(a["style"].startswith("text-align:") for a in doc.all("td") + doc.all("th") if "style" in a)
    for a in doc.all("a"):
        assert a["href"].startswith(("#", "https://", "http://")), a
        assert a["href"].startswith("#") or a["rel"] == "noopener noreferrer", a
        assert not a["href"].startswith("#") or a["href"][1:] in doc.ids(), a
    assert all(i["src"].startswith(("data:image/svg+xml;base64,", "data:image/png;base64,")) for i in doc.all("img"))
    csp = [m["content"] for m in doc.all("meta") if m.get("http-equiv") == "Content-Security-Policy"]
    assert csp == [CSP] and "default-src 'none'" in CSP and "script-src" not in CSP
    assert b"<script" not in document.lower() and b"<link" not in document.lower()
    return doc


def pack(pages: dict[str, str], diagrams: dict[str, bytes] | None = None) -> dict[str, bytes]:
    """A render's files: the pages' markdown, the diagrams (``name -> bytes``) under diagrams/."""
    files = {path: text.encode("utf-8") for path, text in pages.items()}
    return files | {f"diagrams/{name}": data for name, data in (diagrams or {}).items()}


# --- untrusted text ------------------------------------------------------------------------------

def test_markdown_it_refuses_script_urls_and_raw_html_is_off():
    md_it = _markdown()
    assert md_it.options["html"] is False and "table" in md_it.get_active_rules()["block"]
    for url in ["javascript:alert(1)", "JaVaScRiPt:alert(1)", "vbscript:msgbox(1)", "file:///etc/passwd",
                "data:text/html,<script>alert(1)</script>", "data:image/svg+xml;base64,PHN2Zz4="]:
        assert not md_it.validateLink(url), url


@pytest.mark.parametrize("hostile", INJECTIONS)
def test_hostile_text_stays_text_wherever_it_is(hostile):
    escaped = md(hostile)  # as the templates write AWS text
    page = (f"# Account {escaped}\n\n{escaped}\n\n| Name | Tag |\n|---|---|\n| {escaped} | {escaped} |\n\n"
            f"- [{escaped}](accounts/1.md)\n\n![{escaped}](diagrams/x.svg)\n\n![{escaped}](diagrams/gone.svg)\n\n"
            # the same text raw, as if a page forgot to escape it: raw HTML is off
            f"## {hostile}\n\n{hostile}\n\n[{hostile}](accounts/1.md) ![{hostile}](diagrams/x.svg)\n")
    files = pack({"index.md": page, "accounts/1.md": f"# {escaped}\n"}, {"x.svg": SVG % b"y.svg"})
    out = report_html(files, [(None, ["index.md"]), (hostile, ["accounts/1.md"])], f"Pack {hostile}",
                      [(hostile, hostile), ("scope", f"account {hostile}")])
    doc = assert_inert(out)
    text = "".join(doc.text)
    assert text.count(hostile) >= 8, text  # title, facts, headings, cells, link text: shown as what it is
    alts = [i["alt"] for i in doc.all("img")]
    assert alts == [hostile, hostile]  # x.svg twice; gone.svg dropped, its alt shown
    assert f"[image not in this report: {hostile}]" in text


@pytest.mark.parametrize("link", ["[x](javascript:alert(1))", "[x](JAVASCRIPT:alert(1))", "<javascript:alert(1)>",
                                  "[x](java\tscript:alert(1))", "[x](&#106;avascript:alert(1))",
                                  "[x](data:text/html;base64,PHNjcmlwdD4=)", "[x](vbscript:msgbox)",
                                  "[x](file:///etc/passwd)", "[x](//evil.example/a.md)", "[x](mailto:a@example.com)",
                                  "[x](ftp://evil.example/)", "[x](https:evil)", "[x](/etc/passwd)",
                                  "[x](../../outside.md)", "[x](accounts/missing.md)", "![x](https://evil.example/p.svg)",
                                  "![x](data:image/png;base64,iVBORw0KGgo=)", "![x](//evil.example/p.png)",
                                  '[x](https://ok.example/"onmouseover="alert(1))'])
def test_no_link_leaves_the_document_but_http(link):
    out = report_html(pack({"index.md": f"# T\n\n{link}\n"}), [(None, ["index.md"])], "T", [])
    doc = assert_inert(out)
    hrefs = [a["href"] for a in doc.all("a") if not a["href"].startswith("#")]
    assert hrefs == (["https://ok.example/%22onmouseover=%22alert(1)"] if "ok.example" in link else [])
    assert doc.all("img") == []


def test_title_facts_and_paths_are_escaped():
    odd = 'accounts/a"b<c>&d.md'
    files = pack({"index.md": "# I\n\n[odd](accounts/a%22b%3Cc%3E&d.md)\n", odd: "# Odd\n"})
    out = report_html(files, [(None, ["index.md", odd])], '</title><script>alert(1)</script>',
                      [("<b>v</b>", 'x" onmouseover="alert(1)')])
    doc = assert_inert(out)
    assert page_id(odd) in doc.ids() and {"href": "#" + page_id(odd)} in doc.all("a")
    assert doc.all("title") == [{}] and b"&lt;/title&gt;&lt;script&gt;" in out
    assert b"<th scope=\"row\">&lt;b&gt;v&lt;/b&gt;</th><td>x&quot; onmouseover=&quot;alert(1)</td>" in out


# --- links, anchors, images ------------------------------------------------------------------------

def linked_pack() -> tuple[dict[str, bytes], list]:
    files = pack({
        "index.md": "# Home\n\n## Intro\n\n[b](use-cases/b.md) [c](use-cases/c.md#second-part) "
                    "[c?](use-cases/c.md#nope) [here](#intro) [gone](use-cases/missing.md) "
                    "[ext](https://docs.aws.amazon.com/vpc/) [ou](diagrams/ou-x.svg) [png](diagrams/p.png)\n\n"
                    "![Overview](diagrams/overview.svg)\n",
        "use-cases/b.md": "# B\n\n![Overview again](../diagrams/overview.svg)\n\n[home](../index.md) "
                          "[c](./c.md) [raw](../diagrams/overview.svg) [mmd](../diagrams/overview.mmd)\n",
        "use-cases/c.md": "# C\n\n## Second part\n\n## Second part\n\ntext\n",
        "nav.yml": "- x\n"},
        {"overview.svg": SVG % b"ou-x.svg", "overview.png": PNG, "overview.mmd": b"flowchart", "p.png": PNG,
         "ou-x.svg": SVG % b"overview.svg", "unlisted.svg": SVG % b"nowhere.svg"})
    return files, [(None, ["index.md"]), ("Use cases", ["use-cases/b.md", "use-cases/c.md"])]


def test_links_become_anchors_in_the_document():
    files, order = linked_pack()
    out = report_html(files, order, "Pack", [("tool", "archviz")])
    doc = assert_inert(out)
    sections = [a["id"] for a in doc.all("section")]
    assert sections == ["page-index", "page-use-cases.b", "page-use-cases.c", "appendix-diagrams"]
    hrefs = [a["href"] for a in doc.all("a")]
    contents = hrefs[:hrefs.index("#appendix-diagrams") + 1]
    assert contents == ["#page-index", "#page-use-cases.b", "#page-use-cases.c", "#appendix-diagrams"]
    index = hrefs[len(contents):]
    assert index[:7] == ["#page-use-cases.b", "#page-use-cases.c:second-part", "#page-use-cases.c",
                         "#page-index:intro", "https://docs.aws.amazon.com/vpc/", "#fig-ou-x", "#fig-p"]
    assert {"#page-index", "#page-use-cases.c", "#fig-overview"} <= set(hrefs)  # b.md's links
    assert "page-use-cases.c:second-part_1" in doc.ids()  # repeated headings, as MkDocs numbers them
    assert [a for a in doc.all("span") if a.get("class") == "unlinked"] == [{"class": "unlinked"}] * 2  # gone, mmd
    text = "".join(doc.text)
    assert "gone" in text and "mmd" in text
    assert doc.all("h1") == [{}] and {"id": "page-index:home"} in doc.all("h2")  # page headings one level down


def test_diagrams_are_embedded_once_with_their_id_and_the_rest_in_an_appendix():
    files, order = linked_pack()
    doc = assert_inert(report_html(files, order, "Pack", []))
    images = doc.all("img")
    sources = [base64.b64decode(i["src"].split(",", 1)[1]) for i in images]
    # overview (index, then b.md), then the appendix: linked first (ou-x, p), then the rest by name
    assert sources == [files["diagrams/overview.svg"]] * 2 + [files["diagrams/ou-x.svg"], PNG,
                                                              files["diagrams/unlisted.svg"]]
    assert [i["alt"] for i in images] == ["Overview", "Overview again", "ou", "png", "unlisted.svg"]
    figures = [f.get("id") for f in doc.all("figure")]
    assert figures == ["fig-overview", None, "fig-ou-x", "fig-p", "fig-unlisted"]
    assert len(doc.ids()) == len([a for _, a in doc.elements if "id" in a])  # no id twice
    # the SVG's own link (to ou-x.svg) is listed under the figure, and ou-x's back to the overview
    out = report_html(files, order, "Pack", []).decode()
    assert 'Overview <span class="leads">Leads to: <a href="#fig-ou-x">ou</a>.</span>' in out
    assert 'ou <span class="leads">Leads to: <a href="#fig-overview">Overview</a>.</span>' in out
    assert "<figcaption>Overview again <span" in out  # a second showing keeps its own caption


def test_alt_text_keeps_code_spans():
    files = pack({"index.md": "# I\n\n![Service `https://evil.example` x\\*](diagrams/d.svg)\n"}, {"d.svg": SVG % b""})
    doc = assert_inert(report_html(files, [(None, ["index.md"])], "T", []))
    assert [i["alt"] for i in doc.all("img")] == ["Service https://evil.example x*"]


def test_same_input_same_bytes_whatever_the_order_of_the_files():
    files, order = linked_pack()
    first = report_html(files, order, "Pack", [("generated_at", "2026-01-01T00:00:00Z")])
    again = report_html(dict(reversed(list(files.items()))), copy.deepcopy(order), "Pack",
                        [("generated_at", "2026-01-01T00:00:00Z")])
    assert first == again and first.startswith(b"<!DOCTYPE html>\n")


def test_ids_are_stable_and_never_meet():
    paths = ["a/b.md", "a.b.md", "a_2f_b.md", "a-b.md", "A/b.md", "a/b.c.md", "a/b_c.md"]
    assert len({page_id(p) for p in paths}) == len(paths)
    assert page_id("use-cases/aws-service.md") == "page-use-cases.aws-service"
    assert figure_id("diagrams/overview.svg") == figure_id("diagrams/overview.png") == "fig-overview"
    assert figure_id("diagrams/ou-a_b.svg") == "fig-ou-a_5f_b"
    assert all(re.fullmatch(r"[A-Za-z0-9._-]+", page_id(p)) for p in paths + ['x/"<>.md'])


def test_a_page_of_the_order_must_be_in_the_files():
    with pytest.raises(ValueError, match="accounts/1.md"):
        report_html(pack({"index.md": "# I\n"}), [(None, ["index.md"]), ("Accounts", ["accounts/1.md"])], "T", [])


# --- a real render, in a real browser ------------------------------------------------------------

PLANTED = {"account": "<script>alert('account')</script>", "service": '"><img src=x onerror=alert(\'svc\')>',
           "endpoint": "[x](javascript:alert('ep'))"}

WATCH = """
window.__violations = [];
document.addEventListener('securitypolicyviolation',
  e => window.__violations.push(e.violatedDirective + ' ' + e.blockedURI));
"""
CHECK = """() => ({
  scripts: document.scripts.length + document.querySelectorAll('script, iframe, object, embed, link').length,
  handlers: [...document.querySelectorAll('*')].filter(e => [...e.attributes].some(a => a.name.startsWith('on'))).length,
  images: [...document.images].map(i => [i.complete, i.naturalWidth, i.src.slice(0, 25)]),
  dangling: [...document.querySelectorAll('a[href^="#"]')].filter(a => !document.getElementById(a.getAttribute('href').slice(1))).length,
  external: [...document.querySelectorAll('a[href]')].map(a => a.getAttribute('href')).filter(h => !h.startsWith('#')),
  violations: window.__violations,
  text: document.body.innerText,
})"""
PRINTED = """() => ({
  breaks: [...document.querySelectorAll('section')].map(s => getComputedStyle(s).breakBefore),
  wide: [...document.images].filter(i => i.getBoundingClientRect().width > document.documentElement.clientWidth + 1).length,
})"""


def planted(doc: dict) -> dict:
    """The demo estate (three hostile names already) with more scripts planted in AWS names."""
    doc = copy.deepcopy(doc)
    doc["accounts"][0]["name"] += PLANTED["account"]
    doc["endpoint_services"][0]["name"] = (doc["endpoint_services"][0].get("name") or "") + PLANTED["service"]
    doc["endpoints"][0]["name"] = (doc["endpoints"][0].get("name") or "") + PLANTED["endpoint"]
    model.apply(doc)
    return doc


def rendered(doc: dict) -> tuple[dict[str, bytes], list, int]:
    """A real render's files, its reading order and how many diagram images its pages show."""
    files: dict[str, bytes] = {}
    built = build(doc, files.__setitem__)
    pages = [p for _, paths in built.order for p in paths]
    shown = sum(len(re.findall(r"!\[[^\]]*\]\([^)]*diagrams/[^)]+\.svg\)", files[p].decode())) for p in pages)
    linked_only = {f for f in files if f.startswith("diagrams/") and f.endswith(".svg")} - {
        f"diagrams/{name}" for p in pages for name in re.findall(r"!\[[^\]]*\]\([^)]*diagrams/([^)]+\.svg)\)",
                                                                   files[p].decode())}
    return files, built.order, shown + len(linked_only)


@pytest.fixture(scope="session")  # session: set up once per worker, however pytest-xdist interleaves the modules
def reports(demo_crawl, tmp_path_factory) -> dict[str, tuple[Path, int, dict]]:
    from tests.test_render_scale import templated  # OUs: diagrams the index only links to

    out = {}
    folder = tmp_path_factory.mktemp("report")
    for name, doc in (("demo", planted(demo_crawl[1])), ("ous", templated())):
        files, order, images = rendered(doc)
        path = folder / f"{name}.html"
        facts = [("Tool", "archviz 0.1.0"), ("Generated at", doc["generated_at"]), ("Scope", PLANTED["account"])]
        path.write_bytes(report_html(files, order, f"Evidence {PLANTED['service']}", facts))
        out[name] = path, images, files
    return out


def test_a_real_render_is_inert_and_complete(reports):
    for path, images, files in reports.values():
        doc = assert_inert(path.read_bytes())
        assert len(doc.all("img")) == images
        assert len({i["src"] for i in doc.all("img")}) == len([f for f in files if f.endswith(".svg")])


def open_in_chromium(path: Path, images: int) -> dict:
    """``path`` opened in Debian's Chromium: asserts it loads nothing, runs nothing, shows its
    ``images`` diagrams, and prints one section a page; returns what the page shows."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium(), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.add_init_script(WATCH)  # the test's own listener (CDP runs it whatever the page's CSP)
            requests, console, dialogs, errors = [], [], [], []
            page.on("request", lambda r: requests.append(r.url))
            page.on("console", lambda m: console.append(f"{m.type}: {m.text}"))
            page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
            page.on("pageerror", lambda e: errors.append(str(e)))
            url = path.as_uri()
            page.goto(url, wait_until="load")
            found = page.evaluate(CHECK)
            assert [r for r in requests if r != url and not r.startswith("data:")] == [], requests
            assert console == [] and dialogs == [] and errors == [] and found["violations"] == []
            assert found["scripts"] == 0 and found["handlers"] == 0 and found["dangling"] == 0
            assert len(found["images"]) == images > 0
            assert all(done and width > 0 and src == "data:image/svg+xml;base64" for done, width, src in found["images"])
            page.emulate_media(media="print")
            printed = page.evaluate(PRINTED)
            assert set(printed["breaks"]) == {"page"} and printed["wide"] == 0
            pdf = page.pdf(format="A4", print_background=True)
            assert pdf.startswith(b"%PDF") and len(pdf) > 50_000
            assert len(re.findall(rb"/Type\s*/Page\b", pdf)) >= len(printed["breaks"]) + 1
            assert [r for r in requests if r != url and not r.startswith("data:")] == [], requests
            return found
        finally:
            browser.close()


@pytest.mark.browser
@pytest.mark.parametrize("name", ["demo", "ous"])
def test_report_in_a_real_browser(reports, name):
    path, images, _ = reports[name]
    found = open_in_chromium(path, images)
    if name == "demo":
        for planted_text in [*PLANTED.values(), *HOSTILE.values()]:  # shown as the text it is
            assert planted_text in found["text"] or planted_text[:20] in found["text"], planted_text
    else:
        assert "Other diagrams" in found["text"] and "Leads to:" in found["text"]
