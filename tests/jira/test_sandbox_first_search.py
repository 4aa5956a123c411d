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

from labkit.jira.errors import JqlError
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
def archive():
    """Real issues: three projects to import as dicts, some AC issues as JSON text; and each one as json.loads reads it."""
    if not all((APPC / f).exists() for f in (*DICT_FILES, TEXT_FILE)):
        pytest.skip(f"the Appcelerator archive is absent ({APPC})")
    dumps = {}
    dict_lines = []
    for name in DICT_FILES:
        for line in _lines(name):
            dict_lines.append(line)
            dumps[json.loads(line)["key"]] = json.loads(line)
    text_lines = _lines(TEXT_FILE)[:TEXT_LINES]
    for k, line in enumerate(text_lines):
        issue = json.loads(line)
        dumps[issue["key"]] = issue
        if k % 2:  # as a pretty-printed export has it: spaces, newlines, \u escapes
            text_lines[k] = json.dumps(issue, indent=1)
    return dict_lines, text_lines, dumps


def _real_app(archive, mode: str = "server") -> JiraApp:
    """A sandbox app (Server/DC or Cloud) over the real issues: dicts stored canonical, JSON text as given."""
    dict_lines, text_lines, _ = archive

    def make():
        store = Store()
        store.import_issues([json.loads(line) for line in dict_lines])
        store.import_issues(text_lines)
        return store

    return JiraApp(make, secret=SECRET, mode=mode)


@pytest.fixture(scope="module")
def real(archive):
    """A Server/DC sandbox app over the real issues, and the archive's issues by key."""
    app = _real_app(archive)
    try:
        yield app, archive[2]
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
@pytest.mark.parametrize(("version", "spec"), [("2", ["*all"]), ("2", SEARCH_FIELDS), ("3", SEARCH_FIELDS)])
def test_first_search_values_are_the_archive_values(real, version, spec):
    """Independent of labkit's rendering: every value of the answer is the archive's value, in its order (all fields:
    the dict path; the client's fields: the plain selection of canonical documents, built as structs)."""
    app, dumps = real
    app.invalidate()
    client = Client(app)
    ranks = dict(app.db(lambda s: s.db.execute("SELECT key, rank FROM issue").fetchall()))
    wanted = (lambda n: True) if spec == ["*all"] else (lambda n: n in spec)
    seen = 0
    for data in _pages(client, version, len(dumps), spec, None):
        for issue in json.loads(data)["issues"]:
            dump = dumps[issue["key"]]
            assert issue["id"] == str(dump["id"])
            assert issue["self"].endswith(f"/rest/api/{version}/issue/{dump['id']}")
            f = issue["fields"]
            assert list(f) == _expected_order(dump["fields"], wanted), issue["key"]
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


@pytest.mark.parametrize("version", ["2", "3"])
def test_first_search_changelogs_are_the_generated_changelogs(version):
    """With expand=changelog each issue embeds its newest 100 entries and their count (Jira "Search for issues using
    JQL": search results embed at most 100 changelog entries), whether the changelog is kept beside the document
    (imported as a dict) or inside it (imported as JSON text); checked against the generated issues read with
    json.loads (the real archive has no changelogs), and byte for byte against the whole-decode path."""
    from labkit.jira.sandbox.demo import generate

    lines = [json.dumps(i) for i in generate(600, seed=3)]
    dumps = {json.loads(line)["key"]: json.loads(line) for line in lines}
    assert sum(len(d["changelog"]["histories"]) > 100 for d in dumps.values()) > 0  # some are cut to 100

    def make():
        store = Store()
        store.import_issues([json.loads(line) for line in lines[::2]])  # dicts: changelog kept apart
        store.import_issues(lines[1::2])  # JSON text: changelog inside the document
        return store

    app = JiraApp(make, secret=SECRET, mode="server")
    try:
        apart = dict(app.db(lambda s: s.db.execute(
            "SELECT i.key, d.changelog IS NOT NULL FROM issue i JOIN issue_doc d ON d.rid = i.rid").fetchall()))
        assert sum(apart.values()) == 300  # both layouts are read
        client = Client(app)
        seen = 0
        for data in _pages(client, version, len(dumps), ["summary"], ["changelog"]):
            page = json.loads(data)["issues"]
            old = _whole(app, [i["key"] for i in page], version, ["summary"], "*navigable", "changelog")
            assert data[data.index(b'"issues":[') + len(b'"issues":['):-2] == b",".join(old)
            for issue in page:
                hist = dumps[issue["key"]]["changelog"]["histories"]
                got = issue["changelog"]
                if version == "3":  # RFC 3339 offsets, as the v3 spec declares dates
                    hist = [{**h, "created": h["created"][:-2] + ":" + h["created"][-2:]} for h in hist]
                assert got["total"] == len(hist) and got["histories"] == hist[-100:], issue["key"]
                seen += 1
        assert seen == len(dumps)
    finally:
        app.db.close()


