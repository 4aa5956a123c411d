"""labkit.http ``Session.content``: a call sent straight through the session's urllib3 pool behaves as ``request``.

Each test runs the same call through ``Session.request`` (requests' own path, the reference) and through
``Session.content`` against a real local HTTP server that records what it gets and misbehaves on purpose:
the same bytes sent (headers, auth, body, cookies), the same retries, waits, deadlines and error messages.
"""

from __future__ import annotations

import gzip
import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from labkit.errors import HttpError
from labkit.http import session
from tests.security.servers import SilentServer

pytestmark = pytest.mark.unit


class Script:
    """Per-path queues of answers ((status, headers, body bytes or JSON) or 'drop'), and what each request carried."""

    def __init__(self) -> None:
        self.plans: dict[str, list] = {}
        self.hits: dict[str, int] = {}
        self.seen: list[dict] = []


@pytest.fixture
def server():
    script = Script()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        def _answer(self):
            path = self.path.split("?")[0]
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            script.hits[path] = script.hits.get(path, 0) + 1
            script.seen.append({"method": self.command, "path": self.path, "body": body,
                                "headers": {k.lower(): v for k, v in self.headers.items()}})
            plan = script.plans.get(path) or [(200, {}, {"ok": True, "path": self.path})]
            step = plan.pop(0) if len(plan) > 1 else plan[0]
            if step == "drop":
                self.connection.shutdown(socket.SHUT_RDWR)
                self.close_connection = True
                return
            status, headers, payload = step
            data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v.replace("{port}", str(self.server.server_address[1])))
            if "Content-Type" not in headers:
                self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = _answer

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()
    script.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    yield script
    httpd.shutdown()
    httpd.server_close()


def both(server, path, plan, **options):
    """Run one POST through request() and through content(), each on a fresh session; return their outcomes."""
    out = []
    for way in ("request", "content"):
        server.plans[path] = list(plan)
        server.hits.pop(path, None)
        waits: list[float] = []
        s = session(server.url, auth=("admin", "s3cret-pw"), sleep=waits.append, backoff=0.01, **options)
        start = len(server.seen)
        try:
            if way == "request":
                got = s.post(path, json={"jql": "project = DEMO", "n": [1, 2]}, idempotent=True).content
            else:
                got = s.content("POST", path, json={"jql": "project = DEMO", "n": [1, 2]}, idempotent=True)
        except HttpError as exc:
            got = exc
        out.append({"got": got, "waits": waits, "hits": server.hits.get(path, 0), "attempts": s.attempts,
                    "seen": server.seen[start:]})
    return out


def test_the_same_bytes_go_out_and_come_back(server):
    ref, direct = both(server, "/rest/api/2/search", [(200, {}, {"issues": [1, 2, 3]})])
    assert direct["got"] == ref["got"] == json.dumps({"issues": [1, 2, 3]}).encode()
    a, b = ref["seen"][0], direct["seen"][0]
    assert (a["method"], a["path"], a["body"]) == (b["method"], b["path"], b["body"])
    for name in ("authorization", "content-type", "user-agent", "accept-encoding", "accept", "content-length"):
        assert a["headers"].get(name) == b["headers"].get(name), name
    assert b["headers"]["authorization"].startswith("Basic ")


def test_429_retry_after_and_5xx_are_retried_alike(server):
    plan = [(429, {"Retry-After": "7"}, {}), (503, {}, {}), (200, {}, {"n": 1})]
    ref, direct = both(server, "/r", plan)
    assert direct["got"] == ref["got"] == b'{"n": 1}'
    assert direct["hits"] == ref["hits"] == 3 and direct["waits"][0] == ref["waits"][0] == 7.0
    assert len(direct["waits"]) == len(ref["waits"]) == 2


def test_a_dropped_connection_is_retried_alike(server):
    ref, direct = both(server, "/d", ["drop", (200, {}, {"ok": 2})])
    assert direct["got"] == ref["got"] == b'{"ok": 2}' and direct["hits"] == ref["hits"] == 2


@pytest.mark.parametrize("status", [400, 401, 403, 404, 410, 500])
def test_final_errors_are_the_same_one_line_error(server, status):
    ref, direct = both(server, "/e", [(status, {}, {"errorMessages": ["server says no"]})], retries=1)
    assert isinstance(direct["got"], HttpError) and isinstance(ref["got"], HttpError)
    assert str(direct["got"]) == str(ref["got"]) and direct["got"].status == ref["got"].status == status
    assert direct["hits"] == ref["hits"]
    assert "s3cret-pw" not in str(direct["got"])


