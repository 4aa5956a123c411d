"""Profiles written with ``credential_process``: aws and boto3 get the key, no file under ~/.aws holds the secret.

botocore's documented contract for ``credential_process``: the command prints
``{"Version": 1, "AccessKeyId": ..., "SecretAccessKey": ...}`` on stdout (AWS CLI User Guide,
"Sourcing credentials with an external process": "The Version key must be set to 1").
"""

from __future__ import annotations

import json

import pytest

from labkit.aws import list_profiles, preset_profile, remove_profile, write_profile
from labkit.config import Secret
from tests.aws.conftest import cli_env, run_aws
from tests.conftest import REPO

pytestmark = [pytest.mark.integration, pytest.mark.slow]

REGION = "partner01"
SECRET = "process-secret-0123456789abcdef"


def _files_holding(root, text):
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() and text in p.read_text(errors="replace"))


def _use_it(profile, home, env_extra, tmp_path):
    """Run aws s3 ls / s3 cp and boto3 against the profile in ~/.aws; return the bucket listing."""
    import boto3

    aws_dir = home / ".aws"
    env = {**cli_env(aws_dir / "config", aws_dir / "credentials", home), **env_extra}
    bucket = f"cp-{profile.name}"
    out = run_aws(["--profile", profile.name, "s3", "mb", f"s3://{bucket}"], env)
    assert out.returncode == 0, out.stderr
    (tmp_path / "f.txt").write_text("credential_process works\n")
    assert run_aws(["--profile", profile.name, "s3", "cp", str(tmp_path / "f.txt"), f"s3://{bucket}/f.txt"],
                   env).returncode == 0
    out = run_aws(["--profile", profile.name, "s3", "ls", f"s3://{bucket}/"], env)
    assert out.returncode == 0 and "f.txt" in out.stdout, out.stderr
    session = boto3.Session(profile_name=profile.name)  # reads ~/.aws of the test's HOME
    creds = session.get_credentials().get_frozen_credentials()
    assert creds.access_key == profile.access_key_id and creds.secret_key == SECRET
    body = session.client("s3").get_object(Bucket=bucket, Key="f.txt")["Body"].read()
    assert body == b"credential_process works\n"


def test_secret_from_the_environment(aws_sandbox, clean_env, tmp_path, monkeypatch):
    monkeypatch.setenv("LAB_CP_SECRET", SECRET)
    profile = preset_profile("moto", "cpenv", region=REGION, url=aws_sandbox["gateway"], access_key_id="AKIDCPENV",
                             secret_env="LAB_CP_SECRET")
    result = write_profile(profile, dry_run=False)  # ~/.aws of the test's HOME
    assert result.secret == "credential_process ($LAB_CP_SECRET)"
    config = (clean_env / ".aws" / "config").read_text()
    assert "credential_process = " in config and "aws credential-process cpenv --access-key-id AKIDCPENV" in config
    assert not (clean_env / ".aws" / "credentials").exists()
    _use_it(profile, clean_env, {"LAB_CP_SECRET": SECRET}, tmp_path)
    assert _files_holding(clean_env / ".aws", SECRET) == []
    row = next(r for r in list_profiles() if r.profile == "cpenv")
    assert row.labkit and row.secret == "credential_process ($LAB_CP_SECRET)"


def test_secret_from_the_keyring_and_plain_keys_taken_out(aws_sandbox, clean_env, tmp_path, monkeypatch):
    import keyring

    from tests.aws.file_keyring import FileKeyring

    store = tmp_path / "keyring.json"  # the test keyring's file, outside ~/.aws
    monkeypatch.setenv("LABKIT_TEST_KEYRING", str(store))
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "tests.aws.file_keyring.FileKeyring")
    monkeypatch.setenv("PYTHONPATH", str(REPO))
    previous = keyring.get_keyring()
    keyring.set_keyring(FileKeyring())
    try:
        # first as plain keys (asked for), then the default: credential_process with the keyring
        base = {"region": REGION, "url": aws_sandbox["gateway"], "access_key_id": "AKIDCPKR",
                "secret": Secret(SECRET, "typed")}
        write_profile(preset_profile("moto", "cpkr", credentials="keys", **base), dry_run=False)
        assert SECRET in (clean_env / ".aws" / "credentials").read_text()
        profile = preset_profile("moto", "cpkr", **base)
        dry = write_profile(profile)
        assert dry.notes == ["would store the secret in the keyring (labkit/aws/cpkr)"] and not store.exists()
        result = write_profile(profile, dry_run=False)
        assert result.secret == "credential_process (keyring labkit/aws/cpkr)"
        assert json.loads(store.read_text()) == {"labkit/aws/cpkr": SECRET}
        _use_it(profile, clean_env, {"LABKIT_TEST_KEYRING": str(store), "PYTHONPATH": str(REPO),
                                     "PYTHON_KEYRING_BACKEND": "tests.aws.file_keyring.FileKeyring"}, tmp_path)
        # the plain key left the credentials file, and its backup keeps it masked
        assert _files_holding(clean_env / ".aws", SECRET) == []
        assert "aws_secret_access_key = ******" in (clean_env / ".aws" / "credentials.labkit-backup").read_text()
        removed = remove_profile("cpkr", dry_run=False)
        assert any("python -m keyring del labkit aws/cpkr" in n for n in removed.notes)
        assert "cpkr" not in (clean_env / ".aws" / "config").read_text()
    finally:
        keyring.set_keyring(previous)


def test_a_missing_secret_is_one_line_from_aws(aws_sandbox, clean_env, tmp_path, monkeypatch):
    monkeypatch.setenv("LAB_CP_SECRET", SECRET)
    profile = preset_profile("moto", "cpgone", region=REGION, url=aws_sandbox["gateway"],
                             access_key_id="AKIDGONE", secret_env="LAB_CP_SECRET")
    write_profile(profile, dry_run=False)
    env = {**cli_env(clean_env / ".aws" / "config", clean_env / ".aws" / "credentials", clean_env),
           "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring"}  # the variable is not exported here
    out = run_aws(["--profile", "cpgone", "sts", "get-caller-identity"], env)
    assert out.returncode != 0
    assert "labkit: error: no secret" in out.stderr and "export LAB_CP_SECRET" in out.stderr
    assert "Traceback" not in out.stderr
