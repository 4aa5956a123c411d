"""The one requests Session factory: timeouts, retries with backoff, Retry-After, pagination.

Every client in labkit (Jira REST, GitHub/forge, anything over HTTP) gets its session here::

    from labkit.http import session
    s = session("http://127.0.0.1:8080", auth=("admin", secret.reveal()))
    r = s.get("/rest/api/2/serverInfo")      # retried on 429/500/502/503/504 and dropped connections
    r.json()

A 401/403/404/410 (and any other final error) becomes :class:`labkit.HttpError` naming the URL
and what to check; the caller never sees a raw traceback for a user mistake.
"""

from __future__ import annotations

import email.utils
import logging
import random
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urljoin, urlsplit, urlunsplit

import requests

from labkit.errors import HttpError

log = logging.getLogger("labkit.http")

DEFAULT_TIMEOUT = (5.0, 60.0)  # (connect, read) seconds: always set
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})

_HINTS = {
    401: "authentication failed: check the user name and the token or password (environment variable or keyring)",
    403: "permission denied: the account lacks the permission for this call (e.g. Browse Projects, Schedule Issues)",
    404: "not found: check the base URL, the API path and the key or id",
    410: "this API was removed by the server: use its replacement",
}


def shown_url(url: str) -> str:
    """Return a URL fit for messages and logs: a user name and password written into it are masked."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc="******@" + parts.netloc.rsplit("@", 1)[1]))


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
    msg = f"{method} {shown_url(response.url)} answered {status} {response.reason or ''}".rstrip()
    if detail:
        msg += f" ({detail})"
    hint = _HINTS.get(status)
    if status == 429:
        hint = "rate limited: wait and try again, or lower the request rate"
    elif status >= 500:
        hint = "the server failed: try again later or check its logs"
    elif hint is None:
        hint = "check the request's parameters against the server's API"
    raise HttpError(msg, hint=hint, status=status, url=shown_url(response.url))


class Session(requests.Session):
    """A requests Session with a base URL, default timeouts and bounded retries."""

    def __init__(self, base_url: str | None = None, *, timeout: tuple[float, float] = DEFAULT_TIMEOUT,
                 retries: int = 4, backoff: float = 0.25, max_wait: float = 30.0,
                 retry_statuses: frozenset[int] = RETRY_STATUSES,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        """Make a session with timeouts, retry policy and an optional base URL."""
        super().__init__()
        self.base_url = base_url.rstrip("/") + "/" if base_url else None
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.max_wait = max_wait
        self.retry_statuses = retry_statuses
        self.sleep = sleep
        self.attempts = 0  # total HTTP attempts made, retries included (for tests and benchmarks)
        self.headers["User-Agent"] = "labkit"

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
                check: bool = True, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        """Send with timeouts; retry transient failures; raise :class:`HttpError` on final errors.

        ``idempotent=True`` lets a POST be retried after a dropped connection or 5xx (searches);
        ``check=False`` returns error responses instead of raising.
        """
        method = method.upper()
        kwargs.setdefault("timeout", self.timeout)
        full = self.url(url)
        can_retry = idempotent if idempotent is not None else method in IDEMPOTENT
        attempt = 0
        while True:
            self.attempts += 1
            try:
                response = super().request(method, full, *args, **kwargs)
            except (requests.exceptions.MissingSchema, requests.exceptions.InvalidSchema,
                    requests.exceptions.InvalidURL) as exc:
                raise HttpError(f"{shown_url(full)!r} is not a usable URL ({type(exc).__name__})",
                                hint="write the whole base URL, e.g. https://jira.example.com or http://127.0.0.1:8080",
                                url=shown_url(full)) from None
            except (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError) as exc:
                if can_retry and attempt < self.retries:
                    wait = self._wait(attempt, None)
                    log.info("retrying %s %s after %s (%.2fs)", method, shown_url(full), type(exc).__name__, wait)
                    self.sleep(wait)
                    attempt += 1
                    continue
                kind = "timed out" if isinstance(exc, requests.Timeout) else "could not connect"
                raise HttpError(f"{method} {shown_url(full)} {kind} ({type(exc).__name__})",
                                hint="check that the server runs and the URL and port are right "
                                     "(for the sandbox: labkit sandbox status)", url=shown_url(full)) from None
            status = response.status_code
            # 429 is always safe to retry: the server did not act on the request.
            if status in self.retry_statuses and attempt < self.retries and (can_retry or status == 429):
                wait = self._wait(attempt, response)
                log.info("retrying %s %s after %s (%.2fs)", method, shown_url(full), status, wait)
                response.close()
                self.sleep(wait)
                attempt += 1
                continue
            return raise_for_status(response) if check else response


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
