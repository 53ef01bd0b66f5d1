"""A render as one self-contained, printable HTML5 file: ``report.html`` of an audit evidence pack.

:func:`report_html` takes the files of a render (``archviz.render.build``: the markdown pages and
the diagrams) and its reading order, and gives one HTML file an auditor opens in any browser or
prints: a header with the title and a table of facts (tool version, generated_at, scope...), a
table of contents, then every page of the reading order as a ``<section>``, each starting on a
new printed page, and last the diagrams no page shows as an image (the diagrams of OUs and groups
of accounts, which the index only links to).

Markdown is converted by markdown-it-py (CommonMark and its GFM table rule) with raw HTML off:
AWS text in the pages is already escaped for markdown (``archviz.render.pages.md``) and,
whatever a page holds, no tag of it reaches the report as markup. markdown-it's ``validateLink``
drops ``javascript:``, ``vbscript:``, ``file:`` and ``data:`` URLs but raster ``data:image/...``
(they stay as the text they are); every remaining link and image is resolved here:

- a link to a page of the reading order (relative to the linking page's folder, an optional
  ``#fragment`` naming one of its headings) becomes an anchor to its section (or heading);
- a link to a diagram becomes an anchor to its figure;
- an ``http(s)`` link stays a link (with ``rel="noopener noreferrer"``); nothing is loaded from it;
- anything else (a file that is not in the pack, a ``mailto:``...) is kept as plain text in a
  ``<span class="unlinked">``: no dead link, nothing to follow;
- an image of a diagram in the pack becomes ``<img src="data:image/svg+xml;base64,...">``
  (``image/png`` for a PNG; the SVG is preferred when both exist). An SVG inside ``<img>`` runs
  no script and fetches nothing, so it is embedded unchanged; its own links (``<a xlink:href>``
  to another diagram) cannot be followed in an ``<img>``, so the figure's caption lists them
  ("Leads to") as anchors. Any other image is dropped and its alt text shown.

Ids are stable, derived from paths (:func:`page_id`, :func:`figure_id`); a heading's id is its
section's, ``:``, and the slug MkDocs would give it (Python-Markdown's ``toc`` slugify, ``_1``,
``_2``... for repeats). A diagram shown by several pages carries its figure id at its first
showing in reading order.

The file loads nothing: a Content-Security-Policy meta tag allows images from ``data:`` and
inline styles only, and there is no script at all. Same input, same bytes."""

from __future__ import annotations

import base64
import html
import posixpath
import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from urllib.parse import unquote, urlsplit

from markdown_it import MarkdownIt

__all__ = ["report_html", "page_id", "figure_id", "CSP"]

CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"
DIAGRAMS = "diagrams/"
IMAGE_TYPES = {".svg": "image/svg+xml", ".png": "image/png"}  # the SVG first: preferred
APPENDIX_ID = "appendix-diagrams"
_ID_UNSAFE = re.compile(r"[^A-Za-z0-9-]")
_SVG_LINK = re.compile(r"<a\b[^>]*?\s(?:xlink:)?href=\"([^\"]*)\"")

CSS = """
:root { color-scheme: light; }
body { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
       color: #1b1f23; background: #fff; max-width: 72rem; margin: 0 auto; padding: 0 1.5rem 3rem; }
header { border-bottom: 2px solid #333; padding-bottom: .75rem; }
h1, h2, h3, h4, h5, h6 { line-height: 1.25; }
a { color: #0b5cad; }
table { border-collapse: collapse; margin: .75rem 0; font-size: .9em; }
th, td { border: 1px solid #b8bec6; padding: .25rem .5rem; text-align: left; vertical-align: top;
         overflow-wrap: anywhere; }
thead th, table.facts th { background: #eef1f4; }
code { font-family: ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: .9em;
       overflow-wrap: anywhere; }
pre { white-space: pre-wrap; background: #f6f8fa; padding: .5rem; }
img { max-width: 100%; height: auto; }
figure { margin: 1rem 0; }
figcaption { font-size: .85em; color: #4a5058; }
nav.contents ol { padding-left: 1.5rem; }
section.page, section.appendix { border-top: 1px solid #c8cdd3; margin-top: 2.5rem; padding-top: .5rem; }
p.source { font: .8em ui-monospace, "DejaVu Sans Mono", monospace; color: #6a7078; margin: 0; }
.missing { font-style: italic; color: #8a1c1c; }
@page { margin: 15mm; }
@media print {
  body { max-width: none; margin: 0; padding: 0; font-size: 10pt; }
  nav.contents, section.page, section.appendix { break-before: page; border-top: none; margin-top: 0; }
  img { max-height: 220mm; width: auto; }
  figure, img, tr { break-inside: avoid; }
  thead { display: table-header-group; }
  h1, h2, h3, h4, h5, h6 { break-after: avoid; }
  a { color: inherit; text-decoration: none; }
  a[href^="http"]::after { content: " (" attr(href) ")"; font-size: .85em; }
}
"""


