"""Credentials that last the whole crawl, and the errors of a first contact with AWS.

- An assumed role's credentials come from botocore's own machinery: its
  ``AssumeRoleCredentialFetcher`` (the one it uses for profiles with ``role_arn``), asking
  through the caller's STS client, and ``RefreshableCredentials``, which botocore renews before
  the announced expiry. The source credentials (the caller's: a profile, SSO, a
  ``credential_process``) renew themselves the same way underneath.
- Credentials can stop working before their announced expiry (a short role session, a clock
  that is off, a role-chaining limit). AWS then answers ``RequestExpired`` (EC2),
  ``ExpiredToken`` (query APIs: ELB, STS) or ``ExpiredTokenException`` (JSON APIs), the codes
  the AWS SDKs treat as "refresh the credentials and retry": the call is sent once more after
  the credentials are renewed (the role assumed again), and the unit's coverage counts it
  (``credentials_renewed``). A call whose renewed credentials expire in turn is renewed again,
  up to :data:`MAX_RENEWALS` times; the calls that failed with the same credentials cause one
  renewal between them, not one each. Renewals are not recorded in a raw folder: a replay never needs
  them.
- Credentials stay in memory: botocore's fetcher caches them in a dict archviz owns, never in a
  file, and every value is remembered so it is removed wherever it could appear in text.
"""

from __future__ import annotations

import difflib
import threading
from typing import Any, Callable

import botocore.loaders
from botocore.credentials import AssumeRoleCredentialFetcher, RefreshableCredentials
from botocore.exceptions import (ConnectionError as BotoConnectionError, HTTPClientError, NoCredentialsError,
                                 ProfileNotFound, SSOError, TokenRetrievalError)

from archviz.discovery import context
from archviz.errors import AccessError, EndpointError, InputError

EXPIRED = frozenset({"RequestExpired", "ExpiredToken", "ExpiredTokenException"})
MAX_RENEWALS = 5  # per call: once per set of credentials that failed it
METHOD = "archviz-assume-role"


class Renewal:
    """Renews one session's credentials when AWS says they expired, once per generation: the
    calls that failed together with the same credentials cause one renewal, not one each."""

    def __init__(self, credentials_of: Callable[[], Any], cache: dict):
        self._credentials_of = credentials_of
        self._cache = cache  # botocore's fetcher cache: emptied, or it would hand the same credentials back
        self._lock = threading.Lock()
        self.generation = 0

    def renew(self, seen: int) -> bool:
        """Renew the credentials that signed a call sent at generation ``seen`` (unless that was
        done already); False when they cannot be renewed (long-term keys)."""
        credentials = self._credentials_of()
        if not isinstance(credentials, RefreshableCredentials):
            return False
        with self._lock:
            if self.generation == seen:
                self._cache.clear()
                # botocore's own refresh, as in its mandatory refresh window, under its lock.
                with credentials._refresh_lock:
                    credentials._protected_refresh(is_mandatory=True)
                self.generation += 1
        return True


def renew_when_expired(client: Any, renewal: Renewal) -> None:
    """On every call of ``client``: note which credentials signed it, and send it once more with
    renewed credentials if AWS answers that they expired."""
    name = client.meta.service_model.service_id.hyphenize()

    def stamp(request: Any, **_: Any) -> None:
        request.context["archviz_credentials"] = renewal.generation

    def needs_retry(response: Any = None, request_dict: Any = None, **_: Any) -> float | None:
        if response is None or request_dict is None:
            return None
        code = (response[1].get("Error") or {}).get("Code")
        ctx = request_dict["context"]
        signed_with = ctx.get("archviz_credentials", -1)
        renewed = ctx.setdefault("archviz_renewed", set())
        if code not in EXPIRED or signed_with in renewed or len(renewed) >= MAX_RENEWALS:
            return None
        renewed.add(signed_with)
        try:
            if not renewal.renew(signed_with):
                return None
        except Exception:  # noqa: BLE001 - the role cannot be assumed again: the expired answer stands
            return None
        ctx["archviz_renewals"] = ctx.get("archviz_renewals", 0) + 1  # kept with the answer (raw.Recorder)
        notes = context.current()
        if notes is not None:
            notes.renewed()
        return 0  # at once: botocore signs the request again, with the renewed credentials

    client.meta.events.register_first(f"request-created.{name}", stamp)
    client.meta.events.register_first(f"needs-retry.{name}", needs_retry)


def assumed_role(sts: Callable[[], Any], source: Any, role_arn: str, extra: dict, cache: dict,
                 remember: Callable[..., None]) -> RefreshableCredentials:
    """Credentials of ``role_arn``, assumed now through ``sts()`` (the caller's client, so the
    first AssumeRole is a call of the crawl, recorded, and a denied one marks the account at
    once), renewed by botocore from then on without being recorded."""
    fetcher = AssumeRoleCredentialFetcher(lambda *_, **__: sts(), source, role_arn, extra_args=extra, cache=cache)

    def fetch() -> dict:
        creds = fetcher.fetch_credentials()
        remember(creds["access_key"], creds["secret_key"], creds["token"])
        return creds

    def renew() -> dict:
        with context.unrecorded():
            return fetch()

    return RefreshableCredentials.create_from_metadata(metadata=fetch(), refresh_using=renew, method=METHOD)


def known_regions(loader: botocore.loaders.Loader) -> list[str]:
    """Every region of every partition in botocore's partition data."""
    partitions = loader.load_data("partitions")["partitions"]
    return sorted(r for p in partitions for r in p.get("regions", {}) if not r.endswith("-global"))


def check_regions(regions: list[str], loader: botocore.loaders.Loader, source: str = "--regions") -> None:
    """Refuse a region botocore's partition data does not know, naming the nearest ones."""
    known = known_regions(loader)
    for region in regions:
        if region not in known:
            near = difflib.get_close_matches(region, known, n=3, cutoff=0.5)
            hint = f" (nearest: {', '.join(near)})" if near else ""
            raise InputError(f"{source}: {region!r} is not an AWS region{hint}; a region newer than "
                             f"botocore {botocore.__version__} needs a newer boto3")


def first_contact(exc: BaseException, profile: str | None) -> Exception | None:
    """The one-line error for a failure before anything is crawled, or None (not one of these)."""
    named = f"AWS profile {profile!r}" if profile else "the AWS credentials"
    login = f"aws sso login --profile {profile}" if profile else "aws sso login"
    if isinstance(exc, ProfileNotFound):  # a source_profile the profile names
        return InputError(f"AWS profile {exc.kwargs.get('profile') or profile!r} is not in the AWS config or "
                          f"credentials files")
    if isinstance(exc, (SSOError, TokenRetrievalError)):
        return AccessError(f"{named}: the SSO session has expired or was never started: run '{login}' and try "
                           f"again ({' '.join(str(exc).split())})")
    if isinstance(exc, NoCredentialsError):
        return AccessError("no AWS credentials found (set AWS_PROFILE or pass --profile, or set "
                           "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)")
    if isinstance(exc, (BotoConnectionError, HTTPClientError)):
        return EndpointError(f"cannot reach AWS: {' '.join(str(exc).split())} (check the network, a proxy, "
                             f"endpoint_url or AWS_ENDPOINT_URL, and ca_bundle or AWS_CA_BUNDLE)")
    if isinstance(exc, ValueError):  # botocore's check of a setting (an endpoint that is not a URL, ...)
        return InputError(f"the AWS configuration is not valid: {' '.join(str(exc).split())}")
    return None
