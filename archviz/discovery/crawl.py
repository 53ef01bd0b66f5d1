"""Fan-out: accounts, then (account, region) units on a thread pool, with coverage.

The crawl is bound by latency, not CPU: every independent request is in flight at once,
within the limits AWS sets. API rate limits are per account and region, so units of different
accounts and regions run wide (:func:`default_concurrency`), while one account-region has at
most ``UNIT_WIDTH`` requests in flight and the caller at most ``ENTRY_WIDTH`` ``AssumeRole``
calls. Units start as soon as their account is entered.

A unit that fails never sinks the crawl: its failure is recorded in ``coverage`` with the
AWS error code, and the rest completes."""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import gc
import threading
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Callable, Iterator

from archviz.discovery import context, endpoints, load_balancers, marketplace, network, organizations, services
from archviz.discovery.aws import (AWS_ERRORS, ENTRY_WIDTH, ROLE_SESSION_NAME, UNIT_WIDTH, AccountSession, AwsSessions,
                                   Lane, error_code, error_message, together)
from archviz.discovery.credentials import check_regions
from archviz.discovery.unit import Unit
from archviz.errors import AccessError, InputError, ReadOnlyViolation, ReplayError

MAX_CONCURRENCY = 64
ORG_WIDTH = 4  # the OU tree's lookups in flight at once (AWS Organizations has low rate limits)
GC_THRESHOLD = 10_000  # allocations between two young-generation collections during a crawl (Python: 700)
ALL = "all"
Progress = Callable[[int, int], None]
Collector = Callable[[Unit, AccountSession, str], None]


def default_concurrency(units: int) -> int:
    """One worker per unit, up to ``MAX_CONCURRENCY``: units are account-regions, whose AWS rate
    limits are separate, so width costs nothing against AWS; past 64 a small machine's CPU, not
    the network, bounds the crawl."""
    return max(1, min(MAX_CONCURRENCY, units))


@dataclass
class CrawlRequest:
    profile: str | None = None
    org: bool = False
    accounts: list[str] | None = None
    ou_ids: list[str] | None = None  # the ACTIVE accounts under these OUs (or roots), at any depth
    role_name: str | None = None
    external_id: str | None = None
    regions: list[str] | None = None  # None: the session's region; ["all"]: every opted-in region
    concurrency: int | None = None  # None: default_concurrency(number of units)
    role_session_name: str = ROLE_SESSION_NAME
    duration_seconds: int | None = None  # None: AssumeRole's default (one hour)

    def record(self) -> dict:
        """The request as a raw folder keeps it: what was asked, never the profile or external id."""
        return {"org": self.org, "accounts": self.accounts, "ou_ids": self.ou_ids, "role_name": self.role_name,
                "external_id_given": self.external_id is not None, "regions": self.regions,
                "role_session_name": self.role_session_name, "duration_seconds": self.duration_seconds}

    @classmethod
    def from_record(cls, record: dict, concurrency: int | None = None) -> "CrawlRequest":
        """The request a raw folder recorded (to replay it): its scope, with its regions."""
        def ids(key: str) -> list[str] | None:
            value = record.get(key)
            if value is not None and not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
                raise InputError(f"the recorded request's {key} is not a list of ids")
            return value

        role, name, duration = record.get("role_name"), record.get("role_session_name"), record.get("duration_seconds")
        return cls(org=record.get("org") is True, accounts=ids("accounts"), ou_ids=ids("ou_ids"),
                   role_name=role if isinstance(role, str) else None, regions=ids("regions"),
                   external_id="(recorded)" if record.get("external_id_given") else None, concurrency=concurrency,
                   role_session_name=name if isinstance(name, str) else ROLE_SESSION_NAME,
                   duration_seconds=duration if isinstance(duration, int) and not isinstance(duration, bool) else None)

    def sessions(self, hooks: object = None, region: str | None = None) -> AwsSessions:
        """The sessions this request crawls with (``hooks``: a recorder or a replayer)."""
        return AwsSessions(profile=self.profile, region=region, hooks=hooks, role_session_name=self.role_session_name,
                           duration_seconds=self.duration_seconds)


