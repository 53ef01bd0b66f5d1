"""Packaging: the wheel builds without a warning, ships everything archviz reads at run time, and
works on its own: installed (not editable) into a fresh virtual environment, away from the
repository, it renders the demo snapshot."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from archviz import snapshot

ROOT = Path(__file__).resolve().parent.parent

# Left out of the copy of the source tree the wheel is built from: what is not source.
NOT_SOURCE = {".git", ".venv", "build", "dist", "output", ".pytest_cache"}

# A line of build output that is a warning: setuptools' deprecation banners ("WARNING ...",
# "SetuptoolsDeprecationWarning", "!!"), distutils' "warning: ...", pip's "WARNING: ...".
# "warnings.py" or "warn_" in a file name does not match.
WARNING = re.compile(r"warn(ing)?\b|deprecat|^\s*!!", re.IGNORECASE | re.MULTILINE)


def _environment() -> dict[str, str]:
    """This environment, without what would make a subprocess import archviz from elsewhere.
    PYTHONDONTWRITEBYTECODE is dropped too: with it set, setuptools' build_py and install_lib
    print "warning: byte-compiling is disabled" whatever the project says (the wheel holds no
    bytecode either way)."""
    drop = {"PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "VIRTUAL_ENV", "PYTHONDONTWRITEBYTECODE"}
    return {k: v for k, v in os.environ.items() if k not in drop and not k.startswith("AWS_")}


def _run(args: list, cwd: Path, timeout: int) -> subprocess.CompletedProcess:
    return subprocess.run([str(a) for a in args], cwd=cwd, env=_environment(), stdin=subprocess.DEVNULL,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=timeout)


def _copy_source(dest: Path) -> Path:
    """The working tree as it is (uncommitted files included), without .venv, .git, build output
    or egg-info. Building in a copy writes nothing into the repository (``build --wheel``
    writes build/ and archviz.egg-info/ next to pyproject.toml), cannot pick up a stale
    build/lib left by an earlier build, and cannot race another test run."""
    def ignore(directory: str, names: list[str]) -> set[str]:
        top = Path(directory) == ROOT
        return {n for n in names
                if (top and (n in NOT_SOURCE or n.endswith(".egg-info"))) or n in ("__pycache__", "node_modules")
                or n.endswith(".pyc")}
    shutil.copytree(ROOT, dest, ignore=ignore)
    return dest


def _shipped(src: Path) -> set[str]:
    """Wheel paths of every file of archviz/ and templates/ (which ships as archviz.templates)."""
    files = set()
    for folder, package in (("archviz", "archviz"), ("templates", "archviz/templates")):
        for path in (src / folder).rglob("*"):
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
                files.add(f"{package}/{path.relative_to(src / folder).as_posix()}")
    return files


# Slow: about 20 s on two cores once pip's cache holds the dependencies (longer on the first run),
# plus the demo crawl (the session's demo_crawl fixture, about 12 s) when no other test has run it.
# It builds the wheel in an isolated build environment, creates a virtual environment and installs
# the wheel and its dependencies into it from PyPI. It needs PyPI and Graphviz's dot.
def test_wheel_builds_cleanly_installs_and_renders_the_demo(demo_crawl, tmp_path):
    _, doc, _, _ = demo_crawl

    # 1. Build the wheel, the way a release does.
    src = _copy_source(tmp_path / "src")
    dist = tmp_path / "dist"
    built = _run([sys.executable, "-m", "build", "--wheel", "--outdir", dist], cwd=src, timeout=600)
    assert built.returncode == 0, built.stdout
    warnings = [line for line in built.stdout.splitlines() if WARNING.search(line)]
    assert not warnings, "python -m build printed warnings:\n" + "\n".join(warnings) + "\n\n" + built.stdout
    wheels = list(dist.glob("archviz-*.whl"))
    assert len(wheels) == 1, wheels
    wheel = wheels[0]

    # 2. It ships the code, the schema, the templates and the licence.
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        dist_info = next(n.split("/")[0] for n in names if n.split("/")[0].endswith(".dist-info"))
        assert zf.read(f"{dist_info}/licenses/LICENSE") == (ROOT / "LICENSE").read_bytes()
        metadata = zf.read(f"{dist_info}/METADATA").decode()
        entry_points = zf.read(f"{dist_info}/entry_points.txt").decode()
    # MkDocs finds the plugin by this entry point (`plugins: [archviz: ...]`).
    assert "[mkdocs.plugins]\narchviz = archviz.mkdocs_plugin:ArchvizPlugin" in entry_points
    assert "License-Expression: Apache-2.0" in metadata.splitlines()
    assert "archviz/schema/snapshot-1.schema.json" in names
    assert {"archviz/templates/index.md.j2", "archviz/templates/findings.md.j2", "archviz/templates/figure.md.j2",
            "archviz/mkdocs_plugin.py"} <= names
    missing = _shipped(src) - names
    assert not missing, f"files of the source package left out of the wheel: {sorted(missing)}"

    # 3. Install it, not editable, into a fresh virtual environment.
    env_dir = tmp_path / "venv"
    made = _run([sys.executable, "-m", "venv", env_dir], cwd=tmp_path, timeout=300)
    assert made.returncode == 0, made.stdout
    python, archviz = env_dir / "bin" / "python", env_dir / "bin" / "archviz"
    installed = _run([python, "-m", "pip", "install", "--quiet", wheel], cwd=tmp_path, timeout=1200)
    assert installed.returncode == 0, installed.stdout

    # 4. From outside the repository, that environment imports its own copy of archviz.
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    where = _run([python, "-c", "import archviz; print(archviz.__file__)"], cwd=elsewhere, timeout=60)
    assert where.returncode == 0, where.stdout
    imported = Path(where.stdout.strip()).resolve()
    assert imported.is_relative_to(env_dir.resolve()), f"archviz was imported from {imported}, not from the new environment"

    # 5. Its archviz command renders the demo snapshot.
    snapshot_file = elsewhere / "snapshot.json"
    snapshot_file.write_bytes(snapshot.dumps(doc))
    out = elsewhere / "site"
    rendered = _run([archviz, "render", snapshot_file, "--out", out], cwd=elsewhere, timeout=300)
    assert rendered.returncode == 0, rendered.stdout
    assert (out / "index.md").is_file()
    assert (out / "diagrams" / "overview.svg").is_file()
    assert "<svg" in (out / "diagrams" / "overview.svg").read_text()
