"""A search's pages as the normalised columns: msgspec decoding, the columns built column by column, page batches.

The client's paging code (:mod:`labkit.jira.client.rest`) handles each page's issues as a batch:
:class:`IssueList` (plain REST issues, what ``search_issues`` returns) or :class:`IssueColumns`
(the normalised columns of a page, what ``JiraClient.search`` builds its DataFrame from). Both
answer ``keys()``, ``ids()``, ``take()``, ``head()`` and ``join()``, so one paging code serves both,
and the fast search never holds a row object per issue: pages' columns are joined column by column.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Sequence
from typing import Any

from labkit.jira.model import RANK_FIELD, SEARCH_COLUMNS, WORDING, BlockingRule

COLUMNS = SEARCH_COLUMNS
DEFAULT_RANK_FIELD = RANK_FIELD
Parser = Callable[[bytes], dict[str, Any]]


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
    if Fields.__struct_fields__ != _FIELD_ORDER:  # search_columns unpacks the fields in this order
        raise RuntimeError(f"page_parser's Fields {Fields.__struct_fields__} differ from {_FIELD_ORDER}")
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
    if issues and isinstance(issues[0], dict):  # a page that fell back to plain JSON (all dicts, never mixed)
        rows = [normalise(i, rank_field, rule=rule) for i in issues]
        return {c: _shared([r[c] for r in rows], shared) if c in _REPEATED else [r[c] for r in rows] for c in COLUMNS}
    from msgspec.structs import astuple

    keys = [i.key for i in issues]
    fields = [i.fields for i in issues]
    try:  # each issue's fields as one tuple, then per field across issues: both in C
        columns = list(zip(*map(astuple, fields), strict=True))
    except TypeError:  # an issue without fields: every field absent
        columns = list(zip(*(astuple(f) if f is not None else _NO_FIELDS for f in fields), strict=True))
    if not columns:
        columns = [()] * len(_FIELD_ORDER)
    (summary, status, issuetype, priority, assignee, reporter, created, updated, resolved, labels, components,
     links, rank) = columns

    def named(values: Sequence[Any]) -> list[Any]:
        """A named object's name (or option value) per issue."""
        return [None if v is None else (v.name if v.name is not None else v.value) for v in values]

    def user(values: Sequence[Any]) -> list[Any]:
        """A user's display name (or login, or account id) per issue."""
        return [None if u is None else (u.displayName or u.name or u.accountId) for u in values]

    # most issues have no links: only those with some are read, and a decoded empty list is its issue's blocked_by
    blocked_by: list[list[str]] = [[] if ls is None or ls else ls for ls in links]
    blocks: list[list[str]] = [[] for _ in links]
    for n in [n for n, issue_links in enumerate(links) if issue_links]:
        sides = []
        for lk in links[n]:
            t = lk.type
            if t is None:
                continue
            if lk.outwardIssue is not None:
                sides.append((t.name, t.inward, t.outward, "outward", lk.outwardIssue.key))
            elif lk.inwardIssue is not None:
                sides.append((t.name, t.inward, t.outward, "inward", lk.inwardIssue.key))
        if sides:
            blocked_by[n], blocks[n] = rule.sides(sides)
    return {
        "key": keys, "summary": list(summary),
        "status": _shared([None if s is None else s.name for s in status], shared),
        "status_category": _shared([None if s is None or s.statusCategory is None else s.statusCategory.name
                                    for s in status], shared),
        "issuetype": _shared(named(issuetype), shared), "priority": _shared(named(priority), shared),
        "assignee": _shared(user(assignee), shared), "reporter": _shared(user(reporter), shared),
        "created": list(created), "updated": list(updated), "resolved": list(resolved),
        # a decoded list is this issue's own (its struct is dropped): kept when it needs no change
        "labels": [[] if ls is None else ls if len(ls) < 2 else sorted(ls) for ls in labels],
        "components": [([] if cs is None else cs) if not cs else [cs[0].name if cs[0].name is not None else cs[0].value]
                       if len(cs) == 1 else sorted([c.name if c.name is not None else c.value for c in cs])
                       for cs in components],
        "rank": list(rank), "blocked_by": blocked_by, "blocks": blocks,
    }


_REPEATED = frozenset({"status", "status_category", "issuetype", "priority", "assignee", "reporter"})


