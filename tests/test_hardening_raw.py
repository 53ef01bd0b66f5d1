"""The raw folder (``discover --raw`` / ``--replay``, ``evidence --raw``) under odd conditions:
its folders readable by whoever may read its files, never nested with the snapshot's folder,
never replaced over files of yours, links refused, and a bounded size when read."""

from __future__ import annotations

import json
import os
import shutil
import stat
from pathlib import Path

import boto3
import pytest
from botocore.stub import Stubber

from archviz.discovery.raw import Recorder, Replayer, read_folder
from archviz.errors import InputError, ReplayError
from tests.conftest import invoke

ACCOUNT, REGION = "111122223333", "eu-west-1"
REQUEST = {"org": False, "accounts": None, "ou_ids": None, "role_name": None, "regions": None}


def recorded() -> Recorder:
    """A recorder that kept two answers (botocore's Stubber stands in for AWS)."""
    live = boto3.client("ec2", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="y",
                        endpoint_url="http://127.0.0.1:9")
    recorder = Recorder()
    recorder.attach(live, ACCOUNT, REGION)
    with Stubber(live) as stub:
        stub.add_response("describe_vpcs", {"Vpcs": [{"VpcId": "vpc-1"}]})
        stub.add_response("describe_subnets", {"Subnets": [{"SubnetId": "subnet-1"}]})
        live.describe_vpcs()
        live.describe_subnets()
    recorder.home_region, recorder.finished_at = REGION, recorder.started_at
    return recorder


def mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def one_line(result) -> bool:
    return len(result.stderr.strip().splitlines()) == 1


# --- 1. modes ------------------------------------------------------------------------------------

@pytest.mark.parametrize("umask", [0o022, 0o027])
def test_a_raw_folder_and_its_subfolders_get_the_mode_mkdir_gives(tmp_path, umask):
    previous = os.umask(umask)
    try:
        raw = recorded().write(tmp_path / "raw", REQUEST)
        assert mode(raw) == 0o777 & ~umask  # a new folder
        recorded().write(raw, REQUEST)  # and one that replaces an earlier raw folder
    finally:
        os.umask(previous)
    folders = [raw, raw / ACCOUNT, raw / ACCOUNT / REGION]
    assert [oct(mode(p)) for p in folders] == [oct(0o777 & ~umask)] * 3
    files = [p for p in raw.rglob("*") if p.is_file()]
    assert len(files) == 3 and {oct(mode(p)) for p in files} == {oct(0o666 & ~umask)}
    assert [p.name for p in tmp_path.iterdir()] == ["raw"]  # no staging folder left behind


# --- 2. --raw and --out never nested ----------------------------------------------------------------

@pytest.mark.parametrize("raw, out, message", [
    ("r", "r/sub", "is inside --raw"),
    ("r", "r/a/b", "is inside --raw"),
    ("o/raw", "o", "is inside --out"),
    ("same", "same/../same", "--raw and --out must be different folders"),
])
def test_discover_refuses_an_out_inside_the_raw_folder_and_the_other_way_before_the_crawl(sandbox, tmp_path, raw,
                                                                                          out, message):
    result = invoke(["discover", "--raw", str(tmp_path / raw), "--out", str(tmp_path / out)], env=sandbox.env())
    assert result.returncode == 2 and message in result.stderr and one_line(result), result.stderr
    assert list(tmp_path.iterdir()) == []  # refused before the crawl: nothing written


def test_nesting_is_judged_on_resolved_paths_and_side_by_side_folders_are_fine(tmp_path):
    (tmp_path / "raw").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "raw")
    with pytest.raises(InputError, match="is inside --raw"):
        Recorder.check_target(tmp_path / "raw", tmp_path / "link" / "out")
    with pytest.raises(InputError, match="is inside --out"):
        Recorder.check_target(tmp_path / "link" / "r", tmp_path / "raw")
    Recorder.check_target(tmp_path / "raw", tmp_path / "raw2")  # a common prefix is not nesting
    Recorder.check_target(tmp_path / "raw2", tmp_path / "raw")


# --- 3. never over files of yours ---------------------------------------------------------------------

def test_raw_over_an_earlier_raw_folder_holding_a_file_of_yours_is_refused_and_nothing_is_lost(sandbox, tmp_path):
    raw = tmp_path / "raw"
    args = ["discover", "--raw", str(raw), "--out"]
    assert invoke(args + [str(tmp_path / "o1")], env=sandbox.env()).returncode == 0
    assert invoke(args + [str(tmp_path / "o2")], env=sandbox.env()).returncode == 0  # an earlier raw folder: replaced
    account = next(p.name for p in raw.iterdir() if p.is_dir())
    region = next(p.name for p in (raw / account).iterdir())
    before = {p: p.read_bytes() for p in raw.rglob("*") if p.is_file()}
    for i, extra in enumerate(["README.md", f"{account}/notes.txt", f"{account}/{region}/mine.json",
                               f"{account}/{region}/ec2.DescribeVpcs.json.bak", "keep/ec2.DescribeVpcs.json"]):
        (raw / extra).parent.mkdir(exist_ok=True)
        (raw / extra).write_text("keep me")
        out = tmp_path / f"out{i}"
        result = invoke(args + [str(out)], env=sandbox.env())
        assert result.returncode == 2 and one_line(result), (extra, result.stderr)
        named = {str(raw / "/".join(extra.split("/")[:n])) for n in range(1, extra.count("/") + 2)}
        assert "not written by archviz" in result.stderr and [n for n in named if f"{n} was" in result.stderr], \
            result.stderr  # the file, or the folder of yours that holds it
        assert (raw / extra).read_text() == "keep me"
        assert {p: p.read_bytes() for p in before} == before
        assert not out.exists()  # refused before the crawl
        (raw / extra).unlink()
    (raw / "keep").rmdir()
    (raw / "mine").mkdir()  # an empty folder of yours counts too
    result = invoke(args + [str(tmp_path / "o3")], env=sandbox.env())
    assert result.returncode == 2 and str(raw / "mine") in result.stderr and (raw / "mine").is_dir()


