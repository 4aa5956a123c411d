"""Whole changelogs through the sandbox: Jira cuts embedded changelogs at 100 entries, labkit pages in the rest.

The sandbox holds issues with 250 history entries. A search with ``expand=changelog`` embeds only
100 of them (with ``total`` 250), as Jira does; the client pages the rest in (Server/DC:
``GET /issue/{key}/changelog``, falling back to ``GET /issue/{key}?expand=changelog`` where that
endpoint is missing; Cloud: ``POST /rest/api/3/changelog/bulkfetch``), ``jira mirror`` stores them
whole and keeps them whole incrementally, and the store's ``WAS ... DURING`` answers from the
full history, checked against a brute-force reading of the raw history in this file.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
import requests

from labkit.jira.client import JiraClient
from labkit.jira.errors import JqlError
from labkit.jira.sandbox import serve
from labkit.jira.sandbox.histories import DemoWorkflow
from labkit.jira.store import Store
from labkit.jira.store.mirror import mirror
from tests.tracker.oracle import when

pytestmark = [pytest.mark.integration, pytest.mark.slow]

LONG = DemoWorkflow(long_history=0.08, long_entries=(250, 250))
N = 150
JQL = "project = DEMO"


@pytest.fixture(scope="module")
def sandboxes():
    """A Server/DC and a Cloud sandbox whose demo data has issues with 250 history entries."""
    with serve(mode="server", seed_issues=N, seed=12, workflow=LONG) as server, \
            serve(mode="cloud", seed_issues=N, seed=12, workflow=LONG) as cloud:
        yield {"server": server, "cloud": cloud}


@pytest.fixture(params=["server", "cloud"])
def sandbox(request, sandboxes):
    """Each sandbox in turn."""
    return sandboxes[request.param]


def stored(sb, key):
    """The sandbox's own copy of an issue (whole changelog)."""
    return sb.app.db(lambda s: s.get_issue(key))


def long_of(sb):
    """Keys of the issues with 250 history entries (the same in both sandboxes: same seed)."""
    keys = sb.app.db(lambda s: s.search_keys(JQL)[0])
    out = [k for k in keys if len(stored(sb, k)["changelog"]["histories"]) == 250]
    assert len(out) >= 2, "the demo data should hold issues with 250 history entries"
    return out


@pytest.fixture
def long_keys(sandbox):
    return long_of(sandbox)


def client_for(sb):
    return JiraClient(sb.url, sb.auth, progress=False, workers=4)


def raw_search(sb, key):
    """What a search embeds for one issue, asked without labkit's client."""
    if sb.app.mode == "cloud":
        r = requests.post(sb.url + "/rest/api/3/search/jql", json={"jql": f"key = {key}", "fields": ["status"],
                                                                   "expand": "changelog"}, auth=sb.auth, timeout=30)
    else:
        r = requests.post(sb.url + "/rest/api/2/search", json={"jql": f"key = {key}", "fields": ["status"],
                                                               "expand": ["changelog"]}, auth=sb.auth, timeout=30)
    return r.json()["issues"][0]["changelog"]


def test_the_sandbox_cuts_embedded_changelogs_at_100_like_jira(sandbox, long_keys):
    log = raw_search(sandbox, long_keys[0])
    full = stored(sandbox, long_keys[0])["changelog"]["histories"]
    assert (log["total"], len(log["histories"])) == (250, 100)
    assert [h["id"] for h in log["histories"]] == [h["id"] for h in full[-100:]]  # the newest hundred


def test_search_pages_in_whole_changelogs(sandbox, long_keys):
    with client_for(sandbox) as c:
        issues = {i["key"]: i for i in c.search_issues(JQL, ["status"], expand="changelog")}
        cut = {i["key"]: i for i in c.search_issues(JQL, ["status"], expand="changelog", full_changelog=False)}
    for key in long_keys:
        got = issues[key]["changelog"]
        want = stored(sandbox, key)["changelog"]["histories"]
        assert got["total"] == len(got["histories"]) == 250
        assert [h["id"] for h in got["histories"]] == [h["id"] for h in want]
        assert len(cut[key]["changelog"]["histories"]) == 100
    short = next(k for k in issues if k not in long_keys)
    same = [(h["id"], when(h["created"])) for h in stored(sandbox, short)["changelog"]["histories"]]
    assert [(h["id"], when(h["created"])) for h in issues[short]["changelog"]["histories"]] == same  # v3: RFC 3339


def test_server_without_the_changelog_endpoint_reads_the_issue_instead(sandboxes):
    sandbox = sandboxes["server"]
    key = long_of(sandbox)[1]
    sandbox.faults([{"path": f"/rest/api/2/issue/{key}/changelog", "status": 404, "times": 5}])
    try:
        with client_for(sandbox) as c:
            got = c.changelog(key)
        fired = sandbox.app.faults.snapshot()["fired"]
    finally:
        sandbox.faults([])
    assert fired and len(got) == 250
    assert [h["id"] for h in got] == [h["id"] for h in stored(sandbox, key)["changelog"]["histories"]]


