"""The comparison's parts every kind of change shares: the two analysed sides, what both crawls
covered, a change record, and the table of per-kind differs (:func:`differ`) that
:func:`archviz.diff.compare` runs in order.

A crawl that failed for a unit (an account-region, an account's Marketplace lookup) says
nothing about that unit. So a record that is missing from the new snapshot is *removed* only
when a unit that saw it before was crawled successfully this time; otherwise it is *not visible
any more* (:func:`presence`)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Callable, Iterable, Iterator

from archviz import model
from archviz.records import KINDS

Unit = tuple[str, str, str]  # (account id, coverage kind, region)

# How each change is named, in the order the counts list them.
CHANGES = {
    "added": "added", "removed": "removed", "newly-visible": "newly visible", "not-visible": "not visible any more",
    "state": "state changed", "use-case": "use case changed", "changed": "changed",
    "opened": "opened", "resolved": "resolved", "worse": "worse", "better": "better",
    "joined": "joined the organization", "left": "left the organization",
}
APPEARED = ("added", "newly-visible")
ACCOUNTS, ENDPOINTS, SERVICES = KINDS["accounts"], KINDS["endpoints"], KINDS["endpoint_services"]


@dataclass
class Side:
    """One snapshot, analysed, with what its crawl could see."""

    doc: dict
    connections: dict[str, dict]
    findings: list[dict]
    status: dict[Unit, str]
    members: frozenset[str]
    trusted: frozenset[str]
    names: dict[str, str]
    units: dict[str, Unit]  # service and endpoint ids -> the unit that reported them
    resource_names: dict[str, str]  # service and endpoint ids -> their names
    findings_of: dict[tuple[str, str], list[dict]] = field(default_factory=dict)  # (rule, resource) -> findings

    @classmethod
    def of(cls, doc: dict, members: frozenset[str], trusted: frozenset[str], links: dict[str, str],
           analysis: dict | None = None) -> "Side":
        """``members``: the accounts this side counts as the organization's (see
        :func:`archviz.diff.members`); the analysis is run with them, so both sides call the same
        accounts inside (``analysis``: that analysis, made already)."""
        if analysis is None:
            org = dict(doc.get("organization") or {}, account_ids=sorted(members))
            analysis = model.analyze(dict(doc, organization=org), trusted_accounts=trusted, marketplace_links=links)
        # a provider's connection record is filed under its service: the unit that reported the service
        ids = [(r[SERVICES.id], r) for r in doc["endpoint_connections"] + doc[SERVICES.key]] + \
            [(e[ENDPOINTS.id], e) for e in doc[ENDPOINTS.key]]
        findings_of = defaultdict(list)
        for f in analysis["findings"]:
            findings_of[(f["rule_id"], f["resource_id"])].append(f)
        return cls(doc, {c["endpoint_id"]: c for c in analysis["connections"]}, analysis["findings"],
                   {(c["account_id"], c.get("kind", "region"), c["region"]): c["status"] for c in doc["coverage"]},
                   members, trusted, {i: a[ACCOUNTS.name] for i, a in ACCOUNTS.index(doc).items() if a.get(ACCOUNTS.name)},
                   {ident: region_unit(r["account_id"], r["region"]) for ident, r in ids},
                   {ident: r["name"] for ident, r in ids if r.get("name")}, dict(findings_of))

    def ok(self, unit: Unit) -> bool:
        return self.status.get(unit) == "ok"

    def name(self, account_id: str | None) -> str:
        """An account as a reader knows it: its name and id, or that it is outside."""
        if account_id is None:
            return "unknown account"
        if account_id in self.names:
            return f"{self.names[account_id]} ({account_id})"
        return account_id if account_id in self.members else f"{account_id} (outside the organization)"

    def outside(self, account_id: str | None) -> bool:
        return account_id is not None and account_id not in self.members and account_id not in self.trusted


@dataclass
class Overlap:
    """The accounts and regions both snapshots crawled: only there are they compared."""

    accounts: frozenset[str]
    regions: frozenset[str]

    def covers(self, unit: Unit) -> bool:
        account, kind, region = unit
        return account in self.accounts and (kind != "region" or region in self.regions)


def region_unit(account_id: str | None, region: str | None) -> Unit:
    return (account_id or "", "region", region or "")


def change(kind: str, how: str, ident: str, account_id: str | None, region: str | None, summary: str,
           before=None, after=None, alerts: Iterable[str] = ()) -> dict:
    """One change, as ``diff-1.schema.json`` describes it."""
    return {"kind": kind, "change": how, "id": ident, "account_id": account_id, "region": region,
            "before": before, "after": after, "alerts": sorted(set(alerts)), "summary": summary}


def presence(seen_by: list[Unit], old: Side, new: Side, overlap: Overlap, gone: bool) -> str | None:
    """For a record in one snapshot only (the old one if ``gone``), seen by the units ``seen_by``:
    added/removed, or only newly/no longer visible, or None when none of them is in both scopes."""
    units = [u for u in seen_by if overlap.covers(u)]
    if not units:
        return None
    other = new if gone else old
    if any(other.ok(u) for u in units):
        return "removed" if gone else "added"
    return "not-visible" if gone else "newly-visible"


# --- the table of differs --------------------------------------------------------------------

Differ = Callable[[Side, Side, Overlap], Iterator[dict]]
DIFFERS: list[Differ] = []
KINDS: dict[str, str] = {}  # kind of change -> its heading, in the order the pages list them


def differ(*kinds: tuple[str, str]):
    """Register a differ for the kinds of change it yields, as (kind, heading) pairs: one entry
    per kind, in the order the pages list them."""
    def register(fn: Differ) -> Differ:
        for kind, heading in kinds:
            assert kind not in KINDS, kind
            KINDS[kind] = heading
        DIFFERS.append(fn)
        return fn
    return register
