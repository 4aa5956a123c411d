"""plan_moves is provably minimal, leaves no violation, keeps unmoved issues in place and batches calls."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from labkit.rank import ListRankClient, RankError, apply_calls, count_violations, plan_moves, violations

pytestmark = pytest.mark.unit


def must_precede(nodes, edges):
    """Independent reference: (a, b) when a reaches b but b does not reach a (Floyd–Warshall)."""
    reach = {(a, b) for a, b in edges}
    for k in nodes:
        for i in nodes:
            if (i, k) in reach:
                for j in nodes:
                    if (k, j) in reach:
                        reach.add((i, j))
    return {(a, b) for a, b in reach if a != b and (b, a) not in reach}


def brute_force_min_moves(order, edges):
    """Smallest number of issues to move: n minus the largest subset already in a valid relative order."""
    nodes = sorted({*order, *(n for e in edges for n in e)})
    prec = must_precede(nodes, edges)
    pos = {k: i for i, k in enumerate(order)}
    for size in range(len(order), -1, -1):
        for keep in itertools.combinations(order, size):
            if all(not ((a, b) in prec and pos[b] < pos[a]) for a in keep for b in keep):
                return len(order) - size
    raise AssertionError("unreachable")


@st.composite
def instances(draw, max_n=8):
    """Hypothesis strategy: a backlog order of up to max_n issues and blocks edges, cyclic or not."""
    n = draw(st.integers(1, max_n))
    order = draw(st.permutations([f"K-{i}" for i in range(n)]))
    outside = ["X-1", "X-2"]
    nodes = [*order, *outside]
    acyclic = draw(st.booleans())
    pairs = [(a, b) for a in nodes for b in nodes if a != b
             and (not acyclic or nodes.index(a) < nodes.index(b) or a.startswith("X") != b.startswith("X"))]
    edges = draw(st.lists(st.sampled_from(pairs), max_size=14, unique=True)) if pairs else []
    return list(order), edges


@settings(max_examples=400, deadline=None, database=None)
@given(instances())
def test_plan_moves_equals_the_brute_force_minimum(inst):
    order, edges = inst
    plan = plan_moves(order, edges)
    assert len(plan.moves) == brute_force_min_moves(order, edges)


@settings(max_examples=400, deadline=None, database=None)
@given(instances())
def test_no_violation_remains_after_applying_any_plan(inst):
    order, edges = inst
    plan = plan_moves(order, edges)
    assert count_violations(plan.final_order, edges) == 0
    client = ListRankClient(order)
    for call in plan.calls:
        assert client.rank(list(call.issues), before=call.before, after=call.after) == []
    assert client.backlog_order("any") == plan.final_order
    assert len(violations(client.keys, edges)) == 0


@settings(max_examples=300, deadline=None, database=None)
@given(instances())
def test_unmoved_issues_keep_their_order_and_issues_in_no_constraint_never_move(inst):
    order, edges = inst
    plan = plan_moves(order, edges)
    moved = set(plan.moved)
    assert [k for k in order if k not in moved] == [k for k in plan.final_order if k not in moved]
    constrained = {n for e in edges for n in e}
    assert not moved - constrained
    old, new = {k: i for i, k in enumerate(order)}, {k: i for i, k in enumerate(plan.final_order)}
    for m in plan.moves:
        assert m.issue in (m.blocker, m.blocked)
        assert plan.final_order[m.to_pos - 1] == m.issue and order[m.from_pos - 1] == m.issue
        passed_up = any(old[u] < old[m.issue] and new[u] > new[m.issue] for u in order if u not in moved)
        passed_down = any(old[u] > old[m.issue] and new[u] < new[m.issue] for u in order if u not in moved)
        assert not (passed_up and passed_down)
        if passed_up or passed_down:
            assert m.direction == ("up" if passed_up else "down")


def test_a_blocker_at_the_bottom_moves_just_above_what_it_blocks():
    order = ["A", "B", "C", "D", "E", "F"]
    plan = plan_moves(order, [("F", "C"), ("F", "D")])
    assert plan.final_order == ["A", "B", "F", "C", "D", "E"]
    assert [(m.issue, m.from_pos, m.to_pos, m.direction, m.blocker, m.blocked) for m in plan.moves] == [
        ("F", 6, 3, "up", "F", "C")]
    assert [c.body() for c in plan.calls] == [{"issues": ["F"], "rankAfterIssue": "B"}]


def test_a_reversed_chain_moves_all_but_one_in_one_call():
    order = ["E", "D", "C", "B", "A"]
    plan = plan_moves(order, [("A", "B"), ("B", "C"), ("C", "D"), ("D", "E")])
    assert len(plan.moves) == 4 and len(plan.calls) == 1
    assert count_violations(plan.final_order, [("A", "B"), ("B", "C"), ("C", "D"), ("D", "E")]) == 0


def test_long_runs_are_split_into_calls_of_at_most_50_issues():
    n = 130
    order = [f"K-{i}" for i in range(n)]
    edges = [(f"K-{i + 1}", f"K-{i}") for i in range(n - 1)]   # the backlog is exactly upside down
    plan = plan_moves(order, edges)
    assert len(plan.moves) == n - 1
    assert sorted(len(c.issues) for c in plan.calls) == [29, 50, 50]
    assert apply_calls(order, plan.calls) == plan.final_order == order[::-1]
    small = plan_moves(order, edges, batch_size=10)
    assert max(len(c.issues) for c in small.calls) == 10
    with pytest.raises(RankError, match="at most 50"):
        plan_moves(order, edges, batch_size=51)


def test_cycles_are_reported_not_looped_on():
    edges = [("A", "B"), ("B", "A"), ("C", "A")]
    plan = plan_moves(["A", "B", "C"], edges)
    assert [sorted(c.members) for c in plan.cycles] == [["A", "B"]]
    assert plan.final_order.index("C") < min(plan.final_order.index("A"), plan.final_order.index("B"))
    assert len(plan.moves) == 1


def test_pinned_issues_never_move():
    order = ["B", "A"]
    assert plan_moves(order, [("A", "B")]).moved in (["A"], ["B"])
    assert plan_moves(order, [("A", "B")], pinned=["A"]).moved == ["B"]
    assert plan_moves(order, [("A", "B")], pinned=["B"]).moved == ["A"]
    with pytest.raises(RankError, match="pinned issues"):
        plan_moves(order, [("A", "B")], pinned=["A", "B"])


def test_duplicate_keys_are_a_rank_error():
    with pytest.raises(RankError, match="twice"):
        plan_moves(["A", "A"], [])


def test_plan_tables():
    plan = plan_moves(["B", "A"], [("A", "B")])
    assert list(plan.to_frame().columns) == ["issue", "from_pos", "to_pos", "direction", "blocker", "blocked"]
    assert plan.calls_frame()["count"].tolist() == [1]
    assert plan.summary() == {"issues": 2, "violated_pairs": 1, "moves": 1, "rank_calls": 1, "cycles": 0}


def test_moved_issues_share_a_place_so_one_rank_call_carries_them():
    # X must go above B and Y above C: two moves whatever the plan; putting both right above B
    # (a place each of them may take) makes them neighbours, so one call moves both
    order = ["A", "B", "C", "D", "E", "X", "Y"]
    blocks = [("X", "B"), ("Y", "C")]
    plan = plan_moves(order, blocks)
    assert sorted(plan.moved) == ["X", "Y"]
    assert [c.issues for c in plan.calls] == [("X", "Y")]
    assert apply_calls(order, plan.calls) == plan.final_order
    assert count_violations(plan.final_order, blocks) == 0


def test_sharing_places_never_breaks_a_blocking_chain_among_moved_issues():
    # P blocks Q blocks R, all three ranked below what they must precede: they move together, in order
    order = ["T1", "T2", "T3", "F1", "F2", "R", "Q", "P"]
    blocks = [("P", "Q"), ("Q", "R"), ("R", "T2"), ("P", "T1")]
    plan = plan_moves(order, blocks)
    final = plan.final_order
    assert final.index("P") < final.index("Q") < final.index("R") < final.index("T2")
    assert count_violations(final, blocks) == 0
    assert len(plan.calls) == 1
