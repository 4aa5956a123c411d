"""The PyPI ``jira`` client (pycontribs) runs against the sandbox and agrees with labkit on keys."""

from __future__ import annotations

import pytest
from jira import JIRA

from labkit.jira.client import JiraClient
from labkit.jira.sandbox import serve

from .test_store_helpers import real_sandbox

pytestmark = pytest.mark.integration

JQLS = [
    "created is not EMPTY ORDER BY key ASC",
    "created is not EMPTY ORDER BY Rank ASC",
    "statusCategory != Done ORDER BY key DESC",
    "issuetype = Bug ORDER BY created DESC, key ASC",
]


@pytest.fixture(scope="module", params=["server", "cloud"])
def sb(request):
    """A sandbox in each mode with 450 demo issues."""
    with serve(mode=request.param, seed_issues=450, seed=9) as running:
        yield running


@pytest.fixture(scope="module")
def peer(sb):
    """The pycontribs jira client on the sandbox."""
    return JIRA(sb.url, basic_auth=sb.auth, options={"check_update": False})


def peer_keys(peer: JIRA, cloud: bool, jql: str) -> list[str]:
    """The keys pycontribs finds for a JQL (enhanced search on Cloud, classic on Server/DC)."""
    if cloud:
        return [i.key for i in peer.enhanced_search_issues(jql, maxResults=False, fields="summary")]
    return [i.key for i in peer.search_issues(jql, maxResults=False, fields="summary")]


@pytest.mark.parametrize("jql", JQLS)
def test_same_keys_as_labkit(sb, peer, jql):
    cloud = sb.app.mode == "cloud"
    assert peer._is_cloud == cloud
    theirs = peer_keys(peer, cloud, jql)
    ours = list(JiraClient(sb.url, sb.auth, page_size=100).search(jql)["key"])
    assert theirs == ours
    assert len(ours) == sb.app.db(lambda s: s.count(jql)) > 0


def test_search_issues_paged_and_total(sb, peer):
    if sb.app.mode == "cloud":
        page = peer.enhanced_search_issues("created is not EMPTY", maxResults=20)
        assert len(page) == 20 and page.nextPageToken
        nxt = peer.enhanced_search_issues("created is not EMPTY", maxResults=20, nextPageToken=page.nextPageToken)
        assert not {i.key for i in page} & {i.key for i in nxt}
    else:
        page = peer.search_issues("created is not EMPTY", startAt=10, maxResults=20)
        assert len(page) == 20 and page.total == 450 and page.startAt == 10


def test_issue_create_link_and_rank(sb, peer):
    project = peer.projects()[0].key
    made = peer.create_issue(project=project, summary="made by pycontribs", issuetype={"name": "Task"})
    assert peer.issue(made.key).fields.summary == "made by pycontribs"
    by_name = peer.create_issue(project=project, summary="type by name", issuetype="Bug")
    assert peer.issue(by_name.key).fields.issuetype.name == "Bug"
    other = peer_keys(peer, sb.app.mode == "cloud", "created is not EMPTY ORDER BY key ASC")[0]
    peer.create_issue_link("Blocks", other, made.key)
    links = peer.issue(made.key).fields.issuelinks
    assert any(getattr(lk, "inwardIssue", None) and lk.inwardIssue.key == other for lk in links)
    labkit = JiraClient(sb.url, sb.auth)
    row = labkit.search(f"key = {made.key}").iloc[0]
    assert row["blocked_by"] == [other]
    top = labkit.backlog_order("created is not EMPTY")[0]
    response = peer.rank(made.key, next_issue=top)
    assert response.status_code == 204
    assert labkit.backlog_order("created is not EMPTY")[:2] == [made.key, top]
    peer.rank(by_name.key, prev_issue=made.key)
    assert labkit.backlog_order("created is not EMPTY")[:3] == [made.key, by_name.key, top]


@pytest.mark.parametrize("mode", ["server", "cloud"])
def test_real_archive_same_keys(mode):
    """Real issues (the Appcelerator archive's DAEMON project): pycontribs and labkit agree."""
    with real_sandbox("DAEMON", mode) as real:
        peer = JIRA(real.url, basic_auth=real.auth, options={"check_update": False})
        ours = JiraClient(real.url, real.auth, page_size=100)
        for jql in ["project = DAEMON ORDER BY key ASC", 'text ~ "crash" ORDER BY key ASC',
                    "status = Closed ORDER BY created DESC", "issueLinkType = Blocks ORDER BY key ASC"]:
            keys = list(ours.search(jql)["key"])
            assert peer_keys(peer, mode == "cloud", jql) == keys and keys, jql
