"""JQL parsing and rendering: the grammar, canonical text, errors with a caret."""

from __future__ import annotations

import csv

import pytest

from labkit.jira.errors import JqlSyntaxError
from labkit.jira.jql import parse, render
from labkit.jira.jql.ast import And, Clause, Empty, Function, ListValue, Not, Or, Predicate, SortKey, Value

from .test_store_helpers import JQL_DATA, as_jql

pytestmark = pytest.mark.unit

QUERIES = [
    'project = TIMOB AND status in (Open, "In Progress") ORDER BY Rank ASC, key DESC',
    "assignee = currentUser() AND resolution is EMPTY",
    'issue in linkedIssues("X-1", "is blocked by")',
    "created >= startOfWeek(-1) AND updated < -2d",
    "status WAS NOT IN (Open, Closed) BY fred DURING ('2020-01-01', now()) AFTER -1w",
    "status CHANGED FROM Open TO Closed BEFORE 2021-01-01",
    'cf[10010] > 3 OR "Story Points" <= 5',
    r'text ~ "\"disk space\"~10"',
    "summary !~ 'cha?k and che*'",
    "labels not in (a, b) AND component is not null",
    "NOT (a = 1 OR b = 2) AND !c = 3",
    "a = 1 && b = 2 || c = 3",
    "fixVersion = EMPTY OR fixVersion = \"EMPTY\"",
    'summary ~ "line\\nbreak \\u00e9"',
    "ORDER BY created DESC",
    "",
]


@pytest.mark.parametrize("q", QUERIES)
def test_round_trip(q):
    tree = parse(q)
    assert parse(render(tree)) == tree


def test_precedence_or_below_and_below_not():
    t = parse("a = 1 OR b = 2 AND NOT c = 3").where
    assert isinstance(t, Or)
    assert t.items[0] == Clause("a", "=", Value("1"))
    assert isinstance(t.items[1], And) and isinstance(t.items[1].items[1], Not)
    assert render(parse("(a = 1 OR b = 2) AND c = 3")) == "(a = 1 OR b = 2) AND c = 3"


def test_tree_shapes():
    q = parse('issue in linkedIssues(X-1, "is blocked by") ORDER BY Rank, created desc')
    assert q.where == Clause("issue", "IN", Function("linkedIssues", ("X-1", "is blocked by")))
    assert q.order_by == (SortKey("Rank"), SortKey("created", "DESC"))
    assert parse("a is null").where == Clause("a", "IS", Empty())
    assert parse("a in (1, EMPTY)").where == Clause("a", "IN", ListValue((Value("1"), Empty())))
    c = parse("status was Open during (2020-01-01, now()) by me").where
    assert c.op == "WAS" and c.predicates == (
        Predicate("DURING", (Value("2020-01-01"), Function("now"))), Predicate("BY", (Value("me"),)))
    assert parse(r'summary ~ "say \"hi\" \\ there"').where.operand == Value('say "hi" \\ there')


@pytest.mark.parametrize("q, pos", [
    ("project = ", 10), ("project TIMOB", 8), ("a = 1 AND", 9), ("a = (1, 2)", 4), ('a = "open', 4),
    ("a = 1 ORDER key", 12), ("(a = 1", 6), (r'a ~ "x\q"', 6), ("a in 1", 5), ("a is 3", 5),
])
def test_errors_point_at_the_problem(q, pos):
    with pytest.raises(JqlSyntaxError) as e:
        parse(q)
    assert e.value.position == pos
    lines = str(e.value).splitlines()
    caret = next(k for k, line in enumerate(lines) if line.strip() == "^")
    assert lines[caret].index("^") - 4 == pos and lines[caret - 1].strip() == q.strip()


def _tsv(name):
    """Read a TSV of the shared JQL data (comment lines skipped)."""
    with open(JQL_DATA / name, encoding="utf-8") as f:
        return [r for r in csv.reader((line for line in f if not line.startswith("#")), delimiter="\t", quoting=csv.QUOTE_NONE)]


@pytest.mark.skipif(not (JQL_DATA / "atlassian-text-search-examples.tsv").exists(), reason="shared JQL data absent")
def test_every_atlassian_example_parses():
    rows = _tsv("atlassian-text-search-examples.tsv")
    assert len(rows) == 30
    for query, kind, _meaning in rows:
        tree = parse(as_jql(query, kind))
        assert tree.where is not None
        assert parse(render(tree)) == tree


@pytest.mark.skipif(not (JQL_DATA / "vendor-link-function-examples.tsv").exists(), reason="shared JQL data absent")
def test_vendor_link_functions_parse():
    rows = _tsv("vendor-link-function-examples.tsv")
    for query, *_ in rows:
        tree = parse(query)
        assert parse(render(tree)) == tree
    t = parse(rows[0][0]).where
    assert t.items[0].operand == Function("linkedIssuesOf", ("status = Open", "blocks"))
