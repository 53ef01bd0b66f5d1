"""A render: every diagram and page of an analyzed snapshot, offline. Same snapshot, same bytes.

:func:`build` describes every picture of the kinds asked for (:mod:`kinds`, :mod:`pictures`),
draws each in every format asked for (:mod:`backends`: Graphviz's ``dot`` in parallel through
:mod:`draw` and :mod:`graph`, Mermaid as text), fills one template per page (:mod:`contexts`,
:mod:`pages`); :func:`render` writes it all through :class:`output.Output`: staged, then
committed under the folder's lock."""

from __future__ import annotations

import concurrent.futures as cf
import os
from dataclasses import dataclass, field
from pathlib import Path

from archviz import diff, model, snapshot
from archviz.errors import ArchvizError, InputError
from archviz.render import contexts, drift, kinds, layout, nav, pictures
from archviz.render.backends import BACKENDS, EDITABLE, FORMATS, IMAGES
from archviz.render.draw import draw
from archviz.render.graph import render as render_picture
from archviz.render.kinds import GROUPS, KINDS
from archviz.render.output import Output, Site
from archviz.render.pages import DEFAULT_TITLE, render_page
from archviz.render.view import View


def _check(formats: tuple[str, ...], only: tuple[str, ...]) -> None:
    bad = [f for f in formats if f not in FORMATS] + [g for g in only if g not in GROUPS]
    if bad or not formats or not only:
        raise InputError(f"cannot render {', '.join(bad) or 'nothing'}: formats are {', '.join(FORMATS)}; "
                         f"groups are {', '.join(GROUPS)}")


def _laid_out(pic: pictures.Picture, images: list[str]) -> tuple[pictures.Picture, list[bytes]]:
    """The picture in each image format, laid out by :func:`layout.fitted` (measured on the SVG).
    A picture no layout keeps within the limits is aggregated further (``pic.coarser()``) and
    laid out again; the picture drawn is returned with its images."""
    if not images:
        return pic, []
    name = pic.name
    while (drawn := layout.fitted(pic, draw, lambda c, fmt: render_picture(c, fmt))) is None:
        pic = pic.coarser()
        if pic is None:
            raise ArchvizError(f"archviz bug: diagram {name} does not fit {layout.MAX_ASPECT:g}:1 and "
                               f"{layout.MAX_SIDE_PX} px even at its coarsest level (please report this)")
    svg, canvas = drawn
    return pic, [svg if fmt == "svg" else BACKENDS[fmt].laid_out(pic, canvas) if BACKENDS[fmt].laid_out
                 else render_picture(canvas, fmt) for fmt in images]


def _draw_all(view: View, subjects: list[tuple[str, str]], formats: tuple[str, ...], emit,
              built: "Built") -> dict:
    """Every diagram: images drawn by ``dot`` in parallel (one subprocess at a time per core),
    the text formats beside them (:mod:`backends`; Graphviz is not needed for them alone). First
    the overview and, wave by wave, the diagrams of the OUs and groups of accounts its nodes lead
    to (each once); then the others. Results are emitted in a fixed order, whatever order the
    drawings finish in."""
    images = [f for f in formats if BACKENDS[f].graphviz]
    texts = [BACKENDS[f] for f in formats if BACKENDS[f].text is not None]
    pics = {}

    def draw_one(subject: tuple) -> tuple:
        kind, ident = subject
        return _laid_out(KINDS[kind].picture(view, ident), images)

    def emit_all(wave: list[tuple], pool) -> None:
        for subject, (pic, drawn) in zip(wave, pool.map(draw_one, wave)):
            for fmt, data in zip(images, drawn):
                emit(f"diagrams/{pic.name}.{BACKENDS[fmt].suffix}", data)
            for backend in texts:
                drawn = backend.text(pic)
                emit(f"diagrams/{pic.name}.{backend.suffix}", drawn.text.encode("utf-8"))
                if backend.block and subject not in built.blocks:
                    built.blocks[subject] = "\n\n".join(f"```{backend.block}\n{t}```" for t in (drawn.text, *drawn.blocks))
                    if drawn.note:
                        built.block_notes[subject] = drawn.note
            built.nodes[pic.name] = pic.nodes
            pics[subject] = pic

    with cf.ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        wave = [s for s in subjects if s[0] == "overview"]
        seen = {pictures.Scope()}  # the overview's
        while wave:
            emit_all(wave, pool)
            linked = dict.fromkeys(scope for done in wave for scope in pics[done].links)
            wave = [("ou", scope) for scope in linked if scope not in seen]
            seen.update(linked)
        emit_all([s for s in subjects if s[0] != "overview"], pool)
    return pics


