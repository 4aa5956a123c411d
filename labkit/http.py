"""The one requests Session factory: timeouts, deadlines, retries with backoff, Retry-After, pagination.

Every client in labkit (Jira REST, GitHub/forge, anything over HTTP) gets its session here::

    from labkit.http import session
    s = session("http://127.0.0.1:8080", auth=("admin", secret.reveal()), timeout=30)
    r = s.get("/rest/api/2/serverInfo")      # retried on 429/500/502/503/504 and dropped connections
    r.json()

A 401/403/404/410 (and any other final error) becomes :class:`labkit.HttpError` naming the URL
and what to check; the caller never sees a raw traceback for a user mistake.

Every call has a total deadline (``timeout=`` seconds, else ``labkit --timeout``/``$LABKIT_TIMEOUT``,
else 120 s) covering connect, every retry, backoff and the body. requests' own timeouts bound
each socket read, not the call, so a server that trickles a byte now and then would hold a call
forever: a watchdog shuts the call's socket when the deadline passes (see :class:`_Watch`).
A read timeout is retried only for GET-like methods, or when the caller passes
``retry_read_timeout=True``: the server may still be working on a POST search it never answered.
"""

from __future__ import annotations

import email.utils
import heapq
import json as _json
import logging
import math
import os
import random
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

import requests
import urllib3.connection
import urllib3.connectionpool
from requests.adapters import HTTPAdapter
from requests.sessions import merge_setting
from requests.structures import CaseInsensitiveDict

from labkit.errors import HttpError

log = logging.getLogger("labkit.http")

DEFAULT_TIMEOUT = (5.0, 60.0)  # (connect, read) seconds per attempt: always set
DEFAULT_DEADLINE = 120.0  # seconds for a whole call, retries included
MAX_DEADLINE = 7 * 24 * 3600.0  # the longest deadline accepted
TIMEOUT_ENV = "LABKIT_TIMEOUT"  # the deadline ``labkit --timeout`` sets for this process and its children
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
_JSON_TYPE = "application/json"
# What urllib's proxy lookup for an http(s) URL reads (lower case wins; REQUEST_METHOD: CGI ignores HTTP_PROXY).
_PROXY_ENV = ("http_proxy", "https_proxy", "all_proxy", "no_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY",
              "NO_PROXY", "REQUEST_METHOD")