def _history_issues() -> list[dict]:
    """Three issues with changelogs (one null), as Jira's REST gives them with expand=changelog."""
    def entry(n: int, when: str, old: str, new: str) -> dict:
        """One status change."""
        return {"id": str(n), "author": {"name": "ann"}, "created": when,
                "items": [{"field": "status", "fieldtype": "jira", "fromString": old, "toString": new}]}
    return [
        {"id": "11", "key": "H-1", "fields": {"summary": "one", "status": {"name": "Done"},
                                             "created": "2024-01-01T00:00:00.000+0000"},
         "changelog": {"startAt": 0, "maxResults": 2, "total": 2, "histories": [
             entry(1, "2024-01-02T00:00:00.000+0000", "Open", "In Progress"),
             entry(2, "2024-01-03T00:00:00.000+0000", "In Progress", "Done")]}},
        {"changelog": {"startAt": 0, "maxResults": 0, "total": 0, "histories": []}, "id": "12", "key": "H-2",
         "fields": {"summary": "two", "status": {"name": "Open"}, "created": "2024-01-01T00:00:00.000+0000"}},
        {"id": "13", "key": "H-3", "fields": {"summary": "three", "status": {"name": "Open"},
                                             "created": "2024-01-01T00:00:00.000+0000"}, "changelog": None},
    ]


def test_a_dicts_changelog_is_kept_apart_and_read_back_whole(tmp_path):
    """A dict's changelog is stored beside its document (a search page never reads it); every reader gives the issue
    as imported, the same as a store whose documents hold their changelog (JSON text, or a store made before)."""
    issues = _history_issues()
    lines = [json.dumps(i) for i in issues]
    with Store(tmp_path / "apart.sqlite") as apart, Store(tmp_path / "inside.sqlite") as inside:
        apart.import_issues([json.loads(line) for line in lines])
        inside.import_issues(lines)
        stored = dict(apart.db.execute("SELECT i.key, d.changelog FROM issue i JOIN issue_doc d ON d.rid = i.rid"))
        assert json.loads(stored["H-1"]) == issues[0]["changelog"] and stored["H-3"] is None  # null stays in the doc
        docs = dict(apart.db.execute("SELECT i.key, d.doc FROM issue i JOIN issue_doc d ON d.rid = i.rid"))
        assert "changelog" not in json.loads(docs["H-1"]) and json.loads(docs["H-3"])["changelog"] is None
        assert inside.db.execute("SELECT COUNT(*) FROM issue_doc WHERE changelog IS NOT NULL").fetchone()[0] == 0
        for store in (apart, inside):
            got = {i["key"]: i for i in store.get_issues(["H-1", "H-2", "H-3"])}
            for want in issues:
                assert got[want["key"]]["changelog"] == want["changelog"]
                assert got[want["key"]]["fields"]["summary"] == want["fields"]["summary"]
            logs = {s.key: s.changelog for s in store.stored_issues(["H-1", "H-2", "H-3"])}
            assert {k: loads(bytes(v)) if v is not None else None for k, v in logs.items()} == {
                i["key"]: i["changelog"] for i in issues}
            assert all(s.changelog is None for s in store.stored_issues(["H-1", "H-2"], changelog=False))
        # Jira "JQL operators", WAS / CHANGED: answered from the histories, the same for both layouts
        for jql in ("status WAS 'In Progress'", "status CHANGED", "status CHANGED FROM 'Open' TO 'In Progress'",
                    "status WAS NOT 'Done'"):
            for store in (apart, inside):
                with pytest.raises(JqlError, match="no changelog"):  # H-3 has none: such a query is refused
                    store.search_keys(jql)
        apart.db.execute("DELETE FROM issue_doc WHERE rid = (SELECT rid FROM issue WHERE key = 'H-3')")
        inside.db.execute("DELETE FROM issue_doc WHERE rid = (SELECT rid FROM issue WHERE key = 'H-3')")
        for jql, want in (("status WAS 'In Progress'", ["H-1"]), ("status CHANGED", ["H-1"]),
                          ("status WAS 'Open' ORDER BY key", ["H-1", "H-2"])):
            assert apart.search_keys(jql)[0] == inside.search_keys(jql)[0] == want, jql
    old = tmp_path / "old.sqlite"  # a store made before: a dict's document kept its changelog inside
    with Store(old) as store:
        store.import_issues([issues[0]])
        store.db.execute("UPDATE issue_doc SET doc = ?, changelog = NULL", (encode(issues[0]),))
        store.db.commit()
    with Store(old) as store:
        assert store.get_issue("H-1")["changelog"] == issues[0]["changelog"]
        assert loads(bytes(store.stored_issues(["H-1"])[0].changelog)) == issues[0]["changelog"]
        assert store.search_keys("status WAS 'In Progress'")[0] == ["H-1"]


