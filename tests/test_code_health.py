"""Code health the review asked for, kept: small functions in the render layer, and one
definition of the vocabularies the model and the render share."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

RENDER = Path(__file__).resolve().parent.parent / "archviz" / "render"
MAX_FUNCTION_LINES = 50


@pytest.mark.parametrize("path", sorted(RENDER.rglob("*.py")), ids=lambda p: str(p.relative_to(RENDER)))
def test_no_render_function_is_over_50_lines(path):
    tree = ast.parse(path.read_text())
    long = [(node.name, node.end_lineno - node.lineno + 1) for node in ast.walk(tree)
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
            and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES]
    assert not long, long


def test_render_retypes_no_model_vocabulary():
    """States, severities, owners and use-case groups come from archviz.model.vocab."""
    retyped = re.compile(r'"(pendingAcceptance|aws-marketplace|amazon)"|\("critical", "high"|SEVERITIES\.index')
    for path in RENDER.rglob("*.py"):
        assert not retyped.search(path.read_text()), path.name


def test_every_severity_has_a_colour_and_a_mark():
    from archviz.model import vocab
    from archviz.render.view import SEVERITY_COLOR, SEVERITY_MARK

    assert set(SEVERITY_COLOR) == set(SEVERITY_MARK) == set(vocab.SEVERITIES)
