"""Redaction: no account id, address, organization id or endpoint DNS name of the original is left
in a redacted snapshot (nor, with names, a name), and the redacted snapshot is still a snapshot of
the same estate: it validates, and its analysis is the original's renamed."""

from __future__ import annotations

import copy
import ipaddress
import json
import re
from collections import Counter

import pytest

from archviz import model
from archviz import snapshot as snap
from archviz.errors import InputError
from archviz.redact import KEY_BYTES_MIN, Redactor, load_key, redact

KEY = b"archviz-test-redaction-key-1"
OTHER_KEY = b"archviz-test-redaction-key-2"
ACCOUNT = re.compile(r"(?<![0-9])[0-9]{12}(?![0-9])")
IPV4 = re.compile(r"(?<![0-9.])(?:[0-9]{1,3}\.){3}[0-9]{1,3}(?:/[0-9]{1,2})?(?![0-9]|\.[0-9])")
ARN = re.compile(r"arn:aws[a-z-]*:[^\"\s]*")
OPEN = {"0.0.0.0/0", "::/0"}


def text(doc) -> str:
    return snap.dumps(doc).decode()


def strings(x) -> set[str]:
    """Every string value and dict key of a JSON value."""
    found: set[str] = set()
    stack = [x]
    while stack:
        v = stack.pop()
        if isinstance(v, str):
            found.add(v)
        elif isinstance(v, dict):
            found.update(v)
            stack.extend(v.values())
        elif isinstance(v, list):
            stack.extend(v)
    return found


def as_multiset(items: list[dict]) -> Counter:
    return Counter(json.dumps(i, sort_keys=True) for i in items)


def per_use_case(doc: dict) -> Counter:
    return Counter(c["use_case"] for c in doc["connections"])


def per_rule(doc: dict) -> Counter:
    return Counter(f["rule_id"] for f in doc["findings"])


@pytest.fixture(scope="module")
def original(demo_crawl) -> dict:
    _manifest, doc, _result, _faults = demo_crawl
    return model.apply(copy.deepcopy(doc))


@pytest.fixture(scope="module")
def redactor(original) -> Redactor:
    return Redactor.build([original], KEY)


@pytest.fixture(scope="module")
def redacted(original, redactor) -> dict:
    return redactor.snapshot(original)


@pytest.fixture(scope="module")
def named(original) -> dict:
    return redact(original, KEY, names=True)


# --- nothing of the original's ids is left ---------------------------------------------------------

def test_no_original_account_id_survives_and_every_12_digit_run_is_a_pseudonym(original, redactor, redacted):
    before = set(ACCOUNT.findall(text(original)))
    after = set(ACCOUNT.findall(text(redacted)))
    assert len(before) >= 5 and after
    assert not before & after
    pseudonyms = {redactor.text(a) for a in before}
    assert len(pseudonyms) == len(before)  # two accounts never share a pseudonym
    assert after <= pseudonyms


def test_no_original_address_or_cidr_survives(original, redacted):
    before = set(IPV4.findall(text(original))) - OPEN
    after = set(IPV4.findall(text(redacted))) - OPEN
    assert len(before) >= 5
    assert not before & after
    for a in after:
        ipaddress.ip_network(a) if "/" in a else ipaddress.ip_address(a)  # still valid notation
    assert {c for c in OPEN if c in text(original)} == {c for c in OPEN if c in text(redacted)}


def test_addresses_stay_in_their_subnets_and_cidrs_keep_their_overlaps(original, redactor):
    cidrs = sorted({r["cidr_block"] for k in ("vpcs", "subnets") for r in original[k] if r.get("cidr_block")})
    targets = sorted({t["id"] for lb in original["load_balancers"] for tg in lb["target_groups"]
                      for t in tg["targets"] if IPV4.fullmatch(t["id"])})
    inside = [(ip, c) for ip in targets for c in cidrs if ipaddress.ip_address(ip) in ipaddress.ip_network(c)]
    assert inside, "the demo has targets inside its VPCs"
    for ip, cidr in inside:
        assert ipaddress.ip_address(redactor.text(ip)) in ipaddress.ip_network(redactor.text(cidr))
    for a in cidrs:
        for b in cidrs:
            na, nb = ipaddress.ip_network(a), ipaddress.ip_network(b)
            ra, rb = ipaddress.ip_network(redactor.text(a)), ipaddress.ip_network(redactor.text(b))
            assert (na.overlaps(nb), na.prefixlen) == (ra.overlaps(rb), ra.prefixlen)


def test_no_arn_with_an_original_account_survives(original, redacted):
    accounts = set(ACCOUNT.findall(text(original)))
    arns = {a for a in ARN.findall(text(original)) if set(ACCOUNT.findall(a)) & accounts}
    assert len(arns) >= 5
    left = text(redacted)
    assert not [a for a in arns if a in left]


def test_endpoint_dns_names_lose_their_first_label_only(original, redactor, redacted):
    by_id = {e["endpoint_id"]: e for e in redacted["endpoints"]}
    names = [(e, n) for e in original["endpoints"] for n in e.get("dns_names") or [] if n.startswith("vpce-")]
    assert names
    left = text(redacted)
    for e, name in names:
        assert name not in left
        first, rest = name.split(".", 1)
        assert first not in left
        mine = [n for n in by_id[redactor.text(e["endpoint_id"])]["dns_names"] if n.endswith("." + rest)]
        assert mine and all(re.fullmatch(r"h-[0-9a-f]{10}", n.split(".", 1)[0]) for n in mine)


def test_aws_owned_identifiers_stay_readable(original, redacted):
    def values(doc, kind, field):
        return sorted({r[field] for r in doc[kind] if r.get(field)})

    for kind, field in [("endpoints", "service_name"), ("endpoints", "region"), ("endpoints", "endpoint_id"),
                        ("endpoint_services", "service_name"), ("endpoint_services", "service_id"),
                        ("service_details", "service_name"), ("subnets", "availability_zone"),
                        ("subnets", "subnet_id"), ("vpcs", "vpc_id"), ("security_groups", "group_id"),
                        ("marketplace_agreements", "agreement_id"), ("marketplace_agreements", "product_id")]:
        assert values(original, kind, field) == values(redacted, kind, field), (kind, field)
    amazon = [d["private_dns_name"] for d in original["service_details"] if d["owner"] == "amazon" and d["private_dns_name"]]
    assert amazon and set(amazon) <= strings(redacted)
    assert redacted["scope"]["regions"] == original["scope"]["regions"]
    assert redacted["generated_at"] == original["generated_at"]