# The plain selection (a canonical document whose selected fields no REST version rewrites) is built as a struct of
# its field order and encoded in C; everything else goes through dicts. Both are checked against the whole decode.
CLOUD_JQL = "project is not EMPTY ORDER BY key ASC"  # Cloud refuses an unbounded JQL
SNAPSHOT = ("summary", "status", "priority", "issuetype")  # Jira embeds these fields of a link's other issue


def _answered(client: Client, mode: str, version: str, spec) -> list[tuple[list[str], bytes]]:
    """A first search as each mode's client makes it: (the keys or ids asked, the issues' bytes answered) per request.

    Server/DC: pages of 1000 by startAt. Cloud ("Search for issues using JQL enhanced search"): the ids by token
    paging, then their details by ``issue/bulkfetch`` in batches of 100 (every third batch asked by key, in lower
    case: Jira matches an issue key in any case).
    """
    out = []
    if mode == "server":
        total = client.post(f"/rest/api/{version}/search", json={"jql": "ORDER BY key ASC", "maxResults": 0},
                            headers=AUTH).json["total"]
        for data in _pages(client, version, total, spec, None):
            keys = [i["key"] for i in json.loads(data)["issues"]]
            out.append((keys, data[data.index(b'"issues":[') + len(b'"issues":['):-2]))
        return out
    issues, token = [], None
    while True:
        body = {"jql": CLOUD_JQL, "fields": ["id"], "maxResults": 5000, **({"nextPageToken": token} if token else {})}
        page = client.post(f"/rest/api/{version}/search/jql", json=body, headers=AUTH).json
        issues += [(i["id"], i["key"]) for i in page["issues"]]
        token = page.get("nextPageToken")
        if not token:
            break
    for n, start in enumerate(range(0, len(issues), 100)):
        batch = [key.lower() if n % 3 == 2 else id_ for id_, key in issues[start:start + 100]]
        r = client.post(f"/rest/api/{version}/issue/bulkfetch",
                        json={"issueIdsOrKeys": batch, **({"fields": spec} if spec is not None else {})}, headers=AUTH)
        assert r.status_code == 200 and r.json["issueErrors"] == [], r.data[:300]
        out.append((batch, r.data[r.data.index(b'"issues":[') + len(b'"issues":['):r.data.index(b'],"issueErrors"')]))
    return out


def _mismatches(app: JiraApp, mode: str, version: str, spec) -> list[str]:
    """The issues whose first-search bytes differ from the whole-decode path's (each document decoded whole)."""
    app.invalidate()
    client = Client(app)
    bad = []
    for asked, data in _answered(client, mode, version, spec):
        old = _whole(app, asked, version, spec, "*navigable", None)
        if data != b",".join(old):  # which ones (an order of members alone shows as the page's first issue)
            olds = [json.loads(o) for o in old]
            bad += [n["key"] for n, o in zip(json.loads(b"[" + data + b"]"), olds, strict=False) if n != o] or asked[:1]
    return bad


