"""The real aws CLI and boto3 talk to moto using only the files labkit wrote (no --endpoint-url)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from labkit.aws import preset_profile, verify, write_profile
from labkit.aws.verify import CHECKS
from labkit.config import Secret
from tests.aws.conftest import AWS, cli_env, free_port, proxy_env, run_aws

pytestmark = [pytest.mark.integration, pytest.mark.slow]

REGION = "partner01"
KEY_ID, SECRET = "AKIDLABKITTEST", "labkit-test-secret-0123456789"
# preset -> the services whose checks must pass (the others are skipped: they would go to AWS)
SERVED = {"moto": {"sts", "ec2", "iam", "s3"}, "localstack": {"sts", "ec2", "iam", "s3"},
          "minio": {"s3", "sts"}, "ceph-rgw": {"s3", "iam", "sts"},
          "eucalyptus": {"sts", "ec2", "iam", "s3"}, "eucalyptus-dns": {"sts", "ec2", "iam", "s3"}}


def _profile(preset: str, moto_url: str, sandbox: dict, **extra):
    kw = {"access_key_id": KEY_ID, "secret": Secret(SECRET, "test"), "credentials": "keys", **extra}
    name = f"lab-{preset}"
    if preset == "eucalyptus":
        return preset_profile(preset, name, region=REGION, url=sandbox["eucalyptus"], **kw)
    if preset == "eucalyptus-dns":
        return preset_profile(preset, name, region=REGION, host="cloud.test", **kw)
    return preset_profile(preset, name, region=REGION, url=moto_url, **kw)


OBJECT_CHECKS = {"s3 put-object + get-object", "s3 multipart upload (10 MiB, 5 MiB parts)", "s3 ranged get",
                 "s3 copy-object", "s3 presigned get (requests)", "s3 delete objects + bucket"}


@pytest.mark.parametrize("preset", list(SERVED))
def test_every_preset_answers_the_real_cli_and_boto3(preset, moto_url, aws_sandbox, clean_env, tmp_path,
                                                     monkeypatch):
    """Gateway and per-service presets against a plain moto server; Eucalyptus ones against the sandbox's front."""
    cfg, cred = tmp_path / "config", tmp_path / "credentials"
    profile = _profile(preset, moto_url, aws_sandbox)
    write_profile(profile, cfg, cred, dry_run=False)
    extra = {}
    if preset == "eucalyptus-dns":  # the front stands in for DNS: every service host name reaches it
        extra = proxy_env(aws_sandbox["eucalyptus"])
        for k, v in extra.items():
            monkeypatch.setenv(k, v)
    env = cli_env(cfg, cred, clean_env, **extra)
    served = SERVED[preset]

    # the real aws CLI, a separate process per command, with only the written files
    if "s3" in served:
        bucket = f"lab-{preset}-bucket"
        out = run_aws(["--profile", profile.name, "s3api", "create-bucket", "--bucket", bucket,
                       "--create-bucket-configuration", f"LocationConstraint={REGION}"], env)
        assert out.returncode == 0, out.stderr
        (tmp_path / "up.txt").write_text("uploaded by the aws CLI\n")
        out = run_aws(["--profile", profile.name, "s3", "cp", str(tmp_path / "up.txt"), f"s3://{bucket}/up.txt"], env)
        assert out.returncode == 0, out.stderr
        out = run_aws(["--profile", profile.name, "s3", "ls", f"s3://{bucket}/"], env)
        assert out.returncode == 0 and "up.txt" in out.stdout, out.stderr
    if "sts" in served:
        out = run_aws(["--profile", profile.name, "--output", "json", "sts", "get-caller-identity"], env)
        assert out.returncode == 0, out.stderr
        assert json.loads(out.stdout)["Account"]
    if "ec2" in served:
        out = run_aws(["--profile", profile.name, "--output", "json", "ec2", "create-volume", "--size", "1",
                       "--availability-zone", f"{REGION}a"], env)
        assert out.returncode == 0, out.stderr
        vol = json.loads(out.stdout)["VolumeId"]
        out = run_aws(["--profile", profile.name, "--output", "json", "ec2", "describe-volumes",
                       "--volume-ids", vol], env)
        assert json.loads(out.stdout)["Volumes"][0]["VolumeId"] == vol

    # boto3 in this process, reading the same files through the environment only
    import boto3

    monkeypatch.setenv("AWS_CONFIG_FILE", str(cfg))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(cred))
    session = boto3.Session(profile_name=profile.name)
    assert session.region_name == REGION
    if "s3" in served:
        s3 = session.client("s3")
        assert s3.get_object(Bucket=f"lab-{preset}-bucket", Key="up.txt")["Body"].read() == b"uploaded by the aws CLI\n"
        assert s3.meta.config.s3["addressing_style"] == "path"
        assert s3.meta.config.request_checksum_calculation == "when_required"
    if "ec2" in served:
        vols = session.client("ec2").describe_volumes()["Volumes"]
        assert vol in [v["VolumeId"] for v in vols]
    if "iam" in served:
        session.client("iam").list_users()

    # labkit's own verification table agrees, for both tools, down to multipart and presigned GET
    monkeypatch.delenv("AWS_CONFIG_FILE")
    monkeypatch.delenv("AWS_SHARED_CREDENTIALS_FILE")
    rows = verify(profile, cfg, cred, timeout=10)
    assert {r.tool for r in rows} == {"boto3", "aws-cli"}
    info = [r for r in rows if r.status == "info"]
    assert len(info) == 2 and all("request checksums when_required" in r.detail for r in info)
    for r in rows:
        if r.status == "info":
            continue
        service = next(c.service for c in CHECKS if c.name == r.check)
        assert r.status == ("pass" if service in served else "skip"), r
    if "s3" in served:
        passed = {(r.tool, r.check) for r in rows if r.status == "pass"}
        assert {(t, c) for t in ("boto3", "aws-cli") for c in OBJECT_CHECKS} <= passed
    if preset.startswith("eucalyptus"):
        log = Path(aws_sandbox["log"]).read_text()
        for svc in ("compute", "Euare", "Tokens", "objectstorage"):
            want = f"http://{svc.lower()}.{REGION}.cloud.test:8773/" if preset == "eucalyptus-dns" \
                else f" /services/{svc}"
            assert want in log, want


