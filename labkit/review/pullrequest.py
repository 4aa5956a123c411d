"""A pull request by URL or ``owner/repo#N``, fetched as a patch series from GitHub, GHE, Gitea or Forgejo.

    pr = PullRequest.from_url("https://github.com/eucalyptus/eucalyptus/pull/53")
    pr.patch_url                     # https://github.com/eucalyptus/eucalyptus/pull/53.patch
    series = pr.fetch_series()       # .patch URL, then the API (Accept: application/vnd.github.patch),
                                     # then the PR page's <link rel="alternate" type="text/x-patch">
    pr.info()["base"]["ref"], pr.commits(), pr.rate_limit

GitHub Enterprise is ``https://HOST/api/v3``; Gitea and Forgejo use ``/pulls/N`` pages and
``/api/v1``. All HTTP goes through :func:`labkit.http.session`. A token (str or
:class:`labkit.config.Secret`, default ``$GITHUB_TOKEN``) is sent as a Bearer header to the API.
An exhausted rate limit becomes a short wait (up to ``max_wait`` seconds) or a clear error.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urljoin, urlsplit

from labkit.errors import HttpError
from labkit.review.errors import ReviewError

PATCH_MEDIA_TYPE = "application/vnd.github.patch"
_SHORT = re.compile(r"^([\w.-]+)/([\w.-]+)#(\d+)$")
_WEB = re.compile(r"^(?P<base>https?://[^?#]*?)/(?P<owner>[^/]+)/(?P<repo>[^/]+)/(?P<kind>pull|pulls)/(?P<n>\d+)"
                  r"(?:\.patch|\.diff|/[\w/]*)?/?$")
_API = re.compile(r"^(?P<base>https?://[^?#]*?)(?P<api>/api/v[13])?/repos/(?P<owner>[^/]+)/(?P<repo>[^/]+)"
                  r"/pulls/(?P<n>\d+)(?:\.patch|\.diff)?/?$")


@dataclass
class RateLimit:
    """The API rate-limit headers of the last response: limit, remaining and when it resets."""

    limit: int
    remaining: int
    reset: float  # epoch seconds
    resource: str = "core"

    @property
    def reset_at(self) -> datetime:
        """When the window resets, in UTC."""
        return datetime.fromtimestamp(self.reset, UTC)

    @classmethod
    def from_headers(cls, headers: Any) -> RateLimit | None:
        """Read ``X-RateLimit-*`` headers (None when the server sends none)."""
        try:
            return cls(int(headers["X-RateLimit-Limit"]), int(headers["X-RateLimit-Remaining"]),
                       float(headers["X-RateLimit-Reset"]), headers.get("X-RateLimit-Resource", "core"))
        except (KeyError, TypeError, ValueError):
            return None


class _AlternateLinks(HTMLParser):
    """Collect ``<link rel="alternate" type=... href=...>`` of an HTML page."""

    def __init__(self) -> None:
        """Start with no links found."""
        super().__init__()
        self.links: list[tuple[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        """Record each ``<link rel=alternate>`` with its type and href."""
        if tag.lower() != "link":
            return
        a = {k.lower(): (v or "") for k, v in attrs}
        if "alternate" in a.get("rel", "").lower().split() and a.get("href"):
            self.links.append((a.get("type", "").lower(), a["href"]))


def alternate_patch_link(page: str, page_url: str) -> str | None:
    """Return the absolute URL of a page's ``text/x-patch`` alternate link (None when absent)."""
    parser = _AlternateLinks()
    parser.feed(page)
    for ctype, href in parser.links:
        if ctype in ("text/x-patch", "application/mbox", "text/x-diff") and (
                ctype != "text/x-diff" or href.endswith(".patch")):
            return urljoin(page_url, href)
    return None


