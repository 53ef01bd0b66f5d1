"""Exit codes have one home, archviz/errors.py, and the README's table says what each one means."""

from __future__ import annotations

import re
from pathlib import Path

import click

from archviz import errors

ROOT = Path(__file__).resolve().parent.parent


def _readme_codes() -> dict[int, str]:
    text = (ROOT / "README.md").read_text("utf-8")
    table = text.split("\n## Exit codes\n", 1)[1].split("\n## ", 1)[0]
    return {int(m.group(1)): m.group(2) for m in re.finditer(r"^\| (\d+) \| (.+) \|$", table, re.M)}


def test_the_readme_table_lists_exactly_the_codes_errors_defines():
    assert sorted(_readme_codes()) == sorted(errors.exit_codes())


def test_every_code_is_its_own_error_class_or_a_named_constant():
    codes = errors.exit_codes()
    assert codes[errors.SUCCESS] == "success" and codes[errors.INTERRUPTED] == "interrupted"
    assert codes[errors.VerificationError.exit_code].startswith("archviz verify")
    assert codes[errors.DriftFound.exit_code].startswith("archviz diff --fail-on")
    # click's usage errors share bad input's code, so "bad arguments" is one line of the table
    assert click.UsageError.exit_code == errors.InputError.exit_code == 2


def test_no_module_defines_an_exit_code_but_errors():
    """An ``exit_code = N``, ``ctx.exit(N)`` or ``sys.exit(N)`` with a literal elsewhere would be a
    code the table and errors.exit_codes() do not know."""
    literal = re.compile(r"exit_code\s*=\s*\d|\.exit\(\s*\d")
    offenders = [str(p.relative_to(ROOT)) for p in sorted((ROOT / "archviz").rglob("*.py"))
                 if p.name != "errors.py" and literal.search(p.read_text("utf-8"))]
    assert offenders == []


def test_the_defined_classes_are_the_ones_the_layers_raise():
    from archviz import diff
    from archviz.evidence import verify

    assert diff.DriftFound is errors.DriftFound
    assert verify.VerificationError is errors.VerificationError
