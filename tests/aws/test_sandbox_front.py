"""The sandbox's aws service, proven with boto3 and the real aws CLI alone (no labkit verify in the loop).

The Eucalyptus front answers a 4.x cloud controller's URL layout, path-style and DNS-style; the
strict mode refuses the S3 checksum headers botocore >= 1.36 sends by default, the way S3-compatible
stores that predate them do ("NotImplemented: A header you provided implies functionality that is
not implemented", S3's error for an unsupported header, from the Amazon S3 API reference's error list).
"""

from __future__ import annotations

import json

import pytest
import requests

from tests.aws.conftest import cli_env, proxy_env, run_aws

pytestmark = [pytest.mark.integration, pytest.mark.slow]

REGION = "partner01"


def _client(service: str, url: str, **config):
    import boto3
    from botocore.config import Config

    return boto3.client(service, endpoint_url=url, region_name=REGION, aws_access_key_id="AKIDFRONT",
                        aws_secret_access_key="front-secret-000000",
                        config=Config(retries={"max_attempts": 1}, s3={"addressing_style": "path"}, **config))


def test_path_style_layout_reaches_each_service(aws_sandbox, clean_env):
    base = aws_sandbox["eucalyptus"]
    assert _client("ec2", f"{base}/services/compute").describe_images()["Images"]
    assert "Account" in _client("sts", f"{base}/services/Tokens").get_caller_identity()
    assert "Users" in _client("iam", f"{base}/services/Euare").list_users()
    assert "AutoScalingGroups" in _client("autoscaling", f"{base}/services/AutoScaling").describe_auto_scaling_groups()
    assert "MetricAlarms" in _client("cloudwatch", f"{base}/services/CloudWatch").describe_alarms()
    assert "LoadBalancerDescriptions" in _client("elb", f"{base}/services/LoadBalancing").describe_load_balancers()
    s3 = _client("s3", f"{base}/services/objectstorage")
    s3.create_bucket(Bucket="front-path", CreateBucketConfiguration={"LocationConstraint": REGION})
    s3.put_object(Bucket="front-path", Key="dir/a.txt", Body=b"path style")
    assert s3.get_object(Bucket="front-path", Key="dir/a.txt")["Body"].read() == b"path style"
    url = s3.generate_presigned_url("get_object", Params={"Bucket": "front-path", "Key": "dir/a.txt"})
    assert "/services/objectstorage/front-path/dir/a.txt?" in url
    assert requests.get(url, timeout=10).content == b"path style"
    # the same bucket through the gateway: one cloud behind both ports
    assert _client("s3", aws_sandbox["gateway"]).get_object(Bucket="front-path", Key="dir/a.txt")["Body"].read() \
        == b"path style"


def test_dns_style_host_names_through_the_front_as_proxy(aws_sandbox, clean_env, monkeypatch):
    for k, v in proxy_env(aws_sandbox["eucalyptus"]).items():
        monkeypatch.setenv(k, v)
    domain = f"{REGION}.cloud.test:8773"
    assert _client("ec2", f"http://compute.{domain}/").describe_regions()["Regions"]
    assert "Account" in _client("sts", f"http://tokens.{domain}/").get_caller_identity()
    s3 = _client("s3", f"http://objectstorage.{domain}/")
    s3.create_bucket(Bucket="front-dns", CreateBucketConfiguration={"LocationConstraint": REGION})
    s3.put_object(Bucket="front-dns", Key="k", Body=b"dns style")
    assert s3.get_object(Bucket="front-dns", Key="k")["Body"].read() == b"dns style"


