"""``--fail-on``: which changes may page someone. Each alert but ``coverage-worse`` and ``any``
is keyed by the finding rule that judges it: a change fires the alert when the new snapshot's
analysis has that rule's finding about what changed, so "outside the organization", "trusted" and
"open to all" mean exactly what the findings say (the rules are not recomputed here).

- ``new-external-consumer``: a connection through which traffic flows (neither side pending,
  rejected or gone) that the ``external-consumer-connected`` finding names by its endpoint;
- ``new-untrusted-principal``: an allowed principal the ``endpoint-service-untrusted-principal``
  finding of its service names (that rule names the principal it is about in its message);
- ``open-to-all``: the principal ``*`` on a service with an ``endpoint-service-open-to-all`` finding;
- ``new-findings[:SEVERITY]``: a finding opened or newly visible (that severity or worse), except
  ``coverage-gap``, which is ``coverage-worse``'s to page about;
- ``coverage-worse``: a unit whose crawl failed this time;
- ``any``: every change."""

from __future__ import annotations

from typing import Iterable

from archviz.diff.core import Side
from archviz.errors import InputError
from archviz.model import CATALOG
from archviz.model.vocab import NOT_FLOWING, SEVERITIES, severity_rank

ALERTS = ("new-external-consumer", "new-untrusted-principal", "open-to-all", "new-findings", "coverage-worse", "any")

# The alerts a finding rule judges, by rule id.
RULE_OF = {
    "new-external-consumer": "external-consumer-connected",
    "new-untrusted-principal": "endpoint-service-untrusted-principal",
    "open-to-all": "endpoint-service-open-to-all",
}
assert set(RULE_OF.values()) <= set(CATALOG), "every alert's rule is a rule of the catalog"
NOT_NEW = frozenset({"coverage-gap"})  # findings that new-findings does not page about


def _endpoints_named(f: dict) -> set[str]:
    """The endpoint ids a finding's evidence points at (``endpoints/<id>``, ``endpoint_connections/<svc>/<id>``)."""
    return {ref.rsplit("/", 1)[-1] for ref in f["evidence"]
            if ref.split("/", 1)[0] in ("endpoints", "endpoint_connections")}


def external_consumer(c: dict, side: Side) -> bool:
    """Traffic flows through connection ``c`` from an account the findings call outside."""
    if c["state"] in NOT_FLOWING or (c["provider_state"] or c["state"]) in NOT_FLOWING:
        return False
    found = side.findings_of.get((RULE_OF["new-external-consumer"], c["service_id"] or ""), [])
    return any(c["endpoint_id"] in _endpoints_named(f) for f in found)


def connection_alerts(after: dict, new: Side, before: dict | None = None, old: Side | None = None) -> list[str]:
    """A connection that appeared, or whose traffic now flows from outside where it did not."""
    if not external_consumer(after, new):
        return []
    return [] if before is not None and old is not None and external_consumer(before, old) else ["new-external-consumer"]


def _names(f: dict, principal: str) -> bool:
    return f" allows {principal}, " in f["message"]


def principal_alerts(service_id: str, principal: str, side: Side) -> list[str]:
    """A principal allowed on a service (added, or on a service that appeared)."""
    if principal == "*":
        return ["open-to-all"] if side.findings_of.get((RULE_OF["open-to-all"], service_id)) else []
    found = side.findings_of.get((RULE_OF["new-untrusted-principal"], service_id), [])
    return ["new-untrusted-principal"] if any(_names(f, principal) for f in found) else []


def finding_alerts(f: dict, how: str) -> list[str]:
    return ["new-findings"] if how in ("opened", "newly-visible") and f["rule_id"] not in NOT_NEW else []


def parse_fail_on(value: str | None) -> tuple[str, ...]:
    """``new-findings:high,coverage-worse`` -> the kinds, checked; one-line error otherwise."""
    kinds = []
    for item in (v.strip() for v in (value or "").split(",")):
        if not item:
            continue
        name, colon, sev = item.partition(":")
        if name not in ALERTS or (colon and (name != "new-findings" or sev not in SEVERITIES)):
            raise InputError(f"--fail-on: unknown kind {item!r} (kinds: {', '.join(ALERTS[:3])}, "
                             f"new-findings[:{'|'.join(SEVERITIES)}], coverage-worse, any)")
        kinds.append(item)
    if value is not None and not kinds:
        raise InputError("--fail-on: give at least one kind")
    return tuple(dict.fromkeys(kinds))


def triggered(result: dict, kinds: Iterable[str]) -> list[dict]:
    """The changes that fire any of ``kinds`` (``any``: every change)."""
    kinds = set(kinds)
    if "any" in kinds:
        return list(result["changes"])
    wanted = {k for k in kinds if not k.startswith("new-findings")}
    floors = [k.partition(":")[2] or SEVERITIES[-1] for k in kinds if k.startswith("new-findings")]
    floor = max((severity_rank(s) for s in floors), default=None)
    out = []
    for c in result["changes"]:
        if wanted & set(c["alerts"]):
            out.append(c)
        elif floor is not None and "new-findings" in c["alerts"] and severity_rank(c["after"]["severity"]) <= floor:
            out.append(c)
    return out