def _shared(values: list[Any], shared: dict[Any, Any] | None) -> list[Any]:
    """The values with each repeated one replaced by the first equal object ``shared`` holds (as they are without it)."""
    if shared is None:
        return values
    keep = shared.setdefault
    try:
        return list(map(keep, values, values))
    except TypeError:  # an odd, unhashable value (a name that is an object): keep the column as it is
        return values


_FIELD_ORDER = ("summary", "status", "issuetype", "priority", "assignee", "reporter", "created", "updated",
                "resolutiondate", "labels", "components", "issuelinks", "rank")  # the decoded Fields struct's order
_NO_FIELDS = (None,) * len(_FIELD_ORDER)  # an issue without ``fields``: every field absent


class IssueList(list):
    """A page (or a search) of plain REST issues (dicts, or structs with item access) as a batch."""

    def keys(self) -> list[Any]:
        """Each issue's key."""
        return [i["key"] for i in self]

    def ids(self) -> list[str]:
        """Each issue's id, as text."""
        return [str(i["id"]) for i in self]

    def take(self, positions: Sequence[int]) -> IssueList:
        """The issues at these positions, in this order."""
        return IssueList([self[n] for n in positions])

    def head(self, n: int) -> IssueList:
        """The first ``n`` issues."""
        return IssueList(self[:n])

    @staticmethod
    def join(parts: Sequence[IssueList]) -> IssueList:
        """The batches one after the other."""
        out = IssueList()
        for part in parts:
            out.extend(part)
        return out


class IssueColumns:
    """A page (or a search) of issues as the normalised columns (:data:`COLUMNS`) plus the issue ids."""

    __slots__ = ("_ids", "columns")

    def __init__(self, columns: dict[str, list[Any]], ids: list[Any]) -> None:
        """Hold the columns (equal lengths) and the ids of the same issues."""
        self.columns = columns
        self._ids = ids

    def __len__(self) -> int:
        """How many issues."""
        return len(self._ids)

    def keys(self) -> list[Any]:
        """Each issue's key (the key column itself)."""
        return self.columns["key"]

    def ids(self) -> list[str]:
        """Each issue's id, as text."""
        return [i if type(i) is str else str(i) for i in self._ids]

    def take(self, positions: Sequence[int]) -> IssueColumns:
        """The issues at these positions, in this order."""
        return IssueColumns({c: [v[n] for n in positions] for c, v in self.columns.items()},
                            [self._ids[n] for n in positions])

    def head(self, n: int) -> IssueColumns:
        """The first ``n`` issues."""
        return IssueColumns({c: v[:n] for c, v in self.columns.items()}, self._ids[:n])

    @staticmethod
    def join(parts: Sequence[IssueColumns]) -> IssueColumns:
        """The batches one after the other, column by column."""
        if len(parts) == 1:
            return parts[0]
        columns: dict[str, list[Any]] = {c: [] for c in COLUMNS}
        ids: list[Any] = []
        for part in parts:
            for c, values in part.columns.items():
                columns[c] += values
            ids += part._ids
        return IssueColumns(columns, ids)


def batch(issues: Any) -> IssueList | IssueColumns:
    """A page's ``issues`` as a batch (a list becomes an :class:`IssueList`)."""
    return issues if isinstance(issues, (IssueColumns, IssueList)) else IssueList(issues or ())


def columns_parser(rank_field: str = DEFAULT_RANK_FIELD, rule: BlockingRule = WORDING) -> Parser | None:
    """Return a parser that turns a search/bulkfetch page straight into its :class:`IssueColumns`.

    Columns are built per page (see :func:`search_columns`), each repeated name kept once across the
    search; None when msgspec is missing.
    """
    parse = page_parser(rank_field)
    if parse is None:
        return None
    shared: dict[Any, Any] = {}

    def columns(content: bytes) -> dict[str, Any]:
        """Decode one page and keep only its columns and ids."""
        page = parse(content)
        issues = page.get("issues") or []
        ids = [i.get("id") for i in issues] if issues and isinstance(issues[0], dict) else [i.id for i in issues]
        return {"total": page.get("total"), "maxResults": page.get("maxResults"),
                "issues": IssueColumns(search_columns(issues, rank_field, rule, shared), ids)}

    return columns
