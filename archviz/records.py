"""The snapshot's record kinds, each declared once: the list it is kept in, how one record is
named and ordered, what it is to security tools, and what redaction renames.

snapshot (sort order), merge (crawl units), redact (names), model.Estate (indexes), evidence
(resource types) and the view read this table instead of restating it. Adding a record kind is
one ``Kind`` here, its list in the snapshot schema, and the discovery code that fills it.

Plain data only: nothing here imports the model, the render layer or the diagrams package, as
the snapshot and the model both import it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Kind:
    """One kind of record."""

    key: str  # where its records are kept: the snapshot's list ("endpoints"), or the nested list's key
    sort: tuple[str, ...] = ()  # the stable order of the list (snapshot.normalize), and what names one record
    id: str | None = None  # the field naming one record, for indexes ("endpoint_id"); None: no single one
    name: str | None = None  # the field holding its name for people (its Name tag), if it has one
    pseudonym: str | None = None  # with --redact-names: the kind of pseudonym its name becomes
    unit: str | None = "region"  # the crawl unit that reports it ("region": an account-region,
    # "marketplace": an account's Marketplace lookup); None: not one unit's (merge combines it its own way)
    resource_type: str | None = None  # what security tools call it (CloudFormation's type name); None: "Other"
    id_prefix: str | None = None  # how AWS's ids of it start, telling a resource's kind from its id
    within: str | None = None  # for a list nested in another kind's records: that kind (not a snapshot list)

    def order(self, record: dict) -> tuple[str, ...]:
        """The record's sort key (a missing or null field sorts as "")."""
        return tuple("" if record.get(f) is None else str(record.get(f)) for f in self.sort)

    def index(self, doc: dict) -> dict:
        """The snapshot's records of this kind by id (a repeated id: the last record; a snapshot
        written before the kind existed has none)."""
        return {rec[self.id]: rec for rec in doc.get(self.key) or []}


_REGION = ("account_id", "region")

# Every list of the snapshot the crawl writes, in the snapshot's order.
KINDS: dict[str, Kind] = {k.key: k for k in (
    Kind("accounts", ("account_id",), id="account_id", name="name", pseudonym="account", unit=None),
    Kind("coverage", ("account_id", "kind", "region"), unit=None),
    Kind("vpcs", (*_REGION, "vpc_id"), id="vpc_id", name="name", pseudonym="name"),
    Kind("subnets", (*_REGION, "subnet_id"), id="subnet_id", name="name", pseudonym="name",
         resource_type="AWS::EC2::Subnet", id_prefix="subnet-"),
    Kind("security_groups", (*_REGION, "group_id"), id="group_id", name="group_name", pseudonym="name",
         resource_type="AWS::EC2::SecurityGroup", id_prefix="sg-"),
    Kind("endpoints", (*_REGION, "endpoint_id"), id="endpoint_id", name="name", pseudonym="name",
         resource_type="AWS::EC2::VPCEndpoint", id_prefix="vpce-"),
    Kind("service_details", (*_REGION, "service_region", "service_name", "service_type")),
    Kind("endpoint_services", (*_REGION, "service_id"), id="service_id", name="name", pseudonym="name",
         resource_type="AWS::EC2::VPCEndpointService", id_prefix="vpce-svc-"),
    # A provider's view of one endpoint's connection: one per endpoint, as an endpoint reaches one service.
    Kind("endpoint_connections", (*_REGION, "service_id", "endpoint_id"), id="endpoint_id",
         resource_type="AWS::EC2::VPCEndpoint"),
    Kind("load_balancers", (*_REGION, "arn"), id="arn", name="name", pseudonym="name",
         resource_type="AWS::ElasticLoadBalancingV2::LoadBalancer", id_prefix="arn:aws:elasticloadbalancing:"),
    Kind("marketplace_agreements", ("account_id", "agreement_id"), id="agreement_id", unit="marketplace"),
)}

# Lists nested in other records (not lists of the snapshot): redaction renames their names too.
NESTED: dict[str, Kind] = {k.key: k for k in (
    Kind("organizational_units", id="id", name="name", pseudonym="unit", unit=None, within="organization"),
    Kind("target_groups", id="arn", name="name", pseudonym="name", unit=None, within="load_balancers"),
)}

# What the model derives from the records (archviz.model.apply): not crawled, recomputed.
DERIVED = ("connections", "findings", "analysis")

# The kinds whose ids AWS spells recognisably, longest prefix first ("vpce-svc-" before "vpce-").
_BY_PREFIX = sorted((k for k in KINDS.values() if k.id_prefix), key=lambda k: -len(k.id_prefix or ""))


def kind_of_id(resource_id: str) -> Kind | None:
    """The kind an AWS id or ARN is of, from how it starts (``vpce-svc-…``, ``sg-…``), or None."""
    return next((k for k in _BY_PREFIX if resource_id.startswith(k.id_prefix or "")), None)
