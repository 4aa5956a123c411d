"""Fixtures for the awscli provider tests: a scrubbed environment, a moto server, a Eucalyptus front."""

from __future__ import annotations

import http.client
import os
import re
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.conftest import shared_data_dir

DATA = shared_data_dir() / "awscli"
AWS = str(Path(sys.executable).with_name("aws"))


def free_port() -> int:
    """Return a free TCP port on 127.0.0.1."""
    from labkit.sandbox import free_port as fp

    return fp()


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


class EucalyptusFront:
    """A stand-in for a Eucalyptus cloud controller in front of moto, recording what it was asked.

    Path-style: ``/services/compute/...`` is forwarded to moto as ``/...``. DNS-style: it also
    works as an HTTP proxy, so ``http://compute.REGION.DOMAIN:8773/`` reaches it without DNS.
    """

    def __init__(self, backend: str) -> None:
        self.backend = urlsplit(backend)
        self.seen: list[tuple[str, str, str]] = []  # (method, host, path) as the client sent them
        front = self

        class Handler(BaseHTTPRequestHandler):
            def _any(self) -> None:
                target = urlsplit(self.path)
                host = target.netloc or self.headers.get("Host", "")
                path = target.path if target.netloc else self.path.split("?")[0]
                query = target.query if target.netloc else (self.path.split("?", 1)[1] if "?" in self.path else "")
                front.seen.append((self.command, host, path))
                m = re.match(r"^/services/[A-Za-z]+(?P<rest>/.*)?$", path)
                fwd = (m.group("rest") or "/") if m else path
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "proxy-connection")}
                conn = http.client.HTTPConnection(front.backend.hostname, front.backend.port, timeout=30)
                conn.request(self.command, fwd + (f"?{query}" if query else ""), body=body, headers=headers)
                resp = conn.getresponse()
                data = resp.read()
                self.send_response(resp.status)
                for k, v in resp.getheaders():
                    if k.lower() not in ("content-length", "transfer-encoding", "connection", "server", "date"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                conn.close()

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _any

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> EucalyptusFront:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def euca_front(moto_url):
    """A Eucalyptus-style front (path prefixes and DNS names) to the moto server."""
    with EucalyptusFront(moto_url) as front:
        yield front