def _id_part(text: str) -> str:
    """``text`` for an id, injectively: letters, digits and ``-`` kept, ``/`` as ``.``, any
    other character as ``_<hex>_`` (``.`` and ``_`` come from nothing else)."""
    return _ID_UNSAFE.sub(lambda m: "." if m.group(0) == "/" else f"_{ord(m.group(0)):x}_", text)


def page_id(path: str) -> str:
    """The section id of a page: ``use-cases/aws-service.md`` -> ``page-use-cases.aws-service``."""
    if not path.endswith(".md"):
        raise ValueError(f"not a markdown page: {path!r}")
    return "page-" + _id_part(path[:-3])


def figure_id(path: str) -> str:
    """The figure id of a diagram: ``diagrams/overview.svg`` -> ``fig-overview``."""
    stem = posixpath.splitext(path)[0]
    return "fig-" + _id_part(stem[len(DIAGRAMS):] if stem.startswith(DIAGRAMS) else stem)


def slugify(text: str) -> str:
    """Python-Markdown's ``toc`` slug (MkDocs' heading ids): ASCII, lower case, words and ``-``."""
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[-\s]+", "-", re.sub(r"[^\w\s-]", "", text).strip().lower())


def _unique(slug: str, taken: set[str]) -> str:
    while slug in taken or not slug:
        m = re.match(r"^(.*)_([0-9]+)$", slug)
        slug = f"{m.group(1)}_{int(m.group(2)) + 1}" if m else f"{slug}_1"
    taken.add(slug)
    return slug


def _plain(tokens) -> str:
    """The text of inline tokens (an image counts as its alt text)."""
    out = []
    for tok in tokens or []:
        if tok.type in ("text", "code_inline"):
            out.append(tok.content)
        elif tok.type in ("softbreak", "hardbreak"):
            out.append(" ")
        elif tok.children:
            out.append(_plain(tok.children))
    return "".join(out)


def _esc(text: str) -> str:
    return html.escape(text, quote=True)


@dataclass
class _Page:
    path: str
    sid: str
    tokens: list
    title: str = ""
    headings: dict[str, str] = field(default_factory=dict)  # slug -> element id


@dataclass
class _Diagram:
    path: str  # the file embedded (the SVG when there is one)
    fid: str
    uri: str
    alt: str | None = None  # the first image's alt text, in reading order
    link_text: str | None = None  # else the first link's text
    shown: bool = False  # some page shows it as an image
    anchored: bool = False  # its id is placed
    leads: list[str] = field(default_factory=list)  # keys of the diagrams its own links lead to

    @property
    def caption(self) -> str:
        return self.alt or self.link_text or posixpath.basename(self.path)


def _image_rule(self, tokens, idx, options, env) -> str:
    """An image as :meth:`_Pack.image` resolved it: the embedded diagram, or its alt text."""
    tok = tokens[idx]
    alt = _esc(_plain(tok.children))
    meta = tok.meta or {}
    if "uri" not in meta:
        return f'<span class="missing">[image not in this report: {alt}]</span>'
    ident = f' id="{_esc(meta["id"])}"' if meta.get("id") else ""
    return f'<img src="{_esc(meta["uri"])}" alt="{alt}"{ident}>' + meta.get("caption", "")


@lru_cache(maxsize=1)
def _markdown() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False}).enable("table")
    md.add_render_rule("image", _image_rule)
    return md


def _diagrams(files: dict[str, bytes]) -> dict[str, _Diagram]:
    """Every image under diagrams/, by path without extension; the SVG where there are both."""
    found: dict[str, _Diagram] = {}
    for path in sorted(files):
        stem, ext = posixpath.splitext(path)
        if path.startswith(DIAGRAMS) and ext in IMAGE_TYPES and (stem not in found or ext == ".svg"):
            uri = f"data:{IMAGE_TYPES[ext]};base64," + base64.b64encode(files[path]).decode("ascii")
            found[stem] = _Diagram(path, figure_id(path), uri)
    return found


