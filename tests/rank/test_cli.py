"""``labkit rank``: offline violations, plan and rehearsal from REST issue JSON."""

from __future__ import annotations

import json

import pytest

from labkit.cli import main
from labkit.rank.demo import demo_backlog

pytestmark = pytest.mark.unit


def test_violations_and_cycles_of_the_demo_backlog(capsys):
    assert main(["rank", "violations", "--issues", "demo", "--format", "json"]) == 0
    out = capsys.readouterr()
    rows = json.loads(out.out)
    assert {"issue": "LAB-3", "position": 3, "blocker": "LAB-29", "blocker_position": 29, "direct": True} in rows
    assert "blocking cycle (cannot be satisfied): LAB-4 → LAB-8 → LAB-4" in out.err


def test_plan_from_a_jsonl_file_with_an_order_file(tmp_path, capsys):
    order, issues = demo_backlog()
    dump = tmp_path / "issues.jsonl"
    dump.write_text("\n".join(json.dumps(i) for i in reversed(issues)))
    (tmp_path / "order.txt").write_text("\n".join(order))
    assert main(["rank", "plan", "--issues", str(dump), "--order", str(tmp_path / "order.txt"),
                 "--calls", "--format", "json"]) == 0
    calls = json.loads(capsys.readouterr().out)
    assert calls and all(1 <= len(c["issues"]) <= 50 for c in calls)
    assert main(["rank", "plan", "--issues", str(dump), "--order", str(tmp_path / "order.txt"),
                 "--baseline", "--format", "csv"]) == 0
    assert capsys.readouterr().out.startswith("method,moves,rank_calls\nlabkit,")


def test_rehearse_is_labelled_offline_and_round_trips(tmp_path, capsys):
    assert main(["rank", "rehearse", "--issues", "demo", "--journal", str(tmp_path / "j.json"),
                 "--format", "json"]) == 0
    out = capsys.readouterr()
    assert "OFFLINE rehearsal on an in-memory backlog" in out.err
    apply_row, undo_row = json.loads(out.out)
    assert apply_row["violations_left"] == 0 and apply_row["ok"] and undo_row["ok"]
    assert json.loads((tmp_path / "j.json").read_text())["status"] == "undone"


def test_a_missing_file_is_one_line_and_exit_1(capsys):
    assert main(["rank", "plan", "--issues", "/nonexistent/issues.json"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("labkit: error: /nonexistent/issues.json does not exist") and "Traceback" not in err


def test_the_real_appcelerator_dump(shared_data, capsys):
    subset = shared_data / "jira" / "appcelerator-jira-archive" / "raw-blocks-subset"
    if not subset.is_dir():
        pytest.skip(f"{subset} is missing")
    assert main(["rank", "violations", "--issues", str(subset), "--include-done", "--format", "csv"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("issue,position,blocker,blocker_position,direct\n")
    from labkit.rank import blocks_graph, violations
    from labkit.rank.backlog import load_issues

    keys, issues = load_issues(str(subset))
    expected = violations(keys, blocks_graph(issues, include_done=True))
    rows = out.strip().splitlines()[1:]
    assert len(expected) > 0 and len(rows) == len(expected)
    assert {r.split(",")[0] for r in rows} == {v.issue for v in expected}


def test_bad_order_files_and_journals_are_one_line_and_exit_1(tmp_path, capsys):
    """Order files naming unknown or unreadable keys, and journals that are folders or foreign JSON, are refused."""
    (tmp_path / "other.txt").write_text("LAB-1\nDEMO-999\n")
    (tmp_path / "bin.txt").write_bytes(b"LAB-1\n\xff\n")
    (tmp_path / "empty.txt").write_text("\n")
    (tmp_path / "list.json").write_text("[1, 2]")
    (tmp_path / "bin.json").write_bytes(b"\xff\xfe")
    (tmp_path / "folder.json").mkdir()
    for args, message in [
        (["rank", "violations", "--issues", "demo", "--order", str(tmp_path / "other.txt")],
         "names 1 issue(s) not in demo (first: DEMO-999)"),
        (["rank", "plan", "--issues", "demo", "--order", str(tmp_path / "bin.txt")], "(not UTF-8 text)"),
        (["rank", "plan", "--issues", "demo", "--order", str(tmp_path / "empty.txt")], "names no issue keys"),
        (["rank", "undo", "--journal", str(tmp_path / "list.json")], "not a labkit rank undo journal"),
        (["rank", "undo", "--journal", str(tmp_path / "bin.json")], "cannot read the undo journal"),
        (["rank", "apply", "--jql", "project = LAB", "--journal", str(tmp_path / "folder.json")],
         "cannot write the undo journal"),
        (["rank", "rehearse", "--issues", "demo", "--journal", str(tmp_path / "folder.json")],
         "cannot write the undo journal"),
        (["rank", "rehearse", "--issues", "demo", "--journal", str(tmp_path / "no" / "j.json")],
         "cannot write the undo journal"),
    ]:
        assert main(args) == 1, args
        err = capsys.readouterr().err
        assert err.startswith("labkit: error: ") and message in err, err
        assert err.strip().count("\n") == 0
    assert not (tmp_path / "no").exists()


def test_apply_to_a_journal_path_it_cannot_write_is_a_rank_error(tmp_path):
    """The library's apply() refuses a journal it cannot write, before any rank call, with a RankError."""
    from labkit.rank import ListRankClient, RankError, apply, blocks_graph, plan_moves

    order, issues = demo_backlog()
    plan = plan_moves(order, blocks_graph(issues), jql="(offline)")
    client = ListRankClient(order)
    (tmp_path / "folder.json").mkdir()
    (tmp_path / "file").write_text("x")
    for journal in (tmp_path / "folder.json", tmp_path / "file" / "j.json"):
        with pytest.raises(RankError, match="cannot write the undo journal"):
            apply(plan, client, journal)
    assert client.log == [] and client.keys == order


def test_rehearse_without_a_journal_leaves_no_file(tmp_path, monkeypatch, capsys):
    """A rehearsal without --journal keeps its undo journal in a scratch folder that is removed afterwards."""
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    assert main(["rank", "rehearse", "--issues", "demo", "--format", "json"]) == 0
    apply_row, undo_row = json.loads(capsys.readouterr().out)
    assert apply_row["ok"] and undo_row["ok"]
    assert list(tmp_path.iterdir()) == []
