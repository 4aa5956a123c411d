"""A pull request by URL or ``owner/repo#N``, fetched as a patch series from GitHub, GHE, Gitea or Forgejo.

    pr = PullRequest.from_url("https://github.com/eucalyptus/eucalyptus/pull/53")
    pr.patch_url                     # https://github.com/eucalyptus/eucalyptus/pull/53.patch
    series = pr.fetch_series()       # .patch URL, then the API (Accept: application/vnd.github.patch),
                                     # then the PR page's <link rel="alternate" type="text/x-patch">
    pr.info()["base"]["ref"], pr.commits(), pr.rate_limit

GitHub Enterprise is ``https://HOST/api/v3``; Gitea and Forgejo use ``/pulls/N`` pages and
``/api/v1``. All HTTP goes through :func:`labkit.http.session`. A token (str or
:class:`labkit.config.Secret`) is sent as a Bearer header only to the host it is configured for
and only over https or to a loopback address: ``$GITHUB_TOKEN`` goes to api.github.com and nowhere
else; ``token=`` goes to this PR's API host (``token_host=`` names another). A token the API
refuses (401) makes ``auto`` fall back to the ``.patch`` URL. An exhausted rate limit becomes a
short wait (up to ``max_wait`` seconds) or a clear error.

Large pull requests: GitHub refuses the diff and patch media types past 300 files or 20,000 lines
(406 "Sorry, the diff exceeded the maximum number of files (300)"). Then ``refs/pull/N/head`` is
fetched with git into a throw-away bare repository (borrowing the objects of a local clone when
``repo=`` is given, never writing to it) and turned into the series with ``git format-patch``
against the merge base.

Revisions: ``OWNER/REPO#N@SHA`` (or ``URL@SHA``) names the PR as it was at a previous head, as a
force-push shows it ("force-pushed from SHA to ..."): fetched as ``compare/BASE...SHA.patch``.
``pr.force_pushes()`` lists the (old, new) heads the PR page links to.
"""

from __future__ import annotations

import ipaddress
import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

from labkit.errors import HttpError
from labkit.review.errors import ReviewError

PATCH_MEDIA_TYPE = "application/vnd.github.patch"
GITHUB_API = "https://api.github.com"
_AT = r"(?:@(?P<at>[0-9a-fA-F]{7,64}))?"
_SHORT = re.compile(r"^(?P<owner>[\w.-]+)/(?P<repo>[\w.-]+)#(?P<n>\d{1,9})" + _AT + "$")
_WEB = re.compile(r"^(?P<base>https?://[^?#@]*?)/(?P<owner>[^/]+)/(?P<repo>[^/]+)/(?P<kind>pull|pulls)/(?P<n>\d{1,9})"
                  r"(?:\.patch|\.diff|/[\w/]*)?/?" + _AT + "$")
_API = re.compile(r"^(?P<base>https?://[^?#@]*?)(?P<api>/api/v[13])?/repos/(?P<owner>[^/]+)/(?P<repo>[^/]+)"
                  r"/pulls/(?P<n>\d{1,9})(?:\.patch|\.diff)?/?" + _AT + "$")
_SHA = re.compile(r"^[0-9a-fA-F]{7,64}$")


def origin(url: str) -> str:
    """Return ``scheme://host[:port]`` of a URL, lower-cased (what a token is bound to)."""
    parts = urlsplit(url)
    return f"{parts.scheme.lower()}://{(parts.netloc.rsplit('@', 1)[-1]).lower()}"


def is_loopback(url: str) -> bool:
    """Tell whether a URL names this machine (localhost, 127.0.0.0/8, ::1)."""
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_forge_urls(base_url: str | None, api_url: str | None) -> None:
    """Raise ReviewError when a given forge base or API URL is not a whole http(s) URL."""
    for label, flag, given in (("base URL", "--base-url", base_url), ("API URL", "--api-url", api_url)):
        parts = urlsplit(given) if given else None
        if parts and (parts.scheme not in ("http", "https") or not parts.netloc):
            raise ReviewError(f"{label} {given!r} is not an http(s) URL",
                              hint=f"write it whole with {flag}, e.g. https://git.example.com "
                                   f"({flag[2:].replace('-', '_')}= in Python)")


def token_allowed(url: str, token_host: str | None) -> bool:
    """Tell whether a token bound to ``token_host`` may go to ``url``: same origin, and https or loopback."""
    if not token_host or origin(url) != origin(token_host):
        return False
    return urlsplit(url).scheme.lower() == "https" or is_loopback(url)


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