@dataclass
class Account:
    account_id: str
    name: str | None
    in_organization: bool
    session: AccountSession | None = None
    regions: list[str] = field(default_factory=list)
    error: dict | None = None
    enabled: set[str] | None = None  # the regions it has enabled, once asked (DescribeRegions)
    asked: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)

    def region_disabled(self, region: str, home: str) -> bool:
        """Whether the account has not enabled ``region``: asked once per account, and only
        when a region answered ``AuthFailure`` (what AWS answers in a region not opted in)."""
        with self.lock:
            if not self.asked:
                self.asked = True
                try:
                    self.enabled = set(organizations.opted_in(organizations.get_regions(self.session.client("ec2", home))))
                except AWS_ERRORS:
                    self.enabled = None  # cannot tell: the unit's own error stands
        return self.enabled is not None and region not in self.enabled


@dataclass
class CrawlResult:
    scope: dict
    organization: dict | None
    accounts: list[dict]
    coverage: list[dict]
    records: dict[str, list[dict]]


# A unit runs its stages in order, the collectors of one stage at once; a later stage reads
# what earlier ones recorded (load balancers: the published services'; network: the endpoints'
# and load balancers').
REGION_STAGES: tuple[tuple[Collector, ...], ...] = (
    (endpoints.collect, services.collect),  # consumer side, provider side
    (load_balancers.collect,),
    (network.collect,),
)
MARKETPLACE_STAGES: tuple[tuple[Collector, ...], ...] = ((marketplace.collect,),)


def collect_unit(kind: str, stages: tuple[tuple[Collector, ...], ...], session: AccountSession, region: str,
                 disabled: Callable[[str], bool] | None = None, workers: cf.Executor | None = None) -> Unit:
    """Run one unit; an unexpected failure is recorded for that unit instead of ending the crawl.
    ``disabled(region)``: whether the account has not enabled the region, asked when every call
    failed with ``AuthFailure`` (inside the unit: its answer is one of the unit's). ``workers``:
    the crawl's threads for the units' independent calls (default: the unit's own)."""
    # The unit's own thread sends requests too: UNIT_WIDTH in flight at most.
    with contextlib.ExitStack() as stack:
        if workers is None:
            workers = stack.enter_context(cf.ThreadPoolExecutor(max_workers=UNIT_WIDTH - 1,
                                                                thread_name_prefix="archviz-unit"))
        notes = stack.enter_context(context.unit((kind, session.account_id, region), session.hooks))
        lane = Lane(workers, UNIT_WIDTH - 1)
        stack.callback(lane.wait)  # first on the way out: the unit's calls end before the unit does
        unit = Unit(session.account_id, region, kind, lane)
        try:
            for stage in stages:
                unit.together(*(lambda collect=collect: collect(unit, session, region) for collect in stage))
            if disabled is not None and unit.failed_with("AuthFailure") and disabled(region):
                unit.skip("RegionNotEnabled", f"{region} is not enabled (not opted in) for this account")
        except (ReadOnlyViolation, ReplayError):
            raise  # a bug in archviz, or a replay that cannot go on: never a coverage gap
        except Exception as exc:  # noqa: BLE001 - one account's odd data must not sink the others
            unit = Unit(session.account_id, region, kind)
            unit.failures.append({"operation": "archviz", "error_code": "InternalError",
                                  "message": f"{type(exc).__name__}: {exc} (please report this)"})
    unit.notes, unit.timed = notes, bool(getattr(session.hooks, "resumed", False))
    return unit


def _region_unit(account: Account, region: str, home: str, workers: cf.Executor) -> Unit:
    return collect_unit("region", REGION_STAGES, account.session, region,
                        lambda r: account.region_disabled(r, home), workers)


