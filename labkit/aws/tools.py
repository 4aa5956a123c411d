"""The two clients verify drives: one boto3 session in this process, and the real ``aws`` CLI, one process per call.

Both see only the written files. Both offer the same calls: ``call`` (one API operation; a ``Path``
value is a file to send as the body), ``download`` (GetObject into a file), ``presign`` (a presigned
GET URL), ``version`` and ``checksums`` (which request/response checksum behaviour is in force).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

# The oldest botocore (and awscli v2) that sends the new S3 checksums by default.
CHECKSUM_DEFAULT_SINCE = {"botocore": (1, 36), "aws-cli/2": (2, 23)}
CHECKSUM_SETTINGS = ("request_checksum_calculation", "response_checksum_validation")
_CLOSED_LOOPBACK = "http://127.0.0.1:9"  # instance-metadata lookups fail at once, never leave the host


class CallFailed(Exception):
    """A call through one tool failed; the text is the tool's own error message."""


def _version_tuple(text: str) -> tuple[int, ...]:
    """Turn '1.44.8' into (1, 44, 8)."""
    return tuple(int(x) for x in re.findall(r"\d+", text)[:3])


def checksum_state(settings: dict | None, environ: dict[str, str], core: str, version: str) -> dict[str, str]:
    """Return the request/response checksum mode in force and where it comes from, for one client.

    ``core`` is ``botocore`` or ``aws-cli/2`` and ``version`` its version: before botocore 1.36
    (awscli v2 2.23) there were no default checksums and the options did not exist.
    """
    since = CHECKSUM_DEFAULT_SINCE[core]
    if _version_tuple(version)[:2] < since:
        return {name: "pre-1.36 (none by default)" for name in CHECKSUM_SETTINGS} | {"source": "client version"}
    out, sources = {}, []
    for name in CHECKSUM_SETTINGS:
        env = "AWS_" + name.upper()
        if environ.get(env):
            out[name], source = environ[env].lower(), f"${env}"
        elif settings and settings.get(name):
            out[name], source = str(settings[name]).lower(), "profile"
        else:
            out[name], source = "when_supported", "default"
        sources.append(source)
    out["source"] = ", ".join(sorted(set(sources)))
    return out


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

    def version(self) -> str:
        """Return the boto3 and botocore versions."""
        import boto3
        import botocore

        return f"boto3 {boto3.__version__}, botocore {botocore.__version__}"

    def checksums(self, settings: dict | None) -> dict[str, str]:
        """Return the checksum behaviour this process's botocore uses for the profile."""
        import botocore

        return checksum_state(settings, dict(os.environ), "botocore", botocore.__version__)

    def call(self, service: str, operation: str, **params) -> dict:
        """Call one API operation (a Path value is sent as a file); raise CallFailed with the SDK's message."""
        from botocore import xform_name

        files = {k: open(v, "rb") for k, v in params.items() if isinstance(v, Path)}  # noqa: SIM115 - closed below
        try:
            out = getattr(self.client(service), xform_name(operation))(**{**params, **files})
        except Exception as exc:  # noqa: BLE001 - every SDK error becomes a failed check with advice
            raise CallFailed(f"{type(exc).__name__}: {exc}") from None
        finally:
            for f in files.values():
                f.close()
        out.pop("ResponseMetadata", None)
        return out

    def download(self, bucket: str, key: str, dest: Path, byte_range: str | None = None) -> dict:
        """GetObject into ``dest``; return the response's metadata (the body is in the file)."""
        extra = {"Range": byte_range} if byte_range else {}
        try:
            out = self.client("s3").get_object(Bucket=bucket, Key=key, **extra)
            with open(dest, "wb") as f:
                for chunk in out["Body"].iter_chunks(1 << 20):
                    f.write(chunk)
        except Exception as exc:  # noqa: BLE001 - a failed or cut-off download is a failed check
            raise CallFailed(f"{type(exc).__name__}: {exc}") from None
        out.pop("Body", None)
        out.pop("ResponseMetadata", None)
        return out

    def presign(self, bucket: str, key: str, expires: int) -> str:
        """Return a presigned GET URL of one object."""
        try:
            return self.client("s3").generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": key},
                                                            ExpiresIn=expires)
        except Exception as exc:  # noqa: BLE001
            raise CallFailed(f"{type(exc).__name__}: {exc}") from None