def test_a_gzip_answer_is_decoded(server):
    data = gzip.compress(b'{"zipped": true}')
    ref, direct = both(server, "/z", [(200, {"Content-Encoding": "gzip"}, data)])
    assert direct["got"] == ref["got"] == b'{"zipped": true}'


def test_a_redirect_is_followed_as_requests_follows_it(server):
    plan = [(307, {"Location": "http://127.0.0.1:{port}/moved"}, {})]
    server.plans["/moved"] = [(200, {}, {"here": 1})]
    ref, direct = both(server, "/old", plan)
    assert direct["got"] == ref["got"] == b'{"here": 1}'


def test_cookies_the_server_sets_are_sent_back(server):
    s = session(server.url, auth=("admin", "pw"))
    server.plans["/login"] = [(200, {"Set-Cookie": "JSESSIONID=abc123; Path=/"}, {})]
    s.content("POST", "/login", json={})
    s.content("POST", "/next", json={})
    assert server.seen[-1]["headers"].get("cookie") == "JSESSIONID=abc123"
    assert s.cookies.get("JSESSIONID") == "abc123"


def test_the_direct_path_skips_requests_session_layer_only_when_it_adds_nothing(server, monkeypatch):
    """A plain call does not go through requests.Session.request; a proxy, a hook or another host's URL does."""
    calls: list[str] = []
    real = requests.Session.request

    def spy(self, method, url, *a, **k):
        calls.append(url)
        return real(self, method, url, *a, **k)

    monkeypatch.setattr(requests.Session, "request", spy)
    for name in ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY", "no_proxy", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
    s = session(server.url, auth=("admin", "pw"))
    assert s.content("POST", "/plain", json={}) and calls == []
    s.hooks["response"].append(lambda r, *a, **k: None)
    s.content("POST", "/hooked", json={})
    assert calls == [server.url + "/hooked"]
    # a proxy for the host: requests' own path sends it through the proxy (here the test server itself)
    p = session("http://jira.invalid", auth=("admin", "pw"), retries=0)
    monkeypatch.setenv("http_proxy", server.url)
    assert json.loads(p.content("POST", "/rest/api/2/search", json={}))["path"] == "http://jira.invalid/rest/api/2/search"
    assert calls[-1] == "http://jira.invalid/rest/api/2/search"


def test_a_silent_server_gets_one_attempt_within_the_deadline():
    with SilentServer() as server:
        s = session(server.url, timeout=1, sleep=lambda _s: None)
        with pytest.raises(HttpError, match=r"got no complete answer within 1 s.*--timeout"):
            s.content("POST", "/rest/api/2/search", json={"jql": "x"}, idempotent=True)
        assert server.accepted == 1


def test_a_trickling_server_cannot_hold_a_call_past_its_deadline():
    with SilentServer(trickle=0.2) as server:
        outcome: list[BaseException | None] = []

        def call():
            try:
                session(server.url, timeout=1.5, sleep=lambda _s: None).content("POST", "/x", json={})
                outcome.append(None)
            except BaseException as exc:  # noqa: BLE001 - the test reports whatever came out
                outcome.append(exc)

        t = threading.Thread(target=call, daemon=True)
        t.start()
        t.join(30)
        assert outcome, "the call was still running 30 s after a 1.5 s deadline"
        assert isinstance(outcome[0], HttpError) and "within 1.5 s" in str(outcome[0])


def test_a_read_timeout_on_a_post_search_is_not_resent_unless_asked():
    with SilentServer() as server:
        s = session(server.url, timeout=(1.0, 0.5), deadline=60, sleep=lambda _s: None)
        with pytest.raises(HttpError, match="not retried: the server may still be running it"):
            s.content("POST", "/rest/api/2/search", json={"jql": "x"}, idempotent=True)
        assert server.accepted == 1
        with pytest.raises(HttpError):
            s.content("POST", "/rest/api/2/search", json={"jql": "x"}, idempotent=True, retry_read_timeout=True)
        assert server.accepted == 1 + 1 + s.retries


def test_connection_refused_is_the_same_clear_error():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    s = session(f"http://127.0.0.1:{port}", sleep=lambda _s: None, retries=1)
    with pytest.raises(HttpError, match="could not connect") as direct:
        s.content("POST", "/x", json={}, idempotent=True)
    with pytest.raises(HttpError) as ref:
        s.post("/x", json={}, idempotent=True)
    assert str(direct.value) == str(ref.value)