def test_cloud_bulk_changelog_fetch_pages_by_token(sandboxes, monkeypatch):
    import labkit.jira.client.rest as rest

    sandbox = sandboxes["cloud"]
    long_keys = long_of(sandbox)
    monkeypatch.setattr(rest, "CHANGELOG_BULK_PAGE", 120)  # 250-entry issues take several pages
    before = sandbox.app.requests
    with client_for(sandbox) as c:
        ids = [stored(sandbox, k)["id"] for k in long_keys]
        got = c.changelogs(ids)
    assert sandbox.app.requests - before >= len(long_keys) * 250 // 120
    for k, i in zip(long_keys, ids, strict=True):
        assert [h["id"] for h in got[i]] == [h["id"] for h in stored(sandbox, k)["changelog"]["histories"]]
    too_many = requests.post(sandbox.url + "/rest/api/3/changelog/bulkfetch", auth=sandbox.auth, timeout=30,
                             json={"issueIdsOrKeys": [str(n) for n in range(1001)]})
    assert too_many.status_code == 400  # "You can request the changelogs of up to 1000 issues"


def stays(issue, status_field="status"):
    """Brute force: the (start, end, status) stays of an issue from its whole raw history."""
    moves = sorted(((when(h["created"]), n, it["fromString"], it["toString"])
                    for n, h in enumerate(issue["changelog"]["histories"]) for it in h["items"]
                    if it["field"] == status_field), key=lambda m: (m[0], m[1]))
    created = when(issue["fields"]["created"])
    if not moves:
        return [(created, None, issue["fields"]["status"]["name"])]
    out, since, held = [], created, moves[0][2]
    for at, _n, _a, b in moves:
        out.append((since, at, held))
        since, held = at, b
    out.append((since, None, held))
    return out


def old_stay(sandbox, long_keys):
    """An In Progress stay of a long issue that ended before the oldest entry a search embeds: only whole
    histories know it."""
    for key in long_keys:
        issue = stored(sandbox, key)
        cut_at = when(issue["changelog"]["histories"][-100]["created"])
        for start, end, status in stays(issue):
            if status == "In Progress" and end is not None and end < cut_at and end - start > timedelta(minutes=30):
                return key, status, start, end
    pytest.fail("no In Progress stay older than the embedded hundred")


def test_mirror_stores_whole_changelogs_and_was_during_answers_from_them(sandbox, long_keys, tmp_path):
    db = tmp_path / "m.sqlite"
    with client_for(sandbox) as c:
        mirror(c, db, JQL, page_size=40)
    key, status, start, end = old_stay(sandbox, long_keys)
    lo, hi = start + timedelta(minutes=5), end - timedelta(minutes=5)
    fmt = "%Y/%m/%d %H:%M"
    jql = f'status WAS "{status}" DURING ("{lo.strftime(fmt)}", "{hi.strftime(fmt)}")'
    every = [stored(sandbox, k) for k in sandbox.app.db(lambda s: s.search_keys(JQL)[0])]
    lo_m, hi_m = lo.replace(second=0), hi.replace(second=0)  # JQL dates have minute precision
    want = {i["key"] for i in every for s, e, st in stays(i)
            if st.lower() == status.lower() and s < hi_m and (e is None or e >= lo_m)}
    with Store(str(db)) as store:
        for k in long_keys:
            assert len(store.get_issue(k)["changelog"]["histories"]) == 250
        got = set(store.search_keys(jql)[0])
    assert key in want and got == want
    # the same store filled from a plain search (embedded, cut) refuses rather than answers wrong
    with client_for(sandbox) as c:
        cut = c.search_issues(JQL, ["*all"], expand="changelog", full_changelog=False)
    with Store() as bare:
        bare.import_issues(cut)
        with pytest.raises(JqlError, match="cut short"):
            bare.search_keys(jql)


def test_mirror_keeps_changelogs_whole_incrementally(sandbox, long_keys, tmp_path):
    db = tmp_path / "inc.sqlite"
    key = long_keys[0]
    with client_for(sandbox) as c:
        mirror(c, db, JQL)
        moves = c.session.get(f"{c.api}/issue/{key}/transitions").json()["transitions"]
        c.session.post(f"{c.api}/issue/{key}/transitions", json={"transition": {"id": moves[0]["id"]}})
        assert len(stored(sandbox, key)["changelog"]["histories"]) == 251  # the sandbox records the transition
        endpoint = "/rest/api/3/changelog/bulkfetch" if sandbox.app.mode == "cloud" else \
            f"/rest/api/2/issue/{key}/changelog"
        sandbox.faults([{"path": endpoint, "status": 400, "times": 50}])  # any paging would fail the run
        try:
            again = mirror(c, db, JQL)
            fired = sandbox.app.faults.snapshot()["fired"]
        finally:
            sandbox.faults([])
    assert again.pulled >= 1 and not fired  # the stored 250 and the newest 100 make 251: nothing to fetch
    with Store(str(db)) as store:
        hist = store.get_issue(key)["changelog"]["histories"]
    assert [h["id"] for h in hist] == [h["id"] for h in stored(sandbox, key)["changelog"]["histories"]]
