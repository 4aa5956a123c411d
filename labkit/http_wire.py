"""One HTTP/1.1 exchange written and read on a pooled urllib3 connection's socket: the lean path of ``Session.content``.

Why labkit writes this rather than calling ``pool.urlopen``: a Jira Cloud search is hundreds of small
POSTs (``search/jql``, ``issue/bulkfetch``), and per call urllib3 + http.client spent more client
CPU than decoding the answer (measured against the 20k-issue sandbox, one thread, per 88 KB
bulkfetch answer: ``Session.content`` through ``pool.urlopen`` 0.95 ms, bare ``http.client`` 0.40 ms,
this exchange about 0.25 ms; http.client alone parses each answer's headers with the ``email``
package). The connection, its pool, TLS, connect timeouts and the deadline watchdog stay urllib3's
and labkit's own (:mod:`labkit.http`); only the bytes of one request and its answer are handled
here: a status line, headers, a body framed by ``Content-Length``, ``chunked`` or the connection's
close, and ``gzip``/``deflate`` content codings (the only ones the lean path asks for). Any answer
it cannot frame is a dropped connection (``requests.ConnectionError``), which the caller's retry
rules already handle; a connection is given back to its pool only after a complete answer that
keeps it open.
"""

from __future__ import annotations

import re
import socket
import ssl
import zlib
from typing import Any

import requests
import urllib3.exceptions

ACCEPT_ENCODING = "gzip, deflate"  # the content codings read_answer decodes
_MAX_HEAD = 65536 + 100 * 1024  # http.client's limits: 100 headers, 64 KiB a line
_CHUNK = 262144
_BAD_NAME = re.compile(r"[^!#$%&'*+\-.^_`|~0-9A-Za-z]")  # an RFC 9110 token, as http.client checks names
_BAD_VALUE = re.compile(r"[\r\n\x00]")


class Answer:
    """A whole HTTP answer: status, reason, headers and the decoded body (bytes, or a bytearray: see :meth:`_Reader.exactly`).

    ``headers`` maps each lower-cased name to its value (repeated headers joined with ", ", as
    urllib3 joins them); ``raw_headers`` keeps the (name, value) pairs as sent.
    """

    __slots__ = ("body", "headers", "raw_headers", "reason", "status")

    def __init__(self, status: int, reason: str, headers: dict[str, str], raw_headers: list[tuple[str, str]],
                 body: bytes | bytearray) -> None:
        """Hold the parts of one answer."""
        self.status, self.reason, self.headers, self.raw_headers, self.body = status, reason, headers, raw_headers, body


def request_head(method: str, host: str, path: str, headers: Any) -> bytes:
    """Return the request line and headers of one request, or raise InvalidHeader for a name or value that is unsafe."""
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}"]
    for name, value in headers.items():
        value = value.decode("latin-1") if isinstance(value, bytes) else str(value)
        if _BAD_NAME.search(name) or not name or _BAD_VALUE.search(value):
            raise requests.exceptions.InvalidHeader(f"invalid header {name!r}: a name or value with a line break")
        lines.append(f"{name}: {value}")
    if _BAD_VALUE.search(path) or " " in path or _BAD_VALUE.search(host):
        raise requests.exceptions.InvalidURL(f"invalid request target {path!r}")
    lines.append("\r\n")
    return "\r\n".join(lines).encode("latin-1")


def host_header(host: str, port: int | None, default_port: int) -> str:
    """The Host header http.client sends for a connection: IPv6 in brackets, the port unless the default."""
    shown = f"[{host}]" if ":" in host and not host.startswith("[") else host
    return shown if port in (None, default_port) else f"{shown}:{port}"


def exchange(conn: Any, head: bytes, body: bytes | None, limits: tuple[float, float]) -> tuple[Answer, bool]:
    """Send one request on ``conn`` (connecting it if needed) and read its whole answer; return it and keep-alive.

    ``limits`` are the (connect, read) seconds of this attempt. Errors come as the requests
    exceptions ``HTTPAdapter.send`` raises for the same failure (the caller's retry loop tells them
    apart); on any error the connection is closed.
    """
    try:
        if conn.sock is None:
            conn.timeout = limits[0]
            conn.connect()
        sock = conn.sock
        sock.settimeout(limits[1])
        sock.sendall(head + body if body else head)
        return read_answer(sock)
    except BaseException as exc:
        conn.close()
        raise _mapped(exc) from None


