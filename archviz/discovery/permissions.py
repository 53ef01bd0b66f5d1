"""Every AWS operation archviz calls, in one table.

The table is the read-only guard's allowlist (``aws.py`` refuses anything else before it is
sent) and the source of the README's permission list, so the code, the guard and the
documentation cannot drift apart. Keep it data: the least-privilege IAM policies in ``iam/`` are
generated from it too (``policies()``; rewrite the files with
``python -m archviz.discovery.permissions --write-iam``)."""

from __future__ import annotations

import argparse
import json
import re
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Permission:
    service: str  # botocore's service name (what ``client(service)`` takes)
    operation: str  # the API operation, as botocore's service model spells it
    action: str  # the IAM action that grants it
    purpose: str  # why archviz calls it
    caller_only: bool = False  # asked with the caller's credentials only, never in a crawled account's role


PERMISSIONS: tuple[Permission, ...] = (
    Permission("sts", "GetCallerIdentity", "sts:GetCallerIdentity", "identify the caller's account", True),
    Permission("sts", "AssumeRole", "sts:AssumeRole", "enter the other accounts with --role-name", True),
    Permission("organizations", "DescribeOrganization", "organizations:DescribeOrganization",
               "the organization's id and management account (needed with --org)", True),
    Permission("organizations", "ListAccounts", "organizations:ListAccounts",
               "the organization's accounts and names (needed with --org)", True),
    Permission("organizations", "ListRoots", "organizations:ListRoots",
               "the OU tree, to group accounts by OU (optional: without it, coverage says so)", True),
    Permission("organizations", "ListOrganizationalUnitsForParent", "organizations:ListOrganizationalUnitsForParent",
               "the OU tree (optional), and the accounts under --ou", True),
    Permission("organizations", "ListAccountsForParent", "organizations:ListAccountsForParent",
               "each account's OU (optional), and the accounts under --ou", True),
    Permission("ec2", "DescribeRegions", "ec2:DescribeRegions",
               "with --regions all, the regions the account has enabled; otherwise asked once, only "
               "when a region answers AuthFailure, to tell a region not enabled from a failure"),
    Permission("ec2", "DescribeVpcEndpoints", "ec2:DescribeVpcEndpoints", "the account's VPC endpoints"),
    Permission("ec2", "DescribeVpcEndpointServices", "ec2:DescribeVpcEndpointServices",
               "the services those endpoints reach, as the account sees them"),
    Permission("ec2", "DescribeVpcEndpointServiceConfigurations", "ec2:DescribeVpcEndpointServiceConfigurations",
               "the endpoint services the account publishes"),
    Permission("ec2", "DescribeVpcEndpointServicePermissions", "ec2:DescribeVpcEndpointServicePermissions",
               "who may connect to a published service"),
    Permission("ec2", "DescribeVpcEndpointConnections", "ec2:DescribeVpcEndpointConnections",
               "who is connected to a published service"),
    Permission("elbv2", "DescribeLoadBalancers", "elasticloadbalancing:DescribeLoadBalancers",
               "the load balancers behind the services the account publishes"),
    Permission("elbv2", "DescribeListeners", "elasticloadbalancing:DescribeListeners",
               "the listeners of those load balancers"),
    Permission("elbv2", "DescribeTargetGroups", "elasticloadbalancing:DescribeTargetGroups",
               "the target groups of those load balancers"),
    Permission("elbv2", "DescribeTargetHealth", "elasticloadbalancing:DescribeTargetHealth",
               "the health of those target groups' targets"),
    Permission("ec2", "DescribeVpcs", "ec2:DescribeVpcs", "the VPCs the endpoints and load balancers sit in"),
    Permission("ec2", "DescribeSubnets", "ec2:DescribeSubnets", "the subnets the endpoints sit in"),
    Permission("ec2", "DescribeRouteTables", "ec2:DescribeRouteTables", "whether the endpoints' subnets are public"),
    Permission("ec2", "DescribeSecurityGroups", "ec2:DescribeSecurityGroups", "the security groups on the endpoints"),
    Permission("marketplace-agreement", "SearchAgreements", "aws-marketplace:SearchAgreements",
               "the Marketplace purchase agreements the account accepted"),
)

