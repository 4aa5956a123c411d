"""Defect 11: against a server that accepts and never answers, a call hung 5 x 60 s; now it has one deadline.

Also defect 2's client half: a read timeout on a POST search is not sent again unless the caller asks.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

import pytest

from labkit.errors import HttpError
from labkit.http import session
from tests.security.servers import SilentServer

pytestmark = [pytest.mark.unit]
WAYS = ["request", "content"]  # Session.request (requests' path) and Session.content (straight through the pool)


def send(s, way: str, method: str, path: str, **options):
    """One call through either way (a JSON body when it is a POST)."""
    body = {"jql": "text ~ x"} if method == "POST" else None
    if way == "content":
        return s.content(method, path, json=body, **options)
    return s.request(method, path, json=body, **options)


@pytest.mark.parametrize("way", WAYS)
def test_a_silent_server_gets_one_attempt_within_the_deadline(way):
    with SilentServer() as server:
        s = session(server.url, timeout=1, sleep=lambda _s: None)
        with pytest.raises(HttpError, match=r"got no complete answer within 1 s.*--timeout"):
            send(s, way, "GET", "/rest/api/2/serverInfo")
        assert server.accepted == 1  # the old per-attempt timeout sent it 5 times


@pytest.mark.parametrize("way", WAYS)
def test_a_server_that_trickles_bytes_cannot_hold_a_call_past_its_deadline(way):
    with SilentServer(trickle=0.2) as server:
        outcome: list[BaseException | None] = []

        def call():
            try:
                send(session(server.url, timeout=1.5, sleep=lambda _s: None), way, "GET", "/x")
                outcome.append(None)
            except BaseException as exc:  # noqa: BLE001 - the test reports whatever came out
                outcome.append(exc)

        t = threading.Thread(target=call, daemon=True)
        t.start()
        t.join(30)  # per-read timeouts alone never end this call: every read gets a byte in time
        assert outcome, "the call was still running 30 s after a 1.5 s deadline"
        assert isinstance(outcome[0], HttpError) and "within 1.5 s" in str(outcome[0])


@pytest.mark.parametrize("way", WAYS)
def test_a_read_timeout_on_a_post_search_is_not_resent_unless_asked(way):
    with SilentServer() as server:
        s = session(server.url, timeout=(1.0, 0.5), deadline=60, sleep=lambda _s: None)
        with pytest.raises(HttpError, match="not retried: the server may still be running it"):
            send(s, way, "POST", "/rest/api/2/search", idempotent=True)
        assert server.accepted == 1
        with pytest.raises(HttpError):
            send(s, way, "POST", "/rest/api/2/search", idempotent=True, retry_read_timeout=True)
        assert server.accepted == 1 + 1 + s.retries


def test_the_cli_timeout_bounds_a_jira_search(tmp_path):
    with SilentServer() as server:
        config = tmp_path / "config.toml"
        config.write_text(f'[profiles.silent.jira]\nurl = "{server.url}"\nuser = "u"\ntoken_env = "SILENT_TOKEN"\n')
        env = {**os.environ, "LABKIT_CONFIG": str(config), "SILENT_TOKEN": "t" * 12, "LABKIT_RUN_DIR": str(tmp_path)}
        t0 = time.monotonic()
        r = subprocess.run([sys.executable, "-m", "labkit.cli", "--timeout", "2", "--profile", "silent",
                            "jira", "search", "project = DEMO", "--count"],
                           capture_output=True, text=True, env=env, timeout=120)
        took = time.monotonic() - t0
    assert r.returncode == 1, (r.returncode, r.stderr)
    assert r.stderr.count("\n") == 1 and r.stderr.startswith("labkit: error:") and "within 2 s" in r.stderr
    assert server.accepted <= 2 and took < 60  # the old client took 303 s here
