"""The optional config file: what it accepts, and that it refuses what it does not know."""

from __future__ import annotations

import pytest

from archviz.config import load
from archviz.errors import InputError

PARTNER = "210987654321"
SERVICE = "com.amazonaws.vpce.us-east-1.vpce-svc-0123456789abcdef0"


def test_known_settings_load(tmp_path):
    path = tmp_path / "archviz.toml"
    path.write_text(f'trusted_accounts = ["{PARTNER}"]\n\n[marketplace_links]\n"{SERVICE}" = "agmt-1"\n')
    config = load(path, extra_trusted=["111111111111"])
    assert config.trusted_accounts == {PARTNER, "111111111111"}
    assert config.marketplace_links == {SERVICE: "agmt-1"}


def test_an_unknown_setting_is_refused_by_name(tmp_path):
    # A misspelt key would otherwise be ignored silently: the partner would not be trusted.
    path = tmp_path / "archviz.toml"
    path.write_text(f'trusted_account = ["{PARTNER}"]\n')
    with pytest.raises(InputError, match=r"unknown setting\(s\) trusted_account \(known: "):
        load(path)
