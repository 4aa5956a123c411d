"""The Jira sandbox keeps HTTP/1.1 connections open between requests, as Jira does, without mixing requests up."""

from __future__ import annotations

import base64
import http.client
import json
import socket

import pytest

from labkit.jira.sandbox import serve

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def sb():
    """A Cloud-mode sandbox with a few demo issues."""
    with serve(mode="cloud", seed_issues=40, seed=3) as running:
        yield running


def headers(sb, **more: str) -> dict[str, str]:
    """Basic auth for the sandbox's admin, plus more headers."""
    token = base64.b64encode(f"{sb.auth[0]}:{sb.auth[1]}".encode()).decode()
    return {"Authorization": f"Basic {token}", **more}


def ask(conn: http.client.HTTPConnection, method: str, path: str, body: bytes | None, hdrs: dict[str, str]):
    """Send one request on the connection and read the whole answer: (status, Connection header, JSON)."""
    conn.request(method, path, body=body, headers=hdrs)
    r = conn.getresponse()
    data = r.read()
    return r.status, r.getheader("Connection"), json.loads(data) if data else None


def test_one_connection_carries_many_requests_even_with_unread_or_chunked_bodies(sb):
    """RFC 9112 9.3: HTTP/1.1 connections persist unless "close" is sent. Each answer is the one its
    request asked for, on the same socket, after a body the server never reads (a GET with a body),
    a refused one (bad JSON) and a 404; a chunked body gets its answer and then "Connection: close"."""
    port = int(sb.url.rsplit(":", 1)[1])
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    search = json.dumps({"jql": "project is not EMPTY ORDER BY key ASC", "fields": ["key"], "maxResults": 5}).encode()
    status, close, page = ask(conn, "POST", "/rest/api/3/search/jql", search, headers(sb, **{"Content-Type": "application/json"}))
    sock = conn.sock
    assert status == 200 and close is None and len(page["issues"]) == 5
    keys = [i["key"] for i in page["issues"]]
    status, close, me = ask(conn, "GET", "/rest/api/2/myself", b'{"ignored": "' + b"x" * 50_000 + b'"}',
                            headers(sb, **{"Content-Type": "application/json"}))
    assert (status, close) == (200, None) and me["displayName"] and conn.sock is sock
    status, close, err = ask(conn, "POST", "/rest/api/3/issue/bulkfetch", b"{not json",
                             headers(sb, **{"Content-Type": "application/json"}))
    assert status == 400 and close is None and err["errorMessages"] and conn.sock is sock
    status, close, err = ask(conn, "GET", "/rest/api/2/nothing/here", None, headers(sb))
    assert status == 404 and close is None and conn.sock is sock
    status, close, page = ask(conn, "POST", "/rest/api/3/issue/bulkfetch",
                              json.dumps({"issueIdsOrKeys": keys[:2], "fields": ["summary"]}).encode(),
                              headers(sb, **{"Content-Type": "application/json"}))
    assert status == 200 and [i["key"] for i in page["issues"]] == keys[:2] and conn.sock is sock
    conn.putrequest("POST", "/rest/api/3/search/jql")
    for k, v in headers(sb, **{"Content-Type": "application/json", "Transfer-Encoding": "chunked"}).items():
        conn.putheader(k, v)
    conn.endheaders()
    conn.send(b"%x\r\n%s\r\n0\r\n\r\n" % (len(search), search))
    r = conn.getresponse()
    assert r.status == 200 and r.getheader("Connection") == "close"
    assert [i["key"] for i in json.loads(r.read())["issues"]] == keys
    conn.close()


def test_stopping_the_sandbox_shuts_kept_connections():
    """A connection kept open by a client is shut when the sandbox stops: its next request fails
    instead of being answered by a stopped sandbox."""
    with serve(mode="server", seed_issues=5, seed=3) as running:
        port = int(running.url.rsplit(":", 1)[1])
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        assert ask(conn, "GET", "/rest/api/2/myself", None, headers(running))[0] == 200
    conn.auto_open = 0  # do not reconnect: use the kept socket
    with pytest.raises((OSError, http.client.HTTPException)):
        ask(conn, "GET", "/rest/api/2/myself", None, headers(running))
    conn.close()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
