"""The store's frame cache: a search answered from memory is the frame the store fetches, and never a stale one."""

from __future__ import annotations

import gzip
from datetime import datetime

import msgspec
import numpy as np
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal, assert_series_equal

from labkit.jira.jql import parse
from labkit.jira.sandbox.demo import generate
from labkit.jira.store import Store
from labkit.jira.store.framecache import FrameCache, TextsColumn
from labkit.jira.store.sql import SqlBuilder

from .test_store_helpers import APPC, issue

FILES = sorted(APPC.glob("*.jsonl.gz"))

REAL_QUERIES = [
    'text ~ "\\"disk space\\""', 'text ~ "\\"disk space\\"~5"', 'text ~ "sdcard*"', 'text ~ "disk space"',
    'project = TIMOB AND status = Open', 'project = TIMOB ORDER BY created DESC', "ORDER BY Rank",
    "priority in (High, Critical) ORDER BY updated ASC, key DESC", "resolution is EMPTY ORDER BY resolved DESC",
    "issueLinkType = blocks", "labels is not EMPTY ORDER BY labels", "component is not EMPTY",
    'summary ~ "android" AND created >= "2014-01-01"', "key = TIMOB-1", "project = TIMOB AND key < TIMOB-0",
]


def _prime(store: Store) -> None:
    """Search everything until the fetched rows reach the store's size and a search builds the cache."""
    for _ in range(4):
        store.search("ORDER BY key")
        if store.cached_issues:
            break
    assert store.cached_issues == len(store)


def _order_of(store: Store, order_by: str) -> str:
    """The SQL ORDER BY list the store's builder makes of a JQL ORDER BY (the name under which a rank is kept)."""
    return store._plan(f"ORDER BY {order_by}", ordered=False)[2]


def _keep_order(store: Store, order_by: str) -> None:
    """Search the whole store in an order until the cache keeps every issue's place in it (as a user's searches do)."""
    _prime(store)
    want = _order_of(store, order_by)
    for _ in range(3):
        store.search(f"ORDER BY {order_by}")
        if want in store.cached_orders:
            return
    raise AssertionError(f"the frame cache did not keep the order {want}")


@pytest.fixture(scope="module")
def real_pair(tmp_path_factory):
    """The 29,057 real issues in one store file, opened twice: with the frame cache, and without it."""
    if not FILES:
        pytest.skip(f"the Appcelerator archive is absent ({APPC})")
    path = tmp_path_factory.mktemp("frame") / "appc.db"
    dec = msgspec.json.Decoder()
    with Store(path) as s:
        for f in FILES:
            with gzip.open(f, "rb") as fh:
                s.import_issues(dec.decode(line) for line in fh)
    cached, fetched = Store(path), Store(path)
    fetched.frame_cache = False
    yield cached, fetched
    cached.close()
    fetched.close()


@pytest.mark.integration
@pytest.mark.slow
@pytest.mark.parametrize("jql", REAL_QUERIES)
def test_cached_search_is_the_fetched_frame_on_real_issues(real_pair, jql):
    cached, fetched = real_pair
    if not cached.cached_issues:
        _prime(cached)
    want = fetched.search(jql)
    got = cached.search(jql)
    assert cached.cached_issues == len(cached) == 29057 and fetched.cached_issues == 0
    assert_frame_equal(got, want)
    for start, limit in ((0, 10), (100, 50), (len(want) - 3, 10), (5, 0)):
        assert_frame_equal(cached.search(jql, start=start, limit=limit), fetched.search(jql, start=start, limit=limit))


def _pair(n: int = 1500) -> tuple[Store, Store]:
    """Two stores holding the same generated issues (with links, labels and components): one caches frames."""
    items = list(generate(n, seed=5))
    a, b = Store(), Store()
    b.frame_cache = False
    for s in (a, b):
        s.import_issues(items)
        s.now = datetime(2026, 11, 27, 6, 30)  # one "now" for both: a write stamps ``updated`` with it
    return a, b


QUERIES = ["ORDER BY key", "issueLinkType = blocks ORDER BY Rank", 'text ~ "disk"', "labels = z", "project = OPS",
           'summary ~ "renamed"']


def _same(a: Store, b: Store) -> None:
    """Every query gives the same frame from both stores."""
    for q in QUERIES:
        assert_frame_equal(a.search(q), b.search(q), obj=q)


