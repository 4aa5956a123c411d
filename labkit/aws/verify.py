"""``verify``: run the same checks through boto3 and the real ``aws`` CLI, as a pass/fail table with advice.

Checks only use the written files (config and credentials): the CLI runs with every ``AWS_*``
variable removed from its environment; boto3 runs in one session with ``max_attempts=1``
and short timeouts. A check whose service has no endpoint in the profile is skipped, since
the call would go to Amazon itself.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from labkit.aws.errors import AwsError
from labkit.aws.profile import CloudProfile

TOOLS = ("boto3", "aws-cli")
# Variables that would override the files for an in-process boto3 session.
_OVERRIDES = ("AWS_DEFAULT_REGION", "AWS_REGION", "AWS_ENDPOINT_URL", "AWS_CA_BUNDLE",
              "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "AWS_DATA_PATH")
_CLOSED_LOOPBACK = "http://127.0.0.1:9"  # instance-metadata lookups fail at once, never leave the host


@dataclass
class CheckRow:
    """One verification step with one tool: pass, fail, skip or warn, what came back and what to do."""

    tool: str
    check: str
    status: str
    detail: str
    advice: str
    seconds: float


class CallFailed(Exception):
    """A call through one tool failed; the text is the tool's own error message."""


Api = Callable[..., dict]


@dataclass(frozen=True)
class Check:
    """One verification step: its name, the service it needs and the calls it makes."""

    name: str
    service: str
    run: Callable[[Api, dict], str]


def _sts(api: Api, ctx: dict) -> str:
    """Ask STS who the key belongs to."""
    r = api("sts", "GetCallerIdentity")
    return f"account {r.get('Account')}, {r.get('Arn')}"


def _regions(api: Api, ctx: dict) -> str:
    """List the EC2 regions."""
    names = [r["RegionName"] for r in api("ec2", "DescribeRegions").get("Regions", [])]
    return f"{len(names)} regions" + (f" (e.g. {', '.join(names[:3])})" if names else "")


def _zones(api: Api, ctx: dict) -> str:
    """List the availability zones and remember one for the volume check."""
    zones = [z["ZoneName"] for z in api("ec2", "DescribeAvailabilityZones").get("AvailabilityZones", [])]
    if zones:
        ctx["zone"] = zones[0]
        return f"{len(zones)} zones: {', '.join(zones[:4])}"
    return f"no zones listed; create-volume will use {ctx['zone']}"


def _images(api: Api, ctx: dict) -> str:
    """List the images."""
    return f"{len(api('ec2', 'DescribeImages').get('Images', []))} images"


def _volume(api: Api, ctx: dict) -> str:
    """Create a 1 GiB volume, find it with describe-volumes, delete it."""
    vol = api("ec2", "CreateVolume", Size=1, AvailabilityZone=ctx["zone"])["VolumeId"]
    try:
        found = api("ec2", "DescribeVolumes", VolumeIds=[vol]).get("Volumes", [])
        if not found:
            raise CallFailed(f"created {vol} but describe-volumes does not list it")
        return f"{vol} in {ctx['zone']}: {found[0].get('State')}, then deleted"
    finally:
        try:
            api("ec2", "DeleteVolume", VolumeId=vol)
        except CallFailed:
            pass  # clean-up is best effort: the check is about create and describe


def _iam(api: Api, ctx: dict) -> str:
    """List the IAM users."""
    return f"{len(api('iam', 'ListUsers').get('Users', []))} users"


def _s3(api: Api, ctx: dict) -> str:
    """Create a bucket, find it in list-buckets, delete it."""
    bucket = f"labkit-verify-{secrets.token_hex(4)}"
    region = ctx["region"]
    extra = {} if region in (None, "us-east-1") else {"CreateBucketConfiguration": {"LocationConstraint": region}}
    api("s3", "CreateBucket", Bucket=bucket, **extra)
    try:
        names = [b["Name"] for b in api("s3", "ListBuckets").get("Buckets", [])]
        if bucket not in names:
            raise CallFailed(f"created bucket {bucket} but list-buckets does not show it")
        return f"bucket {bucket} created and listed ({len(names)} buckets), then deleted"
    finally:
        try:
            api("s3", "DeleteBucket", Bucket=bucket)
        except CallFailed:
            pass


