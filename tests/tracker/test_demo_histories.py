"""The demo generator's histories: a configurable workflow walked with reopenings, backward moves, skips,
flags and long histories, every history chaining from the first status to the current one."""

from __future__ import annotations

from collections import Counter

import pytest

from labkit.jira.sandbox.demo import generate
from labkit.jira.sandbox.histories import DemoWorkflow

pytestmark = pytest.mark.unit

CUSTOM = DemoWorkflow.of([("Funnel", "To Do"), ("Analysis", "In Progress"), ("Build", "indeterminate"),
                          ("Verify", "indeterminate"), ("Live", "done")], long_history=0.05, long_entries=(250, 250))


def status_moves(issue):
    return [it for h in issue["changelog"]["histories"] for it in h["items"] if it["field"] == "status"]


@pytest.mark.parametrize("wf", [DemoWorkflow(), CUSTOM], ids=["default", "custom"])
def test_every_history_chains_from_the_first_status_to_the_current_one(wf):
    names = [s["name"] for s in wf.statuses]
    for issue in generate(600, seed=4, workflow=wf):
        moves = status_moves(issue)
        assert issue["fields"]["status"]["name"] in names
        if not moves:
            assert issue["fields"]["status"]["name"] == names[0]
            continue
        assert moves[0]["fromString"] == names[0]
        assert all(a["toString"] == b["fromString"] for a, b in zip(moves[:-1], moves[1:], strict=True))
        assert moves[-1]["toString"] == issue["fields"]["status"]["name"]
        times = [h["created"] for h in issue["changelog"]["histories"]]
        assert times == sorted(times) and len(set(times)) == len(times)  # one second each, in order
        assert times[0] > issue["fields"]["created"]
        log = issue["changelog"]
        assert log["total"] == len(log["histories"]) == log["maxResults"]


def test_the_walk_strays_the_way_it_is_told():
    kinds = Counter()
    names = [s["name"] for s in CUSTOM.statuses]
    long = 0
    for issue in generate(1500, seed=2, workflow=CUSTOM):
        long += len(issue["changelog"]["histories"]) > 100
        for m in status_moves(issue):
            a, b = names.index(m["fromString"]), names.index(m["toString"])
            kinds["backward" if b < a else "skip" if b > a + 1 else "forward"] += 1
            kinds["reopen"] += a == len(names) - 1 > b
        kinds["flag"] += any(it["field"] == "Flagged" for h in issue["changelog"]["histories"] for it in h["items"])
    assert kinds["backward"] > 50 and kinds["skip"] > 50 and kinds["reopen"] > 20 and kinds["flag"] > 50
    assert 30 < long < 120  # about 5% of 1500
    quiet = DemoWorkflow.of([(s["name"], s["statusCategory"]["key"]) for s in CUSTOM.statuses], skip=0, back=0,
                            reopen=0, unstarted=0, flag=0, long_history=0, field_changes=0)
    for issue in generate(300, seed=2, workflow=quiet):
        idx = [names.index(m["toString"]) for m in status_moves(issue)]
        assert idx == list(range(1, len(idx) + 1))  # straight through, one stage at a time


def test_long_histories_hold_exactly_what_was_asked():
    sizes = [len(i["changelog"]["histories"]) for i in generate(400, seed=1, workflow=CUSTOM)]
    assert 250 in sizes and max(sizes) == 250


def test_a_custom_workflow_keeps_the_share_of_each_category():
    default = Counter(i["fields"]["status"]["statusCategory"]["key"] for i in generate(900, seed=3))
    custom = Counter(i["fields"]["status"]["statusCategory"]["key"] for i in generate(900, seed=3, workflow=CUSTOM))
    assert default == custom


def test_board_columns_and_bad_workflows():
    assert DemoWorkflow().board_columns() == [("To Do", ["Open", "To Do"]), ("In Progress", ["In Progress"]),
                                              ("In Review", ["In Review"]), ("Done", ["Resolved", "Closed"])]
    with pytest.raises(ValueError, match="not a status category"):
        DemoWorkflow.of([("A", "new"), ("B", "purple")])
    with pytest.raises(ValueError, match="starts with a To Do status"):
        DemoWorkflow.of([("A", "done"), ("B", "new")])
