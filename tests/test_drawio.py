"""``--diagram-format drawio``: each diagram as a diagrams.net file, from the same scene and layout as
the SVG, loaded with diagrams.net's own graph library (mxGraph, from npm) in Chromium."""

from __future__ import annotations

import copy
import json
import xml.etree.ElementTree as ET

import pytest

from archviz.render import kinds, legend, render
from archviz.render.graph import text
from archviz.render.kinds import GROUPS, KINDS
from archviz.render.site import _laid_out
from archviz.render.view import View
from tests.site_tools import CHROMIUM_ARGS, NODE_DIR, chromium, need

MXCLIENT = NODE_DIR / "node_modules" / "mxgraph" / "javascript" / "mxClient.min.js"

# The file decoded into an mxGraph model and drawn; what each cell is, and what the drawing holds.
# diagrams.net keeps a cell with properties (here: a tooltip) as a <UserObject label=...> around its
# mxCell; its editor shows the label attribute, as convertValueToString does below.
LOAD = """(xml) => {
  const graph = new mxGraph(document.getElementById('graph'));
  graph.convertValueToString = function (cell) {
    const v = cell.value;
    return v && v.nodeType === 1 ? v.getAttribute('label') : mxGraph.prototype.convertValueToString.apply(this, arguments);
  };
  const model = mxUtils.parseXml(xml).getElementsByTagName('mxGraphModel')[0];
  graph.getModel().beginUpdate();
  try { new mxCodec(model.ownerDocument).decode(model, graph.getModel()); } finally { graph.getModel().endUpdate(); }
  const cells = Object.values(graph.getModel().cells).filter(c => c.id !== '0' && c.id !== '1').map(c => {
    const g = c.geometry;
    return {id: c.id, vertex: c.vertex, edge: c.edge, parent: c.parent && c.parent.id, label: graph.convertValueToString(c),
            tooltip: c.value && c.value.nodeType === 1 ? c.value.getAttribute('tooltip') : null,
            source: c.source && c.source.id, target: c.target && c.target.id,
            geometry: g && !g.relative ? [g.x, g.y, g.width, g.height] : null};
  });
  const box = document.getElementById('graph');
  return {cells, text: box.textContent, markup: box.querySelectorAll('img, script, iframe, foreignObject').length};
}"""


def _diagrams(doc: dict) -> list[tuple]:
    """(scene, drawio file) of every diagram a full render of ``doc`` draws."""
    view = View(doc)
    view.linked = {k.name for k in KINDS.values() if k.linked}
    out = []
    for kind, ident in kinds.subjects(view, GROUPS):
        pic, (data,) = _laid_out(KINDS[kind].picture(view, ident), ["drawio"])
        out.append((pic, data))
    return out


@pytest.fixture(scope="module")
def diagrams(demo_crawl):
    return _diagrams(copy.deepcopy(demo_crawl[1]))


def test_a_render_writes_each_diagram_as_a_drawio_file_the_pages_link(demo_crawl, tmp_path):
    site = render(copy.deepcopy(demo_crawl[1]), tmp_path, formats=("svg", "drawio"))
    svgs = sorted(f for f in site.files if f.endswith(".svg"))
    assert svgs and sorted(f for f in site.files if f.endswith(".drawio")) == [f[:-4] + ".drawio" for f in svgs]
    index = (tmp_path / "index.md").read_text()
    assert "(diagrams/overview.svg)" in index and "[Edit this diagram](diagrams/overview.drawio)" in index
    account = next((tmp_path / "accounts").glob("*.md")).read_text()
    assert "[Edit this diagram](../diagrams/account-" in account
    only = render(copy.deepcopy(demo_crawl[1]), tmp_path / "only", formats=("drawio",), only=("overview",))
    assert "diagrams/overview.drawio" in only.files and not any(f.endswith(".svg") for f in only.files)


