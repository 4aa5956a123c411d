"""Demo issue histories that look like real ones: a configurable workflow walked with its detours.

A :class:`DemoWorkflow` lists the statuses in workflow order (each with its status category) and
how messy the walk through them is: skipped statuses, backward moves, reopenings after done,
flagged impediments, other field changes, and a share of issues with long histories (more than
:data:`labkit.jira.model.EMBEDDED_CHANGELOG_MAX` entries, which Jira cuts from search results).
:func:`history` turns one issue's walk into a REST ``changelog.histories`` list, oldest first::

    wf = DemoWorkflow.of([("Backlog", "new"), ("Dev", "indeterminate"), ("QA", "indeterminate"),
                          ("Done", "done")], reopen=0.2)
    issues = list(generate(100, workflow=wf))
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from labkit.jira.model import category_key, status_category

# Jira's own ids for its default statuses; other names get ids from 10100 on.
_KNOWN_IDS = {"Open": "1", "In Progress": "3", "Reopened": "4", "Resolved": "5", "Closed": "6",
              "To Do": "10000", "In Review": "10001", "Done": "10002"}
FLAGGED_FIELD = {"field": "Flagged", "fieldtype": "custom", "fieldId": "customfield_10021"}
IMPEDIMENT = "Impediment"


def _status(name: str, category: str, sid: str) -> dict[str, Any]:
    """A REST status object."""
    return {"id": sid, "name": name, "statusCategory": status_category(category)}


DEFAULT_STATUSES: tuple[dict[str, Any], ...] = (
    _status("Open", "new", "1"), _status("To Do", "new", "10000"), _status("In Progress", "indeterminate", "3"),
    _status("In Review", "indeterminate", "10001"), _status("Resolved", "done", "5"), _status("Closed", "done", "6"),
)


@dataclass(frozen=True)
class DemoWorkflow:
    """The statuses demo issues move through, in order, and how often their walk strays."""

    statuses: tuple[dict[str, Any], ...] = DEFAULT_STATUSES
    skip: float = 0.15          # a forward move jumps over the next status
    back: float = 0.12          # a move from a status in progress goes back instead
    reopen: float = 0.08        # a finished issue is reopened, then finished again
    unstarted: float = 0.1      # a finished issue was closed without being started (won't fix, duplicate)
    flag: float = 0.12          # an issue in progress is flagged (an impediment) for a while
    field_changes: float = 1.0  # mean number of other field changes (assignee, priority, labels)
    long_history: float = 0.02  # share of issues whose history is long (over 100 entries)
    long_entries: tuple[int, int] = (120, 260)
    columns: tuple[tuple[str, tuple[str, ...]], ...] = field(default=())  # board columns; default by category

    @classmethod
    def of(cls, statuses: Iterable[tuple[str, str]], **options: Any) -> DemoWorkflow:
        """Build a workflow from ``(status name, category)`` pairs in workflow order (category: key or name)."""
        made, used = [], set(_KNOWN_IDS.values())
        next_id = 10100
        for name, cat in statuses:
            key = category_key(cat)
            if key not in ("new", "indeterminate", "done"):
                raise ValueError(f"status {name!r}: {cat!r} is not a status category (To Do, In Progress, Done)")
            sid = _KNOWN_IDS.get(name)
            if sid is None:
                while str(next_id) in used:
                    next_id += 1
                sid = str(next_id)
                used.add(sid)
            made.append(_status(name, key, sid))
        cats = [s["statusCategory"]["key"] for s in made]
        if "new" not in cats or "done" not in cats or cats[0] != "new" or cats[-1] != "done":
            raise ValueError("a workflow starts with a To Do status and ends with a Done one")
        return cls(statuses=tuple(made), **options)

    def category(self, i: int) -> str:
        """The category key of the i-th status."""
        return self.statuses[i]["statusCategory"]["key"]

    def board_columns(self) -> list[tuple[str, list[str]]]:
        """The board's columns (name, status names): given, or To Do / each status in progress / Done."""
        if self.columns:
            return [(name, list(sts)) for name, sts in self.columns]
        cols: list[tuple[str, list[str]]] = []
        for s in self.statuses:
            cat = s["statusCategory"]["key"]
            if cat == "indeterminate":
                cols.append((s["name"], [s["name"]]))
            else:
                title = "To Do" if cat == "new" else "Done"
                if cols and cols[-1][0] == title:
                    cols[-1][1].append(s["name"])
                else:
                    cols.append((title, [s["name"]]))
        return cols

    def final_status(self, drawn: dict[str, Any], among: Sequence[dict[str, Any]]) -> dict[str, Any]:
        """Map a status drawn from ``among`` (the default list) to this workflow's status of the same category."""
        if self.statuses == tuple(among):
            return drawn
        cat = drawn["statusCategory"]["key"]
        mine = [s for s in self.statuses if s["statusCategory"]["key"] == cat]
        theirs = [s for s in among if s["statusCategory"]["key"] == cat]
        j = next(k for k, s in enumerate(theirs) if s["name"] == drawn["name"])
        return mine[min(len(mine) - 1, j * len(mine) // max(1, len(theirs)))]


def _walk(rng: random.Random, wf: DemoWorkflow, target: int) -> list[int]:
    """Status indexes an issue passes through after its first status, ending at ``target``."""
    n = len(wf.statuses)
    first_wip = next((k for k in range(n) if wf.category(k) == "indeterminate"), None)
    pos, path, detours = 0, [], 0
    reopened = False

    def go(k: int) -> None:
        nonlocal pos
        path.append(k)
        pos = k

    if wf.category(target) == "new" and target > 0 and first_wip is not None and rng.random() < wf.back:
        go(first_wip)  # started, then put back: a backward move into To Do
    elif wf.category(target) == "done" and rng.random() < wf.unstarted:
        return [target]  # closed straight from its first status
    while pos != target or (wf.category(target) == "done" and not reopened and rng.random() < wf.reopen):
        if pos == target:  # finished and reopened: back into progress (or the start), then on again
            reopened = True
            go(first_wip if first_wip is not None else 0)
            continue
        if pos > target:  # only after a reopening or a put-back: finish from here
            go(target)
            continue
        cat = wf.category(pos)
        if cat == "indeterminate" and detours < 3 and rng.random() < wf.back:
            detours += 1
            go(rng.randrange(max(0, (first_wip or 1) - 1), pos))  # back to To Do or an earlier step
            continue
        step = 2 if rng.random() < wf.skip and pos + 2 <= target else 1
        go(pos + step)
    return path


def _names(entry_rng: random.Random, pool: Sequence[str]) -> tuple[str, str]:
    """Two different values of a pool, for a from/to change."""
    a, b = entry_rng.sample(list(pool), 2)
    return a, b


_USERS = ("alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi")
_PRIORITIES = ("Highest", "High", "Medium", "Low", "Lowest")
_LABELS = ("regression", "customer", "security", "performance", "docs", "flaky-test")


def _field_change(rng: random.Random) -> list[dict[str, Any]]:
    """One change of another field than status (assignee, priority or labels)."""
    kind = rng.randrange(3)
    if kind == 0:
        a, b = _names(rng, _USERS)
        return [{"field": "assignee", "fieldtype": "jira", "fieldId": "assignee", "from": a, "fromString": a.capitalize(),
                 "to": b, "toString": b.capitalize()}]
    if kind == 1:
        a, b = _names(rng, _PRIORITIES)
        return [{"field": "priority", "fieldtype": "jira", "fieldId": "priority", "from": None, "fromString": a,
                 "to": None, "toString": b}]
    a, b = _names(rng, _LABELS)
    return [{"field": "labels", "fieldtype": "jira", "fieldId": "labels", "from": None, "fromString": a,
             "to": None, "toString": f"{a} {b}"}]


def _count(rng: random.Random, mean: float) -> int:
    """A small random count with the given mean (geometric)."""
    if mean <= 0:
        return 0
    p = 1.0 / (1.0 + mean)
    n = 0
    while rng.random() > p and n < 10 * mean + 10:
        n += 1
    return n


def history(rng: random.Random, wf: DemoWorkflow, i: int, final: dict[str, Any], created: datetime,
            updated: datetime, author: dict[str, Any], ts: Any) -> list[dict[str, Any]]:
    """One issue's REST changelog histories, oldest first: its walk to ``final`` between creation and ``updated``.

    The last status move happens at ``updated`` (a finished issue's resolution date); other field
    changes and flags fall before it. Every entry has its own second, so the order is never in doubt.
    """
    names = [s["name"] for s in wf.statuses]
    target = names.index(final["name"])
    moves = _walk(rng, wf, target)
    long = rng.random() < wf.long_history
    entries: list[list[dict[str, Any]]] = []
    prev = 0
    for k in moves:
        a, b = wf.statuses[prev], wf.statuses[k]
        items = [{"field": "status", "fieldtype": "jira", "fieldId": "status", "from": a["id"], "fromString": a["name"],
                  "to": b["id"], "toString": b["name"]}]
        into_done, out_of_done = wf.category(k) == "done" and wf.category(prev) != "done", \
            wf.category(prev) == "done" and wf.category(k) != "done"
        if into_done:
            items.append({"field": "resolution", "fieldtype": "jira", "fieldId": "resolution", "from": None,
                          "fromString": None, "to": "1", "toString": "Fixed"})
        elif out_of_done:
            items.append({"field": "resolution", "fieldtype": "jira", "fieldId": "resolution", "from": "1",
                          "fromString": "Fixed", "to": None, "toString": None})
        entries.append(items)
        prev = k
    # a flag while in progress: set after the first move into progress, cleared before the next move
    wip = [j for j, k in enumerate(moves) if wf.category(k) == "indeterminate"]
    if wip and rng.random() < wf.flag:
        j = wip[0]
        entries.insert(j + 1, [{**FLAGGED_FIELD, "from": None, "fromString": None, "to": "10019", "toString": IMPEDIMENT}])
        entries.insert(j + 2, [{**FLAGGED_FIELD, "from": "10019", "fromString": IMPEDIMENT, "to": None, "toString": None}])
    extra = _count(rng, wf.field_changes)
    if long:
        extra = max(extra, rng.randint(*wf.long_entries) - len(entries))
    last_status = max((j for j, e in enumerate(entries) if e[0]["field"] == "status"), default=len(entries))
    for _ in range(extra):  # other fields change before the last status move
        entries.insert(rng.randint(0, last_status), _field_change(rng))
        last_status += 1
    if not entries:
        return []
    span = max(1, int((updated - created).total_seconds()))
    k = len(entries)
    if span > k:
        offsets = sorted(rng.sample(range(1, span), k - 1)) + [span]
    else:  # too many changes for whole seconds: spread them evenly
        offsets = [span * (j + 1) / k for j in range(k)]
    return [{"id": str(10_000_000 + i * 1000 + j), "author": author,
             "created": ts(created + timedelta(seconds=off)), "items": items}
            for j, (off, items) in enumerate(zip(offsets, entries, strict=True))]
