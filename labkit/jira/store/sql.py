"""Translate a parsed JQL query into SQL over the local store's tables (text clauses via FTS5).

A clause the store cannot evaluate raises ``JqlError`` naming the clause: never a silent wrong answer.
"""

from __future__ import annotations

import bisect
import json
import re
import sqlite3
from datetime import datetime
from typing import Any, NamedTuple

import labkit.jira.jql.text as T
from labkit.jira.errors import JqlError, JqlSyntaxError
from labkit.jira.jql import render
from labkit.jira.jql.ast import (
    And,
    Clause,
    Empty,
    Function,
    ListValue,
    Node,
    Not,
    Operand,
    Or,
    Query,
    Value,
    without_not,
)
from labkit.jira.jql.reserved import looks_numeric
from labkit.jira.model import RANK_NAMES, STATUS_CATEGORIES
from labkit.jira.store.dates import function_date, iso, value_date
from labkit.jira.store.decode import texts as doc_texts

TEXT_COLUMNS = {"summary": ["summary"], "description": ["description"], "environment": ["environment"],
                "comment": ["comment"], "text": ["summary", "description", "environment", "comment"]}
_TEXT_BIT = {col: k for k, col in enumerate(T.TEXT_FIELDS)}  # bit k: has text; bit 4+k: has a searchable word

# Single-valued fields whose values are named objects: field -> (object kind, name column, id column).
# Jira: a number is tried as the object's id first, then as its name; a quoted number is a name.
_OBJECTS: dict[str, tuple[str, str, str]] = {
    "project": ("project", "project", "project_id"),
    "issuetype": ("issuetype", "issuetype", "issuetype_id"),
    "type": ("issuetype", "issuetype", "issuetype_id"),
    "status": ("status", "status", "status_id"),
    "priority": ("priority", "priority", "priority_id"),
    "resolution": ("resolution", "resolution", "resolution_id"),
}
_PARENT = ("parent", "parent_id")
_USERS = {"assignee": ("assignee", "assignee_display"), "reporter": ("reporter", "reporter_display"),
          "creator": ("creator", "creator_display")}
# Multi-valued fields: field -> (table, object kind or None when values are free text, id column)
_MULTI = {"labels": ("label", None, None), "label": ("label", None, None),
          "component": ("component", "component", "cid"), "components": ("component", "component", "cid"),
          "fixversion": ("fixversion", "fixversion", "vid"), "fixversions": ("fixversion", "fixversion", "vid"),
          "affectedversion": ("affectsversion", "affectsversion", "vid"),
          "version": ("affectsversion", "affectsversion", "vid")}
_DATES = {"created": "created", "createddate": "created", "updated": "updated", "updateddate": "updated",
          "resolved": "resolved", "resolutiondate": "resolved", "due": "due", "duedate": "due"}
_KEYS = {"key", "issuekey", "issue", "id"}
_RANK_NAMES = RANK_NAMES
_ORDER_COLS = {
    "project": "i.project COLLATE NOCASE", "issuetype": "i.issuetype COLLATE NOCASE", "type": "i.issuetype COLLATE NOCASE",
    "status": "i.status COLLATE NOCASE", "statuscategory": "i.status_category_id",
    "resolution": "i.resolution COLLATE NOCASE", "assignee": "i.assignee_display COLLATE NOCASE",
    "reporter": "i.reporter_display COLLATE NOCASE", "creator": "i.creator_display COLLATE NOCASE",
    "summary": "i.summary COLLATE NOCASE", "parent": "i.parent",
}
_ORDER_MULTI = {f: table for f, (table, _, _) in _MULTI.items()}

_HISTORY_COLUMNS = {"status": ("status", "status_id"), "assignee": ("assignee", "assignee_display"),
                    "priority": ("priority", "priority_id"), "resolution": ("resolution", "resolution_id"),
                    "reporter": ("reporter", "reporter_display")}
_EQUALITY = ("=", "!=", "IN", "NOT IN")
_KNOWN_FIELDS = ("project, key, issuetype, status, statusCategory, priority, resolution, assignee, reporter, creator, "
                 "parent, labels, component, fixVersion, affectedVersion, created, updated, resolved, due, summary, "
                 "description, environment, comment, text, issueLinkType")


def field_key(name: str) -> str:
    """Normalise a JQL field name for lookup (case-insensitive, spaces dropped)."""
    return name.lower().replace(" ", "")


def _positive(op: str) -> bool:
    """Whether an equality operator asks for a match (``=``, ``IN``) rather than a non-match."""
    return op in ("=", "IN")


def _within_one_column(n: T.TextNode) -> bool:
    """Whether every FTS5 match of ``n`` lies in one column anyway: a word, a phrase or NEAR group, an OR of those.

    FTS5 matches a phrase and a NEAR group inside one column only: token positions are counted per
    column (sqlite.org/fts5.html, "NEAR groups" and "column filters"; positions restart in each column),
    so ``{a b} : "x y"`` finds what ``{a} : "x y" OR {b} : "x y"`` finds. An AND or NOT is not so:
    its parts could match in different columns.
    """
    if isinstance(n, T.Term | T.Phrase):
        return True
    return isinstance(n, T.Bool) and not n.must and not n.must_not and all(_within_one_column(x) for x in n.should)


