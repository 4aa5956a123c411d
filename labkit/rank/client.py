"""The rank client protocol apply/undo work against, and an in-memory backlog that speaks it."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Protocol, runtime_checkable

from labkit.rank.errors import RankError

MAX_RANK_ISSUES = 50


@runtime_checkable
class RankClient(Protocol):
    """What apply() and undo() need from a Jira client: rank issues and read a backlog's order."""

    def rank(self, issues: list[str], *, before: str | None = None, after: str | None = None) -> list[dict]:
        """``PUT /rest/agile/1.0/issue/rank``: [] on 204, else the 207 entries (those with a non-2xx status failed)."""
        ...

    def backlog_order(self, jql: str) -> list[str]:
        """Issue keys of ``jql`` in ``ORDER BY Rank ASC`` order."""
        ...


class ListRankClient:
    """An in-memory backlog with Agile rank semantics: a documented offline backend for dry rehearsals.

    It holds ONE backlog (``backlog_order`` ignores the JQL) and checks calls as the Agile API
    does: 1..50 issues, exactly one of before/after, known keys, anchor not among the issues. The
    issues of a call land, in the order given, right before/after the anchor. ``fail`` maps a key
    to how many rank calls naming it should fail: those issues stay where they are and come back
    with a failing status in the 207 entries (which, as on a real server, list every issue of the
    call) while the rest of the batch is ranked.
    """

    def __init__(self, keys: Iterable[str], *, fail: Mapping[str, int] | None = None) -> None:
        """Hold ``keys`` (top first) and the planned failures."""
        self.keys: list[str] = list(keys)
        if len(set(self.keys)) != len(self.keys):
            raise RankError("the in-memory backlog has a key twice", hint="give each issue key once")
        self.fail: dict[str, int] = dict(fail or {})
        self.log: list[dict] = []   # every rank call body received, for dry-run display and tests

    def rank(self, issues: list[str], *, before: str | None = None, after: str | None = None) -> list[dict]:
        """Move ``issues`` just before ``before`` or just after ``after``; return [] or the 207 entries."""
        issues = list(issues)
        if not 1 <= len(issues) <= MAX_RANK_ISSUES:
            raise RankError(f"a rank call takes 1 to {MAX_RANK_ISSUES} issues, got {len(issues)}",
                            hint="split the issues into batches of at most 50")
        if (before is None) == (after is None):
            raise RankError("a rank call needs exactly one of rankBeforeIssue and rankAfterIssue")
        anchor = before if before is not None else after
        present = set(self.keys)
        unknown = [k for k in [*issues, anchor] if k not in present]
        if unknown:
            raise RankError(f"unknown issue {unknown[0]} in a rank call", hint="rank only issues of this backlog")
        if anchor in issues or len(set(issues)) != len(issues):
            raise RankError(f"rank call for {anchor} names an issue twice or uses it as its own anchor")
        self.log.append({"issues": issues, **({"rankBeforeIssue": before} if before is not None
                                               else {"rankAfterIssue": after})})
        failed = []
        for k in issues:
            if self.fail.get(k, 0) > 0:
                self.fail[k] -= 1
                failed.append(k)
        moving = [k for k in issues if k not in failed]
        if moving:
            gone = set(moving)
            self.keys = [k for k in self.keys if k not in gone]
            at = self.keys.index(anchor) + (0 if before is not None else 1)
            self.keys[at:at] = moving
        if not failed:
            return []   # 204
        # 207: like Jira, one entry per issue of the call; the failed ones carry a non-2xx status and errors
        return [{"issueKey": k, "status": 503, "errors": [f"rank of {k} failed (simulated partial failure)"]}
                if k in failed else {"issueKey": k, "status": 200} for k in issues]

    def backlog_order(self, jql: str) -> list[str]:
        """The backlog, highest ranked first (the JQL is not evaluated: there is one backlog)."""
        return list(self.keys)