def test_organization_ids_get_pseudonyms_of_the_same_shape(original, redactor, redacted):
    org = original["organization"]
    assert org["id"] and org["id"] not in text(redacted)
    assert re.fullmatch(r"o-[a-z0-9]{%d}" % (len(org["id"]) - 2), redacted["organization"]["id"])
    assert redacted["organization"]["id"] == redactor.text(org["id"])
    if org.get("root_id"):
        assert re.fullmatch(r"r-[0-9a-z]+", redacted["organization"]["root_id"])
        assert redacted["organization"]["root_id"] != org["root_id"]


# --- the same estate, renamed ----------------------------------------------------------------------

def test_redacted_snapshot_validates_and_analyses_the_same(original, redacted):
    snap.validate(redacted)
    assert per_use_case(redacted) == per_use_case(original) and sum(per_use_case(original).values()) >= 10
    assert per_rule(redacted) == per_rule(original) and len(per_rule(original)) >= 5
    again = model.analyze(redacted, trusted_accounts=redacted["analysis"]["trusted_accounts"])
    assert as_multiset(again["connections"]) == as_multiset(redacted["connections"])


def test_without_names_the_analysis_is_the_originals_renamed(original, redactor, redacted):
    assert as_multiset(redacted["connections"]) == as_multiset(redactor.value(original["connections"]))
    assert as_multiset(redacted["findings"]) == as_multiset(redactor.value(original["findings"]))
    assert redacted["analysis"] == redactor.value(original["analysis"])


def test_redaction_does_not_touch_its_input(original):
    before = copy.deepcopy(original)
    r = Redactor.build([original], KEY, names=True)
    r.snapshot(original)
    r.value(original)
    assert original == before


def test_without_names_names_stay(original, redacted):
    assert sorted(str(e["name"]) for e in original["endpoints"]) == sorted(str(e["name"]) for e in redacted["endpoints"])
    assert sorted(a["name"] for a in original["accounts"]) == sorted(a["name"] for a in redacted["accounts"])
    custom = {s["private_dns_name"] for s in original["endpoint_services"] if s["private_dns_name"]}
    assert custom and custom <= strings(redacted)


# --- keys and determinism --------------------------------------------------------------------------

def test_the_same_key_gives_the_same_bytes_another_key_other_pseudonyms(original, redacted):
    assert snap.dumps(Redactor.build([original], KEY).snapshot(original)) == snap.dumps(redacted)
    other = redact(original, OTHER_KEY)
    assert snap.dumps(other) != snap.dumps(redacted)
    assert not set(other["scope"]["accounts"]) & set(redacted["scope"]["accounts"])


def test_without_a_key_the_output_is_deterministic_and_not_the_keyed_one(original, redacted):
    first, second = redact(original), redact(copy.deepcopy(original))
    assert snap.dumps(first) == snap.dumps(second)
    assert first["scope"]["accounts"] != redacted["scope"]["accounts"]
    assert not set(ACCOUNT.findall(text(original))) & set(ACCOUNT.findall(text(first)))
    assert snap.sha256(original) not in text(first)


def test_snapshots_redacted_together_share_a_mapping_that_avoids_both(original):
    alone = Redactor.build([original], KEY)
    account = original["scope"]["accounts"][0]
    taken = alone.text(account)  # a second snapshot holds, as a real account, the first's pseudonym
    other = synthetic(me=taken)
    together = Redactor.build([original, other], KEY)
    assert together.text(account) not in (account, taken)
    assert together.text(taken) not in (account, taken, together.text(account))
    outputs = text(together.snapshot(original)) + text(together.snapshot(other))
    assert account not in outputs and taken not in outputs


def test_load_key_reads_a_key_file(tmp_path):
    path = tmp_path / "key"
    path.write_bytes(b"0123456789abcdef0123456789abcdef\n")
    assert load_key(path) == b"0123456789abcdef0123456789abcdef"
    assert Redactor.build([], load_key(path)).text("123456789012") != "123456789012"


@pytest.mark.parametrize("case", ["short", "missing", "directory"])
def test_load_key_errors_are_one_line_naming_the_file(tmp_path, case):
    path = tmp_path / "key"
    if case == "short":
        path.write_bytes(b"s3cr3t-but-short\n"[: KEY_BYTES_MIN - 1] + b"\n")
    elif case == "directory":
        path.mkdir()
    with pytest.raises(InputError) as err:
        load_key(path)
    message = str(err.value)
    assert "\n" not in message and str(path) in message
    assert "s3cr3t" not in message


def test_a_short_key_is_refused():
    with pytest.raises(InputError):
        Redactor.build([], b"too short")


# --- with names ------------------------------------------------------------------------------------

def original_names(doc: dict) -> set[str]:
    found = {a["name"] for a in doc["accounts"]}
    found |= {u["name"] for u in (doc["organization"] or {}).get("organizational_units") or []}
    found |= {p for a in doc["accounts"] for p in a.get("ou_path") or []}
    for kind in ("vpcs", "subnets", "security_groups", "endpoints", "endpoint_services", "load_balancers"):
        for r in doc[kind]:
            found |= {r.get("name"), r.get("group_name"), *(r.get("tags") or {}).values()}
            found |= {tg.get("name") for tg in r.get("target_groups") or []}
    found |= {s["private_dns_name"] for s in doc["endpoint_services"]}
    return {n for n in found if n}


def test_with_names_no_original_name_survives(original, named):
    names = original_names(original)
    assert len(names) >= 20
    assert not names & strings(named)
    # ...not even inside another string (finding messages, ARNs); endpoint policies and the rules'
    # static text are free text that redaction does not rename
    searched = [s for s in strings({k: v for k, v in named.items() if k not in ("endpoints", "analysis")})]
    searched += [s for e in named["endpoints"] for s in strings({k: v for k, v in e.items() if k != "policy"})]
    assert not [(n, s) for n in names if len(n) >= 6 for s in searched if n in s]


