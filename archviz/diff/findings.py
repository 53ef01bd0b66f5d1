"""The findings differ: a finding is its rule, account, region and resource (not its evidence),
matched between the two analyses; one entry of the table in :mod:`archviz.diff.core`."""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Iterator

from archviz.diff import alerts
from archviz.diff.core import Overlap, Side, Unit, change, differ, presence, region_unit
from archviz.model.vocab import severity_rank

def _finding_unit(f: dict) -> Unit:
    ref = (f["evidence"] or [""])[0].split("/")
    if ref[0] == "coverage" and len(ref) == 4:  # coverage/<account>/<kind>/<region>
        return (ref[1], ref[2], ref[3])
    return region_unit(f["account_id"], f["region"])


def _evidence_units(f: dict, side: Side) -> list[Unit]:
    """The units that reported what a finding's evidence points at (an endpoint service, a
    provider's connection record, an endpoint)."""
    units = []
    for ref in f["evidence"]:
        kind, _, rest = ref.partition("/")
        if kind in ("endpoint_services", "endpoint_connections", "endpoints"):
            ident = rest.split("/")[0] if kind != "endpoints" else rest
            if ident in side.units:
                units.append(side.units[ident])
    return units


def _finding_units(f: dict, side: Side, overlap: Overlap) -> list[Unit]:
    """Where a finding was seen: its own account-region (or coverage unit); for a finding filed
    under an account nobody crawled (an outside consumer's pending request), the provider's
    unit that reported it."""
    own = _finding_unit(f)
    return [own] if overlap.covers(own) else _evidence_units(f, side)


def _subject(f: dict, side: Side) -> tuple:
    """What tells apart the findings of one rule about one resource: the other records its
    evidence names (the consumer's endpoint, the security group), else its message with the
    resource's name taken out (a renamed resource keeps its findings)."""
    ids = sorted({ref.rsplit("/", 1)[-1] for ref in f["evidence"]
                  if ref.split("/", 1)[0] in ("endpoint_connections", "endpoints", "security_groups")}
                 - {f["resource_id"]})
    if ids:
        return tuple(ids)
    name = side.resource_names.get(f["resource_id"])
    return (f["message"].replace(name, "\0") if name else f["message"],)


def _finding_groups(findings: list[dict]) -> dict[tuple, list[dict]]:
    groups = defaultdict(list)
    for f in findings:
        groups[(f["rule_id"], f["account_id"] or "", f["region"] or "", f["resource_id"])].append(f)
    return groups


def _finding_brief(f: dict) -> dict:
    return {k: f[k] for k in ("rule_id", "severity", "title", "resource_id", "message")}


def _unmatched(these: list[dict], this: Side, others: list[dict], other: Side) -> list[dict]:
    """The findings of ``these`` whose subject ``others`` lacks (counted: two alike match two)."""
    left = Counter(_subject(f, other) for f in others)
    out = []
    for f in these:
        subject = _subject(f, this)
        if left[subject]:
            left[subject] -= 1
        else:
            out.append(f)
    return out


@differ(("finding", "Findings"))
def findings(old: Side, new: Side, overlap: Overlap) -> Iterator[dict]:
    """A finding is its rule, account, region and resource (not its evidence, which can lose the
    side of a connection that a failed unit did not see); where one resource has several
    findings of one rule, their :func:`_subject` tells them apart. A lone finding whose message
    changed (a renamed resource) is the same finding."""
    before_all, after_all = _finding_groups(old.findings), _finding_groups(new.findings)
    gone, came = [], []
    for key in set(before_all) | set(after_all):
        was, now = before_all.get(key, []), after_all.get(key, [])
        if len(was) == 1 and len(now) == 1:
            continue
        gone += _unmatched(was, old, now, new)
        came += _unmatched(now, new, was, old)
    for f, is_gone in sorted([(f, True) for f in gone] + [(f, False) for f in came],
                             key=lambda p: (severity_rank(p[0]["severity"]), p[0]["rule_id"], p[0]["account_id"] or "",
                                            p[0]["region"] or "", p[0]["resource_id"], p[0]["message"], p[1])):
        units = _finding_units(f, old if is_gone else new, overlap)
        how = presence(units, old, new, overlap, gone=is_gone)
        if how is None:
            continue
        how = {"removed": "resolved", "added": "opened"}.get(how, how)
        yield change("finding", how, f"{f['rule_id']}/{f['resource_id']}", f["account_id"], f["region"],
                      f"{f['severity']}: {f['title']}: {f['message']}", _finding_brief(f) if is_gone else None,
                      None if is_gone else _finding_brief(f), alerts.finding_alerts(f, how))