ALLOWED = frozenset((p.service, p.operation) for p in PERMISSIONS)


def is_allowed(service: str, operation: str) -> bool:
    """Whether archviz may send this operation: only what the table lists, nothing by name pattern
    (``sts:GetSessionToken`` reads like a ``Get`` but mints credentials)."""
    return (service, operation) in ALLOWED


def markdown() -> str:
    """The README's section "Permissions the crawl role needs", rendered from the table."""
    rows = [f"| `{p.action}` | {'the caller' if p.caller_only else 'every crawled account'} | {p.purpose} |"
            for p in PERMISSIONS]
    return "\n".join([
        "### Permissions the crawl role needs",
        "",
        "This list is generated from `archviz/discovery/permissions.py`, the same table that the",
        "read-only guard allows: archviz sends no other operation.",
        "",
        "| IAM action | needed by | why archviz calls it |",
        "|---|---|---|",
        *rows,
        "",
        "The role assumed in the other accounts needs the rows marked *every crawled account*; the",
        "caller needs its own rows, and all the others too when its own account is crawled. A missing",
        "permission in a crawled account shows up in `coverage` as the unit's error, never as a crash.",
        "",
    ])


# --- Least-privilege IAM policies, generated from the table ------------------------------------

CRAWL_ROLE_NAME = "archviz-readonly"  # the member role's name in the shipped policy: a placeholder
POLICY_VERSION = "2012-10-17"
READONLY_POLICY = "archviz-readonly.json"
MANAGEMENT_POLICY = "archviz-management.json"
IAM_DIR = Path(__file__).resolve().parent.parent.parent / "iam"  # the repository's iam/ folder


def _statement(sid: str, actions, resource: str) -> dict:
    # IAM's conventional key order, kept as written (policy_json does not sort keys).
    return {"Sid": sid, "Effect": "Allow", "Action": sorted(set(actions)), "Resource": resource}


def policies(role_name: str = CRAWL_ROLE_NAME) -> dict[str, dict]:
    """The two IAM policy documents generated from PERMISSIONS, keyed by file name.

    ``archviz-readonly.json`` goes on the role archviz assumes in every crawled account: the
    actions of the rows that are not ``caller_only``, on ``"*"``. These Describe and Search
    actions cannot be narrowed to resources. The Service Authorization Reference's rule: "The
    Resource types column indicates whether each action supports resource-level permissions. If
    there is no value for this column, you must specify all resources ("*")"
    (https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonec2.html,
    .../list_elasticloadbalancingv2.html, .../list_awsmarketplace.html); EC2's own read-only
    example grants ``ec2:Describe*`` on ``"*"``, "necessary in cases where the API action does not
    support resource-level permissions"
    (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/ExamplePolicies_EC2.html).

    ``archviz-management.json`` goes on the caller (the management account or a delegated
    administrator): the ``caller_only`` actions, with ``sts:AssumeRole`` restricted to the crawl
    role ``role_name`` in any account. ``sts:GetCallerIdentity`` needs no permission ("No
    permissions are required to perform this operation",
    https://docs.aws.amazon.com/STS/latest/APIReference/API_GetCallerIdentity.html); it is
    listed because archviz calls it. ``organizations:ListAccountsForParent`` and
    ``ListOrganizationalUnitsForParent`` accept a root or OU ARN, but archviz walks the whole
    tree, so they share ``"*"`` with the other organization reads."""
    role_arn = f"arn:aws:iam::*:role/{role_name}"
    member = [p.action for p in PERMISSIONS if not p.caller_only]
    caller = [p.action for p in PERMISSIONS if p.caller_only and p.action != "sts:AssumeRole"]
    management = [_statement("ArchvizCallerReads", caller, "*")]
    if any(p.action == "sts:AssumeRole" for p in PERMISSIONS):
        management.append(_statement("ArchvizAssumeCrawlRole", ["sts:AssumeRole"], role_arn))
    return {
        READONLY_POLICY: {"Version": POLICY_VERSION,
                          "Statement": [_statement("ArchvizCrawlReads", member, "*")]},
        MANAGEMENT_POLICY: {"Version": POLICY_VERSION, "Statement": management},
    }