@pytest.mark.unit
def test_every_write_is_seen_by_the_next_search():
    a, b = _pair()
    keys = a.search("ORDER BY key")["key"].tolist()
    k1, k2, k3 = keys[0], keys[1], keys[2]
    writes = [
        lambda s: s.add_link("Blocks", k1, k2),
        lambda s: s.update_issue(k3, {"summary": "renamed disk", "labels": ["z"]}),
        lambda s: s.create_issue({"project": {"key": "OPS"}, "summary": "renamed", "issuetype": {"name": "Bug"}}),
        lambda s: s.rank([k2], before=k1),
        lambda s: s.add_comment(k1, "disk full"),
        lambda s: s.import_issues([issue(k2, "renamed by an import", labels=["z"])]),
    ]
    for write in writes:
        _prime(a)
        for s in (a, b):
            write(s)
        _same(a, b)  # right after the write: the cache of before must not answer
        _prime(a)
        _same(a, b)  # from the cache built after it


@pytest.mark.unit
def test_a_commit_by_another_connection_is_seen(tmp_path):
    path = tmp_path / "t.db"
    with Store(path) as s:
        s.import_issues(generate(800, seed=2))
    a, other = Store(path), Store(path)
    _prime(a)
    key = a.search("ORDER BY key")["key"][0]
    other.update_issue(key, {"labels": ["from-elsewhere"]})
    other.add_link("Blocks", key, a.search("ORDER BY key")["key"][1])
    row = a.search(f"key = {key}").iloc[0]
    assert row["labels"] == ["from-elsewhere"] and len(row["blocks"]) >= 1
    a.close()
    other.close()


@pytest.mark.unit
def test_changing_a_result_does_not_change_the_cache():
    a, b = _pair(600)
    _prime(a)
    df = a.search("labels is not EMPTY")
    df.loc[0, "labels"].append("changed")
    df.loc[0, "blocks"].append("X-1")
    _same(a, b)
    assert "changed" not in a.search("labels is not EMPTY").loc[0, "labels"]


@pytest.mark.unit
def test_the_cache_waits_until_searches_fetched_a_store_full_of_rows():
    a, _ = _pair(600)
    a.search("project = OPS")  # a part of the store: fetched, no cache yet
    assert a.cached_issues == 0
    a.search("ORDER BY key")
    a.search("key = OPS-1")  # now as many rows were fetched as the store holds: this one builds it
    assert a.cached_issues == len(a)
    a.frame_cache = False
    a.search("key = OPS-1")
    assert a.cached_issues == 0


@pytest.mark.unit
def test_a_store_with_a_search_budget_never_builds_the_cache():
    """Building takes about a minute on 1M issues and no budget bounds it, so a budgeted store keeps fetching rows."""
    a, b = _pair(600)
    a.budget = 30.0
    for _ in range(4):
        a.search("ORDER BY key")
    assert a.cached_issues == 0
    _same(a, b)
    a.budget = None
    _prime(a)
    a.budget = 30.0
    assert a.cached_issues == 0
    _same(a, b)


# ORDER BY terms of every kind the store sorts by, each with matches of several sizes. Ties (status, labels,
# priority, dates shared by many issues) are broken by the builder's total order (project, then number).
REAL_ORDERS = [
    "key ASC", "key DESC", "created DESC", "updated ASC", "priority DESC", "priority ASC", "status ASC",
    "summary DESC", "labels ASC", "labels DESC", "component ASC", "Rank ASC", "resolved DESC", "id DESC",
    "assignee ASC", "priority DESC, updated ASC", "status DESC, created ASC, key DESC", "issuetype ASC, Rank DESC",
]
REAL_WHERES = ['text ~ "\\"disk space\\"~5"', 'text ~ "android"', "project = TIMOB AND status = Open",
               "labels is not EMPTY OR component is not EMPTY", ""]


