"""Shared fixtures: one sandbox server per test session (real HTTP, real botocore), reset
between tests; the seeded demo organization crawled once by the real command line."""

from __future__ import annotations

import fcntl
import json
import os
import pickle
import selectors
import subprocess
import sys
import time
from pathlib import Path

import boto3
import botocore.session
import pytest
from botocore.utils import parse_timestamp
from botocore.validate import ParamValidator

from archviz.sandbox import demo
from archviz.sandbox.state import STATE
from archviz.sandbox.server import Sandbox

FIXTURES = Path(__file__).parent / "fixtures"


SERVICE_OF = {"SearchAgreements": "marketplace-agreement", "ListAccounts": "organizations"}
for _op in ("DescribeLoadBalancers", "DescribeListeners", "DescribeTargetGroups", "DescribeTargetHealth"):
    SERVICE_OF[_op] = "elbv2"


def output_shape(operation: str):
    model = botocore.session.get_session().get_service_model(SERVICE_OF.get(operation, "ec2"))
    return model.operation_model(operation).output_shape


def _as_botocore_returns(value, shape):
    """JSON fixture -> what botocore hands the caller (timestamps become datetimes)."""
    kind = shape.type_name
    if kind == "structure":
        return {k: _as_botocore_returns(v, shape.members[k]) for k, v in value.items()}
    if kind == "list":
        return [_as_botocore_returns(v, shape.member) for v in value]
    if kind == "map":
        return {k: _as_botocore_returns(v, shape.value) for k, v in value.items()}
    if kind == "timestamp":
        return parse_timestamp(value)
    return value


def fixture(operation: str) -> dict:
    """An AWS response saved under the API operation's name, validated against botocore's
    output shape (a field AWS does not return fails here) and parsed as botocore would."""
    raw = json.loads((FIXTURES / f"{operation}.json").read_text())
    shape = output_shape(operation)
    report = ParamValidator().validate(raw, shape)
    if report.has_errors():
        raise AssertionError(f"fixtures/{operation}.json is not a valid {operation} response:\n{report.generate_report()}")
    return _as_botocore_returns(raw, shape)


@pytest.fixture(scope="session")
def server():
    with Sandbox() as sb:
        yield sb


@pytest.fixture
def sandbox(server, monkeypatch):
    """A clean sandbox, with this process's AWS clients pointed at it."""
    server.reset()
    for key in [k for k in os.environ if k.startswith("AWS_")]:
        monkeypatch.delenv(key)
    for key, value in server.env().items():
        monkeypatch.setenv(key, value)
    yield server
    server.reset()


class Org:
    """Write-side helpers for building small estates in the sandbox (tests only)."""

    def __init__(self, sb: Sandbox):
        self.sb = sb
        self.url = sb.endpoint_url

    def client(self, service: str, account: str | None = None, region: str = "us-east-1"):
        kw = dict(endpoint_url=self.url, region_name=region, aws_access_key_id=self.sb.credentials[0],
                  aws_secret_access_key=self.sb.credentials[1])
        if account:
            creds = boto3.client("sts", **kw).assume_role(
                RoleArn=f"arn:aws:iam::{account}:role/{demo.ROLE_NAME}", RoleSessionName="tests")["Credentials"]
            kw.update(aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretAccessKey"],
                      aws_session_token=creds["SessionToken"])
        return boto3.client(service, **kw)


@pytest.fixture
def org(sandbox):
    return Org(sandbox)


