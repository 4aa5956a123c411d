"""Fixtures for the awscli provider tests: a scrubbed environment, plain moto servers, labkit's aws sandbox."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import shared_data_dir

DATA = shared_data_dir() / "awscli"
AWS = str(Path(sys.executable).with_name("aws"))


def free_port() -> int:
    """Return a free TCP port on 127.0.0.1."""
    from labkit.sandbox import free_port as fp

    return fp()


@pytest.fixture(autouse=True)
def no_real_keyring(monkeypatch):
    """Never touch the machine's keyring: keyring's null backend here and in every child process."""
    import keyring
    from keyring.backends import null

    previous = keyring.get_keyring()
    keyring.set_keyring(null.Keyring())
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.null.Keyring")
    yield
    keyring.set_keyring(previous)


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    """No real AWS_* variable, a temporary HOME: boto3 in this process sees only the files we write."""
    for name in list(os.environ):
        if name.startswith("AWS_") or name.lower() in ("http_proxy", "https_proxy", "all_proxy", "no_proxy"):
            monkeypatch.delenv(name)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    return home


def cli_env(config: Path, credentials: Path, home: Path, **extra: str) -> dict[str, str]:
    """Return a scrubbed environment for the real aws CLI: only the two written files, nothing else of AWS."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), "LANG": "C.UTF-8",
           "AWS_CONFIG_FILE": str(config), "AWS_SHARED_CREDENTIALS_FILE": str(credentials),
           "AWS_EC2_METADATA_DISABLED": "true", "AWS_PAGER": ""}
    env.update(extra)
    return env


def run_aws(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    """Run the real aws CLI (no --endpoint-url ever) and return the finished process."""
    assert "--endpoint-url" not in args
    return subprocess.run([AWS, *args], env=env, capture_output=True, text=True, timeout=120)


def _start_moto(extra_env: dict[str, str], workdir: Path):
    port = free_port()
    env = {**os.environ, "MOTO_ALLOW_NONEXISTENT_REGION": "true", **extra_env}
    log = open(workdir / f"moto-{port}.log", "wb")  # noqa: SIM115 - closed at teardown
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                            stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    from labkit.sandbox import port_open

    end = time.monotonic() + 60
    while not port_open(port):
        if proc.poll() is not None or time.monotonic() > end:
            proc.kill()
            raise RuntimeError((workdir / f"moto-{port}.log").read_text())
        time.sleep(0.1)
    return proc, log, f"http://127.0.0.1:{port}"


def _stop(proc, log) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    log.close()


@pytest.fixture(scope="session")
def moto_url(tmp_path_factory):
    """A moto server on 127.0.0.1 (custom regions allowed), stopped after the session."""
    proc, log, url = _start_moto({}, tmp_path_factory.mktemp("moto"))
    yield url
    _stop(proc, log)


@pytest.fixture(scope="session")
def moto_auth_url(tmp_path_factory):
    """A moto server that checks credentials from the first call (INITIAL_NO_AUTH_ACTION_COUNT=0)."""
    proc, log, url = _start_moto({"INITIAL_NO_AUTH_ACTION_COUNT": "0"}, tmp_path_factory.mktemp("moto-auth"))
    yield url
    _stop(proc, log)


def _start_sandbox(rd: Path, checksums: str = "accept") -> dict[str, str]:
    """Start labkit's sandbox aws service (moto + Eucalyptus front) in a private run dir; return its URLs."""
    import labkit.sandbox as sb
    from labkit.aws.sandbox import CHECKSUM_ENV, endpoints

    old = os.environ.get(CHECKSUM_ENV)
    os.environ[CHECKSUM_ENV] = checksums
    try:
        sb.start(["aws"], rd=rd)
    finally:
        if old is None:
            os.environ.pop(CHECKSUM_ENV, None)
        else:
            os.environ[CHECKSUM_ENV] = old
    return {**endpoints(rd), "log": str(rd / "aws.log")}


@pytest.fixture(scope="session")
def aws_sandbox(tmp_path_factory):
    """labkit's sandbox aws service: moto on ``gateway``, the Eucalyptus layout on ``eucalyptus``; stopped after."""
    import labkit.sandbox as sb

    rd = tmp_path_factory.mktemp("aws-sandbox")
    yield _start_sandbox(rd)
    sb.stop(rd=rd)


@pytest.fixture(scope="session")
def strict_sandbox(tmp_path_factory):
    """The sandbox aws service refusing the new S3 checksum headers, as older MinIO and Ceph RGW do."""
    import labkit.sandbox as sb

    rd = tmp_path_factory.mktemp("aws-strict")
    yield _start_sandbox(rd, "reject")
    sb.stop(rd=rd)


def proxy_env(url: str) -> dict[str, str]:
    """Return the variables that send DNS-style Eucalyptus host names to the front (it stands in for DNS)."""
    return {"HTTP_PROXY": url, "http_proxy": url}
