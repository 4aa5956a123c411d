"""JiraClient against the sandbox: DataFrame columns, Server/DC and Cloud paths, rank protocol, profiles."""

from __future__ import annotations

import pytest

from labkit.errors import HttpError
from labkit.jira.client.rest import COLUMNS, JiraClient, normalise, with_rank_order
from labkit.jira.errors import JiraError
from labkit.jira.model import WORDING
from labkit.jira.sandbox import serve

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module", params=["server", "cloud"])
def sb(request):
    """A sandbox in each mode, served from a thread."""
    with serve(mode=request.param, seed_issues=300, seed=11) as running:
        yield running


def truth(sb, jql: str) -> list[str]:
    """The keys the sandbox's own store returns for a JQL (ground truth)."""
    return sb.app.db(lambda s: s.search_keys(jql)[0])


def test_detects_the_deployment(sb):
    client = JiraClient(sb.url, sb.auth)
    assert client.is_cloud == (sb.app.mode == "cloud")
    assert client.api == ("/rest/api/3" if client.is_cloud else "/rest/api/2")


def test_search_returns_normalised_columns_in_order(sb):
    client = JiraClient(sb.url, sb.auth, page_size=40, workers=3)
    jql = "created is not EMPTY ORDER BY key ASC"
    df = client.search(jql)
    assert list(df.columns) == COLUMNS
    assert list(df["key"]) == truth(sb, jql)
    assert str(df["created"].dtype).startswith("datetime64") and str(df["created"].dt.tz) == "UTC"
    assert all(isinstance(v, list) for v in df["labels"]) and all(isinstance(v, list) for v in df["blocked_by"])
    stored = sb.app.db(lambda s: s.search(jql))
    for col in ("summary", "status", "status_category", "issuetype", "priority", "rank", "labels", "components"):
        assert list(df[col]) == list(stored[col]), col


def test_links_become_blocked_by_and_blocks(sb):
    client = JiraClient(sb.url, sb.auth)
    a, b = truth(sb, "created is not EMPTY ORDER BY key ASC")[-2:]
    client.add_link("Blocks", a, b)  # POST /issueLink: inwardIssue blocks outwardIssue
    df = client.search(f"key in ({a}, {b}) ORDER BY key ASC").set_index("key")
    assert a in df.loc[b, "blocked_by"] and b in df.loc[a, "blocks"]


def test_extra_fields_and_raw(sb):
    client = JiraClient(sb.url, sb.auth)
    df = client.search("created is not EMPTY ORDER BY key ASC", fields=["description"], raw=True, limit=7)
    assert len(df) == 7 and "description" in df.columns and "raw" in df.columns
    assert df["raw"].iloc[0]["key"] == df["key"].iloc[0]


def test_count_and_keys(sb):
    client = JiraClient(sb.url, sb.auth)
    jql = "created is not EMPTY"
    assert client.count(jql) == len(truth(sb, jql))
    assert client.search_keys(jql + " ORDER BY key DESC") == truth(sb, jql + " ORDER BY key DESC")


def test_bad_jql_is_a_clear_one_line_error(sb):
    client = JiraClient(sb.url, sb.auth)
    with pytest.raises(JiraError) as info:
        client.search("summary ~ ")
    assert "rejected the JQL 'summary ~ '" in str(info.value) and "\n" not in str(info.value)
    with pytest.raises(JiraError):
        client.count("project = = X")


def test_wrong_password_is_a_clear_error(sb):
    with pytest.raises(HttpError) as info:
        JiraClient(sb.url, ("admin", "wrong")).search("created is not EMPTY")
    assert info.value.status == 401 and "authentication failed" in str(info.value)


def test_bearer_token(sb):
    client = JiraClient(sb.url, token=sb.secret)
    assert client.count("created is not EMPTY") > 0


def test_rank_protocol(sb):
    client = JiraClient(sb.url, sb.auth)
    project = sb.app.db(lambda s: s.projects())[0]["key"]
    jql = f'project = "{project}" AND statusCategory != Done'
    order = client.backlog_order(jql)
    assert order == truth(sb, with_rank_order(jql))
    moving = order[-3:]
    assert client.rank(moving, before=order[0]) == []
    assert client.backlog_order(jql)[:4] == moving + [order[0]]
    entries = client.rank([order[5], "NOPE-404"], after=order[1])
    assert {e["issueKey"]: e["status"] for e in entries} == {order[5]: 200, "NOPE-404": 404}
    with pytest.raises(JiraError):
        client.rank(moving)


