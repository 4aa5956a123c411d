"""``labkit aws write|verify|env|presets`` on the command line."""

from __future__ import annotations

import json

import pytest

from labkit.cli import main

pytestmark = pytest.mark.unit


def test_write_is_a_dry_run_by_default_then_applies(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("LAB_SECRET", "cli-secret-value")
    cfg, cred = tmp_path / "config", tmp_path / "credentials"
    args = ["aws", "write", "partner01", "--preset", "eucalyptus", "--host", "10.0.0.1", "--region", "partner01",
            "--access-key-id", "AKIDCLI", "--secret-env", "LAB_SECRET",
            "--config-file", str(cfg), "--credentials-file", str(cred)]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "+[services partner01]" in out and "cli-secret-value" not in out and not cfg.exists()
    assert main([*args, "--apply", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    # the secret has an environment variable to live in: credential_process, no credentials file at all
    assert [r["changed"] for r in rows] == [True, False] and not cred.exists()
    assert rows[0]["secret"] == "credential_process ($LAB_SECRET)"
    text = cfg.read_text()
    assert "cli-secret-value" not in text
    assert "credential-process partner01 --access-key-id AKIDCLI --secret-env LAB_SECRET" in text
    assert "request_checksum_calculation = when_required" in text
    assert main(args) == 0
    assert "nothing to change" in capsys.readouterr().out
    # plain keys only when asked
    assert main([*args, "--credentials", "keys", "--apply"]) == 0
    capsys.readouterr()
    assert "aws_secret_access_key = cli-secret-value" in cred.read_text()
    assert "credential_process" not in cfg.read_text()


def test_credential_process_prints_the_json_aws_reads(capsys, monkeypatch):
    monkeypatch.setenv("LAB_SECRET", "cp-secret-value")
    assert main(["aws", "credential-process", "p", "--access-key-id", "AKIDCP", "--secret-env", "LAB_SECRET"]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out) == {"Version": 1, "AccessKeyId": "AKIDCP", "SecretAccessKey": "cp-secret-value"}
    assert err == ""
    monkeypatch.delenv("LAB_SECRET")
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.null.Keyring")
    assert main(["aws", "credential-process", "p", "--access-key-id", "AKIDCP", "--secret-env", "LAB_SECRET"]) == 1
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and err.startswith("labkit: error: no secret") and "LAB_SECRET" in err


def test_list_and_remove(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("LAB_SECRET", "cli-secret-value")
    files = ["--config-file", str(tmp_path / "c"), "--credentials-file", str(tmp_path / "k")]
    (tmp_path / "c").write_text("[default]\nregion = us-east-1\n")
    assert main(["aws", "write", "lab", "--url", "http://10.0.0.1:5000", "--region", "partner01",
                 "--access-key-id", "AKIDCLI", "--secret-env", "LAB_SECRET", "--apply", *files]) == 0
    capsys.readouterr()
    assert main(["aws", "list", "--format", "json", *files]) == 0
    rows = {r["profile"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["lab"]["labkit"] is True and rows["default"]["labkit"] is False
    assert rows["lab"]["endpoint"] == "http://10.0.0.1:5000" and rows["lab"]["secret"] == "credential_process ($LAB_SECRET)"
    assert main(["aws", "remove", "default", *files]) == 1
    assert "not written by labkit" in capsys.readouterr().err
    assert main(["aws", "remove", "lab", *files]) == 0
    assert "-[profile lab]" in capsys.readouterr().out and "[profile lab]" in (tmp_path / "c").read_text()
    assert main(["aws", "remove", "lab", "--apply", *files]) == 0
    assert (tmp_path / "c").read_text() == "[default]\nregion = us-east-1\n"


def test_user_mistakes_exit_1_with_one_line(tmp_path, capsys):
    assert main(["aws", "write", "p", "--region", "r", "--url", "127.0.0.1:5056",
                 "--config-file", str(tmp_path / "c"), "--credentials-file", str(tmp_path / "k")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no scheme" in err
    assert main(["aws", "write", "p", "--region", "r", "--endpoint", "ec3=http://h/",
                 "--config-file", str(tmp_path / "c"), "--credentials-file", str(tmp_path / "k")]) == 1
    assert "did you mean ec2" in capsys.readouterr().err


def test_env_and_presets(tmp_path, capsys):
    (tmp_path / "c").write_text("[profile partner01]\nregion = partner01\n")
    assert main(["aws", "env", "partner01", "--config-file", str(tmp_path / "c"),
                 "--credentials-file", str(tmp_path / "k")]) == 0
    out = capsys.readouterr().out
    assert "export AWS_PROFILE=partner01\n" in out and f"export AWS_CONFIG_FILE={tmp_path / 'c'}" in out
    assert out.startswith("unset AWS_ACCESS_KEY_ID")
    assert main(["aws", "presets", "--format", "csv"]) == 0
    assert "eucalyptus-dns,8773" in capsys.readouterr().out


@pytest.mark.parametrize("config", [None, "[profile other]\nregion = x\n"])
def test_env_of_a_profile_the_config_file_lacks_is_one_line_and_exit_1(tmp_path, capsys, config):
    if config is not None:
        (tmp_path / "c").write_text(config)
    code = main(["aws", "env", "partner01", "--config-file", str(tmp_path / "c"),
                 "--credentials-file", str(tmp_path / "k")])
    out, err = capsys.readouterr()
    assert code == 1 and out == "" and err.count("\n") == 1
    assert "no profile 'partner01'" in err and "labkit aws write partner01" in err


def test_verify_unknown_profile_exits_1_with_a_table(tmp_path, capsys):
    (tmp_path / "c").write_text("[profile other]\nregion = x\n")
    code = main(["aws", "verify", "nope", "--tool", "boto3", "--format", "json",
                 "--config-file", str(tmp_path / "c"), "--credentials-file", str(tmp_path / "k")])
    out, err = capsys.readouterr()
    rows = json.loads(out)
    checks = [r for r in rows if r["check"] not in ("environment", "client and checksums")]
    assert code == 1 and checks
    # the table, then one error line naming the failed checks (as every command that exits 1)
    assert [ln for ln in err.splitlines() if ln.startswith("labkit: error:")] == err.splitlines()[-1:]
    assert "checks failed: boto3 sts get-caller-identity" in err
    # every check fails, except those that build on a failed one (the S3 object checks need the bucket)
    assert all(r["status"] == "fail" or (r["status"] == "skip" and r["detail"].startswith("needs ")) for r in checks)
    assert {r["check"] for r in checks if r["status"] == "fail"} >= {"sts get-caller-identity",
                                                                     "s3 create-bucket + list-buckets"}


def test_import_eucarc_dry_run_then_apply(tmp_path, capsys):
    rc = tmp_path / "partner03" / "eucarc"
    rc.parent.mkdir()
    rc.write_text("export EC2_URL=http://10.3.0.1:8773/services/compute\nexport EC2_ACCESS_KEY='AKIDRC'\n"
                  "export EC2_SECRET_KEY='rc-secret-value'\n")
    files = ["--config-file", str(tmp_path / "c"), "--credentials-file", str(tmp_path / "k")]
    assert main(["aws", "import", "--eucarc", str(rc), "--region", "partner03", *files]) == 0
    out = capsys.readouterr().out
    assert "+[profile partner03]" in out and "rc-secret-value" not in out and not (tmp_path / "c").exists()
    assert main(["aws", "import", "--eucarc", str(rc), "--region", "partner03", "--apply", *files]) == 0
    assert "endpoint_url = http://10.3.0.1:8773/services/compute" in (tmp_path / "c").read_text()
    assert "rc-secret-value" in (tmp_path / "k").read_text()


@pytest.mark.parametrize(("timeout", "words"), [("0", "lets no call through"), ("-1", "lets no call through"),
                                                 ("nan", "lets no call through"), ("inf", "more than the 3600 s"),
                                                 ("1e309", "more than the 3600 s"),
                                                 ("99999999999999999999", "more than the 3600 s")])
def test_verify_with_a_timeout_no_call_can_take_is_one_line(tmp_path, capsys, timeout, words):
    (tmp_path / "c").write_text("[profile p]\nregion = r\nendpoint_url = http://127.0.0.1:9\n")
    code = main(["aws", "verify", "p", "--tool", "boto3", "--timeout", timeout,
                 "--config-file", str(tmp_path / "c"), "--credentials-file", str(tmp_path / "k")])
    out, err = capsys.readouterr()
    assert code == 1 and out == "" and err.count("\n") == 1 and words in err


@pytest.mark.parametrize("port", ["99999999999999999999", "0", "65536", "9" * 5000, "0x10"])
def test_a_port_no_socket_can_have_is_a_usage_error_and_writes_nothing(tmp_path, capsys, port):
    with pytest.raises(SystemExit) as exit_:
        main(["aws", "write", "p1", "--region", "us-east-1", "--port", port, "--apply",
              "--config-file", str(tmp_path / "c"), "--credentials-file", str(tmp_path / "k")])
    assert exit_.value.code == 2 and "is not a whole number from 1 to 65535" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []
