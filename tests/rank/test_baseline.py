"""The 2012 baseline: one rank call per violated link, re-queried until clean; labkit never moves more."""

from __future__ import annotations

import pytest
from hypothesis import assume, given, settings

from labkit.rank import baseline_plan, count_violations, plan_moves

from .test_plan import instances

pytestmark = pytest.mark.unit


def test_one_call_per_violated_link_per_pass():
    # F blocks C and D, both ranked above it: two violated links, two calls, F ends above C
    base = baseline_plan(["A", "B", "C", "D", "E", "F"], [("F", "C"), ("F", "D")])
    assert [c.body() for c in base.calls] == [{"issues": ["F"], "rankBeforeIssue": "D"},
                                              {"issues": ["F"], "rankBeforeIssue": "C"}]
    assert base.moves == 1 and base.passes == 1
    assert base.final_order() == ["A", "B", "F", "C", "D", "E"]


def test_a_reversed_chain_needs_several_passes():
    order = ["D", "C", "B", "A"]
    edges = [("A", "B"), ("B", "C"), ("C", "D")]
    base = baseline_plan(order, edges)
    assert base.passes > 1 and base.unresolved_links == 0
    assert count_violations(base.final_order(), edges) == 0
    assert len(base.calls) > len(plan_moves(order, edges).calls) == 1


@settings(max_examples=300, deadline=None, database=None)
@given(instances())
def test_labkit_never_moves_more_than_a_baseline_that_fixed_everything(inst):
    order, edges = inst
    base = baseline_plan(order, edges)
    assume(count_violations(base.final_order(), edges) == 0)
    assert len(plan_moves(order, edges).moves) <= base.moves
