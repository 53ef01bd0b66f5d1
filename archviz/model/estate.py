"""Indexes over a snapshot, built once, shared by the connection resolver and the rules."""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Iterable

from archviz.records import KINDS

ACCOUNT_IN_ARN = re.compile(r"^arn:[^:]+:[^:]*:[^:]*:([0-9]{12}):")
ACCOUNT_PRINCIPAL = re.compile(r"^(?:arn:[^:]+:iam::)?([0-9]{12})(?::|$)")


def account_of_arn(arn: str | None) -> str | None:
    match = ACCOUNT_IN_ARN.match(arn or "")
    return match.group(1) if match else None


def account_of_principal(principal: str | None) -> str | None:
    """The account an allowed principal belongs to (``123...``, ``arn:aws:iam::123...:root``,
    ``...:role/x``); None for ``*``, service principals and organization ARNs."""
    match = ACCOUNT_PRINCIPAL.match(principal or "")
    return match.group(1) if match else None


@dataclass
class Estate:
    """Every lookup the connections and the rules make, as a dict built once: nothing later
    scans a whole list of the snapshot per record, so the analysis stays linear in its size.

    Two memberships: ``members`` (the organization's accounts and the crawled ones, what the
    model counts as ours, see :meth:`inside`) and ``org_accounts`` (only the accounts the
    organization lists, see :meth:`organization_of`)."""

    doc: dict
    trusted: frozenset[str] = frozenset()
    members: frozenset[str] = field(init=False)

    def __post_init__(self) -> None:
        d = self.doc
        self.organization: dict = d.get("organization") or {}
        self.org_accounts = frozenset(self.organization.get("account_ids") or [])
        self.members = self.org_accounts | frozenset(d["scope"]["accounts"])
        self.accounts = KINDS["accounts"].index(d)
        self.endpoints = KINDS["endpoints"].index(d)
        self.subnets = KINDS["subnets"].index(d)
        self.public_subnets = frozenset(s["subnet_id"] for s in d["subnets"] if s["public"])
        self.groups = KINDS["security_groups"].index(d)
        self.services_by_id = KINDS["endpoint_services"].index(d)
        self.services_by_name: dict[tuple[str, str], dict] = {}
        for s in d["endpoint_services"]:
            self.services_by_name[(s["service_name"], s["region"])] = s
        self.details: dict[tuple[str, str, str, str], list[dict]] = defaultdict(list)
        for sd in d["service_details"]:
            self.details[(sd["account_id"], sd["region"], sd["service_region"], sd["service_name"])].append(sd)
        self.provider_connections = KINDS["endpoint_connections"].index(d)
        self.load_balancers = KINDS["load_balancers"].index(d)
        self.agreements: dict[str, dict[str, dict]] = defaultdict(dict)  # account -> agreement id -> agreement
        for a in d["marketplace_agreements"]:
            self.agreements[a["account_id"]][a["agreement_id"]] = a

    def inside(self, account_id: str | None) -> bool:
        """In the organization, the crawled set, or the trusted list."""
        return account_id is not None and (account_id in self.members or account_id in self.trusted)

    def organization_of(self, account_id: str | None) -> str | None:
        """The id of the organization the account belongs to: only an account the organization
        lists (a crawled account outside it is ours, :meth:`inside`, but no member); None when the
        organization or its id is not known."""
        return self.organization.get("id") if account_id in self.org_accounts else None

    def detail_for(self, endpoint: dict) -> dict | None:
        """The consumer's view of the service an endpoint uses (matching the endpoint's type)."""
        found = self.details.get((endpoint["account_id"], endpoint["region"], endpoint["service_region"],
                                  endpoint["service_name"] or ""), [])
        for sd in found:
            if endpoint["type"] and sd["service_type"] and endpoint["type"] in sd["service_type"].split(","):
                return sd
        return found[0] if found else None

    def endpoint_zones(self, endpoint: dict) -> tuple[set[str], bool]:
        """The availability zones of an endpoint's subnets, and whether every subnet was seen."""
        zones = {self.subnets[s]["availability_zone"] for s in endpoint["subnet_ids"] if s in self.subnets}
        return zones, all(s in self.subnets for s in endpoint["subnet_ids"])

    def targets(self, service: dict) -> Iterable[dict]:
        for arn in service["load_balancer_arns"]:
            for tg in self.load_balancers.get(arn, {}).get("target_groups", []):
                yield from tg["targets"]


def ref(kind: str, *parts) -> str:
    """A pointer into the snapshot, used as evidence: ``endpoints/vpce-123`` (a missing part,
    such as an endpoint's absent service name, is empty)."""
    return "/".join((kind, *("" if p is None else str(p) for p in parts)))
