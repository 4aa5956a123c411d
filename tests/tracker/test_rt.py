"""RT-style exports read, written and mapped to a Jira import plan."""

import pytest

from labkit.jira import rt
from labkit.jira.bulk_import import Mapping, plan_import
from labkit.jira.errors import JiraError

pytestmark = pytest.mark.unit


def test_generated_tickets_are_deterministic_and_round_trip(tmp_path):
    a = list(rt.generate_tickets(300, seed=7))
    assert a == list(rt.generate_tickets(300, seed=7)) and a != list(rt.generate_tickets(300, seed=8))
    assert sum(1 for t in a if t.links) > 60
    for suffix in ("csv", "json"):
        path = rt.write_tickets(a, tmp_path / f"export.{suffix}")
        assert rt.read_tickets(path) == a


def test_bad_exports_name_the_line(tmp_path):
    p = tmp_path / "x.csv"
    p.write_text("id,subject,links\n1,ok,\n2,,\n")
    with pytest.raises(JiraError, match=r"x.csv:3: ticket without subject"):
        rt.read_tickets(p)
    p.write_text("id,subject,links\n1,ok,Explodes:2\n")
    with pytest.raises(JiraError, match="bad link"):
        rt.read_tickets(p)
    p.write_text("id,subject\n1,a\n1,b\n")
    with pytest.raises(JiraError, match="ids repeat"):
        rt.read_tickets(p)
    (tmp_path / "y.json").write_text("[{")
    with pytest.raises(JiraError, match="not valid JSON"):
        rt.read_tickets(tmp_path / "y.json")


def test_plan_maps_depends_on_to_a_blocks_link_with_the_right_direction():
    tickets = [rt.Ticket("1", "base"), rt.Ticket("2", "needs base", links=(("DependsOn", "1"),)),
               rt.Ticket("3", "see 2", links=(("RefersTo", "2"), ("DependsOn", "99")))]
    plan = plan_import(tickets, Mapping(project="OPS", users={"a@x": "ann"}))
    assert [i.fields["labels"] for i in plan.issues] == [["rt-1"], ["rt-2"], ["rt-3"]]
    blocks = [ln for ln in plan.links if ln.type == "Blocks"]
    # "2 DependsOn 1": 1 blocks 2, so 1 is the POST's inwardIssue
    assert [(ln.inward, ln.outward) for ln in blocks] == [("1", "2")]
    assert any("99" in s and "not in this import" in s for s in plan.skipped_links)
    frame = plan.to_frame()
    assert list(frame["source_id"]) == ["1", "2", "3"] and frame.loc[1, "links"] == ["DependsOn 1"]


def test_batches_never_hold_both_ends_of_a_link_so_links_ride_in_the_creates():
    from labkit.jira.bulk_import import BULK_LIMIT, _batches

    tickets = list(rt.generate_tickets(1500, seed=4, link_ratio=0.9))
    plan = plan_import(tickets, Mapping(project="OPS"))
    touching: dict = {}
    for ln in plan.links:
        touching.setdefault(ln.inward, []).append(ln)
        touching.setdefault(ln.outward, []).append(ln)
    batches = list(_batches(plan.issues, touching))
    seen = [i.source_id for b in batches for i in b]
    assert sorted(seen, key=int) == [t.id for t in tickets] and len(seen) == len(set(seen))
    assert all(0 < len(b) <= BULK_LIMIT for b in batches)
    where = {i.source_id: n for n, b in enumerate(batches) for i in b}
    assert all(where[ln.inward] != where[ln.outward] for ln in plan.links)
    assert len(batches) <= len(tickets) // BULK_LIMIT + 5  # deferral costs only a few extra calls
