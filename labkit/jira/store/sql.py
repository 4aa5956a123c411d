"""Translate a parsed JQL query into SQL over the local store's tables (text clauses via FTS5).

A clause the store cannot evaluate raises ``JqlError`` naming the clause: never a silent wrong answer.
"""

from __future__ import annotations

import bisect
import json
import re
import sqlite3
from datetime import datetime
from typing import Any

import labkit.jira.jql.text as T
from labkit.jira.errors import JqlError, JqlSyntaxError
from labkit.jira.jql import render
from labkit.jira.jql.ast import And, Clause, Empty, Function, ListValue, Node, Not, Operand, Or, Query, Value
from labkit.jira.model import RANK_NAMES
from labkit.jira.store.dates import function_date, iso, value_date

TEXT_COLUMNS = {"summary": ["summary"], "description": ["description"], "environment": ["environment"],
                "comment": ["comment"], "text": ["summary", "description", "environment", "comment"]}

# field -> (kind, columns compared for equality); kinds: simple, user, multi, date, key, text
_SIMPLE: dict[str, tuple[str, ...]] = {
    "project": ("project", "project_name", "project_id"),
    "issuetype": ("issuetype", "issuetype_id"),
    "type": ("issuetype", "issuetype_id"),
    "status": ("status", "status_id"),
    "statuscategory": ("status_category", "status_category_key", "status_category_id"),
    "priority": ("priority", "priority_id"),
    "resolution": ("resolution", "resolution_id"),
    "parent": ("parent", "parent_id"),
}
_USERS = {"assignee": ("assignee", "assignee_display"), "reporter": ("reporter", "reporter_display"),
          "creator": ("creator", "creator_display")}
_MULTI = {"labels": "label", "label": "label", "component": "component", "components": "component",
          "fixversion": "fixversion", "fixversions": "fixversion", "affectedversion": "affectsversion",
          "version": "affectsversion"}
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


# SQL giving a text field's content from the stored issue JSON (FTS5 tables are contentless)
_TEXT_SQL = {
    "summary": "COALESCE(json_extract(doc, '$.fields.summary'), '')",
    "description": "COALESCE(json_extract(doc, '$.fields.description'), '')",
    "environment": "COALESCE(json_extract(doc, '$.fields.environment'), '')",
    "comment": "COALESCE((SELECT group_concat(COALESCE(json_extract(c.value, '$.body'), ''), char(10)) "
               "FROM json_each(doc, '$.fields.comment.comments') c), '')",
}


_HISTORY_COLUMNS = {"status": ("status", "status_id"), "assignee": ("assignee", "assignee_display"),
                    "priority": ("priority", "priority_id"), "resolution": ("resolution", "resolution_id"),
                    "reporter": ("reporter", "reporter_display")}


def field_key(name: str) -> str:
    """Normalise a JQL field name for lookup (case-insensitive, spaces dropped)."""
    return name.lower().replace(" ", "")


