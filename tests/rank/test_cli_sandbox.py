"""``labkit rank plan|apply|undo|violations --jql`` as a user runs them: a subprocess against the Jira sandbox."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from labkit.rank import blocks_graph, count_violations, violations

pytestmark = [pytest.mark.integration, pytest.mark.slow]

JQL = "project = DEMO ORDER BY Rank ASC"


def cli(*args: str) -> subprocess.CompletedProcess:
    """Run ``python -m labkit.cli ARGS`` with this test's environment (run dir, config)."""
    return subprocess.run([sys.executable, "-m", "labkit.cli", *args], capture_output=True, text=True,
                          env=dict(os.environ), timeout=300, check=False)


def graph_of(client):
    """The blocks graph of the backlog as the client reads it now."""
    return blocks_graph(client.search_issues(JQL, ["issuelinks", "status", "summary"], progress=False))


@pytest.fixture
def isolated(run_dir, tmp_path, monkeypatch):
    """A private run dir and config file, the built-in sandbox profile."""
    monkeypatch.setenv("LABKIT_CONFIG", str(tmp_path / "no-config.toml"))
    monkeypatch.delenv("LABKIT_PROFILE", raising=False)
    return run_dir


@pytest.fixture
def jira(isolated):
    """The Jira sandbox as a service, with blocking links added against the rank; its client."""
    import labkit.sandbox as sandbox
    from labkit.jira.client import JiraClient

    sandbox.start(["jira"])
    client = JiraClient.from_profile(progress=False)
    order = client.backlog_order(JQL)
    issues = {i["key"]: i for i in client.search_issues(JQL, ["status"], progress=False)}
    o = [k for k in order if issues[k]["fields"]["status"]["statusCategory"]["key"] != "done"]
    assert len(o) >= 16, "the sandbox's demo data has too few open DEMO issues"
    # lower-ranked open issues block higher-ranked ones: a hub, a chain and scattered pairs
    for blocker, blocked in [(o[-1], o[0]), (o[-1], o[3]), (o[-2], o[6]), (o[-3], o[-2]), (o[10], o[1]),
                             (o[14], o[12]), (o[15], o[9])]:
        client.add_link("Blocks", blocker, blocked)
    yield client
    client.close()


def test_plan_apply_undo_round_trip_on_the_sandbox(jira, tmp_path):
    original = jira.backlog_order(JQL)
    graph = graph_of(jira)
    expected = violations(original, graph)
    assert len(expected) >= 7

    found = cli("rank", "violations", "--jql", JQL, "--format", "json")
    assert found.returncode == 0, found.stderr
    assert {(v["issue"], v["blocker"]) for v in json.loads(found.stdout)} == {(v.issue, v.blocker) for v in expected}

    plan = cli("rank", "plan", "--jql", JQL, "--format", "json")
    assert plan.returncode == 0, plan.stderr
    moves = json.loads(plan.stdout)
    assert moves and {m["blocked"] for m in moves} <= set(expected.issues)
    assert f"{len(expected)} violation(s)" in plan.stderr and "Dry run: nothing was sent" in plan.stderr
    assert jira.backlog_order(JQL) == original                       # the dry run sent nothing

    journal = tmp_path / "rank-undo.json"
    applied = cli("rank", "apply", "--jql", JQL, "--journal", str(journal), "--format", "json")
    assert applied.returncode == 0, applied.stderr
    [row] = json.loads(applied.stdout)
    assert row["ok"] and row["violations_left"] == 0 and row["moves"] == len(moves) and row["rank_calls"] >= 1
    after = jira.backlog_order(JQL)
    assert after != original and count_violations(after, graph_of(jira)) == 0
    assert json.loads(journal.read_text())["original_order"] == original
    left = cli("rank", "violations", "--jql", JQL, "--format", "json")
    assert left.returncode == 0 and json.loads(left.stdout) == []

    again = cli("rank", "apply", "--jql", JQL, "--journal", str(journal))   # would overwrite the undo journal
    assert again.returncode == 1
    assert again.stderr.strip().count("\n") == 0 and "already holds an apply that was not undone" in again.stderr
    assert jira.backlog_order(JQL) == after

    back = cli("rank", "undo", "--journal", str(journal), "--format", "json")
    assert back.returncode == 0, back.stderr
    [row] = json.loads(back.stdout)
    assert row["restored"] and row["mismatches"] == 0 and row["rank_calls"] >= 1
    assert jira.backlog_order(JQL) == original                       # issue by issue
    assert json.loads(journal.read_text())["status"] == "undone"


def test_user_mistakes_are_one_line_and_exit_1(jira, tmp_path):
    original = jira.backlog_order(JQL)
    for args, message in [
        (["rank", "undo", "--journal", str(tmp_path / "missing.json")], "does not exist"),
        (["rank", "plan", "--jql", "project = DEMO ORDER BY key ASC"], "must be read in rank order"),
        (["rank", "apply", "--jql", "project = = DEMO", "--journal", str(tmp_path / "j.json")], "not valid JQL"),
        (["rank", "apply", "--jql", "project = NOPE", "--journal", str(tmp_path / "j.json")],
         "The value 'NOPE' does not exist for the field 'project'."),   # Jira's own 400, as the sandbox answers
        (["rank", "apply", "--jql", 'project = DEMO AND summary ~ "zqxjv"', "--journal", str(tmp_path / "j.json")],
         "finds no issues"),
        (["rank", "apply", "--jql", JQL, "--journal", str(tmp_path / "no" / "dir" / "j.json")],
         "cannot write the undo journal"),
    ]:
        r = cli(*args)
        assert r.returncode == 1, (args, r.stderr)
        assert r.stderr.startswith("labkit: error: ") and message in r.stderr, r.stderr
        assert r.stderr.strip().count("\n") == 0 and "Traceback" not in r.stderr
    (tmp_path / "other.json").write_text('{"not": "a journal"}')
    r = cli("rank", "undo", "--journal", str(tmp_path / "other.json"))
    assert r.returncode == 1 and "not a labkit rank undo journal" in r.stderr
    assert cli("rank", "apply", "--jql", JQL).returncode == 2                   # usage: --journal is required
    assert jira.backlog_order(JQL) == original and not (tmp_path / "j.json").exists()


def test_without_a_running_sandbox_the_error_says_how_to_start_it(isolated):
    r = cli("rank", "plan", "--jql", JQL)
    assert r.returncode == 1
    assert r.stderr.strip() == "labkit: error: the sandbox jira service is not running: " \
                               "start it with: labkit sandbox start jira"
