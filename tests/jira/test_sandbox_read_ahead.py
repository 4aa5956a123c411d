"""The sandbox's read-ahead: a search page renders the next pages in the background; answers stay what they were.

Checked through HTTP, as clients meet it: a client paging through a search (the labkit client, four pages at
once) gets the same frame as with read-ahead off, every document is read once however the pages and the
read-ahead meet, and a write between two pages shows on the next page (nothing rendered before a write is
served after it).
"""

from __future__ import annotations

import threading

import pytest
import requests

from labkit.jira.client import JiraClient
from labkit.jira.sandbox import app as sandbox_app
from labkit.jira.sandbox.server import serve
from labkit.jira.store import Store

pytestmark = pytest.mark.integration

SEED = 2500
PAGE = 200


@pytest.fixture
def reads(monkeypatch):
    """Count, per key or id, how often the store reads an issue's stored document for an answer."""
    counts: dict[str, int] = {}
    lock = threading.Lock()
    real = Store.stored_issues

    def counted(self, keys_or_ids, **kwargs):
        """The store's own read, counted."""
        got = real(self, keys_or_ids, **kwargs)
        with lock:
            for issue in got if kwargs.get("documents", True) else ():  # ids and keys only: no document read
                counts[issue.key] = counts.get(issue.key, 0) + 1
        return got

    monkeypatch.setattr(Store, "stored_issues", counted)
    return counts


def _frame(sb, mode: str):
    """Search every issue with the labkit client (Server/DC: pages four at a time; Cloud: ids, then bulkfetch)."""
    client = JiraClient(sb.url, sb.auth, progress=False, workers=4, page_size=PAGE)
    return client.search("project is not EMPTY ORDER BY key ASC" if mode == "cloud" else "ORDER BY key ASC")


@pytest.mark.parametrize("mode", ["server", "cloud"])
def test_a_paged_search_gets_the_same_frame_with_each_document_read_once(mode, reads, monkeypatch):
    renders: list[str] = []  # the thread of each render
    real_render = sandbox_app.JiraApp._render

    def render(self, missing, *args, **kwargs):
        """The app's own rendering, noting the thread."""
        renders.append(threading.current_thread().name)
        return real_render(self, missing, *args, **kwargs)

    monkeypatch.setattr(sandbox_app.JiraApp, "_render", render)
    with serve(mode=mode, seed_issues=SEED, seed=4) as sb:
        with_ahead = _frame(sb, mode)
        once = dict(reads)
    assert len(with_ahead) == SEED
    # Whether the read-ahead or a request gets to an issue first depends on the machine's speed (the render thread
    # serves waiting requests first: on a fast machine CI saw the requests take every issue). That the read-ahead
    # renders ahead is shown where the tests wait for it: test_a_write_during_a_read_ahead_is_not_hidden_by_it
    # (Server) and test_cloud_batches_read_ahead_equal_batches_read_when_asked_after_edits (Cloud).
    assert set(renders) == {"jira-render"}  # one thread renders: requests only wait for it
    assert len(once) == SEED and set(once.values()) == {1}  # read-ahead and requests never render an issue twice
    monkeypatch.setattr(sandbox_app, "READ_AHEAD_PAGES", 0)
    with serve(mode=mode, seed_issues=SEED, seed=4) as sb:
        without = _frame(sb, mode)
    assert with_ahead.equals(without)


def test_a_write_during_a_read_ahead_is_not_hidden_by_it(tmp_path, monkeypatch):
    """A read-ahead that read page 2 before a write and renders it after must not serve the old values (a file
    store: reads run beside the writer)."""
    entered, release = threading.Event(), threading.Event()
    real = Store.stored_issues
    hold: dict[str, str] = {}

    def held(self, keys_or_ids, **kwargs):
        """Read, then wait (only for the read of page 2 by the first search's read-ahead)."""
        got = real(self, keys_or_ids, **kwargs)
        if hold and hold["key"] in keys_or_ids and not entered.is_set():
            entered.set()
            assert release.wait(30)
        return got

    monkeypatch.setattr(Store, "stored_issues", held)
    with serve(mode="server", seed_issues=SEED, seed=4, db=str(tmp_path / "jira.sqlite")) as sb:
        s = requests.Session()
        s.auth = sb.auth
        url = sb.url + "/rest/api/2/search"
        keys = [i["key"] for i in s.post(url, json={"jql": "ORDER BY key ASC", "maxResults": 1000,
                                                     "fields": ["key"]}).json()["issues"]]
        key = hold["key"] = keys[PAGE + 5]
        body = {"jql": "ORDER BY key ASC", "startAt": 0, "maxResults": PAGE, "fields": ["summary"]}
        assert s.post(url, json=body).json()["total"] == SEED  # its read-ahead reads page 2, then waits
        assert entered.wait(30)
        r = s.put(f"{sb.url}/rest/api/2/issue/{key}", json={"fields": {"summary": "changed meanwhile"}})
        assert r.status_code == 204
        release.set()
        page = s.post(url, json={**body, "startAt": PAGE}).json()
        assert {i["key"]: i["fields"]["summary"] for i in page["issues"]}[key] == "changed meanwhile"


