"""labkit.http ``Session.content``: a call sent straight through the session's urllib3 pool behaves as ``request``.

Each test runs the same call through ``Session.request`` (requests' own path, the reference) and through
``Session.content`` against a real local HTTP server that records what it gets and misbehaves on purpose:
the same bytes sent (headers, auth, body, cookies), the same retries, waits and error messages (the
deadline cases run both ways in tests/security/test_defect_11_http_deadline.py).
"""

from __future__ import annotations

import gzip
import json
import socket

import pytest
import requests

from labkit.errors import HttpError
from labkit.http import session

pytestmark = pytest.mark.unit


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