def _write_text_profile(tmp_path, config_text, cred_text=f"[p]\naws_access_key_id = {KEY_ID}\n"
                        f"aws_secret_access_key = {SECRET}\n"):
    cfg, cred = tmp_path / "config", tmp_path / "credentials"
    cfg.write_text(config_text)
    cred.write_text(cred_text)
    return cfg, cred


def _only(rows, tool):
    return [r for r in rows if r.tool == tool]


def _checks(rows):
    """The check rows, without each tool's info row (versions and checksum behaviour)."""
    return [r for r in rows if r.status != "info"]


BUCKET = "s3 create-bucket + list-buckets"


def test_connection_refused_becomes_advice(clean_env, tmp_path):
    port = free_port()  # nothing listens there
    profile = preset_profile("moto", "p", region=REGION, url=f"http://127.0.0.1:{port}",
                             access_key_id=KEY_ID, secret=Secret(SECRET, "t"))
    cfg, cred = tmp_path / "config", tmp_path / "credentials"
    write_profile(profile, cfg, cred, dry_run=False)
    rows = _checks(verify(profile, cfg, cred, checks=["sts", BUCKET], timeout=3))
    assert len(rows) == 4
    for r in rows:
        assert r.status == "fail" and r.detail.startswith("cannot connect"), r
        assert f"127.0.0.1:{port}" in r.detail and "host and port" in r.advice