def in_columns(expr: str, cols: list[str], n: T.TextNode) -> str:
    """An FTS5 MATCH of ``expr`` (the expression of ``n``) matched whole inside one of ``cols``.

    One column filter over all of them when ``n`` cannot match across columns (several times faster
    than an OR of one filter per column, which reads every word's positions once per column).
    """
    if _within_one_column(n):
        return "{" + " ".join(cols) + "} : (" + expr + ")"
    return " OR ".join("{" + col + "} : (" + expr + ")" for col in cols)


class RidSet(str):
    """A condition that is one uncorrelated ``i.rid IN (SELECT ...)``: its SQL text, and (``select``) the SELECT of the ids.

    The builder makes one where it writes such a condition (:meth:`SqlBuilder.rid_set`); any composition
    of conditions (AND, OR, NOT, parentheses) is a plain ``str``, so a WHERE still of this type is one id set.
    """

    select: str

    def __new__(cls, select: str) -> RidSet:
        """The condition ``i.rid IN (select)``."""
        cond = super().__new__(cls, f"i.rid IN ({select})")
        cond.select = select
        return cond


class IdSelect(NamedTuple):
    """The SELECT of the ids a WHERE that is one id set names, with its parameters."""

    sql: str
    params: list[Any]


class Where(NamedTuple):
    """A query's WHERE condition, its parameters, and (``ids``) the id set it is when it is one, else None.

    Such a WHERE needs no look-up of each issue's row to find its matches: the caller can read the
    ids from the SELECT and keep those that are issues (on 1,000,000 issues the row look-ups of a
    fifth of them cost more than the FTS5 query that found them).
    """

    sql: str
    params: list[Any]
    ids: IdSelect | None


