"""Object-level verify turns what S3-compatible stores do today into the concrete fix, for boto3 and the aws CLI.

The vendor's words: "Previously, these checks were opt-in. Now, these checks are enabled by default"
(AWS SDKs and Tools Reference Guide, "Data Integrity Protections for Amazon S3", which names the
shared-config settings request_checksum_calculation and response_checksum_validation), and
WHEN_REQUIRED: "SDK will only calculate checksums if the service marks them as required" (Smithy
RequestHttpChecksumConfig). What stores answer: boto3 issue #4400 ("PutObject fails ... following
release of 1.36", XAmzContentSHA256Mismatch from a "third-party S3-compatible provider"), karton PR
#270 (MissingContentMD5 from MinIO). Against the sandbox refusing the new checksum headers, a profile
without the options fails at its first upload and verify says which two lines to add; a profile
from a preset passes. A store that reads the endpoint's path as a bucket name, and a bucket name put
into the host name, are named as such.
"""

from __future__ import annotations

import pytest

from labkit.aws import CloudProfile, preset_profile, verify, write_profile
from labkit.config import Secret

pytestmark = [pytest.mark.integration, pytest.mark.slow]

REGION = "partner01"
KEY = {"access_key_id": "AKIDADVICE", "secret": Secret("advice-secret-0123456789", "test"), "credentials": "keys"}
PUT = "s3 put-object + get-object"
MULTIPART = "s3 multipart upload (10 MiB, 5 MiB parts)"


def _verify(profile, tmp_path, **kw):
    cfg, cred = tmp_path / "config", tmp_path / "credentials"
    write_profile(profile, cfg, cred, dry_run=False)
    return verify(profile, cfg, cred, timeout=10, **kw), cfg


def test_a_profile_without_the_checksum_options_fails_with_the_fix(strict_sandbox, clean_env, tmp_path):
    profile = preset_profile("moto", "nochk", region=REGION, url=strict_sandbox["gateway"], checksums=None, **KEY)
    rows, cfg = _verify(profile, tmp_path, checks=["s3"])
    assert "request_checksum_calculation" not in cfg.read_text()
    by = {(r.tool, r.check): r for r in rows}
    for tool in ("boto3", "aws-cli"):
        info = by[(tool, "client and checksums")]
        assert "request checksums when_supported" in info.detail and "(from default)" in info.detail
        assert "when_required" in info.advice
        assert by[(tool, "s3 create-bucket + list-buckets")].status == "pass"
        for check in (PUT, MULTIPART):
            row = by[(tool, check)]
            assert row.status == "fail" and row.detail.startswith("checksums rejected"), row
            assert "NotImplemented" in row.detail
            assert "request_checksum_calculation = when_required" in row.advice
            assert "response_checksum_validation = when_required" in row.advice
        assert by[(tool, "s3 delete objects + bucket")].status == "pass"  # cleaned up after itself


def test_the_same_cloud_with_a_presets_profile_passes(strict_sandbox, clean_env, tmp_path):
    profile = preset_profile("moto", "safe", region=REGION, url=strict_sandbox["gateway"], **KEY)
    rows, cfg = _verify(profile, tmp_path, checks=["s3"])
    text = cfg.read_text()
    assert "request_checksum_calculation = when_required\nresponse_checksum_validation = when_required\n" in text
    assert "# S3-compatible stores (MinIO, Ceph RGW, Eucalyptus, ...) reject the checksums" in text
    assert "# path-style S3 URLs" in text
    assert [r for r in rows if r.status not in ("pass", "info")] == []
    assert len([r for r in rows if r.status == "pass"]) == 2 * 7


def test_a_path_prefix_read_as_a_bucket_is_named(aws_sandbox, clean_env, tmp_path):
    # a Eucalyptus layout aimed at a server that answers S3 at / (the sandbox's gateway: plain moto)
    profile = preset_profile("eucalyptus", "wrongurl", region=REGION, url=aws_sandbox["gateway"], **KEY)
    rows, _ = _verify(profile, tmp_path, checks=["s3 create-bucket + list-buckets"])
    for r in [r for r in rows if r.status != "info"]:
        assert r.status == "fail" and r.detail.startswith("path read as a bucket"), r
        assert "/services/objectstorage" in r.advice and "'services'" in r.advice


def test_a_bucket_name_in_the_host_name_is_named(aws_sandbox, clean_env, tmp_path):
    port = aws_sandbox["gateway"].rsplit(":", 1)[1]
    profile = CloudProfile("virt", REGION, endpoint_url=f"http://localhost:{port}", s3_addressing_style="virtual",
                           **KEY)
    rows, _ = _verify(profile, tmp_path, checks=["s3 create-bucket + list-buckets"])
    for r in [r for r in rows if r.status != "info"]:
        assert r.status == "fail" and r.detail.startswith("bucket name used as host name"), r
        assert "addressing_style = path" in r.advice


def test_progress_counts_every_row(aws_sandbox, clean_env, tmp_path):
    profile = preset_profile("moto", "prog", region=REGION, url=aws_sandbox["gateway"], **KEY)
    seen = []
    rows, _ = _verify(profile, tmp_path, checks=["sts", "iam"], progress=lambda d, t, r: seen.append((d, t, r)))
    assert [d for d, _t, _r in seen] == list(range(1, len(rows) + 1))
    assert {t for _d, t, _r in seen} == {len(rows)} and len(rows) == 2 * 3
    assert sorted(id(r) for _d, _t, r in seen) == sorted(id(r) for r in rows)