def crawl(request: CrawlRequest, progress: Progress | None = None, sessions: AwsSessions | None = None) -> CrawlResult:
    """Crawl what ``request`` asks for. ``sessions`` (default: the request's profile) may carry
    hooks that record the answers or replay recorded ones (:mod:`raw`)."""
    sessions = sessions or request.sessions()
    explicit = None if request.regions in (None, [ALL]) else sorted(set(request.regions))
    if explicit:
        check_regions(explicit, sessions.loader)
    home = sessions.region or (explicit[0] if explicit else None)
    if home is None:
        raise InputError("no AWS region configured: set AWS_REGION or AWS_DEFAULT_REGION "
                         "(or the profile's region), or pass --regions")
    if home not in (explicit or []):
        check_regions([home], sessions.loader, "the session's region (AWS_REGION, AWS_DEFAULT_REGION or the profile's)")
    sessions.region = home
    caller = _identify(sessions)
    began = getattr(sessions.hooks, "began", None)  # a recorder starts its journal
    if began is not None:
        began(home)
    with context.unit(("scope",), sessions.hooks):
        org = _Organization(caller, home, required=request.org or bool(request.ou_ids))
        targets = _targets(request, caller, org)
        if any(t != caller.account_id for t in targets) and not request.role_name:
            raise InputError("--role-name is required to crawl accounts other than the caller's own")
        default_regions, caller_regions = _default_regions(request, caller, home, explicit)
    accounts = [Account(t, org.names.get(t), t in org.names) for t in targets]
    try:
        with fewer_collections():
            coverage, records = _fan_out(request, sessions, caller, org, accounts, home, explicit, default_regions,
                                         caller_regions, progress)
    finally:
        sessions.close()
    coverage.extend(org.coverage)
    return CrawlResult(_scope(request, caller, targets, accounts, default_regions), org.record(),
                       _account_records(accounts, org.placement()), coverage, records)


@contextlib.contextmanager
def fewer_collections(threshold: int = GC_THRESHOLD) -> Iterator[None]:
    """Python's cyclic garbage collector less often while the crawl runs (and, in
    :mod:`archviz.pipeline`, while its snapshot is analyzed and written): a crawl keeps
    hundreds of thousands of objects alive (the clients and what they answered, the recorded
    answers with ``--raw``) and makes few cycles, so each full collection walks them all for
    nothing; at the default threshold (700 allocations) that was a quarter of the crawl's CPU,
    and one full collection during the analysis of a recorded dense crawl cost 0.3 s."""
    old = gc.get_threshold()
    gc.set_threshold(max(threshold, old[0]), *old[1:])
    try:
        yield
    finally:
        gc.set_threshold(*old)


def _identify(sessions: AwsSessions) -> AccountSession:
    """Who the credentials are (sts:GetCallerIdentity): nothing is crawled without it. A profile,
    endpoint or SSO session that fails first is its own error (:func:`credentials.first_contact`)."""
    try:
        return sessions.caller()
    except AWS_ERRORS as exc:
        raise AccessError(f"cannot identify the caller (sts:GetCallerIdentity): {error_code(exc)}: {error_message(exc)}")


def _default_regions(request: CrawlRequest, caller: AccountSession, home: str,
                     explicit: list[str] | None) -> tuple[list[str], list[dict] | None]:
    """The regions every account is crawled in unless its own answer says otherwise, and the
    caller's DescribeRegions answer when it was asked already (``--regions all``)."""
    if explicit:
        return explicit, None
    if request.regions != [ALL]:
        return [home], None
    try:
        caller_regions = organizations.get_regions(caller.client("ec2", home))
        return organizations.opted_in(caller_regions), caller_regions
    except AWS_ERRORS as exc:
        raise AccessError(f"--regions all: cannot list regions (ec2:DescribeRegions): {error_code(exc)}: {error_message(exc)}")


