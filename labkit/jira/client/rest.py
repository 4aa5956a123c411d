"""Jira REST client: search into a DataFrame, fast, on Jira Server/Data Center and Cloud alike.

    from labkit.jira.client import JiraClient
    jira = JiraClient.from_profile()                      # the sandbox unless a profile says otherwise
    df = jira.search('project = DEMO AND text ~ "disk space"')
    df[["key", "summary", "status", "blocked_by"]]

Server/DC: the first page tells ``total``, the other pages are fetched concurrently.
Cloud: issue ids by ``nextPageToken`` paging, then details in parallel ``bulkfetch`` calls
(Atlassian's advice). All HTTP goes through :func:`labkit.http.session` (timeouts, retries,
Retry-After, clear errors).

Changelogs come complete: Jira embeds at most 100 entries per issue in a search with
``expand=changelog``; the rest is paged in (``GET /issue/{key}/changelog`` per issue, in
parallel; on Cloud ``POST /rest/api/3/changelog/bulkfetch`` for up to 1000 issues a call).
"""

from __future__ import annotations

import contextlib
import functools
import json
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from labkit.errors import HttpError
from labkit.jira.client.columns import (
    IssueColumns,
    IssueList,
    Parser,
    batch,
    columns_parser,
    normalise,
)
from labkit.jira.errors import JiraError
from labkit.jira.model import (
    LEXO_RANK,
    RANK_FIELD,
    SEARCH_COLUMNS,
    SEARCH_DATE_COLUMNS,
    BlockingRule,
    blocking_rule,
    changelog_truncated,
    jira_time,
    search_times,
)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

COLUMNS = SEARCH_COLUMNS
DEFAULT_RANK_FIELD = RANK_FIELD
SERVER_PAGE = 1000      # Server/DC page size asked for (the server may cap it lower)
CLOUD_ID_PAGE = 5000    # Cloud search/jql page when asking for ids only
BULKFETCH = 100         # Cloud bulkfetch batch
RANK_BATCH = 50         # PUT /rest/agile/1.0/issue/rank limit
PROGRESS_MIN = 5000     # show a progress bar from this many issues on
CHANGELOG_PAGE = 100    # GET /issue/{key}/changelog: at most 100 entries a page
CHANGELOG_BULK = 1000   # POST /changelog/bulkfetch: at most 1000 issues a call
CHANGELOG_BULK_PAGE = 10000  # ... and at most 10000 entries a page
CHANGELOG_PROGRESS_MIN = 50  # show a progress bar when this many changelogs are paged in


def _parse_json(content: bytes) -> dict[str, Any]:
    """Decode a response body as plain JSON."""
    return json.loads(content)


def _id_page(content: bytes) -> dict[str, Any]:
    """Decode a Cloud ``search/jql`` page asked for ids only: ``{"issues": [id, ...], "nextPageToken", "isLast"}``.

    A search of many issues holds its ids until the details come; an id page's issue objects
    (``id``, ``key``, ``self``, ``expand``) are not kept.
    """
    decoder = _id_decoder()
    if decoder is not None:
        import msgspec

        try:
            page = decoder.decode(content)
        except msgspec.ValidationError:
            pass
        else:
            return {"issues": [i.id for i in page.issues], "nextPageToken": page.nextPageToken, "isLast": page.isLast}
    page = json.loads(content)
    return {**page, "issues": [i["id"] for i in page.get("issues", [])]}


@functools.lru_cache(maxsize=1)
def _id_decoder() -> Any:
    """The msgspec decoder of an id page (None without msgspec)."""
    try:
        from msgspec import defstruct
        from msgspec import json as mjson
    except ImportError:
        return None
    ref = defstruct("IdRef", [("id", Any)], gc=False)
    page = defstruct("IdPage", [("issues", list[ref], []), ("nextPageToken", Any, None), ("isLast", Any, None)],
                     gc=False)
    return mjson.Decoder(page)