def test_bad_credentials_become_advice(clean_env, tmp_path, moto_auth_url):
    profile = preset_profile("moto", "p", region=REGION, url=moto_auth_url, access_key_id="AKIDNOTKNOWN",
                             secret=Secret("wrong", "t"))
    cfg, cred = tmp_path / "config", tmp_path / "credentials"
    write_profile(profile, cfg, cred, dry_run=False)
    rows = _checks(verify(profile, cfg, cred, checks=["sts", "ec2 describe-regions", BUCKET]))
    assert len(rows) == 6
    for r in rows:
        assert r.status == "fail" and r.detail.startswith("bad credentials"), r
        assert "access key" in r.advice
    codes = " ".join(r.detail for r in rows)
    assert "InvalidClientTokenId" in codes and "AuthFailure" in codes and "InvalidAccessKeyId" in codes


def test_unknown_profile_becomes_advice(clean_env, tmp_path):
    cfg, cred = _write_text_profile(tmp_path, "[profile other]\nregion = x\n")
    rows = _checks(verify("nope", cfg, cred, checks=["sts"]))
    assert [r.status for r in rows] == ["fail", "fail"]
    assert all(r.detail.startswith("unknown profile") and "(nope)" in r.detail for r in rows)
    assert all("labkit aws write" in r.advice for r in rows)


def test_missing_services_section_becomes_advice(clean_env, tmp_path):
    cfg, cred = _write_text_profile(tmp_path, "[profile p]\nregion = partner01\nservices = gone\n")
    rows = _checks(verify("p", cfg, cred, checks=["sts", "ec2 describe-regions"]))
    assert len(rows) == 4
    for r in rows:
        assert r.status == "fail" and r.detail.startswith("missing services section"), r
        assert "[services X]" in r.advice


def test_no_region_becomes_advice(clean_env, tmp_path, moto_url):
    cfg, cred = _write_text_profile(tmp_path, f"[profile p]\nendpoint_url = {moto_url}\n")
    rows = _checks(verify("p", cfg, cred, checks=["ec2 describe-regions"]))
    assert len(rows) == 2
    for r in rows:
        assert r.status == "fail" and r.detail.startswith("no region"), r


def test_a_profile_without_endpoints_is_never_sent_to_aws(clean_env, tmp_path):
    cfg, cred = _write_text_profile(tmp_path, "[profile p]\nregion = us-east-1\n")
    rows = _checks(verify("p", cfg, cred))
    assert rows and all(r.status == "skip" and "would go to AWS" in r.detail for r in rows)


def test_env_exports_switch_a_polluted_shell(clean_env, tmp_path, moto_url):
    from labkit.aws import env

    profile = preset_profile("moto", "p", region=REGION, url=moto_url, access_key_id=KEY_ID,
                             secret=Secret(SECRET, "t"))
    cfg, cred = tmp_path / "config", tmp_path / "credentials"
    write_profile(profile, cfg, cred, dry_run=False)
    switch = env(profile, cfg, cred)
    assert SECRET not in switch.shell and SECRET not in switch.cell
    polluted = {"PATH": "/usr/bin:/bin", "HOME": str(clean_env), "AWS_DEFAULT_REGION": "eu-bogus-1",
                "AWS_ACCESS_KEY_ID": "BOGUS", "AWS_SECRET_ACCESS_KEY": "BOGUS", "AWS_PROFILE": "default",
                "AWS_ENDPOINT_URL": "http://127.0.0.1:9", "AWS_EC2_METADATA_DISABLED": "true"}
    script = switch.shell + f'"{AWS}" configure get region && "{AWS}" --output json sts get-caller-identity'
    out = subprocess.run(["bash", "-c", script], env=polluted, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[0] == REGION and '"Account"' in out.stdout
    cell = switch.cell + ("import boto3\n"
                          "print(boto3.client('sts').get_caller_identity()['Account'])\n")
    import sys

    out = subprocess.run([sys.executable, "-c", cell], env=polluted, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().isdigit()