def test_with_names_pseudonyms_are_readable_kind_prefixed_and_consistent(original, named):
    snap.validate(named)
    assert all(re.fullmatch(r"account-[0-9a-f]{6}", a["name"]) for a in named["accounts"] if a["name"])
    named_records = [r for k in ("vpcs", "endpoints", "endpoint_services", "load_balancers") for r in named[k] if r.get("name")]
    assert named_records and all(re.fullmatch(r"name-[0-9a-f]{6}", r["name"]) for r in named_records)
    assert all(r["tags"].get("Name") == r["name"] for r in named_records if "Name" in r.get("tags", {}))
    for lb in named["load_balancers"]:
        assert f"/{lb['name']}/" in lb["arn"]
        assert all(f"targetgroup/{tg['name']}/" in tg["arn"] for tg in lb["target_groups"])
    domains = {s["private_dns_name"] for s in named["endpoint_services"] if s["private_dns_name"]}
    assert domains and all(re.fullmatch(r"domain-[0-9a-f]{6}\.example", d) for d in domains)
    assert domains <= {d["private_dns_name"] for d in named["service_details"]}


def test_with_names_the_analysis_counts_are_the_same(original, named):
    assert per_use_case(named) == per_use_case(original)
    assert per_rule(named) == per_rule(original)


def test_names_of_organizational_units_and_tags_everywhere():
    d = synthetic()
    d["organization"].update(root_id="r-4abc", organizational_units=[
        {"id": "ou-4abc-12345678", "name": "Workloads", "parent_id": "r-4abc"},
        {"id": "ou-4abc-87654321", "name": "Payments", "parent_id": "ou-4abc-12345678"}])
    d["accounts"][0].update(ou_id="ou-4abc-87654321", ou_path=["Workloads", "Payments"])
    out = redact(d, KEY, names=True)
    snap.validate(out)
    org, account = out["organization"], next(a for a in out["accounts"] if a["ou_path"])
    units = {u["id"]: u for u in org["organizational_units"]}
    assert account["ou_path"] == [units[units[account["ou_id"]]["parent_id"]]["name"], units[account["ou_id"]]["name"]]
    assert all(re.fullmatch(r"unit-[0-9a-f]{6}", n) for n in account["ou_path"])
    root = org["root_id"][2:]
    assert all(re.fullmatch(rf"ou-{root}-[a-z0-9]{{8}}", u) for u in units)  # an OU keeps its root's part
    assert not {"Workloads", "Payments", "team-payments", "payments.example.internal"} & strings(out)
    assert out["tool"] == d["tool"]


# --- tricky tokens ---------------------------------------------------------------------------------

ME, MEMBER = "111111111111", "222222222222"
R = "us-east-1"
SVC = "com.amazonaws.vpce.us-east-1.vpce-svc-0123456789abcdef0"


def synthetic(me: str = ME) -> dict:
    """A small estate: a member's endpoint, through an open security group, to a service of ours
    with a custom private DNS name, IPv4 and IPv6 addresses, and an endpoint policy naming the
    organization and an account (also as a dict key)."""
    policy = {"Statement": [{"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{me}:root"}, "Action": "*",
                             "Resource": "*", "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-abcdefghij"}}}],
              f"note-{MEMBER}": "arn:aws:iam::aws:policy/ReadOnlyAccess"}
    records = {
        "vpcs": [{"vpc_id": "vpc-1", "account_id": MEMBER, "region": R, "cidr_block": "10.1.0.0/16",
                  "name": "team-payments", "tags": {"Name": "team-payments", "owner": "alice"}}],
        "subnets": [{"subnet_id": f"subnet-{z}", "vpc_id": "vpc-1", "account_id": MEMBER, "region": R,
                     "availability_zone": f"us-east-1{z}", "public": False, "name": None, "tags": {}} for z in "ab"],
        "security_groups": [{"group_id": "sg-1", "group_name": "open", "vpc_id": "vpc-1", "account_id": MEMBER, "region": R,
                             "ingress": [{"protocol": "tcp", "from_port": 443, "to_port": 443,
                                          "cidrs": ["0.0.0.0/0", "::/0", "10.1.2.0/24", "fd00:ec2::/64"]}]}],
        "endpoints": [{"endpoint_id": "vpce-0abc1230000000001", "account_id": MEMBER, "region": R, "vpc_id": "vpc-1",
                       "type": "Interface", "service_name": SVC, "service_region": R, "state": "available",
                       "subnet_ids": ["subnet-a", "subnet-b"], "route_table_ids": [], "security_group_ids": ["sg-1"],
                       "private_dns_enabled": True, "policy": policy, "name": "team-payments-ep",
                       "tags": {"Name": "team-payments-ep"},
                       "dns_names": ["vpce-0abc1230000000001-xyz12.vpce-svc-0123456789abcdef0.us-east-1.vpce.amazonaws.com",
                                     "payments.example.internal", "*.payments.example.internal"]}],
        "endpoint_services": [{"service_id": "vpce-svc-0123456789abcdef0", "service_name": SVC, "account_id": me,
                               "region": R, "type": "Interface", "state": "available", "acceptance_required": True,
                               "private_dns_name": "payments.example.internal",
                               "load_balancer_arns": [f"arn:aws:elasticloadbalancing:{R}:{me}:loadbalancer/net/payments-nlb/0123abcd"],
                               "supported_regions": [], "availability_zones": ["us-east-1a", "us-east-1b"],
                               "allowed_principals": [{"principal": f"arn:aws:organizations::{me}:organization/o-abcdefghij",
                                                       "principal_type": "OrganizationArn"}],
                               "name": "payments", "tags": {"Name": "payments"}}],
        "load_balancers": [{"arn": f"arn:aws:elasticloadbalancing:{R}:{me}:loadbalancer/net/payments-nlb/0123abcd",
                            "name": "payments-nlb", "type": "network", "scheme": "internal", "account_id": me,
                            "region": R, "vpc_id": "vpc-9", "availability_zones": [], "listeners": [],
                            "target_groups": [{"arn": f"arn:aws:elasticloadbalancing:{R}:{me}:targetgroup/payments-tg/99",
                                               "name": "payments-tg",
                                               "targets": [{"id": "10.1.2.7", "port": 443, "health": "healthy"},
                                                           {"id": "2001:db8::1", "port": 443, "health": "healthy"}]}]}],
    }
    d = snap.build({"accounts": [me, MEMBER], "regions": [R]},
                   {"id": "o-abcdefghij", "management_account_id": me, "account_ids": [me, MEMBER]},
                   [{"account_id": a, "name": f"acct-{a[:3]}", "in_organization": True, "crawled": True} for a in (me, MEMBER)],
                   [], records)
    return model.apply(snap.validate(d))


