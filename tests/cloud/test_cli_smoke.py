"""``labkit release-check`` from the command line, and the smoke test's honesty when the cloud is not a stand-in."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cloud.conftest import comment_count, final_rows, leftovers, wiki_rows

pytestmark = [pytest.mark.integration, pytest.mark.slow]

LABKIT = str(Path(sys.executable).with_name("labkit"))


def cli(args: list[str], sandboxes, tmp_path) -> subprocess.CompletedProcess:
    """Run the labkit command with the module's sandboxes and a private temp folder."""
    tmp = tmp_path / "TMPDIR"
    tmp.mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update({"LABKIT_RUN_DIR": str(sandboxes["run_dir"]), "TMPDIR": str(tmp)})
    return subprocess.run([LABKIT, *args], env=env, capture_output=True, text=True, timeout=600)


def test_cli_dry_run_posts_nothing(sandboxes, jira, plan_file, tmp_path):
    before = comment_count(jira, "DEMO-5")
    p = cli(["release-check", "demo/calc#1", "--onto", "release-1.x", "--plan", str(plan_file), "--issue", "DEMO-5",
             "--test", "python3 -m unittest -q", "--aws-dir", str(tmp_path / "aws"), "--format", "csv"],
            sandboxes, tmp_path)
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert lines[0] == "step,status,detail"
    assert [line.split(",")[1] for line in lines[1:5]] == ["dry run"] * 4
    assert comment_count(jira, "DEMO-5") == before
    assert not (tmp_path / "aws").exists() and not any((tmp_path / "TMPDIR").iterdir())


def test_cli_apply_stops_at_a_conflict_with_one_line_and_posts_the_partial_table(sandboxes, jira, plan_file,
                                                                                 tmp_path):
    p = cli(["release-check", "demo/calc#2", "--onto", "release-1.x", "--plan", str(plan_file), "--issue", "DEMO-5",
             "--deployment", "server", "--aws-dir", str(tmp_path / "aws"), "--apply", "--format", "json"],
            sandboxes, tmp_path)
    assert p.returncode == 1
    err = p.stderr.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("labkit: error: 1 review and test: PR demo/calc#2 onto release-1.x: "
                                               "conflict")
    import json

    final = json.loads(p.stdout)
    assert wiki_rows(jira.session.get("/rest/api/2/issue/DEMO-5/comment").json()["comments"][-1]["body"]) == \
        final_rows(type("Run", (), {"final": final})())
    assert not any((tmp_path / "TMPDIR").iterdir())
    assert leftovers() == {}


def test_cli_bad_input_is_one_line(sandboxes, tmp_path):
    p = cli(["release-check", "demo/calc#1", "--onto", "release-1.x", "--plan", str(tmp_path / "missing.toml")],
            sandboxes, tmp_path)
    assert p.returncode == 1 and "Traceback" not in p.stderr
    assert p.stderr.strip() == f"labkit: error: 2 test cloud: cannot read plan file {tmp_path / 'missing.toml'} " \
                               "(No such file or directory): check the path"
    p = cli(["release-check", "x", "--onto", "b", "--plan", "p", "--ports", "22,99999"], sandboxes, tmp_path)
    assert p.returncode == 2 and "is not a list of TCP ports" in p.stderr


def test_smoke_test_never_passes_addresses_it_cannot_check(sandboxes, plan_file, tmp_path, monkeypatch):
    """Told the endpoint is a real cloud, moto's addresses (outside the plan's ranges) fail; nothing is left."""
    from labkit.aws import write_profile
    from labkit.cloud import profile_from_plan, smoke_test
    from labkit.cloud.smoke import in_range, in_subnet
    from labkit.vm import load_plan

    plan = load_plan(plan_file)[0]
    profile = profile_from_plan(plan, url=sandboxes["profile_url"], **sandboxes["profile_fields"])
    files = {"config_file": tmp_path / "config", "credentials_file": tmp_path / "credentials"}
    write_profile(profile, dry_run=False, **files)
    rows = {r.step: r for r in smoke_test(profile, plan, stand_in=False, timeout=20, **files)}
    # moto's custom region has no subnet: with stand_in=False the smoke test does not invent one
    assert rows["run instance"].status == "fail" and "subnet" in rows["run instance"].detail.lower()
    assert rows["public IP"].status == rows["reach"].status == "skip"
    assert rows["delete key pair"].status == "pass" and leftovers() == {}
    subnet = _subnet()
    try:
        rows = {r.step: r for r in smoke_test(profile, plan, stand_in=False, subnet=subnet, timeout=20, **files)}
    finally:
        _ec2().delete_subnet(SubnetId=subnet)
    public = rows["public IP"].detail.split()[0]
    assert not in_range(public, plan.public_range.first, plan.public_range.last)
    assert rows["public IP"].status == "fail" and "outside the planned" in rows["public IP"].detail
    private = rows["private IP"].detail.split()[0]
    assert not in_subnet(private, plan.private_subnet)
    assert rows["private IP"].status == "fail" and rows["reach"].status == "skip"
    assert rows["terminate"].status == rows["delete key pair"].status == "pass"
    assert leftovers() == {}


def _ec2():
    from tests.cloud.conftest import ec2_gateway

    return ec2_gateway()


def _subnet() -> str:
    """Create a subnet in moto's default VPC of the region (moto's custom regions have none)."""
    ec2 = _ec2()
    vpc = next(v for v in ec2.describe_vpcs()["Vpcs"] if v["IsDefault"])
    return ec2.create_subnet(VpcId=vpc["VpcId"], CidrBlock="172.31.8.0/24",
                             AvailabilityZone="us-east-1a")["Subnet"]["SubnetId"]