def test_rank_batches_keep_their_order(sb):
    client = JiraClient(sb.url, sb.auth)
    jql = "created is not EMPTY"
    order = client.backlog_order(jql)
    moving = order[-120:]
    assert client.rank(moving, after=order[0]) == []
    assert client.backlog_order(jql)[:121] == [order[0]] + moving


def test_from_profile_uses_the_sandbox(run_dir, monkeypatch, tmp_path):
    import labkit.sandbox as sandbox

    monkeypatch.setenv("LABKIT_CONFIG", str(tmp_path / "none.toml"))
    monkeypatch.setenv("LABKIT_JIRA_SEED_ISSUES", "20")
    monkeypatch.delenv("LABKIT_PROFILE", raising=False)
    sandbox.start(["jira"])
    client = JiraClient.from_profile()
    assert client.url == sandbox.url("jira")
    assert client.count("created is not EMPTY") == 20
    assert sandbox.secret("jira").reveal() not in repr(client)


def test_from_profile_without_url_says_what_to_add(tmp_path, monkeypatch):
    cfg = tmp_path / "config.toml"
    cfg.write_text('[profiles.prod.jira]\nuser = "alice"\ntoken_env = "X_TOKEN"\n')
    monkeypatch.setenv("LABKIT_CONFIG", str(cfg))
    with pytest.raises(JiraError, match="no jira url"):
        JiraClient.from_profile("prod")


@pytest.mark.unit
def test_normalise_and_blocking_units():
    issue = {"key": "A-1", "fields": {
        "summary": "s", "status": {"name": "Open", "statusCategory": {"name": "To Do"}},
        "assignee": {"name": "al", "displayName": "Al"}, "components": [{"name": "core"}], "labels": ["x"],
        "customfield_10019": "0|i0000a:",
        "issuelinks": [
            {"id": "1", "type": {"name": "Blocks", "inward": "is blocked by", "outward": "blocks"},
             "inwardIssue": {"key": "A-0"}},
            {"id": "2", "type": {"name": "Blocker", "inward": "is blocked by", "outward": "blocks"},
             "outwardIssue": {"key": "A-2"}},
            {"id": "3", "type": {"name": "Relates", "inward": "relates to", "outward": "relates to"},
             "outwardIssue": {"key": "A-9"}}]}}
    row = normalise(issue)
    assert row["status_category"] == "To Do" and row["assignee"] == "Al" and row["rank"] == "0|i0000a:"
    assert WORDING.blocking(issue["fields"]) == (["A-0"], ["A-2"])
    assert with_rank_order("project = A") == "project = A ORDER BY Rank ASC"
    assert with_rank_order("project = A order by key") == "project = A order by key"


@pytest.mark.unit
def test_progress_bar_only_for_long_searches():
    client = JiraClient("http://127.0.0.1:9", ("admin", "x"))
    assert client._bar(100, None) is None
    bar = client._bar(6000, None)
    try:
        assert type(bar).__module__.startswith("tqdm") and bar.total == 6000
    finally:
        bar.close()
    assert client._bar(6000, False) is None
    quiet = JiraClient("http://127.0.0.1:9", ("admin", "x"), progress=False)
    assert quiet._bar(6000, None) is None


def test_columns_built_per_page_match_issues_normalised_one_by_one(sb):
    """The fast search (each page decoded into structs, then rows, names shared) gives the very DataFrame that
    normalising each issue's plain JSON gives (the raw=True path), links and a limit included."""
    import pandas as pd

    client = JiraClient(sb.url, sb.auth, page_size=70, workers=3)
    keys = truth(sb, "created is not EMPTY ORDER BY key ASC")
    client.add_link("Blocks", keys[0], keys[1])
    for limit in (None, 45):
        fast = client.search("created is not EMPTY ORDER BY key ASC", limit=limit)
        plain = client.search("created is not EMPTY ORDER BY key ASC", limit=limit, raw=True).drop(columns="raw")
        pd.testing.assert_frame_equal(fast, plain)
        assert len(fast) == (limit or len(keys))
    assert keys[1] in fast.set_index("key").loc[keys[0], "blocks"]