class _Pack:
    """The pages of the reading order and the diagrams, with everything a link can resolve to."""

    def __init__(self, files: dict[str, bytes], order: list):
        self.files = files
        self.diagrams = _diagrams(files)
        self.pages: dict[str, _Page] = {}
        for _, paths in order:
            for path in paths:
                if path not in files:
                    raise ValueError(f"page {path!r} of the reading order is not in the files")
                if path not in self.pages:
                    self.pages[path] = self._parse(path)
        for d in self.diagrams.values():
            d.leads = self._svg_links(d)

    def _parse(self, path: str) -> _Page:
        page = _Page(path, page_id(path), _markdown().parse(self.files[path].decode("utf-8")))
        taken: set[str] = set()
        for i, tok in enumerate(page.tokens):
            if tok.type == "heading_open":
                text = _plain(page.tokens[i + 1].children)
                slug = _unique(slugify(text), taken)
                page.headings[slug] = f"{page.sid}:{slug}"
                tok.attrSet("id", page.headings[slug])
                page.title = page.title or (text if tok.tag == "h1" else "")
                tok.tag = f"h{min(int(tok.tag[1]) + 1, 6)}"  # under the report's own h1
                page.tokens[i + 2].tag = tok.tag
        page.title = page.title or path
        return page

    def _svg_links(self, d: _Diagram) -> list[str]:
        if not d.path.endswith(".svg"):
            return []
        hrefs = _SVG_LINK.findall(self.files[d.path].decode("utf-8", "replace"))
        keys = (self.diagram_of(d.path, html.unescape(h)) for h in hrefs)
        return list(dict.fromkeys(k for k in keys if k))

    def _target(self, page: str, href: str) -> tuple[str, str] | None:
        """(path in the pack, fragment) of a relative link, or None."""
        url = urlsplit(href)
        if url.scheme or url.netloc or href.startswith("/"):
            return None
        if not url.path:
            return page, unquote(url.fragment)
        target = posixpath.normpath(posixpath.join(posixpath.dirname(page), unquote(url.path)))
        return (target, unquote(url.fragment)) if target in self.files else None

    def diagram_of(self, page: str, href: str) -> str | None:
        """The diagram (its key) a link or image of ``page`` refers to, if the pack has it."""
        target = self._target(page, href)
        stem, ext = posixpath.splitext(target[0]) if target else ("", "")
        return stem if stem in self.diagrams and ext in IMAGE_TYPES else None

    def link(self, page: str, href: str) -> str | None:
        """Where a link of ``page`` goes in the report, or None: plain text."""
        if urlsplit(href).scheme in ("http", "https") and urlsplit(href).netloc:
            return href
        if key := self.diagram_of(page, href):
            return "#" + self.diagrams[key].fid
        target = self._target(page, href)
        if target is None or target[0] not in self.pages:
            return None
        linked = self.pages[target[0]]
        return "#" + linked.headings.get(target[1], linked.sid)

    def image(self, page: str, tok) -> bool:
        """Resolve an image token in place (its ``meta``); True for an embedded diagram."""
        key = self.diagram_of(page, tok.attrGet("src") or "")
        if key is None:
            tok.meta = {}
            return False
        d = self.diagrams[key]
        tok.meta = {"uri": d.uri, "key": key, "id": None if d.anchored else d.fid}
        d.anchored = True
        return True

    def caption(self, key: str, text: str | None = None) -> str:
        """A figure's caption: ``text`` (else the diagram's caption), and the figures its own
        links lead to."""
        d = self.diagrams[key]
        leads = ", ".join(f'<a href="#{_esc(self.diagrams[k].fid)}">{_esc(self.diagrams[k].caption)}</a>'
                          for k in d.leads if k != key)
        return f"<figcaption>{_esc(text or d.caption)}" + (f' <span class="leads">Leads to: {leads}.</span>'
                                                           if leads else "") + "</figcaption>"


def _note_references(pack: _Pack) -> list[str]:
    """Captions for every diagram (first image alt, else first link text), in reading order;
    the keys of the diagrams linked, in the order they are first linked."""
    linked = []
    for page in pack.pages.values():
        for tok in (t for t in page.tokens if t.type == "inline"):
            children = tok.children or []
            for i, child in enumerate(children):
                if child.type == "image" and (key := pack.diagram_of(page.path, child.attrGet("src") or "")):
                    d = pack.diagrams[key]
                    d.alt, d.shown = d.alt or _plain(child.children), True
                elif child.type == "link_open" and (key := pack.diagram_of(page.path, child.attrGet("href") or "")):
                    end = next(j for j in range(i, len(children)) if children[j].type == "link_close")
                    pack.diagrams[key].link_text = pack.diagrams[key].link_text or _plain(children[i + 1:end])
                    linked.append(key)
    return list(dict.fromkeys(linked))


def _rewrite_inline(pack: _Pack, page: str, children) -> None:
    unlinked = []
    for tok in children:
        if tok.type == "link_open":
            href = pack.link(page, tok.attrGet("href") or "")
            unlinked.append(href is None)
            if href is None:
                tok.tag, tok.attrs = "span", {"class": "unlinked"}
            else:
                tok.attrs = {"href": href}
                if not href.startswith("#"):
                    tok.attrSet("rel", "noopener noreferrer")
        elif tok.type == "link_close" and unlinked.pop():
            tok.tag = "span"
        elif tok.type == "image":
            pack.image(page, tok)


