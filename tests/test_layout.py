"""The layering the README's Layout section describes, kept: data flows one way (discover ->
snapshot -> model -> render), each kind of thing has one home, and what needs no drawing
library loads none."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "archviz"
# Who may import the render layer: itself, the MkDocs plugin, evidence packs (which hold a render)
# and the command line.
MAY_IMPORT_RENDER = ("render/", "mkdocs_plugin.py", "evidence/", "cli.py")


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text("utf-8"))
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            out.add(node.module)
            out.update(f"{node.module}.{a.name}" for a in node.names)
    return out


def test_nothing_below_render_imports_it():
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).as_posix()
        if rel.startswith(MAY_IMPORT_RENDER):
            continue
        if any(m == "archviz.render" or m.startswith("archviz.render.") for m in _imports(path)):
            offenders.append(rel)
    assert offenders == []


# Run Python as if the diagrams and graphviz packages were not installed.
_WITHOUT_DIAGRAMS = textwrap.dedent("""
    import sys
    class Absent:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in ("diagrams", "graphviz"):
                raise ModuleNotFoundError(f"No module named {name!r} (hidden by the test)", name=name)
            return None
    sys.meta_path.insert(0, Absent())
""")


def _without_diagrams(code: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", _WITHOUT_DIAGRAMS + textwrap.dedent(code), *args],
                          capture_output=True, text=True, cwd=ROOT)


def test_the_diff_package_imports_without_diagrams():
    r = _without_diagrams("""
        import archviz.diff, archviz.render.drift, archviz.render.kinds, archviz.render.backends
        import sys
        assert "diagrams" not in sys.modules and "graphviz" not in sys.modules
        try:
            import diagrams
        except ModuleNotFoundError:
            print("hidden")
    """)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "hidden"  # the guard really hides the package


@pytest.mark.parametrize("fmt", ["json", "text", "md"])
def test_archviz_diff_runs_without_diagrams(tmp_path, fmt):
    from archviz import snapshot
    from tests.test_diff import base  # a small two-account estate

    old = base()
    new = json.loads(json.dumps(old))
    new["endpoint_services"][0]["allowed_principals"].append(
        {"principal": "arn:aws:iam::999999999999:root", "principal_type": "Account"})
    snapshot.write(old, tmp_path / "old.json")
    snapshot.write(snapshot.validate(snapshot.normalize(new)), tmp_path / "new.json")
    r = _without_diagrams("""
        import sys
        from archviz.cli import main
        sys.argv = ["archviz", *sys.argv[1:]]
        main()
    """, "diff", str(tmp_path / "old.json"), str(tmp_path / "new.json"), "--format", fmt,
        "--fail-on", "new-untrusted-principal")
    assert r.returncode == 8, r.stderr
    assert "999999999999" in r.stdout
    if fmt == "json":
        assert json.loads(r.stdout)["changes"][0]["alerts"] == ["new-untrusted-principal"]


def test_render_needs_diagrams_and_says_so_in_one_line(tmp_path):
    """Without the drawing stack only drawing fails, with one line, and nothing is written."""
    from archviz import snapshot
    from tests.test_diff import base

    snapshot.write(base(), tmp_path / "snapshot.json")
    r = _without_diagrams("""
        import sys
        from archviz.cli import main
        sys.argv = ["archviz", *sys.argv[1:]]
        main()
    """, "render", str(tmp_path / "snapshot.json"), "--out", str(tmp_path / "out"))
    assert r.returncode == 1 and "Traceback" not in r.stderr, r.stderr
    assert r.stderr.splitlines() == ["archviz: error: cannot render: the diagrams package is not installed "
                                     "(reinstall archviz: it depends on it)"]
    assert not (tmp_path / "out").exists()


def test_the_diff_schema_lists_the_kinds_changes_and_alerts_the_engine_declares():
    """A drift kind is declared once (@differ in archviz/diff/); the schema's enums must follow it."""
    from archviz import diff

    props = diff.schema()["properties"]
    for where in (props["counts"]["items"]["properties"], props["changes"]["items"]["properties"]):
        assert where["kind"]["enum"] == list(diff.KINDS)
        assert where["change"]["enum"] == list(diff.CHANGES)
    alerts = props["changes"]["items"]["properties"]["alerts"]["items"]["enum"]
    assert alerts == [a for a in diff.ALERTS if a != "any"]


def test_every_kind_of_diagram_and_backend_is_one_entry_that_the_cli_reads():
    from archviz.cli import cli
    from archviz.render import kinds
    from archviz.render.backends import BACKENDS, FORMATS

    assert kinds.GROUPS == ("overview", "use-cases", "services", "accounts")
    assert set(kinds.PAGE_FOLDERS) == {"use-case", "service", "account"}
    assert all(k.template and k.context and k.heading and k.nav_order for k in kinds.KINDS.values()
               if k.name in kinds.PAGE_FOLDERS)
    assert FORMATS == tuple(BACKENDS) and all(b.graphviz != (b.text is not None) for b in BACKENDS.values())
    for command in ("render", "snapshot"):
        options = {p.name: p for p in cli.commands[command].params}
        assert options["only"].default == ",".join(kinds.GROUPS)
        assert options["formats"].metavar == ",".join(FORMATS)
