"""The demo's diagrams as Chromium lays out their text: no text box outside the image, none over
another. Measured on the SVG's own ``<text>`` elements (``getBBox`` through their transform), not
estimated: Graphviz sizes labels with its own font metrics, the browser draws them with its fonts."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from archviz.render import render
from tests.site_tools import CHROMIUM_ARGS, chromium

# Each text element's box in the SVG's user units; the image's size; what lies outside it and which
# boxes overlap. Consecutive lines of one label overlap by about a pixel (Graphviz spaces lines a
# little tighter than the font's ascent and descent): an overlap counts from 2 px each way.
TEXT_BOXES = """() => {
  const svg = document.documentElement;
  const box = el => { const b = el.getBBox(), m = el.getCTM(), p = svg.createSVGPoint(), q = svg.createSVGPoint();
    p.x = b.x; p.y = b.y; q.x = b.x + b.width; q.y = b.y + b.height;
    const a = p.matrixTransform(m), c = q.matrixTransform(m);
    return {text: el.textContent, x1: a.x, y1: a.y, x2: c.x, y2: c.y}; };
  const texts = [...document.querySelectorAll('text')].filter(t => t.textContent.trim()).map(box);
  const w = svg.width.baseVal.value, h = svg.height.baseVal.value;
  const outside = texts.filter(b => b.x1 < -0.5 || b.y1 < -0.5 || b.x2 > w + 0.5 || b.y2 > h + 0.5).map(b => b.text);
  const over = [];
  texts.forEach((a, i) => texts.slice(i + 1).forEach(b => {
    if (Math.min(a.x2, b.x2) - Math.max(a.x1, b.x1) > 2 && Math.min(a.y2, b.y2) - Math.max(a.y1, b.y1) > 2)
      over.push([a.text, b.text]);
  }));
  return {count: texts.length, outside, over};
}"""


def _boxes(svgs: list[Path]) -> dict[str, dict]:
    """Each SVG's text boxes as Chromium lays them out (:data:`TEXT_BOXES`), after checking the
    measure on a probe."""
    from playwright.sync_api import sync_playwright

    out = {}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium(), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            probe = svgs[0].parent.parent / "probe.svg"  # the measure itself: it sees an overlap and a text past the edge
            probe.write_text('<svg xmlns="http://www.w3.org/2000/svg" width="200pt" height="100pt" viewBox="0 0 200 100">'
                             '<text x="10" y="30" font-size="14">first label</text>'
                             '<text x="20" y="35" font-size="14">second label</text>'
                             '<text x="150" y="80" font-size="14">past the edge</text>'
                             '<text x="10" y="90" font-size="14">alone</text></svg>')
            page.goto(probe.as_uri())
            found = page.evaluate(TEXT_BOXES)
            assert found["outside"] == ["past the edge"] and found["over"] == [["first label", "second label"]], found
            for svg in svgs:
                page.goto(svg.as_uri())
                out[svg.name] = page.evaluate(TEXT_BOXES)
        finally:
            browser.close()
    return out


@pytest.mark.browser
def test_no_text_of_the_demo_s_diagrams_lies_outside_its_image_or_over_another(demo_crawl, tmp_path):
    render(copy.deepcopy(demo_crawl[1]), tmp_path)
    svgs = sorted((tmp_path / "diagrams").glob("*.svg"))
    assert len(svgs) > 10
    for name, found in _boxes(svgs).items():
        assert found["count"] > 3, name
        assert found["outside"] == [] and found["over"] == [], (name, found["outside"], found["over"][:5])


@pytest.mark.browser
def test_at_scale_no_text_lies_outside_its_image_and_the_272_endpoint_account_has_none_over_another(tmp_path):
    """The 100-account estate of the scale tests and its 272-endpoint account: labels under icons are
    folded to the icon's width (ARNs, names), so none sticks out of the picture."""
    from tests.test_render_scale import estate

    render(estate(1, 272, regions=2), tmp_path / "one", only=("accounts",))
    render(estate(100, 1000), tmp_path / "many", only=("overview", "accounts"))
    one = _boxes(sorted((tmp_path / "one" / "diagrams").glob("*.svg")))
    assert len(one) == 1 and all(f["outside"] == [] and f["over"] == [] and f["count"] > 100 for f in one.values()), one
    many = _boxes(sorted((tmp_path / "many" / "diagrams").glob("*.svg")))
    assert len(many) > 100
    assert {name: f["outside"] for name, f in many.items() if f["outside"]} == {}
