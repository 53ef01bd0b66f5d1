"""One output guard for every command (files.output_file), and the command line's first-contact
errors: a command never writes over one of its inputs, never replaces a link, a FIFO or a device,
never creates the folder of an --out FILE; each refusal is one line, exit 2, before any work, and
leaves everything as it was."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from archviz.cli import cli
from tests.test_diff import base


def run(args: list[str], env: dict | None = None):
    return CliRunner().invoke(cli, args, env=env)


def one_line(result, code: int, message: str) -> None:
    assert result.exit_code == code, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.output
    assert "Traceback" not in result.output and "internal error" not in result.output


@pytest.fixture
def snapshots(tmp_path):
    """Two snapshots on disk, as files and as folders, and their bytes."""
    doc = base()
    for name in ("old", "new"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "snapshot.json").write_text(json.dumps(doc))
    return tmp_path, (tmp_path / "new" / "snapshot.json").read_bytes()


@pytest.mark.parametrize("out", ["new/snapshot.json", "old/snapshot.json", "old/../new/snapshot.json", "hard"])
def test_diff_never_writes_over_one_of_its_snapshots(snapshots, out):
    tmp, original = snapshots
    os.link(tmp / "new" / "snapshot.json", tmp / "hard")  # a hard link is the same file
    result = run(["diff", str(tmp / "old"), str(tmp / "new" / "snapshot.json"), "--out", str(tmp / out)])
    one_line(result, 2, "is also an input of this run")
    assert (tmp / "new" / "snapshot.json").read_bytes() == original
    assert (tmp / "old" / "snapshot.json").read_bytes() == original


def test_diff_out_does_not_create_missing_folders(snapshots):
    tmp, _ = snapshots
    result = run(["diff", str(tmp / "old"), str(tmp / "new"), "--out", str(tmp / "no" / "such" / "diff.md")])
    one_line(result, 2, "no such folder")
    assert not (tmp / "no").exists()
    assert run(["diff", str(tmp / "old"), str(tmp / "new"), "--out", str(tmp / "diff.txt")]).exit_code == 0


def test_diff_keys_and_config_are_inputs_too(snapshots):
    tmp, _ = snapshots
    key = tmp / "key"
    key.write_bytes(b"0123456789abcdef0123")
    result = run(["diff", str(tmp / "old"), str(tmp / "new"), "--redact", "--redact-key", str(key), "--out", str(key)])
    one_line(result, 2, "is also an input of this run")
    assert key.read_bytes() == b"0123456789abcdef0123"


@pytest.mark.parametrize("kind", ["symlink", "fifo", "folder"])
@pytest.mark.parametrize("command", ["analyze", "evidence", "diff", "redact"])
def test_every_out_file_refuses_what_a_rename_would_replace(snapshots, kind, command):
    tmp, _ = snapshots
    target = tmp / "target"
    if kind == "symlink":
        (tmp / "elsewhere").write_text("mine")
        target.symlink_to(tmp / "elsewhere")
    elif kind == "fifo":
        os.mkfifo(target)
    else:
        target.mkdir()
    snap = str(tmp / "new" / "snapshot.json")
    args = {"analyze": ["analyze", snap], "diff": ["diff", snap, str(tmp / "old")], "redact": ["redact", snap],
            # refused before the crawl: no AWS is reached (no credentials here, no endpoint)
            "evidence": ["evidence", "--accounts", "123456789012"]}[command]
    result = run(args + ["--out", str(target)])
    if kind == "folder":  # click's own check, a usage error
        assert result.exit_code == 2 and "is a directory" in result.output, result.output
    else:
        one_line(result, 2, "not a regular file")
    assert {"symlink": target.is_symlink(), "fifo": target.is_fifo(), "folder": target.is_dir()}[kind]
    if kind == "symlink":
        assert (tmp / "elsewhere").read_text() == "mine"


def test_evidence_never_writes_its_pack_over_the_signing_key(tmp_path):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = tmp_path / "key.pem"
    pem = Ed25519PrivateKey.generate().private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                      serialization.NoEncryption())
    key.write_bytes(pem)
    one_line(run(["evidence", "--accounts", "123456789012", "--sign", str(key), "--out", str(key)]), 2,
             "is also an input of this run")
    assert key.read_bytes() == pem


def test_folder_outputs_refuse_a_linked_snapshot_and_an_input_snapshot(snapshots):
    tmp, original = snapshots
    # merge --out the folder of one of its inputs would replace that slice's snapshot
    one_line(run(["merge", str(tmp / "old"), str(tmp / "new"), "--out", str(tmp / "new")]), 2,
             "is also an input of this run")
    assert (tmp / "new" / "snapshot.json").read_bytes() == original
    # a snapshot.json that is a link is refused before the crawl, not replaced after it
    (tmp / "linked").mkdir()
    (tmp / "linked" / "snapshot.json").symlink_to(tmp / "new" / "snapshot.json")
    for args in (["discover", "--accounts", "123456789012"], ["merge", str(tmp / "old")]):
        one_line(run(args + ["--out", str(tmp / "linked")]), 2, "not a regular file")
    assert (tmp / "linked" / "snapshot.json").is_symlink()


def test_analyze_still_updates_its_snapshot_in_place(snapshots):
    tmp, _ = snapshots
    result = run(["analyze", str(tmp / "new")])
    assert result.exit_code == 0, result.output
    assert json.loads((tmp / "new" / "snapshot.json").read_text())["connections"]


def test_replay_refuses_an_output_inside_the_raw_folder(tmp_path):
    (tmp_path / "raw").mkdir()
    one_line(run(["discover", "--replay", str(tmp_path / "raw"), "--out", str(tmp_path / "raw" / "sub")]), 2,
             "is inside --replay")
    assert not (tmp_path / "raw" / "sub").exists()


@pytest.mark.parametrize("value", ["new-findings:", "new-findings:HIGH", "coverage-worse:", "any:"])
def test_fail_on_with_an_empty_or_unknown_severity_is_refused(snapshots, value):
    tmp, _ = snapshots
    one_line(run(["diff", str(tmp / "old"), str(tmp / "new"), "--fail-on", value]), 2, "--fail-on: unknown kind")


@pytest.mark.parametrize("env, named", [({"AWS_PROFILE": "nosuchprofile"}, "AWS_PROFILE=nosuchprofile"),
                                        ({}, "--profile nosuchprofile")])
def test_an_unknown_profile_is_one_line(tmp_path, env, named):
    (tmp_path / "config").write_text("[profile real]\nregion = eu-west-1\n")
    env = {"AWS_CONFIG_FILE": str(tmp_path / "config"), "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
           "AWS_PROFILE": None, **env}
    args = ["discover", "--out", str(tmp_path / "out")] + ([] if env.get("AWS_PROFILE") else
                                                            ["--profile", "nosuchprofile"])
    one_line(run(args, env=env), 2, f"{named}: no such profile")
    assert not (tmp_path / "out" / "snapshot.json").exists()


def test_evidence_never_writes_its_pack_into_its_raw_folder(snapshots):
    tmp, _ = snapshots
    raw = tmp / "raw"
    raw.mkdir()
    (raw / "crawl.json").write_text("{}")
    for out in (raw / "crawl.json", raw / "pack.zip", raw / "sub" / ".." / "pack.zip"):
        one_line(run(["evidence", "--snapshot", str(tmp / "new"), "--raw", str(raw), "--out", str(out)]), 2,
                 "an input folder of this run")
    assert sorted(p.name for p in raw.iterdir()) == ["crawl.json"] and (raw / "crawl.json").read_text() == "{}"


def test_a_loop_of_links_is_one_line(tmp_path):
    (tmp_path / "a").symlink_to(tmp_path / "b")
    (tmp_path / "b").symlink_to(tmp_path / "a")
    for args in (["discover", "--replay", str(tmp_path / "a"), "--out", str(tmp_path / "o")],
                 ["discover", "--raw", str(tmp_path / "a"), "--out", str(tmp_path / "o"), "--accounts", "123456789012"]):
        one_line(run(args), 2, "cannot follow")


def test_snapshot_refuses_a_folder_render_would_refuse_before_the_crawl(tmp_path):
    """archviz snapshot crawls, then renders into the same folder: what the render refuses (a page
    of yours in a folder that is no earlier render's) is refused before the crawl."""
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "index.md").write_text("# my page\n")
    one_line(run(["snapshot", "--accounts", "123456789012", "--out", str(tmp_path / "mine")]), 1,
             "refusing to replace")
    assert not (tmp_path / "mine" / "snapshot.json").exists()


@pytest.mark.parametrize("kind", ["symlink", "fifo"])
def test_render_never_replaces_a_link_or_fifo_in_an_earlier_render(snapshots, kind):
    tmp, _ = snapshots
    out = tmp / "site"
    assert run(["render", str(tmp / "new"), "--out", str(out)]).exit_code == 0
    target = out / "findings.md"
    target.unlink()
    if kind == "symlink":
        (tmp / "elsewhere.md").write_text("mine")
        target.symlink_to(tmp / "elsewhere.md")
    else:
        os.mkfifo(target)
    for args in (["render", str(tmp / "new"), "--out", str(out)], ["snapshot", "--accounts", "123456789012",
                                                                     "--out", str(out)]):
        one_line(run(args), 2, "not a regular file")
    assert target.is_symlink() if kind == "symlink" else target.is_fifo()
    if kind == "symlink":
        assert (tmp / "elsewhere.md").read_text() == "mine"
