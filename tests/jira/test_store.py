"""The local store: import, REST shapes, JQL fields, ORDER BY, links, comments, rank, create and update."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime

import pytest

from labkit.jira.errors import JiraError, JqlError, JqlSyntaxError
from labkit.jira.model import SEARCH_COLUMNS
from labkit.jira.sandbox.demo import generate
from labkit.jira.store import Store
from labkit.jira.store.decode import changelog_sql, stored_issue, stored_log, stored_parts
from labkit.jira.store.rank import between

from .test_store_helpers import issue

pytestmark = pytest.mark.unit


@pytest.fixture()
def store():
    """A small store with known issues, links and a fixed 'now' for date clauses."""
    s = Store()
    s.now = datetime(2021, 3, 10, 12, 0, 0)
    s.import_issues([
        issue("A-1", "first", labels=["x", "y"], components=[{"id": "1", "name": "api"}],
              assignee={"name": "alice", "displayName": "Alice A"}, priority={"id": "2", "name": "High"}),
        issue("A-2", "second", status="Closed", category="done", resolution={"id": "1", "name": "Fixed"},
              resolutiondate="2021-03-09T10:00:00.000+0000", fixVersions=[{"name": "1.0"}]),
        issue("A-10", "tenth", assignee={"name": "bob", "displayName": "Bob"}, priority={"id": "4", "name": "Low"}),
        issue("B-1", "other project", labels=["y"]),
    ])
    yield s
    s.close()


def keys(s, q):
    """The keys a store finds for a JQL."""
    return s.search_keys(q)[0]


def test_field_clauses(store):
    assert keys(store, "project = A ORDER BY key") == ["A-1", "A-2", "A-10"]
    assert keys(store, "project = b") == ["B-1"]
    assert keys(store, "status = Closed") == ["A-2"]
    assert keys(store, "statusCategory = Done") == ["A-2"]
    assert sorted(keys(store, 'statusCategory in ("To Do")')) == ["A-1", "A-10", "B-1"]
    assert sorted(keys(store, "resolution = Unresolved")) == ["A-1", "A-10", "B-1"]
    assert keys(store, "resolution is not EMPTY") == ["A-2"]
    assert keys(store, "labels = x") == ["A-1"]
    assert sorted(keys(store, "labels in (y)")) == ["A-1", "B-1"]
    assert keys(store, "labels != x") == ["B-1"]  # issues without labels are not "!= x", as in Jira
    assert sorted(keys(store, "labels is EMPTY")) == ["A-10", "A-2"]
    assert keys(store, "component = api") == ["A-1"]
    assert keys(store, 'fixVersion = "1.0"') == ["A-2"]
    assert keys(store, "assignee = alice") == ["A-1"]
    assert keys(store, 'assignee = "Alice A"') == ["A-1"]
    assert sorted(keys(store, "assignee is EMPTY")) == ["A-2", "B-1"]
    assert keys(store, "assignee != alice") == ["A-10"]
    assert keys(store, "priority > Medium") == ["A-1"]
    assert keys(store, "key > A-2 AND project = A") == ["A-10"]
    assert keys(store, "issue in (A-1, B-1) ORDER BY key DESC") == ["B-1", "A-1"]
    assert keys(store, "id = 1010") == ["A-10"]
    store.current_user = "bob"
    assert keys(store, "assignee = currentUser()") == ["A-10"]


def test_dates_absolute_relative_and_functions(store):
    # created: A-1 -> 03-02, A-2 -> 03-03, A-10 -> 03-02, B-1 -> 03-02; now = 2021-03-10 12:00
    assert keys(store, 'created >= "2021-03-03"') == ["A-2"]
    assert len(keys(store, 'created > "2021/03/02"')) == 4  # 03-02 10:00 is after 03-02 00:00
    assert sorted(keys(store, 'created > "2021/03/02 11:00"')) == ["A-2"]
    assert sorted(keys(store, "created < -7d")) == ["A-1", "A-10", "A-2", "B-1"]
    assert sorted(keys(store, "created < \"-7d 3h\"")) == ["A-1", "A-10", "B-1"]
    assert keys(store, "resolved >= startOfDay(-1)") == ["A-2"]
    assert store.count("created >= startOfMonth()") == 4
    assert store.count("created >= startOfWeek()") == 0
    assert store.count("updated > endOfMonth()") == 4 and store.count("updated > endOfMonth(1)") == 0
    with pytest.raises(JqlError, match="not a date"):
        store.count('created > "yesterday"')


def test_order_by(store):
    assert keys(store, "ORDER BY key")[:2] == ["A-1", "A-2"]
    assert keys(store, "project = A ORDER BY priority DESC")[0] == "A-1"
    assert keys(store, "project = A ORDER BY created DESC, key ASC") == ["A-2", "A-1", "A-10"]
    assert keys(store, "")[0] == "B-1"  # default: key DESC
    assert keys(store, "ORDER BY component, key")[:1] == ["A-1"]
    assert keys(store, "ORDER BY labels DESC, key") == ["B-1", "A-1", "A-2", "A-10"]  # by first label: y, x
    assert keys(store, "ORDER BY fixVersion, statusCategory, key")[0] == "A-2"
    rank_order = keys(store, "ORDER BY Rank")
    assert rank_order == ["A-1", "A-2", "A-10", "B-1"]  # import order
    with pytest.raises(JqlError, match="Cannot order by"):
        keys(store, "ORDER BY votes")


def test_paging_and_total(store):
    page, total = store.search_keys("ORDER BY key", start=1, limit=2)
    assert page == ["A-2", "A-10"] and total == 4
    assert store.search_keys("project = A", start=5) == ([], 3)


def test_unsupported_clauses_are_clear_errors(store):
    for q, part in [("status WAS Open", "status WAS Open"), ("votes > 3", "votes > 3"),
                    ("status CHANGED", "status CHANGED"), ('summary = "first"', 'summary = "first"'),
                    ("assignee in membersOf(devs)", "membersOf"), ("status ~ open", "status ~ open")]:
        with pytest.raises(JqlError) as e:
            store.count(q)
        assert part in str(e.value)
    with pytest.raises(JqlSyntaxError):
        store.count("status = ")


def test_search_frame(store):
    df = store.search("project = A ORDER BY key")
    assert list(df.columns) == SEARCH_COLUMNS
    assert df["key"].tolist() == ["A-1", "A-2", "A-10"]
    row = df.iloc[0]
    assert row["labels"] == ["x", "y"] and row["components"] == ["api"] and row["assignee"] == "Alice A"
    assert str(df["created"].dtype).startswith("datetime64") and df["resolved"].isna().tolist() == [True, False, True]


def test_links_show_on_both_issues_and_search(store):
    lid = store.add_link("Blocks", "A-1", "A-2")  # A-1 blocks A-2
    a1, a2 = store.get_issue("A-1"), store.get_issue("A-2")
    assert a1["fields"]["issuelinks"][0]["outwardIssue"]["key"] == "A-2"
    assert a2["fields"]["issuelinks"][0]["inwardIssue"]["key"] == "A-1"
    assert a1["fields"]["issuelinks"][0]["id"] == lid == a2["fields"]["issuelinks"][0]["id"]
    assert keys(store, 'issueLinkType = "is blocked by"') == ["A-2"]
    assert keys(store, "issueLinkType = blocks") == ["A-1"]
    assert keys(store, 'issue in linkedIssues(A-2, "is blocked by")') == ["A-1"]
    assert keys(store, "issue in linkedIssues(A-1)") == ["A-2"]
    df = store.search("key = A-2")
    assert df.loc[0, "blocked_by"] == ["A-1"] and store.search("key = A-1").loc[0, "blocks"] == ["A-2"]
    with pytest.raises(JiraError):
        store.add_link("Nope", "A-1", "A-2")


def test_searches_see_the_stores_own_writes_after_a_search(store):
    """A search before a write must not leave a cached answer behind (the blocking link types, the word list)."""
    assert store.search("key = A-2").loc[0, "blocked_by"] == []  # reads and keeps the link types: none yet
    assert keys(store, 'text ~ "zebr?fish"') == []  # reads and keeps the word list
    store.add_link("Blocks", "A-1", "A-2")  # the store's first link: A-1 blocks A-2
    assert store.search("key = A-2").loc[0, "blocked_by"] == ["A-1"]
    assert store.search("key = A-1").loc[0, "blocks"] == ["A-2"]
    store.update_issue("A-10", {"summary": "zebrafish"})
    assert keys(store, 'text ~ "zebr?fish"') == ["A-10"]
    made = store.create_issue({"project": {"key": "A"}, "summary": "quagga", "issuetype": {"name": "Bug"}})
    store.add_link("Blocks", made["key"], "A-10")
    assert store.search("key = A-10").loc[0, "blocked_by"] == [made["key"]]
    assert keys(store, 'text ~ "quag?a"') == [made["key"]]


def test_comments_are_searchable(store):
    c = store.add_comment("A-10", "the disk space is gone", author="carol")
    assert c["author"]["name"] == "carol"
    assert keys(store, 'comment ~ "\\"disk space\\""') == ["A-10"]
    assert store.get_issue("A-10")["fields"]["comment"]["comments"][-1]["body"] == "the disk space is gone"


def test_create_and_update(store):
    made = store.create_issue({"project": {"key": "A"}, "summary": "new disk issue", "issuetype": {"name": "Bug"}})
    assert made["key"] == "A-11"
    got = store.get_issue(made["id"])
    assert got["key"] == "A-11" and got["fields"]["status"]["statusCategory"]["key"] == "new"
    assert keys(store, "ORDER BY Rank")[-1] == "A-11"  # new issues go to the bottom
    assert keys(store, 'summary ~ "disk"') == ["A-11"]
    store.add_link("Blocks", "A-11", "A-1")
    store.update_issue("A-11", {"summary": "renamed", "labels": ["z"]})
    assert keys(store, 'summary ~ "disk"') == [] and keys(store, "labels = z") == ["A-11"]
    assert store.get_issue("A-11")["fields"]["issuelinks"][0]["outwardIssue"]["key"] == "A-1"
    with pytest.raises(JiraError, match="does not exist"):
        store.create_issue({"project": {"key": "ZZ"}, "summary": "x", "issuetype": {"name": "Bug"}})
    with pytest.raises(JiraError, match="without"):
        store.create_issue({"project": {"key": "A"}})


def test_upsert_replaces_by_key(store):
    store.import_issues([issue("A-1", "replaced summary")])
    assert len(store) == 4
    assert keys(store, 'summary ~ "replaced"') == ["A-1"] and keys(store, 'summary ~ "first"') == []


def test_rank_moves_blocks_before_and_after(store):
    store.rank(["B-1", "A-10"], before="A-1")
    assert keys(store, "ORDER BY Rank") == ["B-1", "A-10", "A-1", "A-2"]
    store.rank(["B-1"], after="A-2")
    assert keys(store, "ORDER BY Rank") == ["A-10", "A-1", "A-2", "B-1"]
    r = store.ranks(["A-10", "A-1"])
    assert r["A-10"] < r["A-1"] and r["A-1"].startswith("0|")
    with pytest.raises(JiraError):
        store.rank(["A-1"], before="A-1")
    with pytest.raises(JiraError):
        store.rank(["A-1"])


def test_rank_always_finds_room():
    lo, hi = "0|100000:", "0|100001:"
    for _ in range(60):  # keep inserting right after lo
        (mid,) = between(lo, hi, 1)
        assert lo < mid < hi
        hi = mid
    assert len(between(None, None, 1000)) == 1000


def test_metadata_shapes(store):
    assert [p["key"] for p in store.projects()] == ["A", "B"]
    assert {s["name"] for s in store.statuses()} == {"Open", "Closed"}
    assert any(t["name"] == "Blocks" and t["inward"] == "is blocked by" for t in store.link_types())
    rank = next(f for f in store.fields() if f["id"] == "customfield_10019")
    assert rank["schema"]["custom"] == "com.pyxis.greenhopper.jira:gh-lexo-rank"


def test_file_store_persists(tmp_path):
    path = tmp_path / "t.db"
    with Store(path) as s:
        s.import_issues(generate(50, seed=1))
    with Store(path) as s:
        assert len(s) == 50 and s.count("project = DEMO") == 17


def test_import_json_lines_keeps_the_document():
    import json

    s = Store()
    line = json.dumps(issue("J-1", "from a jsonl line", labels=["l"]))
    assert s.import_issues([line, line.encode()]) == 2 and len(s) == 1
    got = s.get_issue("J-1")
    assert got["fields"]["summary"] == "from a jsonl line" and got["fields"]["customfield_10019"].startswith("0|")
    assert s.search_keys("labels = l")[0] == ["J-1"]


def _hist(when, author, field, old, new):
    """One changelog history entry that changed one field."""
    return {"id": when, "author": {"name": author}, "created": f"{when}T12:00:00.000+0000",
            "items": [{"field": field, "fromString": old, "toString": new}]}


def test_history_clauses_on_changelogs():
    s = Store()
    s.now = datetime(2021, 6, 1)
    a = issue("H-1", "moved along", status="Closed", category="done")
    a["changelog"] = {"histories": [_hist("2021-03-05", "ann", "status", "Open", "In Progress"),
                                    _hist("2021-03-20", "bob", "status", "In Progress", "Closed")]}
    b = issue("H-2", "never moved")
    b["changelog"] = {"histories": []}
    s.import_issues([a, b])
    assert sorted(keys(s, "status WAS Open")) == ["H-1", "H-2"]
    assert keys(s, 'status WAS "In Progress"') == ["H-1"]
    assert keys(s, 'status WAS "In Progress" BEFORE 2021-03-04') == []
    assert keys(s, 'status WAS "In Progress" DURING (2021-03-10, 2021-03-12)') == ["H-1"]
    assert keys(s, "status WAS NOT Closed") == ["H-2"]
    assert keys(s, "status WAS IN (Closed, Resolved) BY bob") == ["H-1"]
    assert keys(s, "status CHANGED FROM Open TO \"In Progress\" ON 2021-03-05") == ["H-1"]
    assert keys(s, "status CHANGED BY ann AFTER 2021-03-10") == []
    assert keys(s, "status CHANGED") == ["H-1"]
    s.import_issues([issue("H-3", "no changelog")])
    with pytest.raises(JqlError, match="no changelog"):
        s.count("status WAS Open")


def test_rest_v3_rich_text_is_searchable():
    """Cloud's v3 answers carry Atlassian Document Format; the store indexes its words."""
    from labkit.jira.store import Store

    def adf(text):
        """Wrap text as an Atlassian Document Format paragraph."""
        return {"type": "doc", "version": 1, "content": [{"type": "paragraph", "content": [{"type": "text", "text": text}]}]}

    s = Store()
    s.import_issues([{"id": "1", "key": "V3-1", "fields": {
        "summary": "rich text", "project": {"key": "V3"}, "description": adf("the volume snapshot failed"),
        "comment": {"comments": [{"id": "9", "body": adf("bridge timeout again")}]}}}])
    assert s.search_keys('description ~ "\\"volume snapshot\\""')[0] == ["V3-1"]
    assert s.search_keys('comment ~ "timeout"')[0] == ["V3-1"]
    import labkit.jira

    assert labkit.jira.JiraClient.__name__ == "JiraClient"