@pytest.mark.integration
@pytest.mark.slow
@pytest.mark.parametrize("order_by", REAL_ORDERS)
def test_searches_sorted_by_the_kept_order_are_the_fetched_frames_on_real_issues(real_pair, order_by, monkeypatch):
    """With every issue's place in an order kept by the cache, whole results and pages equal the store's SQL sort."""
    cached, fetched = real_pair
    monkeypatch.setattr(cached, "rank_pages", True)  # pages too are cut from the kept order
    _keep_order(cached, order_by)
    assert _order_of(cached, order_by) in cached.cached_orders
    for where in REAL_WHERES:
        jql = f"{where} ORDER BY {order_by}"
        want = fetched.search(jql)
        assert_frame_equal(cached.search(jql), want, obj=jql)
        for start, limit in ((0, 7), (len(want) // 2, 25), (max(len(want) - 3, 0), 10), (len(want) + 5, 3)):
            assert_frame_equal(cached.search(jql, start=start, limit=limit),
                               fetched.search(jql, start=start, limit=limit), obj=f"{jql} [{start}:+{limit}]")
    assert cached.cached_issues == len(cached)


ORDERED = ["ORDER BY key", "ORDER BY Rank", "ORDER BY summary", "ORDER BY priority DESC, created ASC",
           "ORDER BY labels", 'text ~ "disk" ORDER BY updated DESC', "project = OPS ORDER BY status, Rank DESC",
           "", 'summary ~ "renamed"']


@pytest.mark.unit
def test_every_write_that_moves_issues_is_seen_by_searches_sorted_by_a_kept_order():
    """A write changes where issues sort (rank, summary, priority, labels, a new issue): no order of before is used."""
    a, b = _pair(1200)
    a.rank_pages = True
    keys = b.search("ORDER BY key")["key"].tolist()
    k1, k2, k3 = keys[0], keys[1], keys[-1]
    writes = [
        lambda s: s.rank([k3], before=k1),
        lambda s: s.update_issue(k1, {"summary": "aaa renamed", "priority": {"name": "Highest"}, "labels": ["a"]}),
        lambda s: s.create_issue({"project": {"key": "OPS"}, "summary": "renamed 0", "issuetype": {"name": "Bug"},
                                  "labels": ["0"]}),
        lambda s: s.import_issues([issue(k2, "0 renamed by an import", labels=["0"])]),
    ]
    for write in writes:
        for q in ORDERED:
            _keep_order(a, q.partition("ORDER BY ")[2] or "key DESC")
        for s in (a, b):
            write(s)
        for q in ORDERED:  # right after the write: the cache and its orders of before must not answer
            assert_frame_equal(a.search(q), b.search(q), obj=q)
            assert_frame_equal(a.search(q, start=3, limit=5), b.search(q, start=3, limit=5), obj=q)
        for q in ORDERED:  # from the orders kept after it
            _keep_order(a, q.partition("ORDER BY ")[2] or "key DESC")
            assert_frame_equal(a.search(q), b.search(q), obj=q)
            assert_frame_equal(a.search(q, start=3, limit=5), b.search(q, start=3, limit=5), obj=q)


@pytest.mark.unit
def test_an_order_is_kept_after_sql_sorted_a_store_full_of_rows():
    """Ski rental: a whole result is sorted by SQL until the rows sorted in its order reach the store's size."""
    a, b = _pair(600)
    _prime(a)
    assert a.cached_orders == [_order_of(a, "key DESC")]  # every search without ORDER BY: kept with the cache
    created = _order_of(a, "created DESC")
    a.search("project = OPS ORDER BY created DESC")  # part of the store: SQL sorts it
    assert created not in a.cached_orders
    a.search("ORDER BY created DESC", limit=10)  # a page: SQL's (it may stop early), not counted
    a.search("ORDER BY created DESC")  # now SQL sorted more rows than the store holds in this order
    assert created not in a.cached_orders
    assert_frame_equal(a.search("ORDER BY created DESC"), b.search("ORDER BY created DESC"))  # this one keeps it
    assert created in a.cached_orders


@pytest.mark.unit
def test_an_order_must_place_every_issue_of_the_cache_once():
    cache = FrameCache(1, [1, 2, 3], {"key": ["A-1", "A-2", "A-3"]}, ["key"])
    for wrong in ([3, 2], [3, 3, 1], [1, 2, 3, 4]):
        with pytest.raises((ValueError, KeyError)):
            cache.add_order("o", wrong)
    cache.add_order("o", [3, 1, 2])
    assert cache.frame(cache.ordered("o", np.array([0, 1, 2]), 0, -1))["key"].tolist() == ["A-3", "A-1", "A-2"]
    assert cache.frame(cache.ordered("o", np.array([1, 2]), 1, 5))["key"].tolist() == ["A-2"]


@pytest.mark.unit
def test_a_texts_column_gives_each_subset_the_dtype_and_values_pandas_reads_from_it():
    """pandas itself is the oracle: each subset equals ``pd.Series`` of the subset's own values."""
    rng = np.random.default_rng(3)
    values = np.array(["a", None, "b", None, None, "ç", "", None], dtype=object)
    column = TextsColumn.of(values)
    assert isinstance(column, TextsColumn)
    subsets = [np.array([1, 3, 4]), np.array([], dtype=np.int64), np.array([0]), np.array([6, 1]), np.array([7, 5, 3])]
    subsets += [rng.integers(0, len(values), size=int(rng.integers(1, 6))) for _ in range(40)]
    for pos in subsets:
        want = pd.Series(values.take(pos))
        assert_series_equal(pd.Series(column.take(pos)), want, obj=str(pos))
    nothing = np.array([None, None], dtype=object)
    assert TextsColumn.of(nothing) is nothing  # a column pandas does not read as texts stays as it is


@pytest.mark.unit
def test_ids_read_from_the_index_alone_are_only_the_store_issues():
    """A text search read from the FTS5 index without each issue's row still answers only issues: a stray index entry
    (an id with no issue) and an id listed twice change nothing."""
    a, b = _pair(400)
    for s in (a, b):  # an index entry whose issue is gone, as a contentless index may keep after a failed delete
        s.db.execute("INSERT INTO fts (rowid, summary, description, environment, comment) "
                     "VALUES (987654, 'disk space disk full', '', '', '')")
    _prime(a)
    for q in ('text ~ "disk"', 'text ~ "\\"disk space\\"~3"', 'text ~ "disk" OR text ~ "full"',
              "labels is not EMPTY", 'summary ~ "disk*"', ""):
        want = b.search(q)
        assert_frame_equal(a.search(q), want, obj=q)
        assert a.count(q) == len(want)
    assert a.cached_issues == len(a)


@pytest.mark.unit
def test_members_are_the_held_ids_once_each():
    cache = FrameCache("v", [3, 4, 5, 9], {"key": ["A-3", "A-4", "A-5", "A-9"]}, ["key"])
    assert cache.members([9, 3, 7, 9, 100, 0]).tolist() == [0, 3]
    dense = FrameCache("v", [3, 4, 5], {"key": ["A-3", "A-4", "A-5"]}, ["key"])
    assert dense.members([5, 2, 5, 6, 3]).tolist() == [0, 2]


# Each WHERE shape, and whether the SQL builder reports it as one id set (``i.rid IN (SELECT ...)`` with nothing
# around it), which a search with the frame cache reads straight from the index without each issue's row: a text
# search (word, phrase, prefix, proximity), a label or component, a history operator (a NOT pushed into WAS is WAS
# NOT: still one clause). Never a NOT, AND or OR around them, an EMPTY beside the values, nor a plain field.
ID_SET_SHAPES = [
    ('text ~ "disk"', True), ('summary ~ "disk*"', True), ('text ~ "\\"disk space\\""', True),
    ('text ~ "\\"disk space\\"~3"', True), ('description ~ "volume"', True), ('summary ~ "dis?"', False),
    ('text !~ "disk"', False), ('NOT text ~ "disk"', False), ('summary is EMPTY', False),
    ("labels = security", True), ("labels in (security, docs)", True), ("labels is not EMPTY", True),
    ("component = storage", True), ("component is not EMPTY", True), ("labels is EMPTY", False),
    ("labels in (security, EMPTY)", False), ("labels != security", False), ("NOT labels = security", False),
    ("status WAS Open", True), ("status CHANGED", True), ("status WAS NOT Closed", True),
    ("NOT status WAS Closed", True), ("status CHANGED FROM Open TO 'To Do'", True), ("NOT status CHANGED", False),
    ('text ~ "disk" AND labels = security', False), ('text ~ "disk" OR text ~ "volume"', False),
    ('text ~ "disk" AND NOT status WAS Closed', False), ("labels = security OR status CHANGED", False),
    ("project = OPS", False), ("status = Open", False), ("key = OPS-3", False), ("issueLinkType = blocks", False),
    ("created >= 2021-01-01", False), ("", False),
]


@pytest.fixture(scope="module")
def id_set_pair():
    """One :func:`_pair` (issues with changelogs) for the whole table: the first keeps every order the table sorts by."""
    a, b = _pair(900)
    a.rank_pages = True  # pages too are cut from the kept orders
    for order in ("key DESC", "key", "Rank"):
        _keep_order(a, order)
    yield a, b
    a.close()
    b.close()


@pytest.mark.unit
@pytest.mark.parametrize(("where", "id_set"), ID_SET_SHAPES)
def test_the_builder_reports_an_id_set_exactly_for_one_such_clause_and_the_answers_are_the_stores(
        id_set_pair, where, id_set, monkeypatch):
    """Whether the SQL builder reports the WHERE as one id set is the table's; the cached store, which then reads the
    ids from the index alone, answers (frame, pages, count) as the store without the cache does."""
    a, b = id_set_pair
    builder = SqlBuilder(a.db, a.now, a.current_user)
    got = builder.where(parse(where))
    assert (got.ids is not None) == id_set, where
    if got.ids is not None:  # the SELECT names the ids the whole condition holds for
        assert got.sql == f"i.rid IN ({got.ids.sql})" and got.ids.params == builder.params
    named = []
    real = Store._rids_named
    monkeypatch.setattr(Store, "_rids_named", lambda self, *args: named.append(1) or real(self, *args))
    for order in ("", " ORDER BY key", " ORDER BY Rank"):
        jql = where + order
        want = b.search(jql)
        assert_frame_equal(a.search(jql), want, obj=jql)
        assert a.count(jql) == len(want) == b.count(jql)
        assert_frame_equal(a.search(jql, start=2, limit=5), b.search(jql, start=2, limit=5), obj=jql)
    assert bool(named) == id_set, "the id-set path must be taken exactly when the builder reports one"
    assert a.cached_issues == len(a)
