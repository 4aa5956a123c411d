"""The store on the 29,057 real Appcelerator issues: words vs phrase counts checked by a brute-force scan."""

from __future__ import annotations

import gzip
import json
import re

import pytest

from labkit.jira.jql.text import parse_text, text_matches
from labkit.jira.model import field_texts
from labkit.jira.store import Store
from labkit.jira.store.sql import SqlBuilder

from .test_store_helpers import APPC

pytestmark = [pytest.mark.integration, pytest.mark.slow]

FILES = sorted(APPC.glob("*.jsonl.gz"))


def _issues():
    """Yield the real Appcelerator issues from the shared archive."""
    for f in FILES:
        with gzip.open(f, "rt", encoding="utf-8") as fh:
            for line in fh:
                yield json.loads(line)


@pytest.fixture(scope="module")
def appc():
    """A store of all 29,057 real Appcelerator issues (skip when the archive is absent)."""
    if not FILES:
        pytest.skip(f"the Appcelerator archive is absent ({APPC})")
    issues = list(_issues())
    store = Store()
    assert store.import_issues(issues) == 29057
    yield store, issues
    store.close()


def _scan(issues, value, prefilter):
    """Brute force: every issue whose text contains the prefilter words is checked field by field in Python."""
    tq = parse_text(value)
    hits = set()
    for it in issues:
        texts = field_texts(it["fields"])
        joined = "\n".join(texts)
        if all(p.search(joined) for p in prefilter) and text_matches(tq, texts):
            hits.add(it["key"])
    return hits


def test_disk_space_words_and_phrase_differ_and_are_correct(appc):
    store, issues = appc
    # any word whose stem is disk/space starts with "disk"/"spac" (Porter only rewrites endings)
    pre = [re.compile("disk", re.I), re.compile("spac", re.I)]
    words = set(store.search_keys('text ~ "disk space"')[0])
    phrase = set(store.search_keys('text ~ "\\"disk space\\""')[0])
    assert words == _scan(issues, "disk space", pre)
    assert phrase == _scan(issues, '"disk space"', pre)
    assert phrase < words and len(phrase) != len(words)
    # independent regex bounds on the phrase: exact adjacent words <= phrase <= adjacent disk*/spac* words
    low = {it["key"] for it in issues
           if any(re.search(r"(?<![^\W_])disk[\W_]+space(?![^\W_])", t, re.I) for t in field_texts(it["fields"]))}
    high = {it["key"] for it in issues
            if any(re.search(r"(?<![^\W_])disk[^\W_]*[\W_]+spac", t, re.I) for t in field_texts(it["fields"]))}
    assert low <= phrase <= high
    assert store.count('text ~ "disk space"') == len(words)


def test_proximity_and_wildcards_agree_with_a_scan(appc):
    store, issues = appc
    pre = [re.compile("disk", re.I), re.compile("spac", re.I)]
    assert set(store.search_keys('text ~ "\\"disk space\\"~5"')[0]) == _scan(issues, '"disk space"~5', pre)
    pre_w = [re.compile("sdcard", re.I)]
    assert set(store.search_keys('summary ~ "sdcard*"')[0]) == {
        it["key"] for it in issues
        if pre_w[0].search(it["fields"].get("summary") or "") and text_matches("sdcard*", [it["fields"]["summary"]])}


@pytest.mark.parametrize("head", ["sdcard", "crash", "keyb", "javas", "th"])
def test_prefix_wildcards_agree_with_the_word_expansion_and_a_scan(appc, head, monkeypatch):
    # "th" starts stop words (the, this...): it takes the expansion path, which leaves them out
    store, issues = appc
    jql = f'text ~ "{head}*"'
    fast = set(store.search_keys(jql)[0])
    assert store.count(jql) == len(fast) > 0
    pre = re.compile(rf"(?<![^\W_]){head}", re.I)
    scan = set()
    for it in issues:
        texts = field_texts(it["fields"])
        if any(pre.search(t) for t in texts) and text_matches(f"{head}*", texts):
            scan.add(it["key"])
    assert fast == scan
    monkeypatch.setattr(SqlBuilder, "prefix", staticmethod(lambda n: None))  # the word-list expansion instead
    assert set(store.search_keys(jql)[0]) == fast
    assert set(store.search_keys(f'summary ~ "{head}*" OR description ~ "{head}*"')[0]) <= fast


def test_search_frame_matches_the_issues(appc):
    store, issues = appc
    by_key = {it["key"]: it for it in issues}
    df = store.search(r'text ~ "\"disk space\"" ORDER BY created DESC')
    assert len(df) == store.count(r'text ~ "\"disk space\""') > 0
    assert list(df["created"]) == sorted(df["created"], reverse=True)
    for row in df.head(200).itertuples():
        f = by_key[row.key]["fields"]
        assert row.summary == f["summary"]
        assert row.status == f["status"]["name"]
        assert row.labels == sorted(f.get("labels") or [])
        assert row.components == sorted(c["name"] for c in f.get("components") or [])


def test_links_from_the_archive(appc):
    store, _ = appc
    blocked = store.count('issueLinkType = "is blocked by"')
    blockers = store.count("issueLinkType = blocks")
    assert blocked > 0 and blockers > 0
    edges = (APPC / "DERIVED-blocks-edges.csv").read_text().splitlines()[1:]
    blocker, blocked_key = edges[0].split(",")[:2]
    assert blocker in store.search_keys(f'issue in linkedIssues({blocked_key}, "is blocked by")')[0]
