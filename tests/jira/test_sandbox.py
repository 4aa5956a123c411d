"""The Jira sandbox server: REST v2/v3, Server/DC and Cloud search, agile rank, auth, service start."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import requests

from labkit.jira.sandbox import serve
from labkit.jira.sandbox.app import GONE_MESSAGE, UNBOUNDED_MESSAGE

pytestmark = pytest.mark.integration

SEED = 240


@pytest.fixture(scope="module")
def server_sb():
    """A Server/DC-mode sandbox with demo issues, served from a thread."""
    with serve(mode="server", seed_issues=SEED, seed=3) as sb:
        yield sb


@pytest.fixture(scope="module")
def cloud_sb():
    """A Cloud-mode sandbox with the same demo issues."""
    with serve(mode="cloud", seed_issues=SEED, seed=3) as sb:
        yield sb


def http(sb) -> requests.Session:
    """A plain requests session with the sandbox's basic auth."""
    s = requests.Session()
    s.auth = sb.auth
    return s


def all_keys(sb, jql: str) -> list[str]:
    """The keys the store itself returns for a JQL (ground truth)."""
    return sb.app.db(lambda s: s.search_keys(jql)[0])


def test_auth_basic_bearer_and_refusal(server_sb):
    url = server_sb.url + "/rest/api/2/myself"
    assert requests.get(url, auth=server_sb.auth).json()["name"] == "admin"
    assert requests.get(url, headers={"Authorization": f"Bearer {server_sb.secret}"}).status_code == 200
    bad = requests.get(url, auth=("admin", "wrong"))
    assert bad.status_code == 401 and bad.json()["errorMessages"]
    assert requests.get(url, headers={"Authorization": "Bearer nope"}).status_code == 401
    assert requests.get(url).status_code == 401


def test_the_secret_never_shows_in_a_repr(server_sb):
    """The running sandbox's repr (shown by notebooks and logs) names its URL but not its admin secret."""
    assert server_sb.url in repr(server_sb) and server_sb.secret not in repr(server_sb)
    assert server_sb.secret not in str(server_sb)


def test_server_info_tells_the_deployment(server_sb, cloud_sb):
    assert requests.get(server_sb.url + "/rest/api/2/serverInfo").json()["deploymentType"] == "Server"
    info = requests.get(cloud_sb.url + "/rest/api/3/serverInfo").json()
    assert info["deploymentType"] == "Cloud" and info["versionNumbers"][0] >= 1000


def test_metadata_endpoints(server_sb):
    s = http(server_sb)
    fields = s.get(server_sb.url + "/rest/api/2/field").json()
    rank = [f for f in fields if f["name"] == "Rank"]
    assert rank and rank[0]["schema"]["custom"] == "com.pyxis.greenhopper.jira:gh-lexo-rank"
    types = s.get(server_sb.url + "/rest/api/2/issueLinkType").json()["issueLinkTypes"]
    assert {"name": "Blocks", "inward": "is blocked by", "outward": "blocks"}.items() <= types[0].items()
    projects = s.get(server_sb.url + "/rest/api/2/project").json()
    assert projects and all("key" in p and "issueTypes" in p for p in projects)
    key = projects[0]["key"]
    assert s.get(f"{server_sb.url}/rest/api/2/project/{key}").json()["key"] == key
    assert s.get(f"{server_sb.url}/rest/api/2/project/NOPE").status_code == 404
    statuses = s.get(server_sb.url + "/rest/api/2/status").json()
    assert statuses and all("statusCategory" in st for st in statuses)


def test_classic_search_pages_with_total(server_sb):
    s = http(server_sb)
    jql = "ORDER BY key ASC"
    expected = all_keys(server_sb, jql)
    got, start = [], 0
    while True:
        page = s.post(server_sb.url + "/rest/api/2/search",
                      json={"jql": jql, "startAt": start, "maxResults": 70, "fields": ["summary"]}).json()
        assert page["total"] == len(expected) and page["startAt"] == start
        assert all(set(i["fields"]) <= {"summary"} for i in page["issues"])
        got += [i["key"] for i in page["issues"]]
        start += len(page["issues"])
        if start >= page["total"]:
            break
    assert got == expected
    # GET with repeated/comma fields, and the server's page cap
    r = s.get(server_sb.url + "/rest/api/2/search", params={"jql": jql, "maxResults": 5000, "fields": "status,labels"})
    body = r.json()
    assert body["maxResults"] == 1000 and len(body["issues"]) == len(expected)
    assert set(body["issues"][0]["fields"]) <= {"status", "labels"}