CHECKS: tuple[Check, ...] = (
    Check("sts get-caller-identity", "sts", _sts),
    Check("ec2 describe-regions", "ec2", _regions),
    Check("ec2 describe-availability-zones", "ec2", _zones),
    Check("ec2 describe-images", "ec2", _images),
    Check("ec2 create-volume + describe-volumes", "ec2", _volume),
    Check("iam list-users", "iam", _iam),
    Check("s3 create-bucket + list-buckets", "s3", _s3),
)

ADVICE: tuple[tuple[tuple[str, ...], str, str], ...] = (
    (("Could not connect to the endpoint URL", "Connection refused", "Failed to establish a new connection",
      "Name or service not known", "nodename nor servname"),
     "cannot connect", "nothing answers at the endpoint: check host and port, and that the cloud is up "
     "(for the sandbox: labkit sandbox start aws)"),
    (("Invalid endpoint",), "invalid endpoint", "the endpoint URL needs a scheme: write http://host:port"),
    (("AuthFailure", "InvalidClientTokenId", "InvalidAccessKeyId", "SignatureDoesNotMatch",
      "UnrecognizedClientException", "security token included in the request is invalid", "InvalidSecurity"),
     "bad credentials", "the cloud rejected the key: check the access key id and secret, then write the profile again"),
    (("could not be found",), "unknown profile",
     "no such profile in the config file: write it with labkit aws write, or check AWS_CONFIG_FILE"),
    (("services configuration does not exist",), "missing services section",
     "the profile says services = X but there is no [services X] section: write the profile again"),
    (("You must specify a region", "NoRegionError"), "no region",
     "the profile has no region: add region = ... (labkit aws write does)"),
    (("Unable to locate credentials", "NoCredentialsError"), "no credentials",
     "no key for this profile in the credentials file: give access_key_id and a secret when writing"),
    (("CERTIFICATE_VERIFY_FAILED", "SSL validation failed", "SSLError"), "TLS failure",
     "the cloud's certificate is not trusted: set ca_bundle to its CA (or verify_tls=False in a lab)"),
    (("Read timeout", "Connect timeout", "timed out"), "timeout",
     "the endpoint did not answer in time: is a firewall dropping packets, or the service overloaded?"),
    (("Unable to parse response", "invalid XML", "404 Not Found", "Not Found", "UnknownOperation",
      "InvalidAction", "NotImplemented"),
     "wrong service at this URL", "the URL answers but not as this service: check its path (e.g. /services/compute)"),
)


def advise(error: str) -> tuple[str, str]:
    """Turn a tool's error text into (what went wrong, what to do)."""
    for needles, what, advice in ADVICE:
        if any(n.lower() in error.lower() for n in needles):
            return what, advice
    return "error", "read the detail: it is the tool's own message"


def _settings(name: str, config_file: Path) -> tuple[dict | None, dict]:
    """Return the profile's settings as botocore reads them (None when it cannot) and the services map."""
    from botocore.configloader import load_config

    try:
        full = load_config(str(config_file))
    except Exception:  # noqa: BLE001 - an unreadable file shows up as the tools' own error
        return None, {}
    return full.get("profiles", {}).get(name), full.get("services", {})


def _skipped(settings: dict | None, services: dict) -> Callable[[str], str | None]:
    """Return a function telling why a service would be skipped (its call would go to AWS), or None."""
    from labkit.aws.services import snake_id

    def why(client: str) -> str | None:
        """Return why a service's checks are skipped, or None to run them."""
        if settings is None:
            return None  # unknown profile or unreadable file: the tools say so without any network call
        if str(settings.get("ignore_configured_endpoint_urls", "")).lower() == "true":
            return "the profile ignores configured endpoint URLs: the call would go to AWS"
        if settings.get("endpoint_url"):
            return None
        section = settings.get("services")
        if section and section not in services:
            return None  # missing section: the tools fail before sending anything
        if section and isinstance(services[section].get(snake_id(client)), dict) \
                and services[section][snake_id(client)].get("endpoint_url"):
            return None
        return f"no endpoint for {client} in this profile: the call would go to AWS"
    return why