def _mapped(exc: BaseException) -> BaseException:
    """The requests exception for a failure of one exchange (as HTTPAdapter.send maps urllib3's)."""
    u3 = urllib3.exceptions
    if isinstance(exc, requests.RequestException):
        return exc
    if isinstance(exc, u3.ConnectTimeoutError) and not isinstance(exc, u3.NewConnectionError):
        return requests.ConnectTimeout(exc)
    if isinstance(exc, (socket.timeout, u3.ReadTimeoutError)):
        return requests.ReadTimeout(exc)
    if isinstance(exc, (u3.SSLError, ssl.SSLError, ssl.CertificateError)):  # a refused certificate, as urllib3 maps it
        return requests.exceptions.SSLError(exc)
    if isinstance(exc, zlib.error):
        return requests.exceptions.ContentDecodingError(exc)
    if isinstance(exc, (OSError, u3.HTTPError, ValueError)):
        return requests.ConnectionError(exc)
    return exc


class _Reader:
    """Buffered reads off a socket (what is read past one answer is an error: no pipelining here)."""

    __slots__ = ("buf", "sock")

    def __init__(self, sock: Any) -> None:
        """Read from ``sock``."""
        self.sock, self.buf = sock, b""

    def more(self, at_least: int = 1) -> None:
        """Read until the buffer holds ``at_least`` more bytes; the peer closing first is a dropped connection."""
        parts, need = [self.buf], at_least
        while need > 0:
            data = self.sock.recv(max(_CHUNK, need))
            if not data:
                raise ConnectionResetError("the server closed the connection before the whole answer came")
            parts.append(data)
            need -= len(data)
        self.buf = b"".join(parts)

    def line(self, limit: int = 65537) -> bytes:
        """One CRLF-ended line (without it)."""
        while True:
            end = self.buf.find(b"\r\n")
            if end >= 0:
                out, self.buf = self.buf[:end], self.buf[end + 2:]
                return out
            if len(self.buf) > limit:
                raise ValueError("an answer line is too long")
            self.more()

    def exactly(self, n: int) -> bytes | bytearray:
        """The next ``n`` bytes; a long body is read into one bytearray of its size and handed over as it is.

        Not copied into ``bytes``: for a Server search (20 pages of 890 KB, 4 threads) the copy was a second
        fresh 890 KB per page, whose pages the kernel faults in one by one (about 3 us each here): the
        answers' own client CPU went from 33-40 ms to 20-22 ms and the search's page faults from 18k to 13k.
        """
        have = len(self.buf)
        if have >= n:
            out, self.buf = self.buf[:n], self.buf[n:]
            return out
        if n - have < _CHUNK:
            self.more(n - have)
            out, self.buf = self.buf[:n], self.buf[n:]
            return out
        whole = bytearray(n)
        whole[:have] = self.buf
        view, got = memoryview(whole), have
        while got < n:
            k = self.sock.recv_into(view[got:])
            if not k:
                raise ConnectionResetError("the server closed the connection before the whole answer came")
            got += k
        view.release()  # the caller may keep the buffer: no view of it is left
        self.buf = b""
        return whole

    def rest(self) -> bytes:
        """Everything until the peer closes the connection."""
        parts = [self.buf]
        while data := self.sock.recv(_CHUNK):
            parts.append(data)
        self.buf = b""
        return b"".join(parts)


def read_answer(sock: Any) -> tuple[Answer, bool]:
    """Read one answer to a request (not HEAD) from ``sock``; return it and whether the connection stays open."""
    reader = _Reader(sock)
    while True:
        version, status, reason, raw = _read_head(reader)
        if not 100 <= status < 200 or status == 101:
            break
    if status == 101:
        raise ValueError("the server switched protocols")
    headers: dict[str, str] = {}
    for name, value in raw:
        low = name.lower()
        headers[low] = f"{headers[low]}, {value}" if low in headers else value
    try:
        return _read_body(reader, version, status, reason, raw, headers)
    except TimeoutError as exc:  # once the head came, as requests maps a read timeout in the body
        raise requests.ConnectionError(urllib3.exceptions.ReadTimeoutError(None, None, str(exc))) from None