# ... and what else decides how Session.content sends a call straight (CA bundle, .netrc).
_ROUTE_ENV = (*_PROXY_ENV, "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "NETRC", "HOME")

_HINTS = {
    401: "authentication failed: check the user name and the token or password (environment variable or keyring)",
    403: "permission denied: the account lacks the permission for this call (e.g. Browse Projects, Schedule Issues)",
    404: "not found: check the base URL, the API path and the key or id",
    410: "this API was removed by the server: use its replacement",
}


MASK = "******"
# Query parameters whose value is a credential (OAuth, presigned AWS URLs, API keys).
_SECRET_QUERY = re.compile(r"(token|secret|password|passwd|pwd|signature|credential|api[_-]?key|"
                           r"access[_-]?key|auth|session|sig)", re.I)
_URL_IN_TEXT = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s'\"<>]+")
_USERINFO = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*://)[^/?#]*@")


def mask_url(url: str) -> str:
    """Return a URL fit for messages, logs and files: credentials in it are masked.

    The user name and password written into it become ``******@``; query parameters that carry
    a credential (``access_token``, ``X-Amz-Signature``, ``api_key``, ...) keep their name with
    the value masked. Anything that is not a URL comes back unchanged.
    """
    try:
        parts = urlsplit(str(url))
    except ValueError:  # not parseable (e.g. "http://u:pw@[::1"): still mask what looks like user info
        return _USERINFO.sub(r"\1" + MASK + "@", str(url))
    netloc, query = parts.netloc, parts.query
    if "@" in netloc:
        netloc = MASK + "@" + netloc.rsplit("@", 1)[1]
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(_SECRET_QUERY.search(k) for k, _ in pairs):
            query = urlencode([(k, MASK if _SECRET_QUERY.search(k) else v) for k, v in pairs], safe="*")
    if (netloc, query) == (parts.netloc, parts.query):
        return str(url)
    return urlunsplit(parts._replace(netloc=netloc, query=query))


def split_credentials(url: str) -> tuple[str, tuple[str, str] | None]:
    """Return ``url`` without the user name and password written into it, and that pair (None if none).

    A client keeps the bare URL (for messages, files and requests) and sends the pair as basic auth,
    so the secret never travels inside a URL that could be logged or saved.
    """
    from urllib.parse import unquote

    try:
        parts = urlsplit(str(url))
    except ValueError:
        return str(url), None
    if "@" not in parts.netloc:
        return str(url), None
    userinfo, host = parts.netloc.rsplit("@", 1)
    user, _, password = userinfo.partition(":")
    return urlunsplit(parts._replace(netloc=host)), (unquote(user), unquote(password))


def mask_urls(text: str) -> str:
    """Return ``text`` with every URL in it passed through :func:`mask_url` (for messages and logs)."""
    return _URL_IN_TEXT.sub(lambda m: mask_url(m.group(0)), str(text))


shown_url = mask_url  # the older name, kept for callers


def default_deadline() -> float:
    """Return the deadline for one call: ``$LABKIT_TIMEOUT`` (set by ``labkit --timeout``), else 120 s."""
    value = os.environ.get(TIMEOUT_ENV)
    if value:
        try:
            return parse_deadline(value)
        except HttpError:
            log.warning("ignoring %s=%r: not a number of seconds above 0", TIMEOUT_ENV, value)
    return DEFAULT_DEADLINE


def parse_deadline(value: Any) -> float:
    """Return ``value`` as a deadline in seconds, or HttpError if it is not a number above 0, at most a week."""
    try:
        seconds = float(value) if len(str(value)) <= 40 else math.nan
    except (TypeError, ValueError, OverflowError):
        seconds = math.nan
    shown = str(value)[:40]
    if not (seconds > 0 and math.isfinite(seconds)):
        raise HttpError(f"a timeout of {shown!r} lets no call through",
                        hint="give the seconds a whole call may take, a number above 0, e.g. --timeout 30")
    if seconds > MAX_DEADLINE:  # the watchdog's timer cannot wait longer than the platform's clock allows
        raise HttpError(f"a timeout of {shown!r} seconds is longer than a week",
                        hint=f"give at most {MAX_DEADLINE:g} seconds, e.g. --timeout 3600")
    return seconds


def set_default_deadline(seconds: float | None) -> None:
    """Set the deadline of every later call in this process and its child processes (None: back to 120 s)."""
    if seconds is None:
        os.environ.pop(TIMEOUT_ENV, None)
    else:
        os.environ[TIMEOUT_ENV] = repr(parse_deadline(seconds))


class _Watch:
    """The connections one call uses, shut by the process's one watchdog thread when the call's deadline passes."""

    def __init__(self, seconds: float) -> None:
        """Arm the watchdog for this call: it fires after ``seconds`` unless cancelled first."""
        self.fired = False
        self.cancelled = False
        self._conns: list[Any] = []
        self._lock = threading.Lock()
        _WATCHDOG.arm(self, time.monotonic() + seconds)

    def add(self, conn: Any) -> None:
        """Watch one connection; shut it at once if the deadline already passed."""
        with self._lock:
            self._conns.append(conn)
            fired = self.fired
        if fired:
            _shut(conn)

    def fire(self) -> None:
        """Mark the deadline passed and shut every watched socket, which wakes any blocked read."""
        with self._lock:
            if self.cancelled:
                return
            self.fired = True
            conns = list(self._conns)
        for conn in conns:
            _shut(conn)

    def cancel(self) -> None:
        """Disarm the watchdog once the call is over (a deadline passing later does nothing)."""
        with self._lock:
            self.cancelled = True
            self._conns.clear()


class _Watchdog:
    """One daemon thread for the whole process that fires the deadlines of running calls, earliest first.

    A ``threading.Timer`` per call started a thread for every HTTP call (a Cloud search makes
    hundreds); here arming a call is a heap push, and the thread starts with the first call.
    """

    def __init__(self) -> None:
        """Create the (not yet started) watchdog."""
        self._heap: list[tuple[float, int, _Watch]] = []
        self._wake = threading.Condition(threading.Lock())
        self._thread: threading.Thread | None = None
        self._count = 0
        self._pid = os.getpid()
        self._compact_at = 1024  # ended calls wait in the heap until they surface: sweep them out past this size

    def arm(self, watch: _Watch, when: float) -> None:
        """Fire ``watch`` at monotonic time ``when`` unless it is cancelled first."""
        with self._wake:
            if self._thread is None or self._pid != os.getpid():  # first call, or a forked child: own thread
                self._heap.clear()
                self._pid = os.getpid()
                self._thread = threading.Thread(target=self._run, name="labkit-http-watchdog", daemon=True)
                self._thread.start()
            if len(self._heap) >= self._compact_at:
                self._heap = [e for e in self._heap if not e[2].cancelled]
                heapq.heapify(self._heap)
                self._compact_at = max(1024, 2 * len(self._heap))
            self._count += 1
            heapq.heappush(self._heap, (when, self._count, watch))
            if self._heap[0][2] is watch:
                self._wake.notify()

    def _run(self) -> None:
        """Wait for the earliest deadline; fire it unless its call has ended; drop ended calls as they surface."""
        while True:
            with self._wake:
                while self._heap and self._heap[0][2].cancelled:
                    heapq.heappop(self._heap)
                if not self._heap:
                    self._wake.wait()
                    continue
                when = self._heap[0][0]
                now = time.monotonic()
                if when > now:
                    self._wake.wait(when - now)
                    continue
                watch = heapq.heappop(self._heap)[2]
            watch.fire()


_WATCHDOG = _Watchdog()


def _shut(conn: Any) -> None:
    """Shut a connection's socket (both ways), ignoring one that is already gone."""
    sock = getattr(conn, "sock", None)
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


_active = threading.local()  # the _Watch of the call running on this thread


class _WatchedMixin:
    """Registers the connection with the running call's watchdog whenever it connects or sends."""

    def connect(self) -> None:
        """Connect, watched by the current call's deadline."""
        _watch_current(self)
        super().connect()  # type: ignore[misc]
        _watch_current(self)

    def request(self, *args: Any, **kwargs: Any) -> Any:
        """Send a request, watched by the current call's deadline."""
        _watch_current(self)
        return super().request(*args, **kwargs)  # type: ignore[misc]


def _watch_current(conn: Any) -> None:
    """Add ``conn`` to the watchdog of the call running on this thread, if any."""
    watch = getattr(_active, "watch", None)
    if watch is not None:
        watch.add(conn)


class _WatchedHTTPConnection(_WatchedMixin, urllib3.connection.HTTPConnection):
    """An urllib3 HTTP connection the deadline watchdog can shut."""


class _WatchedHTTPSConnection(_WatchedMixin, urllib3.connection.HTTPSConnection):
    """An urllib3 HTTPS connection the deadline watchdog can shut."""


class _WatchedHTTPPool(urllib3.connectionpool.HTTPConnectionPool):
    """A pool of watched HTTP connections."""

    ConnectionCls = _WatchedHTTPConnection


class _WatchedHTTPSPool(urllib3.connectionpool.HTTPSConnectionPool):
    """A pool of watched HTTPS connections."""

    ConnectionCls = _WatchedHTTPSConnection


def _watched(adapter: Any) -> Any:
    """Make an HTTPAdapter's pools hand out watched connections (adapters mounted by callers too)."""
    manager = getattr(adapter, "poolmanager", None)
    if isinstance(adapter, HTTPAdapter) and manager is not None:
        manager.pool_classes_by_scheme = {"http": _WatchedHTTPPool, "https": _WatchedHTTPSPool}
    return adapter


def retry_after_seconds(value: str | None, *, now: float | None = None) -> float | None:
    """Turn a Retry-After header (seconds or an HTTP date) into seconds to wait."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError, IndexError):
        return None
    return max(0.0, when - (now if now is not None else time.time()))


def error_detail(response: requests.Response) -> str:
    """Return the server's own error text from a response body (Jira, GitHub, AWS styles)."""
    try:
        body = response.json()
    except ValueError:
        text = (response.text or "").strip()
        return text[:300]
    if isinstance(body, dict):
        parts: list[str] = []
        for key in ("errorMessages", "message", "error", "errors"):
            v = body.get(key)
            if isinstance(v, list):
                parts.extend(str(x) for x in v)
            elif isinstance(v, dict):
                parts.extend(f"{k}: {x}" for k, x in v.items())
            elif v:
                parts.append(str(v))
        return "; ".join(parts)[:300]
    return str(body)[:300]


def raise_for_status(response: requests.Response) -> requests.Response:
    """Raise :class:`HttpError` with the URL, the server's message and a hint for any 4xx/5xx."""
    status = response.status_code
    if status < 400:
        return response
    req = response.request
    method = req.method if req is not None else "GET"
    detail = error_detail(response)
    msg = f"{method} {mask_url(response.url)} answered {status} {response.reason or ''}".rstrip()
    if detail:
        msg += f" ({detail})"
    hint = _HINTS.get(status)
    if status == 429:
        hint = "rate limited: wait and try again, or lower the request rate"
    elif status >= 500:
        hint = "the server failed: try again later or check its logs"
    elif hint is None:
        hint = "check the request's parameters against the server's API"
    raise HttpError(msg, hint=hint, status=status, url=mask_url(response.url))


class Session(requests.Session):
    """A requests Session with a base URL, per-attempt timeouts, a deadline per call and bounded retries."""

    def __init__(self, base_url: str | None = None, *, timeout: float | tuple[float, float] = DEFAULT_TIMEOUT,
                 deadline: float | None = None, retries: int = 4, backoff: float = 0.25, max_wait: float = 30.0,
                 retry_statuses: frozenset[int] = RETRY_STATUSES,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        """Make a session with timeouts, retry policy and an optional base URL.

        ``timeout`` as one number is the deadline of each whole call (as ``labkit --timeout``);
        as ``(connect, read)`` it bounds each attempt, and ``deadline`` (default
        :func:`default_deadline`) bounds the call.
        """
        super().__init__()
        for adapter in self.adapters.values():
            _watched(adapter)
        self.base_url = base_url.rstrip("/") + "/" if base_url else None
        if isinstance(timeout, (int, float)):
            deadline = parse_deadline(timeout) if deadline is None else deadline
            timeout = DEFAULT_TIMEOUT
        self.timeout = timeout
        self.deadline = parse_deadline(deadline) if deadline is not None else None
        self.retries = retries
        self.backoff = backoff
        self.max_wait = max_wait
        self.retry_statuses = retry_statuses
        self.sleep = sleep
        self.attempts = 0  # total HTTP attempts made, retries included (for tests and benchmarks)
        self._env_proxies: dict[tuple[Any, ...], dict[str, str]] = {}
        self._routes: dict[tuple[Any, ...], _Route | None] = {}  # see _direct_route
        self._joined: dict[tuple[str | None, str], str] = {}  # (base URL, path) -> URL, for content()
        self.headers["User-Agent"] = "labkit"

    def merge_environment_settings(self, url: str, proxies: Any, stream: Any, verify: Any,
                                   cert: Any) -> dict[str, Any]:  # type: ignore[override]
        """requests' merge of the environment's proxies and CA bundle, the proxies looked up once per host.

        requests reads every ``*_proxy`` variable twice per call (a few hundred microseconds, more
        than a small page's decoding); the answer depends only on the URL's host and the proxy
        variables, so it is kept per host while those variables stay as they are.
        """
        if not self.trust_env:
            return super().merge_environment_settings(url, proxies, stream, verify, cert)
        proxies = proxies if proxies is not None else {}
        no_proxy = proxies.get("no_proxy")
        parts = urlsplit(url)
        key = (parts.scheme, parts.netloc, no_proxy, tuple(map(os.environ.get, _PROXY_ENV)))
        found = self._env_proxies.get(key)
        if found is None:
            if len(self._env_proxies) > 64:
                self._env_proxies.clear()
            found = self._env_proxies[key] = requests.utils.get_environ_proxies(url, no_proxy=no_proxy)
        for k, v in found.items():
            proxies.setdefault(k, v)
        if verify is True or verify is None:
            verify = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or verify
        return {"proxies": merge_setting(proxies, self.proxies), "stream": merge_setting(stream, self.stream),
                "verify": merge_setting(verify, self.verify), "cert": merge_setting(cert, self.cert)}

    def mount(self, prefix: str, adapter: Any) -> None:
        """Mount an adapter whose connections the deadline watchdog can shut (callers' adapters too)."""
        super().mount(prefix, _watched(adapter))

    def url(self, path: str) -> str:
        """Join a path onto the base URL (absolute URLs pass through)."""
        if self.base_url and not path.startswith(("http://", "https://")):
            return urljoin(self.base_url, path.lstrip("/"))
        return path

    def _wait(self, attempt: int, response: requests.Response | None) -> float:
        """Return how long to wait before retry ``attempt``: Retry-After when given, else jittered backoff."""
        ra = retry_after_seconds(response.headers.get("Retry-After")) if response is not None else None
        if ra is None:
            ra = self.backoff * (2 ** attempt) * (0.5 + random.random() / 2)
        return min(ra, self.max_wait)

    def request(self, method: str, url: str, *args: Any, idempotent: bool | None = None,
                check: bool = True, retry_read_timeout: bool | None = None,
                deadline: float | None = None, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        """Send within a deadline; retry transient failures; raise :class:`HttpError` on final errors.

        ``idempotent=True`` lets a POST be retried after a refused or dropped connection or a 5xx
        (searches); a read timeout is retried only for GET-like methods or with
        ``retry_read_timeout=True``, since the server may still be running the request.
        ``timeout=`` a number is this call's deadline, ``(connect, read)`` the per-attempt limits.
        ``check=False`` returns error responses instead of raising.
        """
        method = method.upper()
        full = self.url(url)

        def send(limits: tuple[float, float]) -> requests.Response:
            """One attempt through requests."""
            return super(Session, self).request(method, full, *args, timeout=limits, **kwargs)

        return self._call(method, full, send, kwargs.pop("timeout", None), idempotent=idempotent, check=check,
                          retry_read_timeout=retry_read_timeout, deadline=deadline)

    def content(self, method: str, url: str, *, json: Any = None, idempotent: bool | None = None,
                retry_read_timeout: bool | None = None, deadline: float | None = None,
                timeout: Any = None) -> bytes | bytearray:
        """Send a call (a JSON body) and return its answer's body: :meth:`request`'s retries, deadline and errors.

        The body is bytes, or for a long answer the bytearray it was read into (see ``labkit.http_wire``):
        both decode with ``json.loads`` and msgspec as they are.

        When the call needs nothing of requests' session layer (no proxy, hooks, params, netrc or
        custom auth; the base URL's own host), it goes straight to the mounted adapter's urllib3 pool
        and the body is read in one piece: about half the client CPU of a call through
        ``Session.request`` (a Cloud search makes hundreds). Otherwise it goes through :meth:`request`.
        """
        method = method.upper()
        full = self._joined.get((self.base_url, url))
        if full is None:  # a client sends to a few paths, again and again
            if len(self._joined) > 64:
                self._joined.clear()
            full = self._joined[(self.base_url, url)] = self.url(url)
        route = self._direct_route(full) if method != "HEAD" else None  # an answer to HEAD has no body to read
        if route is None:
            return self.request(method, url, json=json, idempotent=idempotent, retry_read_timeout=retry_read_timeout,
                                deadline=deadline, timeout=timeout).content
        body = None if json is None else _json.dumps(json, allow_nan=False).encode("utf-8")

        def send(limits: tuple[float, float]) -> requests.Response:
            """One attempt straight through the adapter (requests' own path after a redirect)."""
            response = self._send_direct(route, method, full, body, limits)
            if response.is_redirect:  # requests follows redirects: let it
                response.close()
                return super(Session, self).request(method, full, data=body, headers={"Content-Type": _JSON_TYPE}
                                                    if body is not None else None, timeout=limits)
            return response

        return self._call(method, full, send, timeout, idempotent=idempotent, check=True,
                          retry_read_timeout=retry_read_timeout, deadline=deadline).content

    def _direct_route(self, full: str) -> _Route | None:
        """Return how :meth:`content` may send a call straight (adapter, verify, cert, auth, pool), or None.

        Straight only when requests' session layer would add nothing: an http(s) URL on the base URL's
        own scheme and host (credentials go nowhere else), no proxy for it, no hooks or session
        params, basic auth as a (user, password) pair or none (and then no ``.netrc`` entry).
        The answer is kept per host while everything it was made of stays the same (the session's
        auth, verify, cert, proxies and adapter; the proxy, CA bundle and netrc variables).
        """
        base = self.base_url
        if not base or not full.startswith(("http://", "https://")):
            return None
        origin = base[:base.index("/", base.index("//") + 2)]
        if not full.startswith(origin + "/") or any(self.hooks.values()) or self.params:
            return None
        auth = self.auth
        if auth is not None and not (isinstance(auth, tuple) and len(auth) == 2):
            return None
        adapter = self.get_adapter(full)
        if not isinstance(adapter, HTTPAdapter):
            return None
        try:
            key = (origin, adapter, auth, self.trust_env, self.verify, self.cert, tuple(self.proxies.items()),
                   tuple(map(os.environ.get, _ROUTE_ENV)))
            route = self._routes.get(key, False)
        except TypeError:  # an unhashable setting: worked out each time
            key, route = None, False
        if route is not False:
            return route
        route = self._new_route(full, adapter, auth)
        if key is not None:
            if len(self._routes) > 16:
                self._routes.clear()
            self._routes[key] = route
        return route

    def _new_route(self, full: str, adapter: HTTPAdapter, auth: Any) -> _Route | None:
        """Work out the direct route of a URL on the base URL's host (see :meth:`_direct_route`)."""
        settings = self.merge_environment_settings(full, {}, None, None, None)
        if requests.utils.select_proxy(full, settings["proxies"]):
            return None
        if auth is None and self.trust_env and self._netrc_auth(full) is not None:
            return None
        return _Route(adapter, settings["verify"], settings["cert"], auth)

    def _netrc_auth(self, full: str) -> Any:
        """requests' ``.netrc`` look-up for a URL, kept per host while ``$NETRC`` stays the same."""
        parts = urlsplit(full)
        key = ("netrc", parts.scheme, parts.netloc, os.environ.get("NETRC"))
        if key not in self._env_proxies:
            self._env_proxies[key] = requests.utils.get_netrc_auth(full)
        return self._env_proxies[key]

    def _send_direct(self, route: _Route, method: str, full: str, body: bytes | None,
                     limits: tuple[float, float]) -> requests.Response:
        """Send one attempt on a connection of the adapter's pool and read the whole answer.

        The headers, auth and cookies are those requests would send; the bytes are written and read
        by :mod:`labkit.http_wire`.
        """
        from labkit import http_wire

        adapter, auth = route.adapter, route.auth
        headers = CaseInsensitiveDict({k: v for k, v in self.headers.items() if v is not None})
        if headers.get("Accept-Encoding") == requests.utils.DEFAULT_ACCEPT_ENCODING:
            headers["Accept-Encoding"] = http_wire.ACCEPT_ENCODING  # the codings the lean path decodes
        if body is not None and "Content-Type" not in headers:
            headers["Content-Type"] = _JSON_TYPE
        if auth is not None:
            headers["Authorization"] = route.authorization
        prepared = requests.PreparedRequest()
        prepared.method, prepared.url, prepared.headers, prepared.body = method, full, headers, body
        prepared._cookies = self.cookies  # what requests' cookie handling reads
        if len(self.cookies):
            cookie = requests.cookies.get_cookie_header(self.cookies, prepared)
            if cookie is not None:
                headers["Cookie"] = cookie
        if body is not None or method not in ("GET", "HEAD"):  # as requests' prepare_content_length
            headers["Content-Length"] = str(len(body)) if body is not None else "0"
        pool = route.pool
        if pool is None or pool.pool is None:  # first use, or the pool manager closed it since
            pool = route.pool = _pool(adapter, prepared, route.verify, route.cert)
        conn = _checkout(pool, prepared)
        try:
            _watch_current(conn)
            head = http_wire.request_head(method, http_wire.host_header(pool.host, pool.port, conn.default_port),
                                          prepared.path_url, headers)
            answer, keep = http_wire.exchange(conn, head, body, limits)
            if not keep:
                conn.close()
        finally:
            pool._put_conn(conn)
        if "set-cookie" in answer.headers:
            requests.cookies.extract_cookies_to_jar(self.cookies, prepared, _CookieSource(answer.raw_headers))
        if 200 <= answer.status < 300:  # the usual answer: only its status, headers and body are read
            return _Answer(answer.status, answer.headers, answer.body)  # type: ignore[return-value]
        response = requests.Response()  # an error or a redirect: requests' own Response, as build_response makes it
        response.status_code, response.reason, response.url = answer.status, answer.reason, full
        response.headers = CaseInsensitiveDict(answer.headers)
        response.encoding = requests.utils.get_encoding_from_headers(response.headers)
        response.request, response.connection = prepared, adapter
        response._content, response._content_consumed = bytes(answer.body), True  # requests' content is bytes
        if "set-cookie" in answer.headers:
            requests.cookies.extract_cookies_to_jar(response.cookies, prepared, _CookieSource(answer.raw_headers))
        return response

    def _call(self, method: str, full: str, send: Callable[[tuple[float, float]], requests.Response],
              timeout: Any, *, idempotent: bool | None, check: bool, retry_read_timeout: bool | None,
              deadline: float | None) -> requests.Response:
        """Run ``send`` (one attempt, given its (connect, read) limits) within the deadline, with the retries."""
        if isinstance(timeout, (int, float)):
            deadline, timeout = (deadline if deadline is not None else timeout), None
        per_try = timeout or self.timeout
        limit = parse_deadline(deadline) if deadline is not None else (self.deadline or default_deadline())
        end = time.monotonic() + limit
        can_retry = idempotent if idempotent is not None else method in IDEMPOTENT
        if retry_read_timeout is None:
            retry_read_timeout = method in IDEMPOTENT
        attempt = 0
        while True:
            left = end - time.monotonic()
            if left <= 0:
                raise self._too_late(method, full, limit)
            self.attempts += 1
            watch = _Watch(left)
            _active.watch = watch
            try:
                response = send((min(per_try[0], left), min(per_try[1], left)))
                if watch.fired:  # a shut socket can look like a short, complete answer
                    response.close()
                    raise self._too_late(method, full, limit)
            except (requests.exceptions.MissingSchema, requests.exceptions.InvalidSchema,
                    requests.exceptions.InvalidURL) as exc:
                raise HttpError(f"{mask_url(full)!r} is not a usable URL ({type(exc).__name__})",
                                hint="write the whole base URL, e.g. https://jira.example.com or http://127.0.0.1:8080",
                                url=mask_url(full)) from None
            except (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError,
                    requests.exceptions.ContentDecodingError, urllib3.exceptions.HTTPError, OSError) as exc:
                if watch.fired or time.monotonic() >= end:
                    raise self._too_late(method, full, limit) from None
                read_timeout = isinstance(exc, requests.exceptions.ReadTimeout)
                if can_retry and attempt < self.retries and (retry_read_timeout or not read_timeout):
                    wait = min(self._wait(attempt, None), max(0.0, end - time.monotonic()))
                    log.info("retrying %s %s after %s (%.2fs)", method, mask_url(full), type(exc).__name__, wait)
                    self.sleep(wait)
                    attempt += 1
                    continue
                kind = "timed out" if isinstance(exc, requests.Timeout) else "could not connect"
                if read_timeout and can_retry and not retry_read_timeout:
                    kind += " (not retried: the server may still be running it)"
                raise HttpError(f"{method} {mask_url(full)} {kind} ({type(exc).__name__})",
                                hint="check that the server runs and the URL and port are right "
                                     "(for the sandbox: labkit sandbox status)", url=mask_url(full)) from None
            finally:
                watch.cancel()
                _active.watch = None
            status = response.status_code
            # 429 is always safe to retry: the server did not act on the request.
            if status in self.retry_statuses and attempt < self.retries and (can_retry or status == 429):
                wait = self._wait(attempt, response)
                if time.monotonic() + wait < end:
                    log.info("retrying %s %s after %s (%.2fs)", method, mask_url(full), status, wait)
                    response.close()
                    self.sleep(wait)
                    attempt += 1
                    continue
            return raise_for_status(response) if check else response

    @staticmethod
    def _too_late(method: str, url: str, limit: float) -> HttpError:
        """Return the error for a call that ran past its deadline."""
        return HttpError(f"{method} {mask_url(url)} got no complete answer within {limit:g} s",
                         hint="the server accepts but does not answer: check it, or allow more time "
                              "with labkit --timeout SECONDS (timeout= in Python)", url=mask_url(url))


class _Answer:
    """A 2xx answer of :meth:`Session.content`: what the retry loop and the caller read of it (no requests.Response)."""

    __slots__ = ("content", "headers", "status_code")
    is_redirect = False

    def __init__(self, status: int, headers: Any, content: bytes | bytearray) -> None:
        """Hold the status, the headers and the whole body."""
        self.status_code, self.headers, self.content = status, headers, content

    def close(self) -> None:
        """Nothing to release: the body was read whole and the connection went back to its pool."""


class _Route:
    """How :meth:`Session.content` sends calls to one host straight: the adapter, TLS settings, auth and pool."""

    __slots__ = ("adapter", "auth", "authorization", "cert", "pool", "verify")

    def __init__(self, adapter: HTTPAdapter, verify: Any, cert: Any, auth: tuple[str, str] | None) -> None:
        """Hold the route's settings; the pool is the adapter's, taken at the first call."""
        self.adapter, self.verify, self.cert, self.auth = adapter, verify, cert, auth
        self.authorization = requests.auth._basic_auth_str(*auth) if auth is not None else None
        self.pool: Any = None


class _CookieSource:
    """What requests' ``extract_cookies_to_jar`` reads of an answer: its headers as an http.client message."""

    def __init__(self, raw_headers: list[tuple[str, str]]) -> None:
        """Hold the answer's headers (in order, repeated ones kept) as an ``http.client.HTTPMessage``."""
        import http.client
        from types import SimpleNamespace

        msg = http.client.HTTPMessage()
        for name, value in raw_headers:
            msg[name] = value
        self._original_response = SimpleNamespace(msg=msg)


def _pool(adapter: HTTPAdapter, prepared: requests.PreparedRequest, verify: Any, cert: Any) -> Any:
    """Return the adapter's own pool for a request's host, as ``HTTPAdapter.send`` picks it without a proxy.

    The pool carries the adapter's TLS settings, sizes and watched connections.
    """
    from urllib3 import exceptions as u3

    try:
        pool = adapter.get_connection_with_tls_context(prepared, verify, proxies=None, cert=cert)
    except u3.LocationValueError as exc:
        raise requests.exceptions.InvalidURL(exc, request=prepared) from None
    adapter.cert_verify(pool, prepared.url, verify, cert)
    return pool


def _checkout(pool: Any, prepared: requests.PreparedRequest) -> Any:
    """A connection of the pool: an idle one still open, else a new one (not yet connected)."""
    from urllib3 import exceptions as u3

    try:
        return pool._get_conn()
    except (u3.ClosedPoolError, u3.EmptyPoolError) as exc:
        raise requests.ConnectionError(exc, request=prepared) from None


def session(base_url: str | None = None, *, auth: Any = None, token: Any = None,
            headers: dict[str, str] | None = None, verify: bool | str = True, **options: Any) -> Session:
    """Create the configured Session; ``token`` (a str or :class:`labkit.config.Secret`) is sent as Bearer."""
    s = Session(base_url, **options)
    if auth is not None:
        user, password = auth
        s.auth = (user, password.reveal() if hasattr(password, "reveal") else password)
    if token is not None:
        value = token.reveal() if hasattr(token, "reveal") else token
        s.headers["Authorization"] = f"Bearer {value}"
    if headers:
        s.headers.update(headers)
    s.verify = verify
    return s


def link_next(response: requests.Response) -> str | None:
    """Return the ``rel="next"`` URL of an RFC 8288 Link header (GitHub-style pagination)."""
    return (response.links.get("next") or {}).get("url")


def iter_link_pages(s: Session, url: str, **kwargs: Any) -> Iterator[requests.Response]:
    """Yield each page of a Link-header paginated resource."""
    next_url: str | None = url
    while next_url:
        r = s.get(next_url, **kwargs)
        yield r
        next_url = link_next(r)
        kwargs.pop("params", None)  # the next link carries its own query
