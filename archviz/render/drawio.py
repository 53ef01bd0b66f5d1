"""A scene as a diagrams.net (draw.io) file, for readers who edit diagrams rather than look at them:
Confluence's draw.io app, the diagrams.net desktop application and its VS Code extension open it.

It draws the same :class:`~archviz.render.scene.Picture` as the SVG and from the same layout: the
positions come from Graphviz's own layout of that picture (``dot -Tjson`` of the canvas the SVG was
rendered from), so nodes, clusters and edges are where the SVG has them. Each cluster becomes a
container holding its nodes, each node one cell (an AWS icon of diagrams.net's ``aws4`` library
where :data:`icons.DRAWIO` names one, else a box), each edge one connector with its colour, line
pattern and weight; the title is a cell, the legend a container with one cell per row.

Untrusted text (Name tags, account names) is a label as plain text: every cell has ``html=0``, so
diagrams.net and mxGraph show it as text, never as markup; it goes through :func:`graph.text`
(invisible characters shown, shortened as in the SVG; the full text is the node's tooltip) and
the XML writer escapes it. Styles hold archviz's own values only. Same picture, same bytes."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

from archviz.render import icons, legend
from archviz.render.graph import TOOLTIP, node_id, render, text
from archviz.render.scene import Cluster, Node, Picture

INK = "#232F3E"


def _style(**values) -> str:
    return "".join(f"{k}={v};" for k, v in values.items() if v is not None)


def _box(ob: dict, height: float) -> tuple[float, float, float, float]:
    """A Graphviz object's box as (x, y, width, height), y downwards, in points."""
    if "bb" in ob:
        x1, y1, x2, y2 = (float(v) for v in ob["bb"].split(","))
        return x1, height - y2, x2 - x1, y2 - y1
    cx, cy = (float(v) for v in ob["pos"].split(","))
    w, h = float(ob["width"]) * 72, float(ob["height"]) * 72
    return cx - w / 2, height - cy - h / 2, w, h


def _waypoints(pos: str, height: float) -> list[tuple[float, float]]:
    """Points along Graphviz's route of an edge (its spline: cubic Bézier segments), for the
    connector to follow it: each segment's middle and the joints between segments."""
    pts = [tuple(float(v) for v in p.split(",")) for p in pos.split() if not p.startswith(("e,", "s,"))]
    out = []
    for k in range(0, len(pts) - 3, 3):
        (x0, y0), (x1, y1), (x2, y2), (x3, y3) = pts[k:k + 4]
        out.append(((x0 + 3 * x1 + 3 * x2 + x3) / 8, (y0 + 3 * y1 + 3 * y2 + y3) / 8))
        if k + 4 < len(pts):
            out.append((x3, y3))
    return [(x, height - y) for x, y in out]


def _num(v: float) -> str:
    return f"{v:.1f}".rstrip("0").rstrip(".")


