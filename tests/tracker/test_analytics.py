"""The df.jira accessor on small tables whose answers are known by construction."""

from __future__ import annotations

import pandas as pd
import pytest

import labkit.tracker.analytics as analytics  # registers df.jira
from labkit.tracker.errors import TrackerError
from labkit.tracker.workflow import Stage, Workflow

pytestmark = pytest.mark.unit

NOW = pd.Timestamp("2024-01-12T00:00:00Z")


def issue(key, created, status, history=(), blocked_by=(), category=None):
    """A REST-shaped issue with a status changelog: history is [(at, from, to)]."""
    return {
        "key": key,
        "fields": {"created": created, "status": {"name": status}},
        "changelog": {"histories": [
            {"id": str(n), "created": at, "author": {"displayName": "Ann"},
             "items": [{"field": "status", "fromString": a, "toString": b}]} for n, (at, a, b) in enumerate(history)]},
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
    # reopened: done on the 3rd, back in progress on the 4th, done for good on the 6th
    issue("A-6", "2024-01-02T00:00:00.000+0000", "Done",
          [("2024-01-02T12:00:00.000+0000", "To Do", "In Progress"), ("2024-01-03T00:00:00.000+0000", "In Progress", "Done"),
           ("2024-01-04T00:00:00.000+0000", "Done", "In Progress"), ("2024-01-06T00:00:00.000+0000", "In Progress", "Done")]),
    # closed from the backlog: done, never started
    issue("A-7", "2024-01-02T00:00:00.000+0000", "Done", [("2024-01-05T00:00:00.000+0000", "To Do", "Done")]),
]
CATS = {"Done": "Done", "In Progress": "In Progress", "To Do": "To Do", "In Review": "In Progress"}


@pytest.fixture
def frame():
    """The issue table of ISSUES, as JiraClient.search gives it (category names, not keys)."""
    resolved = {"A-1": "2024-01-05T09:00:00.000+0000", "A-2": "2024-01-10T10:00:00.000+0000",
                "A-6": "2024-01-06T00:00:00.000+0000", "A-7": "2024-01-05T00:00:00.000+0000"}
    return pd.DataFrame([{"key": i["key"], "created": i["fields"]["created"], "status": i["fields"]["status"]["name"],
                          "status_category": CATS[i["fields"]["status"]["name"]], "resolved": resolved.get(i["key"]),
                          "blocked_by": i["_blocked_by"]} for i in ISSUES])


@pytest.fixture
def log():
    """The changelog frame of ISSUES."""
    return analytics.changelog_frame(ISSUES)


@pytest.fixture
def wf():
    """To Do / In Progress / Done, with In Review (a status no issue is in now) placed explicitly."""
    return Workflow.from_categories(CATS)


def test_changelog_frame_flattens_every_transition(log):
    assert len(log) == 11 and set(log.columns) >= {"key", "at", "field", "from", "to", "author", "history"}
    assert list(log[log.key == "A-2"]["to"]) == ["In Progress", "In Review", "Done"]
    assert str(log["at"].dt.tz) == "UTC"


def test_default_workflow_comes_from_the_status_categories(frame):
    wf = frame.jira.workflow()
    assert wf.names == ["To Do", "In Progress", "Done"] and (wf.start, wf.done) == ("In Progress", "Done")
    assert wf.stage_of("done") == 2 and wf.stage_of("In Review") == -1  # no current issue says its category


def test_an_unknown_status_is_counted_not_guessed(frame, log):
    dq = frame.jira.data_quality(log, now=NOW).set_index("check")
    assert dq.loc["unmapped statuses", "count"] == 1 and dq.loc["unmapped statuses", "examples"] == ["In Review"]


def test_created_vs_resolved_weekly(frame, log, wf):
    weekly = frame.jira.created_vs_resolved("W", log, wf, now=NOW)
    assert weekly["created"].sum() == 7 and weekly["resolved"].sum() == 4
    assert weekly["open"].iloc[-1] == 3
    assert list(weekly["created"]) == [4, 3]  # weeks ending Sun 7 Jan and Sun 14 Jan 2024


def test_cycle_time_from_first_start_to_last_finish(frame, log, wf):
    ct = frame.jira.cycle_time(log, wf, now=NOW).set_index("key")
    assert ct.loc["A-1", "cycle_days"] == pytest.approx(3.0)
    assert ct.loc["A-2", "cycle_days"] == pytest.approx(7.0)
    assert ct.loc["A-6", "cycle_days"] == pytest.approx(3.5)  # 2nd 12:00 to the 6th, the reopening inside
    assert "A-3" not in ct.index  # not finished
    assert "A-7" not in ct.index  # never started
    last = Workflow(wf.stages, wf.start, wf.done, start_policy="last", done_policy="first")
    assert frame.jira.cycle_time(log, last, now=NOW).set_index("key").loc["A-6", "cycle_days"] == pytest.approx(0.5)


def test_lead_time_counts_from_creation_and_keeps_the_unstarted(frame, log, wf):
    lt = frame.jira.lead_time(log, wf, now=NOW).set_index("key")
    assert lt.loc["A-7", "lead_days"] == pytest.approx(3.0) and lt.loc["A-6", "lead_days"] == pytest.approx(4.0)
    no_log = frame.jira.lead_time(now=NOW).set_index("key")  # without histories: created to resolved
    assert no_log.loc["A-1", "lead_days"] == pytest.approx(4.0) and len(no_log) == 4