def policy_json(name: str, role_name: str = CRAWL_ROLE_NAME) -> str:
    """The exact text of ``iam/<name>``: two-space JSON in IAM's key order, trailing newline."""
    return json.dumps(policies(role_name)[name], indent=2) + "\n"


def write_iam(directory: Path = IAM_DIR, role_name: str = CRAWL_ROLE_NAME) -> list[Path]:
    """Write every generated policy file into ``directory``; returns the paths written."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name in policies(role_name):
        path = directory / name
        path.write_text(policy_json(name, role_name))
        written.append(path)
    return written


def _as_list(value) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def _as_list_of_statements(value) -> list[dict]:
    return [value] if isinstance(value, dict) else list(value)


def _wildcard(pattern: str, value: str, ignore_case: bool) -> bool:
    """IAM's wildcards: ``*`` any run of characters, ``?`` one character, nothing else special
    (unlike fnmatch, ``[`` is literal)."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    flags = (re.IGNORECASE | re.DOTALL) if ignore_case else re.DOTALL
    return re.fullmatch(regex, value, flags) is not None


def _matches(statement: dict, action: str, resource: str) -> bool:
    if "Condition" in statement:
        raise ValueError(f"cannot evaluate a statement with a Condition: {statement.get('Sid', statement)}")
    if "Action" in statement:
        hit = any(_wildcard(a, action, True) for a in _as_list(statement["Action"]))
    else:
        hit = not any(_wildcard(a, action, True) for a in _as_list(statement["NotAction"]))
    if "Resource" in statement:
        return hit and any(_wildcard(r, resource, False) for r in _as_list(statement["Resource"]))
    return hit and not any(_wildcard(r, resource, False) for r in _as_list(statement["NotResource"]))


def allows(policies: dict, action: str, resource: str = "*") -> bool:
    """Whether the policy documents allow ``action`` on ``resource``: an Allow statement matches
    and no Deny statement does. ``policies`` is what ``policies()`` returns (file name ->
    document) or a single document. Actions match case-insensitively, resources (ARNs)
    case-sensitively, both with IAM's ``*``/``?`` wildcards. The default resource ``"*"`` asks
    whether the action is allowed on every resource, so only a statement on ``"*"`` grants it
    (``sts:AssumeRole`` on a role pattern does not). Conditions are not evaluated: a statement
    with one raises ValueError."""
    documents = [policies] if "Statement" in policies else list(policies.values())
    statements = [s for doc in documents for s in _as_list_of_statements(doc["Statement"])]
    matching = [s["Effect"] for s in statements if _matches(s, action, resource)]
    return "Allow" in matching and "Deny" not in matching


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m archviz.discovery.permissions",
                                     description="Print, or write, the IAM policies generated from PERMISSIONS.")
    parser.add_argument("--write-iam", nargs="?", const=str(IAM_DIR), metavar="DIR",
                        help=f"write the policy files into DIR (default: {IAM_DIR})")
    parser.add_argument("--role-name", default=CRAWL_ROLE_NAME,
                        help=f"the crawl role's name in sts:AssumeRole's resource (default: {CRAWL_ROLE_NAME})")
    args = parser.parse_args(argv)
    if args.write_iam is None:
        for name in policies(args.role_name):
            print(f"# {name}\n{policy_json(name, args.role_name)}", end="")
        return 0
    for path in write_iam(Path(args.write_iam), args.role_name):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