class _Writer:
    def __init__(self, pic: Picture, laid: dict):
        self.pic = pic
        self.height = float(laid["bb"].split(",")[3])
        self.objects = {ob["name"]: ob for ob in laid.get("objects", [])}
        self.root = ET.Element("root")
        ET.SubElement(self.root, "mxCell", id="0")
        ET.SubElement(self.root, "mxCell", id="1", parent="0")
        self.origin: dict[str, tuple[float, float]] = {"1": (0.0, 0.0)}

    def cell(self, ident: str, parent: str, value: str, style: str, box: tuple, tooltip: str | None = None) -> None:
        """One vertex, its geometry relative to its parent container."""
        ox, oy = self.origin[parent]
        x, y, w, h = box
        if tooltip:
            holder = ET.SubElement(self.root, "UserObject", label=value, tooltip=tooltip, id=ident)
            cell = ET.SubElement(holder, "mxCell", style=style, vertex="1", parent=parent)
        else:
            cell = ET.SubElement(self.root, "mxCell", id=ident, value=value, style=style, vertex="1", parent=parent)
        ET.SubElement(cell, "mxGeometry", {"x": _num(x - ox), "y": _num(y - oy), "width": _num(w),
                                           "height": _num(h), "as": "geometry"})
        self.origin[ident] = (x, y)

    def cluster(self, cluster: Cluster, parent: str) -> None:
        for c in cluster.clusters:
            ident = "cluster_" + node_id(c.key)
            if ident not in self.objects:
                continue  # an empty cluster: Graphviz does not draw it
            style = _style(rounded=1, arcSize=2, html=0, container=1, collapsible=0, fillColor=c.bgcolor or "none",
                           strokeColor="#AEB6BE", dashed=1 if c.style == "dashed" else 0, verticalAlign="top",
                           align="left", spacingLeft=8, fontColor="#2D3436", fontSize=12)
            self.cell(ident, parent, "\n".join(text(t) for t in c.title if t not in (None, "")), style,
                      _box(self.objects[ident], self.height))
            self.cluster(c, ident)
        for n in cluster.nodes:
            self.node(n, parent)

    def node(self, n: Node, parent: str) -> None:
        x, y, w, h = _box(self.objects[n.id], self.height)
        value = "\n".join(text(line) for line in n.lines if line not in (None, ""))
        color = n.attrs.get("fontcolor") or n.attrs.get("color")
        full = "\n".join(text(line, TOOLTIP) for line in n.lines if line not in (None, ""))
        tooltip = full if full != value else None
        shape = icons.DRAWIO.get(n.kind)
        if shape:
            name, fill = shape
            side = w * 0.7  # the icon, in the square the SVG's icon fills, its label below it
            style = _style(shape=name, fillColor=fill, strokeColor="none", html=0, aspect="fixed", outlineConnect=0,
                           verticalLabelPosition="bottom", verticalAlign="top", align="center",
                           fontColor=color or "#2D3436", fontSize=n.attrs.get("fontsize", 13))
            self.cell(n.id, parent, value, style, (x + (w - side) / 2, y + (w - side) / 2, side, side), tooltip=tooltip)
        else:
            style = _style(rounded=1, whiteSpace="wrap", html=0, fillColor=n.attrs.get("fillcolor", "#F4F6F7"),
                           strokeColor=n.attrs.get("color", "#9E9E9E"), strokeWidth=n.attrs.get("penwidth"),
                           fontColor=color or "#2D3436", fontSize=n.attrs.get("fontsize", 13))
            self.cell(n.id, parent, value, style, (x, y, w, h), tooltip=tooltip)

    def legend(self) -> None:
        """A container titled "Legend" and one line per row, in the row's colour (as in the SVG)."""
        rows = legend.rows(self.pic)
        ob = self.objects.get(node_id("legend"))
        if not rows or ob is None:
            return
        x, y, w, h = _box(ob, self.height)
        style = _style(rounded=1, html=0, container=1, collapsible=0, align="left", verticalAlign="top", spacingLeft=6,
                       fillColor="#FFFFFF", strokeColor="#BDBDBD", fontColor="#424242", fontSize=11, fontStyle=1)
        self.cell("legend", "1", "Legend", style, (x, y, w, h))
        step = (h - 18) / len(rows)
        for i, row in enumerate(rows):
            style = _style(html=0, align="left", verticalAlign="middle", spacingLeft=6, strokeColor="none",
                           fillColor="none", fontColor=row.color, fontSize=11)
            self.cell(f"legend-{i}", "legend", f"{row.sample} {row.text}", style, (x, y + 16 + i * step, w, step))

    def edges(self, laid: dict) -> None:
        names = [ob["name"] for ob in laid.get("objects", [])]
        routes = laid.get("edges", [])
        for i, e in enumerate(self.pic.edges):
            attrs = e.attrs
            pattern = attrs.get("style", "solid")
            style = _style(html=0, curved=1, rounded=1, endArrow="none" if attrs.get("arrowhead") == "none" else "classic",
                           strokeColor=attrs.get("color", "#424242"), fontColor=attrs.get("fontcolor", "#2D3436"),
                           strokeWidth=attrs.get("penwidth", 1),
                           dashed=1 if pattern in ("dashed", "dotted") else None,
                           dashPattern={"dashed": "8 4", "dotted": "2 4"}.get(pattern), labelBackgroundColor="#FFFFFF")
            cell = ET.SubElement(self.root, "mxCell", id=f"edge{i}", value=text(e.text or "", 100), style=style,
                                 edge="1", parent="1", source=e.src, target=e.dst)
            geometry = ET.SubElement(cell, "mxGeometry", {"relative": "1", "as": "geometry"})
            route = routes[i] if i < len(routes) else {}
            ends = [names[route[k]] if isinstance(route.get(k), int) and route[k] < len(names) else None
                    for k in ("tail", "head")]
            if e.src != e.dst and ends == [e.src, e.dst]:
                points = ET.SubElement(geometry, "Array", {"as": "points"})
                for x, y in _waypoints(route.get("pos", ""), self.height):
                    ET.SubElement(points, "mxPoint", x=_num(x), y=_num(y))

    def title(self, laid: dict) -> None:
        if "lp" not in laid:
            return
        cx, cy = (float(v) for v in laid["lp"].split(","))
        w, h = float(laid.get("lwidth", 4)) * 72, float(laid.get("lheight", 0.3)) * 72
        style = _style(html=0, align="center", verticalAlign="middle", fontSize=16, fontColor=INK,
                       strokeColor="none", fillColor="none")
        self.cell("title", "1", text(self.pic.title, 100), style, (cx - w / 2, self.height - cy - h / 2, w, h))


def drawio(pic: Picture, canvas) -> bytes:
    """The picture as a ``.drawio`` file, from the layout Graphviz gave ``canvas`` (the one the SVG
    was rendered from)."""
    laid = json.loads(render(canvas, "json"))
    w = _Writer(pic, laid)
    w.title(laid)
    w.cluster(pic.root, "1")
    w.legend()
    w.edges(laid)
    x1, y1, x2, y2 = (float(v) for v in laid["bb"].split(","))
    model = ET.Element("mxGraphModel", {"grid": "0", "gridSize": "10", "guides": "1", "tooltips": "1", "connect": "1",
                                        "arrows": "1", "fold": "1", "page": "0", "pageScale": "1",
                                        "pageWidth": _num(x2 - x1), "pageHeight": _num(y2 - y1), "math": "0",
                                        "shadow": "0"})
    model.append(w.root)
    mxfile = ET.Element("mxfile", host="archviz", type="device")
    diagram = ET.SubElement(mxfile, "diagram", id=pic.name, name=text(pic.title, 100))
    diagram.append(model)
    ET.indent(mxfile)
    return (ET.tostring(mxfile, encoding="unicode", xml_declaration=False) + "\n").encode("utf-8")
