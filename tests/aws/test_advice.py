"""Advice for failed checks, from the error texts S3-compatible stores send (quoted from public reports).

- boto3 issue #4400 (Jan 2025, "PutObject fails ... following release of 1.36"): "An error occurred
  (XAmzContentSHA256Mismatch) when calling the PutObject operation: The provided 'x-amz-content-sha256'
  header does not match what was computed." (a third-party S3-compatible provider)
- CERT-Polska/karton PR #270: "MissingContentMD5 error thrown by MinIO on DeleteObjects call"
- storj/gateway-st issue #89: "An error occurred (MissingContentLength) when calling the PutObject
  operation: You must provide the Content-Length HTTP header." (aws-cli 2.23.2)
- botocore FlexibleChecksumError: "Expected checksum ... did not match calculated checksum: ..."
"""

from __future__ import annotations

import pytest

from labkit.aws.advice import Situation, advise
from labkit.aws.tools import checksum_state

pytestmark = pytest.mark.unit

S3_SUPPORTED = Situation("s3 put-object + get-object", "s3", "when_supported", "http://10.0.0.1:9000", "b")
REJECTIONS = [
    "ClientError: An error occurred (XAmzContentSHA256Mismatch) when calling the PutObject operation: The provided "
    "'x-amz-content-sha256' header does not match what was computed.",
    "An error occurred (MissingContentMD5) when calling the DeleteObjects operation: Missing required header for "
    "this request: Content-Md5.",
    "An error occurred (MissingContentLength) when calling the PutObject operation: You must provide the "
    "Content-Length HTTP header.",
    "An error occurred (NotImplemented) when calling the UploadPart operation: A header you provided implies "
    "functionality that is not implemented: x-amz-checksum-crc32",
]


@pytest.mark.parametrize("error", REJECTIONS)
def test_checksum_rejections_get_the_two_option_lines(error):
    what, advice = advise(error, S3_SUPPORTED)
    assert what == "checksums rejected"
    assert "request_checksum_calculation = when_required" in advice
    assert "response_checksum_validation = when_required" in advice


@pytest.mark.parametrize("error", REJECTIONS)
def test_with_checksums_already_off_the_advice_is_not_the_checksum_one(error):
    what, _ = advise(error, Situation("s3 put-object + get-object", "s3", "when_required"))
    assert what != "checksums rejected"


def test_a_response_checksum_mismatch():
    what, advice = advise("FlexibleChecksumError: Expected checksum AAAAAA== did not match calculated checksum: "
                          "BBBBBB==", S3_SUPPORTED)
    assert what == "response checksum mismatch" and "response_checksum_validation = when_required" in advice


def test_a_path_prefix_read_as_a_bucket():
    s = Situation("s3 create-bucket + list-buckets", "s3", "when_required",
                  "http://10.0.0.1:8773/services/objectstorage", "labkit-verify-1")
    what, advice = advise("An error occurred (NoSuchBucket) when calling the CreateBucket operation: The "
                          "specified bucket does not exist", s)
    assert what == "path read as a bucket" and "'services'" in advice
    # the same error from a store at / is a plain error, not this one
    root = Situation("s3 create-bucket + list-buckets", "s3", "when_required", "http://10.0.0.1:9000", "b")
    assert advise("An error occurred (NoSuchBucket) ...", root)[0] != "path read as a bucket"


def test_a_bucket_in_the_host_name():
    s = Situation("s3 create-bucket + list-buckets", "s3", "when_required", "http://minio.lab:9000",
                  "labkit-verify-1a2b", "virtual")
    what, advice = advise('EndpointConnectionError: Could not connect to the endpoint URL: '
                          '"http://labkit-verify-1a2b.minio.lab:9000/"', s)
    assert what == "bucket name used as host name" and "addressing_style = path" in advice


def test_tls_advice_names_the_ca_bundle():
    what, advice = advise("SSLError: [SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed")
    assert what == "TLS failure" and "ca_bundle" in advice


@pytest.mark.parametrize(("core", "version", "settings", "environ", "want"), [
    ("botocore", "1.35.99", {}, {}, "pre-1.36 (none by default)"),
    ("botocore", "1.36.0", {}, {}, "when_supported"),
    ("botocore", "1.44.8", {"request_checksum_calculation": "when_required"}, {}, "when_required"),
    ("botocore", "1.44.8", {"request_checksum_calculation": "when_required"},
     {"AWS_REQUEST_CHECKSUM_CALCULATION": "WHEN_SUPPORTED"}, "when_supported"),
    ("aws-cli/2", "2.22.35", {}, {}, "pre-1.36 (none by default)"),
    ("aws-cli/2", "2.23.0", {}, {}, "when_supported"),
])
def test_which_checksum_behaviour_is_in_force(core, version, settings, environ, want):
    # botocore CHANGELOG 1.36.0: "the default is when_supported"; aws-cli v2 CHANGELOG 2.23.0 (quoted in
    # storj/gateway-st #89): "Checksum validation behavior can be configured using the when_supported and
    # when_required options ... AWS_RESPONSE_CHECKSUM_VALIDATION"; the variable beats the profile.
    assert checksum_state(settings, environ, core, version)["request_checksum_calculation"] == want
