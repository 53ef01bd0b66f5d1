"""A scene as a Mermaid flowchart, for viewers that draw Mermaid themselves (GitHub, GitLab,
Material for MkDocs) and for builders without Graphviz.

It draws the same :class:`~archviz.render.scene.Picture` as :mod:`draw`: same nodes, clusters,
counts, finding marks and legend meaning, so the node budget and the aggregation hold as
they do for the SVG. Kinds that the SVG shows by icon get a caption and a shape instead.

Laid out for a narrow column (GitHub's content column is 880 px wide; Mermaid scales a drawing
down to its column): left to right, with tighter spacing and narrower labels than Mermaid's
defaults (:data:`CONFIG`, in the diagram's front matter), the legend as a block of its own
(:func:`legend`) rather than a column of the drawing, and, where the drawing would still be too
wide for its 16 px text to show at 9 px (:func:`width`, an estimate of Mermaid's own layout),
the picture's next coarser level (:func:`readable`), with a note saying what it groups.

Untrusted text (Name tags, account names) is first made visible (:func:`text.visible`) and
shortened like a Graphviz label, then every character outside ``[A-Za-z0-9 .,_-]`` becomes a
Mermaid entity code (``#60;``). Mermaid turns those back into HTML entities after parsing, so
quotes, brackets, ``-->``, ``%%``, backticks, ``<script>`` or line breaks are shown as text and
can neither end a label, change the graph, nor inject markup. Ids are archviz's own
(:func:`graph.node_id`); the only markup in a label is archviz's own ``<br>`` and ``<i>``."""

from __future__ import annotations

import re
from collections import defaultdict

from archviz.render import layout
from archviz.render import legend as legend_rows
from archviz.render.graph import MAX_LABEL
from archviz.render.scene import Cluster, Edge, Picture, node_id
from archviz.text import shorten, visible

_PLAIN = re.compile(r"[^A-Za-z0-9 .,_-]")
# What each kind is called where the SVG shows an icon, and the shape that sets it apart.
CAPTION = {
    "endpoint": ("VPC endpoint", '(["{}"])'), "endpoints": ("VPC endpoints", '(["{}"])'),
    "vpc": ("VPC", '["{}"]'), "subnet": ("Subnet", '["{}"]'),
    "endpoint-service": ("Endpoint service", '{{{{"{}"}}}}'),
    "load-balancer": ("Load balancer", '[/"{}"/]'), "listener": ("Listener", '["{}"]'),
    "target-group": ("Target group", '["{}"]'), "target": ("Target", '["{}"]'),
    "aws-service": ("AWS service", '(["{}"])'), "marketplace": ("AWS Marketplace", '(["{}"])'),
    "third-party": ("Third party", '["{}"]'), "external-consumer": ("External consumer", '["{}"]'),
    "account": ("Account", '["{}"]'), "region": ("Region", '["{}"]'), "unresolved": ("Unresolved", '["{}"]'),
}
# The SVG's line patterns (view.TRAFFIC) as Mermaid links: the arrow, and the dashes of its style.
EDGE = {"solid": "-->", "dashed": "-.->", "dotted": "-.->"}
DASHES = {"dashed": "stroke-dasharray:8 4", "dotted": "stroke-dasharray:2 4"}
# Mermaid's flowchart settings, in each diagram's front matter: closer ranks and nodes than its
# defaults (50 px each), and labels wrapped at 150 px rather than 200 px.
SPACING = {"rankSpacing": 20, "nodeSpacing": 15, "diagramPadding": 4, "padding": 8, "wrappingWidth": 150}
CONFIG = "---\nconfig:\n  flowchart:\n" + "".join(f"    {k}: {v}\n" for k, v in SPACING.items()) + "---\n"
COLUMN_PX, FONT_PX, READABLE_PX = 880, 16, 9  # GitHub's column; Mermaid's text; the least it may show at
BUDGET_PX = COLUMN_PX * FONT_PX / READABLE_PX  # the widest drawing whose text shows at 9 px in the column
LEGEND_WRAP = 420  # px: a legend row on one line, mostly (the legend is one column)
CHAR_PX, MARGIN = 8.0, 1.15  # a character of Mermaid's 16 px font, about; how far the estimate may fall short


def escape(value, limit: int = MAX_LABEL) -> str:
    """Untrusted text as inert Mermaid label text: one line, shortened, entity-coded."""
    return _PLAIN.sub(lambda m: f"#{ord(m.group(0))};", shorten(visible(value), limit))


def _label(lines, caption: str | None = None) -> str:
    parts = ([f"<i>{escape(caption)}</i>"] if caption else []) + [escape(x) for x in lines if x not in (None, "")]
    return "<br>".join(parts)


def _style(attrs: dict) -> str | None:
    """A node's finding mark (colour, heavier border) as a Mermaid style."""
    color = attrs.get("color") or attrs.get("fontcolor")
    if not color:
        return None
    width = "3px" if attrs.get("penwidth") else "1px"
    return f"stroke:{color},stroke-width:{width},color:{color}"


