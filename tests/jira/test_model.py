"""The single sources: the blocking rule (wording, case, direction, profile names), field text, JQL edits."""

from __future__ import annotations

import pytest

from labkit.errors import ConfigError
from labkit.jira.jql import parse
from labkit.jira.jql.edit import and_where, has_order_by, is_unbounded, with_default_order
from labkit.jira.model import WORDING, BlockingRule, field_texts
from labkit.rank.backlog import backlog_jql
from labkit.rank.errors import RankError

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("name, inward, outward, direction", [
    ("Blocks", "is blocked by", "blocks", 1),
    ("BLOCKS", "Is Blocked By", "Blocks", 1),            # case does not matter
    ("Blocker", "is blocked by", "blocks", 1),           # Apache's name, standard wording
    ("Blocked", "blocks", "is blocked by", -1),          # worded the other way round
    (" x ", " IS BLOCKED BY ", "", 1),                   # one side's wording is enough
    ("Blocked", "Blocked", "Blocked", 0),                # Apache's other type: no blocking wording
    ("Relates", "relates to", "relates to", 0),
    ("Depends", "is depended on by", "depends on", 0),   # only when a profile names it
])
def test_blocking_by_wording(name, inward, outward, direction):
    assert WORDING.direction(name, inward, outward) == direction


def test_a_profile_names_more_blocking_types(tmp_path, monkeypatch):
    cfg = tmp_path / "config.toml"
    cfg.write_text('[profiles.work.jira]\nurl = "https://jira.example.com"\nblocking_link_types = ["Depends"]\n')
    monkeypatch.setenv("LABKIT_CONFIG", str(cfg))
    rule = BlockingRule.from_profile("work")
    assert rule == BlockingRule(["depends"]) and rule.direction("DEPENDS", "x", "y") == 1
    issue = {"issuelinks": [{"id": "1", "type": {"name": "Depends", "inward": "is depended on by",
                                                 "outward": "depends on"}, "outwardIssue": {"key": "A-2"}}]}
    assert rule.blocking(issue) == ([], ["A-2"]) and WORDING.blocking(issue) == ([], [])
    monkeypatch.setenv("LABKIT_PROFILE", "work")
    from labkit.rank import blocks_graph

    assert blocks_graph([{"key": "A-1", "fields": issue}]).edges == [("A-1", "A-2")]   # the active profile's rule
    cfg.write_text('[profiles.work.jira]\nblocking_link_types = 3\n')
    with pytest.raises(ConfigError, match="blocking_link_types must be a list"):
        BlockingRule.from_profile("work")


def test_blocked_by_and_blocks_of_each_side():
    rev = {"name": "Blocked", "inward": "blocks", "outward": "is blocked by"}
    fields = {"issuelinks": [{"type": rev, "outwardIssue": {"key": "B"}},     # this issue is blocked by B
                             {"type": rev, "inwardIssue": {"key": "C"}},      # C is blocked by this issue
                             {"type": {"name": "Blocks", "inward": "is blocked by", "outward": "blocks"},
                              "inwardIssue": {"key": "D"}}]}                  # D blocks this issue
    assert WORDING.blocking(fields) == (["B", "D"], ["C"])


def test_field_texts_flatten_adf_for_index_and_recheck_alike():
    doc = {"type": "doc", "version": 1, "content": [
        {"type": "paragraph", "content": [{"type": "text", "text": "disk "}, {"type": "text", "text": "space"}]},
        {"type": "bulletList", "content": [{"type": "listItem", "content": [
            {"type": "paragraph", "content": [{"type": "text", "text": "second block"}]}]}]}]}
    texts = field_texts({"summary": "s", "description": doc, "environment": None,
                         "comment": {"comments": [{"body": doc}, {"body": "plain"}]}})
    assert texts[0] == "s" and texts[1] == "disk space\n\nsecond block" and texts[2] == ""
    assert texts[3] == "disk space\n\nsecond block\nplain"