def test_small_pages_and_limits_give_the_first_issues_in_order(sb):
    """Many pages (Cloud: several id pages, their bulkfetch batches sent while the next id page comes), with and
    without a limit that cuts a page or a batch: the keys the sandbox's store gives, in order, each once."""
    jql = "created is not EMPTY ORDER BY key ASC"
    keys = truth(sb, jql)
    for workers in (1, 3):
        client = JiraClient(sb.url, sb.auth, page_size=20, workers=workers)
        for limit in (None, 250, 101, 100, 1, 0):
            got = list(client.search(jql, limit=limit)["key"])
            assert got == (keys if limit is None else keys[:limit]), (workers, limit)
        assert [i["key"] for i in client.search_issues(jql, limit=150)] == keys[:150]


def _odd_page(page: dict, rank: str) -> dict:
    """A real page with issues stripped of fields, fields null or empty, odd names, unsorted lists and odd links."""
    issues = page["issues"]
    del issues[0]["fields"]
    issues[1]["fields"] = dict.fromkeys(issues[1]["fields"])  # every field null
    issues[2]["fields"] = {}  # every field missing
    f = issues[3]["fields"]
    f["status"] = {"name": "Triage"}  # no statusCategory
    f["issuetype"], f["priority"] = {"value": "Epic"}, {"name": None, "value": "P1"}
    f["assignee"], f["reporter"] = {"displayName": "", "name": "al"}, {"accountId": "5b10ac8d82e05b22cc7d4ef5"}
    f["labels"], f["components"] = ["b", "a", "c"], [{"name": "web"}, {"value": "api"}, {"name": "db"}]
    f[rank] = None
    f = issues[4]["fields"]
    f["labels"], f["components"], f["issuelinks"] = ["solo"], [{"name": None}], [
        {"type": {"name": "Blocks", "inward": "is blocked by", "outward": "blocks"}, "outwardIssue": {"key": "X-2"}},
        {"type": {"name": "Blocks", "inward": "is blocked by", "outward": "blocks"}, "inwardIssue": {"key": "X-1"}},
        {"type": {"name": "Relates", "inward": "relates to", "outward": "relates to"}, "inwardIssue": {"key": "X-3"}},
        {"type": None, "outwardIssue": {"key": "X-4"}}, {"inwardIssue": {"key": "X-5"}},
        {"type": {"name": "Blocks", "inward": "is blocked by", "outward": "blocks"}}]
    issues[5]["fields"]["resolutiondate"] = None
    return page


def test_columns_of_real_server_pages_equal_each_issue_normalised(sb):
    """Real Server pages of every field the search asks for, some issues then without fields, with null, empty and
    odd values: the columns path (msgspec structs, columns page by page, dates read from their texts) gives the
    frame the row path gives (json.loads, normalise per issue, the dates read back from the frame's text column)."""
    import json

    import pandas as pd

    from labkit.jira.client.columns import columns_parser, page_parser
    from labkit.jira.client.rest import base_fields, to_dataframe

    if sb.app.mode != "server":
        pytest.skip("Server pages (/rest/api/2/search)")
    client = JiraClient(sb.url, sb.auth)
    rank = client.rank_field
    page = json.loads(client._post_search("/rest/api/2/search", {
        "jql": "ORDER BY key ASC", "startAt": 0, "maxResults": 300, "fields": base_fields(rank)}))
    assert len(page["issues"]) == 300
    odd_dates = _odd_page(json.loads(json.dumps(page)), rank)
    odd_dates["issues"][6]["fields"]["created"] = "2024-01-02T03:04:05Z"  # not Jira's form: pandas reads the column
    for body in (page, _odd_page(json.loads(json.dumps(page)), rank), odd_dates):
        content = json.dumps(body).encode()
        assert not isinstance(page_parser(rank)(content)["issues"][0], dict)  # decoded into structs, no fallback
        columns = columns_parser(rank, client.blocking)(content)["issues"].columns
        rows = [normalise(i, rank, rule=client.blocking) for i in json.loads(content)["issues"]]
        pd.testing.assert_frame_equal(to_dataframe(columns), to_dataframe(rows), check_exact=True)
    frame = to_dataframe(columns)
    assert frame.loc[4, "blocked_by"] == ["X-1"] and frame.loc[4, "blocks"] == ["X-2"]
    assert frame.loc[3, ["issuetype", "priority", "assignee"]].tolist() == ["Epic", "P1", "al"]
    assert frame.loc[3, "components"] == ["api", "db", "web"] and frame["resolved"].isna().sum() > 1