class CliTool:
    """Calls through the real ``aws`` CLI, one process per call, seeing only the written files."""

    name = "aws-cli"

    def __init__(self, profile: str, config_file: Path, credentials_file: Path, *, timeout: float = 5.0,
                 verify_tls: bool = True, executable: str | None = None, keep_env: tuple[str, ...] = ()) -> None:
        """Remember the profile, its files and the call settings; ``keep_env`` are AWS_* names to pass on."""
        self.profile, self.timeout, self.verify_tls = profile, timeout, verify_tls
        self.executable = executable or aws_executable()
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") or k in keep_env}
        self.env.update({"AWS_CONFIG_FILE": str(config_file), "AWS_SHARED_CREDENTIALS_FILE": str(credentials_file),
                         "AWS_MAX_ATTEMPTS": "1", "AWS_RETRY_MODE": "standard", "AWS_PAGER": "",
                         "AWS_EC2_METADATA_DISABLED": "true"})

    def _base(self) -> list[str]:
        """Return the options every command starts with."""
        cmd = [self.executable or "aws", "--profile", self.profile, "--output", "json",
               "--cli-connect-timeout", str(int(self.timeout)), "--cli-read-timeout", str(int(self.timeout))]
        return cmd + ([] if self.verify_tls else ["--no-verify-ssl"])

    def argv(self, service: str, operation: str, *positional: str, **params) -> list[str]:
        """Return the ``aws`` command line of one API call."""
        from botocore import xform_name

        cmd = [*self._base(), "s3api" if service == "s3" else service, xform_name(operation, "-")]
        for key, value in params.items():
            cmd += [f"--{xform_name(key, '-')}",
                    json.dumps(value) if isinstance(value, (dict, list)) else str(value)]
        return cmd + list(positional)

    def _run(self, argv: list[str]) -> str:
        """Run one ``aws`` process; return its stdout or raise CallFailed with its error text."""
        if not self.executable:
            raise CallFailed("the aws CLI is not installed (pip install awscli)")
        limit = self.timeout * 4 + 30
        try:
            proc = subprocess.run(argv, env=self.env, capture_output=True, text=True, timeout=limit,
                                  stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            raise CallFailed(f"aws timed out (Read timeout after {limit:.0f} s)") from None
        if proc.returncode != 0:
            raise CallFailed(" ".join(proc.stderr.split()) or f"aws exited with {proc.returncode}")
        return proc.stdout

    def version(self) -> str:
        """Return ``aws --version`` (CLI, Python and botocore versions)."""
        try:
            return self._run([self.executable or "aws", "--version"]).strip()
        except CallFailed as exc:
            return f"unknown ({exc})"

    def checksums(self, settings: dict | None, version: str | None = None) -> dict[str, str]:
        """Return the checksum behaviour the CLI uses for the profile (it sees no AWS_* variable of ours)."""
        version = version or self.version()
        m = re.search(r"botocore/(\S+)", version)
        if m:
            return checksum_state(settings, self.env, "botocore", m.group(1))
        m = re.search(r"aws-cli/(2\.\S+)", version)
        return checksum_state(settings, self.env, "aws-cli/2", m.group(1) if m else "0")

    def call(self, service: str, operation: str, **params) -> dict:
        """Run one ``aws`` process for one operation (a Path value is passed as a file name)."""
        out = self._run(self.argv(service, operation, **params))
        return json.loads(out) if out.strip() else {}

    def download(self, bucket: str, key: str, dest: Path, byte_range: str | None = None) -> dict:
        """Run ``aws s3api get-object ... OUTFILE``; return its metadata."""
        params = {"Bucket": bucket, "Key": key, **({"Range": byte_range} if byte_range else {})}
        out = self._run(self.argv("s3", "GetObject", str(dest), **params))
        return json.loads(out) if out.strip() else {}

    def presign(self, bucket: str, key: str, expires: int) -> str:
        """Run ``aws s3 presign s3://BUCKET/KEY``; return the URL."""
        return self._run([*self._base(), "s3", "presign", f"s3://{bucket}/{key}", "--expires-in",
                          str(expires)]).strip()