def base_fields(rank_field: str = DEFAULT_RANK_FIELD) -> list[str]:
    """Return the REST fields the normalised columns are made of."""
    return ["summary", "status", "issuetype", "priority", "assignee", "reporter", "created", "updated",
            "resolutiondate", "labels", "components", "issuelinks", rank_field]


def to_dataframe(rows: list[dict[str, Any]] | dict[str, list[Any]], extra: Sequence[str] = (),
                 raw: list[Any] | None = None):
    """Build the search DataFrame: normalised columns (rows, or columns by name), UTC timestamps, then extras (and ``raw``)."""
    import pandas as pd

    cols = COLUMNS + [c for c in extra if c not in COLUMNS]
    given = rows if isinstance(rows, dict) else {}
    if given:  # columns: each date column is read from its own texts, never made a text column of the frame first
        rows = {c: search_times(v) if c in SEARCH_DATE_COLUMNS else v for c, v in given.items()}
    df = pd.DataFrame(rows, columns=cols)
    for c in SEARCH_DATE_COLUMNS:
        if c not in given:  # rows: the frame's text column, read back
            df[c] = search_times(df[c].tolist())
    if raw is not None:
        df["raw"] = raw
    return df


def with_rank_order(jql: str) -> str:
    """Return the JQL ordered by ``Rank ASC`` when it has no ORDER BY of its own."""
    from labkit.jira.jql.edit import with_default_order

    return with_default_order(jql or "", "Rank")


@contextlib.contextmanager
def rejected_jql(jql: str) -> Iterator[None]:
    """Turn the server's 400 for a search into a one-line JiraError quoting its reason."""
    try:
        yield
    except HttpError as exc:
        if exc.status != 400:
            raise
        detail = exc.message.split(" (", 1)[-1]
        reason = " ".join((detail[:-1] if detail.endswith(")") else detail).split())
        raise JiraError(f"the server rejected the JQL {jql!r}: {reason}",
                        hint="fix the query (labkit.jira.jql.lint explains common traps) and run it again") from None


@dataclass(frozen=True)
class ServerInfo:
    """What ``serverInfo`` says about a Jira: version and whether it is Cloud."""

    base_url: str
    version: str
    deployment: str  # "Cloud" | "Server" | "DataCenter"

    @property
    def is_cloud(self) -> bool:
        """Tell whether the server is Jira Cloud."""
        return self.deployment == "Cloud"


