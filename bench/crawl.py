"""Benchmark: crawl time against the sandbox by concurrency (a script, not a test).

    .venv/bin/python bench/crawl.py [--accounts 20] [--regions 2] [--latency 0.05]

Seeds an organization of N member accounts, each with a VPC and three interface endpoints per
region, then times ``archviz discover``'s crawl (in-process, over HTTP to the sandbox) at
several concurrency levels. The sandbox runs in the same process and spends CPU per request
too (roughly 10 ms here): read the figures as relative, not as what AWS would take.
"""

from __future__ import annotations

import argparse
import os
import time

import boto3

from archviz.discovery.crawl import CrawlRequest, crawl
from archviz.sandbox.privatelink import STATE
from archviz.sandbox.server import Sandbox

ROLE = "OrganizationAccountAccessRole"
REGIONS = ["us-east-1", "eu-west-1", "us-west-2", "eu-central-1"]


def seed(sb: Sandbox, accounts: int, regions: list[str]) -> None:
    kw = dict(endpoint_url=sb.endpoint_url, aws_access_key_id=sb.credentials[0], aws_secret_access_key=sb.credentials[1])
    org = boto3.client("organizations", region_name="us-east-1", **kw)
    org.create_organization(FeatureSet="ALL")
    sts = boto3.client("sts", region_name="us-east-1", **kw)
    for i in range(accounts):
        acct = org.create_account(Email=f"a{i}@example.com", AccountName=f"member-{i}")["CreateAccountStatus"]["AccountId"]
        c = sts.assume_role(RoleArn=f"arn:aws:iam::{acct}:role/{ROLE}", RoleSessionName="bench")["Credentials"]
        for region in regions:
            ec2 = boto3.client("ec2", region_name=region, endpoint_url=sb.endpoint_url, aws_access_key_id=c["AccessKeyId"],
                               aws_secret_access_key=c["SecretAccessKey"], aws_session_token=c["SessionToken"])
            vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
            subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24", AvailabilityZone=region + "a")["Subnet"]["SubnetId"]
            for service in ("execute-api", "sqs", "kms"):
                ec2.create_vpc_endpoint(VpcId=vpc, ServiceName=f"com.amazonaws.{region}.{service}",
                                        VpcEndpointType="Interface", SubnetIds=[subnet])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--accounts", type=int, default=20)
    parser.add_argument("--regions", type=int, default=2, choices=range(1, len(REGIONS) + 1))
    parser.add_argument("--latency", type=float, default=0.05, help="seconds added to each request")
    parser.add_argument("--concurrency", default="1,4,8,16")
    args = parser.parse_args()
    regions = REGIONS[: args.regions]
    with Sandbox() as sb:
        sb.reset()
        seed(sb, args.accounts, regions)
        STATE.latency = args.latency
        with sb.activated():
            print(f"{args.accounts + 1} accounts x {len(regions)} regions, {args.latency * 1000:.0f} ms per request, "
                  f"{os.cpu_count()} cores")
            base = None
            for n in (int(x) for x in args.concurrency.split(",")):
                STATE.calls.clear()
                start = time.perf_counter()
                result = crawl(CrawlRequest(org=True, role_name=ROLE, regions=regions, concurrency=n))
                took = time.perf_counter() - start
                base = base or took
                failed = sum(1 for c in result.coverage if c["status"] != "ok")
                print(f"concurrency {n:>2}: {took:6.2f} s  ({base / took:4.1f}x)  {sum(STATE.calls.values())} requests, "
                      f"{len(result.records.get('endpoints', []))} endpoints, {failed} failed units")


if __name__ == "__main__":
    main()