def aws_executable() -> str | None:
    """Return the ``aws`` CLI next to this Python (a venv) or on PATH."""
    here = Path(sys.executable).with_name("aws")
    return str(here) if here.exists() else shutil.which("aws")


class Boto3Tool:
    """Calls through one boto3 session and one cached client per service (retries off, short timeouts)."""

    name = "boto3"

    def __init__(self, profile: str, config_file: Path, credentials_file: Path, *, timeout: float = 5.0,
                 verify_tls: bool = True) -> None:
        """Remember the profile, its files and the call settings."""
        self.profile, self.config_file, self.credentials_file = profile, config_file, credentials_file
        self.timeout, self.verify_tls = timeout, verify_tls
        self._session = None
        self._clients: dict[str, Any] = {}

    def session(self):
        """Return the boto3 session reading only this profile's files (created once)."""
        if self._session is None:
            import boto3
            import botocore.session

            core = botocore.session.Session()
            core.set_config_variable("config_file", str(self.config_file))
            core.set_config_variable("credentials_file", str(self.credentials_file))
            core.set_config_variable("ec2_metadata_service_endpoint", _CLOSED_LOOPBACK)
            core.set_config_variable("metadata_service_num_attempts", 1)
            self._session = boto3.Session(botocore_session=core, profile_name=self.profile)
        return self._session

    def client(self, service: str):
        """Return the cached client of one service."""
        if service not in self._clients:
            from botocore.config import Config

            cfg = Config(retries={"max_attempts": 1, "mode": "standard"}, connect_timeout=self.timeout,
                         read_timeout=self.timeout)
            self._clients[service] = self.session().client(service, config=cfg,
                                                           **({} if self.verify_tls else {"verify": False}))
        return self._clients[service]

    def call(self, service: str, operation: str, **params) -> dict:
        """Call one API operation; raise CallFailed with the SDK's message on any error."""
        from botocore import xform_name

        try:
            out = getattr(self.client(service), xform_name(operation))(**params)
        except Exception as exc:  # noqa: BLE001 - every SDK error becomes a failed check with advice
            raise CallFailed(f"{type(exc).__name__}: {exc}") from None
        out.pop("ResponseMetadata", None)
        return out