def test_a_write_between_pages_shows_on_the_next_page():
    with serve(mode="server", seed_issues=SEED, seed=4) as sb:
        s = requests.Session()
        s.auth = sb.auth
        url = sb.url + "/rest/api/2/search"
        keys = [i["key"] for i in s.post(url, json={"jql": "ORDER BY key ASC", "maxResults": 1000,
                                                     "fields": ["key"]}).json()["issues"]]
        for round_ in range(8):
            body = {"jql": "ORDER BY key ASC", "startAt": 0, "maxResults": PAGE, "fields": ["summary"]}
            assert s.post(url, json=body).json()["total"] == SEED  # starts reading pages 2 and 3 ahead
            key = keys[PAGE + round_ * 11]
            r = s.put(f"{sb.url}/rest/api/2/issue/{key}", json={"fields": {"summary": f"changed {round_}"}})
            assert r.status_code == 204
            page = s.post(url, json={**body, "startAt": PAGE}).json()
            summaries = {i["key"]: i["fields"]["summary"] for i in page["issues"]}
            assert summaries[key] == f"changed {round_}"


def _cloud_session(sb):
    """A requests session on a Cloud sandbox, and its issues' ids in search order (one search page of ids)."""
    s = requests.Session()
    s.auth = sb.auth
    page = s.post(sb.url + "/rest/api/3/search/jql", json={"jql": "project is not EMPTY ORDER BY key ASC",
                                                            "fields": ["id"], "maxResults": 5000}).json()
    return s, [i["id"] for i in page["issues"]]


def _bulkfetch(s, sb, ids):
    """One bulkfetch of these ids with a few fields, as the labkit client asks for them."""
    r = s.post(sb.url + "/rest/api/3/issue/bulkfetch", json={"issueIdsOrKeys": ids, "fields": ["summary", "status"]})
    assert r.status_code == 200
    return r.json()["issues"]


def _cloud_batches(ahead: bool, reads: dict[str, int]) -> tuple[list[str], list[list[dict]]]:
    """Page the ids of a Cloud sandbox, then bulkfetch them by 100, with an edit made between the id search and the
    first bulkfetch (ids[150]), then, after a second id search and its first bulkfetch, one made once that
    bulkfetch's next chunk was rendered ahead (ids[505])."""
    with serve(mode="cloud", seed_issues=SEED, seed=4) as sb:
        s, ids = _cloud_session(sb)
        url = f"{sb.url}/rest/api/3/issue/"
        assert s.put(url + ids[150], json={"fields": {"summary": "edited after the id search"}}).status_code == 204
        batches = [_bulkfetch(s, sb, ids[:100])]  # a write forgets the pages of ids: no read-ahead here
        s, again = _cloud_session(sb)
        assert again == ids
        batches.append(_bulkfetch(s, sb, ids[100:200]))
        if ahead:  # the rest of the first chunk of ids is rendered ahead: wait for it
            for _ in range(400):
                if len(reads) >= sandbox_app.READ_AHEAD_CHUNK:
                    break
                threading.Event().wait(0.05)
            else:
                pytest.fail("the chunk after the first batch was not rendered ahead")
        assert s.put(url + ids[505], json={"fields": {"summary": "edited after the read-ahead"}}).status_code == 204
        batches += [_bulkfetch(s, sb, ids[at:at + 100]) for at in range(200, len(ids), 100)]
    for issue in (i for b in batches for i in b):
        issue["self"] = issue["self"].removeprefix(sb.url)  # each sandbox has its own port
    return ids, batches


def test_cloud_batches_read_ahead_equal_batches_read_when_asked_after_edits(reads, monkeypatch):
    """Cloud: a bulkfetch renders the next chunk of its page of ids ahead; the batches show an edit made between the
    id search and the first bulkfetch and one made after the read-ahead, and equal the answers with read-ahead off."""
    ids, with_ahead = _cloud_batches(True, reads)
    assert len(reads) > 200  # issues beyond the batches asked for were read ahead
    got = {i["id"]: i["fields"]["summary"] for b in with_ahead for i in b}
    assert got[ids[150]] == "edited after the id search"
    assert got[ids[505]] == "edited after the read-ahead"
    assert [i["id"] for b in with_ahead for i in b] == ids
    monkeypatch.setattr(sandbox_app, "READ_AHEAD_PAGES", 0)
    ids_off, without = _cloud_batches(False, reads)
    assert ids_off == ids and with_ahead == without