def test_classic_search_default_fields_are_navigable(server_sb):
    page = http(server_sb).get(server_sb.url + "/rest/api/2/search", params={"jql": "ORDER BY key", "maxResults": 3}).json()
    fields = page["issues"][0]["fields"]
    assert "summary" in fields and "comment" not in fields


def test_bad_jql_is_a_400_with_the_parser_message(server_sb):
    r = http(server_sb).get(server_sb.url + "/rest/api/2/search", params={"jql": "project = = X"})
    assert r.status_code == 400 and r.json()["errorMessages"]


def test_cloud_token_paging(cloud_sb):
    s = http(cloud_sb)
    jql = "created is not EMPTY ORDER BY key ASC"
    expected = all_keys(cloud_sb, jql)
    got, token, pages = [], None, []
    while True:
        body = {"jql": jql, "maxResults": 100, "fields": ["summary"]}
        if token:
            body["nextPageToken"] = token
        page = s.post(cloud_sb.url + "/rest/api/3/search/jql", json=body).json()
        pages.append(page)
        assert "total" not in page
        got += [i["key"] for i in page["issues"]]
        token = page.get("nextPageToken")
        if not token:
            break
    assert got == expected
    assert pages[-1]["isLast"] is True and "nextPageToken" not in pages[-1]
    assert all(p["isLast"] is False for p in pages[:-1])


def test_cloud_defaults_and_limits(cloud_sb):
    s = http(cloud_sb)
    page = s.get(cloud_sb.url + "/rest/api/3/search/jql", params={"jql": "created is not EMPTY"}).json()
    assert len(page["issues"]) == 50 and set(page["issues"][0]) == {"expand", "id", "self", "key"}
    for jql in ("", "ORDER BY key"):
        r = s.post(cloud_sb.url + "/rest/api/3/search/jql", json={"jql": jql})
        assert r.status_code == 400 and r.json()["errorMessages"] == [UNBOUNDED_MESSAGE]
    r = s.post(cloud_sb.url + "/rest/api/3/search/jql", json={"jql": "created is not EMPTY", "nextPageToken": "bogus"})
    assert r.status_code == 400
    for version in ("2", "3"):
        gone = s.get(f"{cloud_sb.url}/rest/api/{version}/search", params={"jql": "created is not EMPTY"})
        assert gone.status_code == 410 and gone.json()["errorMessages"] == [GONE_MESSAGE]
    count = s.post(cloud_sb.url + "/rest/api/3/search/approximate-count", json={"jql": "created is not EMPTY"}).json()
    assert count == {"count": SEED}


def test_cloud_bulkfetch(cloud_sb):
    s = http(cloud_sb)
    keys = all_keys(cloud_sb, "ORDER BY key ASC")[:5]
    ids = [s.get(f"{cloud_sb.url}/rest/api/3/issue/{k}").json()["id"] for k in keys]
    r = s.post(cloud_sb.url + "/rest/api/3/issue/bulkfetch",
               json={"issueIdsOrKeys": ids + ["NOPE-1"], "fields": ["summary", "status"]}).json()
    assert [i["key"] for i in r["issues"]] == keys
    assert set(r["issues"][0]["fields"]) == {"summary", "status"}
    assert len(r["issueErrors"]) == 1
    too_many = s.post(cloud_sb.url + "/rest/api/3/issue/bulkfetch", json={"issueIdsOrKeys": [str(i) for i in range(101)]})
    assert too_many.status_code == 400


def test_v3_rich_text_is_adf(server_sb):
    s = http(server_sb)
    key = all_keys(server_sb, "ORDER BY key ASC")[0]
    s.put(f"{server_sb.url}/rest/api/2/issue/{key}", json={"fields": {"description": "first\n\nsecond"}})
    v2 = s.get(f"{server_sb.url}/rest/api/2/issue/{key}").json()["fields"]["description"]
    v3 = s.get(f"{server_sb.url}/rest/api/3/issue/{key}").json()["fields"]["description"]
    assert v2 == "first\n\nsecond"
    assert v3["type"] == "doc" and [p["content"][0]["text"] for p in v3["content"]] == ["first", "second"]


