"""The navigation of a docs-site section (``archviz render --site``).

The pages are listed in reading order: the overview, the use cases, the endpoint services and
the accounts (each by name), then the findings. Two fragments are written beside the pages:

- ``nav.yml``: entries to paste under ``nav:`` in ``mkdocs.yml``, with paths relative to the
  site's ``docs/`` folder (``nav_prefix``, e.g. ``privatelink/``);
- ``.nav.yml``: the same section for the mkdocs-awesome-nav plugin, which reads it from the
  folder itself (paths relative to the folder).

Entries name files only: MkDocs titles each page with its first heading. The one title from
outside archviz (``--site-title``) and every path are written as YAML double-quoted scalars; the
title as :func:`archviz.text.title` makes it, since themes write navigation titles into
their HTML as they are."""

from __future__ import annotations

import re
from pathlib import Path

from archviz.text import title as title_text
from archviz.render.kinds import KINDS, page
from archviz.render.view import View

# What YAML allows unescaped in a double-quoted scalar (its printable set, minus '"', '\' and
# U+0085, which a YAML reader folds like a line break).
_UNSAFE = re.compile(r'[^\t\x20-\x21\x23-\x5b\x5d-\x7e\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]')


def quoted(value: str) -> str:
    """``value`` as a YAML double-quoted scalar that any YAML parser reads back unchanged."""
    def escape(m: re.Match) -> str:
        ch = m.group(0)
        return {'"': '\\"', "\\": "\\\\"}.get(ch) or (f"\\u{ord(ch):04x}" if ord(ch) <= 0xFFFF else f"\\U{ord(ch):08x}")
    return '"' + _UNSAFE.sub(escape, value) + '"'


def sections(view: View, subjects: list[tuple[str, str]]) -> list[tuple[str | None, list[str]]]:
    """(section title or None, page paths), in reading order: the index, one section per kind of
    page (:data:`archviz.render.kinds.KINDS`, in its order, each kind's pages in its ``nav_order``),
    the findings."""
    order = [(None, ["index.md"])]
    for kind in KINDS.values():
        if not kind.heading:
            continue
        idents = sorted((i for k, i in subjects if k == kind.name), key=lambda i: kind.nav_order(view, i))
        if idents:
            order.append((kind.heading, [page(view, kind.name, i) for i in idents]))
    order.append((None, ["findings.md"]))
    return order


def _entries(order, prefix: str, indent: str) -> list[str]:
    lines = []
    for heading, pages in order:
        if heading is None:
            lines += [f"{indent}- {quoted(prefix + p)}" for p in pages]
        else:
            lines.append(f"{indent}- {quoted(heading)}:")
            lines += [f"{indent}    - {quoted(prefix + p)}" for p in pages]
    return lines


def fragments(order: list, title: str, prefix: str) -> dict[str, str]:
    """``nav.yml`` and ``.nav.yml`` for the pages in ``order`` (:func:`sections`), a section
    titled ``title`` at ``prefix`` in docs/."""
    title = title_text(title)
    mkdocs = ["# Paste under `nav:` in mkdocs.yml (paths are relative to the docs folder).",
              f"- {quoted(title)}:", *_entries(order, prefix, "    ")]
    awesome = ["# Read by the mkdocs-awesome-nav plugin: this folder's section.",
               f"title: {quoted(title)}", "nav:", *_entries(order, "", "  ")]
    return {"nav.yml": "\n".join(mkdocs) + "\n", ".nav.yml": "\n".join(awesome) + "\n"}


def _beside_mkdocs_yml(folder: Path) -> bool:
    return (folder.parent / "mkdocs.yml").is_file() or (folder.parent / "mkdocs.yaml").is_file()


def docs_folder(folder: Path) -> Path | None:
    """The docs folder a section folder sits in: the nearest ancestor kept beside a
    ``mkdocs.yml`` (whatever its name), else the nearest one named ``docs`` (MkDocs's default
    docs_dir); None if neither. Links are not resolved: a docs folder may be a symlink."""
    ancestors = folder.absolute().parents
    return (next((p for p in ancestors if _beside_mkdocs_yml(p)), None)
            or next((p for p in ancestors if p.name == "docs"), None))


def is_docs_folder(folder: Path) -> bool:
    """``folder`` is a docs folder itself, by the same signs :func:`docs_folder` looks for."""
    folder = folder.absolute()
    return _beside_mkdocs_yml(folder) or folder.name == "docs"


def prefix_for(folder: Path) -> str:
    """Where the section's pages are, relative to the docs folder: ``privatelink/``."""
    folder = folder.absolute()
    docs = docs_folder(folder)
    return (folder.relative_to(docs).as_posix() if docs else folder.name) + "/"
