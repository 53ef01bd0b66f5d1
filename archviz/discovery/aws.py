"""The only place archviz builds AWS sessions and clients.

- Every client is read-only by construction: an operation that is not in the table of
  ``permissions.py`` (the exact operations archviz calls) is refused before it is serialized
  or sent.
- Every client retries throttling and transient errors in botocore's standard retry mode
  (unless ``AWS_RETRY_MODE`` or the profile's ``retry_mode`` chooses another; likewise
  ``AWS_MAX_ATTEMPTS`` and ``max_attempts`` over :data:`DEFAULT_MAX_ATTEMPTS`):
  each throttled call backs off on its own, exponentially with jitter, capped at a jittered
  ``MAX_BACKOFF``. Clients are per account and region, as AWS's API rate limits are, and a unit
  keeps at most ``UNIT_WIDTH`` requests in flight, so a throttled account-region slows only
  itself. (botocore's adaptive mode adds a
  client-side rate limiter that starts from the rate it has measured, about zero for a client
  that sends a handful of requests: one throttle clamps it to 0.5 requests a second, which made
  a crawl with 30 % of calls throttled 6 to 7 times slower, and a shared STS client's limiter
  serialized every account's AssumeRole.)
- Every session shares one botocore loader, so the service models (the EC2 model alone is
  megabytes of JSON) are parsed once per crawl instead of once per account.
- A crawl's CPU goes into the lifecycle of sessions, clients and connections, not into
  PrivateLink: the member accounts' clients come from one botocore session (each signing with
  its own account's assumed-role credentials), archviz's sessions carry botocore's built-in event
  handlers only for the services archviz calls, and every account's client of one endpoint
  shares one HTTP session (:class:`Pools`), closed once when the crawl ends. A unit's
  independent calls run on the crawl's threads, within the unit's :class:`Lane`.
- Endpoints are never hard-coded: botocore's own configuration (``AWS_ENDPOINT_URL``,
  profiles) decides where requests go. The region is resolved as the AWS CLI v2 does it.
- One session recipe for every account: an assumed role's session is built on the caller's
  profile too, so its settings (``ca_bundle``, ``endpoint_url`` and service endpoints, FIPS and
  dual-stack, retries) reach every client; only the credentials differ (:mod:`.credentials`).
- Credentials stay in memory; nothing here logs or writes them. Credentials that AWS says have
  expired are renewed and the call sent again (:mod:`.credentials`).
- ``hooks`` (:mod:`raw`) are attached to every client: a recorder keeps AWS's answers, a
  replayer serves recorded answers instead of sending anything.
"""

from __future__ import annotations

import concurrent.futures as cf
import os
import random
import re
import threading
import weakref
from typing import Any, Callable, Iterable, Iterator

import botocore.client
import botocore.configprovider as configprovider
import botocore.endpoint
import botocore.handlers
import botocore.hooks
import botocore.loaders
import botocore.session
from botocore.config import Config
from botocore.credentials import CredentialResolver, RefreshableCredentials, create_credential_resolver
from botocore.exceptions import BotoCoreError, ClientError, ProfileNotFound
from botocore.httpsession import URLLib3Session
from botocore.utils import EVENT_ALIASES
from botocore.retries import standard

from archviz import __version__
from archviz.discovery import context
from archviz.discovery.credentials import Renewal, assumed_role, first_contact, renew_when_expired
from archviz.discovery.permissions import is_allowed
from archviz.errors import InputError, ReadOnlyViolation

DEFAULT_MAX_ATTEMPTS = 10
# Requests in flight at once: per account-region (gentle: AWS throttles per account and region)
# and for sts:AssumeRole from the caller (all counted against the caller's account).
UNIT_WIDTH = 4
ENTRY_WIDTH = 16
ROLE_SESSION_NAME = "archviz"


# botocore builds, for every client, a service model (800 operation models for EC2, whose shapes
# each client then resolves again) and a client class (one method per operation): about 20 ms of
# CPU and 1.4 MB per client. A crawl makes a client per account and region, so for archviz's own
# sessions (all configured alike, marked by ``_core``, sharing one loader per crawl) both are built
# once per loader, service and API version and shared; they are read-only once built, and go
# with the loader. Other sessions are left to botocore as is.
_shared: "weakref.WeakKeyDictionary[Any, dict]" = weakref.WeakKeyDictionary()  # per loader: one per crawl
_shared_lock = threading.Lock()
_ORIGINAL = {name: getattr(botocore.client.ClientCreator, name)
             for name in ("_load_service_model", "_create_client_class")}


