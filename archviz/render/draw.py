"""A scene drawn with mingrammer ``diagrams``: clusters become ``Group``, nodes get their icon
from the one table in :mod:`icons`, every text from AWS goes through :func:`graph.label`."""

from __future__ import annotations

import html

from diagrams import Edge

from archviz.render import icons, legend
from archviz.render.graph import Box, Canvas, Group, label, node_id
from archviz.render.scene import Cluster, Picture

UNTRUSTED_ATTRS = ("tooltip",)  # attributes that may carry text derived from the snapshot


def draw(pic: Picture, hints: list[tuple[str, str]] = ()) -> Canvas:
    """The picture as a described (not yet rendered) Graphviz canvas; ``hints`` are invisible
    edges (from :func:`layout.fold`) that fold long columns into rows."""
    canvas = Canvas(pic.title)
    nodes: dict = {}
    with canvas:
        _cluster(pic.root, nodes)
        if pic.legend is not None:
            _legend(legend.rows(pic))
        for e in pic.edges:
            attrs = dict(e.attrs, label=label(e.text)) if e.text else e.attrs
            nodes[e.src] >> Edge(**attrs) >> nodes[e.dst]
        for src, dst in hints:
            nodes[src] >> Edge(style="invis") >> nodes[dst]
    return canvas


def _cluster(cluster: Cluster, nodes: dict) -> None:
    for n in cluster.nodes:
        attrs = {k: label(v) if k in UNTRUSTED_ATTRS else v for k, v in n.attrs.items()}
        nodes[n.id] = icons.node(n.kind, label(*n.lines), n.id, **attrs)
    for c in cluster.clusters:
        with Group(c.title[0] if c.title else "", c.key, bgcolor=c.bgcolor, style=c.style,
                   subtitle=c.title[1] if len(c.title) > 1 else None):
            _cluster(c, nodes)


def _legend(rows: list[legend.Row]) -> None:
    """One small node holding the whole legend (an HTML-like table: its text is archviz's own)."""
    if not rows:
        return
    cells = "".join(f'<TR><TD ALIGN="LEFT"><FONT COLOR="{r.color}">{html.escape(r.sample)}</FONT></TD>'
                    f'<TD ALIGN="LEFT"><FONT COLOR="{r.color}">{html.escape(r.text)}</FONT></TD></TR>' for r in rows)
    table = ('<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="1" CELLPADDING="1">'
             '<TR><TD ALIGN="LEFT" COLSPAN="2"><B>Legend</B></TD></TR>' + cells + "</TABLE>>")
    Box(table, nodeid=node_id("legend"), shape="box", style="rounded,filled", fillcolor="#FFFFFF", fontsize="11",
        color="#BDBDBD")
