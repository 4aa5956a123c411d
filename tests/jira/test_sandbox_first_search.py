"""The sandbox's first search (stored JSON passed on as it is) answers what a whole decode of each issue answers.

The first search of a page reads each document only as far as the answer needs and splices the stored
JSON of canonical documents (imported as dicts) into the answer. Checked here on real issues against
two oracles: the old path (each document decoded whole, then rendered and encoded) byte for byte, and
the archive's own JSON read by this test with ``json.loads`` (values and field order).
"""

from __future__ import annotations

import base64
import gzip
import json
import sqlite3

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from msgspec.json import Encoder
from werkzeug.test import Client

from labkit.jira.model import RANK_FIELD
from labkit.jira.sandbox.app import JiraApp
from labkit.jira.store import Store
from labkit.jira.store.decode import encode, loads

from .test_store_helpers import APPC

pytestmark = pytest.mark.integration

SECRET = "first-search"
AUTH = {"Authorization": "Basic " + base64.b64encode(f"admin:{SECRET}".encode()).decode()}
DICT_FILES = ("ALOY.jsonl.gz", "MOD.jsonl.gz", "DAEMON.jsonl.gz")  # imported as dicts: canonical documents
TEXT_FILE = "AC.jsonl.gz"  # its first lines imported as JSON text (every other one pretty-printed, ASCII-escaped)
TEXT_LINES = 400
SEARCH_FIELDS = ["summary", "status", "issuetype", "priority", "assignee", "reporter", "created", "updated",
                 "resolutiondate", "labels", "components", "issuelinks", RANK_FIELD]
SHAPES = [SEARCH_FIELDS, None, ["*all"], ["*all", "-comment", "-description"], ["description", "comment", "environment"],
          ["key"], ["id"]]
# Jira "Search for issues using JQL": fields "*navigable" is the default of the classic search; "comment" is not
# navigable. A field the request names is returned in the issue's own field order.


def _lines(name: str) -> list[str]:
    """The JSON lines of one archive file."""
    with gzip.open(APPC / name, "rt", encoding="utf-8") as fh:
        return [line for line in fh if line.strip()]


@pytest.fixture(scope="module")
def real():
    """A sandbox app over real issues: three projects imported as dicts, some AC issues as JSON text."""
    if not all((APPC / f).exists() for f in (*DICT_FILES, TEXT_FILE)):
        pytest.skip(f"the Appcelerator archive is absent ({APPC})")
    dumps = {}
    dict_issues = []
    for name in DICT_FILES:
        for line in _lines(name):
            issue = json.loads(line)
            dict_issues.append(issue)
            dumps[issue["key"]] = issue
    text_lines = _lines(TEXT_FILE)[:TEXT_LINES]
    for k, line in enumerate(text_lines):
        issue = json.loads(line)
        dumps[issue["key"]] = issue
        if k % 2:  # as a pretty-printed export has it: spaces, newlines, \u escapes
            text_lines[k] = json.dumps(issue, indent=1)

    def make():
        store = Store()
        store.import_issues(dict_issues)
        store.import_issues(text_lines)
        return store

    app = JiraApp(make, secret=SECRET, mode="server")
    try:
        yield app, dumps
    finally:
        app.db.close()


def _whole(app: JiraApp, keys: list[str], version: str, spec, default: str, expand) -> list[bytes]:
    """The old path: each document decoded whole (``Store.get_issues``), rendered, encoded."""
    enc = Encoder()
    issues = app.db(lambda s: s.get_issues(keys))
    return [enc.encode(app.issue_json(i, version, "http://localhost", spec, default, expand, 100)) for i in issues]


def _pages(client: Client, version: str, total: int, spec, expand) -> list[bytes]:
    """Every page (1000 issues) of a classic search in key order, as answered."""
    out = []
    for start in range(0, total, 1000):
        body = {"jql": "ORDER BY key ASC", "startAt": start, "maxResults": 1000}
        if spec is not None:
            body["fields"] = spec
        if expand:
            body["expand"] = expand
        r = client.post(f"/rest/api/{version}/search", json=body, headers=AUTH)
        assert r.status_code == 200, r.data[:300]
        out.append(r.data)
    return out