def _sharing(name: str) -> Callable:
    original = _ORIGINAL[name]

    def build(self: botocore.client.ClientCreator, service_name: str, arg: Any = None) -> Any:
        if not getattr(self._event_emitter, "archviz_session", False):
            return original(self, service_name, arg)
        key = (name, service_name, arg if name == "_load_service_model" else arg.api_version)
        with _shared_lock:
            built = _shared.setdefault(self._loader, {})
            if key not in built:
                built[key] = original(self, service_name, arg)
            return built[key]

    build.__doc__ = f"botocore's ``{name}``, built once per service for archviz's sessions."
    return build


for _name in _ORIGINAL:
    setattr(botocore.client.ClientCreator, _name, _sharing(_name))

# botocore renames some event names (its table of aliases) on every emit and register, through a
# cache that each client's copy of the session's events starts empty: a crawl's clients would
# work the same names out again, client after client. The names depend on the event
# name alone (archviz's sessions keep botocore's table), so archviz's sessions share one cache.
_ALIASED: dict[str, str] = {}
_copy_aliaser = botocore.hooks.EventAliaser.__copy__


def _aliaser_copy(self: botocore.hooks.EventAliaser) -> botocore.hooks.EventAliaser:
    new = _copy_aliaser(self)
    if getattr(self, "archviz_session", False):
        new.archviz_session, new.archviz_pools = True, getattr(self, "archviz_pools", None)
        new._alias_name_cache = self._alias_name_cache
    return new


botocore.hooks.EventAliaser.__copy__ = _aliaser_copy

# A throttled call waits at most a jittered MAX_BACKOFF seconds before it is sent again (botocore's
# standard mode waits up to 20 s). AWS throttles per account, region and API with token buckets
# that refill every second (EC2's Describe calls: 20 tokens a second), and archviz keeps at most
# UNIT_WIDTH requests of one account-region in flight: a short wait is enough, and a long one on a
# single call holds up the end of the whole crawl.
MAX_BACKOFF = 2.0
_register_retries = botocore.client.ClientCreator._register_retries


def _capped(needs_retry: Callable[..., float | None]) -> Callable[..., float | None]:
    def capped(**kwargs: Any) -> float | None:
        delay = needs_retry(**kwargs)
        return delay if delay is None else min(delay, MAX_BACKOFF * random.random())
    return capped


def _archviz_retries(self: botocore.client.ClientCreator, client: Any) -> None:
    """botocore's standard retries (which calls to retry, how often, its retry quota), with the
    delay capped (:data:`MAX_BACKOFF`), for archviz's sessions; another mode the user chose
    (``legacy``, ``adaptive``) is botocore's own."""
    if not getattr(self._event_emitter, "archviz_session", False) or client.meta.config.retries.get("mode") != "standard":
        return _register_retries(self, client)
    handler = standard.register_retry_handler(client, max_attempts=client.meta.config.retries.get("total_max_attempts"))
    name = client.meta.service_model.service_id.hyphenize()
    client.meta.events.unregister(f"needs-retry.{name}", unique_id=f"retry-config-{name}")
    client.meta.events.register(f"needs-retry.{name}", _capped(handler.needs_retry), unique_id=f"retry-config-{name}")


botocore.client.ClientCreator._register_retries = _archviz_retries


def _refuse_unlisted(model: Any, **_: Any) -> None:
    """Runs first on every call (``provide-client-params``), so a refused call is never sent."""
    service = model.service_model.service_name
    if not is_allowed(service, model.name):
        raise ReadOnlyViolation(
            f"archviz is read-only: refused {service}:{model.name} before sending it"
        )


def error_code(exc: BaseException) -> str:
    """A short, stable code for a failed AWS call (the AWS error code where there is one)."""
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code") or "ClientError")
    return getattr(exc, "archviz_code", None) or type(exc).__name__  # archviz_code: a replayed failure


