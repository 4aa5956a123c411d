"""ListRankClient behaves like the Agile rank API: batches of 1..50, anchors, partial failures."""

from __future__ import annotations

import pytest

from labkit.rank import ListRankClient, RankClient, RankError

pytestmark = pytest.mark.unit


def test_issues_land_in_the_given_order_before_or_after_the_anchor():
    c = ListRankClient(["A", "B", "C", "D", "E"])
    assert c.rank(["E", "D"], before="B") == []
    assert c.keys == ["A", "E", "D", "B", "C"]
    assert c.rank(["A"], after="C") == []
    assert c.backlog_order("project = X ORDER BY Rank ASC") == ["E", "D", "B", "C", "A"]
    assert c.log[0] == {"issues": ["E", "D"], "rankBeforeIssue": "B"}
    assert isinstance(c, RankClient)


@pytest.mark.parametrize("issues, kw, message", [
    ([], {"before": "A"}, "1 to 50"),
    ([f"K-{i}" for i in range(51)], {"before": "A"}, "1 to 50"),
    (["B"], {}, "exactly one"),
    (["B"], {"before": "A", "after": "C"}, "exactly one"),
    (["Z"], {"before": "A"}, "unknown issue Z"),
    (["A"], {"before": "A"}, "its own anchor"),
])
def test_bad_calls_are_refused_and_change_nothing(issues, kw, message):
    c = ListRankClient(["A", "B", "C", *[f"K-{i}" for i in range(51)]])
    before = list(c.keys)
    with pytest.raises(RankError, match=message):
        c.rank(issues, **kw)
    assert c.keys == before


def test_a_failing_issue_comes_back_as_a_207_entry_and_the_rest_of_the_batch_is_ranked():
    c = ListRankClient(["A", "B", "C", "D"], fail={"C": 1})
    entries = c.rank(["C", "D"], before="A")
    assert [(e["issueKey"], e["status"]) for e in entries] == [("C", 503), ("D", 200)] and entries[0]["errors"]
    assert c.keys == ["D", "A", "B", "C"]
    assert c.rank(["C"], before="A") == []          # it failed once only
    assert c.keys == ["D", "C", "A", "B"]
