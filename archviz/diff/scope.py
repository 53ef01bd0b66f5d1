"""The differs of what the crawls covered: each unit's coverage, and the accounts that joined or
left the organization; entries of the table in :mod:`archviz.diff.core`."""

from __future__ import annotations

from typing import Iterator

from archviz.diff.core import Overlap, Side, change, differ

@differ(("coverage", "Coverage"))
def coverage(old: Side, new: Side, overlap: Overlap) -> Iterator[dict]:
    before_all = {(c["account_id"], c.get("kind", "region"), c["region"]): c for c in old.doc["coverage"]}
    after_all = {(c["account_id"], c.get("kind", "region"), c["region"]): c for c in new.doc["coverage"]}
    for unit in sorted(set(before_all) | set(after_all)):
        if not overlap.covers(unit):
            continue
        was, now = before_all.get(unit), after_all.get(unit)
        was_s, now_s = (was or {}).get("status", "not crawled"), (now or {}).get("status", "not crawled")
        if was_s == now_s:
            continue
        account, kind, region = unit
        what = f"{kind} unit {account}/{region}" if kind != "region" else f"{new.name(account)} in {region}"
        if now_s == "error":
            yield change("coverage", "worse", "/".join(unit), account, region,
                          f"{what}: {was_s} → error ({now['error_code']}: {now['message']})", was_s, now_s,
                          ["coverage-worse"])
        elif was_s == "error":
            yield change("coverage", "better", "/".join(unit), account, region, f"{what}: error → {now_s}",
                          was_s, now_s)
        else:  # a region enabled or disabled (skipped), or a unit one crawl did not have
            yield change("coverage", "changed", "/".join(unit), account, region, f"{what}: {was_s} → {now_s}",
                          was_s, now_s)


@differ(("account", "Accounts"))
def accounts(old: Side, new: Side, _overlap: Overlap) -> Iterator[dict]:
    """Accounts that joined or left the organization (compared only between snapshots of the
    same organization, as both listed it)."""
    o_org, n_org = old.doc.get("organization"), new.doc.get("organization")
    if not o_org or not n_org or o_org.get("id") != n_org.get("id"):
        return
    was, now = set(o_org["account_ids"]), set(n_org["account_ids"])
    for a in sorted(now - was):
        yield change("account", "joined", a, a, None, f"{new.name(a)} joined the organization")
    for a in sorted(was - now):
        yield change("account", "left", a, a, None, f"{old.name(a)} left the organization")