def test_the_real_cli_through_the_front(aws_sandbox, clean_env, tmp_path):
    base = aws_sandbox["eucalyptus"]
    cfg, cred = tmp_path / "config", tmp_path / "credentials"
    cfg.write_text(f"[profile f]\nregion = {REGION}\nservices = f\n"
                   "request_checksum_calculation = when_required\nresponse_checksum_validation = when_required\n"
                   f"[services f]\nec2 =\n  endpoint_url = {base}/services/compute\n"
                   f"s3 =\n  endpoint_url = {base}/services/objectstorage\n")
    cred.write_text("[f]\naws_access_key_id = AKIDFRONT\naws_secret_access_key = front-secret-000000\n")
    env = cli_env(cfg, cred, clean_env)
    out = run_aws(["--profile", "f", "--output", "json", "ec2", "describe-availability-zones"], env)
    assert out.returncode == 0, out.stderr
    assert run_aws(["--profile", "f", "s3", "mb", "s3://front-cli"], env).returncode == 0
    (tmp_path / "big.bin").write_bytes(b"x" * (9 * 1024 * 1024))  # over the CLI's 8 MiB multipart threshold
    out = run_aws(["--profile", "f", "s3", "cp", str(tmp_path / "big.bin"), "s3://front-cli/big.bin"], env)
    assert out.returncode == 0, out.stderr
    out = run_aws(["--profile", "f", "--output", "json", "s3api", "head-object", "--bucket", "front-cli",
                   "--key", "big.bin"], env)
    assert json.loads(out.stdout)["ContentLength"] == 9 * 1024 * 1024
    assert "-" in json.loads(out.stdout)["ETag"]  # a multipart ETag: the upload went in parts


def test_a_call_signed_for_another_service_or_an_unknown_path_is_refused(aws_sandbox, clean_env):
    from botocore.exceptions import ClientError

    base = aws_sandbox["eucalyptus"]
    with pytest.raises(ClientError) as err:
        _client("ec2", f"{base}/services/Euare").describe_images()
    assert err.value.response["Error"]["Code"] == "InvalidAction"
    r = requests.get(f"{base}/", timeout=10)
    assert r.status_code == 404 and "/services/NAME" in r.text
    assert requests.get(f"{base}/services/nosuch/", timeout=10).status_code == 404


def test_the_log_keeps_no_query_string(aws_sandbox, clean_env):
    from pathlib import Path

    s3 = _client("s3", f"{aws_sandbox['eucalyptus']}/services/objectstorage")
    s3.create_bucket(Bucket="front-log", CreateBucketConfiguration={"LocationConstraint": REGION})
    s3.put_object(Bucket="front-log", Key="k", Body=b"x")
    url = s3.generate_presigned_url("get_object", Params={"Bucket": "front-log", "Key": "k"})
    assert requests.get(url, timeout=10).status_code == 200
    log = Path(aws_sandbox["log"]).read_text()
    assert "/services/objectstorage/front-log/k" in log and "X-Amz-Signature" not in log


@pytest.mark.parametrize("mode", ["when_supported", "when_required"])
def test_strict_mode_refuses_the_new_checksums_and_only_them(strict_sandbox, clean_env, mode):
    from botocore.exceptions import ClientError

    for base in (strict_sandbox["gateway"], f"{strict_sandbox['eucalyptus']}/services/objectstorage"):
        s3 = _client("s3", base, request_checksum_calculation=mode, response_checksum_validation=mode)
        bucket = f"strict-{mode.replace('_', '')}-{len(base) % 7}"
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
        if mode == "when_supported":
            with pytest.raises(ClientError) as err:
                s3.put_object(Bucket=bucket, Key="k", Body=b"x")
            assert err.value.response["Error"]["Code"] == "NotImplemented"
            assert "x-amz-" in err.value.response["Error"]["Message"]
        else:
            s3.put_object(Bucket=bucket, Key="k", Body=b"x")
            assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"x"


def test_strict_mode_with_the_real_cli(strict_sandbox, clean_env, tmp_path):
    cfg, cred = tmp_path / "config", tmp_path / "credentials"
    base = f"[profile {{name}}]\nregion = {REGION}\nendpoint_url = {strict_sandbox['gateway']}\n"
    cfg.write_text(base.format(name="plain") + base.format(name="safe")
                   + "request_checksum_calculation = when_required\n")
    cred.write_text("".join(f"[{n}]\naws_access_key_id = AKIDFRONT\naws_secret_access_key = front-secret-000000\n"
                            for n in ("plain", "safe")))
    env = cli_env(cfg, cred, clean_env)
    (tmp_path / "f.txt").write_text("strict\n")
    assert run_aws(["--profile", "safe", "s3", "mb", "s3://strict-cli"], env).returncode == 0
    out = run_aws(["--profile", "plain", "s3", "cp", str(tmp_path / "f.txt"), "s3://strict-cli/f.txt"], env)
    assert out.returncode != 0 and "NotImplemented" in out.stderr
    out = run_aws(["--profile", "safe", "s3", "cp", str(tmp_path / "f.txt"), "s3://strict-cli/f.txt"], env)
    assert out.returncode == 0, out.stderr
