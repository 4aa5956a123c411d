"""Proximity searches (``"a b"~N``) on the 29,057 real issues equal an oracle that shares no code with the store.

The store answers a proximity clause with two FTS5 NEAR bounds (issues within the inner one surely
match, issues outside the outer one surely do not) and checks the issues between them in Python
(``SqlBuilder._checked``). The oracle (``proximity_oracle.py``) has its own words, SQLite's C Porter
stems and Lucene's documented slop rule. The last test breaks the store's WHERE on purpose (sure set
dropped, bounds off by one) and shows these comparisons catch each break.
"""

from __future__ import annotations

import gzip
import json

import pytest

from labkit.jira.jql import quote
from labkit.jira.store import Store
from labkit.jira.store.sql import SqlBuilder

from .proximity_oracle import FIELDS, Oracle
from .test_store_helpers import APPC

pytestmark = [pytest.mark.integration, pytest.mark.slow]

# (value, fields it is asked on): two-word pairs both ways round, a slop below the sure bound
# ("~1": every candidate is checked), a stop word inside ("of" keeps its place), three words
CASES = [
    ('"disk space"~5', FIELDS), ('"space disk"~2', FIELDS), ('"disk space"~1', FIELDS),
    ('"disk of space"~2', FIELDS), ('"memory leak"~4', FIELDS), ('"leak memory"~3', FIELDS),
    ('"build failed"~3', FIELDS), ('"build failed"~3', ("summary",)), ('"build failed"~3', ("description",)),
    ('"build failed"~3', ("comment",)), ('"failed build"~4', FIELDS), ('"android emulator"~6', FIELDS),
    ('"emulator android"~2', FIELDS), ('"device crash"~8', FIELDS), ('"module build failed"~4', FIELDS),
    ('"failed module build"~6', FIELDS), ('"simulator crash"~7', ("environment", "comment")),
]
WORDS = {"disk", "space", "memory", "leak", "build", "failed", "android", "emulator", "device", "crash", "module",
         "simulator"}
FIELD_OF = {FIELDS: "text", ("summary",): "summary", ("description",): "description", ("comment",): "comment"}


@pytest.fixture(scope="module")
def real():
    """The real issues in a store, and the oracle over the same issues (skip when the archive is absent)."""
    files = sorted(APPC.glob("*.jsonl.gz"))
    if not files:
        pytest.skip(f"the Appcelerator archive is absent ({APPC})")
    issues = []
    for f in files:
        with gzip.open(f, "rt", encoding="utf-8") as fh:
            issues += [json.loads(line) for line in fh]
    store = Store()
    assert store.import_issues(issues) == 29057
    yield store, Oracle(issues, WORDS)
    store.close()


def _clause(value: str, fields: tuple[str, ...]) -> str:
    """A JQL clause asking ``value`` on the field that covers ``fields`` (text ~ for two or more)."""
    return f"{FIELD_OF.get(fields, 'text')} ~ {quote(value)}"


def _expected(oracle: Oracle, value: str, fields: tuple[str, ...]) -> set[str]:
    """The oracle's answer on the fields the clause covers."""
    return oracle.matching(value, FIELDS if fields not in FIELD_OF else fields)


def _mismatches(store: Store, oracle: Oracle) -> list[str]:
    """Every case, plain, negated and with OR/AND of a field clause, where the store differs from the oracle."""
    bad = []
    for value, fields in CASES:
        hit = _expected(oracle, value, fields)
        clause = _clause(value, fields)
        checks = {
            clause: hit,
            f"NOT {clause}": {k for k, t in oracle.has_text.items() if t} - hit if fields == FIELDS else None,
            f"{clause} OR project = ALOY": hit | {k for k, p in oracle.project.items() if p == "ALOY"},
            f"project = TIMOB AND {clause}": {k for k in hit if oracle.project[k] == "TIMOB"},
        }
        for jql, want in checks.items():
            if want is not None and set(store.search_keys(jql)[0]) != want:
                bad.append(jql)
    return bad


def test_proximity_equals_the_oracle(real):
    store, oracle = real
    assert _mismatches(store, oracle) == []
    # the cases are not vacuous: most have matches, and some issues lie between the NEAR bounds
    assert sum(bool(_expected(oracle, v, f)) for v, f in CASES) >= len(CASES) - 2


def test_not_tilde_and_negated_text_agree(real):
    store, oracle = real
    value = '"memory leak"~4'
    hit = oracle.matching(value)
    outside = {k for k, t in oracle.has_text.items() if t} - hit
    assert set(store.search_keys(f"text !~ {quote(value)}")[0]) == outside
    assert store.count(f"text !~ {quote(value)}") == len(outside)


def test_count_and_frame_equal_the_oracle(real):
    store, oracle = real
    for value in ('"android emulator"~6', '"build failed"~3', '"disk space"~5'):
        hit = oracle.matching(value)
        assert store.count(f"text ~ {quote(value)}") == len(hit)
        frame = store.search(f"text ~ {quote(value)}")
        assert set(frame["key"]) == hit and len(frame) == len(hit)


@pytest.mark.parametrize("mutant", ["sure set dropped", "sure bound one too wide", "narrow bound one too tight"])
def test_a_wrong_where_is_caught(real, monkeypatch, mutant):
    store, oracle = real
    bounds = SqlBuilder._near_bounds
    listed = SqlBuilder._matched_or_listed

    def widen(expr: str | None, by: int) -> str | None:
        """The NEAR group with its distance changed by ``by``."""
        if expr is None or not expr.startswith("NEAR("):
            return expr
        head, _, dist = expr[:-1].rpartition(", ")
        return f"{head}, {int(dist) + by})"

    if mutant == "sure set dropped":
        monkeypatch.setattr(SqlBuilder, "_matched_or_listed", lambda self, match, rids: listed(self, None, rids))
    elif mutant == "sure bound one too wide":
        monkeypatch.setattr(SqlBuilder, "_near_bounds", staticmethod(lambda n: (widen(bounds(n)[0], 1), bounds(n)[1])))
    else:
        monkeypatch.setattr(SqlBuilder, "_near_bounds", staticmethod(lambda n: (bounds(n)[0], widen(bounds(n)[1], -1))))
    assert _mismatches(store, oracle), f"the oracle comparison did not notice: {mutant}"