def test_create_update_link_comment(server_sb):
    s = http(server_sb)
    project = s.get(server_sb.url + "/rest/api/2/project").json()[0]["key"]
    new = s.post(server_sb.url + "/rest/api/2/issue",
                 json={"fields": {"project": {"key": project}, "summary": "made by a test", "issuetype": {"name": "Bug"}}})
    assert new.status_code == 201
    key = new.json()["key"]
    assert s.put(f"{server_sb.url}/rest/api/2/issue/{key}", json={"fields": {"summary": "renamed"}}).status_code == 204
    assert s.get(f"{server_sb.url}/rest/api/2/issue/{key}").json()["fields"]["summary"] == "renamed"
    missing = s.post(server_sb.url + "/rest/api/2/issue", json={"fields": {"project": {"key": project}}})
    assert missing.status_code == 400 and "summary" in missing.json()["errors"]
    other = all_keys(server_sb, "ORDER BY key ASC")[0]
    link = s.post(server_sb.url + "/rest/api/2/issueLink",
                  json={"type": {"name": "Blocks"}, "inwardIssue": {"key": other}, "outwardIssue": {"key": key}})
    assert link.status_code == 201
    links = s.get(f"{server_sb.url}/rest/api/2/issue/{key}").json()["fields"]["issuelinks"]
    assert any(lk.get("inwardIssue", {}).get("key") == other and lk["type"]["name"] == "Blocks" for lk in links)
    c = s.post(f"{server_sb.url}/rest/api/2/issue/{key}/comment", json={"body": "looks fine"})
    assert c.status_code == 201
    comments = s.get(f"{server_sb.url}/rest/api/2/issue/{key}/comment").json()
    assert comments["total"] == 1 and comments["comments"][0]["body"] == "looks fine"
    assert s.get(f"{server_sb.url}/rest/api/2/issue/NOPE-999").status_code == 404


def test_bulk_create_limit(server_sb):
    s = http(server_sb)
    project = s.get(server_sb.url + "/rest/api/2/project").json()[0]["key"]
    one = {"fields": {"project": {"key": project}, "summary": "bulk", "issuetype": {"name": "Task"}}}
    r = s.post(server_sb.url + "/rest/api/2/issue/bulk", json={"issueUpdates": [one, {"fields": {}}]})
    body = r.json()
    assert r.status_code == 201 and len(body["issues"]) == 1 and body["errors"][0]["failedElementNumber"] == 1
    assert s.post(server_sb.url + "/rest/api/2/issue/bulk", json={"issueUpdates": [one] * 51}).status_code == 400


def test_rank_204_207_and_order_by_rank(server_sb):
    s = http(server_sb)
    project = s.get(server_sb.url + "/rest/api/2/project").json()[0]["key"]
    jql = f'project = "{project}" ORDER BY Rank ASC'
    before = all_keys(server_sb, jql)
    top, moving = before[0], before[-2:]
    r = s.put(server_sb.url + "/rest/agile/1.0/issue/rank", json={"issues": moving, "rankBeforeIssue": top})
    assert r.status_code == 204 and not r.content
    after = all_keys(server_sb, jql)
    assert after[:3] == moving + [top]
    r = s.put(server_sb.url + "/rest/agile/1.0/issue/rank", json={"issues": [before[5], "NOPE-1"], "rankAfterIssue": top})
    assert r.status_code == 207
    entries = {e["issueKey"]: e for e in r.json()["entries"]}
    assert entries[before[5]]["status"] == 200 and entries["NOPE-1"]["status"] == 404
    assert all_keys(server_sb, jql).index(before[5]) == all_keys(server_sb, jql).index(top) + 1
    too_many = s.put(server_sb.url + "/rest/agile/1.0/issue/rank", json={"issues": before[:51], "rankBeforeIssue": top})
    assert too_many.status_code == 400
    # the LexoRank strings sort like the backlog
    ranks = [i["fields"]["customfield_10019"] for i in s.get(
        server_sb.url + "/rest/api/2/search", params={"jql": jql, "fields": "customfield_10019", "maxResults": 1000}).json()["issues"]]
    assert ranks == sorted(ranks)