@pytest.mark.slow
@pytest.mark.parametrize("version", ["2", "3"])
def test_first_search_equals_a_whole_decode_on_real_issues(real, version):
    app, dumps = real
    client = Client(app)
    keys = app.db(lambda s: s.search_keys("ORDER BY key ASC")[0])
    canonical = dict(app.db(lambda s: s.db.execute(
        "SELECT i.key, d.canonical FROM issue i JOIN issue_doc d ON d.rid = i.rid").fetchall()))
    assert sum(canonical.values()) == len(keys) - TEXT_LINES > 1000  # both paths are exercised
    for spec in SHAPES:
        for expand in (None, ["changelog"]):
            app.invalidate()
            first = _pages(client, version, len(keys), spec, expand)
            for start, data in zip(range(0, len(keys), 1000), first, strict=True):
                page_keys = [i["key"] for i in json.loads(data)["issues"]]
                old = _whole(app, page_keys, version, spec, "*navigable", ",".join(expand) if expand else None)
                issues_bytes = data[data.index(b'"issues":[') + len(b'"issues":['):-2]
                assert issues_bytes == b",".join(old), (spec, expand, start)  # byte for byte
            again = _pages(client, version, len(keys), spec, expand)
            assert first == again  # a repeated search (cached) answers the same bytes


def _expected_order(dump_fields: dict, wanted) -> list[str]:
    """Field names a read answers, in order: the issue's own, then rank, comment, issuelinks when it lacks them."""
    names = list(dump_fields) + [n for n in (RANK_FIELD, "comment", "issuelinks") if n not in dump_fields]
    return [n for n in names if wanted(n)]


@pytest.mark.slow
def test_first_search_values_are_the_archive_values(real):
    """Independent of labkit's rendering: every value of the answer is the archive's value, in its order."""
    app, dumps = real
    app.invalidate()
    client = Client(app)
    ranks = dict(app.db(lambda s: s.db.execute("SELECT key, rank FROM issue").fetchall()))
    seen = 0
    for data in _pages(client, "2", len(dumps), ["*all"], None):
        for issue in json.loads(data)["issues"]:
            dump = dumps[issue["key"]]
            assert issue["id"] == str(dump["id"])
            assert issue["self"].endswith(f"/rest/api/2/issue/{dump['id']}")
            f = issue["fields"]
            assert list(f) == _expected_order(dump["fields"], lambda n: True), issue["key"]
            for name, value in f.items():
                if name == RANK_FIELD:
                    assert value == ranks[issue["key"]]
                elif name == "comment":
                    cm = (dump["fields"].get("comment") or {}).get("comments") or []
                    assert value == {"comments": cm, "maxResults": len(cm), "total": len(cm), "startAt": 0}
                elif name == "issuelinks":  # the store's links: every one the issue lists (and any its other end lists)
                    assert {lk["id"] for lk in value} >= {lk["id"] for lk in dump["fields"].get("issuelinks") or []}
                else:
                    assert value == dump["fields"][name], (issue["key"], name)
            seen += 1
    assert seen == len(dumps)


def test_store_records_which_documents_are_canonical(tmp_path):
    """A dict is stored as labkit encodes it (canonical), JSON text as given (not known); an older store's
    documents, made before the column existed, read as not known and still answer the same."""
    path = tmp_path / "old.sqlite"
    with Store(path) as store:
        store.import_issues([{"id": "1", "key": "A-1", "fields": {"summary": "caf\u00e9 \"q\" \t", "x": 1e16}},
                             '{"id": "2", "key": "A-2", "fields": {"summary": "two", "x": 1.50}}'])
        flags = dict(store.db.execute("SELECT i.key, d.canonical FROM issue i JOIN issue_doc d ON d.rid = i.rid"))
        assert flags == {"A-1": 1, "A-2": 0}
        before = store.get_issues(["A-1", "A-2"])
    db = sqlite3.connect(path)  # the layout of a store made before: no canonical column
    db.executescript("ALTER TABLE issue_doc DROP COLUMN canonical;")
    db.close()
    with Store(path) as store:
        assert dict(store.db.execute("SELECT rid, canonical FROM issue_doc")) == {1: 0, 2: 0}
        assert store.get_issues(["A-1", "A-2"]) == before
        stored = store.stored_issues(["A-2", "A-1"], links=True)
        assert [s.key for s in stored] == ["A-2", "A-1"] and not any(s.canonical for s in stored)
        assert bytes(stored[0].fields["x"]) == b"1.50"  # as stored: a reader of a non-canonical one decodes it


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4), max_leaves=20)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.text(), JSON_VALUES, max_size=6))
def test_a_dict_is_stored_canonical(fields):
    """What the store keeps of a dict is canonical: decoding its text and encoding again gives the same text,
    so each value's stored bytes are the bytes of the value decoded (NaN and infinities become null once)."""
    text = encode({"id": "1", "key": "A-1", "fields": fields})
    assert encode(loads(text)) == text
