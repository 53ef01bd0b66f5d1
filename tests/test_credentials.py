"""Credentials as real accounts have them: assumed roles whose credentials stop working before
their announced expiry, source credentials from a credential process, a profile's settings
(private endpoint, CA bundle, retries) reaching every member account, and the errors of a first
contact. All through the sandbox over HTTP and the real botocore stack."""

from __future__ import annotations

import json
import sys

import pytest
from moto.core import DEFAULT_ACCOUNT_ID as MANAGEMENT  # the sandbox caller's account

from archviz.discovery.crawl import CrawlRequest, crawl
from archviz.sandbox import demo
from archviz.sandbox.server import Sandbox
from archviz.sandbox.state import STATE
from tests.conftest import invoke

REQUEST = dict(org=True, role_name=demo.ROLE_NAME, regions=list(demo.REGIONS))


@pytest.fixture
def seeded(sandbox):
    demo.seed(sandbox.endpoint_url, *sandbox.credentials)
    STATE.calls.clear()
    return sandbox


def outcome(result) -> tuple:
    """What a crawl found, whatever the credentials did on the way: the records and each
    unit's status."""
    coverage = sorted((c["account_id"], c["region"], c["kind"], c["status"], c["error_code"]) for c in result.coverage)
    return coverage, {kind: sorted(json.dumps(r, sort_keys=True, default=str) for r in recs)
                      for kind, recs in result.records.items()}


def test_credentials_that_expire_after_a_few_requests_are_renewed_and_the_crawl_completes(seeded, tmp_path):
    steady = crawl(CrawlRequest(**REQUEST))
    assert not any(c.get("credentials_renewed") for c in steady.coverage)
    for throttle in (0.0, 0.2):  # alone, then with throttling on top
        STATE.expired.clear()
        STATE.expire_after_requests, STATE.throttle = 5, throttle
        expiring = crawl(CrawlRequest(**REQUEST))
        assert sum(STATE.expired.values()) > 0
        assert outcome(expiring) == outcome(steady)
        renewed = [c for c in expiring.coverage if c.get("credentials_renewed")]
        assert renewed and all(c["status"] == "ok" for c in renewed)

    # Through the command line, recorded: the renewals are not kept, so the raw folder replays
    # (to the same bytes: each answer keeps how often its call was renewed), and the session
    # settings reach every AssumeRole.
    STATE.throttle = 0.0
    args = ["discover", "--org", "--role-name", demo.ROLE_NAME, "--regions", ",".join(demo.REGIONS),
            "--role-session-name", "audit-2026", "--duration-seconds", "7200"]
    live = invoke(args + ["--out", str(tmp_path / "live"), "--raw", str(tmp_path / "raw")], env=seeded.env())
    assert live.returncode == 0, live.stderr
    replayed = invoke(["discover", "--replay", str(tmp_path / "raw"), "--out", str(tmp_path / "replay")])
    assert replayed.returncode == 0, replayed.stderr
    a, b = (json.loads((tmp_path / f / "snapshot.json").read_text()) for f in ("live", "replay"))
    assert a == b
    assert any(c.get("credentials_renewed") for c in a["coverage"])
    assumed = json.loads((tmp_path / "raw" / MANAGEMENT / "us-east-1" / "sts.AssumeRole.json").read_text())
    members = [x["account_id"] for x in a["accounts"] if x["account_id"] != MANAGEMENT]
    assert sorted(r["params"]["RoleArn"].split(":")[4] for r in assumed) == sorted(members)  # no renewal kept
    assert {(r["params"]["RoleSessionName"], r["params"]["DurationSeconds"]) for r in assumed} == {("audit-2026", 7200)}


def test_long_term_keys_that_aws_calls_expired_are_not_retried(sandbox):
    STATE.add_fault("DescribeVpcEndpoints", "RequestExpired", "Request has expired.", account=MANAGEMENT)
    result = crawl(CrawlRequest(regions=["us-east-1"]))
    unit = next(c for c in result.coverage if c["kind"] == "region")
    assert (unit["status"], unit["error_code"]) == ("error", "RequestExpired")
    assert "credentials_renewed" not in unit
    assert STATE.calls[("DescribeVpcEndpoints", "us-east-1")] == 1


@pytest.mark.parametrize("args, message", [
    (["--role-session-name", "a b"], "--role-session-name"),
    (["--duration-seconds", "60"], "--duration-seconds"),
])
def test_bad_role_session_settings_are_usage_errors(tmp_path, args, message):
    result = invoke(["discover", "--out", str(tmp_path)] + args)
    assert result.returncode == 2 and message in result.stderr


