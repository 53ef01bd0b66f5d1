"""A credential process for the sandbox, as SSO and corporate credential helpers are.

An AWS profile's ``credential_process`` names a command the SDKs run for credentials: it prints
``{"Version": 1, "AccessKeyId", "SecretAccessKey", "SessionToken", "Expiration"}`` on stdout
(botocore's ``ProcessProvider``). This one prints a fresh session key (``ASIA...``) on every run,
so tests can exercise that path against the sandbox, and with the sandbox's early expiry
(``STATE.expire_after_requests``, ``archviz.sandbox.faults``) see the key rejected long before
its announced ``Expiration``::

    credential_process = python -m archviz.sandbox.credential_process [--expires-in SECONDS] [--count-file PATH]

``--count-file`` appends a line (the key issued) per run, so a test can count how often the SDK
asked.
"""

from __future__ import annotations

import argparse
import json
import secrets
import string
from datetime import datetime, timedelta, timezone

KEY_ALPHABET = string.ascii_uppercase + string.digits


def session_credentials(expires_in: float) -> dict:
    """Credentials in the credential-process format, with a new ``ASIA`` access key id."""
    expiration = datetime.now(timezone.utc) + timedelta(seconds=expires_in)
    return {
        "Version": 1,
        "AccessKeyId": "ASIA" + "".join(secrets.choice(KEY_ALPHABET) for _ in range(16)),
        "SecretAccessKey": secrets.token_urlsafe(30),
        "SessionToken": secrets.token_urlsafe(60),
        "Expiration": expiration.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m archviz.sandbox.credential_process",
                                     description="Print fresh sandbox session credentials for an AWS SDK.")
    parser.add_argument("--expires-in", type=float, default=3600, metavar="SECONDS",
                        help="announced lifetime of the credentials (default: an hour)")
    parser.add_argument("--count-file", metavar="PATH", help="append a line per run to this file")
    args = parser.parse_args(argv)
    credentials = session_credentials(args.expires_in)
    if args.count_file:
        with open(args.count_file, "a") as count:
            count.write(credentials["AccessKeyId"] + "\n")
    print(json.dumps(credentials))


if __name__ == "__main__":
    main()