def test_backlog_is_rank_ordered_and_not_done(server_sb):
    s = http(server_sb)
    boards = s.get(server_sb.url + "/rest/agile/1.0/board").json()["values"]
    project = boards[0]["location"]["projectKey"]
    backlog = s.get(f"{server_sb.url}/rest/agile/1.0/board/{boards[0]['id']}/backlog", params={"maxResults": 1000}).json()
    keys = [i["key"] for i in backlog["issues"]]
    assert keys == all_keys(server_sb, f'project = "{project}" AND statusCategory != Done ORDER BY Rank ASC')
    assert backlog["total"] == len(keys)
    assert s.get(server_sb.url + "/rest/agile/1.0/board/999/backlog").status_code == 404


def test_fault_rules_fire_once(server_sb):
    s = http(server_sb)
    server_sb.faults([{"path": "/rest/api/2/serverInfo", "status": 503, "retry_after": "2"}])
    try:
        first = requests.get(server_sb.url + "/rest/api/2/serverInfo")
        assert first.status_code == 503 and first.headers["Retry-After"] == "2"
        assert requests.get(server_sb.url + "/rest/api/2/serverInfo").status_code == 200
        assert len(s.get(server_sb.url + "/_sandbox/faults").json()["fired"]) == 1
        assert s.post(server_sb.url + "/_sandbox/faults", json={"rules": [{"path": "/x", "action": "explode"}]}).status_code == 400
    finally:
        server_sb.faults([])


def test_loads_rest_json_dumps(tmp_path):
    issue = {"id": "501", "key": "DUMP-1", "fields": {
        "summary": "from a dump", "project": {"id": "77", "key": "DUMP", "name": "Dump"},
        "issuetype": {"id": "1", "name": "Bug"}, "created": "2021-11-01T10:20:30.000+0000",
        "updated": "2021-11-01T10:20:30.000+0000",
        "status": {"id": "1", "name": "Open", "statusCategory": {"id": 2, "key": "new", "name": "To Do"}}}}
    second = json.loads(json.dumps(issue).replace("DUMP-1", "DUMP-2").replace('"501"', '"502"'))
    (tmp_path / "DUMP-1.json").write_text(json.dumps(issue))
    (tmp_path / "page.json").write_text(json.dumps({"startAt": 0, "total": 1, "issues": [second]}))
    with serve(data=str(tmp_path), seed_issues=0) as sb:
        keys = requests.get(sb.url + "/rest/api/2/search", params={"jql": "project = DUMP ORDER BY key"},
                            auth=sb.auth).json()["issues"]
        assert [i["key"] for i in keys] == ["DUMP-1", "DUMP-2"]


@pytest.mark.slow
def test_service_starts_from_the_registry(run_dir, monkeypatch):
    import labkit.sandbox as sandbox
    from labkit.sandbox.registry import available_services

    monkeypatch.setenv("LABKIT_JIRA_SEED_ISSUES", "30")
    assert "jira" in available_services()
    sandbox.start(["jira"])
    url, secret = sandbox.url("jira"), sandbox.secret("jira")
    r = requests.get(url + "/rest/api/2/search", params={"jql": "ORDER BY key"}, auth=("admin", secret.reveal()))
    assert r.status_code == 200 and r.json()["total"] == 30
    assert requests.get(url + "/rest/api/2/myself", headers={"Authorization": f"Bearer {secret.reveal()}"}).ok
    row = [r for r in sandbox.status() if r.service == "jira"][0]
    assert row.state == "running"
    sandbox.stop(["jira"])
    assert [r for r in sandbox.status() if r.service == "jira"][0].state == "stopped"


def test_module_refuses_to_run_without_a_secret():
    env = {"PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-m", "labkit.jira.sandbox", "--port", "1"], env=env,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and "LABKIT_SANDBOX_SECRET" in out.stderr