# Stored rows (document text, issue_doc.changelog) and the changelog each holds. The column, when set, is the
# changelog (a dict's, kept apart); else the document's member (JSON text, or a store made before the column).
_LOG = '{"histories": [{"id": "1"}], "total": 1}'
_OTHER = '{"histories": [], "total": 0}'
_WANT = json.loads(_LOG)
CHANGELOG_ROWS = [
    ('{"id": "1", "key": "A-1", "fields": {}}', _LOG, _WANT),
    ('{"id": "1", "key": "A-1", "fields": {}, "changelog": ' + _LOG + "}", None, _WANT),
    ('{"changelog": ' + _LOG + ', "id": "1", "key": "A-1", "fields": {"summary": "x"}}', None, _WANT),
    ('{"id": "1", "key": "A-1", "fields": {"summary": "x"}, "changelog": ' + _OTHER + "}", _LOG, _WANT),  # both
    ('{"id": "1", "key": "A-1", "fields": "odd", "changelog": ' + _LOG + "}", None, _WANT),
    ('{"id": "1", "key": "A-1", "fields": "odd"}', _LOG, _WANT),
    ('{"id": "1", "key": "A-1", "fields": {}}', None, None),
    ('{"id": "1", "key": "A-1", "fields": {}, "changelog": null}', None, None),
]


