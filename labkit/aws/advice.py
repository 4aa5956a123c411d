"""What a failed verify check means and the concrete fix: the tools' error texts, read with the check's context.

Context rules come first (they know the profile): the S3 checksums a store rejects, a path prefix
the store read as a bucket name, a bucket name used as a host name, bytes that came back different.
Then the generic table of awscli/botocore error texts.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

CHECKSUM_FIX = ("add request_checksum_calculation = when_required and response_checksum_validation = when_required "
                "to the profile (labkit aws write does it for every preset)")
# How S3-compatible stores refuse the checksums botocore >= 1.36 sends by default.
CHECKSUM_REJECTED = ("x-amz-checksum", "x-amz-sdk-checksum", "x-amz-trailer", "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
                     "XAmzContentSHA256Mismatch", "MissingContentLength", "MissingContentMD5",
                     "Checksum Type mismatch", "(NotImplemented)", "(InvalidRequest)", "(InvalidArgument)")
RESPONSE_CHECKSUM_FAILED = ("FlexibleChecksumError", "did not match calculated checksum")

ADVICE: tuple[tuple[tuple[str, ...], str, str], ...] = (
    (("Could not connect to the endpoint URL", "Connection refused", "Failed to establish a new connection",
      "Name or service not known", "nodename nor servname"),
     "cannot connect", "nothing answers at the endpoint: check host and port, and that the cloud is up "
     "(for the sandbox: labkit sandbox start aws)"),
    (("Invalid endpoint",), "invalid endpoint", "the endpoint URL needs a scheme: write http://host:port"),
    (("AuthFailure", "InvalidClientTokenId", "InvalidAccessKeyId", "SignatureDoesNotMatch",
      "UnrecognizedClientException", "security token included in the request is invalid", "InvalidSecurity"),
     "bad credentials", "the cloud rejected the key: check the access key id and secret, then write the profile again"),
    (("Error when retrieving credentials from custom-process", "credential_process"),
     "credential_process failed", "labkit aws credential-process could not hand out the secret: run the "
     "credential_process line of the profile by hand; put the secret in the keyring or export its variable"),
    (("could not be found",), "unknown profile",
     "no such profile in the config file: write it with labkit aws write, or check AWS_CONFIG_FILE"),
    (("services configuration does not exist",), "missing services section",
     "the profile says services = X but there is no [services X] section: write the profile again"),
    (("You must specify a region", "NoRegionError"), "no region",
     "the profile has no region: add region = ... (labkit aws write does)"),
    (("Unable to locate credentials", "NoCredentialsError"), "no credentials",
     "no key for this profile: give access_key_id and a secret when writing"),
    (("CERTIFICATE_VERIFY_FAILED", "SSL validation failed", "SSLError", "certificate verify failed"), "TLS failure",
     "the cloud's certificate is not trusted: set ca_bundle = /path/to/its-ca.pem in the profile "
     "(labkit aws write --ca-bundle), or verify_tls=False in a lab"),
    (("Read timeout", "Connect timeout", "timed out"), "timeout",
     "the endpoint did not answer in time: is a firewall dropping packets, or the service overloaded?"),
    (("Unable to parse response", "invalid XML", "404 Not Found", "Not Found", "UnknownOperation",
      "InvalidAction", "NotImplemented"),
     "wrong service at this URL", "the URL answers but not as this service: check its path (e.g. /services/compute)"),
)


@dataclass(frozen=True)
class Situation:
    """What a check knew when it failed: tool, operation kind, checksum mode in force, the S3 URL, the bucket."""

    check: str = ""
    service: str = ""
    request_checksums: str = ""  # when_supported | when_required | pre-1.36 ...
    s3_endpoint: str = ""
    bucket: str = ""
    addressing_style: str = ""


def _prefix_as_bucket(error: str, s: Situation) -> tuple[str, str] | None:
    """Recognise a store that read the S3 endpoint's path (e.g. /services/objectstorage) as a bucket name."""
    path = urlsplit(s.s3_endpoint).path.strip("/") if s.s3_endpoint else ""
    if s.service != "s3" or not path:
        return None
    if not any(code in error for code in ("NoSuchBucket", "AccessDenied", "NoSuchKey", "AllAccessDisabled")):
        return None
    first = path.split("/", 1)[0]
    return ("path read as a bucket",
            f"the store read the endpoint's path /{path} as a bucket named {first!r}: it does not serve S3 under "
            f"that path. Point s3 at the URL where the store answers S3 (usually without the path); a Eucalyptus "
            f"cloud controller answers at http://CLC:8773/services/objectstorage")


def advise(error: str, situation: Situation | None = None) -> tuple[str, str]:
    """Turn a tool's error text into (what went wrong, what to do), using what the check knew."""
    s = situation or Situation()
    low = error.lower()
    if s.service == "s3" and s.request_checksums == "when_supported" \
            and any(n.lower() in low for n in CHECKSUM_REJECTED):
        return ("checksums rejected", "this store refuses the S3 checksums botocore >= 1.36 / awscli >= 1.37 send "
                                      f"by default: {CHECKSUM_FIX}")
    if s.service == "s3" and any(n.lower() in low for n in RESPONSE_CHECKSUM_FAILED):
        return ("response checksum mismatch", "the store's checksums do not match what it sent: add "
                                              "response_checksum_validation = when_required to the profile")
    found = _prefix_as_bucket(error, s)
    if found:
        return found
    if s.service == "s3" and s.bucket and f"://{s.bucket}.".lower() in low:
        return ("bucket name used as host name", "the client put the bucket into the host name (virtual-hosted "
                                                 "style), which a private cloud does not resolve: set "
                                                 "addressing_style = path under s3 = in the profile")
    if "content differs" in low:
        fix = (f" ({CHECKSUM_FIX})" if s.request_checksums == "when_supported" else "")
        return ("wrong content", "the store gave back other bytes than were stored: a proxy or the store changes "
                                 "bodies; a store that keeps aws-chunked framing needs checksums off" + fix)
    for needles, what, advice in ADVICE:
        if any(n.lower() in low for n in needles):
            return what, advice
    return "error", "read the detail: it is the tool's own message"