def test_cumulative_flow_counts_each_issue_once_per_day(frame, log, wf):
    cfd = frame.jira.cumulative_flow(log, wf, now=NOW)
    assert (cfd.sum(axis=1) <= 7).all()
    day = cfd.loc[pd.Timestamp("2024-01-06T00:00:00Z")]  # at the end of the 6th
    assert (day["To Do"], day["In Progress"], day["Done"]) == (0, 1, 3)  # A-2 in review; done
    assert cfd.index[-1] == pd.Timestamp("2024-01-10T00:00:00Z")  # the last activity, not today
    last = cfd.iloc[-1]
    assert (last["To Do"], last["In Progress"], last["Done"]) == (2, 1, 4)
    assert frame.jira.wip(log, wf, now=NOW).loc[pd.Timestamp("2024-01-06T00:00:00Z")] == 1


def test_ageing_wip_uses_the_progress_start_and_the_percentiles(frame, log, wf):
    wip = frame.jira.ageing_wip(log, wf, now=pd.Timestamp("2024-01-11T00:00:00Z"))
    assert list(wip["key"]) == ["A-3"] and wip.loc[0, "age_days"] == pytest.approx(2.0)
    assert wip.loc[0, "band"] == "under p50"  # cycle times 3, 3.5, 7: p50 is 3.5


def test_time_in_stage_adds_up_every_stay(frame, log, wf):
    tis = frame.jira.time_in_stage(log, wf, now=NOW).set_index("key")
    assert tis.loc["A-6", "In Progress"] == pytest.approx(0.5 + 2.0)
    assert tis.loc["A-6", "Done"] == pytest.approx(1.0 + 6.0)  # the 3rd to 4th, then the 6th to the 12th


def test_flow_efficiency_counts_queue_stages_as_waiting(frame, log):
    wf = Workflow((Stage("To Do", ("To Do",)), Stage("Doing", ("In Progress",)),
                   Stage("Review", ("In Review",), active=False), Stage("Done", ("Done",))), "Doing", "Done")
    eff = frame.jira.flow_efficiency(log, wf, now=NOW).set_index("key")
    assert eff.loc["A-2", "waiting_days"] == pytest.approx(6.0)
    assert eff.loc["A-2", "efficiency_pct"] == pytest.approx(100 * 1 / 7)
    assert eff.loc["A-1", "efficiency_pct"] == pytest.approx(100.0)


def test_data_quality_names_the_items(frame, log, wf):
    dq = frame.jira.data_quality(log, wf, now=NOW).set_index("check")
    assert dq.loc["reopened", "examples"] == ["A-6"] and dq.loc["reopened", "count"] == 1
    assert dq.loc["done without being started", "examples"] == ["A-7"]
    assert dq.loc["skipped stages", "examples"] == ["A-7"] and dq.loc["skipped stages", "count"] == 1
    assert set(dq.loc["no history", "examples"]) == {"A-4", "A-5"}
    assert dq.loc["unmapped statuses", "count"] == 0


def test_blocked_chain_depth_and_cycles(frame):
    depth = frame.jira.blocked_chain_depth()
    assert dict(depth) == {"A-1": 0, "A-2": 0, "A-3": 2, "A-4": 1, "A-5": 0, "A-6": 0, "A-7": 0}
    cyc = pd.DataFrame({"key": ["X", "Y"], "created": ["2024-01-01", "2024-01-01"], "blocked_by": [["Y"], ["X"]]})
    assert set(cyc.jira.blocked_chain_depth()) <= {0, 1}


def test_metrics_without_changelog_say_what_is_missing(frame):
    with pytest.raises(TrackerError, match="changelog"):
        frame.jira.cycle_time(pd.DataFrame())
    with pytest.raises(TrackerError, match="changelog"):
        frame.jira.cumulative_flow(None)
    with pytest.raises(TrackerError, match="not an issue table"):
        _ = pd.DataFrame({"x": [1]}).jira
    with pytest.raises(TrackerError, match="not a changelog frame"):
        frame.jira.cycle_time(pd.DataFrame({"key": ["A-1"]}))


def test_release_forecast_follows_the_blockers(frame, log, wf):
    rel = frame.jira.forecast_release("A-3", log, wf, now=NOW, trials=500)
    assert rel.detail["issues"] == ["A-5", "A-4", "A-3"]
    with pytest.raises(TrackerError, match="not in this issue table"):
        frame.jira.forecast_release("Z-1", log, wf, now=NOW)


def test_plot_returns_a_titled_chart(frame, log, wf):
    chart = frame.jira.plot("cumulative_flow", log, wf, now=NOW)
    assert chart.title == "Cumulative flow" and ">Cumulative flow</text>" in chart.svg()
    with pytest.raises(TrackerError, match="unknown chart"):
        frame.jira.plot("pie", log)


def test_an_empty_or_doubled_table_is_refused(frame, log):
    with pytest.raises(TrackerError, match="empty"):
        frame.head(0).jira.lead_time()
    with pytest.raises(TrackerError, match="A-1 .* twice"):
        pd.concat([frame, frame.head(1)]).jira.cycle_time(log)
