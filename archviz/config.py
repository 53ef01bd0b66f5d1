"""The optional config file (TOML), for settings that belong in version control:

    trusted_accounts = ["210987654321"]          # partners treated as "inside" by the findings

    [marketplace_links]                           # endpoint service name -> Marketplace agreement id
    "com.amazonaws.vpce.us-east-1.vpce-svc-0123456789abcdef0" = "agmt-0123456789abcdef"
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from archviz.errors import InputError

ACCOUNT = re.compile(r"^[0-9]{12}$")
KEYS = {"trusted_accounts", "marketplace_links"}


@dataclass
class Config:
    trusted_accounts: frozenset[str] = frozenset()
    marketplace_links: dict[str, str] = field(default_factory=dict)


def load(path: Path | None, extra_trusted: list[str] | None = None) -> Config:
    data: dict = {}
    if path is not None:
        try:
            data = tomllib.loads(Path(path).read_text("utf-8"))
        except FileNotFoundError:
            raise InputError(f"{path}: no such config file")
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(f"{path}: cannot read: {getattr(exc, 'strerror', None) or exc}")
        except tomllib.TOMLDecodeError as exc:
            raise InputError(f"{path}: not valid TOML ({exc})")
    unknown = sorted(set(data) - KEYS)
    if unknown:
        raise InputError(f"{path}: unknown setting(s) {', '.join(unknown)} (known: {', '.join(sorted(KEYS))})")
    trusted = data.get("trusted_accounts", [])
    if not isinstance(trusted, list) or not all(isinstance(a, str) and ACCOUNT.match(a) for a in trusted):
        raise InputError(f"{path}: trusted_accounts must be a list of 12-digit account ids as strings")
    links = data.get("marketplace_links", {})
    if not isinstance(links, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in links.items()):
        raise InputError(f"{path}: marketplace_links must map endpoint service names to agreement ids")
    return Config(frozenset(trusted) | frozenset(extra_trusted or []), dict(links))
