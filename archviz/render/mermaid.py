"""A scene as a Mermaid flowchart, for viewers that draw Mermaid themselves (GitHub, GitLab,
Material for MkDocs) and for builders without Graphviz.

It draws the same :class:`~archviz.render.scene.Picture` as :mod:`draw`: same nodes, clusters,
counts, finding marks and legend meaning, so the node budget and the aggregation hold as
they do for the SVG. Kinds that the SVG shows by icon get a caption and a shape instead.

Untrusted text (Name tags, account names) is first made visible (:func:`text.visible`) and
shortened like a Graphviz label, then every character outside ``[A-Za-z0-9 .,_-]`` becomes a
Mermaid entity code (``#60;``). Mermaid turns those back into HTML entities after parsing, so
quotes, brackets, ``-->``, ``%%``, backticks, ``<script>`` or line breaks are shown as text and
can neither end a label, change the graph, nor inject markup. Ids are archviz's own
(:func:`graph.node_id`); the only markup in a label is archviz's own ``<br>`` and ``<i>``."""

from __future__ import annotations

import re

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

    def legend(self, rows: list[legend_rows.Row]) -> None:
        """The same rows as the SVG's legend, one node each, in their colour."""
        if not rows:
            return
        self.lines.append('    subgraph legend["Legend"]')
        for i, row in enumerate(rows):
            self.lines.append(f'        legend_{i}["{escape(row.sample + " " + row.text, 100)}"]')
            self.styles.append(f"style legend_{i} fill:#FFFFFF,stroke:{row.color},color:{row.color}")
        self.lines.append("    end")


def _link(e: Edge) -> tuple[str, str]:
    """An edge as a Mermaid link and its ``linkStyle``: the SVG's colour, pattern and weight."""
    style = e.attrs.get("style", "solid")
    arrow = "---" if e.attrs.get("arrowhead") == "none" else EDGE.get(style, "-->")
    color = e.attrs.get("color", "#424242")
    extra = "," + DASHES[style] if style in DASHES else ""
    width = "4px" if e.new else "1px" if e.mark == "subnet" else "2px"
    return arrow, f"stroke:{color},stroke-width:{width},color:{color}{extra}"


def mermaid(pic: Picture) -> str:
    """The picture as the text of a Mermaid flowchart (left to right, like the SVG)."""
    w = _Writer()
    w.lines.append("flowchart LR")
    w.cluster(pic.root, 1)
    if pic.legend is not None:
        w.legend(legend_rows.rows(pic))
    links = []
    for i, e in enumerate(pic.edges):
        arrow, style = _link(e)
        text = f'|"{escape(e.text)}"|' if e.text else ""
        w.lines.append(f"    {e.src} {arrow}{text} {e.dst}")
        links.append(f"linkStyle {i} {style}")
    return "\n".join(w.lines + ["    " + s for s in w.styles + links]) + "\n"