def _pages(view: View, subjects: list[tuple[str, str]], links: contexts.Links, title: str | None,
           since: dict | None = None):
    """(file, template, context) for every page."""
    yield "index.md", "index.md.j2", dict(contexts.index(view, links), title=title or DEFAULT_TITLE,
                                          since=drift.context(since) if since is not None else None)
    yield "findings.md", "findings.md.j2", contexts.findings(view, links)
    for kind, ident in subjects:
        if KINDS[kind].template:
            yield kinds.page(view, kind, ident), KINDS[kind].template, KINDS[kind].context(view, links, ident)


@dataclass
class Built:
    """What :func:`build` made besides the files: node counts per diagram, the fenced block a page
    embeds per subject (a text backend's, :mod:`backends`), and the pages in reading order
    (:func:`nav.sections`)."""

    nodes: dict[str, int] = field(default_factory=dict)
    blocks: dict[tuple[str, str], str] = field(default_factory=dict)
    block_notes: dict[tuple[str, str], str] = field(default_factory=dict)  # what a block leaves to the image
    order: list = field(default_factory=list)


def build(doc: dict, emit, formats: tuple[str, ...] = ("svg",), only: tuple[str, ...] = GROUPS,
          title: str | None = None, nav_prefix: str | None = None, since: dict | None = None) -> Built:
    """Every page and diagram of a render, handed to ``emit(rel, data)``. ``title`` heads the
    index page; ``nav_prefix`` (a docs-site section, see :mod:`archviz.render.nav`) adds the
    navigation fragments; ``since`` (an :func:`archviz.diff.compare` result ending at ``doc``)
    adds the changes to the index page and marks the new connections on the overview."""
    _check(formats, only)
    if "connections" not in doc:  # a snapshot written before the model existed
        model.apply(doc)
    view = View(doc)
    if since is not None:
        view.new_connections = diff.new_connections(since)
    view.linked = {k.name for k in KINDS.values() if k.linked and k.group in only}
    subjects = kinds.subjects(view, only)
    built = Built()
    pics = _draw_all(view, subjects, formats, emit, built)
    image = next((f for f in formats if f in IMAGES), None)
    editable = next((f for f in formats if f in EDITABLE), None)
    links = contexts.Links(
        {s: kinds.page(view, *s) for s in subjects if KINDS[s[0]].template},
        {s: f"diagrams/{pic.name}.{BACKENDS[image].suffix}" for s, pic in pics.items() if s[0] != "ou"} if image else {},
        {s: pic.collapsed for s, pic in pics.items()}, built.blocks, block_notes=built.block_notes,
        ous=[(pic.title, f"diagrams/{pic.name}.{BACKENDS[image or formats[0]].suffix}", pic.collapsed)
             for s, pic in sorted(pics.items(), key=lambda kv: (kv[1].title, kv[1].name)) if s[0] == "ou"],
        editable={s: f"diagrams/{pic.name}.{BACKENDS[editable].suffix}" for s, pic in pics.items()} if editable else {})
    for rel, template, context in _pages(view, subjects, links, title, since):
        emit(rel, render_page(template, rel, **context).encode("utf-8"))
    built.order = nav.sections(view, subjects)
    if nav_prefix is not None:
        for rel, data in nav.fragments(built.order, title or DEFAULT_TITLE, nav_prefix).items():
            emit(rel, data.encode("utf-8"))
    return built


def render(doc: dict, out_dir: Path, formats: tuple[str, ...] = ("svg",), only: tuple[str, ...] = GROUPS,
           title: str | None = None, nav_prefix: str | None = None, since: dict | None = None,
           redacted: bool = False) -> Site:
    """Render into a folder, staged and committed under its lock (:class:`output.Output`).
    ``redacted``: ``doc`` is redacted, so no file the render does not write may stay beside it."""
    _check(formats, only)
    with Output(Path(out_dir)) as out:
        out.site.nodes = build(doc, out.write, formats, only, title, nav_prefix, since).nodes
        return out.commit({"tool": doc["tool"], "snapshot_sha256": snapshot.sha256(doc)}, exclusive=redacted)