class CliTool:
    """Calls through the real ``aws`` CLI, one process per call, seeing only the written files."""

    name = "aws-cli"

    def __init__(self, profile: str, config_file: Path, credentials_file: Path, *, timeout: float = 5.0,
                 verify_tls: bool = True, executable: str | None = None) -> None:
        """Remember the profile, its files and the call settings."""
        self.profile, self.timeout, self.verify_tls = profile, timeout, verify_tls
        self.executable = executable or aws_executable()
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        self.env.update({"AWS_CONFIG_FILE": str(config_file), "AWS_SHARED_CREDENTIALS_FILE": str(credentials_file),
                         "AWS_MAX_ATTEMPTS": "1", "AWS_RETRY_MODE": "standard", "AWS_PAGER": "",
                         "AWS_EC2_METADATA_DISABLED": "true"})

    def argv(self, service: str, operation: str, **params) -> list[str]:
        """Return the ``aws`` command line of one API call."""
        from botocore import xform_name

        cmd = [self.executable or "aws", "--profile", self.profile, "--output", "json",
               "--cli-connect-timeout", str(int(self.timeout)), "--cli-read-timeout", str(int(self.timeout))]
        if not self.verify_tls:
            cmd.append("--no-verify-ssl")
        cmd += ["s3api" if service == "s3" else service, xform_name(operation, "-")]
        for key, value in params.items():
            cmd += [f"--{xform_name(key, '-')}",
                    json.dumps(value) if isinstance(value, (dict, list)) else str(value)]
        return cmd

    def call(self, service: str, operation: str, **params) -> dict:
        """Run one ``aws`` process; raise CallFailed with its error text when it fails."""
        if not self.executable:
            raise CallFailed("the aws CLI is not installed (pip install awscli)")
        try:
            proc = subprocess.run(self.argv(service, operation, **params), env=self.env, capture_output=True,
                                  text=True, timeout=self.timeout * 4 + 30, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            raise CallFailed(f"aws timed out (Read timeout after {self.timeout * 4 + 30:.0f} s)") from None
        if proc.returncode != 0:
            raise CallFailed(" ".join(proc.stderr.split()) or f"aws exited with {proc.returncode}")
        return json.loads(proc.stdout) if proc.stdout.strip() else {}


def run_checks(tool: Boto3Tool | CliTool, region: str | None, skip: Callable[[str], str | None],
               checks: Iterable[Check] = CHECKS) -> list[CheckRow]:
    """Run the checks in order through one tool and return one row each."""
    ctx: dict[str, Any] = {"region": region, "zone": f"{region or 'us-east-1'}a"}
    rows = []
    for check in checks:
        reason = skip(check.service)
        if reason:
            rows.append(CheckRow(tool.name, check.name, "skip", reason,
                                 f"add an endpoint for {check.service} if the cloud has one", 0.0))
            continue
        t0 = time.perf_counter()
        try:
            detail = check.run(tool.call, ctx)
            status, advice = "pass", ""
        except CallFailed as exc:
            what, advice = advise(str(exc))
            status, detail = "fail", f"{what}: {exc}"
        rows.append(CheckRow(tool.name, check.name, status, detail, advice, round(time.perf_counter() - t0, 3)))
    return rows


def verify(profile: CloudProfile | str, config_file: str | Path | None = None,
           credentials_file: str | Path | None = None, *, tools: Iterable[str] = TOOLS,
           checks: Iterable[str] | None = None, timeout: float = 5.0) -> list[CheckRow]:
    """Check a written profile with boto3 and the ``aws`` CLI; return a pass/fail table with advice.

    ``profile`` is a CloudProfile or the name of a profile in the config file. Nothing goes to
    Amazon: a service without an endpoint in the profile is skipped. ``checks`` picks checks
    by name or service (``["sts", "ec2 describe-images"]``); the default is all of CHECKS.
    """
    from labkit.aws.write import default_config_file, default_credentials_file

    name = profile.name if isinstance(profile, CloudProfile) else str(profile)
    verify_tls = profile.verify_tls if isinstance(profile, CloudProfile) else True
    cfg = Path(config_file).expanduser() if config_file else default_config_file()
    cred = Path(credentials_file).expanduser() if credentials_file else default_credentials_file()
    tools = list(tools)
    unknown = [t for t in tools if t not in TOOLS]
    if unknown:
        raise AwsError(f"unknown tool {unknown[0]!r}", hint=f"use {' or '.join(TOOLS)}")
    if not timeout > 0:
        raise AwsError(f"a timeout of {timeout} s lets no call through", hint="give seconds above 0, e.g. 5")
    wanted = list(checks) if checks is not None else None
    selected = [c for c in CHECKS if wanted is None or c.name in wanted or c.service in wanted]
    if wanted is not None and not selected:
        raise AwsError(f"no check named {', '.join(wanted)}", hint=f"use: {', '.join(c.name for c in CHECKS)}")
    settings, services = _settings(name, cfg)
    region = (settings or {}).get("region")
    skip = _skipped(settings, services)
    rows: list[CheckRow] = []
    for t in tools:
        if t == "boto3":
            overrides = sorted(k for k in os.environ if k in _OVERRIDES or k.startswith("AWS_ENDPOINT_URL_"))
            if overrides:
                rows.append(CheckRow("boto3", "environment", "warn", f"{', '.join(overrides)} set in this process",
                                     "they override the files for boto3: switch with labkit.aws.env(profile).apply()",
                                     0.0))
            tool: Boto3Tool | CliTool = Boto3Tool(name, cfg, cred, timeout=timeout, verify_tls=verify_tls)
            boto_skip = skip
            if os.environ.get("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "").lower() == "true":
                def boto_skip(_s: str) -> str:
                    """Skip every boto3 check: the environment sends calls to AWS."""
                    return "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true: the call would go to AWS"
            rows += run_checks(tool, region, boto_skip, selected)
        else:
            tool = CliTool(name, cfg, cred, timeout=timeout, verify_tls=verify_tls)
            rows += run_checks(tool, region, skip, selected)
    return rows