class _Writer:
    def __init__(self):
        self.lines: list[str] = []
        self.styles: list[str] = []

    def cluster(self, cluster: Cluster, depth: int) -> None:
        pad = "    " * depth
        for n in cluster.nodes:
            family = n.kind.split(":")[0]
            caption, shape = CAPTION.get(family, (None, '["{}"]'))
            self.lines.append(pad + n.id + shape.format(_label(n.lines, caption)))
            if style := _style(n.attrs):
                self.styles.append(f"style {n.id} {style}")
        for c in cluster.clusters:
            if not c.count():
                continue  # Mermaid draws an empty subgraph as a plain box
            cid = "c_" + node_id(c.key)
            self.lines.append(f'{pad}subgraph {cid}["{_label(c.title) or " "}"]')
            self.cluster(c, depth + 1)
            self.lines.append(pad + "end")
            fill = c.bgcolor or "#FFFFFF"
            dashes = ",stroke-dasharray:6 4" if c.style == "dashed" else ""
            self.styles.append(f"style {cid} fill:{fill},stroke:#9E9E9E{dashes}")


def _link(e: Edge) -> tuple[str, str]:
    """An edge as a Mermaid link and its ``linkStyle``: the SVG's colour, pattern and weight."""
    style = e.attrs.get("style", "solid")
    arrow = "---" if e.attrs.get("arrowhead") == "none" else EDGE.get(style, "-->")
    color = e.attrs.get("color", "#424242")
    extra = "," + DASHES[style] if style in DASHES else ""
    width = "4px" if e.new else "1px" if e.mark == "subnet" else "2px"
    return arrow, f"stroke:{color},stroke-width:{width},color:{color}{extra}"


def legend(pic: Picture) -> str | None:
    """The picture's legend as a Mermaid flowchart of its own: the same rows as the SVG's, one
    node each, in their colour, in one column (left to right, nodes with no edge share one rank,
    a column), under a "Legend" heading; narrow whatever the diagram's size."""
    rows = legend_rows.rows(pic) if pic.legend is not None else []
    if not rows:
        return None
    config = CONFIG.replace(f"wrappingWidth: {SPACING['wrappingWidth']}", f"wrappingWidth: {LEGEND_WRAP}")
    lines = [config.rstrip("\n"), "flowchart LR", '    legend["<b>Legend</b>"]']
    lines += [f'    legend_{i}["{escape(row.sample + " " + row.text, 100)}"]' for i, row in enumerate(rows)]
    lines.append("    style legend fill:none,stroke:none")
    lines += [f"    style legend_{i} fill:#FFFFFF,stroke:{row.color},color:{row.color}" for i, row in enumerate(rows)]
    return "\n".join(lines) + "\n"


def width(pic: Picture) -> float:
    """About how wide Mermaid lays the picture out, in px: left to right, each rank as wide as its
    widest node (labels wrap at ``wrappingWidth``), and between two ranks a rank of edge labels
    (Mermaid's layout gives a labelled edge a node of its own, a rank between its ends)."""
    wrap = SPACING["wrappingWidth"]
    rank = layout.ranks(pic)
    nodes: dict[int, float] = defaultdict(float)
    for n in pic.root.all_nodes():
        lines = [escape(x) for x in n.lines if x not in (None, "")]
        text = max((min(wrap, len(_plain(x)) * CHAR_PX) for x in lines), default=40.0)
        nodes[rank[n.id]] = max(nodes[rank[n.id]], text + 2 * SPACING["padding"])
    labels: dict[int, float] = defaultdict(float)
    for e in pic.edges:
        if e.text and e.src != e.dst:
            a, b = sorted((rank[e.src], rank[e.dst]))
            for gap in range(a, b):
                labels[gap] = max(labels[gap], min(wrap, len(e.text) * CHAR_PX) + SPACING["padding"])
    ranks = max(nodes, default=0) + 1
    return sum(nodes.values()) + sum(labels.values()) + (2 * ranks - 1) * SPACING["rankSpacing"] \
        + 2 * SPACING["diagramPadding"]


def _plain(label: str) -> str:
    return re.sub(r"#\d+;", "x", label)  # an entity code is one character on screen


def readable(pic: Picture) -> tuple[Picture, str | None]:
    """The level of ``pic`` to draw in Mermaid: the first, from ``pic`` to coarser ones, whose
    drawing is expected to show its text at 9 px in an 880 px column, and a note when that is not
    ``pic`` itself (what the coarser level groups), or when no level is."""
    level, tried = pic, []
    while level is not None:
        if width(level) * MARGIN <= BUDGET_PX:
            if level is pic:
                return pic, None
            grouped = " ".join(level.collapsed)
            return level, ("To stay readable in a narrow column, this Mermaid diagram groups more than the image"
                           + (f": {grouped}" if grouped else "."))
        tried.append(level)
        level = level.coarser()
    narrowest = min(tried, key=width)
    return narrowest, (f"This Mermaid diagram is about {round(width(narrowest) * MARGIN, -2):.0f} px wide: in a column "
                       f"{COLUMN_PX} px wide (GitHub's), its text shows smaller than {READABLE_PX} px.")


def mermaid(pic: Picture) -> str:
    """The picture as the text of a Mermaid flowchart (left to right, like the SVG); its legend is
    listed at the end as comments (a page draws it as a block of its own: :func:`legend`)."""
    w = _Writer()
    w.lines.append(CONFIG.rstrip("\n"))
    w.lines.append("flowchart LR")
    w.cluster(pic.root, 1)
    links = []
    for i, e in enumerate(pic.edges):
        arrow, style = _link(e)
        text = f'|"{escape(e.text)}"|' if e.text else ""
        w.lines.append(f"    {e.src} {arrow}{text} {e.dst}")
        links.append(f"linkStyle {i} {style}")
    rows = legend_rows.rows(pic) if pic.legend is not None else []
    key = [f"%% Legend: {row.sample} {row.text}" for row in rows]  # archviz's own words, one line each
    return "\n".join(w.lines + ["    " + s for s in w.styles + links] + key) + "\n"
