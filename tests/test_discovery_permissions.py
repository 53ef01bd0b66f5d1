"""The allowlist of AWS operations: the read-only guard, the README's permission list, and a
refused call end to end."""

from __future__ import annotations

from pathlib import Path

import botocore.session
import pytest
from click.testing import CliRunner

from archviz.cli import cli
from archviz.discovery import crawl as crawl_module
from archviz.discovery import permissions
from archviz.discovery.aws import AwsSessions
from archviz.errors import ReadOnlyViolation
from archviz.sandbox.state import STATE

README = Path(__file__).parent.parent / "README.md"


def test_readme_permission_list_is_the_table():
    readme = README.read_text()
    start = readme.index("### Permissions the crawl role needs")
    section = readme[start:readme.index("\n#", start + 1) + 1]  # up to the next heading
    assert section == permissions.markdown() + "\n", (
        "regenerate the README section with: python -c 'from archviz.discovery.permissions import markdown; "
        "print(markdown())'")


@pytest.mark.parametrize("entry", permissions.PERMISSIONS, ids=lambda p: p.action)
def test_each_entry_names_a_real_operation_and_its_iam_action(entry):
    model = botocore.session.get_session().get_service_model(entry.service)
    assert entry.operation in model.operation_names
    assert entry.action == f"{model.signing_name}:{entry.operation}"
    assert entry.purpose


@pytest.mark.parametrize("service, operation", [
    ("ec2", "CreateVpcEndpoint"), ("ec2", "AcceptVpcEndpointConnections"), ("ec2", "DeleteVpcEndpoints"),
    ("ec2", "DescribeInstances"),  # a read, but not one archviz makes
    ("iam", "AssumeRole"), ("sts", "GetSessionToken"), ("sts", "GetFederationToken"), ("ecr", "GetAuthorizationToken"),
])
def test_only_listed_operations_are_allowed(service, operation):
    assert not permissions.is_allowed(service, operation)


@pytest.mark.parametrize("service, method, params", [
    ("sts", "get_session_token", {}),
    ("sts", "get_federation_token", {"Name": "archviz"}),
    ("ecr", "get_authorization_token", {}),
])
def test_credential_minting_reads_are_refused_before_they_are_sent(sandbox, service, method, params):
    """Their names start with Get, but they mint credentials: a name prefix is not a safe guard."""
    client = AwsSessions(region="us-east-1").caller().client(service, "us-east-1")
    sent = []
    client.meta.events.register("before-send", lambda request, **_: sent.append(request.url))
    operation = client.meta.method_to_api_mapping[method]
    with pytest.raises(ReadOnlyViolation, match=f"refused {service}:{operation} before sending it"):
        getattr(client, method)(**params)
    assert sent == []
    assert operation not in {action for action, _ in STATE.calls}


def test_a_collector_that_writes_makes_the_cli_exit_6(sandbox, monkeypatch, tmp_path):
    def writes(unit, session, region):
        session.client("ec2", region).create_vpc(CidrBlock="10.9.0.0/16")

    monkeypatch.setattr(crawl_module, "REGION_STAGES", ((writes,),) + crawl_module.REGION_STAGES)
    result = CliRunner().invoke(cli, ["discover", "--regions", "us-east-1", "--out", str(tmp_path)])
    assert result.exit_code == 6
    errors = [line for line in result.stderr.splitlines() if not line.startswith("discover: ")]  # not progress
    assert errors == ["archviz: error: archviz is read-only: refused ec2:CreateVpc before sending it"]
    assert "CreateVpc" not in {action for action, _ in STATE.calls}
    assert not (tmp_path / "snapshot.json").exists()
