"""Bulk import into the Jira sandbox: 2,000 tickets, killed mid-run, resumed: each issue and link exactly once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter

import pytest

import labkit.sandbox as sb
from labkit.jira.client import JiraClient
from labkit.tracker import rt
from labkit.tracker.bulk_import import Journal, Mapping, _bulk_create, plan_import, run_import

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture
def jira(run_dir):
    """The sandbox jira service in a private run dir, and a client for it."""
    sb.start(["jira"])
    client = JiraClient(sb.url("jira"), ("admin", sb.secret("jira")), progress=False)
    yield client
    client.close()


def imported(client: JiraClient, project: str, prefix: str = "rt-") -> dict[str, list[dict]]:
    """Source id -> the issues carrying its label (more than one would be a duplicate)."""
    found: dict[str, list[dict]] = {}
    for issue in client.search_issues(f"project = {project} ORDER BY key ASC", ["labels", "issuelinks", "status"],
                                      progress=False):
        for label in issue["fields"].get("labels") or []:
            if label.startswith(prefix):
                found.setdefault(label[len(prefix):], []).append(issue)
    return found


def link_counts(found: dict[str, list[dict]]) -> Counter:
    """Count (type, blocker-side key, other key) over outward links, as Jira shows them on the inward issue."""
    c: Counter = Counter()
    for issues in found.values():
        for issue in issues:
            for ln in issue["fields"].get("issuelinks") or []:
                if "outwardIssue" in ln:
                    c[(ln["type"]["name"], issue["key"], ln["outwardIssue"]["key"])] += 1
    return c


def test_killed_import_resumes_to_exactly_every_issue_and_link(jira, run_dir, tmp_path):
    tickets = list(rt.generate_tickets(2000, seed=3))
    export = rt.write_tickets(tickets, tmp_path / "rt-export.csv")
    journal = tmp_path / "import.journal"
    env = {**os.environ, "LABKIT_RUN_DIR": str(run_dir)}
    argv = [sys.executable, "-m", "labkit.cli", "jira", "import", str(export), "--project", "OPS", "--apply",
            "--journal", str(journal), "--format", "json"]
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        done = journal.read_text().count('"batch-done"') if journal.exists() else 0
        if done >= 4:
            os.killpg(proc.pid, signal.SIGKILL)
            break
        time.sleep(0.01)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL, "the import finished before it could be interrupted"
    text = journal.read_text()
    assert '"event":"done"' not in text
    partial = imported(jira, "OPS")
    assert 0 < len(partial) < 2000

    resumed = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr
    counts = {r["measure"]: r["value"] for r in json.loads(resumed.stdout)}
    confirmed = sum(len(json.loads(line)["created"]) for line in text.splitlines() if '"batch-done"' in line)
    # what the journal confirmed + what was sent unconfirmed (found on the server) + the rest created now
    assert confirmed + counts["issues already there"] + counts["issues created"] == 2000
    assert counts["issues made by an earlier run (journal)"] == confirmed  # counted, not dropped
    assert counts["issues already there"] <= 50

    found = imported(jira, "OPS")
    assert set(found) == {t.id for t in tickets}
    assert all(len(v) == 1 for v in found.values()), "a ticket was imported twice"
    keys = {src: v[0]["key"] for src, v in found.items()}
    plan = plan_import(tickets, Mapping(project="OPS"))
    links = link_counts(found)
    for ln in plan.links:
        assert links[(ln.type, keys[ln.inward], keys[ln.outward])] == 1, ln
    assert sum(links.values()) == len(plan.links)
    status = {src: v[0]["fields"]["status"]["name"] for src, v in found.items()}
    assert all(status[i.source_id] == i.status for i in plan.issues)

    again = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=600)
    counts = {r["measure"]: r["value"] for r in json.loads(again.stdout)}
    assert counts["issues created"] == 0 and counts["links created"] == 0
    assert len(imported(jira, "OPS")) == 2000


def test_a_batch_sent_but_not_journalled_is_found_not_created_again(jira, tmp_path):
    tickets = list(rt.generate_tickets(120, seed=5))
    plan = plan_import(tickets, Mapping(project="NET"))
    journal = Journal(tmp_path / "j")
    first = plan.issues[:50]
    # the crash window: the batch was announced and sent, the answer never reached the journal
    journal.write({"event": "batch-start", "batch": 1, "sources": [i.source_id for i in first]})
    _bulk_create(jira, [{"fields": i.fields} for i in first])
    result = run_import(plan, jira, tmp_path / "j", set_status=False)
    assert result.found_existing == 50 and result.created == 70
    found = imported(jira, "NET")
    assert len(found) == 120 and all(len(v) == 1 for v in found.values())


def test_rerun_without_journal_creates_nothing_twice(jira, tmp_path):
    tickets = list(rt.generate_tickets(60, seed=9))
    plan = plan_import(tickets, Mapping(project="DEMO", label_prefix="legacy"))
    run_import(plan, jira, tmp_path / "a.journal", set_status=False)
    second = run_import(plan, jira, tmp_path / "b.journal", set_status=False)
    assert second.created == 0 and second.found_existing == 60
    again = run_import(plan, jira, tmp_path / "a.journal", set_status=False)  # a rerun through the journal
    assert (again.created, again.found_existing, again.resumed) == (0, 0, 60)
    assert len(imported(jira, "DEMO", "legacy-")) == 60


def test_dry_run_prints_the_plan_and_changes_nothing(jira, run_dir, tmp_path):
    export = rt.write_tickets(rt.generate_tickets(30, seed=1), tmp_path / "x.json")
    before = jira.count("project = OPS")
    env = {**os.environ, "LABKIT_RUN_DIR": str(run_dir)}
    r = subprocess.run([sys.executable, "-m", "labkit.cli", "jira", "import", str(export), "--project", "OPS",
                        "--format", "csv"], env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and r.stdout.count("\n") == 31 and "dry run: 30 issues" in r.stderr
    assert jira.count("project = OPS") == before
    bad = subprocess.run([sys.executable, "-m", "labkit.cli", "jira", "import", str(tmp_path / "nope.csv"),
                          "--project", "OPS"], env=env, capture_output=True, text=True, timeout=120)
    assert bad.returncode == 1 and "no export file" in bad.stderr and "Traceback" not in bad.stderr
