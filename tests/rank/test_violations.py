"""violations() finds direct and transitive rank violations and names blocking cycles."""

from __future__ import annotations

import pytest

from labkit.rank import count_violations, violations

pytestmark = pytest.mark.unit


def test_direct_and_transitive_violations():
    # A blocks B blocks C; the backlog has them upside down
    report = violations(["C", "B", "A"], [("A", "B"), ("B", "C")])
    pairs = {(v.issue, v.blocker, v.direct) for v in report}
    assert pairs == {("C", "B", True), ("C", "A", False), ("B", "A", True)}
    assert report.issues == ["C", "B"]
    assert count_violations(["C", "B", "A"], [("A", "B"), ("B", "C")]) == 3


def test_blocking_through_an_issue_outside_the_backlog_counts():
    report = violations(["B", "A"], [("A", "X-1"), ("X-1", "B")])
    assert [(v.issue, v.blocker, v.direct) for v in report] == [("B", "A", False)]


def test_a_correct_backlog_has_no_violation():
    assert len(violations(["A", "B", "C"], [("A", "B"), ("B", "C"), ("A", "C")])) == 0


def test_cycles_are_named_and_their_members_not_reported_against_each_other():
    report = violations(["B", "A", "C", "D"], [("A", "B"), ("B", "A"), ("D", "C"), ("C", "C")])
    assert sorted(tuple(sorted(c.members)) for c in report.cycles) == [("A", "B"), ("C",)]
    assert any(c.name in ("B → A → B", "A → B → A") for c in report.cycles)
    assert [(v.issue, v.blocker) for v in report] == [("C", "D")]


def test_tables():
    report = violations(["B", "A", "C"], [("A", "B"), ("C", "D"), ("D", "C"), ("E", "F"), ("F", "E")])
    df = report.to_frame()
    assert list(df.columns) == ["issue", "position", "blocker", "blocker_position", "direct"]
    assert df.iloc[0].to_dict() == {"issue": "B", "position": 1, "blocker": "A", "blocker_position": 2, "direct": True}
    assert report.cycles_frame()["size"].tolist() == [2]  # the E-F cycle does not touch this backlog
