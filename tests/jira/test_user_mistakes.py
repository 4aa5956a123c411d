"""User mistakes around the Jira client, store and mirror: one clear JiraError, and nothing left behind."""

from __future__ import annotations

import socket

import pytest

from labkit.errors import LabkitError
from labkit.jira.client import JiraClient
from labkit.jira.errors import JiraError
from labkit.jira.store import Store
from labkit.jira.store.mirror import mirror, state_path

pytestmark = pytest.mark.unit


def closed_port() -> int:
    """Return a loopback port that nothing listens on (bound once, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("url", ["not a url", "ftp://jira.example.com", "https://", ""])
def test_a_url_that_is_no_http_url_is_refused(url):
    """A profile URL without http(s) scheme and host is a JiraError, not a requests traceback."""
    with pytest.raises(JiraError, match="is not a Jira URL"):
        JiraClient(url, ("admin", "pw"))


def test_a_negative_search_limit_is_refused_before_any_request():
    """A negative limit is refused (it used to cut the result from the end, silently)."""
    client = JiraClient(f"http://127.0.0.1:{closed_port()}", ("admin", "pw"))
    with pytest.raises(JiraError, match="the search limit -3 is negative"):
        client.search_issues("project = DEMO", limit=-3)


def test_a_store_path_that_is_no_database_is_a_clear_error(tmp_path):
    """Opening a store on a non-database file, a missing folder or a folder is a JiraError; the file is untouched."""
    (tmp_path / "notes.txt").write_text("not a database, keep me\n" * 200)
    with pytest.raises(JiraError, match="cannot open .*notes.txt as a labkit store"):
        Store(tmp_path / "notes.txt")
    assert (tmp_path / "notes.txt").read_text().startswith("not a database, keep me")
    with pytest.raises(JiraError, match="cannot open .* as a labkit store"):
        Store(tmp_path / "no" / "dir" / "x.sqlite")
    with pytest.raises(JiraError, match="cannot open .* as a labkit store"):
        Store(tmp_path)


def test_mirror_refuses_a_bad_page_size_and_a_foreign_state_file(tmp_path):
    """A page size below 1, a JQL with ORDER BY and a sync state that is not an object are refused before any call."""
    client = JiraClient(f"http://127.0.0.1:{closed_port()}", ("admin", "pw"))
    db = tmp_path / "m.sqlite"
    with pytest.raises(JiraError, match="the page size 0 is less than 1"):
        mirror(client, db, page_size=0)
    with pytest.raises(JiraError, match="has an ORDER BY"):
        mirror(client, db, 'project = DEMO AND summary ~ "order by" ORDER BY key')
    state_path(db).write_text("[]")
    with pytest.raises(JiraError, match="is not a mirror's sync state"):
        mirror(client, db)
    assert not db.exists()


def test_a_mirror_that_reaches_no_server_leaves_no_empty_store(tmp_path):
    """A first mirror run that pulls nothing (server down) removes the store file it created."""
    client = JiraClient(f"http://127.0.0.1:{closed_port()}", ("admin", "pw"), sleep=lambda s: None)
    db = tmp_path / "m.sqlite"
    with pytest.raises(LabkitError, match="could not connect"):
        mirror(client, db)
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_importing_what_is_not_issue_json_is_refused_whole():
    """A batch with one bad item (no key, not JSON, not a dict) is a JiraError and imports nothing of it."""
    store = Store()
    store.import_issues([{"id": "1", "key": "A-1", "fields": {"summary": "kept"}}])
    for bad, message in [
        ([{"id": "2", "key": "A-2", "fields": {}}, {"summary": "no key"}], "has no id or key"),
        ([{"id": "2", "key": "A-2", "fields": {}}, 7], "has no id or key"),
        (['{"id": "2", "key": "A-2", "fields": {}}', "{not json"], "is not JSON"),
        ('{"id": "2", "key": "A-2", "fields": {}}', "takes many issues, not one str"),
        ({"id": "2", "key": "A-2", "fields": {}}, "takes many issues, not one dict"),
    ]:
        with pytest.raises(JiraError, match=message):
            store.import_issues(bad)
        assert store.search_keys("ORDER BY key ASC")[0] == ["A-1"]
