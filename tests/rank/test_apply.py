"""apply() writes its journal first, confirms by re-reading, recovers from 207s; undo() restores exactly."""

from __future__ import annotations

import json
import random

import pytest

from labkit.rank import ListRankClient, RankError, apply, count_violations, load_journal, plan_moves, undo

pytestmark = pytest.mark.unit

JQL = "project = LAB ORDER BY Rank ASC"


def seeded_backlog(n=120, links=90, seed=5):
    """A backlog of n issues whose blocks links are mostly violated."""
    rng = random.Random(seed)
    keys = [f"LAB-{i}" for i in range(n)]
    edges = list(dict.fromkeys((keys[rng.randrange(i)], keys[i]) for i in rng.choices(range(1, n), k=links)))
    order = list(keys)
    rng.shuffle(order)
    return order, edges


class JournalCheckingClient(ListRankClient):
    """A ListRankClient that records whether the journal existed when each rank call arrived."""

    def __init__(self, keys, journal, **kw):
        """Remember the journal path, to check it is written before each rank call."""
        super().__init__(keys, **kw)
        self.journal = journal
        self.journal_seen: list[bool] = []

    def rank(self, issues, *, before=None, after=None):
        """Note whether the journal held the original order, then rank."""
        self.journal_seen.append(self.journal.exists() and bool(load_journal(self.journal)["original_order"]))
        return super().rank(issues, before=before, after=after)


def test_apply_leaves_no_violation_and_undo_restores_the_original_order(tmp_path):
    order, edges = seeded_backlog()
    assert count_violations(order, edges) > 0
    journal = tmp_path / "undo.json"
    client = JournalCheckingClient(order, journal)
    plan = plan_moves(order, edges, jql=JQL)
    result = apply(plan, client, journal)
    assert client.journal_seen and all(client.journal_seen)
    assert result.ok and result.remaining_violations == 0 and result.matches_plan
    assert count_violations(client.backlog_order(JQL), edges) == 0
    assert result.calls_sent == len(plan.calls) and result.rounds == 1
    saved = json.loads(journal.read_text())
    assert saved["status"] == "applied" and saved["original_order"] == order and saved["jql"] == JQL
    back = undo(journal, client)
    assert back.restored and not back.mismatches
    assert client.backlog_order(JQL) == order
    assert json.loads(journal.read_text())["status"] == "undone"


def test_a_207_on_one_batch_is_recovered_by_replanning(tmp_path):
    order, edges = seeded_backlog(seed=9)
    plan = plan_moves(order, edges, jql=JQL)
    victim = plan.calls[len(plan.calls) // 2].issues[0]
    client = ListRankClient(order, fail={victim: 1})
    result = apply(plan, client, tmp_path / "j.json")
    assert [e["issueKey"] for e in result.failures] == [victim]
    assert result.rounds == 2 and result.ok
    assert count_violations(client.keys, edges) == 0
    assert undo(tmp_path / "j.json", client).restored and client.keys == order


def test_an_issue_that_keeps_failing_is_pinned_and_what_is_left_is_reported(tmp_path):
    order, edges = ["B", "A", "C"], [("A", "B")]
    client = ListRankClient(order, fail={"A": 99})
    result = apply(plan_moves(order, edges, jql=JQL), client, tmp_path / "j.json")
    assert result.ok                       # B went below A instead
    assert client.keys.index("A") < client.keys.index("B")
    stubborn = ListRankClient(order, fail={"A": 99, "B": 99})
    result = apply(plan_moves(order, edges, jql=JQL), stubborn, tmp_path / "k.json")
    assert not result.ok and result.remaining_violations == 1 and stubborn.keys == order
    assert json.loads((tmp_path / "k.json").read_text())["status"] == "partial"


def test_a_backlog_that_changed_since_planning_is_replanned(tmp_path):
    order, edges = seeded_backlog(seed=3)
    plan = plan_moves(order, edges, jql=JQL)
    client = ListRankClient(order)
    client.rank([order[-1]], before=order[0])          # someone re-ranked meanwhile
    result = apply(plan, client, tmp_path / "j.json")
    assert result.replanned_at_start and result.ok
    assert load_journal(tmp_path / "j.json")["original_order"] != order
    assert undo(tmp_path / "j.json", client).restored


def test_an_apply_cut_short_can_be_undone_from_its_journal(tmp_path):
    order, edges = seeded_backlog(seed=11)

    class Breaks(ListRankClient):
        """A backlog whose fourth rank call fails, as a dropped connection would."""
        def rank(self, issues, *, before=None, after=None):
            """Fail the fourth call; rank as usual otherwise."""
            if len(self.log) == 3:
                raise RankError("connection reset")
            return super().rank(issues, before=before, after=after)

    client = Breaks(order)
    with pytest.raises(RankError, match="undo"):
        apply(plan_moves(order, edges, jql=JQL), client, tmp_path / "j.json")
    assert client.keys != order
    assert json.loads((tmp_path / "j.json").read_text())["status"] == "interrupted"
    plain = ListRankClient(client.keys)
    assert undo(tmp_path / "j.json", plain).restored and plain.keys == order


def test_undo_keeps_issues_created_since_and_skips_deleted_ones(tmp_path):
    order, edges = seeded_backlog(n=40, links=30, seed=2)
    client = ListRankClient(order)
    apply(plan_moves(order, edges, jql=JQL), client, tmp_path / "j.json")
    keys = [k for k in client.keys if k != order[5]]
    keys.insert(7, "LAB-NEW")
    client.keys = keys
    result = undo(tmp_path / "j.json", client)
    assert result.restored
    assert [k for k in client.keys if k != "LAB-NEW"] == [k for k in order if k != order[5]]


def test_bad_journals_and_missing_jql_lose_nothing(tmp_path):
    client = ListRankClient(["B", "A"])
    plan = plan_moves(["B", "A"], [("A", "B")])
    with pytest.raises(RankError, match="JQL"):
        apply(plan, client, tmp_path / "j.json")
    assert not (tmp_path / "j.json").exists() and client.log == []
    apply(plan, client, tmp_path / "j.json", jql=JQL)
    with pytest.raises(RankError, match="not undone"):
        apply(plan, client, tmp_path / "j.json", jql=JQL)
    (tmp_path / "x.json").write_text("{}")
    with pytest.raises(RankError, match="not a labkit rank undo journal"):
        undo(tmp_path / "x.json", client)
    with pytest.raises(RankError, match="does not exist"):
        undo(tmp_path / "nope.json", client)


def test_a_temp_journal_left_by_a_kill_before_its_rename_is_removed_by_the_undo(tmp_path):
    """SIGKILL between the temp file and the rename leaves ``j.json.XXXXXXXX.tmp``; the next write of j.json removes it."""
    order, edges = seeded_backlog(seed=12)
    client = ListRankClient(order)
    apply(plan_moves(order, edges, jql=JQL), client, tmp_path / "j.json")
    left = tmp_path / "j.json.k1ll3d0x.tmp"           # what mkstemp names it (8 random characters)
    left.write_text('{"labkit_rank_journal": ')       # cut short by the kill
    other = tmp_path / "k.json.k1ll3d0x.tmp"          # another journal's: not this one's to remove
    other.write_text("{}")
    assert undo(tmp_path / "j.json", client).restored and client.keys == order
    assert sorted(p.name for p in tmp_path.iterdir()) == ["j.json", "k.json.k1ll3d0x.tmp"]