def test_every_node_and_edge_of_the_scene_is_one_cell_with_its_text(diagrams):
    for pic, data in diagrams:
        root = ET.fromstring(data).find("diagram/mxGraphModel/root")
        cells = {c.get("id") or holder.get("id"): (c, holder) for holder in root
                 for c in ([holder] if holder.tag == "mxCell" else holder.findall("mxCell"))}
        nodes = list(pic.root.all_nodes())
        assert all(n.id in cells for n in nodes), pic.name
        edges = [c for c, _ in cells.values() if c.get("edge") == "1"]
        assert [(c.get("source"), c.get("target")) for c in edges] == [(e.src, e.dst) for e in pic.edges], pic.name
        for n in nodes:
            cell, holder = cells[n.id]
            label = cell.get("value") if holder is cell else holder.get("label")
            assert label == "\n".join(text(x) for x in n.lines if x not in (None, "")), pic.name  # the SVG's label
            assert "html=0;" in cell.get("style")  # plain text in diagrams.net, never markup
            if holder is not cell:  # a shortened label keeps the full text in its tooltip
                assert "…" in label and "…" not in holder.get("tooltip"), (pic.name, label)


def test_an_editable_icon_only_where_the_svg_has_one():
    from archviz.render import icons

    assert set(icons.DRAWIO) <= {k for k, v in icons.ICONS.items() if v}
    assert all(shape.startswith("mxgraph.aws4.") and color.startswith("#") for shape, color in icons.DRAWIO.values())


def test_the_same_picture_gives_the_same_bytes(demo_crawl, diagrams):
    again = _diagrams(copy.deepcopy(demo_crawl[1]))
    assert [d for _, d in again] == [d for _, d in diagrams]


@pytest.mark.browser
def test_the_drawio_files_load_in_mxgraph_one_cell_per_node_and_edge_with_hostile_names_inert(diagrams, tmp_path):
    from playwright.sync_api import sync_playwright

    need(MXCLIENT.is_file(), "tests/node/node_modules/mxgraph (npm ci) is needed to load the drawio files")
    page_file = tmp_path / "mxgraph.html"
    page_file.write_text(
        '<!doctype html><html><head><meta charset="utf-8"><script>var mxLoadResources = false, '
        f'mxLoadStylesheets = false, mxBasePath = {json.dumps((MXCLIENT.parent / "src").as_uri())};</script>'
        f'<script src="{MXCLIENT.as_uri()}"></script></head>'
        '<body><div id="graph" style="position:relative;width:6000px;height:6000px"></div></body></html>')
    hostile = ["analytics-vpc<script>alert(2)", "analytics-ddb<img src=x onerror=", 'batch-orders"] --> pwned']
    seen = set()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium(), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            dialogs, requests = [], []
            page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
            page.on("request", lambda r: requests.append(r.url) if not r.url.startswith("file:") else None)
            for pic, data in diagrams:
                page.goto(page_file.as_uri())
                got = page.evaluate(LOAD, data.decode("utf-8"))
                cells = {c["id"]: c for c in got["cells"]}
                nodes = list(pic.root.all_nodes())
                vertices = [c for c in got["cells"] if c["vertex"]]
                clusters = [c for c in vertices if c["id"].startswith("cluster_")]
                others = [c["id"] for c in vertices if c not in clusters and c["id"] not in {n.id for n in nodes}]
                assert len(vertices) == len(nodes) + len(clusters) + len(others), pic.name
                rows = legend.rows(pic) if pic.legend is not None else []
                assert sorted(others) == sorted(["title"] + (["legend"] if rows else []) +
                                                [f"legend-{i}" for i in range(len(rows))]), (pic.name, others)
                assert [cells[f"legend-{i}"]["label"] for i in range(len(rows))] == [f"{r.sample} {r.text}" for r in rows]
                edges = [c for c in got["cells"] if c["edge"]]
                assert sorted((c["source"], c["target"]) for c in edges) == sorted((e.src, e.dst) for e in pic.edges)
                for c in vertices:  # every cell has a size and lies inside the container holding it
                    x, y, w, h = c["geometry"]
                    assert w > 0 and h > 0, (pic.name, c["id"])
                    if c["parent"] != "1":
                        pw_, ph = cells[c["parent"]]["geometry"][2:]
                        assert x >= 0 and y >= 0 and x + w <= pw_ + 0.5 and y + h <= ph + 0.5, (pic.name, c["id"])
                for n in nodes:
                    assert cells[n.id]["label"] and cells[n.id]["label"].split("\n")[0] in got["text"], (pic.name, n.id)
                assert got["markup"] == 0, pic.name
                seen |= {h for h in hostile if h in got["text"]}
            assert dialogs == [] and requests == []
            assert seen == set(hostile)  # the demo's hostile names were drawn, as text
        finally:
            browser.close()