@pytest.mark.parametrize("kept", [
    "arn:aws:iam::aws:policy/x", "1.2.3.4.5", "version 1.2.3.4.5 of it", "0.0.0.0/0", "::/0",
    "s3.eu-west-1.amazonaws.com", "com.amazonaws.us-east-1.s3", "com.amazonaws.vpce.us-east-1.vpce-svc-48b31e08",
    "vpce-svc-0123.us-east-1.vpce.amazonaws.com", "eu-west-1", "use1-az1", "us-east-1a", "2026-11-27T11:53:27Z",
    "at 11:53:27 UTC", "vpc-0533d3647e81268cf", "agmt-7xq2contosoti01", "1234567890123", "12345678901",
    "pro-abcdefghijk", "r-abc", "hello world"])
def test_what_reveals_nothing_is_kept(kept):
    assert Redactor.build([], KEY).text(kept) == kept


@pytest.mark.parametrize("original, shape", [
    ("2001:db8::1", r"[0-9a-f:]+"),
    ("fd00:ec2::/64", r"[0-9a-f:]+/64"),
    ("10.1.2.3", r"[0-9.]+"),
    ("10.1.2.0/24", r"[0-9.]+\.0/24"),
    ("allow 10.1.2.3.", r"allow [0-9.]+\."),
    ("arn:aws:iam::123456789012:root", r"arn:aws:iam::[0-9]{12}:root"),
    ("arn:aws:organizations::123456789012:ou/o-abcdefghij/ou-4abc-12345678",
     r"arn:aws:organizations::[0-9]{12}:ou/o-[a-z0-9]{10}/ou-[a-z0-9]{4}-[a-z0-9]{8}"),
    ("vpce-0abc123-xyz12.vpce-svc-0123.us-east-1.vpce.amazonaws.com", r"h-[0-9a-f]{10}\.vpce-svc-0123\.us-east-1\.vpce\.amazonaws\.com"),
    ("vpce-f73f4504e8fb4c296-555e144e.com.amazonaws.vpce.us-east-1.vpce-svc-f7676ead",
     r"h-[0-9a-f]{10}\.com\.amazonaws\.vpce\.us-east-1\.vpce-svc-f7676ead"),
    ("internal-payments-alb-1234567890.us-east-1.elb.amazonaws.com", r"h-[0-9a-f]{10}\.us-east-1\.elb\.amazonaws\.com"),
    ("payments-nlb-0123456789abcdef.elb.us-east-1.amazonaws.com", r"h-[0-9a-f]{10}\.elb\.us-east-1\.amazonaws\.com"),
    ("123456789012.dkr.ecr.us-east-1.amazonaws.com", r"h-[0-9a-f]{10}\.dkr\.ecr\.us-east-1\.amazonaws\.com"),
    ("*.vpce-0abc123def4567890-xyz12345.s3.us-east-1.vpce.amazonaws.com",
     r"\*\.h-[0-9a-f]{10}\.s3\.us-east-1\.vpce\.amazonaws\.com"),
    ("dualstack.payments-nlb-0123.elb.us-east-1.amazonaws.com", r"dualstack\.h-[0-9a-f]{10}\.elb\.us-east-1\.amazonaws\.com"),
    ("host ip-10-1-2-3 in the tag", r"host ip-[0-9]+-[0-9]+-[0-9]+-[0-9]+ in the tag"),
])
def test_what_identifies_is_replaced_by_the_same_shape(original, shape):
    out = Redactor.build([], KEY).text(original)
    assert out != original and re.fullmatch(shape, out), out
    if re.fullmatch(r"[0-9a-f:./]+", original):
        assert ipaddress.ip_network(out.split()[-1].rstrip("."), strict=True)


def test_ipv6_is_prefix_preserving():
    r = Redactor.build([], KEY)
    network = ipaddress.ip_network(r.text("2001:db8::/32"))
    assert ipaddress.ip_address(r.text("2001:db8::1")) in network
    assert ipaddress.ip_address(r.text("2001:db9::1")) not in network
    assert r.text("2001:DB8::1") == r.text("2001:db8::1")


def test_a_synthetic_estate_redacts_consistently():
    d = synthetic()
    r = Redactor.build([d], KEY)
    out = r.snapshot(d)
    snap.validate(out)
    assert per_rule(out) == per_rule(d) and per_rule(d)["endpoint-sg-open-ingress"] == 1
    assert per_use_case(out) == per_use_case(d)
    cidrs = out["security_groups"][0]["ingress"][0]["cidrs"]
    assert {"0.0.0.0/0", "::/0"} <= set(cidrs) and not {"10.1.2.0/24", "fd00:ec2::/64"} & set(cidrs)
    policy = out["endpoints"][0]["policy"]
    org = out["organization"]["id"]
    assert policy["Statement"][0]["Condition"]["StringEquals"]["aws:PrincipalOrgID"] == org != "o-abcdefghij"
    assert f"note-{r.text(MEMBER)}" in policy and policy[f"note-{r.text(MEMBER)}"] == "arn:aws:iam::aws:policy/ReadOnlyAccess"
    assert out["endpoint_services"][0]["allowed_principals"][0]["principal"].endswith(f"organization/{org}")
    left = text(out)
    assert not [s for s in (ME, MEMBER, "o-abcdefghij", "10.1.2.7", "2001:db8::1", "vpce-0abc1230000000001-xyz12") if s in left]
    assert "payments.example.internal" in left and "team-payments" in left  # names only go with names=True


def test_analysis_settings_are_redacted_and_applied_again():
    outside = "333333333333"
    d = synthetic()
    d["endpoint_services"][0]["allowed_principals"].append({"principal": f"arn:aws:iam::{outside}:root",
                                                            "principal_type": "Account"})
    links = {SVC: "agmt-1"}
    assert per_rule(model.apply(copy.deepcopy(d)))["endpoint-service-untrusted-principal"] == 1
    model.apply(d, trusted_accounts={outside}, marketplace_links=links)
    r = Redactor.build([d], KEY)
    out = r.snapshot(d)
    assert out["analysis"]["trusted_accounts"] == [r.text(outside)] != [outside]
    assert out["analysis"]["marketplace_links"] == links  # service names and agreement ids are kept
    assert per_rule(out) == per_rule(d) and "endpoint-service-untrusted-principal" not in per_rule(out)


