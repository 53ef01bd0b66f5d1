"""What changed between two snapshots (``archviz diff``): connections, endpoint services, their principals and
settings, load balancer targets, findings, coverage and accounts, each keyed by a stable id
(never by a list position), so a reordered but identical snapshot has no changes.

Both snapshots are analysed here, with the current rules and one set of analysis settings, so a
finding that appears is a change in the estate, not in the rules or in the settings.

A crawl that failed for a unit (an account-region, an account's Marketplace lookup) says
nothing about that unit. So a record that is missing from the new snapshot is *removed* only
when a unit that saw it before was crawled successfully this time; otherwise it is *not visible
any more*. The other way round, a record found in a unit that had failed before is *newly
visible*, not *added*. Snapshots of different scopes are compared where they overlap (the
accounts and the regions both crawled), and the result says what was left out.

The package: :mod:`.core` (the sides, a change, the table of differs), one module per family of
differs (:mod:`.estate`, :mod:`.findings`, :mod:`.scope`), and :mod:`.alerts` (``--fail-on``).
It needs neither Graphviz nor the diagrams package; the text and markdown pages are the render
layer's (:mod:`archviz.render.drift`), the JSON document is this module's (:func:`to_json`)."""

from __future__ import annotations

import json
from collections import Counter
from functools import lru_cache
from importlib import resources
from typing import Iterable

from archviz import snapshot
from archviz.diff import estate as _estate, findings as _findings, scope as _scope  # noqa: F401 (the differs, in order)
from archviz.diff.alerts import ALERTS, parse_fail_on, triggered
from archviz.diff.core import APPEARED, CHANGES, DIFFERS, KINDS, Overlap, Side
from archviz.errors import DriftFound, InputError  # noqa: F401 (what parse_fail_on raises)

__all__ = ["compare", "to_json", "schema", "backwards", "new_connections", "parse_fail_on", "triggered",
           "DriftFound", "KINDS", "CHANGES", "ALERTS", "DIFF_VERSION"]

DIFF_VERSION = 1


def _about(doc: dict) -> dict:
    return {"generated_at": doc["generated_at"], "schema_version": doc["schema_version"],
            "tool_version": doc["tool"]["version"], "sha256": snapshot.sha256(doc),
            "accounts": sorted(doc["scope"]["accounts"]), "regions": sorted(doc["scope"]["regions"]),
            "organization_id": (doc.get("organization") or {}).get("id")}


def _settings(new: dict, trusted_accounts, marketplace_links) -> tuple[frozenset[str], dict[str, str]]:
    """The settings both snapshots are analysed with: those given (None: not given), else those
    the new snapshot was analysed with (so that comparing two analysed snapshots needs no flags)."""
    stored = new.get("analysis") or {}
    if trusted_accounts is None and marketplace_links is None:
        return frozenset(stored.get("trusted_accounts") or []), dict(stored.get("marketplace_links") or {})
    return frozenset(trusted_accounts or ()), dict(marketplace_links or {})


def members(doc: dict, other: dict) -> frozenset[str]:
    """The accounts a snapshot counts as inside: its organization's and its crawled ones. One that
    does not list its organization (a crawl of --accounts, or the listing failed) also counts the
    other snapshot's, so that crawling fewer accounts does not make one an outsider; one that lists
    it does not, so that an account that left the organization becomes one."""
    own = _listed(doc) | frozenset(doc["scope"]["accounts"])
    return own if _listed(doc) else own | _listed(other) | frozenset(other["scope"]["accounts"])


def _listed(doc: dict) -> frozenset[str]:
    return frozenset((doc.get("organization") or {}).get("account_ids") or [])


