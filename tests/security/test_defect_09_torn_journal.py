"""Defect 9: a journal line torn by a kill was tolerated once, then appended onto, then fatal.

The first resume skipped the torn last line, but its first write went onto the end of that line, so
every later run failed with "journal:N is corrupt". The torn part is now cut off before appending
(and a whole event whose newline was lost keeps its event and gets its newline).
"""

from __future__ import annotations

import json

import pytest

from labkit.jira.errors import JiraError
from labkit.tracker import rt
from labkit.tracker.bulk_import import Journal, Mapping, plan_import, run_import

pytestmark = pytest.mark.unit

DONE = '{"event":"batch-done","batch":1,"created":{"1":"OPS-1","2":"OPS-2"},"links":[]}\n'


def events(path) -> list[dict]:
    """Every line of the journal as JSON (fails the test on a corrupt line)."""
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_a_torn_last_line_is_cut_before_the_next_event(tmp_path):
    journal = tmp_path / "import.journal"
    journal.write_text(DONE + '{"event":"batch-start","batch":2,"sour')  # killed mid-write
    first = Journal(journal)
    assert first.created == {"1": "OPS-1", "2": "OPS-2"}
    first.write({"event": "link-done", "link": "Blocks:1>2"})
    assert [e["event"] for e in events(journal)] == ["batch-done", "link-done"]
    second = Journal(journal)  # the run after the resume used to fail here: "journal:2 is corrupt"
    assert second.links_done == {"Blocks:1>2"}
    second.write({"event": "status-done", "source": "1"})
    assert Journal(journal).statuses_done == {"1"}


def test_a_whole_event_without_its_newline_is_kept(tmp_path):
    journal = tmp_path / "import.journal"
    journal.write_text(DONE.rstrip("\n"))
    j = Journal(journal)
    assert j.created == {"1": "OPS-1", "2": "OPS-2"}
    j.write({"event": "status-done", "source": "2"})
    assert [e["event"] for e in events(journal)] == ["batch-done", "status-done"]


def test_a_foreign_file_is_never_cut(tmp_path):
    journal = tmp_path / "notes.txt"
    journal.write_bytes(b"my notes, no newline at the end")
    with pytest.raises(JiraError, match="notes.txt:1 is corrupt"):
        Journal(journal)
    assert journal.read_bytes() == b"my notes, no newline at the end"


class Recorder:
    """A client for an import: nothing exists yet, bulk creates answer keys in order."""

    api = "/rest/api/2"

    def __init__(self) -> None:
        self.n = 0
        self.session = self

    def search_issues(self, jql, fields=None, progress=None):
        return []

    def post(self, path, json=None):
        class R:
            pass

        keys = []
        for _ in json["issueUpdates"]:
            self.n += 1
            keys.append({"key": f"OPS-{self.n}"})
        r = R()
        r.json = lambda: {"issues": keys, "errors": []}
        return r

    def add_link(self, *a):
        pass

    def issue(self, key, fields=None):
        return {"key": key, "fields": {"issuelinks": []}}


def test_three_runs_after_a_torn_line_all_work(tmp_path):
    tickets = list(rt.generate_tickets(120, seed=2))
    plan = plan_import(tickets, Mapping(project="OPS"))
    journal = tmp_path / "import.journal"
    client = Recorder()
    run_import(plan, client, journal, set_status=False)
    text = journal.read_text()
    journal.write_text(text[: text.rindex('{"event":"batch-done"') + 30])  # torn inside the last batch-done
    for _ in range(3):
        run_import(plan, client, journal, set_status=False)
        events(journal)


@pytest.mark.parametrize("tear", ['{', '{"ev', '{"event"', '{"event":"batch-st'])
def test_a_line_torn_anywhere_even_in_its_first_bytes_is_cut(tmp_path, tear):
    # a kill stops a write(2) at a page boundary, which can fall anywhere in a line, even its first bytes
    journal = tmp_path / "import.journal"
    journal.write_text(DONE + tear)
    j = Journal(journal)
    assert j.created == {"1": "OPS-1", "2": "OPS-2"}
    j.write({"event": "status-done", "source": "1"})
    assert [e["event"] for e in events(journal)] == ["batch-done", "status-done"]