@dataclass
class PullRequest:
    """One pull request: where it lives and how to fetch it (web pages, ``.patch``, API)."""

    owner: str
    repo: str
    number: int
    web_url: str = "https://github.com"
    api_url: str = "https://api.github.com"
    flavor: str = "github"  # github (github.com and GHE) | gitea (Gitea, Forgejo)
    token: Any = field(default=None, repr=False)  # str or Secret
    max_wait: float = 60.0  # seconds we may sleep for an exhausted rate limit
    rate_limit: RateLimit | None = None
    tried: list[str] = field(default_factory=list, repr=False)
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)

    @classmethod
    def from_url(cls, ref: str, *, base_url: str | None = None, api_url: str | None = None,
                 flavor: str | None = None, token: Any = None, max_wait: float = 60.0) -> PullRequest:
        """Read a PR URL (page, ``.patch``, API) or ``owner/repo#N`` (on ``base_url``, default github.com)."""
        ref = ref.strip()
        if token is None and os.environ.get("GITHUB_TOKEN"):
            from labkit.config import Secret

            token = Secret(os.environ["GITHUB_TOKEN"], "$GITHUB_TOKEN")
        m = _SHORT.match(ref)
        if m:
            owner, repo, n, kind = m.group(1), m.group(2), int(m.group(3)), None
            web = (base_url or "https://github.com").rstrip("/")
            api_given = None
        else:
            m = _API.match(ref)
            if m:
                owner, repo, n = m.group("owner"), m.group("repo"), int(m.group("n"))
                host = m.group("base").rstrip("/")
                kind = "pulls" if m.group("api") == "/api/v1" else "pull"
                api_given = host + (m.group("api") or "")
                web = "https://github.com" if host == "https://api.github.com" else host
            else:
                m = _WEB.match(ref)
                if not m:
                    raise ReviewError(f"{ref!r} is not a pull request",
                                      hint="use https://HOST/OWNER/REPO/pull/N, its .patch URL, or OWNER/REPO#N")
                owner, repo, n, kind = m.group("owner"), m.group("repo"), int(m.group("n")), m.group("kind")
                web = base_url.rstrip("/") if base_url else m.group("base").rstrip("/")
                api_given = None
        for label, given in (("base URL", base_url), ("API URL", api_url)):
            parts = urlsplit(given) if given else None
            if parts and (parts.scheme not in ("http", "https") or not parts.netloc):
                raise ReviewError(f"{label} {given!r} is not an http(s) URL",
                                  hint="write it whole, e.g. https://git.example.com or https://git.example.com/api/v3")
        fl = flavor or ("gitea" if kind == "pulls" else "github")
        if fl not in ("github", "gitea"):
            raise ReviewError(f"unknown forge flavor {fl!r}", hint="use 'github' (also GHE) or 'gitea' (also Forgejo)")
        if api_url:
            api = api_url.rstrip("/")
        elif api_given:
            api = api_given
        elif fl == "gitea":
            api = web + "/api/v1"
        elif urlsplit(web).hostname in ("github.com", "www.github.com"):
            api = "https://api.github.com"
        else:
            api = web + "/api/v3"  # GitHub Enterprise Server
        return cls(owner, repo, n, web, api, fl, token, max_wait)

    @property
    def ref(self) -> str:
        """``owner/repo#N``."""
        return f"{self.owner}/{self.repo}#{self.number}"

    @property
    def html_url(self) -> str:
        """The PR page."""
        kind = "pulls" if self.flavor == "gitea" else "pull"
        return f"{self.web_url}/{self.owner}/{self.repo}/{kind}/{self.number}"

    @property
    def patch_url(self) -> str:
        """The PR as a patch series (``.patch`` next to the page)."""
        return self.html_url + ".patch"

    @property
    def api_pull_url(self) -> str:
        """The PR in the API."""
        return f"{self.api_url}/repos/{self.owner}/{self.repo}/pulls/{self.number}"

    def _session(self, api: bool):
        """Return an HTTP session for the web pages or (with the token) the API."""
        from labkit.http import session

        s = session(token=self.token if api else None, max_wait=min(self.max_wait, 30.0))
        if api and self.flavor == "github":
            s.headers["X-GitHub-Api-Version"] = "2022-11-28"
        return s

    def _get(self, url: str, *, api: bool, accept: str | None = None, params: dict[str, Any] | None = None):
        """GET with rate-limit handling: wait for the reset when it is near, else a clear error."""
        s = self._session(api)
        headers = {"Accept": accept} if accept else {}
        for attempt in range(2):
            r = s.get(url, headers=headers, params=params, check=False)
            rl = RateLimit.from_headers(r.headers)
            if rl:
                self.rate_limit = rl
            if r.status_code in (403, 429) and rl and rl.remaining == 0:
                wait = max(0.0, rl.reset - time.time()) + 0.5
                if attempt == 0 and wait <= self.max_wait:
                    r.close()
                    self.sleep(wait)
                    continue
                who = "this token" if self.token else "anonymous calls"
                raise ReviewError(
                    f"{self.api_url} rate limit exhausted ({rl.limit} calls per window for {who}); "
                    f"it resets at {rl.reset_at:%H:%M:%S} UTC, in {int(wait)} s",
                    hint="wait, or pass a token (token=... or $GITHUB_TOKEN) for a higher limit")
            if r.status_code == 401 and api:
                raise ReviewError(f"{url} refused the token (401 Bad credentials)",
                                  hint="check the token: it may be expired or lack the repo scope")
            from labkit.http import raise_for_status

            return raise_for_status(r)
        raise AssertionError("unreachable")

    def fetch_patch(self, via: str = "auto") -> bytes:
        """Return the PR's commits as an mbox. ``via``: auto | patch | api | page.

        ``auto`` tries the API first when a token is set (private repositories), else the ``.patch``
        URL, then the API, then the alternate link of the PR page.
        """
        order = {"patch": ["patch"], "api": ["api"], "page": ["page"]}.get(via)
        if order is None:
            if via != "auto":
                raise ReviewError(f"unknown fetch method {via!r}", hint="use auto, patch, api or page")
            order = ["api", "patch", "page"] if self.token else ["patch", "api", "page"]
        errors: list[str] = []
        for how in order:
            try:
                data = getattr(self, f"_via_{how}")()
            except HttpError as exc:
                errors.append(f"{how}: {exc.message}")
                continue
            if data.strip():
                self.tried.append(how)
                return data
            errors.append(f"{how}: empty answer")
        raise ReviewError(f"could not fetch {self.ref} as a patch ({'; '.join(errors)})",
                          hint="check the URL, the base URL of your forge (base_url=/api_url=) and the token")

    def _via_patch(self) -> bytes:
        """Fetch the series from the ``.patch`` URL next to the PR page."""
        return self._get(self.patch_url, api=False).content

    def _via_api(self) -> bytes:
        """Fetch the series from the API in the patch media type."""
        if self.flavor == "gitea":
            return self._get(self.api_pull_url + ".patch", api=True).content
        return self._get(self.api_pull_url, api=True, accept=PATCH_MEDIA_TYPE).content

    def _via_page(self) -> bytes:
        """Fetch the PR page and follow its alternate patch link."""
        page = self._get(self.html_url, api=False, accept="text/html")
        link = alternate_patch_link(page.text, page.url or self.html_url)
        if not link:
            raise HttpError(f"{self.html_url} has no <link rel=alternate type=text/x-patch>", url=self.html_url)
        return self._get(link, api=False).content

    def fetch_series(self, via: str = "auto"):  # -> PatchSeries
        """Fetch and parse the PR into a :class:`PatchSeries`."""
        from labkit.review.mbox import parse_mbox

        return parse_mbox(self.fetch_patch(via), source=self.ref)

    def info(self) -> dict[str, Any]:
        """The PR's API record (title, state, head and base refs, ...)."""
        return self._get(self.api_pull_url, api=True, accept="application/vnd.github+json").json()

    def commits(self, per_page: int = 100) -> list[dict[str, Any]]:
        """The PR's commits from the API, following Link-header pagination."""
        return self._paged(self.api_pull_url + "/commits", {"per_page": per_page})

    def _paged(self, url: str, params: dict[str, Any] | None) -> list[dict[str, Any]]:
        """Collect every page of a Link-paginated list (each page's ``next`` URL carries its query)."""
        from labkit.http import link_next

        out: list[dict[str, Any]] = []
        next_url: str | None = url
        pages = 0
        while next_url and pages < 1000:
            r = self._get(next_url, api=True, accept="application/vnd.github+json", params=params)
            out.extend(r.json())
            next_url, params = link_next(r), None
            pages += 1
        return out

    def list_pulls(self, state: str = "open", per_page: int = 100) -> list[dict[str, Any]]:
        """Every pull request of the repository in ``state``, following pagination."""
        return self._paged(f"{self.api_url}/repos/{self.owner}/{self.repo}/pulls",
                           {"state": state, "per_page": per_page})

    def repository(self) -> dict[str, Any]:
        """The repository's API record (``clone_url``, ``default_branch``)."""
        return self._get(f"{self.api_url}/repos/{self.owner}/{self.repo}", api=True,
                         accept="application/vnd.github+json").json()
