"""The rank board shows violations, blockers and the planned moves, and wires Apply/Undo/drag to the core."""

from __future__ import annotations

import pytest

from labkit.rank import ListRankClient

pytestmark = pytest.mark.unit

JQL = "project = LAB ORDER BY Rank ASC"
ORDER = ["LAB-1", "LAB-2", "LAB-3", "LAB-4", "LAB-5"]
EDGES = [("LAB-5", "LAB-2"), ("LAB-4", "LAB-1"), ("LAB-1", "LAB-3")]


@pytest.fixture
def board(tmp_path):
    """A rank board over an in-memory backlog with three violations (anywidget is a runtime dependency)."""
    from labkit.forms.rank import RankBoard

    return RankBoard(ListRankClient(ORDER), JQL, EDGES, tmp_path / "undo.json",
                     summaries={"LAB-1": "Boot the cloud"})


def test_the_board_marks_violations_blockers_and_planned_moves(board):
    rows = {r["key"]: r for r in board.rows}
    assert [r["key"] for r in board.rows] == ORDER and board.total == 5
    assert rows["LAB-1"]["summary"] == "Boot the cloud"
    assert rows["LAB-1"]["violated"] and rows["LAB-2"]["violated"] and not rows["LAB-5"]["violated"]
    assert rows["LAB-2"]["blockers"] == [{"key": "LAB-5", "pos": 5, "below": True}]
    assert {m["issue"] for m in board.moves} == {r["key"] for r in board.rows if r["move"]}
    assert len(board.moves) == len(board.plan.moves) and board.calls
    assert {(v["issue"], v["blocker"]) for v in board.violations} == {
        ("LAB-1", "LAB-4"), ("LAB-2", "LAB-5"), ("LAB-3", "LAB-4")}
    assert not board.can_undo and board.client.log == []       # showing the plan sent nothing


def test_apply_then_undo_through_browser_messages(board):
    board._on_msg(board, {"action": "apply"}, [])
    assert board.violations == [] and board.moves == []
    assert board.can_undo and "no violation left" in board.message and not board.error
    board._on_msg(board, {"action": "undo"}, [])
    assert board.client.keys == ORDER and not board.can_undo
    assert len(board.violations) == 3 and "restored" in board.message


def test_drag_to_rank_sends_one_rank_call_and_redraws(board):
    board._on_msg(board, {"action": "rank", "issues": ["LAB-5"], "before": "LAB-1"}, [])
    assert board.client.log[-1] == {"issues": ["LAB-5"], "rankBeforeIssue": "LAB-1"}
    assert board.rows[0]["key"] == "LAB-5"
    assert all(v["blocker"] != "LAB-5" for v in board.violations)


def test_a_second_apply_keeps_the_first_journal(board, tmp_path):
    board.do_apply()
    board.do_rank(["LAB-1"], before=board.client.keys[0])    # break it again by hand
    assert board.violations
    board.do_apply()
    assert board.journal_path.endswith("undo.2.json") and (tmp_path / "undo.json").exists()
    assert board.violations == []


def test_errors_become_a_message_not_a_traceback(board):
    board._on_msg(board, {"action": "rank", "issues": ["NOPE-1"], "before": "LAB-1"}, [])
    assert board.error and "unknown issue NOPE-1" in board.message