@pytest.mark.parametrize("env, code, words", [
    ({"AWS_REGION": "us-east-99"}, 2, "'us-east-99' is not an AWS region (nearest: us-east-2, us-east-1"),
    ({"AWS_ENDPOINT_URL": "http://127.0.0.1:9", "AWS_MAX_ATTEMPTS": "1"}, 9,
     "cannot reach AWS: Could not connect to the endpoint URL"),
    ({"AWS_ENDPOINT_URL": "notaurl"}, 2, "the AWS configuration is not valid: Invalid endpoint: notaurl"),
    ({"AWS_MAX_ATTEMPTS": "many"}, 2, "AWS_MAX_ATTEMPTS"),
    ({"AWS_RETRY_MODE": "eager"}, 2, "AWS_RETRY_MODE"),
])
def test_first_contact_errors_are_one_line_with_their_code(sandbox, tmp_path, env, code, words):
    result = invoke(["discover", "--out", str(tmp_path)], env={**sandbox.env(), **env})
    lines = result.stderr.strip().splitlines()
    assert result.returncode == code and len(lines) == 1 and words in lines[0], result.stderr


def test_an_unknown_region_in_regions_names_the_nearest(sandbox, tmp_path):
    result = invoke(["discover", "--regions", "eu-west-1,eu-wset-1", "--out", str(tmp_path)], env=sandbox.env())
    assert result.returncode == 2
    assert "--regions: 'eu-wset-1' is not an AWS region (nearest: eu-west-1" in result.stderr


@pytest.mark.parametrize("env, mode, attempts", [
    ({}, "standard", 10),
    ({"AWS_RETRY_MODE": "adaptive"}, "adaptive", 10),
    ({"AWS_MAX_ATTEMPTS": "3"}, "standard", 3),
    ({"AWS_RETRY_MODE": "legacy", "AWS_MAX_ATTEMPTS": "2"}, "legacy", 2),
])
def test_retry_settings_the_user_chose_are_honoured(sandbox, monkeypatch, env, mode, attempts):
    from archviz.discovery.aws import AwsSessions

    for key, value in env.items():
        monkeypatch.setenv(key, value)
    client = AwsSessions(region="us-east-1").caller().client("ec2", "us-east-1")
    assert client.meta.config.retries == {"mode": mode, "total_max_attempts": attempts}


@pytest.fixture(scope="module")
def tls_server():
    """The sandbox over HTTPS with its own CA, as a company's TLS-inspecting proxy is reached
    (it shares moto's state with the plain sandbox, where the tests seed it)."""
    with Sandbox(tls=True) as sb:
        yield sb


def profile(tmp_path, **settings) -> dict:
    """An AWS config file with one profile, ``corp``, and an environment that names nothing else
    (no keys, endpoint or CA bundle in the environment)."""
    lines = "\n".join(f"{k} = {v}" for k, v in settings.items())
    (tmp_path / "config").write_text(f"[profile corp]\n{lines}\n")
    return {"AWS_CONFIG_FILE": str(tmp_path / "config"), "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
            "AWS_EC2_METADATA_DISABLED": "true"}


def credential_process(count_file) -> str:
    return f"{sys.executable} -m archviz.sandbox.credential_process --count-file {count_file}"


def test_a_profile_with_a_private_endpoint_and_ca_bundle_reaches_every_member_account(tls_server, seeded, tmp_path):
    count = tmp_path / "issued"
    env = profile(tmp_path, region="us-east-1", endpoint_url=tls_server.endpoint_url, ca_bundle=tls_server.ca_bundle,
                  credential_process=credential_process(count))
    STATE.expire_after_requests = 5  # the credential process's own credentials expire too: it is run again
    result = invoke(["discover", "--profile", "corp", "--org", "--role-name", demo.ROLE_NAME,
                     "--regions", ",".join(demo.REGIONS), "--out", str(tmp_path / "out")], env=env)
    assert result.returncode == 0, result.stderr
    doc = json.loads((tmp_path / "out" / "snapshot.json").read_text())
    units = [c for c in doc["coverage"] if c["kind"] != "organization"]
    denied = {c["account_id"] for c in units if c["error_code"] == "AccessDenied"}  # the demo's locked account
    assert len(denied) == 1 and all(c["status"] == "ok" for c in units if c["account_id"] not in denied)
    assert len({c["account_id"] for c in units}) == len(doc["accounts"]) >= 4
    assert len(count.read_text().splitlines()) > 1  # the source credentials were renewed through the process


def test_the_profile_without_its_ca_bundle_is_an_endpoint_error(tls_server, sandbox, tmp_path):
    env = profile(tmp_path, region="us-east-1", endpoint_url=tls_server.endpoint_url, max_attempts=1,
                  aws_access_key_id=sandbox.credentials[0], aws_secret_access_key=sandbox.credentials[1])
    result = invoke(["discover", "--profile", "corp", "--out", str(tmp_path / "out")], env=env)
    assert result.returncode == 9 and "cannot reach AWS: SSL validation failed" in result.stderr, result.stderr


def test_an_sso_profile_whose_session_expired_says_which_login_to_run(tmp_path):
    from tests.conftest import run_cli

    env = profile(tmp_path, region="us-east-1", sso_start_url="https://example.awsapps.com/start",
                  sso_region="us-east-1", sso_account_id="123456789012", sso_role_name="ReadOnly")
    result = run_cli(["discover", "--profile", "corp", "--out", str(tmp_path / "out")],
                     env={**env, "HOME": str(tmp_path)})  # no SSO token cache there
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 4 and len(lines) == 1, result.stderr
    assert "the SSO session has expired or was never started: run 'aws sso login --profile corp'" in lines[0]
