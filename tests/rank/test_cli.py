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
    assert capsys.readouterr().out.startswith("issue,position,blocker,blocker_position,direct\n")
