"""Hypothesis: parse never fails with anything but JqlSyntaxError; render/parse round-trips generated trees."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from labkit.jira.errors import JqlSyntaxError
from labkit.jira.jql import parse, render
from labkit.jira.jql.ast import (
    And,
    Clause,
    Empty,
    Function,
    ListValue,
    Not,
    Or,
    Predicate,
    Query,
    SortKey,
    Value,
)
from labkit.jira.jql.text import parse_text

pytestmark = pytest.mark.unit

JQLISH = ["a", "status", "=", "!=", "~", "!~", ">", ">=", "<", "<=", "(", ")", ",", '"', "'", "\\", "AND", "OR",
          "NOT", "IN", "IS", "EMPTY", "NULL", "WAS", "CHANGED", "BY", "DURING", "ORDER", "ORDER BY", "ASC", "&&",
          "||", "!", "f()", "f(", "x-1", '"a b"', "cf[1]", "\\u00e9", "\\q", "-1w", "\n"]


@settings(max_examples=400, deadline=None)
@given(st.text())
def test_parse_raises_only_syntax_errors_on_any_text(s):
    try:
        q = parse(s)
    except JqlSyntaxError as e:
        assert 0 <= e.position <= len(s)
        return
    assert parse(render(q)) == q


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(JQLISH), max_size=14).map(" ".join))
def test_parse_raises_only_syntax_errors_on_jql_like_text(s):
    try:
        q = parse(s)
    except JqlSyntaxError:
        return
    assert parse(render(q)) == q


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(list('ab "*?~^+-!()&|\\:/[]{}0123456789') + ["AND", "OR", "NOT", " the "]))
       .map("".join))
def test_text_value_parser_raises_only_syntax_errors(s):
    try:
        parse_text(s)
    except JqlSyntaxError as e:
        assert 0 <= e.position <= len(s)       # the caret points inside the value


names = st.one_of(st.sampled_from(["project", "status", "text", "cf[10010]", "Story Points", "order", "a b",
                                   "issue.property[support].level", "user", "during"]),
                  st.text(min_size=1, max_size=8))
func_names = st.sampled_from(["currentUser", "linkedIssues", "startOfWeek", "membersOf", "now"])
reserved = st.sampled_from(["user", "EMPTY", "null", "order", "cf", "c++", "a[1]", "x*", "10350", "-5", "1.0"])
values = st.builds(Value, st.one_of(st.text(max_size=10), reserved), st.booleans())  # quoted or not
functions = st.builds(Function, func_names, st.lists(st.text(max_size=6), max_size=3).map(tuple))
scalars = st.one_of(values, functions, st.just(Empty()))
lists = st.builds(ListValue, st.lists(scalars, min_size=1, max_size=4).map(tuple))
preds = st.one_of(
    st.builds(Predicate, st.sampled_from(["AFTER", "BEFORE", "ON", "BY", "FROM", "TO"]),
              st.one_of(scalars, lists).map(lambda o: (o,))),
    st.builds(lambda a, b: Predicate("DURING", (a, b)), scalars, scalars),
)


def clause_strategy():
    """Hypothesis strategy for any JQL clause: comparisons, IN lists, IS EMPTY, WAS and CHANGED."""
    simple = st.builds(Clause, names, st.sampled_from(["=", "!=", ">", ">=", "<", "<=", "~", "!~"]), scalars)
    inlist = st.builds(Clause, names, st.sampled_from(["IN", "NOT IN"]), st.one_of(lists, functions))
    isempty = st.builds(Clause, names, st.sampled_from(["IS", "IS NOT"]), st.just(Empty()))
    was = st.builds(lambda f, op, o, p: Clause(f, op, o, tuple(p)), names, st.sampled_from(["WAS", "WAS NOT"]),
                    scalars, st.lists(preds, max_size=2))
    was_in = st.builds(lambda f, op, o, p: Clause(f, op, o, tuple(p)), names, st.sampled_from(["WAS IN", "WAS NOT IN"]),
                       st.one_of(lists, functions), st.lists(preds, max_size=2))
    changed = st.builds(lambda f, p: Clause(f, "CHANGED", None, tuple(p)), names, st.lists(preds, max_size=3))
    return st.one_of(simple, inlist, isempty, was, was_in, changed)


def _flat(cls, items):
    """Build an And/Or of the items, flattening nested ones of the same kind as the parser does."""
    out = []
    for i in items:
        out.extend(i.items if isinstance(i, cls) else (i,))
    return cls(tuple(out))


nodes = st.recursive(
    clause_strategy(),
    lambda kids: st.one_of(
        st.builds(Not, kids),
        st.lists(kids, min_size=2, max_size=3).map(lambda xs: _flat(And, xs)),
        st.lists(kids, min_size=2, max_size=3).map(lambda xs: _flat(Or, xs)),
    ),
    max_leaves=8,
)
sort_keys = st.lists(st.builds(SortKey, names, st.sampled_from([None, "ASC", "DESC"])), max_size=3).map(tuple)
queries = st.builds(Query, st.one_of(st.none(), nodes), sort_keys)


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(queries)
def test_render_parse_round_trip_on_generated_queries(q):
    """Any tree renders to JQL the strict parser accepts and reads back equal, quoting included."""
    text = render(q)
    assert parse(text, strict=True) == q
    assert render(parse(text)) == text


def test_quoting_follows_jira():
    assert render(parse('labels = "user"')) == 'labels = "user"'                 # a reserved word stays quoted
    assert render(parse('fixVersion = "10350"')) == 'fixVersion = "10350"'       # a quoted number is a name
    assert render(parse("fixVersion = 10350")) == "fixVersion = 10350"           # an unquoted one an id
    assert parse('fixVersion = "10350"') != parse("fixVersion = 10350")
    assert render(parse("issue.property[support].level = 3")) == "issue.property[support].level = 3"
    assert render(parse('version = "[example]"')) == 'version = "[example]"'
    assert render(Clause("labels", "=", Value("user"))) == 'labels = "user"'    # quoted even if built bare
    for bad, char in [("summary ~ win*", "*"), ("labels = c++", "+"), ("a = b[1]", "["), ("a = x;y", ";")]:
        with pytest.raises(JqlSyntaxError, match="reserved JQL character") as e:
            parse(bad)
        assert bad[e.value.position] == char and e.value.hint.startswith("quote the value")
    with pytest.raises(JqlSyntaxError, match="'user' is a reserved JQL word"):
        parse("labels = user")
    assert parse("labels = user", strict=False).where == Clause("labels", "=", Value("user", quoted=True))
