"""The least-privilege IAM policies in iam/: generated from the permission table, reads only,
each action in the policy its row says, the same actions the README lists, and the policy
evaluator another test uses to prove a crawl needs nothing else."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from archviz.discovery import permissions
from archviz.discovery.permissions import (CRAWL_ROLE_NAME, MANAGEMENT_POLICY, PERMISSIONS, READONLY_POLICY,
                                           allows, policies, policy_json)
from archviz.sandbox import demo

ROOT = Path(__file__).resolve().parent.parent
IAM = ROOT / "iam"
README = ROOT / "README.md"
REGENERATE = "regenerate the files with: python -m archviz.discovery.permissions --write-iam"

READ_VERBS = ("Describe", "List", "Get", "Search")
# Words that never belong in a read-only policy: writes, and the "reads" that hand out secrets.
FORBIDDEN_WORDS = {
    "Create", "Delete", "Modify", "Put", "Update", "Accept", "Reject", "Attach", "Detach", "Associate",
    "Disassociate", "Enable", "Disable", "Start", "Stop", "Tag", "Untag", "Set", "Add", "Remove", "Register",
    "Deregister", "Replace", "Revoke", "Authorize", "Run", "Terminate", "Reboot", "Import", "Export", "Copy",
    "Cancel", "Purchase", "Subscribe", "Unsubscribe", "Invoke", "Send", "Publish", "Restore", "Reset", "Allocate",
    "Release", "Assign", "Unassign", "Provision", "Move", "Invite", "Leave", "Decrypt", "Sign", "Token",
    "Tokens", "Credential", "Credentials", "Password", "Secret", "Secrets",
}
# Not reads, and allowed all the same: each is asserted separately below.
NOT_READS = {"sts:AssumeRole"}
ROLE_ARN = f"arn:aws:iam::*:role/{CRAWL_ROLE_NAME}"


def statements(name=None):
    docs = policies()
    return [s for n, doc in docs.items() if name in (None, n) for s in doc["Statement"]]


def actions(name=None) -> set[str]:
    return {a for s in statements(name) for a in s["Action"]}


# --- The files are the generated text ---------------------------------------------------------

@pytest.mark.parametrize("name", sorted(policies()))
def test_each_file_is_the_generated_text(name):
    path = IAM / name
    assert path.exists(), f"iam/{name} is missing; {REGENERATE}"
    assert path.read_text() == policy_json(name), f"iam/{name} differs from the table; {REGENERATE}"


def test_iam_holds_no_other_policy_file():
    assert {p.name for p in IAM.glob("*.json")} == set(policies()), REGENERATE


def test_the_text_is_deterministic_and_in_iam_key_order():
    for name, doc in policies().items():
        text = policy_json(name)
        assert text == policy_json(name) and text.endswith("}\n") and not text.endswith("\n\n")
        assert json.loads(text) == doc
        assert list(doc) == ["Version", "Statement"] and doc["Version"] == "2012-10-17"
        for statement in doc["Statement"]:
            assert list(statement) == ["Sid", "Effect", "Action", "Resource"]
            assert re.fullmatch(r"[A-Za-z0-9]+", statement["Sid"]), statement["Sid"]  # IAM: alphanumeric
            assert statement["Action"] == sorted(statement["Action"])
        assert len({s["Sid"] for s in doc["Statement"]}) == len(doc["Statement"])


def test_write_iam_writes_the_same_text(tmp_path, capsys):
    assert permissions.main(["--write-iam", str(tmp_path)]) == 0
    assert {p.name for p in tmp_path.iterdir()} == set(policies())
    for name in policies():
        assert (tmp_path / name).read_text() == (IAM / name).read_text()
    assert permissions.main([]) == 0  # without --write-iam: prints them, writes nothing
    assert policy_json(READONLY_POLICY) in capsys.readouterr().out


def test_the_iam_readme_names_both_files_and_the_generator():
    text = (IAM / "README.md").read_text()
    for name in policies():
        assert name in text
    assert "python -m archviz.discovery.permissions --write-iam" in text
    assert ROLE_ARN in text


# --- Reads only ---------------------------------------------------------------------------------

@pytest.mark.parametrize("action", sorted(actions() - NOT_READS))
def test_every_action_is_a_read(action):
    service, verb = action.split(":")
    assert re.fullmatch(r"[a-z0-9-]+", service) and re.fullmatch(r"[A-Za-z]+", verb), action  # no wildcard
    assert verb.startswith(READ_VERBS), action
    words = set(re.findall(r"[A-Z][a-z0-9]*", verb))
    assert not words & FORBIDDEN_WORDS, (action, words & FORBIDDEN_WORDS)


def test_no_statement_grants_more_than_it_lists():
    for statement in statements():
        assert statement["Effect"] == "Allow"
        assert not {"NotAction", "NotResource", "Principal", "Condition"} & set(statement)
        assert all("*" not in a and "?" not in a for a in statement["Action"])


def test_assume_role_is_the_only_non_read_and_only_on_the_crawl_role():
    assert actions() - {a for a in actions() if a.split(":")[1].startswith(READ_VERBS)} == NOT_READS
    [statement] = [s for s in statements() if "sts:AssumeRole" in s["Action"]]
    assert statement["Action"] == ["sts:AssumeRole"]
    assert statement["Resource"] == ROLE_ARN
    assert "sts:AssumeRole" in actions(MANAGEMENT_POLICY) and "sts:AssumeRole" not in actions(READONLY_POLICY)
    assert all(s["Resource"] == "*" for s in statements() if "sts:AssumeRole" not in s["Action"])


def test_the_role_name_is_a_parameter_the_demo_can_use():
    arn = policies(demo.ROLE_NAME)[MANAGEMENT_POLICY]["Statement"][-1]["Resource"]
    assert arn == f"arn:aws:iam::*:role/{demo.ROLE_NAME}"
    assert policies(demo.ROLE_NAME)[READONLY_POLICY] == policies()[READONLY_POLICY]


# --- The table, the policies and the README agree -------------------------------------------------

@pytest.mark.parametrize("entry", PERMISSIONS, ids=lambda p: p.action)
def test_each_row_is_in_exactly_the_policy_its_caller_only_says(entry):
    expected = MANAGEMENT_POLICY if entry.caller_only else READONLY_POLICY
    assert [name for name in policies() if entry.action in actions(name)] == [expected]


def test_the_policies_hold_nothing_but_the_table():
    assert actions() == {p.action for p in PERMISSIONS}
    assert actions(READONLY_POLICY) == {p.action for p in PERMISSIONS if not p.caller_only}
    assert actions(MANAGEMENT_POLICY) == {p.action for p in PERMISSIONS if p.caller_only}


def readme_actions(text: str) -> list[str]:
    start = text.index("### Permissions the crawl role needs")
    end = text.find("\n#", start + 1)  # the next heading, or the end of markdown()'s text
    return re.findall(r"^\| `([^`]+)` \|", text[start:end if end != -1 else None], re.MULTILINE)


def test_the_readme_permission_list_names_the_policies_actions():
    listed = readme_actions(README.read_text())
    assert len(listed) == len(set(listed)) == len(PERMISSIONS)
    assert set(listed) == actions(), (
        "README's permission list and iam/*.json disagree; regenerate the README section from markdown() "
        f"and {REGENERATE}")
    assert set(readme_actions(permissions.markdown())) == actions()


# --- allows(): the evaluator ----------------------------------------------------------------------

@pytest.mark.parametrize("entry", PERMISSIONS, ids=lambda p: p.action)
def test_allows_every_row_where_its_policy_is(entry):
    resource = "arn:aws:iam::123456789012:role/archviz-readonly" if entry.action == "sts:AssumeRole" else "*"
    assert allows(policies(), entry.action, resource)
    own = MANAGEMENT_POLICY if entry.caller_only else READONLY_POLICY
    other = READONLY_POLICY if entry.caller_only else MANAGEMENT_POLICY
    assert allows(policies()[own], entry.action, resource)
    assert not allows(policies()[other], entry.action, resource)


@pytest.mark.parametrize("action, resource, expected", [
    ("ec2:DescribeVpcEndpoints", "*", True),
    ("EC2:describevpcendpoints", "*", True),  # actions are case-insensitive
    ("ec2:DescribeVpcEndpoints", "arn:aws:ec2:us-east-1:123456789012:vpc-endpoint/vpce-1", True),
    ("elasticloadbalancing:DescribeTargetHealth", "*", True),
    ("aws-marketplace:SearchAgreements", "*", True),
    ("ec2:CreateVpcEndpoint", "*", False),
    ("ec2:AcceptVpcEndpointConnections", "*", False),
    ("ec2:DescribeInstances", "*", False),  # a read, but not one archviz makes
    ("ec2:DescribeVpcEndpoint", "*", False),  # no prefix matching
    ("sts:GetSessionToken", "*", False),
    ("sts:GetFederationToken", "*", False),
    ("organizations:CreateAccount", "*", False),
    ("iam:PassRole", "*", False),
    ("sts:AssumeRole", "arn:aws:iam::123456789012:role/archviz-readonly", True),
    ("sts:AssumeRole", "arn:aws:iam::210987654321:role/archviz-readonly", True),
    ("sts:AssumeRole", "arn:aws:iam::123456789012:role/OrganizationAccountAccessRole", False),
    ("sts:AssumeRole", "arn:aws:iam::123456789012:role/archviz-readonly-admin", False),
    ("sts:AssumeRole", "arn:aws:iam::123456789012:role/ARCHVIZ-READONLY", False),  # ARNs are case-sensitive
    ("sts:AssumeRole", "*", False),  # not on every role
])
def test_allows_on_the_generated_policies(action, resource, expected):
    assert allows(policies(), action, resource) is expected


def test_allows_the_demo_role_only_with_the_demo_role_name():
    arn = f"arn:aws:iam::123456789012:role/{demo.ROLE_NAME}"
    assert allows(policies(demo.ROLE_NAME), "sts:AssumeRole", arn)
    assert not allows(policies(), "sts:AssumeRole", arn)


def doc(*statements):
    return {"Version": "2012-10-17", "Statement": list(statements)}


@pytest.mark.parametrize("statement, action, resource, expected", [
    ({"Effect": "Allow", "Action": "ec2:Describe*", "Resource": "*"}, "ec2:DescribeVpcs", "*", True),
    ({"Effect": "Allow", "Action": "ec2:Describe*", "Resource": "*"}, "ec2:CreateVpc", "*", False),
    ({"Effect": "Allow", "Action": "ec2:Describe?pcs", "Resource": "*"}, "ec2:DescribeVpcs", "*", True),
    ({"Effect": "Allow", "Action": "ec2:Describe?pcs", "Resource": "*"}, "ec2:DescribeVVpcs", "*", False),
    ({"Effect": "Allow", "Action": "*", "Resource": "*"}, "iam:CreateUser", "*", True),
    ({"Effect": "Allow", "Action": "ec2:[D]escribeVpcs", "Resource": "*"}, "ec2:DescribeVpcs", "*", False),
    ({"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": ["arn:aws:s3:::b/*"]},
     "s3:GetObject", "arn:aws:s3:::b/key", True),
    ({"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": ["arn:aws:s3:::b/*"]},
     "s3:GetObject", "arn:aws:s3:::other/key", False),
    ({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}, "ec2:DescribeVpcs", "*", True),
    ({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}, "iam:CreateUser", "*", False),
    ({"Effect": "Allow", "Action": "ec2:*", "NotResource": "arn:aws:ec2:*:*:vpc/vpc-1"},
     "ec2:DeleteVpc", "arn:aws:ec2:us-east-1:1:vpc/vpc-1", False),
    ({"Effect": "Deny", "Action": "*", "Resource": "*"}, "ec2:DescribeVpcs", "*", False),
])
def test_allows_follows_iam_wildcards(statement, action, resource, expected):
    assert allows(doc(statement), action, resource) is expected


def test_an_explicit_deny_wins_and_a_condition_is_refused():
    allow = {"Effect": "Allow", "Action": "ec2:*", "Resource": "*"}
    deny = {"Effect": "Deny", "Action": "ec2:Create*", "Resource": "*"}
    assert allows({"a.json": doc(allow), "b.json": doc(deny)}, "ec2:DescribeVpcs")
    assert not allows({"a.json": doc(allow), "b.json": doc(deny)}, "ec2:CreateVpc")
    assert allows({"Version": "2012-10-17", "Statement": allow}, "ec2:CreateVpc")  # a lone statement object
    with pytest.raises(ValueError, match="Condition"):
        allows(doc({**allow, "Condition": {"Bool": {"aws:SecureTransport": "true"}}}), "ec2:DescribeVpcs")