class TokenRefused(ReviewError):
    """The API refused the token (401): ``auto`` fetching moves on to the next route."""

    status = 401


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
    token_host: str | None = None  # the origin the token is configured for (it goes nowhere else)
    at: str | None = None  # a previous head of the PR (force-push) to read instead of the current one
    rate_limit: RateLimit | None = None
    tried: list[str] = field(default_factory=list, repr=False)
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)

    @classmethod
    def from_url(cls, ref: str, *, base_url: str | None = None, api_url: str | None = None,
                 flavor: str | None = None, token: Any = None, token_host: str | None = None,
                 max_wait: float = 60.0) -> PullRequest:
        """Read a PR URL (page, ``.patch``, API) or ``owner/repo#N`` (on ``base_url``, default github.com).

        A trailing ``@SHA`` names a previous head of the PR. ``token`` is bound to this PR's API
        host (or ``token_host``); without one, ``$GITHUB_TOKEN`` is used for github.com only.
        """
        ref = ref.strip()
        m = _SHORT.match(ref)
        if m:
            owner, repo, n, kind = m.group("owner"), m.group("repo"), int(m.group("n")), None
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
        at = m.group("at")
        check_forge_urls(base_url, api_url)
        fl = flavor or ("gitea" if kind == "pulls" else "github")
        if fl not in ("github", "gitea"):
            raise ReviewError(f"unknown forge flavor {fl!r}",
                              hint="use --flavor github (also GHE) or --flavor gitea (also Forgejo)")
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
        if token is not None:
            token_host = origin(token_host or api)
            if not token_allowed(token_host + "/", token_host):
                raise ReviewError(f"refusing to send the token to {token_host} over plain http",
                                  hint="use the forge's https URL (--base-url https://...), or no token")
        elif os.environ.get("GITHUB_TOKEN") and origin(api) == GITHUB_API:
            from labkit.config import Secret

            token, token_host = Secret(os.environ["GITHUB_TOKEN"], "$GITHUB_TOKEN"), GITHUB_API
        return cls(owner, repo, n, web, api, fl, token, max_wait, token_host=token_host, at=at)

    @property
    def has_token(self) -> bool:
        """Tell whether a token will be sent to this PR's API."""
        return bool(self.token) and token_allowed(self.api_url + "/", self.token_host)

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

    def _session(self, url: str, api: bool):
        """Return an HTTP session for ``url``; it carries the token only where :func:`token_allowed` says."""
        from labkit.http import session

        send = self.token if api and self.token and token_allowed(url, self.token_host) else None
        s = session(token=send, max_wait=min(self.max_wait, 30.0))
        if api and self.flavor == "github":
            s.headers["X-GitHub-Api-Version"] = "2022-11-28"
        return s

    def _get(self, url: str, *, api: bool, accept: str | None = None, params: dict[str, Any] | None = None):
        """GET with rate-limit handling: wait for the reset when it is near, else a clear error."""
        s = self._session(url, api)
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
                who = "this token" if "Authorization" in s.headers else "anonymous calls"
                raise ReviewError(
                    f"{self.api_url} rate limit exhausted ({rl.limit} calls per window for {who}); "
                    f"it resets at {rl.reset_at:%H:%M:%S} UTC, in {int(wait)} s",
                    hint="wait, or give a token ($GITHUB_TOKEN for github.com, the profile's forge token_env, "
                         "token= in Python) for a higher limit")
            if r.status_code == 401 and api:
                raise TokenRefused(f"{url} refused the token (401 Bad credentials)",
                                   hint="check the token ($GITHUB_TOKEN, the profile's forge token_env, token= in "
                                        "Python): it may be expired or lack the repo scope")
            from labkit.http import raise_for_status

            return raise_for_status(r)
        raise AssertionError("unreachable")

    def fetch_patch(self, via: str = "auto", *, repo: str | Path | None = None) -> bytes:
        """Return the PR's commits as an mbox. ``via``: auto | patch | api | page | git.

        ``auto`` tries the API first when a token is sent to it (private repositories), else the
        ``.patch`` URL, then the API, then the alternate link of the PR page; a refused token (401)
        moves on to the next route. When the forge answers 406 (the PR is too large for its diff
        media types) or ``via="git"``, ``refs/pull/N/head`` is fetched with git (see the module doc).
        A PR named at a previous head (``@SHA``) is read from the forge's compare view.
        """
        if self.at:
            self.tried.append("compare")
            return self._get(self.compare_url(self.at), api=False).content
        order = {"patch": ["patch"], "api": ["api"], "page": ["page"], "git": []}.get(via)
        if order is None:
            if via != "auto":
                raise ReviewError(f"unknown fetch method {via!r}", hint="use --via auto, patch, api, page or git")
            order = ["api", "patch", "page"] if self.has_token else ["patch", "api", "page"]
        errors: list[str] = []
        too_large = via == "git"
        for how in order:
            try:
                data = getattr(self, f"_via_{how}")()
            except (HttpError, TokenRefused) as exc:
                if exc.status == 406:
                    too_large = True
                    errors.append(f"{how}: too large for the diff media type (406)")
                    break
                if isinstance(exc, TokenRefused) and via != "auto":
                    raise
                errors.append(f"{how}: {exc.message}")
                continue
            if data.strip():
                self.tried.append(how)
                return data
            errors.append(f"{how}: empty answer")
        if too_large:
            self.tried.append("git")
            return self.fetch_with_git(repo)
        raise ReviewError(f"could not fetch {self.ref} as a patch ({'; '.join(errors)})",
                          hint="check the URL, the forge's base URL (--base-url, base_url= in Python) and the "
                               "token ($GITHUB_TOKEN or the profile's forge token_env)")

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

    def compare_url(self, head: str, base: str | None = None) -> str:
        """The forge's compare view of ``base...head`` as a patch series (base: the PR's base branch)."""
        if not _SHA.match(head):
            raise ReviewError(f"{head!r} is not a commit id", hint="give the previous head as OWNER/REPO#N@SHA")
        base = base or self.info()["base"]["ref"]
        return f"{self.web_url}/{self.owner}/{self.repo}/compare/{base}...{head}.patch"

    def force_pushes(self) -> list[tuple[str, str]]:
        """The (old head, new head) pairs of the force-pushes the PR page shows (its Compare links), oldest first."""
        page = self._get(self.html_url, api=False, accept="text/html").text
        pat = re.compile(rf'href="[^"]*/{re.escape(self.owner)}/{re.escape(self.repo)}'
                         r'/compare/([0-9a-fA-F]{7,64})\.\.([0-9a-fA-F]{7,64})"')
        return list(dict.fromkeys(pat.findall(page)))

    def revision(self, head: str) -> PullRequest:
        """This PR as it was at a previous head (what a force-push replaced)."""
        from dataclasses import replace

        return replace(self, at=head, tried=[], rate_limit=None)

    def clone_url(self) -> str:
        """Where git fetches the repository from: the API's ``clone_url``, checked to be https, http or a path."""
        url = str(self.repository().get("clone_url") or f"{self.web_url}/{self.owner}/{self.repo}.git")
        parts = urlsplit(url)
        if parts.scheme in ("https", "http") and parts.netloc:
            return url
        if not parts.scheme and url.startswith("/") and is_loopback(self.api_url + "/"):
            return url  # the sandbox forge serves its repositories as local paths
        raise ReviewError(f"the forge gave {url!r} as the clone URL", hint="only https URLs are fetched; "
                          "clone the repository yourself and use the PR's .patch")

    def fetch_with_git(self, repo: str | Path | None = None) -> bytes:
        """Fetch ``refs/pull/N/head`` and the base branch with git; return ``git format-patch`` from the merge base.

        Works in a throw-away bare repository (removed afterwards) that borrows the objects of
        ``repo`` (a local clone) when given, so only what is missing crosses the network.
        """
        from labkit.review.git import repo_dirs, run_git

        base = self.info()["base"]["ref"]
        url = self.clone_url()
        env = {"GIT_TERMINAL_PROMPT": "0"}
        github_git = origin(self.token_host or "x:") == GITHUB_API and origin(url) == "https://github.com"
        if self.token and (token_allowed(url, self.token_host) or github_git):
            import base64

            value = self.token.reveal() if hasattr(self.token, "reveal") else str(self.token)
            basic = base64.b64encode(f"x-access-token:{value}".encode()).decode()
            env.update({"GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": "http.extraHeader",
                        "GIT_CONFIG_VALUE_0": f"Authorization: Basic {basic}"})  # env, never argv
        tmp = Path(tempfile.mkdtemp(prefix="labkit-pr-"))
        try:
            run_git(tmp, "init", "--bare", "--quiet", ".")
            if repo is not None:
                common = repo_dirs(repo)[1]
                (tmp / "objects" / "info" / "alternates").write_text(f"{common}/objects\n")
            fetched = run_git(tmp, "fetch", "--quiet", "--no-tags", "--no-write-fetch-head", "--", url,
                              f"+refs/pull/{self.number}/head:refs/labkit/head", f"+refs/heads/{base}:refs/labkit/base",
                              env=env, check=False, config=("-c", "protocol.ext.allow=never"))
            if not fetched.ok:
                raise ReviewError(f"git could not fetch {self.ref} from {url}: "
                                  f"{(fetched.stderr.strip().splitlines() or ['?'])[-1]}",
                                  hint="check the clone URL and the token ($GITHUB_TOKEN, token_env of the profile)")
            merge_base = run_git(tmp, "merge-base", "refs/labkit/base", "refs/labkit/head").stdout.strip()
            out = run_git(tmp, "format-patch", "--stdout", "-M", "--binary", f"{merge_base}..refs/labkit/head")
            return out.raw
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def fetch_series(self, via: str = "auto", *, repo: str | Path | None = None):  # -> PatchSeries
        """Fetch and parse the PR into a :class:`PatchSeries`."""
        from labkit.review.mbox import parse_mbox

        label = f"{self.ref}@{self.at[:12]}" if self.at else self.ref
        return parse_mbox(self.fetch_patch(via, repo=repo), source=label)

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
