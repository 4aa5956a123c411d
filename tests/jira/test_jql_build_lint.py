"""The JQL builder escapes right; lint names the traps."""

from __future__ import annotations

import pytest

from labkit.jira.jql import parse
from labkit.jira.jql.build import field, fn, text
from labkit.jira.jql.lint import lint
from labkit.jira.store import Store

from .test_store_helpers import issue

pytestmark = pytest.mark.unit


def test_builder_examples_from_the_issue():
    assert str(text("disk space", phrase=True)) == 'text ~ "\\"disk space\\""'
    assert str(text("disk space", phrase=True, within=10)) == 'text ~ "\\"disk space\\"~10"'
    assert str(field("summary").contains("behavio*r")) == 'summary ~ "behavio*r"'
    q = ((field("project") == "OPS") & text("disk space", phrase=True) | ~field("status").in_(["Closed", "In Review"]))
    assert str(q.order_by("Rank", ("created", "DESC"))) == (
        'project = OPS AND text ~ "\\"disk space\\"" OR NOT status IN (Closed, "In Review") ORDER BY Rank, created DESC')
    assert str(field("issue").in_(fn("linkedIssues", "X-1", "is blocked by"))) == 'issue IN linkedIssues(X-1, "is blocked by")'
    assert str(field("assignee") == None) == "assignee IS EMPTY"  # noqa: E711
    assert str(field("Story Points") >= 3) == '"Story Points" >= 3'
    assert str(field("status").was("Open", by="fred", during=("2020-01-01", fn("now")))) == \
        "status WAS Open BY fred DURING (2020-01-01, now())"


def test_builder_escapes_quotes_and_backslashes_that_search_right():
    s = Store()
    s.import_issues([issue("Q-1", 'say "disk space" now'), issue("Q-2", "space disk")])
    phrase = text('disk "space"', phrase=True)  # inner quotes are escaped twice (Lucene, then JQL)
    assert parse(str(phrase)).where.operand.text == '"disk \\"space\\""'
    assert s.search_keys(str(text("disk space", phrase=True)))[0] == ["Q-1"]
    assert sorted(s.search_keys(str(text("disk space")))[0]) == ["Q-1", "Q-2"]
    with pytest.raises(ValueError):
        text("a b", within=3)


@pytest.mark.parametrize("q, code", [
    ('text ~ "disk space"', "words-not-phrase"),
    ('text ~ "\\"disk space~10\\""', "proximity-in-phrase"),
    ('text ~ "\\"disk spa*\\""', "wildcard-in-phrase"),
    ('summary ~ "*box"', "leading-wildcard"),
    ('text ~ "the and"', "stop-words-only"),
    ('text ~ "C++"', "special-characters"),
    ("ORDER BY Rank", "unbounded"),
    ("status != Closed", "unbounded"),
    ('summary = "disk"', "text-equals"),
    ('text ~ "(a OR b) AND c"', "text-syntax"),
])
def test_lint_traps(q, code):
    assert code in [w.code for w in lint(q)]


def test_lint_cloud_only_and_clean_queries():
    cloud = [w.code for w in lint('project = X AND text ~ "roam~ \\"a b\\"~3 te?t wi*95 x^2"', cloud=True)]
    assert {"cloud-fuzzy", "cloud-proximity", "cloud-question", "cloud-boost", "cloud-inner-wildcard"} <= set(cloud)
    assert lint('project = X AND text ~ "roam~"', cloud=False) == []
    assert [w.code for w in lint('project = X AND text ~ "roam~"')] == ["cloud-fuzzy"]
    assert lint('project = X AND text ~ "\\"disk space\\""') == []