@pytest.mark.parametrize(("doc", "apart", "want"), CHANGELOG_ROWS)
def test_the_changelog_rule_reads_the_same_in_sql_and_in_both_decoders(doc, apart, want):
    """The rule's SQL shape (which issues have one) and Python shape (the decoders of history rows, get_issues and a sandbox page) find
    the same changelog in every layout; the table, not either shape, says which one it is."""
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE issue_doc(rid INTEGER PRIMARY KEY, doc TEXT NOT NULL, changelog TEXT)")
    db.execute("INSERT INTO issue_doc VALUES (1, ?, ?)", (doc, apart))
    in_sql = db.execute(f"SELECT {changelog_sql('d')} FROM issue_doc d").fetchone()[0]
    assert (None if in_sql is None else json.loads(in_sql)) == want
    whole = stored_issue(doc, apart)
    assert whole.get("changelog") == want and whole["key"] == "A-1"
    assert stored_log(doc, apart) == stored_log(doc.encode(), None if apart is None else apart.encode()) == want
    fields, raw = stored_parts(doc.encode(), True, None if apart is None else apart.encode())
    assert (None if raw is None else json.loads(bytes(raw))) == want
    assert fields == stored_parts(doc.encode(), False)[0] and stored_parts(doc, False, apart)[1] is None
    db.close()