def test_changelog_only_when_expanded(server_sb):
    s = http(server_sb)
    keys = all_keys(server_sb, "ORDER BY key ASC")
    with_history = next(k for k in keys if server_sb.app.db(lambda st, k=k: st.get_issue(k)).get("changelog"))
    plain = s.get(f"{server_sb.url}/rest/api/2/issue/{with_history}").json()
    expanded = s.get(f"{server_sb.url}/rest/api/2/issue/{with_history}", params={"expand": "changelog"}).json()
    assert "changelog" not in plain
    assert expanded["changelog"]["total"] == len(expanded["changelog"]["histories"]) > 0
    page = s.get(server_sb.url + "/rest/api/2/search",
                 params={"jql": f"key = {with_history}", "expand": "changelog", "fields": "summary"}).json()
    assert page["issues"][0]["changelog"]["histories"] == expanded["changelog"]["histories"]


FIELD_SHAPES = [None, ["summary", "status", "issuelinks", "customfield_10019", "comment"], ["*all"],
                ["*navigable", "-description", "comment"], ["*all", "-comment"], ["key"]]


@pytest.mark.parametrize("version", ["2", "3"])
def test_first_search_answers_what_a_whole_issue_read_answers(version):
    """A search straight after start (documents decoded only as far as the fields asked for) answers, issue by
    issue, what ``GET issue/{key}`` (each document decoded whole) answers for the same ``fields`` and
    ``expand=changelog``, and the same bytes a repeated search answers; a document imported as text with
    spaces, escapes and a float comes back as Jira sends it (compact, the float as a number)."""
    odd = ('{ "id": "990001", "key": "ODD-1", "fields": {"project": {"key": "ODD", "name": "Odd"},\n'
           '  "summary": "caf\\u00e9 \\"quoted\\" \\/ tab\\t", "customfield_10100": 1.50,\n'
           '  "status": {"name": "Open", "statusCategory": {"key": "new", "name": "To Do"}},\n'
           '  "comment": {"comments": [{"id": "1", "body": "first\\n\\nsecond"}]}, "issuelinks": []}}')
    odd_dicts = [  # canonical documents of odd shapes: a nested "changelog" key, fields after the changelog, ...
        {"id": 990002, "key": "ODD-2", "fields": {"project": {"key": "ODD"}, "summary": "x\u2028\x7f\x01 \U0001f600",
                                                   "customfield_10100": {"a": 1, "changelog": [1e16, -0.0, 2**70]},
                                                   "description": "d", "environment": {"type": "doc", "content": []},
                                                   "status": {"name": "Open"}}},
        {"id": "990003", "key": "ODD-3", "changelog": {"histories": []}, "fields": {"summary": "after", "comment": None}},
        {"id": "990004", "key": "ODD-4", "fields": None},
        {"id": "990005", "key": "ODD-5", "fields": "not an object"}]
    with serve(mode="server", seed_issues=60, seed=5) as sb:
        sb.app.db(lambda s: s.import_issues([odd]))
        sb.app.db(lambda s: s.import_issues(odd_dicts))
        sb.app.invalidate()
        s = http(sb)
        keys = all_keys(sb, "ORDER BY key ASC")
        for spec in FIELD_SHAPES:
            body = {"jql": "ORDER BY key ASC", "maxResults": 1000, "expand": ["changelog"]}
            if spec is not None:
                body["fields"] = spec
            url = f"{sb.url}/rest/api/{version}/search"
            first, again = s.post(url, json=body), s.post(url, json=body)
            assert first.content == again.content
            issues = first.json()["issues"]
            assert [i["key"] for i in issues] == keys
            wanted = ",".join(spec) if spec is not None else "*navigable"
            for issue in issues:
                one = s.get(f"{sb.url}/rest/api/{version}/issue/{issue['key']}",
                            params={"fields": wanted, "expand": "changelog"}).json()
                log, whole = issue.pop("changelog"), one.pop("changelog")  # a search embeds the newest 100 entries
                assert log["total"] == whole["total"] and log["histories"] == whole["histories"][-100:]
                assert issue == one, (spec, issue["key"])
                assert list(issue.get("fields", {})) == list(one.get("fields", {}))  # the same order too
        odd_issue = s.get(f"{sb.url}/rest/api/2/search", params={"jql": "key = ODD-1", "fields": "summary,customfield_10100"})
        assert odd_issue.json()["issues"][0]["fields"] == {"summary": 'café "quoted" / tab\t', "customfield_10100": 1.5}
        assert b'"summary":"caf\xc3\xa9 \\"quoted\\" / tab\\t","customfield_10100":1.5}' in odd_issue.content
