"""labkit.http against a real local HTTP server that misbehaves on purpose."""

from __future__ import annotations

import socket

import pytest

from labkit.errors import HttpError
from labkit.http import iter_link_pages, retry_after_seconds, session

pytestmark = pytest.mark.unit


def make(server, waits):
    return session(server.url, sleep=waits.append, backoff=0.01)


def test_429_honours_retry_after_then_succeeds(server):
    server.plans["/a"] = [(429, {"Retry-After": "7"}, {}), (200, {}, {"n": 1})]
    waits: list[float] = []
    r = make(server, waits).get("/a")
    assert r.json() == {"n": 1} and waits == [7.0] and server.hits["/a"] == 2


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_transient_5xx_is_retried_for_get(server, status):
    server.plans["/b"] = [(status, {}, {}), (status, {}, {}), (200, {}, {"ok": 1})]
    waits: list[float] = []
    assert make(server, waits).get("/b").json() == {"ok": 1}
    assert len(waits) == 2 and waits[1] > waits[0] * 0  # exponential backoff, jittered


def test_dropped_connection_is_retried_for_get(server):
    server.plans["/c"] = ["drop", (200, {}, {"ok": 2})]
    assert make(server, []).get("/c").json() == {"ok": 2}
    assert server.hits["/c"] == 2


def test_post_is_not_replayed_unless_idempotent(server):
    server.plans["/d"] = [(503, {}, {}), (200, {}, {"ok": 3})]
    with pytest.raises(HttpError) as err:
        make(server, []).post("/d", json={})
    assert err.value.status == 503 and server.hits["/d"] == 1
    server.plans["/e"] = [(503, {}, {}), (200, {}, {"ok": 3})]
    assert make(server, []).post("/e", json={}, idempotent=True).json() == {"ok": 3}


@pytest.mark.parametrize("status,word", [(401, "authentication"), (403, "permission"), (404, "not found"),
                                         (410, "removed")])
def test_client_errors_name_the_url_and_what_to_check(server, status, word):
    server.plans["/f"] = [(status, {}, {"errorMessages": ["server says no"]})]
    with pytest.raises(HttpError) as err:
        make(server, []).get("/f")
    text = str(err.value)
    assert f"{server.url}/f" in text and str(status) in text and word in text and "server says no" in text
    assert server.hits["/f"] == 1


def test_retries_are_bounded(server):
    server.plans["/g"] = [(503, {}, {})]
    s = session(server.url, sleep=lambda _s: None, retries=3)
    with pytest.raises(HttpError):
        s.get("/g")
    assert server.hits["/g"] == 4


def test_connection_refused_is_a_clear_error():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    s = session(f"http://127.0.0.1:{port}", sleep=lambda _s: None, retries=1)
    with pytest.raises(HttpError, match="could not connect"):
        s.get("/x")


def test_timeouts_are_always_set(server):
    s = session(server.url)
    sent = {}

    def hook(r, *a, **k):
        sent["t"] = k.get("timeout")

    s.hooks["response"].append(hook)
    s.get("/h")
    assert sent["t"] == s.timeout and all(s.timeout)


def test_link_header_pagination(server):
    server.plans["/p1"] = [(200, {"Link": '<http://127.0.0.1:{port}/p2>; rel="next"'}, [1])]
    server.plans["/p2"] = [(200, {}, [2])]
    pages = [r.json() for r in iter_link_pages(session(server.url), "/p1")]
    assert pages == [[1], [2]]


def test_retry_after_http_date():
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:10 GMT", now=1445412480.0) == 10.0
    assert retry_after_seconds("garbage") is None


@pytest.mark.parametrize("base", ["jira.example.com", "ftp://127.0.0.1:1", "http://"])
def test_an_unusable_url_is_a_clear_error(base):
    with pytest.raises(HttpError, match="is not a usable URL.*write the whole base URL"):
        session(base, sleep=lambda _s: None).get("/rest/api/2/serverInfo")


def test_a_password_written_into_the_url_never_shows(server, caplog):
    with_password = server.url.replace("http://", "http://admin:pw-in-url-123@")
    server.plans["/h"] = [(503, {}, {}), (401, {}, {"message": "Bad credentials"})]
    with caplog.at_level("INFO", logger="labkit.http"), pytest.raises(HttpError) as err:
        session(with_password, sleep=lambda _s: None, retries=1).get("/h")
    assert server.hits["/h"] == 2 and "retrying GET" in caplog.text
    shown = server.url.replace("http://", "http://******@") + "/h"
    assert shown in str(err.value) and err.value.url == shown
    assert "pw-in-url-123" not in str(err.value) + caplog.text


def test_proxy_variables_changed_between_calls_take_effect(server, monkeypatch):
    """The environment's proxies are looked up once per host, yet a proxy variable set, or a host put in
    no_proxy, between two calls of one session decides the next call (requests' own rules: a plain-HTTP
    URL goes through ``http_proxy``, a host listed in ``no_proxy`` goes direct)."""
    for name in ("http_proxy", "https_proxy", "all_proxy", "no_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY",
                 "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
    s = session(retries=0, timeout=10)
    target = "http://jira.invalid/rest/api/2/serverInfo"
    with pytest.raises(HttpError, match="could not connect"):
        s.get(target)
    monkeypatch.setenv("http_proxy", server.url)
    assert s.get(target).json()["path"] == target  # the proxy got the absolute URL
    monkeypatch.setenv("no_proxy", "jira.invalid")
    with pytest.raises(HttpError, match="could not connect"):
        s.get(target)
    monkeypatch.delenv("no_proxy")
    assert s.get(target).json()["path"] == target
