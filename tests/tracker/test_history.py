"""Histories as tables, and the one rule for a changelog Jira cut short.

Jira embeds at most 100 changelog entries per issue in a search with ``expand=changelog`` (users
report "expand=changelog supplies the most recent 100 histories and there is no pagination",
pycontribs/jira#911); the changelog object then says ``total`` above the entries it holds.
"""

from __future__ import annotations

import pytest

from labkit.jira.model import EMBEDDED_CHANGELOG_MAX, category_key, changelog_truncated, jira_time
from labkit.tracker import metrics
from labkit.tracker.flow import Flow
from labkit.tracker.history import changelog_counts, changelog_frame, read_issues
from labkit.tracker.workflow import Workflow

pytestmark = pytest.mark.unit


def hist(n, start=0):
    return [{"id": str(start + k), "created": f"2024-01-{1 + k % 28:02d}T10:00:{k % 60:02d}.000+0000",
             "items": [{"field": "labels", "fromString": "a", "toString": "b"}]} for k in range(n)]


@pytest.mark.parametrize(("log", "cut"), [
    ({"startAt": 0, "maxResults": 100, "total": 250, "histories": hist(100)}, True),
    ({"startAt": 0, "maxResults": 40, "total": 41, "histories": hist(40)}, True),
    ({"startAt": 0, "maxResults": 100, "total": 100, "histories": hist(100)}, False),
    ({"histories": hist(EMBEDDED_CHANGELOG_MAX)}, True),   # no total to prove it whole
    ({"histories": hist(3)}, False),
    (None, False),
])
def test_a_cut_changelog_is_one_rule(log, cut):
    assert changelog_truncated(log) is cut


def test_category_keys_from_names_ids_and_objects():
    assert [category_key(v) for v in ("To Do", "in progress", "done", 4, "3", {"key": "new"},
                                      {"statusCategory": {"id": 3}}, "blue", None)] == \
        ["new", "indeterminate", "done", "indeterminate", "done", "new", "done", None, None]


def test_jira_times_in_every_form():
    a = jira_time("2024-01-02T03:04:05.000+0000")
    assert a == jira_time("2024-01-01T22:04:05.000-0500") == jira_time("2024-01-02T03:04:05Z")
    assert jira_time("nonsense") is None and jira_time(None) is None


def test_changelog_frame_orders_newest_first_exports_by_time():
    issue = {"key": "X-1", "fields": {"created": "2024-01-01T00:00:00.000+0000", "status": {"name": "Done"}},
             "changelog": [  # bitovi-style: a bare list, newest first, in local offsets
                 {"id": "2", "created": "2024-01-03T09:00:00.000-0500", "author": {"displayName": "B"},
                  "items": [{"field": "status", "fromString": "Doing", "toString": "Done"}]},
                 {"id": "1", "created": "2024-01-02T09:00:00.000-0500", "author": {"displayName": "A"},
                  "items": [{"field": "status", "fromString": "To Do", "toString": "Doing"}]}]}
    log = changelog_frame([issue])
    assert list(log["to"]) == ["Doing", "Done"] and list(log["author"]) == ["A", "B"]
    assert str(log["at"].iloc[0]) == "2024-01-02 14:00:00+00:00"


def test_cut_changelogs_show_in_the_counts_and_the_data_quality_report():
    issues = [{"key": f"C-{n}", "fields": {"created": "2023-12-01T00:00:00.000+0000", "status": {"name": "Open"}},
               "changelog": log} for n, log in enumerate([
                   {"startAt": 0, "maxResults": 100, "total": 250, "histories": hist(100)},
                   {"startAt": 0, "maxResults": 3, "total": 3, "histories": hist(3)}])]
    counts = changelog_counts(issues)
    assert list(counts["truncated"]) == [True, False] and list(counts["total"]) == [250, 3]
    frame, log, counts = read_issues(issues)
    flow = Flow.build(frame, log, Workflow.from_categories({"Open": "new"}), now="last", counts=counts)
    row = metrics.data_quality(flow).set_index("check").loc["changelog cut short"]
    assert row["items"] == 1 and row["examples"] == ["C-0"]
