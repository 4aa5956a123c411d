"""labkit.http_wire: ``Session.content``'s own HTTP/1.1 exchange reads every answer as requests (urllib3, http.client) does.

A raw socket server sends scripted bytes (chunked bodies, folded and repeated headers, HTTP/1.0,
``Connection: close``, gzip and deflate codings, 1xx answers, broken framing). Each answer is read
by ``Session.request`` (requests' own stack, the oracle: it shares no code with labkit.http_wire)
and by ``Session.content`` on fresh sessions; both must give the same body, or the same error
after the same number of attempts. RFC 9112 section 6.3 is the rule being tested: "If a
Transfer-Encoding header field is present and the chunked transfer coding is the final encoding,
the message body length is determined by reading and decoding the chunked data"; otherwise a
valid Content-Length gives the length; otherwise the body ends when the server closes.
"""

from __future__ import annotations

import gzip
import socket
import threading
import zlib
from typing import Any

import pytest

from labkit import http_wire
from labkit.errors import HttpError
from labkit.http import session

pytestmark = pytest.mark.unit


class RawServer:
    """A loopback server answering each request with the next scripted raw bytes; it records what it got."""

    def __init__(self, tls: Any = None) -> None:
        """Listen on a free port (behind TLS with an ``ssl.SSLContext``) and serve on a daemon thread."""
        self.script: list[bytes | tuple[bytes, bool]] = []
        self.requests: list[bytes] = []
        self.connections = 0
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.url = f"http{'s' if tls else ''}://127.0.0.1:{self.sock.getsockname()[1]}"
        if tls is not None:
            self.sock = tls.wrap_socket(self.sock, server_side=True)
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        """Accept connections; each gets its own thread."""
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                if self.sock.fileno() < 0:
                    return
                continue  # e.g. a client that refused our certificate
            self.connections += 1
            threading.Thread(target=self._conn, args=(conn,), daemon=True).start()

    def _conn(self, conn: socket.socket) -> None:
        """Answer requests on one connection until the script says close or the client leaves."""
        buf = b""
        with conn:
            while True:
                while b"\r\n\r\n" not in buf:
                    data = conn.recv(65536)
                    if not data:
                        return
                    buf += data
                head, _, buf = buf.partition(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                while len(buf) < length:
                    buf += conn.recv(65536)
                self.requests.append(head + b"\r\n\r\n" + buf[:length])
                buf = buf[length:]
                step = self.script.pop(0) if len(self.script) > 1 else self.script[0]
                answer, close = step if isinstance(step, tuple) else (step, False)
                conn.sendall(answer)
                if close:
                    conn.shutdown(socket.SHUT_RDWR)
                    return

    def close(self) -> None:
        """Stop listening."""
        self.sock.close()


@pytest.fixture
def raw():
    server = RawServer()
    yield server
    server.close()


def both(raw: RawServer, script: list, **options) -> list:
    """The outcome of one POST through request() and through content(): (body or error text, requests seen)."""
    out = []
    for way in ("request", "content"):
        raw.script = list(script)
        start = len(raw.requests)
        s = session(raw.url, auth=("admin", "s3cret-pw"), sleep=lambda _s: None, **options)
        try:
            if way == "request":
                got = s.post("/rest/api/3/issue/bulkfetch", json={"issueIdsOrKeys": ["1"]}, idempotent=True).content
            else:
                got = s.content("POST", "/rest/api/3/issue/bulkfetch", json={"issueIdsOrKeys": ["1"]}, idempotent=True)
        except HttpError as exc:
            got = ("error", exc.status)
        finally:
            s.close()
        out.append((got, len(raw.requests) - start))
    return out


def http(status: str, headers: list[str], body: bytes) -> bytes:
    """An answer's bytes."""
    return ("\r\n".join([status, *headers]) + "\r\n\r\n").encode("latin-1") + body


def chunked(*parts: bytes, ext: str = "", trailers: str = "") -> bytes:
    """A chunked body of these parts (a chunk extension on each, trailer lines at the end)."""
    out = b"".join(b"%x%s\r\n%s\r\n" % (len(p), ext.encode(), p) for p in parts)
    return out + b"0\r\n" + trailers.encode() + b"\r\n"


GZ = gzip.compress(b'{"a": 1, ') + gzip.compress(b'"b": 2}')  # two gzip members, one after the other
ANSWERS = {
    "content-length": http("HTTP/1.1 200 OK", ["Content-Length: 9"], b'{"n": 42}'),
    "chunked": http("HTTP/1.1 200 OK", ["Transfer-Encoding: chunked"], chunked(b'{"is', b'sues": ', b"[1, 2]}")),
    "chunked, extensions and trailers": http("HTTP/1.1 200 OK", ["Transfer-Encoding: chunked"],
                                             chunked(b'{"x":', b" 1}", ext=";name=value", trailers="X-T: 1\r\n")),
    "folded and repeated headers": http("HTTP/1.1 200 OK", ["X-Folded: one", " two", "X-Rep: a", "X-Rep: b",
                                                            "Content-Length: 2"], b"{}"),
    "HTTP/1.0 read to close": (http("HTTP/1.0 200 OK", ["Content-Type: application/json"], b'{"old": true}'), True),
    "Connection: close": (http("HTTP/1.1 200 OK", ["Connection: close", "Content-Length: 4"], b"[ 1]"), True),
    "no reason phrase": http("HTTP/1.1 200", ["Content-Length: 2"], b"[]"),
    "gzip, two members": http("HTTP/1.1 200 OK", ["Content-Encoding: gzip", f"Content-Length: {len(GZ)}"], GZ),
    "gzip, then bytes that are no gzip": http("HTTP/1.1 200 OK", ["Content-Encoding: gzip",
                                                                  f"Content-Length: {len(GZ) + 7}"], GZ + b"garbage"),
    "gzip and chunked": http("HTTP/1.1 200 OK", ["Content-Encoding: gzip", "Transfer-Encoding: chunked"],
                             chunked(GZ[:10], GZ[10:])),
    "deflate (zlib)": http("HTTP/1.1 200 OK", ["Content-Encoding: deflate", "Content-Length: {n}"],
                           zlib.compress(b'{"z": "zlib"}')),
    "deflate (raw)": http("HTTP/1.1 200 OK", ["Content-Encoding: deflate", "Content-Length: {n}"],
                          zlib.compress(b'{"z": "raw"}', wbits=-15)),
    "an unknown coding is left as sent": http("HTTP/1.1 200 OK", ["Content-Encoding: x-labkit",
                                                                   "Content-Length: 3"], b"abc"),
    "100 Continue first": http("HTTP/1.1 100 Continue", [], b"") + http("HTTP/1.1 200 OK", ["Content-Length: 3"],
                                                                        b"[7]"),
    "204 No Content": http("HTTP/1.1 204 No Content", [], b""),
    "empty, Content-Length: 0": http("HTTP/1.1 200 OK", ["Content-Length: 0"], b""),
    "a large body": http("HTTP/1.1 200 OK", ["Content-Length: 1000000"], b"[" + b" " * 999998 + b"]"),
}


def _fixed(answer):
    """Fill in a {n} Content-Length with the body's length."""
    data, close = answer if isinstance(answer, tuple) else (answer, False)
    if b"{n}" in data:
        head, _, body = data.partition(b"\r\n\r\n")
        data = head.replace(b"{n}", str(len(body)).encode()) + b"\r\n\r\n" + body
    return (data, close)


@pytest.mark.parametrize("name", list(ANSWERS))
def test_each_answer_reads_as_requests_reads_it(raw, name):
    ref, direct = both(raw, [_fixed(ANSWERS[name])])
    assert direct == ref
    assert ref[1] == 1


def test_a_long_body_comes_whole_in_the_buffer_it_was_read_into(raw):
    """A Server search page (890 KB) is not copied into bytes: it comes as its bytearray, equal to what
    requests reads, and decodes as it is (json.loads, msgspec); a long error answer is the same error."""
    import json

    import msgspec

    body = json.dumps({"issues": [{"key": f"DEMO-{n}", "summary": "disk space " * 10} for n in range(6000)]}).encode()
    ref, direct = both(raw, [http("HTTP/1.1 200 OK", [f"Content-Length: {len(body)}"], body)])
    assert direct == ref and ref[0] == body
    s = session(raw.url, sleep=lambda _s: None)
    raw.script = [http("HTTP/1.1 200 OK", [f"Content-Length: {len(body)}"], body)]
    got = s.content("POST", "/rest/api/2/search", json={})
    assert type(got) is bytearray and json.loads(got) == msgspec.json.decode(got) == json.loads(body)
    s.close()
    error = json.dumps({"errorMessages": ["no such field"], "padding": "x" * 400_000}).encode()
    ref, direct = both(raw, [http("HTTP/1.1 404 Nope", [f"Content-Length: {len(error)}"], error)])
    assert direct == ref == (("error", 404), 1)


@pytest.mark.parametrize("status", [400, 401, 404, 500])
def test_an_error_answer_gives_the_same_error_after_the_same_attempts(raw, status):
    answer = http(f"HTTP/1.1 {status} Nope", ["Content-Type: application/json", "Content-Length: 31"],
                  b'{"errorMessages": ["no, no, no"]}'[:31])
    ref, direct = both(raw, [answer], retries=2)
    assert direct == ref and direct[0] == ("error", status)


BROKEN = {
    "not HTTP": b"SSH-2.0-OpenSSH_9.0\r\n\r\n",
    "a body cut short": (http("HTTP/1.1 200 OK", ["Content-Length: 50"], b'{"short": '), True),
    "a bad chunk size": (http("HTTP/1.1 200 OK", ["Transfer-Encoding: chunked"], b"zz\r\n{}\r\n0\r\n\r\n"), True),
    "closed before any answer": (b"", True),
    "a broken gzip body": http("HTTP/1.1 200 OK", ["Content-Encoding: gzip", "Content-Length: 8"], b"notgzip!"),
}


@pytest.mark.parametrize("name", list(BROKEN))
def test_a_broken_answer_is_retried_then_fails_as_requests_fails(raw, name):
    good = http("HTTP/1.1 200 OK", ["Content-Length: 8"], b'{"ok": 1}'[:8])
    ref, direct = both(raw, [BROKEN[name], good], retries=2)
    assert direct == ref  # the same body after one retry, the same number of requests sent
    ref, direct = both(raw, [BROKEN[name]], retries=1)
    assert direct[0] == ref[0] == ("error", None)
    assert direct[1] == ref[1]


def test_the_connection_is_kept_between_calls_and_replaced_after_close(raw):
    ok = http("HTTP/1.1 200 OK", ["Content-Length: 2"], b"{}")
    raw.script = [ok, ok, (http("HTTP/1.1 200 OK", ["Connection: close", "Content-Length: 2"], b"[]"), True), ok]
    s = session(raw.url, auth=("admin", "pw"))
    got = [s.content("POST", "/x", json={}) for _ in range(4)]
    assert got == [b"{}", b"{}", b"[]", b"{}"]
    assert raw.connections == 2  # one for the first three calls, a new one after the server's close


def test_the_request_bytes_are_what_requests_sends(raw):
    raw.script = [http("HTTP/1.1 200 OK", ["Content-Length: 2"], b"{}")]
    s = session(raw.url, auth=("admin", "s3cret-pw"), headers={"X-Custom": "yes"})
    s.post("/rest/api/3/search/jql", json={"jql": "a = b"})
    s.content("POST", "/rest/api/3/search/jql", json={"jql": "a = b"})
    ref, direct = raw.requests[-2:]

    def parts(req: bytes):
        head, _, body = req.partition(b"\r\n\r\n")
        line, *headers = head.decode().split("\r\n")
        return line, {h.split(":", 1)[0].lower(): h.split(":", 1)[1].strip() for h in headers}, body

    (rl, rh, rb), (dl, dh, db) = parts(ref), parts(direct)
    assert dl == rl == "POST /rest/api/3/search/jql HTTP/1.1" and db == rb
    assert dh == rh  # the same header names and values (Host, auth, agent, codings, type, length, custom)


def test_a_header_with_a_line_break_is_refused_before_anything_is_sent(raw):
    raw.script = [http("HTTP/1.1 200 OK", ["Content-Length: 2"], b"{}")]
    s = session(raw.url, sleep=lambda _s: None)
    s.headers["X-Bad"] = "a\r\nX-Injected: 1"
    with pytest.raises(HttpError, match="InvalidHeader") as ref:
        s.post("/x", json={})
    with pytest.raises(HttpError, match="InvalidHeader") as direct:
        s.content("POST", "/x", json={})
    assert str(direct.value) == str(ref.value)
    assert raw.requests == []


def test_a_redirect_to_another_host_never_carries_the_credentials(raw):
    other = RawServer()
    try:
        other.script = [http("HTTP/1.1 200 OK", ["Content-Length: 2"], b"{}")]
        raw.script = [http("HTTP/1.1 307 Temporary Redirect", [f"Location: {other.url}/elsewhere",
                                                               "Content-Length: 0"], b"")]
        s = session(raw.url, auth=("admin", "s3cret-pw"))
        assert s.content("POST", "/rest/api/3/issue/bulkfetch", json={}) == b"{}"
        assert b"authorization" in raw.requests[0].lower()  # the configured host gets the credentials
        assert other.requests and all(b"authorization" not in r.lower() and b"s3cret" not in r
                                      for r in other.requests)
    finally:
        other.close()


def test_the_lean_exchange_is_used_only_for_the_base_urls_host(raw, monkeypatch):
    other = RawServer()
    seen: list[bytes] = []
    real = http_wire.exchange
    monkeypatch.setattr(http_wire, "exchange", lambda conn, head, *a: seen.append(head) or real(conn, head, *a))
    try:
        ok = http("HTTP/1.1 200 OK", ["Content-Length: 2"], b"{}")
        raw.script, other.script = [ok], [ok]
        s = session(raw.url, auth=("admin", "s3cret-pw"))
        s.content("POST", "/a", json={})
        s.content("POST", f"{other.url}/b", json={})  # an absolute URL elsewhere: requests' own path
        assert len(seen) == 1 and seen[0].startswith(b"POST /a ")
    finally:
        other.close()


@pytest.fixture
def tls(tmp_path):
    """A raw server behind TLS with a self-signed certificate for 127.0.0.1 (made by the openssl CLI)."""
    import shutil
    import ssl
    import subprocess

    if not shutil.which("openssl"):
        pytest.skip("openssl is not installed: no certificate for a TLS server")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out",
                    str(cert), "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    server = RawServer(tls=ctx)
    yield server, str(cert)
    server.close()


def test_tls_verify_settings_are_honoured(tls, monkeypatch):
    """A CA file given as verify= is used; without it the certificate is refused, the same way as requests refuses it."""
    raw, cert = tls
    raw.script = [http("HTTP/1.1 200 OK", ["Content-Length: 2"], b"{}")]
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):  # requests lets these override a session's verify=
        monkeypatch.delenv(name, raising=False)
    s = session(raw.url, auth=("admin", "pw"), verify=cert, sleep=lambda _s: None, retries=0)
    assert s.post("/x", json={}).content == b"{}"
    assert s.content("POST", "/x", json={}) == b"{}" and s.content("POST", "/y", json={}) == b"{}"
    unverified = session(raw.url, auth=("admin", "pw"), sleep=lambda _s: None, retries=0)  # the system CAs
    with pytest.raises(HttpError, match="SSLError") as direct:
        unverified.content("POST", "/x", json={})
    with pytest.raises(HttpError, match="SSLError") as ref:
        unverified.post("/x", json={})
    assert str(direct.value) == str(ref.value)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/nonexistent/ca.pem")  # read per call, as requests reads it
    with pytest.raises(HttpError) as direct:
        s.content("POST", "/x", json={})
    with pytest.raises(HttpError) as ref:
        s.post("/x", json={})
    assert str(direct.value) == str(ref.value)


def test_a_stall_before_or_inside_the_body_is_retried_as_requests_retries_it(raw):
    """requests maps a read timeout inside the body to ConnectionError (retried), before it to ReadTimeout (not, for a POST)."""
    inside = http("HTTP/1.1 200 OK", ["Content-Length: 10"], b"[1")
    before = b""  # nothing at all: the answer's head never comes
    for stall, sent in ((inside, 2), (before, 1)):
        ref, direct = both(raw, [stall], retries=1, timeout=(2.0, 0.3))
        assert direct == ref and direct[0] == ("error", None)  # the same outcome both ways
        assert direct[1] == sent