class JiraClient:
    """A Jira REST client whose ``search`` returns a DataFrame of normalised columns."""

    def __init__(self, url: str, auth: Any = None, *, token: Any = None, workers: int = 4,
                 page_size: int = SERVER_PAGE, progress: bool | None = None,
                 blocking: BlockingRule | None = None, retry_read_timeout: bool = False,
                 **session_options: Any) -> None:
        """Connect to the Jira at ``url`` with basic auth (user, secret) or a bearer token.

        ``blocking`` decides the ``blocked_by``/``blocks`` columns (default: the active profile's rule).
        A search (a POST) is retried after a refused or dropped connection or a 5xx, but not after a
        read timeout unless ``retry_read_timeout=True``: the server may still be running it.
        A user name and password written in ``url`` are taken out of it and used as basic auth.
        """
        from urllib.parse import urlsplit

        from labkit.http import mask_url, session, split_credentials

        if auth is not None and not isinstance(auth, tuple):  # a bare token: PAT / bearer
            token, auth = auth, None
        try:
            parts = urlsplit(str(url))
            ok = parts.scheme in ("http", "https") and bool(parts.hostname)
            parts.port  # noqa: B018 - a port that is no number raises here, not in the first call
        except ValueError:
            ok = False
        if not ok:
            raise JiraError(f"{mask_url(str(url))!r} is not a Jira URL",
                            hint='give the base URL, e.g. url = "https://jira.example.com"')
        bare, written = split_credentials(str(url))  # never keep a secret in the URL shown, logged or saved
        if written is not None and auth is None and token is None:
            auth = written
        self.url = bare.rstrip("/")
        self.session = session(self.url, auth=auth, token=token, **session_options)
        self.retry_read_timeout = retry_read_timeout
        self.workers = max(1, workers)
        self.page_size = max(1, page_size)
        self.progress = progress
        self.session.mount("http://", _pooled(self.workers))
        self.session.mount("https://", _pooled(self.workers))
        self._info: ServerInfo | None = None
        self._rank_field: str | None = None
        self._blocking = blocking

    @property
    def blocking(self) -> BlockingRule:
        """Which links fill ``blocked_by``/``blocks`` (the active profile's rule unless one was given)."""
        if self._blocking is None:
            self._blocking = blocking_rule()
        return self._blocking

    @classmethod
    def from_profile(cls, profile: str | None = None, **options: Any) -> JiraClient:
        """Build a client from a labkit profile (the sandbox by default)."""
        from labkit.config import get_profile

        p = get_profile(profile)
        section = p.section("jira")
        options.setdefault("blocking", BlockingRule.from_profile(p))
        if section.get("sandbox") or p.is_sandbox:
            import labkit.sandbox as sandbox

            return cls(sandbox.url("jira"), (section.get("user", "admin"), sandbox.secret("jira")), **options)
        if not section.get("url"):
            raise JiraError(f"profile {p.name!r} has no jira url", hint=f"add url = \"https://...\" to [profiles.{p.name}.jira]")
        secret = p.secret("jira", "token")
        if section.get("user") and section.get("auth", "basic") != "bearer":
            return cls(section["url"], (section["user"], secret), **options)
        return cls(section["url"], token=secret, **options)

    def __repr__(self) -> str:
        """Show the URL only (never the credentials)."""
        return f"JiraClient({self.url!r})"

    def close(self) -> None:
        """Close the HTTP connections."""
        self.session.close()

    def __enter__(self) -> JiraClient:
        """Use the client as a context manager that closes its connections."""
        return self

    def __exit__(self, *exc: object) -> None:
        """Close the HTTP connections."""
        self.close()

    # ------------------------------------------------------------------ server facts
    def server_info(self) -> ServerInfo:
        """Return (and remember) the server's version and deployment type."""
        if self._info is None:
            j = self.session.get("/rest/api/2/serverInfo").json()
            deployment = j.get("deploymentType") or "Server"
            self._info = ServerInfo(j.get("baseUrl", self.url), str(j.get("version", "")), deployment)
        return self._info

    @property
    def is_cloud(self) -> bool:
        """True for Jira Cloud (token-paged search), False for Server/Data Center."""
        return self.server_info().is_cloud

    @property
    def api(self) -> str:
        """Return the REST API prefix this server prefers."""
        return "/rest/api/3" if self.is_cloud else "/rest/api/2"

    def fields(self) -> list[dict[str, Any]]:
        """Return the server's field list (``GET /field``)."""
        return self.session.get(f"{self.api}/field").json()

    @property
    def rank_field(self) -> str:
        """Return the id of the LexoRank field named "Rank" (``customfield_10019`` if none is found)."""
        if self._rank_field is None:
            found = DEFAULT_RANK_FIELD
            for f in self.fields():
                schema = f.get("schema") or {}
                if f.get("name") == "Rank" and schema.get("custom") == LEXO_RANK:
                    found = f["id"]
                    break
            self._rank_field = found
        return self._rank_field

    # ------------------------------------------------------------------ search
    def search(self, jql: str, fields: Iterable[str] = (), *, raw: bool = False, limit: int | None = None,
               progress: bool | None = None):  # -> pandas.DataFrame
        """Run a JQL search; return a DataFrame with the normalised columns (+ ``fields``, + ``raw``)."""
        extra = list(fields)
        rank = self.rank_field
        wanted = base_fields(rank) + [f for f in extra if f not in base_fields(rank)]
        fast = None if extra or raw else columns_parser(rank, self.blocking)
        if fast is not None:  # each page decoded into typed structs, then its columns: no JSON tree or dict per issue
            from labkit.bulk import no_gc

            with no_gc():
                got = self.search_issues(jql, wanted, limit=limit, progress=progress, parse=fast)
                if isinstance(got, IssueColumns):
                    return to_dataframe(got.columns)
                return to_dataframe([normalise(i, rank, rule=self.blocking) for i in got])  # no page at all
        issues = self.search_issues(jql, wanted, limit=limit, progress=progress)
        rows = [normalise(i, rank, extra, self.blocking) for i in issues]
        return to_dataframe(rows, extra, issues if raw else None)

    def search_issues(self, jql: str, fields: Sequence[str] | None = None, *, limit: int | None = None,
                      progress: bool | None = None, parse: Parser | None = None,
                      expand: str | None = None, full_changelog: bool = True) -> list[dict[str, Any]]:
        """Return the raw REST issues of a search, complete, in order and without duplicates.

        ``parse`` turns a response body into ``{"total", "maxResults", "issues"}`` (default: JSON; with
        a :func:`~labkit.jira.client.columns.columns_parser` the search's :class:`IssueColumns` come back);
        ``expand="changelog"`` adds each issue's history, complete: a changelog Jira cut short is
        paged in (:meth:`complete_changelogs`) unless ``full_changelog=False``.
        """
        if limit is not None and limit < 0:
            raise JiraError(f"the search limit {limit} is negative", hint="give a limit of 0 or more, or none for all")
        fields = list(fields) if fields is not None else base_fields(self.rank_field)
        with rejected_jql(jql):
            if self.is_cloud:
                issues = self._search_cloud(jql, fields, limit, progress, parse, expand)
            else:
                issues = self._search_server(jql, fields, limit, progress, parse, expand)
        keys = issues.keys()
        if len(set(keys)) != len(keys):  # an issue moved between pages: keep each key at its first place
            first = {k: n for n, k in reversed(list(enumerate(keys)))}
            issues = issues.take([n for n, k in enumerate(keys) if first[k] == n])
        if isinstance(issues, IssueColumns):  # the columns a columns parser built (JiraClient.search)
            return issues  # type: ignore[return-value]
        unique = list(issues)
        if full_changelog and expand and "changelog" in expand.split(","):
            self.complete_changelogs(unique, progress=progress)
        return unique

    # ------------------------------------------------------------------ changelogs
    def changelog(self, key: str) -> list[dict[str, Any]]:
        """Return one issue's whole changelog, oldest first, paged in 100 entries at a time.

        A Jira without ``GET /issue/{key}/changelog`` (Server/DC before it had one) answers 404;
        then the issue is read with ``expand=changelog``, which Server/DC embeds whole.
        """
        histories: list[dict[str, Any]] = []
        start = 0
        while True:
            r = self.session.get(f"{self.api}/issue/{key}/changelog", params={"startAt": start,
                                 "maxResults": CHANGELOG_PAGE}, check=False)
            if r.status_code == 404 and start == 0:
                r.close()
                return self._embedded_changelog(key)
            from labkit.http import raise_for_status

            page = raise_for_status(r).json()
            values = page.get("values") or []
            histories.extend(values)
            start += len(values)
            total = page.get("total")
            if not values or page.get("isLast") or (isinstance(total, int) and start >= total):
                return histories

    def _embedded_changelog(self, key: str) -> list[dict[str, Any]]:
        """Return the changelog embedded in ``GET /issue/{key}?expand=changelog`` (whole on Server/DC)."""
        issue = self.session.get(f"{self.api}/issue/{key}", params={"fields": "key", "expand": "changelog"}).json()
        return list((issue.get("changelog") or {}).get("histories") or [])

    def changelogs(self, issues: Sequence[str], *, progress: bool | None = None) -> dict[str, list[dict[str, Any]]]:
        """Return the whole changelog of each issue (ids or keys, as given), oldest first.

        Cloud: ``POST /rest/api/3/changelog/bulkfetch``, 1000 issues a call, the calls in parallel
        (give ids: the answer names issues by id). Server/DC: :meth:`changelog` per issue, in parallel.
        """
        wanted = list(dict.fromkeys(str(i) for i in issues))
        bar = self._bar(len(wanted), progress if progress is not None else
                        (None if len(wanted) >= CHANGELOG_PROGRESS_MIN else False), "changelogs")
        try:
            if self.is_cloud:
                return self._bulk_changelogs(wanted, bar)

            def one(key: str) -> tuple[str, list[dict[str, Any]]]:
                """Fetch one issue's changelog."""
                got = self.changelog(key)
                if bar is not None:
                    bar.update(1)
                return key, got

            return dict(self._parallel(one, wanted))
        finally:
            if bar is not None:
                bar.close()

    def _bulk_changelogs(self, wanted: list[str], bar: Any) -> dict[str, list[dict[str, Any]]]:
        """Cloud: the changelogs of issues by ids, 1000 a call, each call token-paged, calls in parallel."""
        def batch(ids: list[str]) -> dict[str, list[dict[str, Any]]]:
            """Fetch every page of one bulkfetch call; key the histories as the caller named the issues."""
            got: dict[str, list[dict[str, Any]]] = {i: [] for i in ids}
            token = None
            while True:
                body: dict[str, Any] = {"issueIdsOrKeys": ids, "maxResults": CHANGELOG_BULK_PAGE}
                if token:
                    body["nextPageToken"] = token
                page = self.session.post("/rest/api/3/changelog/bulkfetch", json=body, idempotent=True).json()
                for entry in page.get("issueChangeLogs") or []:
                    iid = str(entry.get("issueId"))
                    got.setdefault(iid, []).extend(entry.get("changeHistories") or [])
                token = page.get("nextPageToken")
                if not token:
                    break
            if bar is not None:
                bar.update(len(ids))
            return got

        out: dict[str, list[dict[str, Any]]] = {}
        for part in self._parallel(batch, [wanted[i:i + CHANGELOG_BULK] for i in range(0, len(wanted), CHANGELOG_BULK)]):
            out.update(part)
        return out

    def complete_changelogs(self, issues: list[dict[str, Any]], *, known: dict[str, list[dict[str, Any]]] | None = None,
                            progress: bool | None = None) -> int:
        """Page in the rest of every embedded changelog Jira cut short, in place; return how many were completed.

        An issue's changelog is cut short when :func:`labkit.jira.model.changelog_truncated` says so.
        ``known`` holds histories already stored per key (a mirror's): merged with the embedded ones
        by entry id, they may make a changelog whole without a call. Completed changelogs are
        oldest first with ``total`` equal to their length.
        """
        todo = []
        for issue in issues:
            log = issue.get("changelog")
            if not changelog_truncated(log):
                continue
            merged = _merge_histories((known or {}).get(issue["key"]) or [], log.get("histories") or [])
            total = log.get("total")
            if isinstance(total, int) and len(merged) >= total:
                issue["changelog"] = _whole(merged)
            else:
                todo.append(issue)
        if not todo:
            return 0
        names = [str(i.get("id") or i["key"]) if self.is_cloud else i["key"] for i in todo]
        fetched = self.changelogs(names, progress=progress)
        for issue, name in zip(todo, names, strict=True):
            full = _merge_histories(fetched.get(name) or [], issue["changelog"].get("histories") or [])
            issue["changelog"] = _whole(full)
        return len(todo)

    def search_keys(self, jql: str, *, limit: int | None = None) -> list[str]:
        """Return only the keys a JQL finds, in the server's order."""
        return [i["key"] for i in self.search_issues(jql, ["key"], limit=limit, progress=False)]

    def count(self, jql: str) -> int:
        """Return how many issues a JQL finds (Cloud: the approximate count Atlassian offers)."""
        with rejected_jql(jql):
            if self.is_cloud:
                r = self._post_search(f"{self.api}/search/approximate-count", {"jql": jql})
                return int(json.loads(r)["count"])
            r = self._post_search("/rest/api/2/search", {"jql": jql, "maxResults": 0, "fields": ["key"]})
            return int(json.loads(r)["total"])

    def _post_search(self, path: str, body: dict[str, Any]) -> bytes:
        """POST a search and return the answer's body: retried as idempotent, a read timeout only with
        ``retry_read_timeout`` (sent straight through the session's connection pool: see ``Session.content``)."""
        return self.session.content("POST", path, json=body, idempotent=True,
                                    retry_read_timeout=self.retry_read_timeout)

    def _bar(self, total: int | None, progress: bool | None, what: str = "jira search") -> Any:
        """Return a tqdm progress bar for long searches (or changelog fetches), or None."""
        show = progress if progress is not None else self.progress
        if show is None:
            show = bool(total and total >= (PROGRESS_MIN if what == "jira search" else CHANGELOG_PROGRESS_MIN))
        if not show:
            return None
        from tqdm.auto import tqdm

        return tqdm(total=total, unit="issue", desc=what, leave=False)

    def _page(self, jql: str, fields: Sequence[str], start: int, size: int,
              parse: Parser | None = None, expand: str | None = None) -> dict[str, Any]:
        """Fetch one classic search page (POST, retried as idempotent)."""
        body: dict[str, Any] = {"jql": jql, "startAt": start, "maxResults": size, "fields": list(fields)}
        if expand:
            body["expand"] = expand.split(",")
        return (parse or _parse_json)(self._post_search("/rest/api/2/search", body))

    def _search_server(self, jql: str, fields: Sequence[str], limit: int | None,
                       progress: bool | None, parse: Parser | None = None,
                       expand: str | None = None) -> IssueList | IssueColumns:
        """Server/DC: first page for the total, then the other pages concurrently."""
        want = self.page_size if limit is None else min(limit, self.page_size)
        first = self._page(jql, fields, 0, want, parse, expand)
        total = int(first.get("total", 0))
        if limit is not None:
            total = min(total, limit)
        issues = batch(first.get("issues"))
        size = int(first.get("maxResults") or len(issues) or want) or 1
        bar = self._bar(total, progress)
        if bar is not None:
            bar.update(len(issues))
        starts = list(range(len(issues), total, size)) if len(issues) else []

        def fetch(start: int) -> IssueList | IssueColumns:
            """Fetch one window of the result, filling short pages."""
            parts = []
            got = 0
            end = min(start + size, total)
            while start + got < end:  # a server may return short pages: fill the window
                page = batch(self._page(jql, fields, start + got, end - start - got, parse, expand).get("issues"))
                if not len(page):
                    break
                parts.append(page)
                got += len(page)
            if bar is not None:
                bar.update(got)
            return issues.join(parts) if parts else issues.head(0)

        try:
            issues = issues.join([issues, *self._parallel(fetch, starts)])
        finally:
            if bar is not None:
                bar.close()
        return issues.head(total) if limit is not None else issues

    def _search_cloud(self, jql: str, fields: Sequence[str], limit: int | None,
                      progress: bool | None, parse: Parser | None = None,
                      expand: str | None = None) -> IssueList | IssueColumns:
        """Cloud: ids by nextPageToken paging; each full batch of ids goes to a parallel bulkfetch at once.

        The details of the first ids are fetched while the next id pages come (the id paging is
        sequential by nature); the batches are joined in the order of the ids.
        """
        token: str | None = None
        light = all(f in ("id", "key") for f in fields) and not expand
        if light:
            found: list[Any] = []
            while True:
                page = self._id_search(jql, ["key"], token, _parse_json)
                found.extend(page.get("issues", []))
                token = page.get("nextPageToken")
                if not token or page.get("isLast") or (limit is not None and len(found) >= limit):
                    break
            return IssueList(found if limit is None else found[:limit])
        lock = threading.Lock()
        state: dict[str, Any] = {"done": 0, "bar": None}

        def advance(n: int) -> None:
            """Count fetched issues (on the progress bar once there is one)."""
            with lock:
                state["done"] += n
                if state["bar"] is not None:
                    state["bar"].update(n)

        def fetch(wanted: list[str]) -> IssueList | IssueColumns:
            """Fetch the details of one batch of issue ids, in the order asked for."""
            body: dict[str, Any] = {"issueIdsOrKeys": wanted, "fields": list(fields)}
            if expand:
                body["expand"] = expand.split(",")
            got = batch((parse or _parse_json)(self._post_search(f"{self.api}/issue/bulkfetch", body)).get("issues"))
            have = got.ids()
            if have != wanted:  # another order, or some missing: as asked, each id once (its last answer)
                at = {i: n for n, i in enumerate(have)}
                got = got.take([at[i] for i in wanted if i in at])
            advance(len(wanted))
            return got

        pool = ThreadPoolExecutor(self.workers, thread_name_prefix="jira-page") if self.workers > 1 else None
        batches: list[Any] = []  # futures (or, with one worker, the id batches to fetch in turn)
        pending: list[str] = []
        count = 0
        try:
            while True:
                page = self._id_search(jql, ["id"], token, _id_page)  # keeps only the ids
                new = [str(i) for i in page.get("issues", [])]
                if limit is not None:
                    new = new[:max(0, limit - count)]
                count += len(new)
                pending.extend(new)
                while len(pending) >= BULKFETCH:
                    batches.append(pool.submit(fetch, pending[:BULKFETCH]) if pool else pending[:BULKFETCH])
                    del pending[:BULKFETCH]
                token = page.get("nextPageToken")
                if not token or page.get("isLast") or (limit is not None and count >= limit):
                    break
            if pending:
                batches.append(pool.submit(fetch, pending) if pool else pending)
            with lock:
                bar = state["bar"] = self._bar(count, progress)
                if bar is not None:
                    bar.update(state["done"])
            parts = [b.result() if pool else fetch(b) for b in batches]
        finally:
            if pool is not None:
                pool.shutdown(wait=True, cancel_futures=True)
            if state["bar"] is not None:
                state["bar"].close()
        return parts[0].join(parts) if parts else IssueList()

    def _id_search(self, jql: str, fields: list[str], token: str | None, read: Parser) -> dict[str, Any]:
        """One Cloud ``search/jql`` page of ids (or keys), decoded by ``read``."""
        body: dict[str, Any] = {"jql": jql, "fields": fields, "maxResults": min(CLOUD_ID_PAGE, self.page_size * 5)}
        if token:
            body["nextPageToken"] = token
        return read(self._post_search(f"{self.api}/search/jql", body))

    def _parallel(self, fn: Callable[[Any], Any], items: list[Any]) -> Iterable[Any]:
        """Map fn over items with the client's worker threads, keeping order."""
        if len(items) <= 1 or self.workers == 1:
            return (fn(i) for i in items)
        pool = ThreadPoolExecutor(self.workers, thread_name_prefix="jira-page")
        try:
            return list(pool.map(fn, items))
        finally:
            pool.shutdown(wait=True)

    def iter_pages(self, jql: str, fields: Sequence[str] = ("*all",), *, cursor: Any = None,
                   page_size: int = 100, expand: str | None = None) -> Iterable[tuple[list[dict[str, Any]], Any]]:
        """Yield ``(issues, next_cursor)`` page by page, sequentially; ``next_cursor`` resumes (None at the end).

        The cursor is a ``startAt`` on Server/DC and a ``nextPageToken`` on Cloud, where REST v2 is used
        so rich-text fields come as plain text (v3 sends Atlassian Document Format). ``expand`` as in
        a search (embedded changelogs come as Jira cuts them: see :meth:`complete_changelogs`).
        """
        while True:
            if self.is_cloud:
                body: dict[str, Any] = {"jql": jql, "fields": list(fields), "maxResults": page_size}
                if expand:
                    body["expand"] = expand
                if cursor:
                    body["nextPageToken"] = cursor
                with rejected_jql(jql):
                    page = json.loads(self._post_search("/rest/api/2/search/jql", body))
                issues = page.get("issues", [])
                cursor = page.get("nextPageToken")
                yield issues, cursor
                if not cursor:
                    return
            else:
                start = int(cursor or 0)
                with rejected_jql(jql):
                    page = self._page(jql, fields, start, page_size, expand=expand)
                issues = page.get("issues", [])
                nxt = start + len(issues)
                cursor = nxt if issues and nxt < int(page.get("total", 0)) else None
                yield issues, cursor
                if cursor is None:
                    return

    # ------------------------------------------------------------------ issues
    def issue(self, key: str, fields: Sequence[str] | None = None) -> dict[str, Any]:
        """Return one issue's REST JSON."""
        params = {"fields": ",".join(fields)} if fields else None
        return self.session.get(f"{self.api}/issue/{key}", params=params).json()

    def create_issue(self, fields: dict[str, Any]) -> dict[str, Any]:
        """Create an issue; return ``{"id", "key", "self"}``."""
        return self.session.post(f"{self.api}/issue", json={"fields": fields}).json()

    def update_issue(self, key: str, fields: dict[str, Any]) -> None:
        """Set fields of an issue."""
        self.session.put(f"{self.api}/issue/{key}", json={"fields": fields})

    def add_link(self, type_name: str, inward_key: str, outward_key: str) -> None:
        """Create an issue link as Jira's ``POST /issueLink`` takes it."""
        self.session.post(f"{self.api}/issueLink", json={"type": {"name": type_name},
                                                         "inwardIssue": {"key": inward_key},
                                                         "outwardIssue": {"key": outward_key}})

    # ------------------------------------------------------------------ rank (the RankClient protocol)
    def rank(self, issues: Sequence[str], *, before: str | None = None,
             after: str | None = None) -> list[dict[str, Any]]:
        """Move issues (in this order) right before or after another; return the 207 entries ([] when all moved).

        More than 50 issues go in batches that keep their order.
        """
        if (before is None) == (after is None):
            raise JiraError("rank needs exactly one of before= and after=", hint="say where the issues go")
        keys = list(issues)
        entries: list[dict[str, Any]] = []
        anchor_after = after
        for i in range(0, len(keys), RANK_BATCH):
            batch = keys[i:i + RANK_BATCH]
            body: dict[str, Any] = {"issues": batch}
            if before is not None:
                body["rankBeforeIssue"] = before
            else:
                body["rankAfterIssue"] = anchor_after
            r = self.session.put("/rest/agile/1.0/issue/rank", json=body)
            if r.status_code == 207:
                entries.extend(r.json().get("entries", []))
            anchor_after = batch[-1]
        return entries

    def backlog_order(self, jql: str) -> list[str]:
        """Return the keys a JQL finds in rank order (top of the backlog first)."""
        return self.search_keys(with_rank_order(jql))


def _history_order(h: dict[str, Any]) -> tuple[datetime, int, str]:
    """Sort key of a changelog entry: its time (UTC), then its id (Jira's ids grow with time)."""
    hid = str(h.get("id") or "")
    return (jira_time(h.get("created")) or _EPOCH, int(hid) if hid.isdigit() else 0, hid)


def _merge_histories(*parts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Join changelog entries from several sources, once per entry id, oldest first."""
    seen: dict[str, dict[str, Any]] = {}
    for part in parts:
        for h in part:
            seen.setdefault(str(h.get("id")) if h.get("id") is not None else f"#{len(seen)}", h)
    return sorted(seen.values(), key=_history_order)


def _whole(histories: list[dict[str, Any]]) -> dict[str, Any]:
    """A complete changelog object."""
    return {"startAt": 0, "maxResults": len(histories), "total": len(histories), "histories": histories}


def _pooled(workers: int) -> Any:
    """Return an HTTPAdapter with enough pooled connections for the page workers."""
    from requests.adapters import HTTPAdapter

    return HTTPAdapter(pool_connections=4, pool_maxsize=max(10, workers * 2))
