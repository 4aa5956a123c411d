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
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import repeat
from typing import Any

from labkit.errors import HttpError
from labkit.jira.errors import JiraError
from labkit.jira.model import (
    LEXO_RANK,
    RANK_FIELD,
    SEARCH_COLUMNS,
    SEARCH_DATE_COLUMNS,
    WORDING,
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
Parser = Callable[[bytes], dict[str, Any]]


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


@functools.lru_cache(maxsize=8)
def page_parser(rank_field: str = DEFAULT_RANK_FIELD) -> Parser | None:
    """Return a parser that decodes a search/bulkfetch page into typed issue structs (msgspec, in C).

    Only the fields the columns need are decoded; a page that does not fit the expected shape
    falls back to plain JSON (dict issues, which :func:`search_columns` also takes). None when
    msgspec is missing.
    """
    try:
        import msgspec
    except ImportError:
        return None
    from msgspec import defstruct, field

    # defstruct, not class syntax: this module's postponed annotations cannot see local classes.
    def struct(name: str, *fields: tuple[Any, ...], **kw: Any) -> Any:
        """Define a msgspec Struct (no GC tracking: decoded trees have no cycles)."""
        return defstruct(name, [(f[0], f[1], f[2] if len(f) > 2 else None) for f in fields], gc=False, **kw)

    Named = struct("Named", ("name", Any), ("value", Any))
    Category = struct("Category", ("name", Any))
    Status = struct("Status", ("name", Any), ("statusCategory", Category | None))
    User = struct("User", ("displayName", Any), ("name", Any), ("accountId", Any))
    LinkType = struct("LinkType", ("name", Any), ("inward", Any), ("outward", Any))
    Ref = struct("Ref", ("key", Any))
    Link = struct("Link", ("type", LinkType | None), ("inwardIssue", Ref | None), ("outwardIssue", Ref | None))
    Fields = struct("Fields", ("summary", Any), ("status", Status | None), ("issuetype", Named | None),
                    ("priority", Named | None), ("assignee", User | None), ("reporter", User | None),
                    ("created", Any), ("updated", Any), ("resolutiondate", Any), ("labels", list[Any] | None),
                    ("components", list[Named] | None), ("issuelinks", list[Link] | None),
                    ("rank", Any, field(default=None, name=rank_field)))
    # item access (issue["key"]) lets the paging code treat these like the dicts of plain JSON
    Issue = struct("Issue", ("id", Any), ("key", Any), ("fields", Fields | None),
                   namespace={"__getitem__": lambda self, name: getattr(self, name)})
    Page = struct("Page", ("total", int | None), ("maxResults", int | None), ("issues", list[Issue], []))
    decoder = msgspec.json.Decoder(Page)

    def parse(content: bytes) -> dict[str, Any]:
        """Decode a search page into issue structs (falling back to plain JSON for unexpected shapes)."""
        try:
            page = decoder.decode(content)
        except msgspec.ValidationError:
            return json.loads(content)
        return {"total": page.total, "maxResults": page.maxResults, "issues": page.issues}

    return parse


def search_columns(issues: list[Any], rank_field: str = DEFAULT_RANK_FIELD,
                   rule: BlockingRule = WORDING, shared: dict[Any, Any] | None = None) -> dict[str, list[Any]]:
    """Return the normalised columns of decoded issues (structs of :func:`page_parser`), built column by column.

    Dict issues (plain JSON) go through :func:`normalise` row by row. With ``shared`` (a dict kept
    across pages), the columns of names that repeat (status, type, priority, people) hold one string
    object per distinct name instead of one per issue.
    """
    if any(isinstance(i, dict) for i in issues):
        rows = [normalise(i, rank_field, rule=rule) for i in issues]
        return {c: _shared([r[c] for r in rows], shared) if c in _REPEATED else [r[c] for r in rows] for c in COLUMNS}
    fs = [i.fields for i in issues]
    st = [f.status if f is not None else None for f in fs]
    fs = [f if f is not None else _NO_FIELDS for f in fs]

    def named(attr: str) -> list[Any]:
        """A named object's name (or option value) per issue."""
        return [None if (v := getattr(f, attr)) is None else (v.name if v.name is not None else v.value) for f in fs]

    def user(attr: str) -> list[Any]:
        """A user's display name (or login, or account id) per issue."""
        return [None if (u := getattr(f, attr)) is None else (u.displayName or u.name or u.accountId) for f in fs]

    blocked_by: list[list[str]] = []
    blocks: list[list[str]] = []
    for f in fs:
        sides = []
        for lk in f.issuelinks or ():
            t = lk.type
            if t is None:
                continue
            if lk.outwardIssue is not None:
                sides.append((t.name, t.inward, t.outward, "outward", lk.outwardIssue.key))
            elif lk.inwardIssue is not None:
                sides.append((t.name, t.inward, t.outward, "inward", lk.inwardIssue.key))
        by, bl = rule.sides(sides) if sides else ([], [])
        blocked_by.append(by)
        blocks.append(bl)
    return {
        "key": [i.key for i in issues], "summary": [f.summary for f in fs],
        "status": _shared([None if s is None else s.name for s in st], shared),
        "status_category": _shared([None if s is None or s.statusCategory is None else s.statusCategory.name
                                    for s in st], shared),
        "issuetype": _shared(named("issuetype"), shared), "priority": _shared(named("priority"), shared),
        "assignee": _shared(user("assignee"), shared), "reporter": _shared(user("reporter"), shared),
        "created": [f.created for f in fs], "updated": [f.updated for f in fs],
        "resolved": [f.resolutiondate for f in fs],
        "labels": [(ls if len(ls) == 1 else sorted(ls)) if (ls := f.labels) else [] for f in fs],  # a decoded list
        "components": [sorted(c.name if c.name is not None else c.value for c in cs) if len(cs := f.components or ()) > 1
                       else [cs[0].name if cs[0].name is not None else cs[0].value] if cs else [] for f in fs],
        "rank": [f.rank for f in fs], "blocked_by": blocked_by, "blocks": blocks,
    }


_REPEATED = frozenset({"status", "status_category", "issuetype", "priority", "assignee", "reporter"})


def _shared(values: list[Any], shared: dict[Any, Any] | None) -> list[Any]:
    """The values with each repeated one replaced by the first equal object ``shared`` holds (as they are without it)."""
    if shared is None:
        return values
    keep = shared.setdefault
    try:
        return [keep(v, v) for v in values]
    except TypeError:  # an odd, unhashable value (a name that is an object): keep the column as it is
        return values


class _Row(tuple):
    """One decoded issue as a search keeps it: its normalised values in :data:`COLUMNS` order, then its id.

    A page's issues become rows as soon as it arrives, so a search never holds every decoded issue
    at once; ``row["key"]`` and ``row["id"]`` let the paging code treat a row like an issue.
    """

    __slots__ = ()

    def __getitem__(self, i: Any) -> Any:
        """Item access by position, or "key" / "id" as on an issue."""
        if i == "key":
            return tuple.__getitem__(self, 0)
        if i == "id":
            return tuple.__getitem__(self, -1)
        return tuple.__getitem__(self, i)


def row_parser(rank_field: str = DEFAULT_RANK_FIELD, rule: BlockingRule = WORDING) -> Parser | None:
    """Return a parser that turns a search/bulkfetch page straight into rows of the normalised columns (:class:`_Row`).

    Columns are built per page (see :func:`search_columns`), each repeated name kept once across the
    search; None when msgspec is missing.
    """
    parse = page_parser(rank_field)
    if parse is None:
        return None
    shared: dict[Any, Any] = {}

    def rows(content: bytes) -> dict[str, Any]:
        """Decode one page and keep only its rows."""
        page = parse(content)
        issues = page.get("issues") or []
        cols = search_columns(issues, rank_field, rule, shared)
        ids = [i.get("id") if isinstance(i, dict) else i.id for i in issues]
        return {"total": page.get("total"), "maxResults": page.get("maxResults"),
                "issues": list(map(_Row, zip(*(cols[c] for c in COLUMNS), ids, strict=True)))}

    return rows


class _NoFields:
    """Stands in for an issue without ``fields``: every field is absent."""

    def __getattr__(self, name: str) -> None:
        """Return None for any field."""
        return None


_NO_FIELDS = _NoFields()


def base_fields(rank_field: str = DEFAULT_RANK_FIELD) -> list[str]:
    """Return the REST fields the normalised columns are made of."""
    return ["summary", "status", "issuetype", "priority", "assignee", "reporter", "created", "updated",
            "resolutiondate", "labels", "components", "issuelinks", rank_field]


def _name(value: Any) -> Any:
    """Return an object's name (or value), or the value itself."""
    if isinstance(value, dict):
        return value.get("name") if value.get("name") is not None else value.get("value")
    return value


def _user(value: Any) -> Any:
    """Return a user's display name (or login, or account id)."""
    if isinstance(value, dict):
        return value.get("displayName") or value.get("name") or value.get("accountId")
    return value


def normalise(issue: dict[str, Any], rank_field: str = DEFAULT_RANK_FIELD,
              extra: Sequence[str] = (), rule: BlockingRule = WORDING) -> dict[str, Any]:
    """Turn one REST issue into a row of the normalised columns (plus ``extra`` raw fields)."""
    f = issue.get("fields") or {}
    status = f.get("status") or {}
    blocked_by, blocks = rule.blocking(f)
    row = {
        "key": issue.get("key"),
        "summary": f.get("summary"),
        "status": _name(status),
        "status_category": _name(status.get("statusCategory")) if isinstance(status, dict) else None,
        "issuetype": _name(f.get("issuetype")),
        "priority": _name(f.get("priority")),
        "assignee": _user(f.get("assignee")),
        "reporter": _user(f.get("reporter")),
        "created": f.get("created"),
        "updated": f.get("updated"),
        "resolved": f.get("resolutiondate"),
        "labels": sorted(f.get("labels") or []),
        "components": sorted(_name(c) for c in f.get("components") or []),
        "rank": f.get(rank_field),
        "blocked_by": blocked_by,
        "blocks": blocks,
    }
    for name in extra:
        if name not in row:
            row[name] = f.get(name)
    return row


def to_dataframe(rows: list[dict[str, Any]] | dict[str, list[Any]], extra: Sequence[str] = (),
                 raw: list[Any] | None = None):
    """Build the search DataFrame: normalised columns (rows, or columns by name), UTC timestamps, then extras (and ``raw``)."""
    import pandas as pd

    cols = COLUMNS + [c for c in extra if c not in COLUMNS]
    df = pd.DataFrame(rows, columns=cols)
    for c in SEARCH_DATE_COLUMNS:
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
        fast = None if extra or raw else row_parser(rank, self.blocking)
        if fast is not None:  # each page decoded into typed structs, then rows: no JSON tree or dict per issue
            from labkit.bulk import no_gc

            with no_gc():
                rows = self.search_issues(jql, wanted, limit=limit, progress=progress, parse=fast)
                get = tuple.__getitem__  # column by column, no row-sized tuples on top of the rows
                columns = {c: list(map(get, rows, repeat(n, len(rows)))) for n, c in enumerate(COLUMNS)}
                del rows
                return to_dataframe(columns)
        issues = self.search_issues(jql, wanted, limit=limit, progress=progress)
        rows = [normalise(i, rank, extra, self.blocking) for i in issues]
        return to_dataframe(rows, extra, issues if raw else None)

    def search_issues(self, jql: str, fields: Sequence[str] | None = None, *, limit: int | None = None,
                      progress: bool | None = None, parse: Parser | None = None,
                      expand: str | None = None, full_changelog: bool = True) -> list[dict[str, Any]]:
        """Return the raw REST issues of a search, complete, in order and without duplicates.

        ``parse`` turns a response body into ``{"total", "maxResults", "issues"}`` (default: JSON);
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
        keys = [i["key"] for i in issues]
        if len(set(keys)) == len(keys):  # the usual case: nothing moved between pages
            unique = list(issues)
        else:
            first = {k: n for n, k in reversed(list(enumerate(keys)))}  # each key at its first place
            unique = [i for n, (k, i) in enumerate(zip(keys, issues, strict=True)) if first[k] == n]
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
                return int(r.json()["count"])
            r = self._post_search("/rest/api/2/search", {"jql": jql, "maxResults": 0, "fields": ["key"]})
            return int(r.json()["total"])

    def _post_search(self, path: str, body: dict[str, Any]) -> Any:
        """POST a search: retried as idempotent, but a read timeout only with ``retry_read_timeout``."""
        return self.session.post(path, json=body, idempotent=True, retry_read_timeout=self.retry_read_timeout)

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
        return (parse or _parse_json)(self._post_search("/rest/api/2/search", body).content)

    def _search_server(self, jql: str, fields: Sequence[str], limit: int | None,
                       progress: bool | None, parse: Parser | None = None,
                       expand: str | None = None) -> list[dict[str, Any]]:
        """Server/DC: first page for the total, then the other pages concurrently."""
        want = self.page_size if limit is None else min(limit, self.page_size)
        first = self._page(jql, fields, 0, want, parse, expand)
        total = int(first.get("total", 0))
        if limit is not None:
            total = min(total, limit)
        issues = list(first.get("issues", []))
        size = int(first.get("maxResults") or len(issues) or want) or 1
        bar = self._bar(total, progress)
        if bar is not None:
            bar.update(len(issues))
        starts = list(range(len(issues), total, size)) if issues else []

        def fetch(start: int) -> list[dict[str, Any]]:
            """Fetch one window of the result, filling short pages."""
            got: list[dict[str, Any]] = []
            end = min(start + size, total)
            while start + len(got) < end:  # a server may return short pages: fill the window
                page = self._page(jql, fields, start + len(got), end - start - len(got), parse,
                                  expand).get("issues", [])
                if not page:
                    break
                got.extend(page)
            if bar is not None:
                bar.update(len(got))
            return got

        try:
            for page in self._parallel(fetch, starts):
                issues.extend(page)
        finally:
            if bar is not None:
                bar.close()
        return issues[:total] if limit is not None else issues

    def _search_cloud(self, jql: str, fields: Sequence[str], limit: int | None,
                      progress: bool | None, parse: Parser | None = None,
                      expand: str | None = None) -> list[dict[str, Any]]:
        """Cloud: ids by nextPageToken paging, then details by parallel bulkfetch."""
        found: list[Any] = []
        token: str | None = None
        light = all(f in ("id", "key") for f in fields) and not expand
        read = _parse_json if light else _id_page  # the details come later: keep only the ids of the id pages
        while True:
            body: dict[str, Any] = {"jql": jql, "fields": ["key"] if light else ["id"],
                                    "maxResults": min(CLOUD_ID_PAGE, self.page_size * 5)}
            if token:
                body["nextPageToken"] = token
            page = read(self._post_search(f"{self.api}/search/jql", body).content)
            found.extend(page.get("issues", []))
            token = page.get("nextPageToken")
            if not token or page.get("isLast") or (limit is not None and len(found) >= limit):
                break
        if limit is not None:
            found = found[:limit]
        if light:
            return found
        ids = [str(i) for i in found]
        del found
        bar = self._bar(len(ids), progress)
        batches = [ids[i:i + BULKFETCH] for i in range(0, len(ids), BULKFETCH)]

        def fetch(batch: list[str]) -> list[dict[str, Any]]:
            """Fetch the details of one batch of issue ids."""
            body: dict[str, Any] = {"issueIdsOrKeys": batch, "fields": list(fields)}
            if expand:
                body["expand"] = expand.split(",")
            r = (parse or _parse_json)(self._post_search(f"{self.api}/issue/bulkfetch", body).content)
            by_id = {str(i["id"]): i for i in r.get("issues", [])}
            if bar is not None:
                bar.update(len(batch))
            return [by_id[i] for i in batch if i in by_id]

        issues: list[dict[str, Any]] = []
        try:
            for got in self._parallel(fetch, batches):
                issues.extend(got)
        finally:
            if bar is not None:
                bar.close()
        return issues

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
                    page = self._post_search("/rest/api/2/search/jql", body).json()
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