def test_with_names_custom_private_dns_names_go_everywhere():
    d = synthetic()
    out = redact(d, KEY, names=True)
    snap.validate(out)
    domain = out["endpoint_services"][0]["private_dns_name"]
    assert re.fullmatch(r"domain-[0-9a-f]{6}\.example", domain)
    assert {domain, f"*.{domain}"} <= set(out["endpoints"][0]["dns_names"])
    assert "payments" not in text(out)
    assert out["security_groups"][0]["group_name"].startswith("name-")
    assert out["vpcs"][0]["tags"] == {"Name": out["vpcs"][0]["name"], "owner": out["vpcs"][0]["tags"]["owner"]}
    assert out["vpcs"][0]["tags"]["owner"] != "alice"
    assert per_rule(out) == per_rule(d)


def test_an_account_id_written_as_a_number_is_replaced():
    """IAM reads ``"aws:PrincipalAccount": 123456789012`` too: a number is an account id as much as text."""
    doc = {"Condition": {"StringEquals": {"aws:PrincipalAccount": 998877665544}}, "port": 443, "big": 1234567890123}
    r = Redactor.build([doc], KEY)
    out = r.value(doc)
    account = out["Condition"]["StringEquals"]["aws:PrincipalAccount"]
    assert re.fullmatch(r"[0-9]{12}", account) and account != "998877665544"
    assert account == r.text("998877665544")  # the same pseudonym as the account written as text
    assert (out["port"], out["big"]) == (443, 1234567890123)


@pytest.mark.parametrize("shape", [
    "Could not connect to fd00:1234::6: Connection refused",  # an address before a colon
    "account {a4}-{b4}-{c4}",                                  # the console's spelling
    "host.10.9.8.9",                                            # after a word and a dot
    "%22{account}%22",                                          # URL-encoded, glued to digits
    "{org}_x", "x-{org}",                                       # an organization id glued to text
])
def test_common_spellings_in_messages_do_not_leak(original, shape):
    account, org = original["accounts"][0]["account_id"], original["organization"]["id"]
    text = shape.format(account=account, org=org, a4=account[:4], b4=account[4:8], c4=account[8:])
    out = Redactor.build([original], KEY).text(text)
    assert out != text
    for secret in (account, f"{account[:4]}-{account[4:8]}-{account[8:]}", org, "fd00:1234::6", "10.9.8.9"):
        assert secret not in out


def test_a_zero_length_network_keeps_what_the_rules_read():
    """Only 0.0.0.0/0 and ::/0 mean everyone to the open-ingress rule: another /0 must not become one."""
    r = Redactor.build([], KEY)
    assert (r.text("0.0.0.0/0"), r.text("::/0")) == ("0.0.0.0/0", "::/0")
    assert r.text("10.0.0.0/0") not in ("0.0.0.0/0", "10.0.0.0/0") and r.text("0::/0") != "::/0"


def test_a_word_shaped_like_a_root_id_is_kept_unless_a_snapshot_names_that_root(original):
    r = Redactor.build([original], KEY)
    assert r.text("r-studio") == "r-studio"
    root = original["organization"]["root_id"]
    assert root and r.text(f"see {root}") != f"see {root}"


def test_without_a_key_a_reordered_snapshot_gets_the_same_pseudonyms(original):
    shuffled = copy.deepcopy(original)
    for records in shuffled.values():
        if isinstance(records, list):
            records.reverse()
    assert snap.dumps(redact(shuffled)) == snap.dumps(redact(original))


# --- other spellings of the same ids -------------------------------------------------------------

def respelled(digits: str, like: str) -> str:
    """``digits`` written with the separators of ``like`` (each digit of ``like`` replaced in turn)."""
    it = iter(digits)
    return "".join(next(it) if c.isdigit() else c for c in like)


SPELLINGS = ["{a[0]}{a[1]}{a[2]}-{a[3]}{a[4]}{a[5]}-{a[6]}{a[7]}{a[8]}-{a[9]}{a[10]}{a[11]}",  # 3-3-3-3
             "{a4} {b4} {c4}", "{a4}_{b4}_{c4}", "{a4}.{b4}.{c4}", "{a4}-{b4}-{c4}",
             "{a[0]}{a[1]}-{a[2]}{a[3]}{a[4]}{a[5]}{a[6]}-{a[7]}{a[8]}{a[9]}{a[10]}{a[11]}"]  # any grouping


def spell(account: str, shape: str) -> str:
    return shape.format(a=account, a4=account[:4], b4=account[4:8], c4=account[8:])


@pytest.mark.parametrize("shape", SPELLINGS)
@pytest.mark.parametrize("context", ["{}", "account {} (prod)", "arn:aws:iam::{}:root", "acct-{}", "{}.dkr.example"])
def test_a_separated_account_id_gets_the_pseudonym_spelled_the_same_way(original, shape, context):
    r = Redactor.build([original], KEY)
    for account in ("768611143949", original["accounts"][0]["account_id"]):  # unknown, and one of the snapshot
        spelled = spell(account, shape)
        out = r.text(context.format(spelled))
        if context.endswith(".dkr.example") and not {" ", "."} & set(spelled):  # a DNS name's first label
            assert re.fullmatch(r"h-[0-9a-f]{10}\.dkr\.example", out), out  # like 123456789012.dkr....
        else:
            assert out == context.format(respelled(r.text(account), spelled)), (spelled, out)
        assert spelled not in out and account not in out


def test_a_separated_account_id_of_the_snapshot_that_reads_as_an_address_is_the_account():
    """``123-145-167-189`` is also four valid octets: an account the snapshot names is an account."""
    d = synthetic(me="123145167189")
    r = Redactor.build([d], KEY)
    assert r.text("123-145-167-189") == respelled(r.text("123145167189"), "123-145-167-189")
    assert r.text("123.145.167.189") == respelled(r.text("123145167189"), "123.145.167.189")
    assert r.text("768.611.143.949") == respelled(r.text("768611143949"), "768.611.143.949")  # no address
    # an account nobody names, spelled as dashed octets, is redacted as an address (either way, not left)
    assert r.text("192-168-100-200") == r.text("192.168.100.200").replace(".", "-")


@pytest.mark.parametrize("kept", [
    "2026-12-03", "2026-12-03 10:00:00", "2026-12-03T10:00:00Z", "2026-12-03-10-00", "2026_12_03_1000",
    "2026.12.03.1000", "backup 2026 12 03 1000", "20261203-1000", "snapshot-261203_100000", "1714567890.12",
    "123456.789012", "1234-5678-90123", "12-345-678-901-2345", "1234 5678 9012 3456", "300-1-1-1",
    "768-611 143-949", "7686--1114--3949", "port 443 8443"])
