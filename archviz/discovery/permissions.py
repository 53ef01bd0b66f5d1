"""Every AWS operation archviz calls, in one table.

The table is the read-only guard's allowlist (``aws.py`` refuses anything else before it is
sent) and the source of the README's permission list, so the code, the guard and the
documentation cannot drift apart. Keep it data: a least-privilege IAM policy is meant to be
generated from it too."""

from __future__ import annotations

from dataclasses import dataclass


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