class SqlBuilder:
    """Builds the WHERE and ORDER BY of one query for a store connection."""

    def __init__(self, db: sqlite3.Connection, now: datetime, current_user: str) -> None:
        """Prepare to translate clauses to SQL on ``db`` at time ``now`` for ``current_user``."""
        self.db = db
        self.now = now
        self.current_user = current_user
        self.params: list[Any] = []
        self._vocab: list[str] | None = None

    # ------------------------------------------------------------ entry points
    def where(self, q: Query) -> str:
        """Return the SQL condition for the query's WHERE part (``1`` when there is none)."""
        return "1" if q.where is None else self.node(q.where)

    def order(self, q: Query) -> str:
        """Return the ORDER BY list; without ORDER BY the store sorts by key, newest first (key DESC)."""
        parts = []
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
            elif f in _MULTI:  # by the first value; issues without one sort last
                sub = f"(SELECT MIN(m.value COLLATE NOCASE) FROM {_MULTI[f]} m WHERE m.rid = i.rid)"
                parts.append(f"{sub} IS NULL, {sub}{d}")
            else:
                raise JqlError(f"Cannot order by {k.field!r} in the local store",
                               hint="order by key, id, Rank, priority, a date, status, statusCategory, issuetype, "
                                    "project, resolution, assignee, reporter, summary, labels, component or fixVersion")
        if not q.order_by:
            return "i.project DESC, i.num DESC"
        last = field_key(q.order_by[-1].field)
        if last in _KEYS:  # already a total order
            return ", ".join(parts)
        return ", ".join(parts + ["i.project ASC", "i.num ASC"])

    # ------------------------------------------------------------ boolean structure
    def node(self, n: Node) -> str:
        """Return SQL for one condition node."""
        if isinstance(n, And):
            return "(" + " AND ".join(self.node(i) for i in n.items) + ")"
        if isinstance(n, Or):
            return "(" + " OR ".join(self.node(i) for i in n.items) + ")"
        if isinstance(n, Not):
            return f"(NOT COALESCE({self.node(n.item)}, 0))"
        return self.clause(n)

    def p(self, v: Any) -> str:
        """Add a parameter and return its placeholder."""
        self.params.append(v)
        return "?"

    def fail(self, c: Clause, why: str, hint: str | None = None) -> JqlError:
        """A JqlError naming the clause and why."""
        return JqlError(f"Cannot evaluate `{render(c)}` in the local store: {why}", hint=hint)

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
            return f"i.rid IN (SELECT value FROM json_each({self.p(json.dumps(rids))}))"
        if f in TEXT_COLUMNS:
            return self.text_clause(c, TEXT_COLUMNS[f])
        if c.op in ("~", "!~"):
            raise self.fail(c, f"the field {c.field!r} does not support {c.op}",
                            hint="use ~ only with summary, description, environment, comment or text")
        if f in _KEYS:
            return self.key_clause(c, f)
        if f in _SIMPLE:
            return self.simple_clause(c, _SIMPLE[f], f)
        if f in _USERS:
            return self.simple_clause(c, _USERS[f], f, user=True)
        if f in _MULTI:
            return self.multi_clause(c, _MULTI[f])
        if f in _DATES:
            return self.date_clause(c, _DATES[f])
        if f == "issuelinktype":
            return self.linktype_clause(c)
        if f in _RANK_NAMES:
            raise self.fail(c, "Rank can only be used in ORDER BY")
        raise self.fail(c, f"the field {c.field!r} is not known to the local store",
                        hint="searchable fields: project, key, issuetype, status, statusCategory, priority, "
                             "resolution, assignee, reporter, labels, component, fixVersion, created, updated, "
                             "resolved, due, summary, description, environment, comment, text, issueLinkType")

    def _values(self, c: Clause, op: Operand, user: bool = False) -> tuple[list[str], bool]:
        """Literal values of an operand and whether EMPTY is among them."""
        items = op.items if isinstance(op, ListValue) else (op,)
        vals, empty = [], False
        for it in items:
            if isinstance(it, Empty):
                empty = True
            elif isinstance(it, Value):
                vals.append(it.text)
            elif isinstance(it, Function) and user and it.name.lower() == "currentuser":
                vals.append(self.current_user)
            else:
                raise self.fail(c, f"the function {render_fn(it)} is not supported here")
        return vals, empty

    def _eq_any(self, cols: tuple[str, ...], vals: list[str], f: str) -> str:
        """Equality against any of the values in any of the columns."""
        ors = []
        for v in vals:
            if f == "resolution" and v.lower() == "unresolved":
                ors.append("i.resolution IS NULL")
                continue
            ors.extend(f"i.{col} = {self.p(v)} COLLATE NOCASE" for col in cols)
        return "(" + " OR ".join(ors) + ")" if ors else "0"

    def simple_clause(self, c: Clause, cols: tuple[str, ...], f: str, user: bool = False) -> str:
        """SQL for single-valued fields (status, project, assignee, ...)."""
        main = f"i.{cols[0]}"
        if c.op in ("IS", "IS NOT"):
            return f"({main} IS {'NOT ' if c.op == 'IS NOT' else ''}NULL)"
        if c.op in ("=", "!=", "IN", "NOT IN"):
            vals, empty = self._values(c, c.operand, user)
            pos = self._eq_any(cols, vals, f)
            if empty:
                pos = f"({pos} OR {main} IS NULL)"
            if c.op in ("=", "IN"):
                return pos
            if f == "resolution" and any(v.lower() == "unresolved" for v in vals):
                return f"(NOT {pos})"
            return f"({main} IS NOT NULL AND NOT {pos})" if not empty else f"(NOT {pos})"
        if f == "priority" and c.op in (">", ">=", "<", "<="):
            vals, _ = self._values(c, c.operand)
            row = self.db.execute(
                "SELECT priority_id FROM issue WHERE priority = ? COLLATE NOCASE OR priority_id = ? LIMIT 1",
                (vals[0], vals[0])).fetchone()
            if row is None:
                raise self.fail(c, f"no issue has the priority {vals[0]!r}")
            # higher priority = lower id
            flip = {">": "<", ">=": "<=", "<": ">", "<=": ">="}[c.op]
            return f"(CAST(i.priority_id AS INTEGER) {flip} {self.p(int(row[0]))})"
        raise self.fail(c, f"the operator {c.op} is not supported for {c.field}")

    def multi_clause(self, c: Clause, table: str) -> str:
        """SQL for multi-valued fields (labels, components, versions)."""
        has_any = f"EXISTS (SELECT 1 FROM {table} m WHERE m.rid = i.rid)"
        if c.op in ("IS", "IS NOT"):
            return has_any if c.op == "IS NOT" else f"NOT {has_any}"
        if c.op not in ("=", "!=", "IN", "NOT IN"):
            raise self.fail(c, f"the operator {c.op} is not supported for {c.field}")
        vals, empty = self._values(c, c.operand)
        if vals:
            marks = ", ".join(self.p(v) for v in vals)
            hit = f"EXISTS (SELECT 1 FROM {table} m WHERE m.rid = i.rid AND m.value COLLATE NOCASE IN ({marks}))"
        else:
            hit = "0"
        if c.op in ("=", "IN"):
            return f"({hit} OR NOT {has_any})" if empty else hit
        if empty:
            return f"({has_any} AND NOT {hit})"
        return f"({has_any} AND NOT {hit})"

    def _date(self, c: Clause, op: Operand) -> str:
        """A date operand as store text."""
        if isinstance(op, Value):
            return iso(value_date(op.text, self.now, render(c)))
        if isinstance(op, Function):
            return iso(function_date(op.name, op.args, self.now, render(c)))
        raise self.fail(c, "a date comparison needs one date")

    def date_clause(self, c: Clause, col: str) -> str:
        """SQL for date fields."""
        if c.op in ("IS", "IS NOT"):
            return f"(i.{col} IS {'NOT ' if c.op == 'IS NOT' else ''}NULL)"
        if c.op in ("=", "!=", ">", ">=", "<", "<="):
            if isinstance(c.operand, Empty):
                return f"(i.{col} IS {'NOT ' if c.op == '!=' else ''}NULL)"
            return f"(i.{col} {c.op} {self.p(self._date(c, c.operand))})"
        if c.op in ("IN", "NOT IN") and isinstance(c.operand, ListValue):
            vals = ", ".join(self.p(self._date(c, it)) for it in c.operand.items if not isinstance(it, Empty))
            has_empty = any(isinstance(it, Empty) for it in c.operand.items)
            pos = f"(i.{col} IN ({vals or 'NULL'})" + (f" OR i.{col} IS NULL)" if has_empty else ")")
            return pos if c.op == "IN" else f"(i.{col} IS NOT NULL AND NOT {pos})"
        raise self.fail(c, f"the operator {c.op} is not supported for dates")

    def key_clause(self, c: Clause, f: str) -> str:
        """SQL for key, id and issue (lists, ranges, linkedIssues())."""
        op = c.operand
        if c.op in ("IS", "IS NOT"):
            return "0" if c.op == "IS" else "1"
        if isinstance(op, Function) or (isinstance(op, ListValue) and any(isinstance(x, Function) for x in op.items)):
            if c.op not in ("IN", "NOT IN", "=", "!="):
                raise self.fail(c, f"the operator {c.op} does not take a function")
            fns = [op] if isinstance(op, Function) else [x for x in op.items if isinstance(x, Function)]
            conds = [self.linked_issues(c, fn) for fn in fns]
            rest = [x for x in op.items if not isinstance(x, Function)] if isinstance(op, ListValue) else []
            if rest:
                conds.append(self.key_clause(Clause(c.field, "IN", ListValue(tuple(rest))), f))
            pos = "(" + " OR ".join(conds) + ")"
            return pos if c.op in ("IN", "=") else f"(NOT {pos})"
        vals, _ = self._values(c, op)
        if c.op in ("=", "!=", "IN", "NOT IN"):
            conds = []
            for v in vals:
                if f == "id" or v.isdigit():
                    conds.append(f"i.id = {self.p(v)}")
                else:
                    conds.append(f"i.key = {self.p(v.upper())}")
            pos = "(" + " OR ".join(conds) + ")" if conds else "0"
            return pos if c.op in ("=", "IN") else f"(NOT {pos})"
        if c.op in (">", ">=", "<", "<="):
            v = vals[0]
            if f == "id" or v.isdigit():
                return f"(CAST(i.id AS INTEGER) {c.op} {self.p(int(v))})"
            m = re.fullmatch(r"([A-Za-z][A-Za-z0-9_]*)-(\d+)", v)
            if not m:
                raise self.fail(c, f"{v!r} is not an issue key")
            return f"(i.project = {self.p(m.group(1).upper())} AND i.num {c.op} {self.p(int(m.group(2)))})"
        raise self.fail(c, f"the operator {c.op} is not supported for {c.field}")

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
        """SQL for issueLinkType."""
        if c.op in ("IS", "IS NOT"):
            has = "(i.key IN (SELECT src FROM link) OR i.key IN (SELECT dst FROM link))"
            return has if c.op == "IS NOT" else f"(NOT {has})"
        if c.op not in ("=", "!=", "IN", "NOT IN"):
            raise self.fail(c, f"the operator {c.op} is not supported for issueLinkType")
        vals, _ = self._values(c, c.operand)
        conds = []
        for v in vals:
            conds += self._link_sides(v, "src FROM link", "dst FROM link")
        pos = "(" + " OR ".join(conds) + ")" if conds else "0"
        return pos if c.op in ("=", "IN") else f"(NOT {pos})"

    # ------------------------------------------------------------ text search
    def text_clause(self, c: Clause, cols: list[str]) -> str:
        """SQL for ~, !~ and IS [NOT] EMPTY on text fields."""
        if c.op in ("IS", "IS NOT"):
            empty = " AND ".join(f"{_TEXT_SQL[col]} = ''" for col in cols)
            cond = f"i.rid IN (SELECT rid FROM issue_doc WHERE {empty})"
            return cond if c.op == "IS" else f"(NOT {cond})"
        if c.op not in ("~", "!~"):
            raise self.fail(c, f"text fields support only ~, !~, IS EMPTY (not {c.op})",
                            hint=f'write {c.field} ~ "words" for a text search')
        if not isinstance(c.operand, Value):
            raise self.fail(c, "a text search needs a quoted text value")
        try:
            tq = T.parse_text(c.operand.text)
        except JqlSyntaxError as e:
            raise self.fail(c, f"the text search is not valid: {e.reason} at position {e.position}",
                            hint=e.hint) from None
        expr = self.fts_expr(tq.node)
        if expr is not None:  # one FTS5 query; each column must match the whole expression on its own
            match = " OR ".join("{" + col + "} : (" + expr + ")" for col in cols)
            cond = f"i.rid IN (SELECT rowid FROM fts WHERE fts MATCH {self.p(match)})"
        elif isinstance(tq.node, T.Term | T.Phrase):  # one word or phrase: any field, checked in one pass
            cond = self._checked(tq.node, cols)
        else:
            cond = "(" + " OR ".join(self.text_node(tq.node, col) for col in cols) + ")"
        return cond if c.op == "~" else f"(NOT {cond})"

    def text_node(self, n: T.TextNode, col: str) -> str:
        """SQL for one text-query node over one column."""
        expr = self.fts_expr(n)
        if expr is not None:
            return f"i.rid IN (SELECT rowid FROM fts WHERE fts MATCH {self.p('{' + col + '} : (' + expr + ')')})"
        if isinstance(n, T.Wildcard | T.Fuzzy):
            if isinstance(n, T.Wildcard) and n.pattern == "*":
                return self._any_word(col)
            terms = self.expand(n)
            if not terms:
                return "0"
            expr = " OR ".join(f'"{t}"' for t in terms)
            return f"i.rid IN (SELECT rowid FROM fts_raw WHERE fts_raw MATCH {self.p('{' + col + '} : (' + expr + ')')})"
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

    def _any_word(self, col: str) -> str:
        """Issues whose field has at least one searchable word (``field ~ "*"``)."""
        rids = [rid for rid, text in self.db.execute(f"SELECT rid, {_TEXT_SQL[col]} FROM issue_doc")
                if T.FieldText.of(text)._rawset]
        return f"i.rid IN (SELECT value FROM json_each({self.p(json.dumps(rids))}))"

    def _checked(self, n: T.Term | T.Phrase, cols: list[str]) -> str:
        """Issues where ``n`` matches in one of ``cols``: FTS5 narrows them down, Python checks the doubtful ones.

        For a phrase of k words spanning L positions with slop s, any issue with the words within
        NEAR distance s - L - k + 1 surely matches (Lucene's sloppy distance is at most the span plus L),
        so only the issues between that and NEAR(s + gaps) are read and checked in Python.
        """
        def match(expr: str) -> str:
            """Return an FTS5 MATCH expression of ``expr`` over every column of the field."""
            return " OR ".join("{" + col + "} : " + expr for col in cols)

        sure: set[int] = set()
        if isinstance(n, T.Phrase):
            quoted = " ".join(f'"{w}"' for w in n.words)
            narrow = f"NEAR({quoted}, {n.slop + n.gaps})"
            sure_n = n.slop - n.places[-1] - len(n.words) + 1
            if sure_n >= 0 and not any(T.stem(w) in T.stop_stems() for w in n.words):
                sure = {r[0] for r in self.db.execute("SELECT rowid FROM fts WHERE fts MATCH ?",
                                                      (match(f"NEAR({quoted}, {sure_n})"),))}
        else:
            narrow = f'"{n.word}"'
        cand = [r[0] for r in self.db.execute("SELECT rowid FROM fts WHERE fts MATCH ?", (match(narrow),))
                if r[0] not in sure]
        rids = list(sure)
        texts = ", ".join(_TEXT_SQL[col] for col in cols)
        for k in range(0, len(cand), 500):
            chunk = cand[k:k + 500]
            for row in self.db.execute(
                    f"SELECT rid, {texts} FROM issue_doc WHERE rid IN ({','.join('?' * len(chunk))})", chunk):
                if any(T.matches(n, T.FieldText.of(t)) for t in row[1:]):
                    rids.append(row[0])
        return f"i.rid IN (SELECT value FROM json_each({self.p(json.dumps(rids))}))"

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
        """The indexed words (stop words excluded) a wildcard or fuzzy term stands for."""
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
        for t in self.vocab():
            if abs(len(t) - len(w)) <= k and t not in T.STOP_WORDS and T.edit_distance(w, t, k) <= k:
                out.append(t)
        return out


def render_fn(op: Operand) -> str:
    """Short text of an operand for messages."""
    from labkit.jira.jql import render_operand

    return render_operand(op)
