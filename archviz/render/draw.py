"""A scene drawn with mingrammer ``diagrams``: clusters become ``Group``, nodes get their icon
from the one table in :mod:`icons`, every text from AWS goes through :func:`graph.label`."""

from __future__ import annotations

import html

from diagrams import Edge

from archviz.model import vocab
from archviz.render import icons
from archviz.render.graph import Box, Canvas, Group, label, node_id
from archviz.render.scene import Cluster, Picture
from archviz.render.view import NEW_MARK, SEVERITY_COLOR, SEVERITY_MARK, USE_CASE_STYLE, USE_CASE_TITLES

UNTRUSTED_ATTRS = ("tooltip",)  # attributes that may carry text derived from the snapshot


def draw(pic: Picture, hints: list[tuple[str, str]] = ()) -> Canvas:
    """The picture as a described (not yet rendered) Graphviz canvas; ``hints`` are invisible
    edges (from :func:`layout.fold`) that fold long columns into rows."""
    canvas = Canvas(pic.title)
    nodes: dict = {}
    with canvas:
        _cluster(pic.root, nodes)
        if pic.legend is not None:
            _legend(pic.legend, pic.new_marked)
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


def _legend(cases: list[str], new_marked: bool = False) -> None:
    """One node holding the whole legend (an HTML-like table: its text is archviz's own)."""
    rows = [f'<TR><TD ALIGN="LEFT"><FONT COLOR="{USE_CASE_STYLE[c][0]}">&#9472;&#9472; {USE_CASE_TITLES[c]}'
            f'{" (dashed)" if USE_CASE_STYLE[c][1] in ("dashed", "dotted") else ""}</FONT></TD></TR>' for c in cases]
    rows.append('<TR><TD ALIGN="LEFT">- - - no traffic: awaiting acceptance, pending, deleting, deleted or expired</TD></TR>')
    rows.append(f'<TR><TD ALIGN="LEFT"><FONT COLOR="{SEVERITY_COLOR["high"]}">&#183;&#183;&#183; rejected or failed</FONT></TD></TR>')
    if new_marked:
        rows.append(f'<TR><TD ALIGN="LEFT"><B>{html.escape(NEW_MARK)}</B></TD></TR>')
    rows += [f'<TR><TD ALIGN="LEFT"><FONT COLOR="{SEVERITY_COLOR[s]}">[{SEVERITY_MARK[s]}] finding: {s}</FONT></TD></TR>'
             for s in vocab.SEVERITIES]
    table = ('<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="2"><TR><TD ALIGN="LEFT"><B>Legend</B></TD></TR>'
             + "".join(rows) + "</TABLE>>")
    Box(table, nodeid=node_id("legend"), shape="box", style="rounded,dashed", fillcolor="#FFFFFF")
