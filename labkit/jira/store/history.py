"""History clauses (``WAS``, ``WAS IN``, ``WAS NOT``, ``CHANGED``) evaluated on the issues' changelogs.

A field's history is rebuilt from ``changelog.histories``: the value before the first change is
the first change's "from", then each change's "to" holds until the next one. The store answers
these clauses only when every issue has a whole changelog; an issue without one, or with one Jira
cut short (``total`` above the entries held: see :func:`labkit.jira.model.changelog_truncated`),
makes it say so (never a guess). ``jira mirror`` stores whole changelogs.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from labkit.jira.errors import JqlError
from labkit.jira.jql import render
from labkit.jira.jql.ast import Clause, Empty, Function, ListValue, Operand, Value
from labkit.jira.model import changelog_truncated
from labkit.jira.store.dates import function_date, iso, normalise, value_date
from labkit.jira.store.decode import changelog_sql, stored_log

HISTORY_FIELDS = {"status": "status", "assignee": "assignee", "priority": "priority", "resolution": "resolution",
                  "reporter": "reporter"}


@dataclass
class _Change:
    """One change of a field in an issue's changelog: when, by whom, from and to which values."""
    when: str
    by: set[str]
    old: set[str]
    new: set[str]


def _names(*vals: object) -> set[str]:
    """Return the non-empty values, lower-cased, as a set."""
    return {str(v).lower() for v in vals if v not in (None, "")}


def _timeline(changelog: dict, field: str, current: set[str], created: str, now: str) -> tuple[list, list[_Change]]:
    """The (start, end, values, set_by) intervals of a field and its changes (from an issue's changelog), oldest first."""
    changes: list[_Change] = []
    for h in changelog.get("histories") or []:
        when = normalise(h.get("created")) or created
        author = h.get("author") or {}
        by = _names(author.get("name"), author.get("key"), author.get("accountId"), author.get("displayName"))
        for it in h.get("items") or []:
            if str(it.get("field", "")).lower() == field.lower():
                changes.append(_Change(when, by, _names(it.get("from"), it.get("fromString")),
                                       _names(it.get("to"), it.get("toString"))))
    changes.sort(key=lambda c: c.when)
    intervals = []
    start, value, set_by = created, (changes[0].old if changes else current), set()
    for c in changes:
        intervals.append((start, c.when, value, set_by))
        start, value, set_by = c.when, c.new, c.by
    intervals.append((start, now, value, set_by))
    return intervals, changes


class HistoryEvaluator:
    """Evaluates one history clause over every issue of a store connection."""

    def __init__(self, db: sqlite3.Connection, now: datetime, current_user: str, clause: Clause) -> None:
        """Prepare to evaluate one history clause (WAS/CHANGED) at time ``now``."""
        self.db, self.now, self.user, self.c = db, now, current_user, clause
        self.where = render(clause)

    def fail(self, why: str, hint: str | None = None) -> JqlError:
        """A JqlError naming the clause."""
        return JqlError(f"Cannot evaluate `{self.where}` in the local store: {why}", hint=hint)

    def _values(self, op: Operand | None) -> tuple[set[str], bool]:
        """The names an operand stands for, and whether EMPTY is among them."""
        items = op.items if isinstance(op, ListValue) else (op,) if op is not None else ()
        vals, empty = set(), False
        for it in items:
            if isinstance(it, Empty):
                empty = True
            elif isinstance(it, Value):
                vals.add(it.text.lower())
            elif isinstance(it, Function) and it.name.lower() == "currentuser":
                vals.add(self.user.lower())
            else:
                raise self.fail("only values, EMPTY and currentUser() are supported here")
        return vals, empty

    def _date(self, op: Operand) -> datetime:
        """A predicate's date operand."""
        if isinstance(op, Value):
            return value_date(op.text, self.now, self.where)
        if isinstance(op, Function):
            return function_date(op.name, op.args, self.now, self.where)
        raise self.fail("a history predicate needs a date")

    def _window(self) -> tuple[str, str, set[str] | None]:
        """The time window (start, end) and the BY users the predicates allow."""
        lo, hi, by = "", "9999", None
        for p in self.c.predicates:
            if p.name == "BY":
                by = self._values(p.operands[0])[0]
            elif p.name == "AFTER":
                lo = max(lo, iso(self._date(p.operands[0])))
            elif p.name == "BEFORE":
                hi = min(hi, iso(self._date(p.operands[0])))
            elif p.name == "ON":
                day = self._date(p.operands[0]).replace(hour=0, minute=0, second=0)
                lo, hi = max(lo, iso(day)), min(hi, iso(day + timedelta(days=1)))
            elif p.name == "DURING":
                lo = max(lo, iso(self._date(p.operands[0])))
                hi = min(hi, iso(self._date(p.operands[1])))
        return lo, hi, by

    def rids(self, current_of: Callable[[sqlite3.Row | tuple], set[str]], columns: str) -> list[int]:
        """Row ids of the issues the clause holds for."""
        f = self.c.field.lower().replace(" ", "")
        if f not in HISTORY_FIELDS:
            raise self.fail(f"history is kept for {', '.join(sorted(HISTORY_FIELDS))}, not {self.c.field}")
        # where each issue's changelog is stored: one rule, in decode (its SQL shape here, its Python one for the rows)
        missing = self.db.execute(f"SELECT COUNT(*) FROM issue_doc d WHERE {changelog_sql('d')} IS NULL").fetchone()[0]
        if missing:
            raise self.fail(f"{missing:,} issues in the store have no changelog",
                            hint="import issues fetched with expand=changelog, or run this query on the Jira server")
        lo, hi, by = self._window()
        op = self.c.op
        want, want_empty = self._values(self.c.operand) if op != "CHANGED" else (set(), False)
        frm = to = None
        for p in self.c.predicates:
            if p.name == "FROM":
                frm = self._values(p.operands[0])
            elif p.name == "TO":
                to = self._values(p.operands[0])
        now = iso(self.now)
        out = []
        cut = 0
        for row in self.db.execute(f"SELECT i.rid, i.created, {columns}, d.doc, d.changelog "
                                   "FROM issue i JOIN issue_doc d ON d.rid = i.rid"):
            log = stored_log(row[-2], row[-1])
            log = log if isinstance(log, dict) else {}
            if changelog_truncated(log):
                cut += 1
                continue
            intervals, changes = _timeline(log, HISTORY_FIELDS[f], current_of(row), row[1] or "", now)
            if op == "CHANGED":
                hit = any(lo <= ch.when < hi and (by is None or ch.by & by)
                          and (frm is None or _matches(ch.old, *frm)) and (to is None or _matches(ch.new, *to))
                          for ch in changes)
            else:
                hit = any(s < hi and e >= lo and (by is None or sb & by) and _matches(v, want, want_empty)
                          for s, e, v, sb in intervals)
                if "NOT" in op:
                    hit = not hit
            if hit:
                out.append(row[0])
        if cut:
            raise self.fail(f"{cut:,} issues in the store have a changelog Jira cut short (not every entry is there)",
                            hint="fill the store with `labkit jira mirror`, which pages in whole changelogs")
        return out


def _matches(values: set[str], want: set[str], want_empty: bool) -> bool:
    """Whether a held value set matches the wanted names (or EMPTY)."""
    return bool(values & want) or (want_empty and not values)