def _reusable(doc: dict, members: frozenset[str], trusted: frozenset[str], links: dict[str, str]) -> dict | None:
    """A snapshot's own connections and findings, when they are exactly what :meth:`Side.of` would
    compute: analysed with these settings, and counting the same accounts inside."""
    stored = doc.get("analysis")
    if "connections" not in doc or not isinstance(stored, dict) or not doc.get("organization"):
        return None
    own = _listed(doc) | frozenset(doc["scope"]["accounts"])  # what model.Estate counts as members
    if (own, frozenset(stored.get("trusted_accounts") or ()), dict(stored.get("marketplace_links") or {})) != \
            (members, trusted, links):
        return None
    return {"connections": doc["connections"], "findings": doc["findings"]}


def compare(old_doc: dict, new_doc: dict, trusted_accounts: Iterable[str] | None = None,
            marketplace_links: dict[str, str] | None = None, fresh: bool = False) -> dict:
    """The changes from ``old_doc`` to ``new_doc``, as the document ``diff-1.schema.json`` describes.
    ``fresh``: both were analysed by this process with the current rules (a redacted copy, say),
    so their own analysis is used where it is the one the comparison would make; otherwise both
    are analysed here, whatever they hold."""
    trusted, links = _settings(new_doc, trusted_accounts, marketplace_links)
    sides = []
    for doc, other in ((old_doc, new_doc), (new_doc, old_doc)):
        inside = members(doc, other)
        sides.append(Side.of(doc, inside, trusted, links, _reusable(doc, inside, trusted, links) if fresh else None))
    old, new = sides
    o_scope, n_scope = old_doc["scope"], new_doc["scope"]
    overlap = Overlap(frozenset(o_scope["accounts"]) & frozenset(n_scope["accounts"]),
                      frozenset(o_scope["regions"]) & frozenset(n_scope["regions"]))
    changes = [c for diff_kind in DIFFERS for c in diff_kind(old, new, overlap)]
    order = list(KINDS)
    changes.sort(key=lambda c: order.index(c["kind"]))  # stable: each kind keeps its own order
    counts = Counter((c["kind"], c["change"]) for c in changes)
    o_org, n_org = (old_doc.get("organization") or {}).get("id"), (new_doc.get("organization") or {}).get("id")
    return {
        "diff_version": DIFF_VERSION,
        "old": _about(old_doc),
        "new": _about(new_doc),
        "compared": {
            "accounts": sorted(overlap.accounts), "regions": sorted(overlap.regions),
            "trusted_accounts": sorted(trusted),
            "out_of_scope": {
                "accounts_only_in_old": sorted(set(o_scope["accounts"]) - overlap.accounts),
                "accounts_only_in_new": sorted(set(n_scope["accounts"]) - overlap.accounts),
                "regions_only_in_old": sorted(set(o_scope["regions"]) - overlap.regions),
                "regions_only_in_new": sorted(set(n_scope["regions"]) - overlap.regions),
                "different_organizations": bool(o_org and n_org and o_org != n_org),
            },
        },
        "counts": [{"kind": k, "change": ch, "count": counts[(k, ch)]}
                   for k in KINDS for ch in CHANGES if counts[(k, ch)]],
        "changes": changes,
    }


@lru_cache(maxsize=None)
def schema() -> dict:
    return json.loads(resources.files("archviz").joinpath("schema", f"diff-{DIFF_VERSION}.schema.json").read_text("utf-8"))


def to_json(result: dict) -> str:
    return json.dumps(result, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def backwards(result: dict) -> str | None:
    """A warning when OLD was made after NEW (the arguments swapped?), else None."""
    if result["old"]["generated_at"] > result["new"]["generated_at"]:
        return (f"the old snapshot ({result['old']['generated_at']}) was made after the new one "
                f"({result['new']['generated_at']}): the changes read backwards")
    return None


def new_connections(result: dict) -> frozenset[str]:
    """Endpoint ids of connections that appeared (added, or newly visible): marked on the overview."""
    return frozenset(c["id"] for c in result["changes"] if c["kind"] == "connection" and c["change"] in APPEARED)
