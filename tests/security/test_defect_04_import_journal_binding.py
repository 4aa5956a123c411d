"""Defect 4: the bulk-import journal was not tied to the import it recorded.

``labkit jira import e.csv --mapping m.json --apply`` and then the same with ``--project NET --apply``
exited 0 with "created 0 / already there 0": the journal said every ticket existed, so nothing went
into NET. The journal's first event now binds it to the source's tickets, the mapping and the target
project, and a run of another import on it is refused with what differs, before any call.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

import labkit.sandbox as sb
from labkit.jira.client import JiraClient
from labkit.jira.errors import JiraError
from labkit.tracker import rt
from labkit.tracker.bulk_import import Journal, Mapping, plan_import, run_import


class NoCalls:
    """A client that fails the test if the import makes any call."""

    api = "/rest/api/2"

    def __getattr__(self, name):
        raise AssertionError(f"the import called client.{name} before refusing the journal")


class Recorder:
    """A client for a first run: no issue exists, bulk creates answer keys in order."""

    api = "/rest/api/2"

    def __init__(self, project: str) -> None:
        self.project = project
        self.n = 0
        self.session = self

    def search_issues(self, jql, fields=None, progress=None):
        return []

    def post(self, path, json=None):
        class R:
            pass

        r = R()
        keys = []
        for _ in json["issueUpdates"]:
            self.n += 1
            keys.append({"key": f"{self.project}-{self.n}"})
        r.json = lambda: {"issues": keys, "errors": []}
        return r

    def add_link(self, *a):
        pass


@pytest.mark.unit
def test_a_journal_refuses_another_project_mapping_or_source(tmp_path):
    tickets = list(rt.generate_tickets(30, seed=4))
    journal = tmp_path / "import.journal"
    first = plan_import(tickets, Mapping(project="OPS"))
    run_import(first, Recorder("OPS"), journal, set_status=False)
    head = json.loads(journal.read_text().splitlines()[0])
    assert head == {"event": "import", **first.binding()} and head["project"] == "OPS"

    with pytest.raises(JiraError, match=r"import.journal is the journal of another import \(into project OPS, not NET"):
        run_import(plan_import(tickets, Mapping(project="NET")), NoCalls(), journal)
    with pytest.raises(JiraError, match="another import \\(with another mapping\\)"):
        run_import(plan_import(tickets, Mapping(project="OPS", issuetype="Bug")), NoCalls(), journal)
    with pytest.raises(JiraError, match="another import \\(of other tickets"):
        run_import(plan_import(tickets[:29], Mapping(project="OPS")), NoCalls(), journal)
    # the same import still resumes on it (and finds nothing left to do)
    again = run_import(first, NoCalls(), journal, set_status=False)
    assert again.created == 0 and len(again.keys) == 30


@pytest.mark.unit
def test_an_older_unbound_journal_is_checked_by_the_keys_it_holds(tmp_path):
    journal = tmp_path / "old.journal"
    journal.write_text('{"event":"batch-done","batch":1,"created":{"1":"OPS-1"},"links":[]}\n')
    plan = plan_import([rt.Ticket("1", "one"), rt.Ticket("2", "two")], Mapping(project="NET"))
    with pytest.raises(JiraError, match="another import \\(into project OPS, not NET\\)"):
        Journal(journal, plan.binding())
    same = plan_import([rt.Ticket("1", "one"), rt.Ticket("2", "two")], Mapping(project="OPS"))
    Journal(journal, same.binding())  # the project its keys are in: accepted, bound on the next write


@pytest.mark.integration
@pytest.mark.slow
def test_the_cli_refuses_the_journal_of_another_import(run_dir, tmp_path):
    sb.start(["jira"])
    export = rt.write_tickets(list(rt.generate_tickets(40, seed=8)), tmp_path / "e.csv")
    mapping = tmp_path / "m.json"
    mapping.write_text(json.dumps({"project": "OPS"}))
    env = {**os.environ, "LABKIT_RUN_DIR": str(run_dir)}
    base = [sys.executable, "-m", "labkit.cli", "jira", "import", str(export), "--mapping", str(mapping),
            "--apply", "--no-status", "--format", "json"]
    first = subprocess.run(base, env=env, capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stderr
    second = subprocess.run(base + ["--project", "NET"], env=env, capture_output=True, text=True, timeout=300)
    assert second.returncode == 1
    lines = second.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("labkit: error: ")
    assert "e.csv.journal is the journal of another import (into project OPS, not NET; with another mapping)" in lines[0]
    client = JiraClient(sb.url("jira"), ("admin", sb.secret("jira")), progress=False)
    labels = ", ".join(f'"rt-{n}"' for n in range(1, 41))
    try:
        assert client.count(f"project = OPS AND labels in ({labels})") == 40
        assert client.count(f"project = NET AND labels in ({labels})") == 0  # the refused run sent nothing
    finally:
        client.close()
