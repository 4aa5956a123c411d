"""blocks_graph reads blocking links from Jira REST issue JSON the way Jira means them."""

from __future__ import annotations

import csv
import json

import pytest

from labkit.rank import RankError, blocks_graph
from labkit.rank.graph import link_direction

pytestmark = pytest.mark.unit

BLOCKS = {"id": "10000", "name": "Blocks", "inward": "is blocked by", "outward": "blocks"}
DONE = {"name": "Closed", "statusCategory": {"key": "done"}}
OPEN = {"name": "Open", "statusCategory": {"key": "new"}}


def issue(key, links=(), status=OPEN):
    """A REST-shaped issue with a status and issue links."""
    return {"key": key, "fields": {"status": status, "issuelinks": list(links)}}


def link(link_id, side, other, link_type=BLOCKS, status=OPEN):
    """One issue link of a type, with the other issue on the given side."""
    return {"id": link_id, "type": link_type, side: {"key": other, "fields": {"status": status}}}


def test_inward_issue_blocks_the_viewing_issue_and_outward_is_blocked_by_it():
    g = blocks_graph([issue("A-1", [link("1", "inwardIssue", "A-2"), link("2", "outwardIssue", "A-3")])])
    assert g.edges == [("A-2", "A-1"), ("A-1", "A-3")]


def test_a_link_seen_from_both_issues_counts_once():
    g = blocks_graph([issue("A-1", [link("7", "inwardIssue", "A-2")]),
                      issue("A-2", [link("7", "outwardIssue", "A-1")])])
    assert [(lk.link_id, lk.blocker, lk.blocked) for lk in g.links] == [("7", "A-2", "A-1")]


def test_apache_blocker_type_and_reversed_wording_are_recognised_other_types_are_not():
    apache = {"name": "Blocker", "inward": "is blocked by", "outward": "blocks"}
    reworded = {"name": "Dependency", "inward": "blocks", "outward": "is blocked by"}
    relates = {"name": "Relates", "inward": "relates to", "outward": "relates to"}
    symmetric = {"name": "Blocked", "inward": "Blocked", "outward": "Blocked"}
    g = blocks_graph([issue("A-1", [link("1", "outwardIssue", "A-2", apache),
                                    link("2", "outwardIssue", "A-3", reworded),
                                    link("3", "outwardIssue", "A-4", relates),
                                    link("4", "outwardIssue", "A-5", symmetric)])])
    assert g.edges == [("A-1", "A-2"), ("A-3", "A-1")]


def test_done_blockers_are_left_out_by_default_and_kept_on_request():
    issues = [issue("A-1", [link("1", "inwardIssue", "A-2", status=DONE), link("2", "inwardIssue", "A-3")])]
    assert blocks_graph(issues).edges == [("A-3", "A-1")]
    assert [lk.blocker for lk in blocks_graph(issues).skipped_done] == ["A-2"]
    assert blocks_graph(issues, include_done=True).edges == [("A-2", "A-1"), ("A-3", "A-1")]


def test_the_blockers_own_status_wins_over_the_link_stub():
    # the stub on A-1 says A-2 is open, A-2's own (newer) JSON says done
    issues = [issue("A-1", [link("1", "inwardIssue", "A-2")]), issue("A-2", status=DONE)]
    assert blocks_graph(issues).edges == []


def test_cross_project_blockers_are_included_and_flagged():
    g = blocks_graph([issue("APP-1", [link("1", "inwardIssue", "INFRA-9"), link("2", "inwardIssue", "APP-2")])])
    assert [(lk.blocker, lk.cross_project) for lk in g.links] == [("INFRA-9", True), ("APP-2", False)]
    assert [lk.blocker for lk in g.cross_project] == ["INFRA-9"]


def test_not_issue_json_is_a_rank_error():
    with pytest.raises(RankError, match="not Jira REST issue JSON"):
        blocks_graph([{"summary": "x"}])


def test_apache_link_types_from_the_real_server(shared_data):
    path = shared_data / "jira" / "go-jira-mocks" / "all_issuelinktypes.json"
    if not path.exists():
        pytest.skip(f"real Apache link types not present at {path}")
    types = {t["name"]: t for t in json.loads(path.read_text())}
    blocking = sorted(name for name, t in types.items() if link_direction(t))
    assert "Blocker" in blocking and "Blocked" not in blocking and "Relates" not in blocking


def test_real_appcelerator_issues_give_exactly_the_distinct_blocks_pairs(shared_data):
    base = shared_data / "jira" / "appcelerator-jira-archive"
    if not (base / "raw-blocks-subset").is_dir():
        pytest.skip(f"Appcelerator Jira dump not present at {base}")
    issues = [json.loads(p.read_text()) for p in sorted((base / "raw-blocks-subset").glob("*.json"))]
    with open(base / "DERIVED-blocks-edges.csv") as f:
        expected = {(r["blocker_key"], r["blocked_key"]) for r in csv.DictReader(f)}
    g = blocks_graph(issues, include_done=True)
    assert set(g.edges) == expected
    assert len(g.links) == len(set(g.links))
    open_only = blocks_graph(issues)
    assert open_only.links and all(not lk.blocker_done for lk in open_only.links)
    assert len(open_only.links) + len(open_only.skipped_done) == len(g.links)
