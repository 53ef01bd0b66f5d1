"""The snapshot document: schema, one-line errors, determinism, atomic writes."""

from __future__ import annotations

import os
import random

import pytest

from archviz import snapshot as snap
from archviz.discovery.crawl import CrawlRequest, crawl
from archviz.errors import SnapshotError
from tests.conftest import invoke


def minimal(**records):
    return snap.build({"accounts": ["111122223333"], "regions": ["us-east-1"]}, None,
                      [{"account_id": "111122223333", "name": None, "in_organization": False}], [], records)


def test_minimal_snapshot_is_valid():
    doc = minimal()
    assert snap.validate(doc) is doc
    assert doc["schema_version"] == 1 and doc["tool"]["name"] == "archviz"


@pytest.mark.parametrize("text, message", [
    ("{not json", "not JSON"),
    ("[1, 2]", "not an archviz snapshot (the top level is not a JSON object)"),
    ('{"name": "some other tool"}', "not an archviz snapshot (no schema_version)"),
    ('{"schema_version": 2}', "snapshot schema_version 2 is not supported"),
])
def test_foreign_or_broken_files_get_one_line(tmp_path, text, message):
    path = tmp_path / "s.json"
    path.write_text(text)
    with pytest.raises(SnapshotError) as err:
        snap.load(path)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_schema_violation_names_the_place(tmp_path):
    doc = minimal()
    doc["endpoints"] = [{"endpoint_id": "vpce-1"}]
    path = tmp_path / "snapshot.json"
    path.write_bytes(snap.dumps(doc))
    result = invoke(["validate", str(path)])
    assert result.returncode == 3
    assert result.stderr.strip().startswith(f"archviz: error: {path}: invalid snapshot at endpoints/0:")
    assert len(result.stderr.strip().splitlines()) == 1


def test_validate_accepts_a_folder(tmp_path):
    (tmp_path / "snapshot.json").write_bytes(snap.dumps(minimal()))
    result = invoke(["validate", str(tmp_path)])
    assert result.returncode == 0 and "valid archviz snapshot" in result.stdout
    missing = invoke(["validate", str(tmp_path / "nope.json")])
    assert (missing.returncode, missing.stderr.strip()) == (3, f"archviz: error: {tmp_path / 'nope.json'}: no such file")


def test_same_records_in_any_order_give_the_same_bytes():
    eps = [{"endpoint_id": f"vpce-{i}", "account_id": "111122223333", "region": r} for i in range(20)
           for r in ("us-east-1", "eu-west-1")]
    shuffled = eps[:]
    random.Random(7).shuffle(shuffled)
    a = minimal(endpoints=eps)
    b = minimal(endpoints=shuffled)
    b["generated_at"] = a["generated_at"]
    assert snap.dumps(a) == snap.dumps(b)


def test_two_crawls_of_an_unchanged_estate_differ_only_in_generated_at(org, tmp_path):
    ec2 = org.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    for i in range(3):
        subnet = ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24", AvailabilityZone=f"us-east-1{'abc'[i]}")
        ec2.create_vpc_endpoint(VpcId=vpc, ServiceName="com.amazonaws.us-east-1.execute-api",
                                VpcEndpointType="Interface", SubnetIds=[subnet["Subnet"]["SubnetId"]])
    docs = []
    for concurrency in (1, 8):
        r = crawl(CrawlRequest(regions=["us-east-1", "eu-west-1"], concurrency=concurrency))
        docs.append(snap.build(r.scope, r.organization, r.accounts, r.coverage, r.records))
    assert len(docs[0]["endpoints"]) == 3
    for d in docs:
        d.pop("generated_at")
    assert snap.dumps(docs[0]) == snap.dumps(docs[1])


def test_a_failed_write_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "snapshot.json"
    path.write_text("old")

    def fail(*_):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OSError):
        snap.write_atomic(path, b"new")
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["snapshot.json"]
