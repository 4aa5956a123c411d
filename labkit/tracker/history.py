"""Issue histories as tables: REST issue JSON flattened into an issue frame, a changelog frame and its counts.

    frame, log, counts = read_issues(client.search_issues(jql, expand="changelog"))
    log = changelog_frame(issues)           # key, at, field, from, to, author, history
    counts = changelog_counts(issues)       # key, total, held, truncated: is any history missing?

Built column by column in one pass (no dict per row), so two million entries fit in memory and
take seconds. Timestamps are parsed to UTC; entries keep their order within an issue (time, then
the entry's position), which decides between two changes in the same second.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from labkit.jira.model import category_key, changelog_truncated, jira_time

LOG_COLUMNS = ["key", "at", "field", "from", "to", "author", "history"]
COUNT_COLUMNS = ["key", "total", "held", "truncated"]
ISSUE_COLUMNS = ["key", "created", "resolved", "status", "status_category", "blocked_by"]


def utc(values: Any):  # -> pandas.Series of datetime64[ns, UTC]
    """Parse Jira timestamps (``...+0000``, RFC 3339, or dates) as UTC; unparseable ones become NaT."""
    import pandas as pd

    s = values if isinstance(values, pd.Series) else pd.Series(values, dtype=object)
    if pd.api.types.is_datetime64_any_dtype(s):
        return s.dt.tz_convert("UTC") if s.dt.tz is not None else s.dt.tz_localize("UTC")
    try:  # the usual REST form, parsed fast
        return pd.to_datetime(s, utc=True, format="%Y-%m-%dT%H:%M:%S.%f%z")
    except (ValueError, TypeError):  # any other form: the model's one parser, value by value
        return pd.to_datetime(s.map(jira_time), utc=True)


def _author(h: dict[str, Any]) -> Any:
    """The display name (or login) of a history's author."""
    a = h.get("author") or {}
    return a.get("displayName") or a.get("name") or a.get("accountId")


def _histories(issue: dict[str, Any]) -> list[dict[str, Any]]:
    """An issue's changelog entries (REST ``changelog.histories``, or a bare list)."""
    log = issue.get("changelog")
    if isinstance(log, list):
        return log
    return (log or {}).get("histories") or []


class _LogColumns:
    """The columns of a changelog frame, filled issue by issue."""

    def __init__(self) -> None:
        self.key: list[Any] = []
        self.at: list[Any] = []
        self.field: list[Any] = []
        self.frm: list[Any] = []
        self.to: list[Any] = []
        self.author: list[Any] = []
        self.history: list[Any] = []
        self.ckey: list[Any] = []
        self.total: list[Any] = []
        self.held: list[int] = []
        self.cut: list[bool] = []

    def add(self, issue: dict[str, Any]) -> None:
        """Append one issue's entries and its counts."""
        key = issue.get("key")
        raw = issue.get("changelog")
        hs = _histories(issue)
        for h in hs:
            at, who, hid = h.get("created"), _author(h), h.get("id")
            for it in h.get("items") or ():
                self.key.append(key)
                self.at.append(at)
                self.field.append(it.get("field"))
                self.frm.append(it.get("fromString"))
                self.to.append(it.get("toString"))
                self.author.append(who)
                self.history.append(hid)
        self.ckey.append(key)
        if isinstance(raw, dict):
            total = raw.get("total")
            self.total.append(total if isinstance(total, int) else None)
            self.cut.append(changelog_truncated(raw))
        else:  # a bare list (some exports) or none: no total to compare with
            self.total.append(None)
            self.cut.append(raw is not None and changelog_truncated({"histories": hs}))
        self.held.append(len(hs))

    def frames(self):  # -> (log, counts)
        """The changelog frame (time-ordered within each issue) and the per-issue counts."""
        import pandas as pd

        log = pd.DataFrame({"key": self.key, "at": utc(pd.Series(self.at, dtype=object)), "field": self.field,
                            "from": self.frm, "to": self.to, "author": self.author, "history": self.history},
                           columns=LOG_COLUMNS)
        log = log.sort_values(["key", "at"], kind="stable").reset_index(drop=True)
        counts = pd.DataFrame({"key": self.ckey, "total": pd.array(self.total, dtype="Int64"),
                               "held": self.held, "truncated": self.cut}, columns=COUNT_COLUMNS)
        return log, counts


def changelog_frame(issues: Iterable[dict[str, Any]]):  # -> pandas.DataFrame
    """Flatten REST issues' ``changelog.histories`` into rows: key, at, field, from, to, author, history (entry id)."""
    cols = _LogColumns()
    for issue in issues:
        cols.add(issue)
    return cols.frames()[0]


def changelog_counts(issues: Iterable[dict[str, Any]]):  # -> pandas.DataFrame
    """Per issue: the changelog's ``total``, the entries held, and whether Jira cut it short (``truncated``)."""
    cols = _LogColumns()
    for issue in issues:
        cols.add(issue)
    return cols.frames()[1]


def _field(fields: dict[str, Any], *names: str) -> Any:
    """The first present of several field names (REST ids, or the display names some exports use)."""
    for n in names:
        if n in fields:
            return fields[n]
    return None


def read_issues(issues: Iterable[dict[str, Any]], *, rule: Any = None):  # -> (frame, log, counts)
    """Read REST issues once into the issue frame (key, created, resolved, status, status_category, blocked_by),
    the changelog frame and the changelog counts.

    ``rule`` decides ``blocked_by`` (:class:`labkit.jira.model.BlockingRule`; the wording rule if None).
    Issues may stream from a generator: each is read and let go.
    """
    import pandas as pd

    from labkit.jira.model import WORDING

    rule = rule or WORDING
    cols = _LogColumns()
    keys, created, resolved, status, cat, blocked = [], [], [], [], [], []
    for issue in issues:
        f = issue.get("fields") or {}
        st = _field(f, "status", "Status") or {}
        keys.append(issue.get("key"))
        created.append(_field(f, "created", "Created"))
        resolved.append(_field(f, "resolutiondate", "Resolved"))
        status.append(st.get("name") if isinstance(st, dict) else st)
        key = category_key(st) if isinstance(st, dict) else None
        cat.append(key)
        blocked.append(rule.blocking(f)[0] if f.get("issuelinks") else [])
        cols.add(issue)
    frame = pd.DataFrame({"key": keys, "created": utc(pd.Series(created, dtype=object)),
                          "resolved": utc(pd.Series(resolved, dtype=object)), "status": status,
                          "status_category": cat, "blocked_by": blocked}, columns=ISSUE_COLUMNS)
    log, counts = cols.frames()
    return frame, log, counts