def _rewrite(pack: _Pack, page: _Page) -> None:
    """Links and images resolved; a paragraph that is one diagram becomes its ``<figure>``."""
    tokens = page.tokens
    for i, tok in enumerate(tokens):
        if tok.type != "inline" or not tok.children:
            continue
        _rewrite_inline(pack, page.path, tok.children)
        only = tok.children[0] if len(tok.children) == 1 else None
        if (only is not None and only.type == "image" and only.meta.get("uri")
                and tokens[i - 1].type == "paragraph_open" and not tokens[i - 1].hidden):
            tokens[i - 1].tag = tokens[i + 1].tag = "figure"
            if only.meta["id"]:
                tokens[i - 1].attrSet("id", only.meta["id"])
                only.meta["id"] = None
            only.meta["caption"] = pack.caption(only.meta["key"], _plain(only.children))


def _head(title: str) -> str:
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            f"<meta http-equiv=\"Content-Security-Policy\" content=\"{html.escape(CSP, quote=False)}\">\n"
            "<meta name=\"referrer\" content=\"no-referrer\">\n"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
            f"<title>{_esc(title)}</title>\n<style>{CSS}</style>\n</head>\n")


def _header(title: str, facts: list[tuple[str, str]]) -> str:
    rows = "".join(f"<tr><th scope=\"row\">{_esc(str(label))}</th><td>{_esc(str(value))}</td></tr>\n"
                   for label, value in facts)
    table = f"<table class=\"facts\">\n<tbody>\n{rows}</tbody>\n</table>\n" if rows else ""
    return f"<header>\n<h1>{_esc(title)}</h1>\n{table}</header>\n"


def _contents(pack: _Pack, order: list, appendix: list[str]) -> str:
    def item(path: str) -> str:
        page = pack.pages[path]
        return f"<li><a href=\"#{_esc(page.sid)}\">{_esc(page.title)}</a></li>\n"

    lines, listed = [], set()
    for heading, paths in order:
        items = "".join(item(p) for p in paths if p not in listed)
        listed.update(paths)
        if heading is None:
            lines.append(items)
        elif items:
            lines.append(f"<li>{_esc(heading)}\n<ol>\n{items}</ol></li>\n")
    if appendix:
        lines.append(f"<li><a href=\"#{APPENDIX_ID}\">Other diagrams</a></li>\n")
    return ("<nav class=\"contents\" aria-labelledby=\"contents\">\n<h2 id=\"contents\">Contents</h2>\n"
            f"<ol>\n{''.join(lines)}</ol>\n</nav>\n")


def _appendix(pack: _Pack, keys: list[str]) -> str:
    if not keys:
        return ""
    figures = "".join(f"<figure id=\"{_esc(pack.diagrams[k].fid)}\"><img src=\"{_esc(pack.diagrams[k].uri)}\" "
                      f"alt=\"{_esc(pack.diagrams[k].caption)}\">{pack.caption(k)}</figure>\n" for k in keys)
    return (f"<section id=\"{APPENDIX_ID}\" class=\"appendix\">\n<h2>Other diagrams</h2>\n"
            "<p>Diagrams no page shows, which pages and other diagrams lead to.</p>\n" + figures + "</section>\n")


def report_html(files: dict[str, bytes], order: list[tuple[str | None, list[str]]], title: str,
                facts: list[tuple[str, str]]) -> bytes:
    """Every page of ``order`` (a render's reading order, ``Built.order``) and every diagram of
    ``files`` (``rel path -> bytes`` as ``archviz.render.build`` emits them) in one HTML file,
    headed by ``title`` and the ``(label, value)`` rows of ``facts``. Same input, same bytes."""
    pack = _Pack(files, order)
    linked = _note_references(pack)
    body = []
    for page in pack.pages.values():
        _rewrite(pack, page)
        content = _markdown().renderer.render(page.tokens, _markdown().options, {})
        body.append(f"<section id=\"{_esc(page.sid)}\" class=\"page\">\n"
                    f"<p class=\"source\">{_esc(page.path)}</p>\n{content}</section>\n")
    rest = [k for k in linked if not pack.diagrams[k].shown]
    rest += sorted(k for k, d in pack.diagrams.items() if not d.shown and k not in rest)
    document = (_head(title) + "<body>\n" + _header(title, facts) + _contents(pack, order, rest)
                + "<main>\n" + "".join(body) + _appendix(pack, rest) + "</main>\n</body>\n</html>\n")
    return document.encode("utf-8")
