"""The baseline: a plain sequential boto3 script, as a newcomer would write it (a script, not a test).

    .venv/bin/python bench/baseline.py --role-name ROLE --regions us-east-1,eu-west-1,us-west-2

It lists the organization's accounts, assumes a role in each member (a fresh boto3 session per
account, as the boto3 guide shows), and in every region asks, one request at a time:

- ``DescribeVpcEndpoints``: the account's endpoints;
- ``DescribeVpcEndpointServiceConfigurations``: the endpoint services it publishes;
- ``DescribeVpcEndpointServices`` for the service names its endpoints use (the consumer's view);
- ``DescribeVpcEndpointConnections`` when it publishes a service (the provider's view).

That is about three requests per account-region, and less than archviz collects (no load
balancers, network, permissions, OU tree or Marketplace). ``bench/crawl.py`` times it against
archviz in the same run; it reaches the sandbox through ``AWS_ENDPOINT_URL`` like the crawler.
"""

from __future__ import annotations

import argparse

import boto3


def crawl(role_name: str, regions: list[str]) -> dict:
    """Endpoints (id -> service name) and provider connections ((service id, endpoint id) pairs)."""
    home = boto3.session.Session()
    me = home.client("sts", region_name=regions[0]).get_caller_identity()["Account"]
    accounts = []
    for page in home.client("organizations", region_name=regions[0]).get_paginator("list_accounts").paginate():
        accounts += [a["Id"] for a in page["Accounts"] if a["Status"] == "ACTIVE"]
    endpoints, connections = {}, set()
    for account in sorted(accounts):
        if account == me:
            session = home
        else:
            creds = home.client("sts", region_name=regions[0]).assume_role(
                RoleArn=f"arn:aws:iam::{account}:role/{role_name}", RoleSessionName="baseline")["Credentials"]
            session = boto3.session.Session(aws_access_key_id=creds["AccessKeyId"],
                                            aws_secret_access_key=creds["SecretAccessKey"],
                                            aws_session_token=creds["SessionToken"])
        for region in regions:
            ec2 = session.client("ec2", region_name=region)
            mine = ec2.describe_vpc_endpoints()["VpcEndpoints"]
            for ep in mine:
                endpoints[ep["VpcEndpointId"]] = ep["ServiceName"]
            configs = ec2.describe_vpc_endpoint_service_configurations()["ServiceConfigurations"]
            in_use: dict[str, set[str]] = {}  # service region -> names (cross-region endpoints name theirs)
            for ep in mine:
                if ep["VpcEndpointType"] == "Interface":
                    in_use.setdefault(ep.get("ServiceRegion") or region, set()).add(ep["ServiceName"])
            for service_region, names in sorted(in_use.items()):
                extra = {} if service_region == region else {"ServiceRegions": [service_region]}
                ec2.describe_vpc_endpoint_services(ServiceNames=sorted(names), **extra)
            if configs:
                for c in ec2.describe_vpc_endpoint_connections()["VpcEndpointConnections"]:
                    connections.add((c["ServiceId"], c["VpcEndpointId"]))
    return {"accounts": len(accounts), "endpoints": endpoints, "connections": connections}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--role-name", required=True)
    parser.add_argument("--regions", required=True)
    args = parser.parse_args()
    found = crawl(args.role_name, args.regions.split(","))
    print(f"{found['accounts']} accounts: {len(found['endpoints'])} endpoints, "
          f"{len(found['connections'])} provider connections")


if __name__ == "__main__":
    main()