@pytest.mark.parametrize("extra", ["notes/2024/summary.final.json", "123456789012/us-east-1/my-notes.Draft.json",
                                   "123456789012/us-east-1/ec2.RunInstances.json", "caller/notes/sts.AssumeRole.json",
                                   f"{ACCOUNT}/{REGION}/ec2.DescribeVpcs.json/x"])
def test_a_file_of_yours_shaped_like_a_raw_answer_is_not_deleted_either(tmp_path, extra):
    """Only <account id>/<region>/<operation archviz calls>.json is archviz's: a file of yours that
    merely has a raw answer's shape of name is refused, not replaced."""
    raw = recorded().write(tmp_path / "raw", REQUEST)
    if extra.endswith("/x"):  # a folder of yours where archviz would put an answer
        (raw / extra).parent.unlink()
    (raw / extra).parent.mkdir(parents=True, exist_ok=True)
    (raw / extra).write_text("keep me")
    with pytest.raises(InputError, match="not written by archviz|not an archviz raw folder"):
        recorded().write(raw, REQUEST)
    assert (raw / extra).read_text() == "keep me"


def test_a_crawl_json_archviz_did_not_write_does_not_make_a_raw_folder(tmp_path):
    (tmp_path / "raw").mkdir()
    (tmp_path / "raw" / "crawl.json").write_text(json.dumps({"tool": {"name": "another-tool"}}))
    with pytest.raises(InputError, match="not an archviz raw folder"):
        recorded().write(tmp_path / "raw", REQUEST)
    assert json.loads((tmp_path / "raw" / "crawl.json").read_text()) == {"tool": {"name": "another-tool"}}


def test_an_earlier_raw_folder_holding_a_link_is_not_replaced(tmp_path):
    raw = recorded().write(tmp_path / "raw", REQUEST)
    (tmp_path / "mine").mkdir()
    (raw / "999988887777").symlink_to(tmp_path / "mine")
    with pytest.raises(InputError, match="999988887777: a link"):
        Recorder.check_target(raw)
    assert (raw / "999988887777").is_symlink()


# --- 4. links refused when read ---------------------------------------------------------------------

def test_a_linked_folder_or_file_inside_a_raw_folder_is_refused_when_read(tmp_path):
    raw = recorded().write(tmp_path / "raw", REQUEST)
    elsewhere = tmp_path / "elsewhere"
    shutil.copytree(raw / ACCOUNT, elsewhere / "999988887777")
    (raw / "999988887777").symlink_to(elsewhere / "999988887777")
    with pytest.raises(ReplayError, match="999988887777: a link"):
        read_folder(raw)
    with pytest.raises(ReplayError, match="999988887777: a link"):
        Replayer.from_folder(raw)
    result = invoke(["discover", "--replay", str(raw), "--out", str(tmp_path / "o")])
    assert result.returncode == 2 and str(raw / "999988887777") in result.stderr and one_line(result), result.stderr
    (raw / "999988887777").unlink()
    victim = raw / ACCOUNT / REGION / "ec2.DescribeVpcs.json"
    shutil.move(victim, elsewhere / "vpcs.json")
    victim.symlink_to(elsewhere / "vpcs.json")
    with pytest.raises(ReplayError, match="ec2.DescribeVpcs.json: a link"):
        read_folder(raw)


# --- 5. a bounded size ----------------------------------------------------------------------------

def test_a_raw_folder_larger_than_ARCHVIZ_MAX_RAW_BYTES_is_refused(tmp_path, monkeypatch):
    raw = recorded().write(tmp_path / "raw", REQUEST)
    total = sum(p.stat().st_size for p in raw.rglob("*") if p.is_file())
    monkeypatch.setenv("ARCHVIZ_MAX_RAW_BYTES", str(total))
    assert len(read_folder(raw)) == 3  # exactly the limit: read
    monkeypatch.setenv("ARCHVIZ_MAX_RAW_BYTES", str(total - 1))
    with pytest.raises(ReplayError, match=f"{total} bytes.*more than {total - 1}.*ARCHVIZ_MAX_RAW_BYTES"):
        read_folder(raw)
    result = invoke(["discover", "--replay", str(raw), "--out", str(tmp_path / "o")])
    assert result.returncode == 2 and "ARCHVIZ_MAX_RAW_BYTES" in result.stderr and one_line(result), result.stderr
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("value", ["abc", "-1", "1.5", "1e9", "²"])
def test_a_bad_ARCHVIZ_MAX_RAW_BYTES_is_a_one_line_error(tmp_path, value):
    raw = recorded().write(tmp_path / "raw", REQUEST)
    result = invoke(["discover", "--replay", str(raw), "--out", str(tmp_path / "o")],
                    env={"ARCHVIZ_MAX_RAW_BYTES": value})
    assert result.returncode == 2 and "ARCHVIZ_MAX_RAW_BYTES" in result.stderr and one_line(result), result.stderr
    assert not (tmp_path / "o").exists()