def invoke(args: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """The ``archviz`` command line in this process (click's CliRunner), with the same
    environment rules and result shape as :func:`run_cli`: no AWS_* variable but ``env``'s."""
    from click.testing import CliRunner

    from archviz.cli import cli

    overrides: dict[str, str | None] = {k: None for k in os.environ if k.startswith("AWS_")}
    overrides.update(env or {})
    result = CliRunner().invoke(cli, args, env=overrides, catch_exceptions=False)
    return subprocess.CompletedProcess(args, result.exit_code, result.stdout, result.stderr)


def run_cli(args: list[str], env: dict[str, str] | None = None, cwd: str | None = None) -> subprocess.CompletedProcess:
    """The real ``archviz`` command line in a subprocess."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "archviz", *args], env=full_env, cwd=cwd,
                          capture_output=True, text=True, timeout=300)


def read_until(proc: subprocess.Popen, marker: str, timeout: float = 60) -> str:
    """What a child process printed on stdout up to ``marker``, or TimeoutError: a test never
    waits on a child forever."""
    deadline = time.monotonic() + timeout
    text = ""
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        while marker not in text:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not sel.select(remaining):
                raise TimeoutError(f"no {marker!r} from {proc.args} within {timeout} s; got {text!r}")
            chunk = os.read(proc.stdout.fileno(), 65536)
            if not chunk:
                raise EOFError(f"{proc.args} closed stdout before {marker!r}; got {text!r}")
            text += chunk.decode("utf-8", "replace")
    return text


def once_per_run(tmp_path_factory, name: str, make):
    """``make()``'s result, made once per test run: under pytest-xdist the first worker to need it
    makes it and the others read what it made (pickled; the files it wrote stay where they are,
    in that worker's folder of the run). For session fixtures whose work is the same on any
    worker (the sandbox seeds the same ids on every server)."""
    shared = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        shared = shared.parent  # the run's folder, above every worker's own
    with open(shared / f"{name}.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        cached = shared / f"{name}.pickle"
        if cached.is_file():
            return pickle.loads(cached.read_bytes())
        made = make()
        cached.write_bytes(pickle.dumps(made))
        return made


@pytest.fixture(scope="session")
def demo_crawl(tmp_path_factory, request):
    """The demo organization seeded into the sandbox and crawled by ``archviz discover`` over HTTP,
    once per test run (:func:`once_per_run`)."""
    def crawl():
        server = request.getfixturevalue("server")
        server.reset()
        manifest = demo.seed(server.endpoint_url, *server.credentials)
        out = tmp_path_factory.mktemp("demo-crawl")
        result = run_cli(["discover", "--org", "--role-name", demo.ROLE_NAME, "--regions", ",".join(demo.REGIONS),
                          "--out", str(out)], env=server.env())
        assert result.returncode == 0, result.stderr
        snapshot = json.loads((out / "snapshot.json").read_text())
        faults = list(STATE.faults)
        server.reset()
        return manifest, snapshot, result, faults

    return once_per_run(tmp_path_factory, "demo-crawl", crawl)


def key_pair(folder, passphrase: bytes | None = None):
    """An Ed25519 key pair in PEM, written as ``folder/k.pem`` (encrypted with ``passphrase`` if
    given) and ``folder/k.pub``, as ``openssl genpkey -algorithm ed25519`` and ``openssl pkey
    -pubout`` make them; returns the two paths."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    key = ed25519.Ed25519PrivateKey.generate()
    encryption = serialization.BestAvailableEncryption(passphrase) if passphrase else serialization.NoEncryption()
    private, public = folder / "k.pem", folder / "k.pub"
    private.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption))
    public.write_bytes(key.public_key().public_bytes(serialization.Encoding.PEM,
                                                     serialization.PublicFormat.SubjectPublicKeyInfo))
    return private, public


# The modules with the longest tests, run first so that pytest-xdist's workers (`make test`) do not
# end the run waiting on one of them; every other module keeps its place.
FIRST = ("test_site_titles.py", "test_site.py", "test_render_scale.py", "test_packaging.py",
         "test_sandbox_layer.py", "test_demo_e2e.py", "test_evidence.py", "test_odd_snapshots.py")


def pytest_collection_modifyitems(items):
    rank = {name: i for i, name in enumerate(FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(FIRST)))  # stable: each module keeps its order
