"""Fan-out: accounts, then (account, region) units on a thread pool, with coverage.

A unit that fails never sinks the crawl: its failure is recorded in ``coverage`` with the
AWS error code, and the rest completes."""

from __future__ import annotations

import concurrent.futures as cf
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Callable

from botocore.exceptions import ProfileNotFound

from archviz.discovery import endpoints, load_balancers, marketplace, network, organizations, services
from archviz.discovery.aws import AWS_ERRORS, AccountSession, AwsSessions, error_code, error_message
from archviz.discovery.unit import Unit
from archviz.errors import AccessError, InputError, ReadOnlyViolation

DEFAULT_CONCURRENCY = 8
ALL = "all"
Progress = Callable[[int, int], None]
Collector = Callable[[Unit, AccountSession, str], None]


@dataclass
class CrawlRequest:
    profile: str | None = None
    org: bool = False
    accounts: list[str] | None = None
    role_name: str | None = None
    external_id: str | None = None
    regions: list[str] | None = None  # None: the session's region; ["all"]: every opted-in region
    concurrency: int = DEFAULT_CONCURRENCY


@dataclass
class Account:
    account_id: str
    name: str | None
    in_organization: bool
    session: AccountSession | None = None
    regions: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    error: dict | None = None


@dataclass
class CrawlResult:
    scope: dict
    organization: dict | None
    accounts: list[dict]
    coverage: list[dict]
    records: dict[str, list[dict]]


# Each unit kind runs its collectors in order; a later one reads what earlier ones recorded
# (load balancers: the published services'; network: the endpoints' and load balancers').
REGION_COLLECTORS: tuple[Collector, ...] = (
    endpoints.collect,  # consumer side
    services.collect,  # provider side
    load_balancers.collect,
    network.collect,
)
MARKETPLACE_COLLECTORS: tuple[Collector, ...] = (marketplace.collect,)


def collect_unit(kind: str, collectors: tuple[Collector, ...], session: AccountSession, region: str) -> Unit:
    """Run one unit; an unexpected failure is recorded for that unit instead of ending the crawl."""
    unit = Unit(session.account_id, region, kind)
    try:
        for collect in collectors:
            collect(unit, session, region)
    except ReadOnlyViolation:
        raise  # a bug in archviz, never a coverage gap
    except Exception as exc:  # noqa: BLE001 - one account's odd data must not sink the others
        unit = Unit(session.account_id, region, kind)
        unit.failures.append({"operation": "archviz", "error_code": "InternalError",
                              "message": f"{type(exc).__name__}: {exc} (please report this)"})
    return unit