def test_dates_times_and_other_numbers_are_not_taken_for_separated_account_ids(kept):
    assert Redactor.build([], KEY).text(kept) == kept


@pytest.mark.parametrize("shape, expect", [
    ("db-{d}", "db-{p}"), ("{d}", "{p}"), ("host {d} up", "host {p} up"), ("x-{d}-y", "x-{p}-y"),
    ("abc{d}", "abc{p}"), ("foo.{d}.sslip.io", "foo.{p}.sslip.io"), ("ip-{d}", "ip-{p}"),
])
def test_a_dashed_address_with_any_prefix_is_redacted(shape, expect):
    r = Redactor.build([], KEY)
    pseudonym = r.text("10.1.1.5").replace(".", "-")
    out = r.text(shape.format(d="10-1-1-5"))
    assert out == expect.format(p=pseudonym), out


def test_a_dashed_address_as_the_first_label_of_a_dns_name_loses_that_label():
    r = Redactor.build([], KEY)
    for name in ("10-1-1-5.sslip.io", "db-10-1-1-5.internal.example", "*.10-1-1-5.nip.io"):
        out = r.text(name)
        rest = name.split("10-1-1-5", 1)[1].split(".", 1)[1]
        assert "10-1-1-5" not in out and re.fullmatch(r"(\*\.)?h-[0-9a-f]{10}\." + re.escape(rest), out), out


@pytest.mark.parametrize("encoded", ["10%2E1%2E1%2E5", "10%2e1%2e1%2e5", "%2210%2E1%2E1%2E5%22",
                                     "ip%3D10%2E1%2E1%2E5&x=1", "%2210.1.1.5%22"])
def test_a_url_encoded_address_is_redacted_and_stays_encoded(encoded):
    r = Redactor.build([], KEY)
    pseudonym = r.text("10.1.1.5")
    dot = "%2E" if "%2E" in encoded else "%2e" if "%2e" in encoded else "."
    out = r.text(encoded)
    assert out == encoded.replace(f"10{dot}1{dot}1{dot}5", pseudonym.replace(".", dot)), out


def test_a_url_encoded_cidr_is_redacted_as_a_network():
    r = Redactor.build([], KEY)
    assert r.text("cidr=10%2E1%2E0%2E0%2F16") == "cidr=" + r.text("10.1.0.0/16").replace(".", "%2E").replace("/", "%2F")
    assert r.text("1%2E2%2E3%2E4%2E5") == "1%2E2%2E3%2E4%2E5"  # five numbers: not an address


def test_upper_case_organization_root_and_ou_ids_get_the_lower_case_pseudonym_in_upper_case(original):
    r = Redactor.build([original], KEY)
    org, root = original["organization"]["id"], original["organization"]["root_id"]
    ou = next(a["ou_id"] for a in original["accounts"] if a.get("ou_id"))
    for ident in (org, root, ou, "o-fl5lwbiaj7", "ou-4abc-12345678"):
        lower = r.text(ident)
        assert lower != ident
        assert r.text(ident.upper()) == lower.upper()
        assert r.text(f"PrincipalOrgID={ident.upper()}") == f"PrincipalOrgID={lower.upper()}"
    assert r.text("O-FL5LWBIAJ7") == r.text("o-fl5lwbiaj7").upper()
    assert r.text(f"{org.upper()}_X") == f"{r.text(org).upper()}_X"  # glued to text, like the lower-case one
    assert r.text("R-STUDIO") == "R-STUDIO"  # a word, not a root the snapshot names


@pytest.mark.parametrize("cf", ["\u200b", "\u2060", "\u00ad", "\ufeff", "\u200e"])
def test_a_known_account_or_address_split_by_format_characters_is_redacted(original, cf):
    r = Redactor.build([original], KEY)
    account = original["accounts"][0]["account_id"]
    address = next(t["id"] for lb in original["load_balancers"] for tg in lb["target_groups"]
                   for t in tg["targets"] if IPV4.fullmatch(t["id"]))
    org = original["organization"]["id"]
    for secret in (account, address, "2001:db8::1", org, spell(account, SPELLINGS[0])):
        split = cf.join([secret[:3], secret[3:7], secret[7:]])
        out = r.text(f"see {split} now{cf}")
        assert out == f"see {r.text(secret)} now{cf}", (secret, out)  # the ones inside dropped, others kept


def test_format_characters_elsewhere_are_kept():
    r = Redactor.build([], KEY)
    for kept in ("\U0001f469\u200d\U0001f4bb team", "soft\u00adhyphen", "\u200e1.2.3\u200b", "1\u200b2\u200b3"):
        assert r.text(kept) == kept


def test_a_snapshot_spelling_ids_many_ways_redacts_validates_and_analyses_the_same():
    d = synthetic()
    spellings = [spell(ME, s) for s in SPELLINGS] + [f"{ME[:4]}\u200b{ME[4:]}", "db-10-1-2-7", "10%2E1%2E2%2E7",
                                                      "O-ABCDEFGHIJ", "10-1-2-7.sslip.io", "1\u00ad0.1.2.7"]
    d["vpcs"][0]["tags"].update({f"k{i}": s for i, s in enumerate(spellings)})
    d["endpoints"][0]["tags"]["note"] = ", ".join(spellings)
    out = Redactor.build([d], KEY).snapshot(d)
    snap.validate(out)
    assert per_rule(out) == per_rule(d) and per_use_case(out) == per_use_case(d)
    left = text(out)
    assert not [s for s in spellings + [ME, "10.1.2.7", "10-1-2-7", "o-abcdefghij", "ABCDEFGHIJ"] if s in left]
    shuffled = copy.deepcopy(d)
    for records in shuffled.values():
        if isinstance(records, list):
            records.reverse()
    assert snap.dumps(redact(shuffled)) == snap.dumps(redact(d))


