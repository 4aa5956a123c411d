"""Kill loops (issue 15's acceptance): ``jira import --apply`` and ``rank apply`` killed again and again.

Each is the real command line (``python -m labkit.cli``) against the Jira sandbox service, killed
with SIGKILL (its whole process group) at random points: half at a random time after start (often
before any call), half once its journal has grown by a random number of events. After every kill
the journal still reads. The import then resumes to exactly N issues and exactly the planned links;
after every killed ``rank apply`` an undo restores the backlog's order issue by issue.
(``aws write``'s kill loop is the aws package's, in tests/aws.)
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

import labkit.sandbox as sb
from labkit.jira.client import JiraClient
from labkit.rank import load_journal
from labkit.tracker import rt
from labkit.tracker.bulk_import import Journal, Mapping, plan_import

pytestmark = [pytest.mark.integration, pytest.mark.slow]

KILLS = 20
RANK_JQL = "project = DEMO ORDER BY Rank ASC"


@pytest.fixture
def jira(run_dir, tmp_path, monkeypatch):
    """The Jira sandbox service in a private run dir; a client on it."""
    monkeypatch.setenv("LABKIT_CONFIG", str(tmp_path / "no-config.toml"))
    monkeypatch.delenv("LABKIT_PROFILE", raising=False)
    sb.start(["jira"])
    client = JiraClient.from_profile(progress=False)
    yield client
    client.close()


def start(args: list[str]) -> subprocess.Popen:
    """Start ``labkit ARGS`` in its own process group."""
    return subprocess.Popen([sys.executable, "-m", "labkit.cli", *args], env=dict(os.environ),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)


class RandomKiller:
    """Kills a command's process group at a random point inside its run, however fast this machine runs it.

    Half the time the point is a random share of how long a whole run takes here (often before any
    call); otherwise when ``progress()`` (events in its journal) has grown by a random share of the events
    a whole run makes. Both start from a guess (3 s, 12 events) and follow the last run that finished
    unkilled: with fixed ranges a fast machine finished most runs before their kill point came.
    """

    def __init__(self, rng: random.Random, seconds: float = 3.0, events: int = 12) -> None:
        """Start from a guess of a whole run's seconds and journal events."""
        self.rng, self.seconds, self.events = rng, seconds, events

    def kill(self, proc: subprocess.Popen, progress, limit: float = 120) -> bool:
        """Kill the process group at a random point; True if it was still running (a real kill)."""
        begin = time.monotonic()
        by_time = self.rng.random() < 0.5
        delay = self.rng.uniform(0.05, 0.95) * self.seconds
        base = progress()
        step = self.rng.randint(1, max(1, self.events - 1))
        while proc.poll() is None and time.monotonic() - begin < limit:
            if (by_time and time.monotonic() - begin >= delay) or (not by_time and progress() - base >= step):
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=30)
                return True
            time.sleep(0.003)
        proc.wait(timeout=30)
        self.seconds, self.events = time.monotonic() - begin, max(2, progress() - base)  # a whole run, here
        return False


def journal_lines(path: Path) -> int:
    """How many events a journal holds (0 when it does not exist yet)."""
    try:
        return path.read_bytes().count(b"\n")
    except FileNotFoundError:
        return 0