def _fan_out(request, sessions, caller, org, accounts, home, explicit, default_regions, caller_regions,
             progress) -> tuple[list[dict], dict[str, list[dict]]]:
    """Every account entered (its role assumed, its regions known), then every account-region and
    Marketplace unit crawled in parallel: their coverage and records, in the order they finished."""
    per_account = len(default_regions) + (1 if sessions.partition == "aws" else 0)
    width = request.concurrency or default_concurrency(len(accounts) * per_account)
    sessions.widen(width * UNIT_WIDTH)
    coverage: list[dict] = []
    records: dict[str, list[dict]] = defaultdict(list)
    with cf.ThreadPoolExecutor(max_workers=ENTRY_WIDTH, thread_name_prefix="archviz-entry") as entry_pool, \
            cf.ThreadPoolExecutor(max_workers=width, thread_name_prefix="archviz-crawl") as pool, \
            cf.ThreadPoolExecutor(max_workers=width * (UNIT_WIDTH - 1), thread_name_prefix="archviz-unit") as workers:
        # The OU tree places accounts in OUs: read when the crawl spans the organization or a list
        # of its accounts (a slice); a crawl of the caller's own account alone does not walk it.
        spans = request.org or bool(request.accounts)
        tree = entry_pool.submit(_in_unit, ("tree",), sessions.hooks, org.read_tree) \
            if org.tree is None and spans else None
        entries = [entry_pool.submit(_enter, a, sessions, caller, request, explicit, default_regions, caller_regions)
                   for a in accounts]
        futures = []
        for entry in cf.as_completed(entries):
            account = entry.result()
            if account.error:
                coverage.extend(_account_failure(account, default_regions))
                continue
            for kind, _, region in _units_of(account, sessions.partition):
                futures.append(pool.submit(_region_unit, account, region, home, workers) if kind == "region" else
                               pool.submit(collect_unit, kind, MARKETPLACE_STAGES, account.session, region, None,
                                           workers))
        if tree is not None:
            tree.result()
        done, total = 0, len(futures)
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
    return coverage, dict(records)


def _scope(request: CrawlRequest, caller: AccountSession, targets: list[str], accounts: list[Account],
           default_regions: list[str]) -> dict:
    scope = {
        "mode": "org" if request.org else "ou" if request.ou_ids else ("accounts" if request.accounts else "caller"),
        "caller_account_id": caller.account_id,
        "accounts": targets,
        "regions": sorted({r for a in accounts for r in a.regions} | set(default_regions)),
        "role_name": request.role_name,
    }
    if request.ou_ids:
        scope["ou_ids"] = sorted(set(request.ou_ids))
    return scope


def _account_records(accounts: list[Account], where: dict) -> list[dict]:
    out = []
    for a in accounts:
        ou_id, ou_path = where.get(a.account_id, (None, None))
        out.append({"account_id": a.account_id, "name": a.name, "in_organization": a.in_organization,
                    "crawled": a.error is None, "ou_id": ou_id, "ou_path": ou_path})
    return out


class _Organization:
    """The organization, its accounts (ListAccounts, paged through once) and its OU tree.

    Without --org or --ou it is best effort (a member account cannot list the organization).
    The OU tree is an optional permission: when it cannot be read, the crawl goes on and
    ``coverage`` says so (kind ``organization``), except with --ou, which needs it."""

    def __init__(self, caller: AccountSession, region: str, required: bool):
        self.caller_id, self.region = caller.account_id, region
        self.client = caller.client("organizations", region)
        self.org: dict | None = None
        self.accounts: list[dict] = []
        self.tree: dict | None = None
        self.coverage: list[dict] = []
        try:
            self.org = organizations.get_organization(self.client)
            self.accounts = organizations.get_accounts(self.client)
        except AWS_ERRORS as exc:
            if required:
                raise AccessError(f"cannot list the organization's accounts: {error_code(exc)}: {error_message(exc)}")
            self.org = None
        self.names = {a["Id"]: a.get("Name") for a in self.accounts}

    def read_tree(self, required: bool = False) -> None:
        if self.org is None:
            return
        operations = ["organizations:ListRoots", "organizations:ListOrganizationalUnitsForParent",
                      "organizations:ListAccountsForParent"]
        entry = {"account_id": self.caller_id, "region": self.region, "kind": "organization", "status": "ok",
                 "error_code": None, "message": None, "failed_operations": []}
        try:
            with cf.ThreadPoolExecutor(max_workers=ORG_WIDTH, thread_name_prefix="archviz-org") as pool:
                self.tree = organizations.get_tree(self.client, lambda *calls: together(*calls, pool=pool))
        except AWS_ERRORS as exc:
            if required:
                raise AccessError(f"--ou: cannot read the organization's OU tree: {error_code(exc)}: {error_message(exc)}")
            entry.update(status="error", error_code=error_code(exc),
                         message="the OU tree could not be read, so accounts are not grouped by OU: "
                                 + error_message(exc), failed_operations=operations)
        self.coverage = [entry]

    def placement(self) -> dict:
        return organizations.placement(self.tree)

    def record(self) -> dict | None:
        return None if self.org is None else organizations.transform_organization(self.org, self.accounts, self.tree)


