"""End to end on the Jira sandbox: seeded violations → plan → apply (a 207 on one batch) → none left → undo.

Uses labkit.jira.sandbox.serve and labkit.jira.client.JiraClient through the RankClient protocol.
"""

from __future__ import annotations

import pytest

from labkit.jira.client import JiraClient
from labkit.jira.sandbox import serve
from labkit.rank import apply, blocks_graph, count_violations, load_journal, plan_moves, undo, violations

pytestmark = [pytest.mark.integration, pytest.mark.slow]

JQL = "project = DEMO"


@pytest.fixture
def jira():
    """A Server/DC sandbox with 200 demo issues (seeded violations) and a client for it."""
    with serve(mode="server", seed_issues=200) as sb:
        client = JiraClient(sb.url, auth=sb.auth)
        yield sb, client
        client.close()


def fetch(client):
    """The backlog's issues with their links and status."""
    return client.search_issues(JQL, fields=["issuelinks", "status", "summary"])


def test_seeded_violations_are_planned_applied_through_a_207_and_undone(jira, tmp_path):
    sb, client = jira
    order = client.backlog_order(JQL)
    issues = {i["key"]: i for i in fetch(client)}
    open_keys = [k for k in order if issues[k]["fields"]["status"]["statusCategory"]["key"] != "done"]
    assert len(open_keys) >= 16, "the sandbox's demo data has too few open DEMO issues"
    before = count_violations(order, blocks_graph(issues.values()))
    # lower-ranked open issues block higher-ranked ones: a hub, a chain, and scattered pairs
    o = open_keys
    seeded = [(o[-1], o[0]), (o[-1], o[3]), (o[-2], o[6]), (o[-3], o[-2]), (o[10], o[1]), (o[14], o[12]),
              (o[15], o[9]), (o[11], o[5])]
    for blocker, blocked in seeded:
        client.add_link("Blocks", blocker, blocked)   # shows as outwardIssue on the blocker: "blocker blocks"
    graph = blocks_graph(fetch(client))
    assert set(seeded) <= set(graph.edges)
    found = violations(order, graph)
    assert len(found) >= len(seeded) > before
    plan = plan_moves(order, graph, jql=JQL)
    assert len(plan.calls) >= 2 and plan.moves

    # the second rank call answers 207 and ranks nothing; apply must notice on re-read and re-plan
    sb.faults([{"path": "/rest/agile/1.0/issue/rank", "status": 207, "skip": 1, "times": 1}])
    journal = tmp_path / "rank-undo.json"
    result = apply(plan, client, journal)
    assert result.ok and result.rounds >= 2
    assert [f["status"] for f in sb.app.faults.fired] == [207]
    assert load_journal(journal)["original_order"] == order
    assert count_violations(client.backlog_order(JQL), blocks_graph(fetch(client))) == 0

    back = undo(journal, client)
    assert back.restored
    assert client.backlog_order(JQL) == order          # issue by issue