def error_message(exc: BaseException) -> str:
    """The error's message, credentials removed (:func:`redact`): it goes into the snapshot."""
    if isinstance(exc, ClientError):
        err = exc.response.get("Error", {})
        op = getattr(exc, "operation_name", "")
        msg = err.get("Message") or str(exc)
        return redact(f"{op}: {msg}" if op else msg)
    return redact(" ".join(str(exc).split()) or type(exc).__name__)


# Credentials never reach a snapshot or a recording, even inside free text (an AWS error about a
# bad signature can quote the request it saw): every credential archviz obtains is remembered
# here, in memory, and removed wherever it appears, as are the signing fields' values.
REMOVED = "removed-by-archviz"
_secrets: set[str] = set()
_secret_bytes: set[bytes] = set()  # the same, encoded, for the last check over whole files
_secrets_lock = threading.Lock()
_SIGNING_TEXT = re.compile(r"(?i)\b(x-amz-security-token|x-amz-signature|x-amz-credential|signature|credential)"
                           r"(\s*[:=]\s*)(?!removed-by-archviz)[^\s,;&'\"<>]+")
_ACCESS_KEY_ID = re.compile(r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b")


# Where a credential can stand in text: a run of base64 characters (keys, secrets and session
# tokens are such runs), looked up whole in the set of credentials: one regular-expression pass
# over the text and set lookups, whatever the number of credentials a large crawl holds.
_RUN = re.compile(r"[A-Za-z0-9/+]{16,}={0,2}")
_RUN_BYTES = re.compile(rb"[A-Za-z0-9/+]{16,}={0,2}")


def remember_secrets(*values: str | None) -> None:
    """Credentials to remove wherever they appear (a replay's placeholders are not credentials)."""
    kept = {v for v in values if isinstance(v, str) and len(v) >= 16 and REMOVED not in v}
    with _secrets_lock:
        _secrets.update(kept)
        _secret_bytes.update(v.encode("utf-8") for v in kept)


def redact(text: str) -> str:
    """``text`` without any credential archviz holds, signing field values or access key ids."""
    runs = set(_RUN.findall(text))
    if runs:
        with _secrets_lock:
            found = runs & _secrets
        for secret in sorted(found, key=len, reverse=True):
            text = text.replace(secret, REMOVED)
    text = _SIGNING_TEXT.sub(lambda m: f"{m.group(1)}{m.group(2)}{REMOVED}", text)
    return _ACCESS_KEY_ID.sub(REMOVED, text)


def holds_secret(data: bytes) -> bool:
    """Whether ``data`` holds a credential archviz obtained (the last check before a write)."""
    runs = _RUN_BYTES.findall(data)
    with _secrets_lock:
        return not _secret_bytes.isdisjoint(runs)


# A read-only violation is a bug, never a coverage gap: it is deliberately not listed here.
AWS_ERRORS = (ClientError, BotoCoreError)


class AccountSession:
    """Read-only clients for one account, built once per (service, region) and shared:
    creating a client costs CPU, botocore clients are thread-safe, botocore sessions are not."""

    def __init__(self, session: botocore.session.Session, account_id: str, config: Config, lock: threading.Lock,
                 hooks: Any = None, renewal: Renewal | None = None,
                 credentials: RefreshableCredentials | None = None):
        self._session = session
        self.account_id = account_id
        self._config = config
        self._lock = lock
        self.hooks = hooks
        self.renewal = renewal
        self.credentials = credentials  # a member's (assumed role): its clients sign with these
        self._clients: dict[tuple[str, str | None], Any] = {}

    def client(self, service: str, region: str | None) -> Any:
        keys: dict[str, Any] = {}
        if self.credentials is not None and (service, region) not in self._clients:
            frozen = self.credentials.get_frozen_credentials()  # (may renew them: outside the lock)
            keys = {"aws_access_key_id": frozen.access_key, "aws_secret_access_key": frozen.secret_key,
                    "aws_session_token": frozen.token}
        with self._lock:
            client = self._clients.get((service, region))
            if client is None:
                client = self._session.create_client(service, region_name=region, config=self._config, **keys)
                if self.credentials is not None:
                    # botocore makes a client of explicit keys sign with fixed credentials: this
                    # one signs with the role's, which botocore renews before they expire.
                    client._request_signer._credentials = self.credentials
                _prepare(client, self.hooks, self.account_id, region, self.renewal)
                self._clients[(service, region)] = client
        return client


# The services archviz calls (permissions.py's table), as botocore names them in event names.
SERVICE_IDS = frozenset({"ec2", "elastic-load-balancing-v2", "sts", "organizations", "marketplace-agreement"})


def _register_builtin_handlers(core: botocore.session.Session) -> None:
    """botocore's built-in event handlers, as ``Session(include_builtin_handlers=True)``
    registers them, less those of the services archviz never calls (S3's alone are 37 of 127):
    each client copies its session's handlers, so fewer of them make every client cheaper.
    A handler is kept unless its event names another service."""
    events = core.get_component("event_emitter")
    for event_name, handler, *where in botocore.handlers.BUILTIN_HANDLERS:
        parts = event_name.split(".")
        if len(parts) > 1 and parts[1] != "*" and EVENT_ALIASES.get(parts[1], parts[1]) not in SERVICE_IDS:
            continue
        if not where:
            core.register(event_name, handler)
        elif where[0] is botocore.handlers.REGISTER_FIRST:
            events.register_first(event_name, handler)
        elif where[0] is botocore.handlers.REGISTER_LAST:
            events.register_last(event_name, handler)


class Pools:
    """The crawl's HTTP connections: one botocore HTTP session (a urllib3 pool manager) per
    endpoint and settings, shared by every account's client of that endpoint, and closed once
    when the crawl ends.

    botocore gives each client its own, with its own SSL context and a scan of the environment
    for proxies. A crawl makes a client per account, region and service, so each account would
    open its own connections (on AWS, a TLS handshake each) and leave a pool behind to be torn
    down. Connections carry no credentials (each request is signed on its own), so the clients of
    one endpoint share them; a pool keeps as many idle connections as the crawl keeps requests
    in flight (:meth:`AwsSessions.widen`)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sessions: dict[tuple[str, str], Any] = {}
        self._proxies: dict[str, dict] = {}

    def proxies(self, endpoint_url: str, find: Callable[[], dict]) -> dict:
        """The proxies for ``endpoint_url`` from the environment, looked up once per endpoint."""
        with self._lock:
            if endpoint_url not in self._proxies:
                self._proxies[endpoint_url] = find()
            return self._proxies[endpoint_url]

    def session_for(self, endpoint_url: str) -> Callable[..., Any]:
        """What botocore calls to make a client's HTTP session: the one already made for this
        endpoint with exactly these settings, or a new one."""
        def make(**settings: Any) -> Any:
            key = (endpoint_url, repr(sorted(settings.items())))
            with self._lock:
                if key not in self._sessions:
                    self._sessions[key] = URLLib3Session(**settings)
                return self._sessions[key]
        return make

    def __len__(self) -> int:
        return len(self._sessions)

    def close(self) -> None:
        with self._lock:
            sessions, self._sessions = list(self._sessions.values()), {}
        for session in sessions:
            session.close()


_create_endpoint = botocore.endpoint.EndpointCreator.create_endpoint


def _pooled_endpoint(self: botocore.endpoint.EndpointCreator, service_model: Any, region_name: str | None,
                     endpoint_url: str, *args: Any, **kwargs: Any) -> Any:
    """botocore's endpoint for a client; for archviz's sessions, with the crawl's shared HTTP
    session (:class:`Pools`). botocore passes everything after the URL by name."""
    pools = getattr(self._event_emitter, "archviz_pools", None)
    if pools is None or args or "http_session_cls" in kwargs:
        return _create_endpoint(self, service_model, region_name, endpoint_url, *args, **kwargs)
    if kwargs.get("proxies") is None:
        kwargs["proxies"] = pools.proxies(endpoint_url, lambda: self._get_proxies(endpoint_url))
    return _create_endpoint(self, service_model, region_name, endpoint_url,
                            http_session_cls=pools.session_for(endpoint_url), **kwargs)


botocore.endpoint.EndpointCreator.create_endpoint = _pooled_endpoint


def _prepare(client: Any, hooks: Any, account_id: str, region: str | None, renewal: Renewal | None) -> None:
    """The read-only guard first (a refused call is never recorded nor sent), then the hooks, and
    the renewal of credentials AWS says have expired."""
    client.meta.events.register("provide-client-params", _refuse_unlisted)
    if hooks is not None:
        hooks.attach(client, account_id, region)
    if renewal is not None:
        renew_when_expired(client, renewal)


# Every botocore setting at its default, read from neither the environment nor a config file
# (config and credentials files: none); configured endpoint URLs ignored.
_OFFLINE_VARIABLES = {name: (None, None, default, convert)
                      for name, (_key, _env, default, convert) in configprovider.BOTOCORE_DEFAUT_SESSION_VARIABLES.items()}
_OFFLINE_VARIABLES.update(config_file=(None, None, os.devnull, None), credentials_file=(None, None, os.devnull, None),
                          ignore_configured_endpoint_urls=(None, None, True, None))
RETRY_MODES = ("standard", "adaptive", "legacy")


def _retries(core: botocore.session.Session, max_attempts: int) -> dict:
    """The retry settings archviz chooses, for those the user did not set (``AWS_RETRY_MODE`` and
    ``AWS_MAX_ATTEMPTS``, or the profile's ``retry_mode`` and ``max_attempts``): what is left out
    here, botocore reads from the user's configuration."""
    scoped = core.get_scoped_config()
    retries: dict[str, Any] = {}
    mode = os.environ.get("AWS_RETRY_MODE") or scoped.get("retry_mode")
    if mode is None:
        retries["mode"] = "standard"
    elif mode not in RETRY_MODES:
        raise InputError(f"retry mode {mode!r} (AWS_RETRY_MODE or the profile's retry_mode): choose "
                         f"{', '.join(RETRY_MODES)}")
    attempts = os.environ.get("AWS_MAX_ATTEMPTS") or scoped.get("max_attempts")
    if attempts is None:
        retries["total_max_attempts"] = max_attempts
    elif not str(attempts).isdigit() or int(attempts) < 1:
        raise InputError(f"max attempts {attempts!r} (AWS_MAX_ATTEMPTS or the profile's max_attempts): "
                         f"give a whole number of 1 or more")
    return retries


class AwsSessions:
    """Builds the caller's session and assumed-role sessions, all sharing one loader and one
    recipe: the caller's profile and its settings, with the role's credentials for a member.

    ``hooks``: a :class:`raw.Recorder` or :class:`raw.Replayer`, attached to every client. A
    replayer is offline: the sessions get placeholder credentials and no profile, so nothing
    reads the machine's AWS configuration or sends a request."""

    def __init__(self, profile: str | None = None, region: str | None = None,
                 max_attempts: int = DEFAULT_MAX_ATTEMPTS, max_pool_connections: int = 10, hooks: Any = None,
                 role_session_name: str = ROLE_SESSION_NAME, duration_seconds: int | None = None):
        self.hooks = hooks
        self.offline = bool(getattr(hooks, "offline", False))
        self.profile = None if self.offline else profile
        self.role_session_name, self.duration_seconds = role_session_name, duration_seconds
        self.loader = botocore.loaders.create_loader()
        self._lock = threading.Lock()
        self._sts: Any = None
        # botocore reads AWS_DEFAULT_REGION and the profile's region but not AWS_REGION, which the
        # AWS CLI v2 and the other SDKs honour before both.
        region = region or (None if self.offline else os.environ.get("AWS_REGION")) or None
        self.pools = Pools()
        try:
            caller_core, self._caller_cache = self._core()
            retries = {"mode": "standard", "total_max_attempts": max_attempts} if self.offline else \
                _retries(caller_core, max_attempts)
            if region:
                caller_core.set_config_variable("region", region)
            self._caller_core = caller_core
            self.region: str | None = caller_core.get_config_variable("region")
        except ProfileNotFound as exc:
            named = f"--profile {profile}" if profile else f"AWS_PROFILE={os.environ.get('AWS_PROFILE', '')}"
            raise InputError(f"{named}: no such profile in the AWS config and credentials files "
                             f"({exc.kwargs.get('profile', profile)!r} not found)") from None
        common = dict(user_agent_extra=f"archviz/{__version__}", connect_timeout=10, read_timeout=60)
        self.config = Config(retries=retries, max_pool_connections=max_pool_connections, **common)
        self._entry_config = Config(retries=dict(retries), max_pool_connections=max(ENTRY_WIDTH, max_pool_connections),
                                    **common)
        self._caller: AccountSession | None = None
        self._caller_renewal = None if self.offline else Renewal(self._caller_core.get_credentials, self._caller_cache)
        self.partition = "aws"
        self._members_lock = threading.Lock()
        self._member_session: botocore.session.Session | None = None

    def widen(self, in_flight: int) -> None:
        """Size the connection pools of the accounts entered from now on to the requests the
        crawl keeps in flight (botocore's default keeps 10 connections per client)."""
        self.config = self.config.merge(Config(max_pool_connections=max(in_flight, 10)))

    def close(self) -> None:
        """Close the crawl's connections (once, at its end)."""
        self.pools.close()

    def _core(self, members: bool = False) -> tuple[botocore.session.Session, dict]:
        """A botocore session on the caller's profile, and the (in-memory) cache of the
        credentials its providers fetch (assumed roles, SSO). With ``members``: the members'
        session, which finds no credentials at all (its clients are given theirs)."""
        cache: dict = {}
        if self.offline:  # nothing from the machine: no profile, config file, AWS_* variable or IMDS
            core = botocore.session.Session(session_vars=_OFFLINE_VARIABLES, include_builtin_handlers=False)
            _register_builtin_handlers(core)
            core.set_credentials("archviz-replay", "archviz-replay")
        else:
            core = botocore.session.Session(profile=self.profile, include_builtin_handlers=False)
            _register_builtin_handlers(core)
            core.get_scoped_config()  # an unknown profile fails here, not on the first call
            core.register_component("credential_provider",
                                    CredentialResolver([]) if members else create_credential_resolver(core, cache=cache))
        core.register_component("data_loader", self.loader)
        events = core.get_component("event_emitter")
        events.archviz_session, events.archviz_pools = True, self.pools  # see _sharing, _aliaser_copy, Pools
        events._alias_name_cache = _ALIASED
        return core, cache

    def caller(self) -> AccountSession:
        """The caller's own account, identified with sts:GetCallerIdentity."""
        if self._caller is None:
            try:
                credentials = None if self.offline else self._caller_core.get_credentials()
                if credentials is not None:
                    frozen = credentials.get_frozen_credentials()
                    remember_secrets(frozen.access_key, frozen.secret_key, frozen.token)
                probe = AccountSession(self._caller_core, "", self.config, self._lock, self.hooks, self._caller_renewal)
                ident = probe.client("sts", self.region).get_caller_identity()
            except (BotoCoreError, ValueError) as exc:
                error = first_contact(exc, self.profile or os.environ.get("AWS_PROFILE"))
                if error is None:
                    raise
                raise error from None
            self.partition = ident["Arn"].split(":")[1]
            self._caller = AccountSession(self._caller_core, ident["Account"], self.config, self._lock, self.hooks,
                                          self._caller_renewal)
        return self._caller

    def _entry_client(self) -> Any:
        """The caller's STS client for AssumeRole, with a connection pool as wide as the entries."""
        with self._lock:
            if self._sts is None:
                self._sts = self._caller_core.create_client("sts", region_name=self.region, config=self._entry_config)
                _prepare(self._sts, self.hooks, self._caller.account_id if self._caller else "", self.region,
                         self._caller_renewal)
        return self._sts

    def assume(self, account_id: str, role_name: str, external_id: str | None = None) -> AccountSession:
        """Assume ``role_name`` in ``account_id`` now; botocore renews the credentials from then on
        (:func:`credentials.assumed_role`), and archviz when AWS says they expired early."""
        extra: dict[str, Any] = {"RoleSessionName": self.role_session_name}
        if external_id:
            extra["ExternalId"] = external_id
        if self.duration_seconds:
            extra["DurationSeconds"] = self.duration_seconds
        cache: dict = {}
        credentials = assumed_role(self._entry_client, self._caller_core.get_credentials(),
                                   f"arn:{self.partition}:iam::{account_id}:role/{role_name}", extra, cache,
                                   remember_secrets)
        renewal = None if self.offline else Renewal(lambda: credentials, cache)
        return AccountSession(self._members(), account_id, self.config, self._lock, self.hooks, renewal, credentials)

    def _members(self) -> botocore.session.Session:
        """The one session the member accounts' clients are made from: the caller's profile and
        its settings, and no credentials of its own (each client is given its account's role's).
        A botocore session costs about 7 ms of CPU and a thousand objects (its built-in event
        handlers, its parsed configuration): once per crawl, not once per account."""
        with self._members_lock:
            if self._member_session is None:
                core, _ = self._core(members=True)
                if self.region:
                    core.set_config_variable("region", self.region)
                self._member_session = core
        return self._member_session


def paginate(client: Any, operation: str, key: str, **params: Any) -> list[dict]:
    """Every item under ``key`` across all pages (the operation must have a paginator)."""
    items: list[dict] = []
    for page in client.get_paginator(operation).paginate(**params):
        items.extend(page.get(key, []))
    return items


def together(*calls: Callable[[], Any], pool: Any = None) -> list[Any]:
    """Run independent calls at once, results in order: the first in this thread, the others on
    ``pool`` (a ``concurrent.futures`` executor), so at most the pool's width plus this thread
    run at once. A call no worker has started yet is run by the waiting thread itself, so nested
    ``together`` calls on one small pool never deadlock. Without a pool: one after the other."""
    if pool is None or len(calls) < 2:
        return [call() for call in calls]
    futures = [pool.submit(context.carried(call)) for call in calls[1:]]
    try:
        results = [calls[0]()]
        for future, call in zip(futures, calls[1:]):
            results.append(call() if future.cancel() else future.result())
    except BaseException:
        for future in futures:  # a failed step: the calls not started yet are not sent
            future.cancel()
        raise
    return results


class Lane:
    """One unit's share of the crawl's worker threads (``pool``, shared by every unit): at most
    ``width`` of the unit's calls run on it at once. A call past that is handed back unstarted,
    and :func:`together` runs it in the waiting thread, so a unit never has more than ``width``
    plus one requests in flight. The threads are made once per crawl, not once per unit."""

    def __init__(self, pool: Any, width: int):
        self._pool = pool
        self._slots = threading.BoundedSemaphore(width)
        self._started: list[cf.Future] = []

    def submit(self, fn: Callable[[], Any]) -> cf.Future:
        if not self._slots.acquire(blocking=False):
            return cf.Future()  # never started: cancel() succeeds, and the waiting thread runs it

        def run() -> Any:
            try:
                return fn()
            finally:
                self._slots.release()

        try:
            future = self._pool.submit(run)
        except BaseException:
            self._slots.release()
            raise
        # cancelled before a worker started it (together() then runs it itself): its slot is free
        future.add_done_callback(lambda f: self._slots.release() if f.cancelled() else None)
        self._started.append(future)
        return future

    def wait(self) -> None:
        """Until every call it handed to the pool has ended (as a unit's own pool's shutdown
        waited): a unit that failed midway ends only once its calls still running have."""
        cf.wait(self._started)


def chunks(values: Iterable[str], size: int) -> Iterator[list[str]]:
    values = sorted(set(values))
    for i in range(0, len(values), size):
        yield values[i : i + size]


def describe_in_batches(describe: Callable[[list[str]], list[dict]], ids: Iterable[str], size: int,
                        missing_code: str) -> tuple[list[dict], list[str]]:
    """``describe`` asked ``size`` ids at a time. AWS fails a whole batch with ``missing_code``
    when one id is gone or not visible: that batch is asked again id by id, so one missing id
    costs only itself. Returns what was found and the ids that were missing."""
    found: list[dict] = []
    missing: list[str] = []
    for batch in chunks(ids, size):
        try:
            found.extend(describe(batch))
            continue
        except ClientError as exc:
            if error_code(exc) != missing_code:
                raise
        for one in batch:
            try:
                found.extend(describe([one]))
            except ClientError as exc:
                if error_code(exc) != missing_code:
                    raise
                missing.append(one)
    return found, missing