def test_jql_questions_are_answered_by_the_parser():
    tricky = 'project = DEMO AND summary ~ "sort order by date"'
    assert not has_order_by(tricky) and has_order_by(tricky + " ORDER BY created")
    assert backlog_jql(tricky) == tricky + " ORDER BY Rank ASC"          # was refused by a regex
    assert backlog_jql("project = DEMO order by rank") == "project = DEMO order by rank"
    with pytest.raises(RankError, match="rank order, not ORDER BY key ASC"):
        backlog_jql("project = DEMO ORDER BY key ASC")
    assert and_where('summary ~ "a ORDER BY b"', "status = Open") == 'summary ~ "a ORDER BY b" AND status = Open'
    assert and_where("a = 1 OR b = 2 ORDER BY key", "c = 3") == "(a = 1 OR b = 2) AND c = 3 ORDER BY key"
    assert with_default_order('text ~ "order by"', "Rank") == 'text ~ "order by" ORDER BY Rank ASC'
    assert is_unbounded("ORDER BY key") and not is_unbounded("key = A-1")
    assert parse(and_where(parse("a = 1"), "b = 2")).where is not None


def test_form_add_clause_keeps_quoted_text_intact():
    pytest.importorskip("ipywidgets")
    from labkit.forms.jql import add_clause

    q = add_clause('summary ~ "sort order by date" ORDER BY created DESC', "status = Open")
    assert q == 'summary ~ "sort order by date" AND status = Open ORDER BY created DESC'


@pytest.mark.parametrize("texts", [
    ["2024-01-02T03:04:05.000+0000", None, "2024-05-06T07:08:09.123+0200"],  # REST's dates (the client)
    ["2024-01-02T03:04:05", None, "1999-12-31T23:59:59"],                     # the store's
    ["2024-01-02T03:04:05", "2024-01-02"],                                    # mixed precision
    ["2024-01-02T03:04:05", "not a date"], [None, None], [],
    ["2024-01-02 03:04:05", "2024-01-02T03:04:05"], ["2024-01-02T03:04:05Z"], ["0999-01-02T03:04:05", None],
    ["2024-02-30T00:00:00"], ["2024-01-02T03:04:60"], ["2024-01-02T03:04:5 ", "2024-01-02T03:04:05"],
    ["２０２４-01-02T03:04:05"], ["2024-01-02T03:04:05", "2024-01-02T03:04", "2024-01-02T03:04:05.5"],
    # Jira REST's form with other offsets, and texts that only look like it (each decided as pandas decides it)
    ["2024-01-02T03:04:05.000+0000", "2024-01-02T03:04:05.999-2359", "2024-01-02T03:04:05.123+2359", None],
    ["2024-02-29T23:59:59.999+0530", "1970-01-01T00:00:00.000+0000", "0001-01-01T00:00:00.000+0100"],
    ["2024-02-30T00:00:00.000+0000", "2024-01-02T03:04:05.000+0000"], ["2024-01-02T03:04:60.000+0000"],
    ["2024-01-02T24:00:00.000+0000"], ["2024-01-02T03:04:05.000+2400"], ["2024-01-02T03:04:05.000+0060"],
    ["2024-01-02T03:04:05.000+0000", "2024-01-02T03:04:05+0000"], ["2024-01-02T03:04:05.000 0000"],
    ["2024-01-02T03:04:05,000+0000"], ["２024-01-02T03:04:05.000+0000"], ["2024-01-02T03:04:05.000+0000 "],
    ["2024-01-02T03:04:05.000+0000", "2024-01-02T03:04:05.000+00000"[:27]], ["2024-01-02T03:04:05.000Z+0000"],
    ["0000-01-01T00:00:00.000+0000", "0000-02-29T12:00:00.000-0130", "1900-02-28T23:59:59.999+2359", None],
    ["1900-02-29T00:00:00.000+0000"], ["2000-02-29T00:00:00.000+0000", "2100-12-31T23:59:59.000-0000"],
])
def test_search_dates_read_as_pandas_reads_iso8601(texts):
    """Every search DataFrame's dates (client and store) read as pandas.to_datetime(utc=True, format="ISO8601")."""
    import pandas as pd

    from labkit.jira.model import search_times

    want = pd.to_datetime(pd.Series(texts, dtype=object), utc=True, format="ISO8601", errors="coerce")
    pd.testing.assert_series_equal(search_times(texts), want)


def test_search_dates_of_several_columns_read_as_each_column_alone():
    """A search's date columns converted together come out as each converted alone (and as pandas reads them),
    also when one column holds a text numpy refuses (a time zone), no date at all, or a date numpy reads otherwise."""
    import pandas as pd

    from labkit.jira.model import search_times_columns

    columns = [["2024-01-02T03:04:05", None, "2023-12-31T23:59:59"], [None, None, None],
               ["2024-01-02T03:04:05.000+0000", "2024-01-02T03:04:05", None], ["2024-01-02", "2024-01-02T03:04:05", None]]
    for chosen in ([columns[0]], columns[:2], [columns[0], columns[3]], columns, [columns[2], columns[0]]):
        got = search_times_columns(chosen)
        assert len(got) == len(chosen)
        for texts, series in zip(chosen, got, strict=True):
            want = pd.to_datetime(pd.Series(texts, dtype=object), utc=True, format="ISO8601", errors="coerce")
            pd.testing.assert_series_equal(series, want)


