"""Finding rules: one small function each, its metadata beside it in the decorator (severity,
title, rationale, remediation, the record kind its findings are about, which gives the resource
type security tools see, and the AWS documentation on the remediation).

A rule reads only what the crawl saw. Where the crawl could not see (a failed unit in
``coverage``), ``coverage-gap`` says what could not be assessed instead of guessing.
Adding a rule touches this file only. Each rule makes one pass over the records it reads,
with the estate's indexes for lookups, so the analysis stays linear in the snapshot's size.
A finding about a connection points at the connection's own evidence list (shared, not
copied, as there can be hundreds of thousands): treat both as read-only."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterator

from archviz.model.estate import Estate, account_of_principal, ref
from archviz.model.vocab import NOT_FLOWING, PENDING_ACCEPTANCE, REJECTED, SEVERITIES
from archviz.records import KINDS


@dataclass(frozen=True)
class Rule:
    id: str
    severity: str
    title: str
    rationale: str
    remediation: str
    check: Callable[[Estate, list[dict]], Iterator[dict]]
    resource: str  # the record kind (archviz.records) whose id a finding's resource_id is
    references: tuple[str, ...] = ()  # AWS documentation for the remediation (OCSF remediation.references)

    @property
    def resource_type(self) -> str | None:
        """What security tools call the resource (CloudFormation's type name); None: no AWS type
        (a coverage unit)."""
        return KINDS[self.resource].resource_type

    def described(self) -> dict:
        """The rule as the snapshot's ``analysis["rules"]`` lists it."""
        return {"rule_id": self.id, "severity": self.severity, "title": self.title, "rationale": self.rationale,
                "remediation": self.remediation}


CATALOG: dict[str, Rule] = {}


def rule(id: str, severity: str, title: str, rationale: str, remediation: str, *, resource: str,
         references: tuple[str, ...] = ()):
    """Register a rule. ``resource``: the record kind its findings are about (``endpoints``; a
    coverage gap's is ``coverage``); ``references``: AWS pages on the remediation."""
    assert severity in SEVERITIES, severity
    assert resource in KINDS, resource

    def register(fn):
        CATALOG[id] = Rule(id, severity, title, " ".join(rationale.split()), " ".join(remediation.split()), fn,
                           resource, tuple(references))
        return fn

    return register


# AWS documentation the remediations point to.
_CONFIGURE = "https://docs.aws.amazon.com/vpc/latest/privatelink/configure-endpoint-service.html"
_PERMISSIONS = _CONFIGURE + "#add-remove-permissions"
_ACCEPTANCE = _CONFIGURE + "#accept-reject-connection-requests"
_ACCESS = "https://docs.aws.amazon.com/vpc/latest/privatelink/vpc-endpoints-access.html"


def finding(resource_id: str, account_id: str | None, region: str | None, message: str, evidence: list[str]) -> dict:
    return {"resource_id": resource_id, "account_id": account_id, "region": region,
            "message": message, "evidence": evidence}


def _interface_endpoints(estate: Estate):
    return (e for e in estate.doc["endpoints"] if e["type"] == "Interface")


# --- provider side: the endpoint services this estate publishes ---------------------------

@rule("endpoint-service-open-to-all", "high", "Endpoint service allows every AWS account",
      rationale="""PrivateLink's security rests on granular control of who may reach a service. An
      allowed principal of '*' lets any AWS account discover the service and request a connection,
      so the acceptance step is all that stands between the service and the whole of AWS.""",
      remediation="""Replace '*' with the account, role or organization principals that need the service,
      and keep acceptance required.""",
      resource="endpoint_services", references=(_PERMISSIONS,))
def open_to_all(estate, _):
    for s in estate.doc["endpoint_services"]:
        if any(p["principal"] == "*" for p in s["allowed_principals"]):
            yield finding(s["service_id"], s["account_id"], s["region"],
                          f"{s['name'] or s['service_id']} allows principal '*': any AWS account can discover it "
                          f"and request a connection" + ("" if s["acceptance_required"] else ", and requests are accepted automatically"),
                          [ref("endpoint_services", s["service_id"])])


@rule("endpoint-service-untrusted-principal", "medium", "Endpoint service allows an account outside the organization",
      rationale="""Internal services are meant to connect accounts of one organization without full VPC
      connectivity. An allowed principal outside the organization and outside the trusted list extends
      that private path to a party nobody declared as trusted.""",
      remediation="""Remove the principal, or declare the account as trusted (--trusted-accounts or
      trusted_accounts in the config file) if the relationship is intended.""",
      resource="endpoint_services", references=(_PERMISSIONS,))
def untrusted_principal(estate, _):
    for s in estate.doc["endpoint_services"]:
        for p in s["allowed_principals"]:
            account = account_of_principal(p["principal"])
            if account and not estate.inside(account):
                yield finding(s["service_id"], s["account_id"], s["region"],
                              f"{s['name'] or s['service_id']} allows {p['principal']}, an account outside the "
                              f"organization and the trusted list",
                              [ref("endpoint_services", s["service_id"])])


@rule("endpoint-service-auto-accept", "medium", "Endpoint service accepts connections automatically",
      rationale="""Requiring acceptance is the provider's last look at each consumer before traffic flows.
      Without it every allowed principal is connected the moment it asks, which weakens the granular
      control PrivateLink offers.""",
      remediation="Set AcceptanceRequired to true and accept connection requests deliberately.",
      resource="endpoint_services", references=(_ACCEPTANCE,))
def auto_accept(estate, _):
    for s in estate.doc["endpoint_services"]:
        if s["acceptance_required"] is False:
            yield finding(s["service_id"], s["account_id"], s["region"],
                          f"{s['name'] or s['service_id']} accepts every connection request automatically",
                          [ref("endpoint_services", s["service_id"])])


@rule("endpoint-service-no-healthy-targets", "high", "Endpoint service has no healthy target",
      rationale="""Consumers reach an endpoint service through its load balancer; with no healthy target
      behind it every connection, however private, leads nowhere.""",
      remediation="Restore or register healthy targets, or retire the service and tell its consumers.",
      resource="endpoint_services")
def no_healthy_targets(estate, _):
    for s in estate.doc["endpoint_services"]:
        lbs = [estate.load_balancers.get(arn) for arn in s["load_balancer_arns"]]
        if not lbs or any(lb is None for lb in lbs):
            continue  # a load balancer the crawl did not see: nothing to say about its targets
        targets = list(estate.targets(s))
        if not any(t["health"] == "healthy" for t in targets):
            states = sorted({t["health"] or "unknown" for t in targets}) or ["no targets registered"]
            yield finding(s["service_id"], s["account_id"], s["region"],
                          f"{s['name'] or s['service_id']} has no healthy target behind its load balancer "
                          f"({', '.join(states)})",
                          [ref("endpoint_services", s["service_id"])] + [ref("load_balancers", lb["arn"]) for lb in lbs])


@rule("external-consumer-connected", "medium", "An account outside the organization is connected",
      rationale="""A connection from outside the organization and the trusted list means data leaves the
      organization's boundary through a private path; it should be a decision someone can point to.""",
      remediation="""Confirm the consumer is a known partner and add it to the trusted list, or reject the
      connection and remove the principal.""",
      resource="endpoint_services", references=(_ACCEPTANCE,))
def external_consumer(estate, connections):
    for c in connections:
        if c["service_id"] not in estate.services_by_id or estate.inside(c["consumer_account_id"]):
            continue
        if c["provider_state"] in NOT_FLOWING:
            continue
        s = estate.services_by_id[c["service_id"]]
        yield finding(s["service_id"], s["account_id"], s["region"],
                      f"account {c['consumer_account_id']} (outside the organization) is connected to "
                      f"{s['name'] or s['service_id']} through {c['endpoint_id']} ({c['provider_state']})",
                      c["evidence"])


# --- consumer side: the endpoints -----------------------------------------------------------

@rule("endpoint-in-public-subnet", "medium", "Interface endpoint in a public subnet",
      rationale="""PrivateLink is meant to serve private subnets: traffic stays on the AWS backbone and
      never needs the internet. An endpoint network interface in a subnet that routes to an internet
      gateway sits next to internet-facing resources, against the practice of keeping it private.""",
      remediation="Move the endpoint's network interfaces to private subnets (no route to an internet gateway).",
      resource="endpoints")
def public_subnet(estate, _):
    for e in _interface_endpoints(estate):
        public = [s for s in e["subnet_ids"] if s in estate.public_subnets]
        if public:
            yield finding(e["endpoint_id"], e["account_id"], e["region"],
                          f"{e['name'] or e['endpoint_id']} has a network interface in public subnet(s) "
                          f"{', '.join(public)} (default route to an internet gateway)",
                          [ref("endpoints", e["endpoint_id"])] + [ref("subnets", s) for s in public])


@rule("endpoint-single-az", "low", "Interface endpoint in one availability zone",
      rationale="""PrivateLink rides on AWS's highly available backbone, but an endpoint only answers in the
      zones it has a network interface in; in one zone, that zone's outage cuts the private path.""",
      remediation="Add a subnet in at least one more availability zone to the endpoint.",
      resource="endpoints")
def single_az(estate, _):
    for e in _interface_endpoints(estate):
        zones, complete = estate.endpoint_zones(e)
        if (len(zones) == 1 and complete) or len(e["subnet_ids"]) == 1:
            where = next(iter(zones)) if zones else "one subnet"
            yield finding(e["endpoint_id"], e["account_id"], e["region"],
                          f"{e['name'] or e['endpoint_id']} has network interfaces in {where} only",
                          [ref("endpoints", e["endpoint_id"])])


@rule("endpoint-cross-region", "info", "Endpoint reaches a service in another region",
      rationale="""Since November 2024 an interface endpoint may reach an endpoint service in another region
      of the same partition, when the provider lists the consumer's region among the service's supported
      regions (AWS, "AWS PrivateLink now supports cross-region connectivity", 26 November 2024; AWS
      PrivateLink guide). Such a path is legitimate but should be known: it adds inter-region latency and
      data transfer charges, and depends on the service's region.""",
      remediation="Nothing to fix if intended; otherwise create the endpoint in the service's region.",
      resource="endpoints")
def cross_region(estate, connections):
    for c in connections:
        if c["cross_region"] and "consumer" in c["seen_from"]:
            yield finding(c["endpoint_id"], c["consumer_account_id"], c["consumer_region"],
                          f"{c['endpoint_name'] or c['endpoint_id']} in {c['consumer_region']} reaches a service in "
                          f"{c['provider_region']} (cross-region PrivateLink, allowed by AWS since November 2024 for "
                          f"services that support the consumer's region)",
                          c["evidence"])


@rule("endpoint-connection-pending", "low", "Endpoint connection awaiting acceptance",
      rationale="""A pending connection carries no traffic: the consumer believes it has private access that
      the provider has not granted yet.""",
      remediation="The provider accepts or rejects the request; the consumer removes it if no longer needed.",
      resource="endpoints")
def pending(estate, connections):
    for c in connections:
        if PENDING_ACCEPTANCE in (c["state"], c["provider_state"]):
            yield finding(c["endpoint_id"], c["consumer_account_id"], c["consumer_region"],
                          f"{c['endpoint_name'] or c['endpoint_id']} ({c['consumer_account_id']}) to "
                          f"{c['service_name']} is pending acceptance", c["evidence"])


@rule("endpoint-connection-rejected", "low", "Endpoint connection rejected or failed",
      rationale="""A rejected or failed endpoint is a private path that does not work; it costs money and
      misleads whoever reads the network.""",
      remediation="Delete the endpoint, or fix the cause and request the connection again.",
      resource="endpoints")
def rejected(estate, connections):
    for c in connections:
        bad = {c["state"], c["provider_state"]} & REJECTED
        if bad:
            yield finding(c["endpoint_id"], c["consumer_account_id"], c["consumer_region"],
                          f"{c['endpoint_name'] or c['endpoint_id']} ({c['consumer_account_id']}) to "
                          f"{c['service_name']} is {sorted(bad)[0]}", c["evidence"])


def _full_access(policy) -> bool:
    """Whether a statement allows every principal every action on every resource, unconditionally.
    A policy is whatever JSON the endpoint carried: anything that is not a statement is skipped."""
    statements = policy.get("Statement") if isinstance(policy, dict) else None
    if isinstance(statements, dict):
        statements = [statements]
    for st in statements if isinstance(statements, list) else []:
        if not isinstance(st, dict):
            continue
        principal = st.get("Principal")
        everyone = principal == "*" or (isinstance(principal, dict) and principal.get("AWS") in ("*", ["*"]))
        as_list = lambda v: v if isinstance(v, list) else [v]  # noqa: E731
        if (st.get("Effect") == "Allow" and everyone and "Condition" not in st
                and "*" in as_list(st.get("Action")) and "*" in as_list(st.get("Resource"))):
            return True
    return False


@rule("endpoint-policy-full-access", "low", "Endpoint policy allows everything",
      rationale="""An endpoint policy is the consumer's own fine-grained control over what the private path
      may be used for. The default policy lets any principal perform any action on any resource through
      the endpoint, so the endpoint narrows nothing.""",
      remediation="Attach a policy that allows only the actions and resources the workloads need.",
      resource="endpoints", references=(_ACCESS,))
def policy_full_access(estate, _):
    for e in estate.doc["endpoints"]:
        detail = estate.detail_for(e)
        if e["policy"] is None or not detail or detail["vpc_endpoint_policy_supported"] is False:
            continue
        if _full_access(e["policy"]):
            yield finding(e["endpoint_id"], e["account_id"], e["region"],
                          f"{e['name'] or e['endpoint_id']} has a policy allowing every principal every action "
                          f"on every resource", [ref("endpoints", e["endpoint_id"])])


def _open_ports(group: dict) -> str:
    """The ports a security group opens to the whole internet (``tcp/443-443, all``), or ''."""
    return ", ".join(sorted({"all" if r["protocol"] == "-1" else f"{r['protocol']}/{r['from_port']}-{r['to_port']}"
                             for r in group["ingress"] if {"0.0.0.0/0", "::/0"} & set(r["cidrs"])}))


@rule("endpoint-sg-open-ingress", "medium", "Endpoint security group admits the whole internet",
      rationale="""The endpoint's security group decides who inside the network may use the private path.
      Admitting 0.0.0.0/0 or ::/0 gives up that control: anything that can route to the endpoint may use it.""",
      remediation="Allow only the CIDR ranges or security groups of the workloads that use the endpoint.",
      resource="endpoints")
def sg_open_ingress(estate, _):
    open_ports = {gid: _open_ports(g) for gid, g in estate.groups.items()}  # once per group, not per endpoint
    for e in estate.doc["endpoints"]:
        for gid in e["security_group_ids"]:
            ports = open_ports.get(gid)
            if ports:
                yield finding(e["endpoint_id"], e["account_id"], e["region"],
                              f"{e['name'] or e['endpoint_id']} uses security group {gid} open to the internet ({ports})",
                              [ref("endpoints", e["endpoint_id"]), ref("security_groups", gid)])


@rule("endpoint-az-mismatch", "medium", "Endpoint in a zone the service does not serve",
      rationale="""An endpoint can only reach a service in zones the service runs in; a network interface in
      another zone gives the workloads there no working private path.""",
      remediation="Place the endpoint in the zones the service lists, or ask the provider to serve that zone.",
      resource="endpoints")
def az_mismatch(estate, _):
    for e in _interface_endpoints(estate):
        detail = estate.detail_for(e)
        if not detail or not detail["availability_zones"] or e["service_region"] != e["region"]:
            continue  # zone names are per account and per region: compare only the consumer's own view
        zones, _complete = estate.endpoint_zones(e)
        extra = sorted(zones - set(detail["availability_zones"]))
        if extra:
            yield finding(e["endpoint_id"], e["account_id"], e["region"],
                          f"{e['name'] or e['endpoint_id']} is in {', '.join(extra)}, which {e['service_name']} "
                          f"does not serve (it serves {', '.join(detail['availability_zones'])})",
                          [ref("endpoints", e["endpoint_id"]),
                           ref("service_details", e["account_id"], e["region"], e["service_name"])])


# --- what the crawl could not see ------------------------------------------------------------

@rule("coverage-gap", "info", "Part of the estate could not be assessed",
      rationale="""A finding is never raised from data the crawl could not see. Where a unit failed, this
      says what was not assessed, so a clean report is not mistaken for a clean estate.""",
      remediation="Grant the crawl role the missing permissions (or fix the role's trust policy) and crawl again.",
      resource="coverage")
def coverage_gap(estate, _):
    for c in estate.doc["coverage"]:
        if c["status"] == "error":
            what = ", ".join(c.get("failed_operations") or []) or "the unit"
            yield finding(f"{c['account_id']}/{c['region']}", c["account_id"], c["region"],
                          f"{c.get('kind', 'region')} unit {c['account_id']}/{c['region']} not assessed: "
                          f"{c['error_code']} ({what})",
                          [ref("coverage", c["account_id"], c.get("kind", "region"), c["region"])])