def _targets(request: CrawlRequest, caller: AccountSession, org: _Organization) -> list[str]:
    active = {a["Id"] for a in org.accounts if a.get("Status", "ACTIVE") == "ACTIVE"}
    if request.org:
        return sorted(active)
    if request.ou_ids:
        org.read_tree(required=True)
        unknown = sorted(set(request.ou_ids) - organizations.known_nodes(org.tree))
        if unknown:
            raise InputError(f"--ou: not an organizational unit or root of this organization: {', '.join(unknown)}")
        return sorted(organizations.under(org.tree, request.ou_ids) & active)
    return sorted(set(request.accounts or [caller.account_id]))


def _enter(account: Account, sessions: AwsSessions, caller: AccountSession, request: CrawlRequest,
           explicit: list[str] | None, default_regions: list[str], caller_regions: list[dict] | None) -> Account:
    """Get a session for the account and decide which regions to crawl there. Only --regions all
    asks the account which regions it has enabled; listed regions are crawled directly, and one
    that answers AuthFailure is checked then (see :meth:`Account.region_disabled`)."""
    with context.unit(("entry", account.account_id), sessions.hooks) as notes:
        _entered(account, sessions, caller, request, explicit, default_regions, caller_regions)
        notes.units = [] if account.error else _units_of(account, sessions.partition)
    return account


def _units_of(account: Account, partition: str) -> list[context.UnitKey]:
    """The units an entered account is crawled in (what a resumed crawl checks for completion)."""
    units = [("region", account.account_id, r) for r in account.regions]
    if partition == "aws":
        units.append(("marketplace", account.account_id, marketplace.AGREEMENT_REGION))
    return units


def _in_unit(key: context.UnitKey, hooks: object, call: Callable[[], object]) -> object:
    with context.unit(key, hooks):
        return call()


def _entered(account: Account, sessions: AwsSessions, caller: AccountSession, request: CrawlRequest,
             explicit: list[str] | None, default_regions: list[str], caller_regions: list[dict] | None) -> None:
    try:
        if account.account_id == caller.account_id:
            account.session = caller
        else:
            account.session = sessions.assume(account.account_id, request.role_name, request.external_id)
    except AWS_ERRORS as exc:
        account.error = {"error_code": error_code(exc), "message": "sts:AssumeRole: " + error_message(exc)}
        return
    account.regions = default_regions
    if explicit is None and request.regions == [ALL]:
        try:
            raw = caller_regions if account.session is caller and caller_regions is not None else \
                organizations.get_regions(account.session.client("ec2", sessions.region))
            account.enabled, account.asked = set(organizations.opted_in(raw)), True
            account.regions = sorted(account.enabled)
        except AWS_ERRORS:
            pass  # cannot tell: crawl what was asked, failures will say the rest


def _account_failure(account: Account, regions: list[str]) -> list[dict]:
    return [{"account_id": account.account_id, "region": r, "kind": "region", "status": "error",
             "error_code": account.error["error_code"], "message": account.error["message"],
             "failed_operations": ["sts:AssumeRole"]} for r in regions]