def test_random_rest_dates_read_as_pandas_reads_them():
    """Jira REST's dates (``2024-01-02T03:04:05.000+0000``: any time, any offset below a day, impossible days
    too) come out of the search's date rule exactly as pandas.to_datetime(utc=True, format="ISO8601") reads them."""
    import random

    import pandas as pd

    from labkit.jira.model import search_times_columns

    rnd = random.Random(16)

    def text() -> str | None:
        if rnd.random() < 0.1:
            return None
        return (f"{rnd.randint(0, 9999):04d}-{rnd.randint(1, 12):02d}-{rnd.randint(1, 31):02d}T{rnd.randint(0, 23):02d}:"
                f"{rnd.randint(0, 59):02d}:{rnd.randint(0, 59):02d}.{rnd.randint(0, 999):03d}"
                f"{rnd.choice('+-')}{rnd.randint(0, 23):02d}{rnd.randint(0, 59):02d}")

    columns = [[text() for _ in range(3000)] for _ in range(4)]
    for k in (0, 1):  # every day exists in these two
        columns[k] = [t if t is None or t[8:10] <= "28" else t[:8] + "28" + t[10:] for t in columns[k]]
    columns[1][7] = "2024-02-29T10:00:00.000-0000"  # a leap day, a negative zero offset
    columns[2][7] = "2023-02-29T10:00:00.000+0000"  # no such day: that column is pandas' to decide
    for col, got in zip(columns, search_times_columns(columns), strict=True):
        want = pd.to_datetime(pd.Series(col, dtype=object), utc=True, format="ISO8601", errors="coerce")
        pd.testing.assert_series_equal(got, want)
    from labkit.jira.model import _rest_times

    assert _rest_times(columns[0]) is not None and _rest_times(columns[1]) is not None  # read by the numpy pass


def test_date_subsets_taken_from_a_column_read_once_read_as_pandas_reads_them():
    """The frame cache reads each date column once and takes subsets: each subset is what pandas makes of its texts
    (the unit too: a subset with no date at all is datetime64[s], as pandas gives)."""
    import itertools

    import numpy as np
    import pandas as pd

    from labkit.jira.model import TimesColumn

    columns = [["2024-01-02T03:04:05", None, "2023-12-31T23:59:59", None],          # numpy reads it
               [None, None, None, None],
               ["2024-01-02T03:04:05.000+0000", "2024-01-02T03:04:05", None, None],  # pandas reads it
               ["2024-01-02T03:04:05.123456789", None, "2024-01-02T03:04:05", None],  # nanoseconds in one row
               ["2024-01-02T03:04:05.000+0000", None, "2023-12-31T23:59:59.999-0130", None]]  # REST's form only
    read = TimesColumn.read(columns)
    subsets = [[], [1], [3, 1], [0], [2, 0], [0, 1, 2, 3], [3, 2, 1, 0], [2, 2, 0]]
    subsets += [list(p) for p in itertools.permutations(range(4), 2)]
    for texts, col in zip(columns, read, strict=True):
        for pos in subsets:
            want = pd.to_datetime(pd.Series([texts[k] for k in pos], dtype=object), utc=True, format="ISO8601",
                                  errors="coerce")
            pd.testing.assert_series_equal(pd.Series(col.take(np.array(pos, dtype=np.int64))), want, obj=f"{texts} {pos}")


def test_a_link_type_asked_again_gets_the_same_direction():
    """The direction is remembered per link type as given: asked again (also as other case or spacing, or as a name
    that is not text, e.g. 1 and True, which are equal in Python but not the same name) the answer is the rule's."""
    from labkit.jira.model import BlockingRule

    rule = BlockingRule(["1"])
    for _ in range(2):
        assert rule.direction(1, "x", "y") == 1 and rule.direction("1", "x", "y") == 1
        assert rule.direction(True, "x", "y") == 0 and rule.direction(None, None, None) == 0
        assert rule.direction(" Blocks ", "IS BLOCKED BY", "BLOCKS") == 1
        assert rule.direction("blocks", "blocks", "is blocked by") == -1