def _read_body(reader: _Reader, version: str, status: int, reason: str, raw: list[tuple[str, str]],
               headers: dict[str, str]) -> tuple[Answer, bool]:
    """Read the body an answer's head announces; return the answer and whether the connection stays open."""
    connection = {t.strip().lower() for t in headers.get("connection", "").split(",")}
    keep = "close" not in connection and (version == "HTTP/1.1" or "keep-alive" in connection)
    coding = [t.strip().lower() for t in headers.get("transfer-encoding", "").split(",") if t.strip()]
    if status in (204, 304):
        body = b""
    elif coding:
        if coding[-1] != "chunked":
            body, keep = reader.rest(), False
        else:
            body = _chunked(reader)
    elif "content-length" in headers:
        lengths = {v.strip() for v in headers["content-length"].split(",")}
        if len(lengths) != 1 or not next(iter(lengths)).isdigit():
            raise ValueError(f"an invalid Content-Length {headers['content-length']!r}")
        body = reader.exactly(int(lengths.pop()))
    else:
        body, keep = reader.rest(), False
    if reader.buf:  # bytes past the answer: the connection cannot be trusted for another request
        keep = False
    encoding = headers.get("content-encoding")
    if encoding and body:
        body = _decoded(body, encoding)
    return Answer(status, reason, headers, raw, body), keep


def _read_head(reader: _Reader) -> tuple[str, int, str, list[tuple[str, str]]]:
    """Read a status line and its headers (folded lines joined), as http.client would accept them."""
    while (end := reader.buf.find(b"\r\n\r\n")) < 0:
        if len(reader.buf) > _MAX_HEAD:
            raise ValueError("an answer's headers are too long")
        reader.more()
    block = reader.buf[:end].decode("latin-1")
    reader.buf = reader.buf[end + 4:]
    line, *items = block.split("\r\n")
    version, _, rest = line.partition(" ")
    code, _, reason = rest.partition(" ")
    if not version.startswith("HTTP/1.") or len(code) != 3 or not code.isdigit():
        raise ValueError(f"not an HTTP/1.x status line: {line[:80]!r}")
    if len(items) > 100:
        raise ValueError("an answer has more than 100 headers")
    raw: list[tuple[str, str]] = []
    for item in items:
        if item[:1] in (" ", "\t") and raw:  # an obsolete folded line continues the previous value
            name, value = raw[-1]
            raw[-1] = (name, f"{value} {item.strip()}")
            continue
        name, sep, value = item.partition(":")
        if not sep:
            raise ValueError(f"not a header line: {item[:80]!r}")
        raw.append((name.strip(), value.strip()))
    return version, int(code), reason.strip(), raw


def _chunked(reader: _Reader) -> bytes:
    """Read a chunked body and its trailers."""
    parts = []
    while True:
        size_line = reader.line().split(b";", 1)[0].strip()
        size = int(size_line, 16)  # a ValueError here is a malformed answer
        if size < 0:
            raise ValueError("a negative chunk size")
        if size == 0:
            while reader.line():  # trailers, then the empty line
                pass
            return b"".join(parts)
        parts.append(reader.exactly(size))
        if reader.exactly(2) != b"\r\n":
            raise ValueError("a chunk not followed by CRLF")


def _decoded(body: bytes, encoding: str) -> bytes:
    """Undo the content codings (last applied first) that the lean path asked for; others are left as sent."""
    codings = [c.strip().lower() for c in encoding.split(",") if c.strip()]
    if any(c not in ("gzip", "x-gzip", "deflate", "identity") for c in codings):
        return body  # as urllib3 does with a coding it does not know
    for coding in reversed(codings):
        if coding in ("gzip", "x-gzip"):
            out: list[bytes] = []
            while body:  # members one after the other
                d = zlib.decompressobj(16 + zlib.MAX_WBITS)
                try:
                    out.append(d.decompress(body) + d.flush())
                except zlib.error:
                    if out:  # bytes after a whole member: ignored, as urllib3 and gzip tools ignore them
                        break
                    raise
                if not d.eof:  # a body cut short is never taken for the whole answer
                    raise zlib.error("a gzip answer ends early")
                body = d.unused_data
            body = b"".join(out)
        elif coding == "deflate":
            try:
                body = zlib.decompress(body)
            except zlib.error:  # some servers send a raw deflate stream
                body = zlib.decompress(body, -zlib.MAX_WBITS)
    return body
