"""Mermaid blocks readable where GitHub shows them: drawn by Mermaid 11 (tests/node) in Chromium in a
column 880 px wide (GitHub's content column; Mermaid scales a drawing down to its column), every
block of every page shows its text at 9 px or more, for the demo and for a 100-account estate.
Measured on the drawing as the browser lays it out: the computed font size of each label times
the scale Mermaid's drawing is shown at."""

from __future__ import annotations

import copy
import re
import sys
from pathlib import Path

import pytest

from archviz.render import render
from archviz.render.mermaid import READABLE_PX
from tests.site_tools import CHROMIUM_ARGS, MERMAID_JS, chromium, mermaid_parse, need

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
from scale import REGIONS, Estate  # noqa: E402

BLOCK = re.compile(r"```mermaid\n(.*?)```", re.S)
DRAW = """async (blocks) => {
  mermaid.initialize({startOnLoad: false, securityLevel: 'strict'});
  const column = document.getElementById('column'), out = [];
  for (const [name, text] of blocks) {
    try {
      const {svg} = await mermaid.render('d' + out.length, text);
      column.innerHTML = svg;
      const el = column.querySelector('svg'), scale = el.getBoundingClientRect().width / el.viewBox.baseVal.width;
      const sizes = [...el.querySelectorAll('.nodeLabel, .edgeLabel, .cluster-label, text')]
        .filter(t => t.textContent.trim()).map(t => parseFloat(getComputedStyle(t).fontSize));
      out.push({name, width: el.viewBox.baseVal.width, shown: Math.min(...sizes) * scale, labels: sizes.length});
    } catch (e) { out.push({name, error: String(e)}); }
  }
  return out;
}"""


def blocks(folder: Path) -> dict[str, str]:
    """Every Mermaid block of every page of a render, named page#n."""
    return {f"{md.relative_to(folder)}#{i}": b for md in sorted(folder.rglob("*.md"))
            for i, b in enumerate(BLOCK.findall(md.read_text("utf-8")))}


@pytest.fixture(scope="module")
def rendered(demo_crawl, tmp_path_factory):
    from archviz import model
    from archviz import snapshot as snap

    demo = tmp_path_factory.mktemp("demo")
    render(copy.deepcopy(demo_crawl[1]), demo, formats=("svg", "mermaid"))
    large = tmp_path_factory.mktemp("large")
    render(snap.validate(model.apply(Estate(1000, 100, REGIONS).build())), large, formats=("mermaid",))
    return {"demo": demo, "100 accounts": large}


def test_every_block_parses_and_declares_no_subgraph_twice_nor_an_empty_one(rendered):
    found = {f"{estate}/{name}": text for estate, folder in rendered.items() for name, text in blocks(folder).items()}
    assert len(found) > 200
    results = mermaid_parse(found)
    assert all(r["ok"] for r in results.values()), {k: r["error"] for k, r in results.items() if not r["ok"]}
    for name, text in found.items():
        subgraphs = re.findall(r"^\s*subgraph (\S+?)\[", text, re.M)
        assert len(subgraphs) == len(set(subgraphs)), name
        lines = text.splitlines()
        assert not [line for i, line in enumerate(lines) if line.strip().startswith("subgraph ")
                    and lines[i + 1].strip() == "end"], name


def test_a_block_drawn_coarser_than_the_image_says_so_under_it(rendered):
    index = (rendered["100 accounts"] / "index.md").read_text()
    assert "this Mermaid diagram groups more than the image: 100 accounts are drawn as one node per " \
           "organizational unit" in index
    assert "groups more than the image" not in (rendered["demo"] / "index.md").read_text()


@pytest.mark.browser
def test_every_block_shows_its_text_at_9_px_in_github_s_880_px_column(rendered, tmp_path):
    from playwright.sync_api import sync_playwright

    need(MERMAID_JS.is_file(), "tests/node/node_modules (npm ci) holds Mermaid's JavaScript")
    page_file = tmp_path / "column.html"  # UTF-8: Mermaid's script holds non-ASCII markers it decodes labels with
    page_file.write_text(f'<!doctype html><html><head><meta charset="utf-8"></head><body style="margin:0">'
                         f'<div id="column" style="width:880px"></div><script src="{MERMAID_JS.as_uri()}"></script>'
                         '</body></html>')
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium(), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1000, "height": 800})
            page.goto(page_file.as_uri())
            # the measure itself: a drawing wider than the column is shown smaller, one within it at 16 px
            wide = "flowchart LR\n" + " --> ".join(f'n{i}["a label of some length {i}"]' for i in range(12)) + "\n"
            probe = page.evaluate(DRAW, [["wide", wide], ["small", 'flowchart LR\n    a["small"] --> b["x"]\n']])
            assert probe[0]["shown"] < READABLE_PX and probe[1]["shown"] == 16, probe
            for estate, folder in rendered.items():
                found = page.evaluate(DRAW, list(blocks(folder).items()))
                assert len(found) > 20 and not [r for r in found if "error" in r], estate
                small = [(r["name"], round(r["width"]), round(r["shown"], 1)) for r in found
                         if r["shown"] < READABLE_PX or r["labels"] == 0]
                assert small == [], (estate, small)
        finally:
            browser.close()
