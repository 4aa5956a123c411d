"""The store's frame cache: a search answered from memory is the frame the store fetches, and never a stale one."""

from __future__ import annotations

import gzip

import msgspec
import pytest
from pandas.testing import assert_frame_equal

from labkit.jira.sandbox.demo import generate
from labkit.jira.store import Store

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
