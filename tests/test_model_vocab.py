"""The shared vocabulary: one definition, agreeing with the snapshot's schema."""

from __future__ import annotations

import pytest

from archviz import model
from archviz import snapshot as snap
from archviz.model.connections import _from_provider, use_case
from archviz.model.estate import Estate


def schema_enum(kind: str, field: str) -> list:
    return snap.schema()["properties"][kind]["items"]["properties"][field]["enum"]


def test_use_cases_and_severities_are_the_schemas():
    assert list(model.USE_CASES) == schema_enum("connections", "use_case")
    assert list(model.SEVERITIES) == schema_enum("findings", "severity")
    assert model.PROVIDER_IS_OURS < set(model.USE_CASES)


def test_every_state_that_carries_no_traffic_is_not_flowing():
    assert model.NOT_FLOWING == {"pendingAcceptance", "pending", "rejected", "failed", "deleting", "deleted", "expired"}
    assert model.REJECTED < model.NOT_FLOWING and "available" not in model.NOT_FLOWING


def test_severity_order_and_worst():
    assert sorted(["info", "high", "low", "critical", "medium"], key=model.severity_rank) == list(model.SEVERITIES)
    assert model.worst(["low", "info", "medium"]) == "medium" and model.worst([]) is None
    with pytest.raises(KeyError):
        model.severity_rank("urgent")


def test_the_resolver_speaks_the_vocabulary():
    """Every use case the resolver gives is a word of USE_CASES, and a connection only the provider
    saw (the provider is one of ours) is always one of PROVIDER_IS_OURS."""
    me, member, outside = "111111111111", "222222222222", "333333333333"
    estate = Estate(snap.build({"accounts": [me, member], "regions": ["us-east-1"]}, None, [], [], {}))
    consumer_side = {use_case(me, owner, provider, estate) for owner, provider in [
        (model.AMAZON, None), (model.MARKETPLACE, None), (None, None), (me, me), (member, member), (outside, outside)]}
    provider_side = {_from_provider({"service_id": "vpce-svc-1", "endpoint_id": "vpce-1", "endpoint_owner": who,
                                     "endpoint_region": "us-east-1", "state": "available", "account_id": me,
                                     "region": "us-east-1"}, estate)["use_case"] for who in (me, member, outside)}
    assert consumer_side | provider_side == set(model.USE_CASES)
    assert provider_side == model.PROVIDER_IS_OURS
