"""``verify``: run the same checks through boto3 and the real ``aws`` CLI, as a pass/fail table with advice.

Checks only use the written files (config and credentials): the CLI runs with every ``AWS_*``
variable removed from its environment; boto3 runs in one session with ``max_attempts=1``
and short timeouts. A check whose service has no endpoint in the profile is skipped, since
the call would go to Amazon itself. Each tool's first row says its version and the S3 checksum
behaviour in force. S3 is checked at object level, the way a first upload meets the store:
put and get with a content check, a multipart upload over the threshold (10 MiB in 5 MiB parts),
a ranged GET across the part boundary, a copy, a presigned GET fetched with plain ``requests``,
and delete.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import queue
import secrets
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from labkit.aws.advice import Situation, advise
from labkit.aws.errors import AwsError
from labkit.aws.profile import CloudProfile
from labkit.aws.tools import Boto3Tool, CallFailed, CliTool, aws_executable

__all__ = ["CHECKS", "TOOLS", "Boto3Tool", "CallFailed", "Check", "CheckRow", "CliTool", "aws_executable",
           "run_checks", "verify"]

TOOLS = ("boto3", "aws-cli")
MAX_TIMEOUT = 3600.0  # seconds one call may wait (connect and read)
PART = 5 * 1024 * 1024  # S3's smallest multipart part: two of them make a 10 MiB upload over the threshold
SMALL = 256 * 1024
INFO_CHECK = "client and checksums"
# Variables that would override the files for an in-process boto3 session.
_OVERRIDES = ("AWS_DEFAULT_REGION", "AWS_REGION", "AWS_ENDPOINT_URL", "AWS_CA_BUNDLE",
              "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "AWS_DATA_PATH", "AWS_REQUEST_CHECKSUM_CALCULATION",
              "AWS_RESPONSE_CHECKSUM_VALIDATION")


@dataclass
class CheckRow:
    """One verification step with one tool: pass, fail, skip, warn or info, what came back and what to do."""

    tool: str
    check: str
    status: str
    detail: str
    advice: str
    seconds: float


class Skipped(Exception):
    """A check cannot run because an earlier one it builds on failed."""


Tool = Boto3Tool | CliTool


@dataclass(frozen=True)
class Check:
    """One verification step: its name, the service it needs and what it does through a tool."""

    name: str
    service: str
    run: Callable[[Tool, dict], str]


@dataclass(frozen=True)
class Payload:
    """The random bytes the S3 checks store and expect back: one small object and two multipart parts."""

    small: Path
    parts: tuple[Path, Path]

    @property
    def big(self) -> bytes:
        """Return the whole multipart object."""
        return b"".join(p.read_bytes() for p in self.parts)


def make_payload(directory: Path) -> Payload:
    """Write fresh random test objects into a directory."""
    small = directory / "small.bin"
    small.write_bytes(os.urandom(SMALL))
    parts = (directory / "part1.bin", directory / "part2.bin")
    for p in parts:
        p.write_bytes(os.urandom(PART))
    return Payload(small, parts)


def _masked(text: str) -> str:
    """Return text with the credentials in its URLs masked (labkit.http's one rule)."""
    from labkit.http import mask_urls

    return mask_urls(text)


def _sha(data: bytes) -> str:
    """Return a short sha256 for details."""
    return hashlib.sha256(data).hexdigest()[:12]


def _same(got: bytes, want: bytes, what: str) -> str:
    """Return a detail when the bytes are equal, else raise CallFailed saying how they differ."""
    if got != want:
        raise CallFailed(f"content differs: {what} came back as {len(got)} bytes (sha256 {_sha(got)}), "
                         f"stored {len(want)} bytes (sha256 {_sha(want)})")
    return f"sha256 {_sha(got)}"


def _size(n: int) -> str:
    """Return a byte count as KiB or MiB."""
    return f"{n // (1024 * 1024)} MiB" if n >= 1024 * 1024 else f"{n // 1024} KiB"


# -- EC2, IAM, STS ---------------------------------------------------------------------------------------------

def _sts(tool: Tool, ctx: dict) -> str:
    """Ask STS who the key belongs to."""
    r = tool.call("sts", "GetCallerIdentity")
    return f"account {r.get('Account')}, {r.get('Arn')}"


def _regions(tool: Tool, ctx: dict) -> str:
    """List the EC2 regions."""
    names = [r["RegionName"] for r in tool.call("ec2", "DescribeRegions").get("Regions", [])]
    return f"{len(names)} regions" + (f" (e.g. {', '.join(names[:3])})" if names else "")


def _zones(tool: Tool, ctx: dict) -> str:
    """List the availability zones and remember one for the volume check."""
    zones = [z["ZoneName"] for z in tool.call("ec2", "DescribeAvailabilityZones").get("AvailabilityZones", [])]
    if zones:
        ctx["zone"] = zones[0]
        return f"{len(zones)} zones: {', '.join(zones[:4])}"
    return f"no zones listed; create-volume will use {ctx['zone']}"


def _images(tool: Tool, ctx: dict) -> str:
    """List the images."""
    return f"{len(tool.call('ec2', 'DescribeImages').get('Images', []))} images"


def _volume(tool: Tool, ctx: dict) -> str:
    """Create a 1 GiB volume, find it with describe-volumes, delete it."""
    vol = tool.call("ec2", "CreateVolume", Size=1, AvailabilityZone=ctx["zone"])["VolumeId"]
    try:
        found = tool.call("ec2", "DescribeVolumes", VolumeIds=[vol]).get("Volumes", [])
        if not found:
            raise CallFailed(f"created {vol} but describe-volumes does not list it")
        return f"{vol} in {ctx['zone']}: {found[0].get('State')}, then deleted"
    finally:
        try:
            tool.call("ec2", "DeleteVolume", VolumeId=vol)
        except CallFailed:
            pass  # clean-up is best effort: the check is about create and describe


def _iam(tool: Tool, ctx: dict) -> str:
    """List the IAM users."""
    return f"{len(tool.call('iam', 'ListUsers').get('Users', []))} users"


# -- S3, object level ------------------------------------------------------------------------------------------

def _needs(ctx: dict, key: str, check: str) -> Any:
    """Return what an earlier check left in the context, or skip: that check failed."""
    if key not in ctx:
        raise Skipped(f"needs {check}, which did not pass")
    return ctx[key]


def _fetch(tool: Tool, ctx: dict, key: str, byte_range: str | None = None) -> bytes:
    """Download one object (or a range of it) through the tool and return its bytes."""
    dest = ctx["work"] / f"get-{secrets.token_hex(4)}.bin"
    try:
        tool.download(ctx["bucket"], key, dest, byte_range)
        return dest.read_bytes()
    finally:
        dest.unlink(missing_ok=True)


def _bucket(tool: Tool, ctx: dict) -> str:
    """Create a bucket and find it in list-buckets (it stays for the object checks, deleted by the last one)."""
    bucket = f"labkit-verify-{secrets.token_hex(4)}"
    region = ctx["region"]
    extra = {} if region in (None, "us-east-1") else {"CreateBucketConfiguration": {"LocationConstraint": region}}
    ctx["situation_bucket"] = bucket
    tool.call("s3", "CreateBucket", Bucket=bucket, **extra)
    ctx["bucket"] = bucket
    names = [b["Name"] for b in tool.call("s3", "ListBuckets").get("Buckets", [])]
    if bucket not in names:
        raise CallFailed(f"created bucket {bucket} but list-buckets does not show it")
    return f"bucket {bucket} created and listed ({len(names)} buckets)"


def _new_object(ctx: dict, name: str) -> tuple[str, Payload, str]:
    """Return the checks' bucket (or skip: it was not made), the payload, and a key the delete check removes."""
    bucket = _needs(ctx, "bucket", "s3 create-bucket")
    key = f"labkit-verify/{name}"
    ctx["keys"].append(key)
    return bucket, ctx["payload"], key


def _put_get(tool: Tool, ctx: dict) -> str:
    """Put the small object, read it back, compare the bytes."""
    bucket, payload, key = _new_object(ctx, "small.bin")
    tool.call("s3", "PutObject", Bucket=bucket, Key=key, Body=payload.small)
    same = _same(_fetch(tool, ctx, key), payload.small.read_bytes(), "the object")
    ctx["small"] = key
    return f"{_size(SMALL)} put and read back, same bytes ({same})"


def _multipart(tool: Tool, ctx: dict) -> str:
    """Upload 10 MiB in two 5 MiB parts, complete, read it back and compare."""
    bucket, payload, key = _new_object(ctx, "multipart.bin")
    upload = tool.call("s3", "CreateMultipartUpload", Bucket=bucket, Key=key)["UploadId"]
    try:
        parts = []
        for number, path in enumerate(payload.parts, start=1):
            r = tool.call("s3", "UploadPart", Bucket=bucket, Key=key, UploadId=upload, PartNumber=number, Body=path)
            parts.append({"PartNumber": number, "ETag": r["ETag"]})
        tool.call("s3", "CompleteMultipartUpload", Bucket=bucket, Key=key, UploadId=upload,
                  MultipartUpload={"Parts": parts})
    except CallFailed:
        try:
            tool.call("s3", "AbortMultipartUpload", Bucket=bucket, Key=key, UploadId=upload)
        except CallFailed:
            pass
        raise
    same = _same(_fetch(tool, ctx, key), payload.big, "the multipart object")
    ctx["big"] = key
    return f"{_size(2 * PART)} in {len(payload.parts)} parts of {_size(PART)}, read back, same bytes ({same})"


def _ranged(tool: Tool, ctx: dict) -> str:
    """GET 200 bytes across the part boundary of the multipart object (or inside the small one)."""
    _needs(ctx, "bucket", "s3 create-bucket")
    payload: Payload = ctx["payload"]
    if "big" in ctx:
        key, data, start = ctx["big"], payload.big, PART - 100
    else:
        key, data, start = _needs(ctx, "small", "s3 put-object"), payload.small.read_bytes(), 1000
    end = start + 199
    same = _same(_fetch(tool, ctx, key, f"bytes={start}-{end}"), data[start:end + 1], "the range")
    return f"bytes {start}-{end} of {key.rsplit('/', 1)[-1]}, same bytes ({same})"


def _copy(tool: Tool, ctx: dict) -> str:
    """Copy the small object to a new key and read the copy back."""
    small = _needs(ctx, "small", "s3 put-object")
    bucket, payload, key = _new_object(ctx, "copy.bin")
    tool.call("s3", "CopyObject", Bucket=bucket, Key=key, CopySource=f"{bucket}/{small}")
    same = _same(_fetch(tool, ctx, key), payload.small.read_bytes(), "the copy")
    return f"copied to {key}, same bytes ({same})"


def _presigned(tool: Tool, ctx: dict) -> str:
    """Presign a GET of the small object and fetch it with plain requests (no SDK, no credentials)."""
    import requests

    bucket = _needs(ctx, "bucket", "s3 create-bucket")
    small = _needs(ctx, "small", "s3 put-object")
    url = tool.presign(bucket, small, 300)
    try:
        r = requests.get(url, timeout=ctx["timeout"], verify=ctx["tls"])
    except requests.RequestException as exc:
        raise CallFailed(f"presigned GET failed: {_masked(str(exc))}") from None
    if r.status_code != 200:
        raise CallFailed(f"presigned GET answered {r.status_code}: {' '.join(r.text.split())[:200]}")
    same = _same(r.content, ctx["payload"].small.read_bytes(), "the presigned GET")
    return f"presigned URL (300 s) fetched with requests, same bytes ({same})"


def _delete(tool: Tool, ctx: dict) -> str:
    """Delete every object the checks made, see the bucket empty, delete the bucket."""
    bucket = _needs(ctx, "bucket", "s3 create-bucket")
    keys = list(dict.fromkeys(ctx["keys"]))
    for key in keys:
        tool.call("s3", "DeleteObject", Bucket=bucket, Key=key)
    left = tool.call("s3", "ListObjectsV2", Bucket=bucket).get("Contents", [])
    if left:
        raise CallFailed(f"deleted {len(keys)} objects but {len(left)} are still listed")
    tool.call("s3", "DeleteBucket", Bucket=bucket)
    ctx.pop("bucket")
    return f"{len(keys)} objects and bucket {bucket} deleted"


CHECKS: tuple[Check, ...] = (
    Check("sts get-caller-identity", "sts", _sts),
    Check("ec2 describe-regions", "ec2", _regions),
    Check("ec2 describe-availability-zones", "ec2", _zones),
    Check("ec2 describe-images", "ec2", _images),
    Check("ec2 create-volume + describe-volumes", "ec2", _volume),
    Check("iam list-users", "iam", _iam),
    Check("s3 create-bucket + list-buckets", "s3", _bucket),
    Check("s3 put-object + get-object", "s3", _put_get),
    Check("s3 multipart upload (10 MiB, 5 MiB parts)", "s3", _multipart),
    Check("s3 ranged get", "s3", _ranged),
    Check("s3 copy-object", "s3", _copy),
    Check("s3 presigned get (requests)", "s3", _presigned),
    Check("s3 delete objects + bucket", "s3", _delete),
)


def _settings(name: str, config_file: Path) -> tuple[dict | None, dict]:
    """Return the profile's settings as botocore reads them (None when it cannot) and the services map."""
    from botocore.configloader import load_config

    try:
        full = load_config(str(config_file))
    except Exception:  # noqa: BLE001 - an unreadable file shows up as the tools' own error
        return None, {}
    return full.get("profiles", {}).get(name), full.get("services", {})


def _endpoint(settings: dict | None, services: dict, client: str) -> str:
    """Return the endpoint URL the profile gives one service ('' when none)."""
    from labkit.aws.services import snake_id

    if not settings:
        return ""
    section = services.get(settings.get("services") or "", {})
    entry = section.get(snake_id(client)) if isinstance(section, dict) else None
    if isinstance(entry, dict) and entry.get("endpoint_url"):
        return str(entry["endpoint_url"])
    return str(settings.get("endpoint_url") or "")


def _skipped(settings: dict | None, services: dict) -> Callable[[str], str | None]:
    """Return a function telling why a service would be skipped (its call would go to AWS), or None."""

    def why(client: str) -> str | None:
        """Return why a service's checks are skipped, or None to run them."""
        if settings is None:
            return None  # unknown profile or unreadable file: the tools say so without any network call
        if str(settings.get("ignore_configured_endpoint_urls", "")).lower() == "true":
            return "the profile ignores configured endpoint URLs: the call would go to AWS"
        section = settings.get("services")
        if section and section not in services:
            return None  # missing section: the tools fail before sending anything
        if _endpoint(settings, services, client):
            return None
        return f"no endpoint for {client} in this profile: the call would go to AWS"
    return why


def _info_row(tool: Tool, settings: dict | None) -> tuple[CheckRow, dict[str, str]]:
    """Return the row naming the client versions and the checksum behaviour in force, and that behaviour."""
    t0 = time.perf_counter()
    version = tool.version()
    state = tool.checksums(settings, version) if isinstance(tool, CliTool) else tool.checksums(settings)
    request, response = state["request_checksum_calculation"], state["response_checksum_validation"]
    detail = f"{version}: request checksums {request}, response validation {response} (from {state['source']})"
    advice = ""
    if request == "when_supported" or response == "when_supported":
        advice = ("S3-compatible stores that predate these checksums reject uploads or fail downloads: "
                  "labkit aws write sets both to when_required")
    return CheckRow(tool.name, INFO_CHECK, "info", detail, advice, round(time.perf_counter() - t0, 3)), state


def run_checks(tool: Tool, region: str | None, skip: Callable[[str], str | None],
               checks: Iterable[Check] = CHECKS, *, settings: dict | None = None, services: dict | None = None,
               payload: Payload | None = None, timeout: float = 5.0, tls: bool | str = True,
               emit: Callable[[CheckRow], None] | None = None, info: bool = True,
               lanes: bool = False) -> list[CheckRow]:
    """Run the checks through one tool and return one row each, the info row first, in CHECKS order.

    Checks of one service run in order (later ones build on earlier ones); with ``lanes`` each
    service's checks run in their own thread, side by side (for the CLI, whose calls are processes;
    a boto3 session must not create clients from several threads). ``emit`` gets each row as it
    comes, from whichever thread made it.
    """
    rows: list[CheckRow] = []

    def add(row: CheckRow) -> None:
        """Report a row."""
        if emit:
            emit(row)

    state: dict[str, str] = {}
    if info:
        row, state = _info_row(tool, settings)
        rows.append(row)
        add(row)
    checks = list(checks)
    results: dict[int, CheckRow] = {}
    with tempfile.TemporaryDirectory(prefix="labkit-verify-") as tmp:
        work = Path(tmp)
        ctx: dict[str, Any] = {"region": region, "zone": f"{region or 'us-east-1'}a", "keys": [], "work": work,
                               "payload": payload, "timeout": timeout, "tls": tls}
        if payload is None and any(c.service == "s3" for c in checks):
            ctx["payload"] = make_payload(work)
        s3_url = _endpoint(settings, services or {}, "s3")
        s3_opts = (settings or {}).get("s3")
        addressing = s3_opts.get("addressing_style", "") if isinstance(s3_opts, dict) else ""

        def lane(indexes: list[int]) -> None:
            """Run one service's checks in order."""
            for i in indexes:
                check = checks[i]
                reason = skip(check.service)
                if reason:
                    row = CheckRow(tool.name, check.name, "skip", reason,
                                   f"add an endpoint for {check.service} if the cloud has one", 0.0)
                else:
                    row = _run_one(tool, check, ctx, Situation(
                        check.name, check.service, state.get("request_checksum_calculation", ""), s3_url, "",
                        addressing))
                results[i] = row
                add(row)

        by_service: dict[str, list[int]] = {}
        for i, check in enumerate(checks):
            by_service.setdefault(check.service, []).append(i)
        try:
            if lanes and len(by_service) > 1:
                errors: list[BaseException] = []

                def guarded(indexes: list[int]) -> None:
                    """Run a lane; keep what it raised for the calling thread."""
                    try:
                        lane(indexes)
                    except BaseException as exc:  # noqa: BLE001 - re-raised below
                        errors.append(exc)

                threads = [threading.Thread(target=guarded, args=(idx,), daemon=True)
                           for idx in by_service.values()]
                for th in threads:
                    th.start()
                for th in threads:
                    th.join()
                if errors:
                    raise errors[0]
            else:
                for idx in by_service.values():
                    lane(idx)
        finally:
            _clean_up(tool, ctx)
    return rows + [results[i] for i in sorted(results)]


def _run_one(tool: Tool, check: Check, ctx: dict, situation: Situation) -> CheckRow:
    """Run one check and turn its outcome into a row with advice."""
    t0 = time.perf_counter()
    try:
        detail = check.run(tool, ctx)
        status, advice = "pass", ""
    except Skipped as exc:
        status, detail, advice = "skip", str(exc), "fix the check it needs first"
    except CallFailed as exc:
        what, advice = advise(str(exc), dataclasses.replace(situation, bucket=ctx.get("situation_bucket", "")))
        status, detail = "fail", _masked(f"{what}: {exc}")
    except (KeyError, IndexError, TypeError, ValueError, OSError) as exc:  # an answer the check cannot read
        status, detail = "fail", _masked(f"unexpected answer: {type(exc).__name__}: {exc}")
        advice = "the cloud answered, but not what this API returns: is the endpoint the right service?"
    return CheckRow(tool.name, check.name, status, detail, advice, round(time.perf_counter() - t0, 3))


def _clean_up(tool: Tool, ctx: dict) -> None:
    """Delete what a failed or skipped delete check left on the cloud (best effort, no row)."""
    bucket = ctx.get("bucket")
    if not bucket:
        return
    for key in dict.fromkeys(ctx["keys"]):
        try:
            tool.call("s3", "DeleteObject", Bucket=bucket, Key=key)
        except CallFailed:
            pass
    try:
        tool.call("s3", "DeleteBucket", Bucket=bucket)
    except CallFailed:
        pass


def _keep_env(settings: dict | None) -> tuple[str, ...]:
    """Return AWS_* variables the profile's labkit credential_process reads (the CLI must still see them)."""
    from labkit.aws.credentials import parse_process_command

    opts = parse_process_command(str((settings or {}).get("credential_process") or "")) or {}
    return (opts["env"],) if opts.get("env", "").startswith("AWS_") else ()


def verify(profile: CloudProfile | str, config_file: str | Path | None = None,
           credentials_file: str | Path | None = None, *, tools: Iterable[str] = TOOLS,
           checks: Iterable[str] | None = None, timeout: float = 5.0,
           progress: Callable[[int, int, CheckRow], None] | None = None, parallel: bool = True) -> list[CheckRow]:
    """Check a written profile with boto3 and the ``aws`` CLI; return a pass/fail table with advice.

    ``profile`` is a CloudProfile or the name of a profile in the config file. Nothing goes to
    Amazon: a service without an endpoint in the profile is skipped. ``checks`` picks checks
    by name or service (``["sts", "ec2 describe-images"]``); the default is all of CHECKS.
    ``progress(done, total, row)`` is called (in this thread) as each row comes in; the two tools
    run side by side unless ``parallel=False``. Rows come back boto3's first, then the CLI's.
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
    if not timeout <= MAX_TIMEOUT:  # inf and nan too: botocore turns the seconds into whole milliseconds
        raise AwsError(f"a timeout of {timeout} s is more than the {MAX_TIMEOUT:g} s a call may wait",
                       hint="give seconds above 0, e.g. 5")
    wanted = list(checks) if checks is not None else None
    selected = [c for c in CHECKS if wanted is None or c.name in wanted or c.service in wanted]
    if wanted is not None and not selected:
        raise AwsError(f"no check named {', '.join(wanted)}", hint=f"use: {', '.join(c.name for c in CHECKS)}")
    settings, services = _settings(name, cfg)
    region = (settings or {}).get("region")
    tls: bool | str = (settings or {}).get("ca_bundle") or verify_tls
    skip = _skipped(settings, services)
    plans: list[tuple[Tool, Callable[[str], str | None], list[CheckRow]]] = []
    for t in tools:
        if t == "boto3":
            pre: list[CheckRow] = []
            overrides = sorted(k for k in os.environ if k in _OVERRIDES or k.startswith("AWS_ENDPOINT_URL_"))
            if overrides:
                pre.append(CheckRow("boto3", "environment", "warn", f"{', '.join(overrides)} set in this process",
                                    "they override the files for boto3: switch with labkit.aws.env(profile).apply()",
                                    0.0))
            boto_skip = skip
            if os.environ.get("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "").lower() == "true":
                def boto_skip(_s: str) -> str:
                    """Skip every boto3 check: the environment sends calls to AWS."""
                    return "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true: the call would go to AWS"
            plans.append((Boto3Tool(name, cfg, cred, timeout=timeout, verify_tls=verify_tls), boto_skip, pre))
        else:
            plans.append((CliTool(name, cfg, cred, timeout=timeout, verify_tls=verify_tls,
                                  keep_env=_keep_env(settings)), skip, []))
    total = sum(len(pre) + 1 + len(selected) for _t, _s, pre in plans)
    done = 0
    events: queue.Queue = queue.Queue()

    def report(row: CheckRow) -> None:
        """Count a row and pass it to the caller's progress function."""
        nonlocal done
        done += 1
        if progress:
            progress(done, total, row)

    with tempfile.TemporaryDirectory(prefix="labkit-verify-") as tmp:
        payload = make_payload(Path(tmp)) if any(c.service == "s3" for c in selected) else None
        results: dict[int, list[CheckRow]] = {}

        def work(i: int, tool: Tool, tool_skip: Callable[[str], str | None], emit: Callable[[CheckRow], None]):
            """Run one tool's checks, reporting each row through ``emit``."""
            results[i] = run_checks(tool, region, tool_skip, selected, settings=settings, services=services,
                                    payload=payload, timeout=timeout, tls=tls, emit=emit,
                                    lanes=parallel and isinstance(tool, CliTool))

        for _tool, _skip, pre in plans:
            for row in pre:
                report(row)
        if parallel and len(plans) > 1:
            threads = []
            for i, (tool, tool_skip, _pre) in enumerate(plans):
                def run(i=i, tool=tool, tool_skip=tool_skip) -> None:
                    """Run one tool in a worker thread; a crash is reported, never lost."""
                    try:
                        work(i, tool, tool_skip, events.put)
                    except BaseException as exc:  # noqa: BLE001 - handed to the calling thread
                        events.put(exc)
                    finally:
                        events.put(None)
                threads.append(threading.Thread(target=run, daemon=True))
            for th in threads:
                th.start()
            finished, error = 0, None
            while finished < len(threads):
                item = events.get()
                if item is None:
                    finished += 1
                elif isinstance(item, BaseException):
                    error = error or item
                else:
                    report(item)
            for th in threads:
                th.join()
            if error:
                raise error
        else:
            for i, (tool, tool_skip, _pre) in enumerate(plans):
                work(i, tool, tool_skip, report)
    rows: list[CheckRow] = []
    for i, (_tool, _skip, pre) in enumerate(plans):
        rows += pre + results[i]
    return rows