def test_a_separated_account_of_the_snapshot_inside_a_longer_grouped_number_is_redacted():
    """``12:00 1234 5678 9012`` reads as 14 digits in four groups; two ids in a row as one long number.
    An account the snapshot names is found in whole groups; any other longer number is kept."""
    d = synthetic()
    r = Redactor.build([d], KEY)
    me, member = spell(ME, "{a4} {b4} {c4}"), spell(MEMBER, "{a4}-{b4}-{c4}")
    assert r.text(f"at 12:00 {me} ok") == f"at 12:00 {respelled(r.text(ME), me)} ok"
    two = f"{member}-{member}"
    assert r.text(two) == f"{respelled(r.text(MEMBER), member)}-{respelled(r.text(MEMBER), member)}"
    assert r.text(f"7-{member}-12") == f"7-{respelled(r.text(MEMBER), member)}-12"
    for kept in ("00 1234 5678 9012", "2026-12-03-10-00-00", "1.2.3.4.5.6.7.8.9.10", f"{ME[:6]}-{ME[6:]}-1"):
        assert r.text(kept) == kept


def test_an_endpoint_dns_name_or_a_grouped_account_split_by_format_characters_is_redacted():
    d = synthetic()
    r = Redactor.build([d], KEY)
    name = d["endpoints"][0]["dns_names"][0]
    split = name[:9] + "\u200b" + name[9:]
    assert r.text(split) == r.text(name) and r.text(name).startswith("h-")
    member = spell(MEMBER, "{a4} {b4} {c4}")
    assert r.text(f"12:00 {member[:6]}\u00ad{member[6:]}") == f"12:00 {respelled(r.text(MEMBER), member)}"
    assert r.text(f"x{ME[:5]}\u200b{ME[5:]}0") == f"x{r.text(ME)}0"  # in a longer run of digits


# --- review fixes: a dashed address next to other numbers, format characters in org ids, ... ----

REVIEW_DOC = {"accounts": [{"account_id": "768611143949", "ou_id": "ou-ab12-cdefgh12"}],
              "organization": {"id": "o-fl5lwbiaj7", "root_id": "r-ab12"}}


def dashed(r: Redactor, address: str) -> str:
    """The pseudonym of ``address`` (dotted), written with dashes."""
    return r.text(address).replace(".", "-")


@pytest.mark.parametrize("shape, address, expect", [
    ("db1-10-1-1-5", "10.1.1.5", "db1-{p}"),              # a leading group glued to a letter is the prefix's
    ("web01-10-1-1-5", "10.1.1.5", "web01-{p}"),
    ("db10-10-1-1-5", "10.1.1.5", "db10-{p}"),
    ("node-1-10-1-1-5", "10.1.1.5", "node-1-{p}"),        # the reading that is a private address
    ("10-1-1-5-80", "10.1.1.5", "{p}-80"),                # a trailing number is kept
    ("10-1-1-5-8080", "10.1.1.5", "{p}-8080"),
    ("ip-10-1-1-5-1", "10.1.1.5", "ip-{p}-1"),
    ("10-1-1-0-24", "10.1.1.0", "{p}-24"),
    ("x 192-168-1-5-443 y", "192.168.1.5", "x {p}-443 y"),
    ("db1-54-1-1-5", "54.1.1.5", "db1-{p}"),              # public: the glued group is still the prefix's
    ("node-1-54-1-1-5", "1.54.1.1", "node-{p}-5"),        # public and not glued: the first reading
    ("1-2-3-4-5", "1.2.3.4", "{p}-5"),
])
def test_a_dashed_address_next_to_other_numbers_is_redacted(shape, address, expect):
    r = Redactor.build([REVIEW_DOC], b"k" * 32)
    out = r.text(shape)
    assert out == expect.format(p=dashed(r, address)), out


def test_two_dashed_addresses_in_a_row_are_both_redacted():
    r = Redactor.build([REVIEW_DOC], b"k" * 32)
    assert r.text("10-1-1-5-10-1-1-6") == f"{dashed(r, '10.1.1.5')}-{dashed(r, '10.1.1.6')}"


@pytest.mark.parametrize("name", ["node2-10-1-1-5.internal", "web01-10-1-1-5.example.com", "10-1-1-5-80.nip.io",
                                  "ec2-54-1-2-3.compute-1.amazonaws.com"])
def test_a_dns_name_whose_first_label_holds_a_dashed_address_next_to_numbers_loses_that_label(name):
    out = Redactor.build([REVIEW_DOC], b"k" * 32).text(name)
    assert re.fullmatch(r"h-[0-9a-f]{10}\." + re.escape(name.split(".", 1)[1]), out), out


@pytest.mark.parametrize("kept", ["2026-12-03-10-00", "2026-12-03-10-00-00", "12-345-678-901-2345",
                                  "backup-2026-12-03-10-00.tar.gz", "v1.2.3.4.5"])
def test_longer_dashed_numbers_without_an_address_are_kept(kept):
    assert Redactor.build([REVIEW_DOC], b"k" * 32).text(kept) == kept


@pytest.mark.parametrize("split, whole", [
    ("r-ab\u200b12x", "r-ab12x"), ("ou-ab12-cdef\u200bgh12_x", "ou-ab12-cdefgh12_x"),
    ("O-FL5LW\u200bBIAJ7_X", "O-FL5LWBIAJ7_X"), ("O-Fl5lw\u200bbiaj7", "O-Fl5lwbiaj7"),
    ("see r-ab\u2060\u00ad12 now", "see r-ab12 now"), ("x-o-fl5\u200blwbiaj7", "x-o-fl5lwbiaj7"),
])
def test_a_known_organization_root_or_ou_id_split_by_format_characters_is_redacted_glued_or_in_mixed_case(split, whole):
    r = Redactor.build([REVIEW_DOC], b"k" * 32)
    assert r.text(whole) != whole
    assert r.text(split) == r.text(whole), r.text(split)


@pytest.mark.parametrize("encoded, dot", [("host%2E10%2E1%2E1%2E5", "%2E"), ("db-1%2e10%2e1%2e1%2e5", None),
                                          ("x_%2E10%2E1%2E1%2E5", "%2E"), ("a-%2e10%2e1%2e1%2e5", "%2e")])
def test_a_url_encoded_address_after_a_word_and_an_encoded_dot_is_redacted(encoded, dot):
    """Like ``host.10.1.1.5``: an encoded dot after a word starts an address, one after a number does not."""
    r = Redactor.build([REVIEW_DOC], b"k" * 32)
    if dot is None:  # 1.10.1.1.5: five numbers, not an address (as with dots)
        assert r.text(encoded) == encoded
    else:
        assert r.text(encoded) == encoded.replace(f"10{dot}1{dot}1{dot}5", r.text("10.1.1.5").replace(".", dot))


