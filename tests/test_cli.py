"""The command line: help, version, and bad input as one line with a documented exit code."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from archviz import __version__
from archviz.cli import cli
from tests.conftest import invoke, run_cli


def test_version_and_help():
    assert run_cli(["--version"]).stdout.strip() == f"archviz, version {__version__}"
    help_text = run_cli(["--help"]).stdout
    for command in ("discover", "demo", "sandbox", "validate", "merge"):
        assert command in help_text
    assert "--role-name" in CliRunner().invoke(cli, ["discover", "--help"]).output


@pytest.mark.parametrize("args, message", [
    (["discover", "--out", "x", "--accounts", "12345"], "expected 12-digit account ids"),
    (["discover", "--out", "x", "--regions", "mars-1"], "expected region names"),
    (["discover", "--out", "x", "--concurrency", "0"], "--concurrency"),
    (["discover", "--regions", "us-east-1"], "Missing option '--out'"),
])
def test_bad_arguments_exit_2(args, message):
    result = invoke(args)
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr


def test_org_and_accounts_are_alternatives(sandbox, tmp_path):
    result = invoke(["discover", "--org", "--accounts", "111122223333", "--out", str(tmp_path)], env=sandbox.env())
    assert result.returncode == 2 and "--org and --accounts are alternatives" in result.stderr


def test_other_accounts_need_a_role(sandbox, tmp_path):
    result = invoke(["discover", "--accounts", "111122223333", "--out", str(tmp_path)], env=sandbox.env())
    assert result.returncode == 2
    assert result.stderr.strip() == "archviz: error: --role-name is required to crawl accounts other than the caller's own"


def test_no_region_is_a_clear_error(sandbox, tmp_path):
    env = {k: v for k, v in sandbox.env().items() if k not in ("AWS_REGION", "AWS_DEFAULT_REGION")}
    result = invoke(["discover", "--out", str(tmp_path)], env=env)
    assert result.returncode == 2
    assert result.stderr.strip().startswith("archviz: error: no AWS region configured")


def test_unwritable_output_is_one_line(sandbox, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    result = invoke(["discover", "--regions", "us-east-1", "--out", str(blocker / "out")], env=sandbox.env())
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1].startswith(f"archviz: error: cannot write {blocker / 'out'}")
    assert "Traceback" not in result.stderr


def test_unknown_profile_is_one_line(sandbox, tmp_path):
    result = invoke(["discover", "--profile", "nope", "--regions", "us-east-1", "--out", str(tmp_path)], env=sandbox.env())
    assert (result.returncode, result.stderr.strip()) == (2, "archviz: error: --profile nope: no such profile in the AWS config and credentials files ('nope' not found)")


def test_regions_all_without_describe_regions_is_one_line(sandbox, tmp_path):
    from archviz.sandbox.state import STATE

    STATE.add_fault("DescribeRegions", "UnauthorizedOperation")
    result = invoke(["discover", "--regions", "all", "--out", str(tmp_path)], env=sandbox.env())
    assert result.returncode == 4
    assert result.stderr.strip().startswith("archviz: error: --regions all: cannot list regions (ec2:DescribeRegions): UnauthorizedOperation")


def test_regions_all_crawls_every_enabled_region(sandbox, tmp_path):
    result = invoke(["discover", "--regions", "all", "--concurrency", "16", "--out", str(tmp_path)], env=sandbox.env())
    assert result.returncode == 0, result.stderr
    import json

    doc = json.loads((tmp_path / "snapshot.json").read_text())
    regions = {c["region"] for c in doc["coverage"] if c["kind"] == "region"}
    assert "us-east-1" in regions and "eu-west-1" in regions and "ap-east-1" not in regions  # not opted in
    assert all(c["status"] == "ok" for c in doc["coverage"])


# -- slices: --accounts-from and --ou ---------------------------------------------------------

def test_accounts_from_reads_ids_comments_and_csv(tmp_path):
    from archviz.accounts_file import read_account_ids

    listing = tmp_path / "accounts.csv"
    listing.write_text("\ufeff# production slice\n\n111122223333,app-prod\n  444455556666\tdata  # tab-separated\n"
                       '"777788889999","quoted"\n111122223333 again\n', encoding="utf-8")
    assert read_account_ids(str(listing)) == ["111122223333", "444455556666", "777788889999"]


@pytest.mark.parametrize("text, message", [
    ("111122223333\nId,Name\n", "{f}:2: expected a 12-digit account id at the start of the line, got 'Id'"),
    ("# nothing\n\n", "{f}: no account ids in it (one 12-digit id a line; # starts a comment)"),
    ("11112222333,dropped-a-leading-zero\n", "{f}:1: expected a 12-digit account id at the start of the line, "
                                            "got '11112222333'"),
    (b"\xff\xfe1\x001\x00", "{f}: not UTF-8 text"),
])
def test_accounts_from_errors_name_the_file_and_line(tmp_path, text, message):
    listing = tmp_path / "accounts.txt"
    listing.write_bytes(text if isinstance(text, bytes) else text.encode())
    result = invoke(["discover", "--accounts-from", str(listing), "--out", str(tmp_path / "out")])
    assert result.returncode == 2
    assert result.stderr.startswith("archviz: error: " + message.format(f=listing))
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr


def test_accounts_from_missing_file_and_stdin(tmp_path):
    result = invoke(["discover", "--accounts-from", str(tmp_path / "nope.txt"), "--out", str(tmp_path)])
    assert (result.returncode, result.stderr) == (2, f"archviz: error: {tmp_path / 'nope.txt'}: no such file\n")
    result = CliRunner().invoke(cli, ["discover", "--accounts-from", "-", "--out", str(tmp_path)], input="12\n")
    assert result.exit_code == 2
    assert result.stderr == ("archviz: error: <stdin>:1: expected a 12-digit account id at the start of the line, "
                             "got '12'\n")


@pytest.mark.parametrize("args, message", [
    (["--ou", "ou-ab12-cd34ef56", "--org"], "--org and --ou are alternatives: pass one of them"),
    (["--ou", "r-ab12", "--org"], "--org and --ou are alternatives: pass one of them"),  # a root id parses
    (["--ou", "ou-ab12-cd34ef56", "--accounts", "111122223333"], "--accounts and --ou are alternatives"),
    (["--accounts-from", "x.txt", "--accounts", "111122223333"], "--accounts and --accounts-from are alternatives"),
    (["--accounts-from", "x.txt", "--org"], "--org and --accounts-from are alternatives"),
    (["--accounts-from", "x.txt", "--ou", "ou-ab12-cd34ef56"], "--accounts-from and --ou are alternatives"),
    (["--org", "--accounts", "111122223333", "--ou", "ou-ab12-cd34ef56"],
     "--org, --accounts and --ou are alternatives: pass one of them"),
    (["--ou", "workloads"],
     "expected organizational unit ids (like ou-ab12-cd34ef56, or the root r-ab12) separated by commas, got workloads"),
    (["--ou", ","], "expected organizational unit ids"),
])
def test_slice_options_usage_errors(tmp_path, args, message):
    result = invoke(["discover", *args, "--out", str(tmp_path)])
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr
