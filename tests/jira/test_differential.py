"""The store against a brute-force evaluator written here from Atlassian's documentation, on generated issues.

The oracle below shares no code with labkit's store or model: it reads the REST issue JSON itself,
flattens Atlassian Document Format itself (text nodes of a block run together), splits text into
words itself and evaluates each clause issue by issue, with the rules of Atlassian's "JQL
operators" page: ``NOT f = x`` is ``f != x`` (a NOT is pushed down to the clauses, De Morgan for
AND/OR); ``!=``, ``NOT IN``, ``!~`` and the range operators never match an empty field; ``EMPTY``
in a list matches an empty field; an unquoted number names an object's id if one has it, else its
name; a quoted number is a name; a value that names nothing is an error. Text clauses use a
vocabulary whose words are their own stems, so whole-word equality is Jira's stemmed match.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from labkit.jira.errors import JiraError
from labkit.jira.jql.ast import And, Clause, Empty, ListValue, Not, Or, Query, Value, render
from labkit.jira.store import Store

pytestmark = pytest.mark.unit

VOCAB = ["disk", "node", "quota", "bridge", "kernel", "snapshot", "cluster", "tenant"]  # each its own stem
PROJECTS = [{"id": "10100", "key": "ALPHA", "name": "Alpha"}, {"id": "10200", "key": "NUM", "name": "2024"}]
STATUSES = [{"id": "1", "name": "Open"}, {"id": "3", "name": "In Progress"}, {"id": "10042", "name": "42"}]
PRIORITIES = [{"id": "2", "name": "High"}, {"id": "3", "name": "Medium"}, {"id": "4", "name": "Low"}]
COMPONENTS = [{"id": "501", "name": "api"}, {"id": "777", "name": "501"}, {"id": "502", "name": "db"}]
USERS = ["alice", "bob"]
LABELS = ["x", "y"]
DATES = ["2021-03-10", "2021-03-20", "2021-04-01"]


# ------------------------------------------------------------ generated issues

def _text():
    """Plain text from the vocabulary (maybe empty)."""
    return st.lists(st.sampled_from(VOCAB), max_size=4).map(" ".join)


def _adf():
    """An ADF document: paragraphs of text nodes (a word may be split across two nodes)."""
    node = st.sampled_from(VOCAB).flatmap(lambda w: st.sampled_from([[w + " "], [w[:2], w[2:] + " "]]))
    para = st.lists(node, max_size=3).map(lambda parts: [t for p in parts for t in p])
    return st.lists(para, max_size=3).map(lambda paras: {"type": "doc", "version": 1, "content": [
        {"type": "paragraph", "content": [{"type": "text", "text": t} for t in texts]} for texts in paras]})


@st.composite
def issues(draw):
    """Between 1 and 12 issues with random, often empty, fields."""
    out = []
    for n in range(1, draw(st.integers(1, 12)) + 1):
        project = draw(st.sampled_from(PROJECTS))
        out.append({"id": str(40000 + n), "key": f"{project['key']}-{n}", "fields": {
            "project": project, "summary": draw(_text()) or "x",
            "description": draw(st.one_of(st.none(), st.just(""), _text(), _adf())),
            "status": {**draw(st.sampled_from(STATUSES)), "statusCategory": {"id": 2, "key": "new", "name": "To Do"}},
            "priority": draw(st.sampled_from(PRIORITIES)),
            "issuetype": {"id": "1", "name": "Bug"},
            "assignee": draw(st.one_of(st.none(), st.sampled_from(USERS).map(lambda u: {"name": u}))),
            "labels": draw(st.lists(st.sampled_from(LABELS), unique=True)),
            "components": draw(st.lists(st.sampled_from(COMPONENTS), unique_by=lambda c: c["id"])),
            "duedate": draw(st.one_of(st.none(), st.sampled_from(DATES))),
            "created": "2021-03-01T10:00:00.000+0000", "updated": "2021-03-01T10:00:00.000+0000"}})
    return out


# ------------------------------------------------------------ generated queries

def _named_value(objects):
    """A value naming one of ``objects``: its name, its id unquoted, or a number quoted (a name)."""
    return st.sampled_from(objects).flatmap(lambda o: st.sampled_from([
        Value(o["name"], quoted=True), Value(o["id"]), Value(o.get("key") or o["name"], quoted=True)]))


VALUES = {
    "project": _named_value(PROJECTS),
    "status": _named_value(STATUSES),
    "component": _named_value(COMPONENTS),
    "assignee": st.sampled_from(USERS).map(Value),
    "labels": st.sampled_from(LABELS).map(Value),
}


def _clause():
    """One clause: equality, lists, EMPTY, text and ranges."""
    eq = st.sampled_from(sorted(VALUES)).flatmap(lambda f: st.one_of(
        st.builds(lambda op, v: Clause(f, op, v), st.sampled_from(["=", "!="]), st.one_of(VALUES[f], st.just(Empty()))),
        st.builds(lambda op, vs: Clause(f, op, ListValue(tuple(vs))), st.sampled_from(["IN", "NOT IN"]),
                  st.lists(st.one_of(VALUES[f], st.just(Empty())), min_size=1, max_size=3)),
        st.builds(lambda op: Clause(f, op, Empty()), st.sampled_from(["IS", "IS NOT"]))))
    text = st.builds(lambda f, op, w: Clause(f, op, Value(w)), st.sampled_from(["summary", "description"]),
                     st.sampled_from(["~", "!~"]), st.sampled_from(VOCAB))
    text_all = st.builds(lambda w: Clause("text", "~", Value(w)), st.sampled_from(VOCAB))
    empty_text = st.builds(lambda op: Clause("description", op, Empty()), st.sampled_from(["IS", "IS NOT"]))
    due = st.builds(lambda op, d: Clause("due", op, Value(d, quoted=True)),
                    st.sampled_from(["=", "!=", ">", ">=", "<", "<="]), st.sampled_from(DATES))
    prio = st.builds(lambda op, p: Clause("priority", op, Value(p["name"])),
                     st.sampled_from([">", "<=", "=", "!="]), st.sampled_from(PRIORITIES))
    return st.one_of(eq, text, text_all, empty_text, due, prio)


conditions = st.recursive(_clause(), lambda kids: st.one_of(
    st.builds(Not, kids), st.lists(kids, min_size=2, max_size=3).map(lambda xs: And(tuple(xs))),
    st.lists(kids, min_size=2, max_size=3).map(lambda xs: Or(tuple(xs)))), max_leaves=5)


# ------------------------------------------------------------ the oracle

class Refused(Exception):
    """The query names a value no object has: Jira answers 400."""


def flatten(value) -> str:
    """Plain text of a field: ADF text nodes joined within a block, blocks separated (None is empty)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    blocks = []
    for block in value.get("content") or []:
        stack, parts = [block], []
        while stack:
            node = stack.pop(0)
            if node.get("type") == "text":
                parts.append(node.get("text", ""))
            stack[0:0] = node.get("content") or []
        blocks.append("".join(parts))
    return "\n".join(blocks)


def words(text: str) -> list[str]:
    """Lower-case words: runs of letters and digits."""
    return re.findall(r"[a-z0-9]+", text.lower())


class Oracle:
    """Evaluates a condition on each issue, straight from the documented rules."""

    def __init__(self, issues: list[dict]) -> None:
        """Know the objects the issues carry (what a value may name)."""
        self.issues = issues
        self.objects: dict[str, list[dict]] = {"project": [], "status": [], "component": [], "priority": []}
        for i in issues:
            f = i["fields"]
            for kind, objs in (("project", [f["project"]]), ("status", [f["status"]]), ("component", f["components"]),
                               ("priority", [f["priority"]])):
                for o in objs:
                    if o not in self.objects[kind]:
                        self.objects[kind].append(o)

    def resolve(self, field: str, v: Value) -> set[str]:
        """The ids a value names: an unquoted number is an id if an object has it, else a name (or project key)."""
        objs = self.objects[field]
        if not v.quoted and re.fullmatch(r"-?\d+", v.text):
            by_id = {o["id"] for o in objs if o["id"] == v.text}
            if by_id:
                return by_id
        by_name = {o["id"] for o in objs if v.text.lower() in (o["name"].lower(), o.get("key", "").lower())}
        if not by_name:
            raise Refused(v.text)
        return by_name

    def values(self, issue: dict, field: str) -> list[str]:
        """The field's values on an issue: ids for objects, logins, labels; [] when empty."""
        f = issue["fields"]
        if field in ("project", "status"):
            return [f[field]["id"]]
        if field == "component":
            return [c["id"] for c in f["components"]]
        if field == "assignee":
            return [f["assignee"]["name"]] if f["assignee"] else []
        return list(f["labels"])

    def matches(self, field: str, v: Value, have: list[str]) -> bool:
        """Whether one value matches one of the issue's values."""
        if field in self.objects:
            return bool(self.resolve(field, v) & set(have))
        return v.text.lower() in [h.lower() for h in have]

    def clause(self, c: Clause, issue: dict) -> bool:
        """One clause on one issue."""
        f = issue["fields"]
        if c.field in ("summary", "description", "text"):
            texts = [flatten(f.get(n)) for n in (("summary", "description") if c.field == "text" else (c.field,))]
            if c.op in ("IS", "IS NOT"):
                empty = not any(t.strip() for t in texts)
                return empty if c.op == "IS" else not empty
            hit = any(c.operand.text in words(t) for t in texts)
            return hit if c.op == "~" else (any(t.strip() for t in texts) and not hit)
        if c.field == "due":
            due = f["duedate"]
            if due is None:
                return False                                   # an empty date never compares
            return {"=": due == c.operand.text, "!=": due != c.operand.text, ">": due > c.operand.text,
                    ">=": due >= c.operand.text, "<": due < c.operand.text, "<=": due <= c.operand.text}[c.op]
        if c.field == "priority":
            mine = int(f["priority"]["id"])
            other = int(next(iter(self.resolve("priority", c.operand))))
            return {"=": mine == other, "!=": mine != other, ">": mine < other, "<=": mine >= other}[c.op]
        have = self.values(issue, c.field)
        if c.op in ("IS", "IS NOT"):
            return (not have) if c.op == "IS" else bool(have)
        items = c.operand.items if isinstance(c.operand, ListValue) else (c.operand,)
        want_empty = any(isinstance(i, Empty) for i in items)
        vals = [i for i in items if isinstance(i, Value)]
        hit = any(self.matches(c.field, v, have) for v in vals)
        if c.op in ("=", "IN"):
            return hit or (want_empty and not have)
        return bool(have) and not hit                          # != / NOT IN never match an empty field

    def holds(self, n, issue: dict, negated: bool = False) -> bool:
        """A condition on one issue; a NOT flips the operators below it (De Morgan for AND/OR)."""
        if isinstance(n, Not):
            return self.holds(n.item, issue, not negated)
        if isinstance(n, And | Or):
            results = [self.holds(i, issue, negated) for i in n.items]
            conj = isinstance(n, And) != negated
            return all(results) if conj else any(results)
        if not negated:
            return self.clause(n, issue)
        flip = {"=": "!=", "!=": "=", "IN": "NOT IN", "NOT IN": "IN", "IS": "IS NOT", "IS NOT": "IS",
                "~": "!~", "!~": "~", ">": "<=", "<=": ">", "<": ">=", ">=": "<"}[n.op]
        return self.clause(Clause(n.field, flip, n.operand), issue)

    def keys(self, node) -> set[str]:
        """The keys of the issues a condition holds for."""
        for i in self.issues:  # resolve every value first: an unknown one refuses the whole query
            self.holds(node, i)
        return {i["key"] for i in self.issues if self.holds(node, i)}


@pytest.mark.slow
@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(issues(), conditions)
def test_store_equals_the_documented_semantics(generated, condition):
    oracle = Oracle(generated)
    jql = render(Query(condition))
    try:
        expected = oracle.keys(condition)
    except Refused:
        expected = None
    with Store() as store:
        store.import_issues(generated)
        if expected is None:
            with pytest.raises(JiraError, match="does not exist for the field"):
                store.search_keys(jql)
            return
        assert set(store.search_keys(jql)[0]) == expected, jql