@pytest.mark.parametrize("kept", [
    "26-12-03-10-00-00", "26_12_03_10_00_00", "03-12-2026-1000", "03.12.2026.1000", "03 12 2026 1000",
    "12-25-2026-1000", "backup 26.12.03.10.00.00", "4a1b2c3d-1234-5678-9012-abcdef012345",
    "4A1B2C3D-1234-5678-9012-ABCDEF012345", "12345678-1234-1234-1234-123456789012",
    "req 1234abcd-0000-1111-2222-333344445555",
])
def test_dates_and_uuids_are_not_rewritten(kept):
    """A UUID-shaped span (8-4-4-4-12 hex digits) is never rewritten (a KMS key id, a request id);
    a grouped number led by a date (YY-MM-DD, DD-MM-YYYY, MM-DD-YYYY) is not an account id."""
    assert Redactor.build([REVIEW_DOC], b"k" * 32).text(kept) == kept


def test_no_random_uuid_is_rewritten_but_what_is_around_it_is():
    import random
    rng = random.Random(1600)
    r = Redactor.build([REVIEW_DOC], b"k" * 32)
    uuids = [str(__import__("uuid").UUID(int=rng.getrandbits(128), version=4)) for _ in range(20000)]
    assert [u for u in uuids if r.text(u) != u] == []
    key = f"arn:aws:kms:us-east-1:768611143949:key/{uuids[0]}"
    assert r.text(key) == f"arn:aws:kms:us-east-1:{r.text('768611143949')}:key/{uuids[0]}"
    assert r.text(f"{uuids[1]} from 10.1.1.5") == f"{uuids[1]} from {r.text('10.1.1.5')}"
    assert r.text(f"{uuids[2]}.example.com") == f"{uuids[2]}.example.com"
    assert r.text("7686-1114-3949") == respelled(r.text("768611143949"), "7686-1114-3949")  # not a UUID


def test_account_ids_in_the_usual_groupings_are_still_caught_next_to_dates():
    r = Redactor.build([REVIEW_DOC], b"k" * 32)
    for spelled in ("768-611-143-949", "7686 1114 3949", "12-34-56-78-90-12", "1-23-45-67-89-01-2"):
        assert r.text(spelled) == respelled(r.text(spelled.replace("-", "").replace(" ", "")), spelled), spelled


@pytest.mark.parametrize("written, plain, dot, slash", [
    ("10.1.1.0%2F24", "10.1.1.0/24", ".", "%2F"), ("cidr=10.1.0.0%2f16&x", "10.1.0.0/16", ".", "%2f"),
    ("10-1-1-0/24", "10.1.1.0/24", "-", "/"), ("db-10-1-1-0%2F24", "10.1.1.0/24", "-", "%2F"),
])
def test_a_cidr_with_an_encoded_slash_or_dashes_is_redacted_as_a_network(written, plain, dot, slash):
    r = Redactor.build([REVIEW_DOC], b"k" * 32)
    network = r.text(plain)
    assert network.endswith(".0/24") or network.endswith(".0/16")
    assert r.text(written) == written.replace(plain.replace(".", dot).replace("/", slash),
                                              network.replace(".", dot).replace("/", slash))


def test_an_account_split_by_format_characters_is_reserved_so_no_pseudonym_reads_as_it():
    """The pre-scan also reads the text without its format characters: an account written only as
    ``1111\u200b2222\u200b3333`` is reserved like the others, so no other account's pseudonym is it,
    and the mapping does not depend on the order the strings are met in."""
    key = b"k" * 32
    x = "768611143949"
    y = Redactor(key)._account_candidate(x, 0)  # the pseudonym x gets when nothing else is in the way
    for split in (f"{y[:4]}\u200b{y[4:8]}\u200b{y[8:]}", f"{y[:3]}-{y[3:6]}\u2060-{y[6:9]}-{y[9:]}"):
        doc = {"accounts": [{"account_id": x}], "tags": {"note": f"see {split}"}}
        r = Redactor.build([doc], key)
        assert r.text(x) != y and y not in r.value(doc)["tags"]["note"], split
        assert r.text(x) not in (x, y) and not {x, y} & set(ACCOUNT.findall(text(r.value(doc))))
        reordered = Redactor.build([doc], key)
        reordered.text(f"see {split}")  # the split one met first
        assert reordered.text(x) == r.text(x)


def test_a_dashed_address_after_an_account_id_is_redacted_too():
    r = Redactor.build([REVIEW_DOC], b"k" * 32)
    account, address = r.text("768611143949"), dashed(r, "10.1.1.5")
    assert r.text("768611143949-10-1-1-5") == f"{account}-{address}"
    assert r.text("111122223333-10-1-1-5-80") == f"{r.text('111122223333')}-{address}-80"
    assert r.text("10-1-1-5-768611143949") == f"{address}-{account}"


def test_an_account_of_the_snapshot_spelled_as_dashed_octets_inside_a_longer_run_is_the_account():
    d = synthetic(me="123145167189")
    r = Redactor.build([d], KEY)
    spelled = respelled(r.text("123145167189"), "123-145-167-189")
    assert r.text("1-123-145-167-189") == f"1-{spelled}"
    assert r.text("123-145-167-189-1") == f"{spelled}-1"


@pytest.mark.parametrize("shape, address, tail", [
    ("10-10-10-10-80", "10.10.10.10", "-80"), ("10-11-12-13-443", "10.11.12.13", "-443"),
    ("10-12-20-15-80-1", "10.12.20.15", "-80-1"),
])
def test_an_address_whose_first_numbers_read_as_a_two_digit_year_date_is_still_an_address(shape, address, tail):
    """A date with a two-digit year only counts as a whole date and time (``26-12-03-10-00-00``)."""
    r = Redactor.build([REVIEW_DOC], b"k" * 32)
    assert r.text(shape) == dashed(r, address) + tail
    assert r.text("10-10-10-10-8080") == respelled(r.text("101010108080"), "10-10-10-10-8080")  # 12 digits: an account


def test_twelve_digits_in_dotted_groups_that_start_like_a_date_are_still_an_account():
    r = Redactor.build([REVIEW_DOC], b"k" * 32)
    for spelled in ("10.10.10.10.8080", "10 11 12 13 4455"):
        out = r.text(spelled)
        assert out != spelled and re.fullmatch(re.sub(r"[0-9]", "[0-9]", spelled), out), out
