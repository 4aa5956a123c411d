"""Fault injection: a 429 with Retry-After, a 500 on one page, a dropped connection and a cut body
during a 20-page search are retried, and the result is complete and free of duplicates."""

from __future__ import annotations

import pytest

from labkit.jira.client import JiraClient
from labkit.jira.sandbox import serve

pytestmark = pytest.mark.integration

N = 2000
PAGE = 100  # 20 pages


@pytest.fixture(scope="module", params=["server", "cloud"])
def sb(request):
    """A sandbox in each mode with N issues, for fault injection."""
    with serve(mode=request.param, seed_issues=N, seed=5) as running:
        yield running


def test_twenty_page_search_survives_faults(sb):
    jql = "created is not EMPTY ORDER BY key ASC"
    expected = sb.app.db(lambda s: s.search_keys(jql)[0])
    assert len(expected) == N
    if sb.app.mode == "server":
        path, where = "/rest/api/2/search", "startAt"
        spots = [300, 700, 1200, 1500]
    else:  # ids come in pages of 500 by token, details from bulkfetch in batches of 100
        path, where = "/rest/api/3/issue/bulkfetch", None
        spots = [None] * 4
    rules = [
        {"path": path, "status": 429, "retry_after": "1"},
        {"path": path, "status": 500, "skip": 3},
        {"path": path, "action": "drop", "skip": 6},
        {"path": path, "action": "truncate", "skip": 9},
    ]
    if where:
        for rule, spot in zip(rules, spots, strict=True):
            rule.pop("skip", None)
            rule["param"] = {where: str(spot)}
    if sb.app.mode == "cloud":  # and a rate limit on the token paging itself
        rules.append({"path": "/rest/api/3/search/jql", "status": 429, "retry_after": "1", "skip": 1})
    sb.faults(rules)
    waits: list[float] = []
    try:
        client = JiraClient(sb.url, sb.auth, page_size=PAGE, workers=4, sleep=waits.append)
        df = client.search(jql)
        fired = sb.app.faults.snapshot()["fired"]
    finally:
        sb.faults([])
    assert list(df["key"]) == expected          # complete, in order
    assert df["key"].is_unique                  # no duplicates
    assert {f["action"] for f in fired} == {"status", "drop", "truncate"}
    planned = sorted(r["status"] for r in rules if r.get("action", "status") == "status")
    assert sorted(f["status"] for f in fired if f["action"] == "status") == planned
    assert len(fired) == len(rules)
    assert 1.0 in waits                         # Retry-After was honoured
    assert client.session.attempts >= len(fired) + (N // PAGE if sb.app.mode == "server" else N // 100)


def test_a_fault_that_never_ends_is_a_clear_error(sb):
    from labkit.errors import HttpError

    path = "/rest/api/2/search" if sb.app.mode == "server" else "/rest/api/3/search/jql"
    sb.faults([{"path": path, "status": 503, "times": 100}])
    try:
        client = JiraClient(sb.url, sb.auth, sleep=lambda s: None)
        with pytest.raises(HttpError) as info:
            client.search("created is not EMPTY")
    finally:
        sb.faults([])
    assert info.value.status == 503 and "try again later" in str(info.value)
