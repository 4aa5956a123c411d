"""Tracker analytics on small frames whose answers are known by construction."""

from __future__ import annotations

import pandas as pd
import pytest

import labkit.tracker.analytics as analytics  # registers df.jira
from labkit.jira.errors import JiraError

pytestmark = pytest.mark.unit


def issue(key, created, status, history=(), blocked_by=()):
    """A REST-shaped issue with a status changelog: history is [(at, from, to)]."""
    return {
        "key": key,
        "fields": {"created": created, "status": {"name": status}},
        "changelog": {"histories": [
            {"created": at, "author": {"displayName": "Ann"},
             "items": [{"field": "status", "fromString": a, "toString": b}]} for at, a, b in history]},
        "_blocked_by": list(blocked_by),
    }


ISSUES = [
    issue("A-1", "2024-01-01T09:00:00.000+0000", "Done",
          [("2024-01-02T09:00:00.000+0000", "To Do", "In Progress"), ("2024-01-05T09:00:00.000+0000", "In Progress", "Done")]),
    issue("A-2", "2024-01-01T10:00:00.000+0000", "Done",
          [("2024-01-03T10:00:00.000+0000", "To Do", "In Progress"), ("2024-01-04T10:00:00.000+0000", "In Progress", "In Review"),
           ("2024-01-10T10:00:00.000+0000", "In Review", "Done")]),
    issue("A-3", "2024-01-08T10:00:00.000+0000", "In Progress",
          [("2024-01-09T00:00:00.000+0000", "To Do", "In Progress")], blocked_by=["A-4"]),
    issue("A-4", "2024-01-09T10:00:00.000+0000", "To Do", blocked_by=["A-5"]),
    issue("A-5", "2024-01-09T11:00:00.000+0000", "To Do"),
]


@pytest.fixture
def frame():
    """The issue table of ISSUES, as JiraClient.search would give it."""
    resolved = {"A-1": "2024-01-05T09:00:00.000+0000", "A-2": "2024-01-10T10:00:00.000+0000"}
    cats = {"Done": "done", "In Progress": "indeterminate", "To Do": "new"}
    return pd.DataFrame([{"key": i["key"], "created": i["fields"]["created"], "status": i["fields"]["status"]["name"],
                          "status_category": cats[i["fields"]["status"]["name"]], "resolved": resolved.get(i["key"]),
                          "blocked_by": i["_blocked_by"]} for i in ISSUES])


@pytest.fixture
def log():
    """The changelog frame of ISSUES."""
    return analytics.changelog_frame(ISSUES)


def test_changelog_frame_flattens_every_transition(log):
    assert len(log) == 6 and set(log.columns) >= {"key", "at", "field", "from", "to", "author"}
    assert list(log[log.key == "A-2"]["to"]) == ["In Progress", "In Review", "Done"]


def test_created_vs_resolved_weekly(frame):
    weekly = frame.jira.created_vs_resolved("W")
    assert weekly["created"].sum() == 5 and weekly["resolved"].sum() == 2
    assert weekly["open"].iloc[-1] == 3
    assert list(weekly["created"]) == [2, 3]  # weeks ending Sun 7 Jan and Sun 14 Jan 2024


def test_cycle_time_from_first_progress_to_done(frame, log):
    ct = frame.jira.cycle_time(log)
    assert ct.loc["A-1", "cycle_days"] == pytest.approx(3.0)
    assert ct.loc["A-2", "cycle_days"] == pytest.approx(7.0)
    assert "A-3" not in ct.index  # not finished


def test_cumulative_flow_counts_each_issue_once_per_day(frame, log):
    now = pd.Timestamp("2024-01-12T00:00:00Z")
    cfd = frame.jira.cumulative_flow(log, now=now)
    assert (cfd.sum(axis=1).iloc[1:] <= 5).all()
    day = cfd.loc[pd.Timestamp("2024-01-06T00:00:00Z")]
    assert (day["new"], day["indeterminate"], day["done"]) == (0, 1, 1)
    last = cfd.iloc[-1]
    assert (last["new"], last["indeterminate"], last["done"]) == (2, 1, 2)


def test_ageing_wip_uses_the_progress_start(frame, log):
    wip = frame.jira.ageing_wip(log, now=pd.Timestamp("2024-01-11T00:00:00Z"))
    assert list(wip.index) == ["A-3"] and wip.loc["A-3", "age_days"] == pytest.approx(2.0)


def test_blocked_chain_depth_and_cycles(frame):
    depth = frame.jira.blocked_chain_depth()
    assert dict(depth) == {"A-1": 0, "A-2": 0, "A-3": 2, "A-4": 1, "A-5": 0}
    cyc = pd.DataFrame({"key": ["X", "Y"], "created": ["2024-01-01", "2024-01-01"], "blocked_by": [["Y"], ["X"]]})
    assert set(cyc.jira.blocked_chain_depth()) <= {0, 1}


def test_metrics_without_changelog_say_what_is_missing(frame):
    with pytest.raises(JiraError, match="changelog"):
        frame.jira.cycle_time(pd.DataFrame())
    with pytest.raises(JiraError, match="not an issue table"):
        _ = pd.DataFrame({"x": [1]}).jira


def test_plot_returns_axes(frame, log):
    import matplotlib

    matplotlib.use("Agg")
    ax = frame.jira.plot("cumulative_flow", changelog=log)
    assert ax.get_title() == "Cumulative flow"