def _edit_and_rank(app: JiraApp, dumps: dict, version: str) -> tuple[str, str, list[str], str]:
    """Through the REST API: give a linked canonical issue a new summary, and rank three issues before another.

    Returns the edited key, its new summary, the moved keys and the anchor.
    """
    client = Client(app)
    edited = next(k for k, d in dumps.items() if k.split("-")[0] in ("ALOY", "MOD", "DAEMON")
                  and any((lk.get("outwardIssue") or lk.get("inwardIssue") or {}).get("key") in dumps
                          for lk in d["fields"].get("issuelinks") or []))
    summary = "Edited: caf\u00e9 \"quoted\" \\ and a tab\t"
    r = client.put(f"/rest/api/{version}/issue/{edited}", json={"fields": {"summary": summary}}, headers=AUTH)
    assert r.status_code == 204, r.data
    keys = sorted(dumps)
    moved, anchor = [keys[-1], keys[len(keys) // 2], keys[5]], keys[0]
    r = client.put("/rest/agile/1.0/issue/rank", json={"issues": moved, "rankBeforeIssue": anchor}, headers=AUTH)
    assert r.status_code == 204, r.data
    return edited, summary, moved, anchor


@pytest.fixture
def spy_selection(monkeypatch):
    """Count the selections wire_fields makes as structs (the plain selection) and as dicts."""
    from labkit.jira.sandbox import app as app_module

    made = {"struct": 0, "dict": 0}
    real_wire = app_module.wire_fields

    def counted(issues, rule, version):
        """The real selection, counted by kind."""
        out = real_wire(issues, rule, version)
        for sel in out:
            made["dict" if isinstance(sel, dict) else "struct"] += 1
        return out

    monkeypatch.setattr(app_module, "wire_fields", counted)
    return made


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["server", "cloud"])
@pytest.mark.parametrize("version", ["2", "3"])
def test_plain_selection_equals_the_whole_decode_after_an_edit_and_a_rank(archive, mode, version, spy_selection):
    """Byte for byte against the whole-decode path, after a write that changes a linked issue's summary and a rank
    change (Jira Agile "Rank issues": the issues move before rankBeforeIssue), by key and by id, Server/DC pages and
    Cloud bulkfetch batches, v2 and v3; and checked without labkit's rendering: the new summary and ranks show, also
    on the other end of every link to the edited issue (Jira embeds summary, status, priority and issue type there)."""
    dumps = archive[2]
    app = _real_app(archive, mode)
    try:
        edited, summary, moved, anchor = _edit_and_rank(app, dumps, version)
        for spec in (SEARCH_FIELDS, None):
            assert _mismatches(app, mode, version, spec) == [], spec
        assert spy_selection["struct"] > 1000 and spy_selection["dict"] > 0  # both ways were taken
        ranks = dict(app.db(lambda s: s.db.execute("SELECT key, rank FROM issue").fetchall()))
        assert [k for k in sorted(ranks, key=ranks.get) if k in (*moved, anchor)] == [*moved, anchor]
        app.invalidate()
        seen_ends = 0
        for _asked, data in _answered(Client(app), mode, version, SEARCH_FIELDS):
            for issue in json.loads(b"[" + data + b"]"):
                f = issue["fields"]
                assert f[RANK_FIELD] == ranks[issue["key"]]
                if issue["key"] == edited:
                    assert f["summary"] == summary
                for lk in f["issuelinks"]:
                    end = lk.get("outwardIssue") or lk["inwardIssue"]
                    if end["key"] == edited:
                        assert end["fields"]["summary"] == summary
                        seen_ends += 1
                    elif end["key"] in dumps:  # the archive's own values of the other issue
                        other = dumps[end["key"]]["fields"]
                        assert end["fields"] == {k: other[k] for k in SNAPSHOT if k in other}, end["key"]
        assert seen_ends > 0
    finally:
        app.db.close()


@pytest.mark.slow
@pytest.mark.parametrize("wrong", ["a field dropped", "a stale rank", "a stale link end"])
def test_a_wrong_fast_path_is_caught(archive, wrong, monkeypatch):
    """The comparison above would catch a plain selection that loses a field, or that serves a rank or a linked
    issue's fields from before a write."""
    from labkit.jira.sandbox import fields as fields_module

    dumps = archive[2]
    app = _real_app(archive)
    try:
        old_ranks = dict(app.db(lambda s: s.db.execute("SELECT key, rank FROM issue").fetchall()))
        old_links = {i["key"]: i["fields"]["issuelinks"] for i in app.db(lambda s: s.get_issues(sorted(dumps)))}
        edited, _summary, moved, _anchor = _edit_and_rank(app, dumps, "2")
        monkeypatch.setattr(fields_module, "_STRUCTS", {})
        if wrong == "a field dropped":
            class Dropping(fields_module._Selection):
                """A plain selection without its last field."""

                def __init__(self, names, rewritten):
                    plain = not rewritten.intersection(names)
                    super().__init__(names[:-1] if plain and len(names) > 1 else names, rewritten)
            monkeypatch.setattr(fields_module, "_Selection", Dropping)
        else:
            real = Store.stored_issues

            def stale(self, keys_or_ids, **kwargs):
                """The store's read with the rank, or the links' other ends, as they were before the writes."""
                got = real(self, keys_or_ids, **kwargs)
                if wrong == "a stale rank":
                    return [i._replace(rank=old_ranks[i.key]) for i in got]
                return [i._replace(links=old_links[i.key]) if i.links is not None else i for i in got]
            monkeypatch.setattr(Store, "stored_issues", stale)
        bad = _mismatches(app, "server", "2", SEARCH_FIELDS)
        assert bad, wrong
        if wrong == "a stale rank":
            assert set(moved) <= set(bad)
        elif wrong == "a stale link end":
            assert any(any((lk.get("outwardIssue") or lk["inwardIssue"])["key"] == edited
                           for lk in old_links[k]) for k in bad)
    finally:
        app.db.close()
