"""``archviz diff`` for people: the text a terminal shows and the markdown page (``diff.md.j2``,
and the *Changes since* section of ``index.md``). The comparison itself is :mod:`archviz.diff`;
every summary it holds names AWS resources and is untrusted text, shown through
:func:`archviz.text.visible` here and escaped for markdown by the templates."""

from __future__ import annotations

from collections import defaultdict

from archviz import diff
from archviz.diff import CHANGES, KINDS
from archviz.errors import some
from archviz.render.pages import render_page
from archviz.text import visible

SYMBOL = {"added": "+", "newly-visible": "+", "opened": "+", "joined": "+", "removed": "-", "resolved": "-",
          "left": "-", "not-visible": "?", "worse": "!", "better": "~"}


def _scope_notes(result: dict) -> list[str]:
    out = result["compared"]["out_of_scope"]
    notes = []
    for key, text in (("accounts_only_in_old", "accounts crawled only in the old snapshot"),
                      ("accounts_only_in_new", "accounts crawled only in the new snapshot"),
                      ("regions_only_in_old", "regions crawled only in the old snapshot"),
                      ("regions_only_in_new", "regions crawled only in the new snapshot")):
        if out[key]:
            notes.append(f"{text} (not compared): {some(out[key], 10)}")
    if out["different_organizations"]:
        notes.append(f"the snapshots are of different organizations ({result['old']['organization_id']} and "
                     f"{result['new']['organization_id']}): accounts joining or leaving are not compared")
    return notes


def headline(result: dict) -> str:
    n = len(result["changes"])
    if not n:
        return "no changes"
    by_kind: dict[str, list[str]] = defaultdict(list)
    for c in result["counts"]:
        by_kind[KINDS[c["kind"]].lower()].append(f"{c['count']} {CHANGES[c['change']]}")
    return f"{n} change{'s' if n != 1 else ''}: " + "; ".join(f"{k} {', '.join(v)}" for k, v in by_kind.items())


def to_text(result: dict) -> str:
    lines = [f"archviz diff: {result['old']['generated_at']} → {result['new']['generated_at']}: {headline(result)}"]
    lines += [f"  not compared: {visible(note)}" for note in _scope_notes(result)]
    for c in result["changes"]:
        lines.append(f"{SYMBOL.get(c['change'], '~')} {c['kind']} {CHANGES[c['change']]}: {visible(c['summary'])}")
    return "\n".join(lines) + "\n"


def context(result: dict) -> dict:
    """What the markdown templates (``diff.md.j2``, and the section of ``index.md``) show."""
    sections = []
    for kind, title in KINDS.items():
        items = [c for c in result["changes"] if c["kind"] == kind]
        if items:
            sections.append({"title": title, "rows": [{"change": CHANGES[c["change"]], "summary": c["summary"],
                                                       "account": c["account_id"], "region": c["region"]}
                                                      for c in items]})
    return {"diff": result, "headline": headline(result), "sections": sections, "scope_notes": _scope_notes(result),
            "new_connections": len(diff.new_connections(result)),
            "counts": [{"kind": KINDS[c["kind"]], "change": CHANGES[c["change"]], "count": c["count"]}
                       for c in result["counts"]]}


def to_markdown(result: dict) -> str:
    return render_page("diff.md.j2", "diff.md", **context(result))


# What ``archviz diff --format`` writes, by format.
FORMATS = {"md": to_markdown, "json": diff.to_json, "text": to_text}