def crawl(request: CrawlRequest, progress: Progress | None = None) -> CrawlResult:
    sessions = AwsSessions(profile=request.profile, max_pool_connections=max(10, request.concurrency))
    explicit = None if request.regions in (None, [ALL]) else sorted(set(request.regions))
    home = sessions.region or (explicit[0] if explicit else None)
    if home is None:
        raise InputError("no AWS region configured: set AWS_REGION or AWS_DEFAULT_REGION "
                         "(or the profile's region), or pass --regions")
    sessions.region = home

    try:
        caller = sessions.caller()
    except ProfileNotFound:  # botocore looks the profile up lazily, on the first client
        raise InputError(f"AWS profile {request.profile!r} is not configured")
    except AWS_ERRORS as exc:
        raise AccessError(f"cannot identify the caller (sts:GetCallerIdentity): {error_code(exc)}: {error_message(exc)}")

    organization, org_accounts = _organization(caller, home, required=request.org)
    names = {a["Id"]: a.get("Name") for a in org_accounts}
    members = set(names)
    if request.org:
        targets = sorted(a["Id"] for a in org_accounts if a.get("Status", "ACTIVE") == "ACTIVE")
    else:
        targets = sorted(set(request.accounts or [caller.account_id]))
    if any(t != caller.account_id for t in targets) and not request.role_name:
        raise InputError("--role-name is required to crawl accounts other than the caller's own")

    caller_regions = None  # the caller's DescribeRegions answer, when it was already asked
    if explicit:
        default_regions = explicit
    elif request.regions == [ALL]:
        try:
            caller_regions = organizations.get_regions(caller.client("ec2", home))
            default_regions = organizations.opted_in(caller_regions)
        except AWS_ERRORS as exc:
            raise AccessError(f"--regions all: cannot list regions (ec2:DescribeRegions): {error_code(exc)}: {error_message(exc)}")
    else:
        default_regions = [home]

    accounts = [Account(t, names.get(t), t in members) for t in targets]
    with cf.ThreadPoolExecutor(max_workers=max(1, request.concurrency)) as pool:
        list(pool.map(lambda a: _enter(a, sessions, caller, request, home, explicit, default_regions, caller_regions),
                      accounts))

        coverage: list[dict] = []
        records: dict[str, list[dict]] = defaultdict(list)
        futures = []
        for account in accounts:
            if account.error:
                coverage.extend(_account_failure(account, default_regions))
                continue
            coverage.extend(_skipped(account))
            futures.extend(pool.submit(collect_unit, "region", REGION_COLLECTORS, account.session, r)
                           for r in account.regions)
            if sessions.partition == "aws":
                futures.append(pool.submit(collect_unit, "marketplace", MARKETPLACE_COLLECTORS, account.session,
                                           marketplace.AGREEMENT_REGION))
        done = 0
        total = len(futures)
        if progress:
            progress(0, total)
        for future in cf.as_completed(futures):
            unit = future.result()
            coverage.append(unit.coverage())
            for kind, recs in unit.records.items():
                records[kind].extend(recs)
            done += 1
            if progress:
                progress(done, total)

    scope = {
        "mode": "org" if request.org else ("accounts" if request.accounts else "caller"),
        "caller_account_id": caller.account_id,
        "accounts": targets,
        "regions": sorted({r for a in accounts for r in a.regions} | set(default_regions)),
        "role_name": request.role_name,
    }
    account_records = [{"account_id": a.account_id, "name": a.name, "in_organization": a.in_organization,
                        "crawled": a.error is None} for a in accounts]
    return CrawlResult(scope, organization, account_records, coverage, dict(records))


def _organization(caller: AccountSession, region: str, required: bool) -> tuple[dict | None, list[dict]]:
    """The organization and its accounts; with --org a failure is fatal, otherwise best effort."""
    client = caller.client("organizations", region)
    try:
        org = organizations.get_organization(client)
        accounts = organizations.get_accounts(client)
    except AWS_ERRORS as exc:
        if required:
            raise AccessError(f"--org: cannot list the organization's accounts: {error_code(exc)}: {error_message(exc)}")
        return None, []
    return organizations.transform_organization(org, accounts), accounts


def _enter(account: Account, sessions: AwsSessions, caller: AccountSession, request: CrawlRequest,
           home: str, explicit: list[str] | None, default_regions: list[str], caller_regions: list[dict] | None) -> None:
    """Get a session for the account and decide which regions to crawl there."""
    try:
        if account.account_id == caller.account_id:
            account.session = caller
        else:
            account.session = sessions.assume(account.account_id, request.role_name, request.external_id)
    except AWS_ERRORS as exc:
        account.error = {"error_code": error_code(exc), "message": "sts:AssumeRole: " + error_message(exc)}
        return
    try:
        raw = caller_regions if account.session is caller and caller_regions is not None else \
            organizations.get_regions(account.session.client("ec2", home))
        enabled = set(organizations.opted_in(raw))
    except AWS_ERRORS:
        enabled = None  # cannot tell: crawl what was asked, failures will say the rest
    if explicit is None and request.regions == [ALL]:
        account.regions = sorted(enabled) if enabled is not None else default_regions
    else:
        account.regions = [r for r in default_regions if enabled is None or r in enabled]
        account.skipped = [r for r in default_regions if enabled is not None and r not in enabled]


def _account_failure(account: Account, regions: list[str]) -> list[dict]:
    return [{"account_id": account.account_id, "region": r, "kind": "region", "status": "error",
             "error_code": account.error["error_code"], "message": account.error["message"],
             "failed_operations": ["sts:AssumeRole"]} for r in regions]


def _skipped(account: Account) -> list[dict]:
    return [{"account_id": account.account_id, "region": r, "kind": "region", "status": "skipped",
             "error_code": "RegionNotEnabled", "message": f"{r} is not enabled (not opted in) for this account",
             "failed_operations": []} for r in account.skipped]