def test_a_bulk_import_killed_20_times_ends_with_exactly_n_issues_and_n_links(jira, tmp_path):
    """Imports killed at random until 20 kills; each import then ends with exactly its N issues and links.

    A fast machine can finish an import between two kills: that import is checked, and the next one
    (its own label prefix and journal) takes the kills that are still due.
    """
    rng = random.Random(int(os.environ.get("LABKIT_KILL_SEED", "1515")))
    tickets = list(rt.generate_tickets(300, seed=15, link_ratio=0.6))
    export = rt.write_tickets(tickets, tmp_path / "export.csv")
    killer = RandomKiller(rng)
    kills = imports = 0
    for cycle in range(12):
        if kills >= KILLS:
            break
        mapping = tmp_path / f"mapping-{cycle}.json"
        prefix = f"k{cycle}l"
        mapping.write_text(json.dumps({"project": "NET", "label_prefix": prefix}))
        journal = tmp_path / f"import-{cycle}.journal"
        argv = ["jira", "import", str(export), "--mapping", str(mapping), "--apply", "--journal", str(journal),
                "--format", "json"]
        plan = plan_import(tickets, Mapping.from_file(mapping))
        for _ in range(200):
            if kills >= KILLS:
                break
            proc = start(argv)
            if not killer.kill(proc, lambda journal=journal: journal_lines(journal)):
                assert proc.returncode == 0, proc.stderr.read().decode()[-2000:]
                break  # this import finished between two kills
            kills += 1
            if journal.exists():
                Journal(journal, plan.binding())  # it reads after every kill (a torn line is cut, not fatal)
        done = subprocess.run([sys.executable, "-m", "labkit.cli", *argv], env=dict(os.environ),
                              capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr
        assert_imported_exactly(jira, tickets, plan, prefix)
        imports += 1
    print(f"\n{kills} kills over {imports} imports")
    assert kills >= KILLS, f"{imports} imports took only {kills} kills"


def assert_imported_exactly(jira: JiraClient, tickets, plan, prefix: str) -> None:
    """Every ticket is one issue (its ``PREFIX-id`` label), every planned link is there once, statuses as planned."""
    labels = ", ".join(f'"{prefix}-{t.id}"' for t in tickets)
    found: dict[str, list[dict]] = {}
    for issue in jira.search_issues(f"labels in ({labels})", ["labels", "issuelinks", "status"], progress=False):
        for label in issue["fields"]["labels"]:
            if label.startswith(prefix + "-"):
                found.setdefault(label[len(prefix) + 1:], []).append(issue)
    assert set(found) == {t.id for t in tickets}
    assert all(len(v) == 1 for v in found.values()), "a ticket was imported twice"
    keys = {src: v[0]["key"] for src, v in found.items()}
    links: Counter = Counter()
    for v in found.values():
        for ln in v[0]["fields"].get("issuelinks") or []:
            if "outwardIssue" in ln:
                links[(ln["type"]["name"], v[0]["key"], ln["outwardIssue"]["key"])] += 1
    for ln in plan.links:
        assert links[(ln.type, keys[ln.inward], keys[ln.outward])] == 1, ln
    assert sum(links.values()) == len(plan.links) > 50
    status = {src: v[0]["fields"]["status"]["name"] for src, v in found.items()}
    assert all(status[i.source_id] == i.status for i in plan.issues if i.status)


def add_violations(client: JiraClient, n: int = 60) -> None:
    """Link lower-ranked open DEMO issues as blockers of higher-ranked ones: many moves to make."""
    order = client.backlog_order(RANK_JQL)
    issues = {i["key"]: i for i in client.search_issues(RANK_JQL, ["status"], progress=False)}
    open_keys = [k for k in order if issues[k]["fields"]["status"]["statusCategory"]["key"] != "done"]
    rng = random.Random(7)
    half = len(open_keys) // 2
    for _ in range(n):
        blocked = rng.choice(open_keys[:half])
        blocker = rng.choice(open_keys[half:])
        client.add_link("Blocks", blocker, blocked)


def test_rank_apply_killed_20_times_is_always_undone_to_the_exact_order(jira, tmp_path):
    rng = random.Random(2026)
    add_violations(jira)
    original = jira.backlog_order(RANK_JQL)
    killer = RandomKiller(rng)
    kills = mid_apply = 0
    for attempt in range(120):
        if kills >= KILLS and mid_apply >= 3:  # on a loaded machine early kills land before the journal: go on
            break
        journal = tmp_path / f"undo-{attempt}.json"
        proc = start(["rank", "apply", "--jql", RANK_JQL, "--journal", str(journal)])

        def calls(journal: Path = journal) -> int:
            try:
                return len(json.loads(journal.read_text())["calls"])
            except (OSError, ValueError, KeyError):
                return 0

        killed = killer.kill(proc, calls)
        kills += killed
        if journal.exists():
            data = load_journal(journal)  # whole JSON after every kill: written by rename
            mid_apply += killed and data["status"] == "started"
            undo = subprocess.run([sys.executable, "-m", "labkit.cli", "rank", "undo", "--journal", str(journal)],
                                  env=dict(os.environ), capture_output=True, text=True, timeout=600)
            assert undo.returncode == 0, undo.stderr
        else:
            assert killed, proc.stderr.read().decode()[-2000:]
        assert jira.backlog_order(RANK_JQL) == original, f"attempt {attempt}: the order was not restored"
        leftovers = [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
        assert not leftovers, f"temporary journal files left behind: {leftovers}"
    assert kills >= KILLS
    assert mid_apply >= 3, f"only {mid_apply} kills landed between the journal and the last call"
