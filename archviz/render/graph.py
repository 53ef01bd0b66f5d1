"""Graphviz plumbing around mingrammer ``diagrams``: diagrams describes, archviz renders.

- Labels from AWS (Name tags, account names) are untrusted: :func:`label` disables DOT's
  backslash escapes and HTML-like labels and folds control characters, so ``"``, ``<script>``,
  ``]``, ``\\N`` or newlines render as text. Graphviz then escapes the text for SVG.
- Node ids come from resource ids (:func:`node_id`), clusters are named by key, never by
  label, and graph attributes are fixed: the same snapshot gives the same bytes.
- ``diagrams`` would render into the working directory and reference icons by absolute
  path; instead the DOT source is piped through ``dot`` here, and every icon is inlined into
  the SVG once as a symbol, so a diagram is one self-contained file a docs site can serve.
"""

from __future__ import annotations

import base64
import re
import subprocess
from functools import lru_cache
from pathlib import Path
from typing import Any

import graphviz
from diagrams import Cluster, Diagram, Node

from archviz.errors import ArchvizError
from archviz.render.scene import node_id  # noqa: F401 (drawn nodes use the scene's ids)
from archviz.text import shorten, visible

MAX_LABEL = 36
TOOLTIP = 200  # characters of a line kept in a node's tooltip (the text a label shortened)
ICON_LINE = 16  # characters of a line under an icon: about its width (1.4 in at 13 pt), so no label crosses its cluster
WRAP_LINES = 3  # lines a line of a label may fold into: MAX_LABEL characters fit
_BREAK_AFTER = " -:/.,_)"
# No newrank: Graphviz 2.43 (Debian 12) crashes on some clustered graphs with it.
GRAPH_ATTR = {"pad": "0.5", "nodesep": "0.7", "ranksep": "1.8", "splines": "spline", "fontsize": "16"}


def text(value: Any, limit: int = MAX_LABEL) -> str:
    """Untrusted text on one line, invisible characters shown (:func:`visible`), shortened."""
    return shorten(visible(value), limit)


def wrap(lines, width: int = ICON_LINE, limit: int = MAX_LABEL) -> list[str]:
    """Untrusted lines (shown and shortened as :func:`text` does) folded to ``width`` characters,
    for a label under an icon: a line breaks at a space, or after punctuation, where it can, into
    at most :data:`WRAP_LINES` lines, the last ending in "…" if it is still too long. The full text stays in
    the page (and the node's tooltip, where it has one)."""
    out = []
    for line in lines:
        if line in (None, ""):
            continue
        rest = text(line, limit)
        for _ in range(WRAP_LINES - 1):
            if len(rest) <= width:
                break
            at = max([rest.rfind(" ", width // 3, width + 1)] +
                     [rest.rfind(ch, width // 3, width) + 1 for ch in _BREAK_AFTER if ch != " "])
            cut = at if at > 0 else width
            out.append(rest[:cut].rstrip())
            rest = rest[cut:].lstrip()
        out.append(rest if len(rest) <= width else rest[:width - 1] + "…")
    return out


def label(*lines: Any, limit: int = MAX_LABEL) -> str:
    """A DOT-safe label: each line is untrusted text; lines are joined with DOT newlines."""
    return graphviz.nohtml("\\n".join(text(line, limit).replace("\\", "\\\\") for line in lines if line not in (None, "")))


class Canvas(Diagram):
    """A ``diagrams.Diagram`` that only describes: :func:`render` does the rendering."""

    def __init__(self, title: str, direction: str = "LR"):
        super().__init__(name=label(title, limit=100), filename="unused", show=False, direction=direction,
                         graph_attr=GRAPH_ATTR, outformat="svg")
        self.dot.name = "archviz"

    def __exit__(self, *exc: Any) -> None:
        from diagrams import setdiagram

        setdiagram(None)


class Group(Cluster):
    """A cluster whose DOT name comes from a key, never from its (untrusted) label."""

    def __init__(self, title: Any, key: str, *, bgcolor: str | None = None, style: str | None = None,
                 subtitle: Any = None):
        attrs = {"bgcolor": bgcolor} if bgcolor else {}
        if style:
            attrs["style"] = style
        super().__init__(label=label(title, subtitle), graph_attr=attrs)
        self.dot.name = "cluster_" + node_id(key)


class Box(Node):
    """A labelled generic node, for kinds with no faithful icon (GWLB, Resource endpoints...)."""

    def __init__(self, label: str = "", **attrs: Any):
        attrs = {"shape": "box", "style": "rounded,filled", "fillcolor": "#F4F6F7", "fixedsize": "false",
                 "width": "1.6", "height": "0.8", "labelloc": "c", **attrs}
        super().__init__(label, **attrs)


@lru_cache(maxsize=None)
def _icon(path: str) -> tuple[str, int, int]:
    """The icon as a data URI, with its pixel size (from the PNG header)."""
    data = Path(path).read_bytes()
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    return "data:image/png;base64," + base64.b64encode(data).decode(), width, height


_IMAGE = re.compile(r'<image xlink:href="([^"]+)" width="([^"]+)" height="([^"]+)"'
                    r'(?: preserveAspectRatio="[^"]*")? x="([^"]+)" y="([^"]+)"/>')


def inline_icons(svg: str) -> str:
    """Replace each absolute icon path by a ``<use>`` of a symbol holding the PNG once."""
    symbols: dict[str, str] = {}

    def use(match: re.Match) -> str:
        path, width, height, x, y = match.groups()
        if not path.startswith("/"):
            return match.group(0)
        ident = symbols.setdefault(path, f"icon{len(symbols)}")
        return f'<use xlink:href="#{ident}" x="{x}" y="{y}" width="{width}" height="{height}"/>'

    body = _IMAGE.sub(use, svg)
    if not symbols:
        return body
    defs = []
    for path, ident in sorted(symbols.items(), key=lambda kv: kv[1]):
        uri, w, h = _icon(path)
        defs.append(f'<symbol id="{ident}" viewBox="0 0 {w} {h}" preserveAspectRatio="xMidYMid meet">'
                    f'<image xlink:href="{uri}" width="{w}" height="{h}"/></symbol>')
    defs = "".join(defs)
    return re.sub(r"(<svg\b[^>]*>)", lambda m: m.group(1) + f"\n<defs>{defs}</defs>", body, count=1)


def render(canvas: Canvas, fmt: str) -> bytes:
    """The canvas as ``svg`` (icons inlined) or ``png`` bytes, through the real ``dot``."""
    try:
        out = canvas.dot.pipe(format=fmt, engine="dot", quiet=True)
    except graphviz.ExecutableNotFound:
        raise ArchvizError("Graphviz 'dot' is not installed: install the 'graphviz' system package")
    except (graphviz.CalledProcessError, subprocess.SubprocessError) as exc:
        raise ArchvizError(f"Graphviz failed to render '{canvas.name}': {text(exc, 200)}")
    if fmt == "svg":
        return inline_icons(out.decode("utf-8")).encode("utf-8")
    return out