class SqlBuilder:
    """Builds the WHERE and ORDER BY of one query for a store connection.

    Semantics follow Atlassian's JQL reference: a NOT is pushed down to the clauses with their
    operators flipped (``NOT f = x`` is ``f != x``); ``!=``, ``NOT IN``, ``!~`` and the range
    operators never match an issue whose field is empty (SQL NULL does that: a NULL comparison
    is not true); ``f != EMPTY`` is ``f IS NOT EMPTY``. A value naming no known object is the
    error Jira gives.
    """

    def __init__(self, db: sqlite3.Connection, now: datetime, current_user: str) -> None:
        """Prepare to translate clauses to SQL on ``db`` at time ``now`` for ``current_user``."""
        self.db = db
        self.now = now
        self.current_user = current_user
        self.params: list[Any] = []
        self._vocab: list[str] | None = None
        self.budget: Any = None  # the running search's SearchBudget: Python loops check it
        self._expanded: dict[T.Wildcard | T.Fuzzy, list[str]] = {}

    # ------------------------------------------------------------ entry points
    def where(self, q: Query) -> Where:
        """Return the query's WHERE part (``1`` when there is none), its parameters and the id set it is, if one."""
        first = len(self.params)
        sql = "1" if q.where is None else self.node(without_not(q.where))
        params = self.params[first:]
        return Where(str(sql), params, IdSelect(sql.select, params) if isinstance(sql, RidSet) else None)

    def rid_set(self, select: str) -> RidSet:
        """The condition ``i.rid IN (select)``, known as one id set; ``select`` must not name the outer issue ``i``."""
        return RidSet(select)

    def order(self, q: Query, *, after_filter: bool = False) -> str:
        """Return the ORDER BY list; without ORDER BY the store sorts by key, newest first (key DESC).

        ``after_filter``: sort the matches rather than walk an index of the order (``+`` keeps
        SQLite from using an index for a term), for when most issues will not match.
        """
        terms = self._order(q)
        return ", ".join(f"+{t}" if after_filter and t.startswith("i.") else t for t in terms)

    def _order(self, q: Query) -> list[str]:
        """The ORDER BY terms."""
        parts: list[str] = []
        for k in q.order_by:
            f = field_key(k.field)
            desc = k.direction == "DESC"
            d = " DESC" if desc else " ASC"
            if f in ("key", "issuekey", "issue"):
                parts += [f"i.project{d}", f"i.num{d}"]
            elif f == "id":
                parts.append(f"CAST(i.id AS INTEGER){d}")
            elif f in _RANK_NAMES:
                parts.append(f"i.rank{d}")  # every issue has a rank, and ranks are distinct
            elif f == "priority":  # lower id = higher priority; DESC shows the highest first
                parts.append(f"CAST(i.priority_id AS INTEGER){' ASC' if desc else ' DESC'}")
            elif f in _DATES:
                parts.append(f"i.{_DATES[f]}{d}")
            elif f in _ORDER_COLS:
                parts.append(f"{_ORDER_COLS[f]}{d}")
            elif f in _ORDER_MULTI:  # by the first value; issues without one sort last
                sub = f"(SELECT MIN(m.value COLLATE NOCASE) FROM {_ORDER_MULTI[f]} m WHERE m.rid = i.rid)"
                parts += [f"{sub} IS NULL", f"{sub}{d}"]
            else:
                raise JqlError(f"Cannot order by {k.field!r} in the local store",
                               hint="order by key, id, Rank, priority, a date, status, statusCategory, issuetype, "
                                    "project, resolution, assignee, reporter, summary, labels, component or fixVersion")
        if not q.order_by:
            return ["i.project DESC", "i.num DESC"]
        last = field_key(q.order_by[-1].field)
        if last in _KEYS:  # already a total order
            return parts
        return parts + ["i.project ASC", "i.num ASC"]

    # ------------------------------------------------------------ boolean structure
    def node(self, n: Node) -> str:
        """Return SQL for one condition node (NOTs are already pushed down to the clauses)."""
        if isinstance(n, And):
            return "(" + " AND ".join(self.node(i) for i in n.items) + ")"
        if isinstance(n, Or):
            return "(" + " OR ".join(self.node(i) for i in n.items) + ")"
        if isinstance(n, Not):  # only a clause with no opposite operator (CHANGED): its complement
            return f"(NOT COALESCE({self.node(n.item)}, 0))"
        return self.clause(n)

    def p(self, v: Any) -> str:
        """Add a parameter and return its placeholder."""
        self.params.append(v)
        return "?"

    def ps(self, values: list[Any]) -> str:
        """Add parameters and return their comma-separated placeholders."""
        return ", ".join(self.p(v) for v in values)

    def fail(self, c: Clause, why: str, hint: str | None = None) -> JqlError:
        """A JqlError naming the clause and why."""
        return JqlError(f"Cannot evaluate `{render(c)}` in the local store: {why}", hint=hint)

    def unsupported_operator(self, c: Clause) -> JqlError:
        """Jira's error for an operator a field does not take."""
        return JqlError(f"The operator '{c.op}' is not supported by the '{c.field}' field.",
                        hint=f"in `{render(c)}` use an operator the field supports")

    # ------------------------------------------------------------ clauses
    def clause(self, c: Clause) -> str:
        """SQL for one clause, by field kind."""
        f = field_key(c.field)
        if c.op.startswith("WAS") or c.op == "CHANGED":
            from labkit.jira.store.history import HistoryEvaluator

            cols = _HISTORY_COLUMNS.get(f)
            if cols is None:
                raise self.fail(c, f"history is kept for {', '.join(sorted(_HISTORY_COLUMNS))}, not {c.field}")
            n = len(cols)
            rids = HistoryEvaluator(self.db, self.now, self.current_user, c).rids(
                lambda row: {str(v).lower() for v in row[2:2 + n] if v not in (None, "")},
                ", ".join(f"i.{x}" for x in cols))
            return self.rid_set(f"SELECT value FROM json_each({self.p(json.dumps(rids))})")
        if f in TEXT_COLUMNS:
            return self.text_clause(c, TEXT_COLUMNS[f])
        if c.op in ("~", "!~") and (f in _KEYS or f in _OBJECTS or f in _USERS or f in _MULTI or f in _DATES
                                    or f in ("statuscategory", "parent", "issuelinktype")):
            raise self.unsupported_operator(c)
        if f in _KEYS:
            return self.key_clause(c, f)
        if f in _OBJECTS:
            return self.object_clause(c, f)
        if f == "statuscategory":
            return self.category_clause(c)
        if f == "parent":
            return self.plain_clause(c, _PARENT)
        if f in _USERS:
            return self.plain_clause(c, _USERS[f], user=True)
        if f in _MULTI:
            return self.multi_clause(c, f)
        if f in _DATES:
            return self.date_clause(c, _DATES[f])
        if f == "issuelinktype":
            return self.linktype_clause(c)
        if f in _RANK_NAMES:
            raise self.fail(c, "Rank can only be used in ORDER BY")
        raise JqlError(f"Field '{c.field}' does not exist or you do not have permission to view it.",
                       hint=f"in `{render(c)}`: the local store searches {_KNOWN_FIELDS}")

    def _items(self, c: Clause, op: Operand | None, user: bool = False) -> tuple[list[Value], bool]:
        """The literal values of an operand (currentUser() resolved) and whether EMPTY is among them."""
        items = op.items if isinstance(op, ListValue) else (op,) if op is not None else ()
        vals: list[Value] = []
        empty = False
        for it in items:
            if isinstance(it, Empty):
                empty = True
            elif isinstance(it, Value):
                vals.append(it)
            elif isinstance(it, Function) and user and it.name.lower() == "currentuser":
                vals.append(Value(self.current_user, quoted=True))
            else:
                raise self.fail(c, f"the function {render_fn(it)} is not supported here")
        return vals, empty

    def _values(self, c: Clause, op: Operand | None, user: bool = False) -> tuple[list[str], bool]:
        """The texts of an operand's values and whether EMPTY is among them."""
        vals, empty = self._items(c, op, user)
        return [v.text for v in vals], empty

    def _equality(self, c: Clause, column: str, hit: str | None, empty: bool) -> str:
        """Combine the match of the values (``hit``, None for no value) with EMPTY, by operator.

        ``=``/``IN`` match a value or, with EMPTY in the operand, an empty field; ``!=``/``NOT IN``
        match only issues whose field has a value, and not one of the values.
        """
        if _positive(c.op):
            parts = ([hit] if hit else []) + ([f"{column} IS NULL"] if empty else [])
            return "(" + " OR ".join(parts) + ")" if parts else "0"
        return f"({column} IS NOT NULL AND NOT COALESCE({hit}, 0))" if hit else f"({column} IS NOT NULL)"

    # -- named objects: project, issue type, status, priority, resolution, component, versions
    def resolve(self, c: Clause, kind: str, v: Value) -> tuple[list[str], list[str]]:
        """The exact stored (names, ids) a value stands for, the way Jira resolves it; unknown: Jira's error.

        An unquoted number is an id when an object has that id, else a name; anything else is a
        name (for a project also its key), compared without case.
        """
        if not v.quoted and looks_numeric(v.text):
            ids = [r[0] for r in self.db.execute("SELECT DISTINCT id FROM object WHERE kind = ? AND id = ?",
                                                 (kind, v.text))]
            if ids:
                return [], ids
        names = [r[0] for r in self.db.execute(
            "SELECT DISTINCT CASE WHEN key != '' THEN key ELSE name END FROM object WHERE kind = ? "
            "AND (name = ? COLLATE NOCASE OR (key != '' AND key = ? COLLATE NOCASE))", (kind, v.text, v.text))]
        if names:
            return names, []
        if kind == "resolution" and v.text.lower() == "unresolved":
            return [], []
        if not v.quoted and looks_numeric(v.text):
            raise JqlError(f"A value with ID '{v.text}' does not exist for the field '{c.field}'.",
                           hint=f"in `{render(c)}`: quote a name that looks like a number")
        raise JqlError(f"The value '{v.text}' does not exist for the field '{c.field}'.",
                       hint=f"in `{render(c)}`: check the spelling, or search on the server")

    def object_clause(self, c: Clause, f: str) -> str:
        """SQL for single-valued named objects (project, issuetype, status, priority, resolution)."""
        kind, name_col, id_col = _OBJECTS[f]
        col = f"i.{name_col}"
        if c.op in ("IS", "IS NOT"):
            return f"({col} IS {'NOT ' if c.op == 'IS NOT' else ''}NULL)"
        if f == "priority" and c.op in (">", ">=", "<", "<="):
            return self.priority_range(c)
        if c.op not in _EQUALITY:
            raise self.unsupported_operator(c)
        vals, empty = self._items(c, c.operand)
        names: list[str] = []
        ids: list[str] = []
        unresolved = False
        for v in vals:
            n, i = self.resolve(c, kind, v)
            names += n
            ids += i
            unresolved |= kind == "resolution" and not n and not i
        parts = []
        if names:
            parts.append(f"{col} IN ({self.ps(names)})")
        if ids:
            parts.append(self._by_id(kind, col, f"i.{id_col}", ids))
        if unresolved:  # resolution = Unresolved: the issues with no resolution
            parts.append(f"{col} IS NULL")
        hit = "(" + " OR ".join(parts) + ")" if parts else None
        if not _positive(c.op) and unresolved:
            return f"(NOT COALESCE({hit}, 0))" if hit else "0"
        return self._equality(c, col, hit, empty)

    def _by_id(self, kind: str, name_col: str, id_col: str, ids: list[str]) -> str:
        """Match object ids through the indexed name column (the names those ids carry), then by the id itself.

        Every issue's (id, name) of an object is recorded in the object table, so the names of the
        ids hold every match; a project's column holds its key, which an object may lack: by id alone.
        """
        if kind != "project":
            names = [r[0] for r in self.db.execute(
                "SELECT DISTINCT name FROM object WHERE kind = ? AND id IN (SELECT value FROM json_each(?))",
                (kind, json.dumps(ids)))]
            if names and "" not in names:
                return f"({name_col} IN ({self.ps(names)}) AND {id_col} IN ({self.ps(ids)}))"
        return f"{id_col} IN ({self.ps(ids)})"

    def priority_range(self, c: Clause) -> str:
        """SQL for ``priority > x`` (higher priority has the lower id)."""
        vals, _ = self._items(c, c.operand)
        if len(vals) != 1:
            raise self.fail(c, "a priority comparison needs one priority")
        names, ids = self.resolve(c, "priority", vals[0])
        if names:
            ids = [r[0] for r in self.db.execute(
                f"SELECT id FROM object WHERE kind = 'priority' AND name IN ({','.join('?' * len(names))})", names)]
        if not ids:
            raise self.fail(c, f"the priority {vals[0].text!r} has no id to compare by")
        flip = {">": "<", ">=": "<=", "<": ">", "<=": ">="}[c.op]
        return f"(CAST(i.priority_id AS INTEGER) {flip} {self.p(int(ids[0]))})"

    def category_clause(self, c: Clause) -> str:
        """SQL for statusCategory: a category's key, name or id (Jira's fixed categories)."""
        col = "i.status_category_key"
        if c.op in ("IS", "IS NOT"):
            return f"({col} IS {'NOT ' if c.op == 'IS NOT' else ''}NULL)"
        if c.op not in _EQUALITY:
            raise self.unsupported_operator(c)
        vals, empty = self._items(c, c.operand)
        keys = []
        for v in vals:
            by_id = [k for k, (cid, _, _) in STATUS_CATEGORIES.items() if not v.quoted and str(cid) == v.text]
            by_name = [k for k, (_, name, _) in STATUS_CATEGORIES.items() if v.text.lower() in (k, name.lower())]
            found = by_id or by_name
            if not found:
                raise JqlError(f"The value '{v.text}' does not exist for the field '{c.field}'.",
                               hint=f"in `{render(c)}`: status categories are To Do, In Progress and Done")
            keys += found
        return self._equality(c, col, f"{col} IN ({self.ps(keys)})" if keys else None, empty)

    def plain_clause(self, c: Clause, cols: tuple[str, ...], user: bool = False) -> str:
        """SQL for single-valued fields compared by text in any of ``cols`` (users: login or name; parent)."""
        col = f"i.{cols[0]}"
        if c.op in ("IS", "IS NOT"):
            return f"({col} IS {'NOT ' if c.op == 'IS NOT' else ''}NULL)"
        if c.op not in _EQUALITY:
            raise self.unsupported_operator(c)
        vals, empty = self._values(c, c.operand, user)
        ors = [f"i.{x} = {self.p(v)} COLLATE NOCASE" for v in vals for x in cols]
        return self._equality(c, col, "(" + " OR ".join(ors) + ")" if ors else None, empty)

    def multi_clause(self, c: Clause, f: str) -> str:
        """SQL for multi-valued fields (labels, components, versions): any of its values matches."""
        table, kind, id_col = _MULTI[f]
        has_any = self.rid_set(f"SELECT rid FROM {table}")
        if c.op in ("IS", "IS NOT"):
            return has_any if c.op == "IS NOT" else f"(NOT {has_any})"
        if c.op not in _EQUALITY:
            raise self.unsupported_operator(c)
        vals, empty = self._items(c, c.operand)
        conds = []
        if kind is None:  # labels: free text
            if vals:
                conds.append(f"m.value COLLATE NOCASE IN ({self.ps([v.text for v in vals])})")
        else:
            names: list[str] = []
            ids: list[str] = []
            for v in vals:
                n, i = self.resolve(c, kind, v)
                names += n
                ids += i
            if names:
                conds.append(f"m.value IN ({self.ps(names)})")
            if ids:
                conds.append(self._by_id(kind, "m.value", f"m.{id_col}", ids))
        # a set of rids from the value's index, not a probe per issue
        hit = self.rid_set(f"SELECT m.rid FROM {table} m WHERE {' OR '.join(conds)}") if conds else None
        if _positive(c.op):
            if hit and not empty:  # the id set itself
                return hit
            parts = ([hit] if hit else []) + ([f"(NOT {has_any})"] if empty else [])
            return "(" + " OR ".join(parts) + ")" if parts else "0"
        return f"({has_any} AND NOT {hit})" if hit else has_any

    def _date(self, c: Clause, op: Operand) -> str:
        """A date operand as store text."""
        if isinstance(op, Value):
            return iso(value_date(op.text, self.now, render(c)))
        if isinstance(op, Function):
            return iso(function_date(op.name, op.args, self.now, render(c)))
        raise self.fail(c, "a date comparison needs one date")

    def date_clause(self, c: Clause, col: str) -> str:
        """SQL for date fields (an empty date never compares true: NULL)."""
        column = f"i.{col}"
        if c.op in ("IS", "IS NOT"):
            return f"({column} IS {'NOT ' if c.op == 'IS NOT' else ''}NULL)"
        if isinstance(c.operand, Empty) and c.op in ("=", "!="):
            return f"({column} IS {'NOT ' if c.op == '!=' else ''}NULL)"
        if c.op in ("=", "!=", ">", ">=", "<", "<="):
            return f"({column} {c.op} {self.p(self._date(c, c.operand))})"
        if c.op in ("IN", "NOT IN") and isinstance(c.operand, ListValue):
            dates = [self._date(c, it) for it in c.operand.items if not isinstance(it, Empty)]
            has_empty = any(isinstance(it, Empty) for it in c.operand.items)
            hit = f"{column} IN ({self.ps(dates)})" if dates else None
            return self._equality(c, column, hit, has_empty)
        raise self.unsupported_operator(c)

    def key_clause(self, c: Clause, f: str) -> str:
        """SQL for key, id and issue (lists, ranges, linkedIssues())."""
        op = c.operand
        if c.op in ("IS", "IS NOT"):
            return "0" if c.op == "IS" else "1"
        if isinstance(op, Function) or (isinstance(op, ListValue) and any(isinstance(x, Function) for x in op.items)):
            if c.op not in _EQUALITY:
                raise self.fail(c, f"the operator {c.op} does not take a function")
            fns = [op] if isinstance(op, Function) else [x for x in op.items if isinstance(x, Function)]
            conds = [self.linked_issues(c, fn) for fn in fns]
            rest = [x for x in op.items if not isinstance(x, Function)] if isinstance(op, ListValue) else []
            if rest:
                conds.append(self.key_clause(Clause(c.field, "IN", ListValue(tuple(rest))), f))
            pos = "(" + " OR ".join(conds) + ")"
            return pos if _positive(c.op) else f"(NOT {pos})"
        vals, _ = self._values(c, op)
        if c.op in _EQUALITY:
            conds = []
            for v in vals:
                if f == "id" or v.isdigit():
                    conds.append(f"i.id = {self.p(v)}")
                else:
                    conds.append(f"i.key = {self.p(v.upper())}")
            pos = "(" + " OR ".join(conds) + ")" if conds else "0"
            return pos if _positive(c.op) else f"(NOT {pos})"
        if c.op in (">", ">=", "<", "<="):
            v = vals[0]
            if f == "id" or v.isdigit():
                return f"(CAST(i.id AS INTEGER) {c.op} {self.p(int(v))})"
            m = re.fullmatch(r"([A-Za-z][A-Za-z0-9_]*)-(\d+)", v)
            if not m:
                raise self.fail(c, f"{v!r} is not an issue key")
            return f"(i.project = {self.p(m.group(1).upper())} AND i.num {c.op} {self.p(int(m.group(2)))})"
        raise self.unsupported_operator(c)

    def linked_issues(self, c: Clause, fn: Function) -> str:
        """SQL for linkedIssues(key[, link description or type name])."""
        if fn.name.lower() != "linkedissues":
            raise self.fail(c, f"the function {fn.name}() is not supported by the local store",
                            hint="the local store knows linkedIssues(key[, link description])")
        if not fn.args:
            raise self.fail(c, "linkedIssues() needs an issue key")
        key = fn.args[0].upper()
        row = self.db.execute("SELECT key FROM issue WHERE key = ? OR id = ?", (key, fn.args[0])).fetchone()
        key = row[0] if row else key
        descs = [a.strip() for a in fn.args[1:]]
        if not descs:
            return (f"(i.key IN (SELECT dst FROM link WHERE src = {self.p(key)}) OR "
                    f"i.key IN (SELECT src FROM link WHERE dst = {self.p(key)}))")
        conds = []
        for d in descs:
            # linkedIssues(K, "is blocked by"): the issues K is blocked by, i.e. the src of links whose dst is K
            if self._is_description(d):
                conds.append(f"i.key IN (SELECT dst FROM link WHERE src = {self.p(key)} AND outward = {self.p(d)} COLLATE NOCASE)")
                conds.append(f"i.key IN (SELECT src FROM link WHERE dst = {self.p(key)} AND inward = {self.p(d)} COLLATE NOCASE)")
            else:
                conds.append(f"i.key IN (SELECT dst FROM link WHERE src = {self.p(key)} AND type_name = {self.p(d)} COLLATE NOCASE)")
                conds.append(f"i.key IN (SELECT src FROM link WHERE dst = {self.p(key)} AND type_name = {self.p(d)} COLLATE NOCASE)")
        return "(" + " OR ".join(conds) + ")"

    def _is_description(self, v: str) -> bool:
        """Whether a link text is an inward/outward description (else it is taken as a link type name)."""
        row = self.db.execute("SELECT 1 FROM linktype WHERE inward = ? COLLATE NOCASE OR outward = ? COLLATE NOCASE "
                              "UNION SELECT 1 FROM link WHERE inward = ? COLLATE NOCASE OR outward = ? COLLATE NOCASE "
                              "LIMIT 1", (v, v, v, v)).fetchone()
        return row is not None

    def _link_sides(self, v: str, where_src: str = "", where_dst: str = "") -> list[str]:
        """Conditions for issues on the side of links that the text ``v`` names."""
        if self._is_description(v):
            out_c, in_c = f"outward = {self.p(v)} COLLATE NOCASE", f"inward = {self.p(v)} COLLATE NOCASE"
        else:
            out_c, in_c = f"type_name = {self.p(v)} COLLATE NOCASE", f"type_name = {self.p(v)} COLLATE NOCASE"
        return [f"i.key IN (SELECT {where_src or 'src'} WHERE {out_c})",
                f"i.key IN (SELECT {where_dst or 'dst'} WHERE {in_c})"]

    def linktype_clause(self, c: Clause) -> str:
        """SQL for issueLinkType (``!=`` and ``NOT IN`` only match issues that have links)."""
        has = "(i.key IN (SELECT src FROM link) OR i.key IN (SELECT dst FROM link))"
        if c.op in ("IS", "IS NOT"):
            return has if c.op == "IS NOT" else f"(NOT {has})"
        if c.op not in _EQUALITY:
            raise self.unsupported_operator(c)
        vals, empty = self._values(c, c.operand)
        conds = []
        for v in vals:
            conds += self._link_sides(v, "src FROM link", "dst FROM link")
        hit = "(" + " OR ".join(conds) + ")" if conds else None
        if _positive(c.op):
            parts = ([hit] if hit else []) + ([f"(NOT {has})"] if empty else [])
            return "(" + " OR ".join(parts) + ")" if parts else "0"
        return f"({has} AND NOT {hit})" if hit else has

    # ------------------------------------------------------------ text search
    def text_clause(self, c: Clause, cols: list[str]) -> str:
        """SQL for ~, !~ and IS [NOT] EMPTY on text fields."""
        has_text = "(i.texts & " + str(sum(1 << _TEXT_BIT[col] for col in cols)) + " != 0)"
        if c.op in ("IS", "IS NOT") or (isinstance(c.operand, Empty) and c.op in ("=", "!=")):
            return has_text if c.op in ("IS NOT", "!=") else f"(NOT {has_text})"
        if c.op not in ("~", "!~"):
            raise JqlError(f"The operator '{c.op}' is not supported by the '{c.field}' field.",
                           hint=f'in `{render(c)}`: write {c.field} ~ "words" for a text search')
        if not isinstance(c.operand, Value):
            raise self.fail(c, "a text search needs a quoted text value")
        try:
            tq = T.parse_text(c.operand.text)
        except JqlSyntaxError as e:
            raise self.fail(c, f"the text search is not valid: {e.reason} at position {e.position}",
                            hint=e.hint) from None
        expr = self.fts_expr(tq.node)
        head = self.prefix(tq.node)
        if head is not None:  # a prefix wildcard: one FTS5 prefix query over the field's columns
            cond = self._prefix_match(head, cols)
        elif expr is not None:  # one FTS5 query; each column must match the whole expression on its own
            cond = self.rid_set(f"SELECT rowid FROM fts WHERE fts MATCH {self.p(in_columns(expr, cols, tq.node))}")
        elif isinstance(tq.node, T.Term | T.Phrase):  # one word or phrase: any field, checked in one pass
            cond = self._checked(tq.node, cols)
        else:
            cond = "(" + " OR ".join(self.text_node(tq.node, col) for col in cols) + ")"
        return cond if c.op == "~" else f"({has_text} AND NOT {cond})"  # !~ never matches an empty field

    def text_node(self, n: T.TextNode, col: str) -> str:
        """SQL for one text-query node over one column."""
        expr = self.fts_expr(n)
        if expr is not None:
            return self.rid_set(f"SELECT rowid FROM fts WHERE fts MATCH {self.p('{' + col + '} : (' + expr + ')')}")
        if isinstance(n, T.Wildcard | T.Fuzzy):
            if isinstance(n, T.Wildcard) and n.pattern == "*":
                return self._any_word(col)
            head = self.prefix(n)
            if head is not None:
                return self._prefix_match(head, [col])
            terms = self.expand(n)
            if not terms:
                return "0"
            expr = " OR ".join(f'"{t}"' for t in terms)
            return self.rid_set(f"SELECT rowid FROM fts_raw WHERE fts_raw MATCH {self.p('{' + col + '} : (' + expr + ')')}")
        if isinstance(n, T.Term | T.Phrase):
            return self._checked(n, [col])
        if isinstance(n, T.Bool):
            if not n.must and not n.should:
                return "0"
            parts = []
            if n.must:
                parts.append(" AND ".join(self.text_node(x, col) for x in n.must))
            else:
                parts.append("(" + " OR ".join(self.text_node(x, col) for x in n.should) + ")")
            for x in n.must_not:
                parts.append(f"NOT {self.text_node(x, col)}")
            return "(" + " AND ".join(parts) + ")"
        raise TypeError(n)

    @staticmethod
    def prefix(n: T.TextNode) -> str | None:
        """The word start of a wildcard FTS5 can answer as a prefix query (``win*``), else None.

        Exact when the pattern is a plain word start followed by one ``*`` and no stop word starts
        with it (stop words are not indexed by Jira, but ``fts_raw`` holds them, so ``th*`` is expanded).
        """
        if not isinstance(n, T.Wildcard):
            return None
        head = n.pattern[:-1]
        if not n.pattern.endswith("*") or not head or not all(ch.isalnum() for ch in head):
            return None
        if any(w.startswith(head) for w in T.STOP_WORDS):
            return None
        return head

    def _prefix_match(self, head: str, cols: list[str]) -> str:
        """Issues with a word starting with ``head`` in one of ``cols`` (FTS5 prefix query on words as written)."""
        match = "{" + " ".join(cols) + '} : "' + head + '" *'
        return self.rid_set(f"SELECT rowid FROM fts_raw WHERE fts_raw MATCH {self.p(match)}")

    def _any_word(self, col: str) -> str:
        """Issues whose field has at least one searchable word (``field ~ "*"``)."""
        return f"(i.texts & {1 << (4 + _TEXT_BIT[col])} != 0)"

    def _checked(self, n: T.Term | T.Phrase, cols: list[str]) -> str:
        """Issues where ``n`` matches in one of ``cols``: FTS5 narrows them down, Python checks the doubtful ones.

        For a phrase of k words spanning L positions with slop s, any issue with the words within
        NEAR distance s - L - k + 1 surely matches (Lucene's sloppy distance is at most the span plus L),
        so only the issues between that and NEAR(s + L - 1) are read and checked in Python.

        The sure set stays in SQL: the condition is an FTS5 subquery for it plus the few checked
        extras, and SQLite itself finds the doubtful issues (``narrow NOT sure``, one FTS5 query),
        so the sure set (a fifth of the store for a common pair) never travels through Python.
        """
        sure, narrow = self._near_bounds(n)
        doubtful = narrow
        if sure is not None and isinstance(n, T.Phrase):
            # narrow NOT sure, written so FTS5 tests the narrow NEAR only where the sure one failed (a
            # NEAR holds inside one column, and the words of either are in it: the same issues, a
            # third less work on 1,000,000 issues than ``narrow NOT sure``)
            every = " AND ".join(f'"{w}"' for w in n.words)
            doubtful = f"(({every}) NOT {sure}) AND {narrow}"
        doubtful = in_columns(doubtful, cols, n)
        extras = self._check_docs(n, cols, [r[0] for r in self.db.execute(
            "SELECT rowid FROM fts WHERE fts MATCH ?", (doubtful,))])
        return self._matched_or_listed(None if sure is None else in_columns(sure, cols, n), extras)

    def _matched_or_listed(self, match: str | None, rids: list[int]) -> str:
        """SQL for the issues that match the FTS5 expression ``match`` (None: no issue) or are among ``rids``."""
        fts = None if match is None else f"SELECT rowid FROM fts WHERE fts MATCH {self.p(match)}"  # params in SQL order
        listed = f"SELECT value FROM json_each({self.p(json.dumps(rids))})" if rids or match is None else None
        return self.rid_set(" UNION ALL ".join(q for q in (fts, listed) if q))

    @staticmethod
    def _near_bounds(n: T.Term | T.Phrase) -> tuple[str | None, str]:
        """FTS5 expressions (sure, narrow) for ``n``: every match is in narrow, every issue in sure matches (None: no such set).

        FTS5 counts NEAR distance as the tokens between the phrases (the span - 1 for two words): a
        match with slop s spans at most s + (the phrase's own span), so narrow loses none. A stop word
        (FTS5 indexes it, Jira never matches it) or a slop too small for the bound leaves no sure set.
        """
        if not isinstance(n, T.Phrase):
            return None, f'"{n.word}"'
        quoted = " ".join(f'"{w}"' for w in n.words)
        narrow = f"NEAR({quoted}, {n.slop + n.places[-1] - 1})"
        sure_n = n.slop - n.places[-1] - len(n.words) + 1
        if sure_n < 0 or any(T.stem(w) in T.stop_stems() for w in n.words):
            return None, narrow
        return f"NEAR({quoted}, {sure_n})", narrow

    def _check_docs(self, n: T.Term | T.Phrase, cols: list[str], cand: list[int]) -> list[int]:
        """The issues among ``cand`` where ``n`` matches one of ``cols``, by the reference rule on the stored text."""
        out: list[int] = []
        which = [_TEXT_BIT[col] for col in cols]
        for k in range(0, len(cand), 500):
            if self.budget is not None:
                self.budget.check()
            chunk = cand[k:k + 500]
            for rid, doc in self.db.execute(
                    f"SELECT rid, doc FROM issue_doc WHERE rid IN ({','.join('?' * len(chunk))})", chunk):
                texts = doc_texts(doc)  # the very text the index was fed
                if any(T.matches(n, T.FieldText.of(texts[b])) for b in which):
                    out.append(rid)
        return out

    def fts_expr(self, n: T.TextNode) -> str | None:
        """An FTS5 expression for nodes FTS5 answers exactly (terms, phrases, their booleans), else None."""
        if isinstance(n, T.Term):
            return None if T.stem(n.word) in T.stop_stems() else f'"{n.word}"'
        if isinstance(n, T.Phrase):
            if n.slop or n.gaps or any(T.stem(w) in T.stop_stems() for w in n.words):
                return None
            return '"' + " ".join(n.words) + '"'
        if isinstance(n, T.Bool):
            if not n.must and not n.should:
                return None
            subs = [self.fts_expr(x) for x in (n.must or n.should)]
            negs = [self.fts_expr(x) for x in n.must_not]
            if any(s is None for s in subs + negs):
                return None
            e = "(" + (" AND " if n.must else " OR ").join(subs) + ")"
            if negs:
                e = f"{e} NOT ({' OR '.join(negs)})"
            return e
        return None

    def vocab(self) -> list[str]:
        """Every indexed word as written (lower case), for wildcard and fuzzy expansion."""
        if self._vocab is None:
            self._vocab = [r[0] for r in self.db.execute("SELECT term FROM fts_raw_vocab")]
        return self._vocab

    def expand(self, n: T.Wildcard | T.Fuzzy) -> list[str]:
        """The indexed words (stop words excluded) a wildcard or fuzzy term stands for (once per query)."""
        if n not in self._expanded:
            self._expanded[n] = self._expand(n)
        return self._expanded[n]

    def _expand(self, n: T.Wildcard | T.Fuzzy) -> list[str]:
        """Expand a wildcard or fuzzy term over the word list, within the search's budget."""
        if self.budget is not None:
            self.budget.check()
        if isinstance(n, T.Wildcard):
            pat = n.pattern
            if any(not (ch.isalnum() or ch in "*?") for ch in pat):
                return []  # a word with unindexed characters can never match a single indexed word
            vocab = self.vocab()  # sorted, as fts5vocab lists it
            head = re.match(r"[^*?]*", pat).group()
            lo = bisect.bisect_left(vocab, head)
            hi = bisect.bisect_left(vocab, head + "\U0010ffff") if head else len(vocab)
            if pat == head + "*":
                found = vocab[lo:hi]
            else:
                rx = T.wildcard_regex(pat)
                found = [t for t in vocab[lo:hi] if rx.match(t)]
            return [t for t in found if t not in T.STOP_WORDS]
        out = []
        w, k = n.word, n.edits
        for i, t in enumerate(self.vocab()):
            if i % 2048 == 0 and self.budget is not None:
                self.budget.check()
            if abs(len(t) - len(w)) <= k and t not in T.STOP_WORDS and T.edit_distance(w, t, k) <= k:
                out.append(t)
        return out


def render_fn(op: Operand) -> str:
    """Short text of an operand for messages."""
    from labkit.jira.jql import render_operand

    return render_operand(op)
