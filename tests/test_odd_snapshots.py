"""Schema-valid but odd snapshots: whatever the schema lets through, analyze and render finish
(or refuse with an ArchvizError), never crash. A deterministic sample of one-field mutations of
the demo snapshot, each value of every shape; the diagrams are described but not drawn, so the
sample stays fast (drawing is covered by the render tests)."""

from __future__ import annotations

import copy
import random

import pytest

from archviz import model
from archviz import snapshot as snap
from archviz.errors import ArchvizError
from archviz.render import render

ODD_VALUES = [5, "bogus", None, [], {}, True, -1, "", "x/../y", [5], [None], {"a": 5}, "\u202e", 1.5]
SAMPLE = 60


def _paths(doc) -> dict[tuple, tuple]:
    """One concrete path per generalized path (list positions as '*')."""
    found: dict[tuple, tuple] = {}
    stack = [(doc, ())]
    while stack:
        value, path = stack.pop()
        found.setdefault(tuple("*" if isinstance(p, int) else p for p in path), path)
        children = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else []
        stack.extend((v, path + (k,)) for k, v in children)
    return found


def _mutations(doc):
    paths = sorted((p for g, p in _paths(doc).items() if p and p[0] not in ("schema_version", "generated_at")), key=str)
    cases = [(p, v) for p in paths for v in ODD_VALUES]
    random.Random(20261127).shuffle(cases)
    return cases


@pytest.fixture(scope="module")
def demo_doc(demo_crawl):
    return copy.deepcopy(demo_crawl[1])


def test_odd_but_valid_snapshots_never_crash(demo_doc, tmp_path, monkeypatch):
    monkeypatch.setattr("archviz.render.site.render_picture", lambda canvas, fmt: b"<svg/>")
    tried = 0
    for path, value in _mutations(demo_doc):
        doc = copy.deepcopy(demo_doc)
        target = doc
        for part in path[:-1]:
            target = target[part]
        target[path[-1]] = copy.deepcopy(value)
        try:
            snap.validate(doc)
        except ArchvizError:
            continue
        tried += 1
        try:
            render(copy.deepcopy(doc), tmp_path / f"as-is-{tried}")  # the snapshot's own connections
            snap.dumps(model.apply(doc))
            render(doc, tmp_path / f"analyzed-{tried}")
        except ArchvizError:
            pass  # refused with one line: fine
        if tried == SAMPLE:
            break
    assert tried == SAMPLE
