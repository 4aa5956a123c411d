"""Defect 12 (Jira part): extreme numbers gave 500s, and page tokens were signed with a public key.

``startAt=99999999999999999999`` raised OverflowError in the store; a Cloud ``nextPageToken`` forged
with the HMAC key ``"labkit"`` (public, in the source) and a non-integer offset raised ValueError.
Jira's specs type ``startAt`` and ``maxResults`` as int32; anything else is a 400 in Jira's error
shape, and tokens are signed with a key made at random for each run of the sandbox.
"""

from __future__ import annotations

import base64
import hmac
import json

import pytest
import requests

from labkit.jira.sandbox.server import open_store, serve

pytestmark = [pytest.mark.unit, pytest.mark.integration]


def forged(start, jql: str, key: bytes = b"labkit") -> str:
    """A page token made the way the sandbox used to make them, with the old public key."""
    raw = json.dumps([start, hmac.new(key, jql.encode(), "sha1").hexdigest()[:12]])
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def as_json(value: str):
    """The value as a JSON number when it is one Python reads (1e3 is a float), else the string."""
    try:
        return json.loads(value)
    except ValueError:
        return value


def jira_error(r: requests.Response) -> str:
    """The single errorMessages entry of a Jira error body."""
    body = r.json()
    assert set(body) == {"errorMessages", "errors"}, body
    assert len(body["errorMessages"]) == 1, body
    return body["errorMessages"][0]


@pytest.mark.parametrize("value", ["99999999999999999999", "2147483648", "-2147483649", "1e3", "9" * 5000])
def test_server_start_at_and_max_results_beyond_int32_are_400(value):
    with serve(seed_issues=5) as sb:
        for name in ("startAt", "maxResults"):
            r = requests.get(sb.url + "/rest/api/2/search", params={"jql": "project = DEMO", name: value},
                             auth=sb.auth, timeout=30)
            assert r.status_code == 400, (name, r.status_code, r.text[:200])
            assert jira_error(r).startswith("The value '") and f"is invalid for the '{name}' parameter." in jira_error(r)
            r = requests.post(sb.url + "/rest/api/2/search", json={"jql": "project = DEMO", name: as_json(value)},
                              auth=sb.auth, timeout=30)
            assert r.status_code == 400, (name, r.text[:200])
        r = requests.get(sb.url + "/rest/agile/1.0/board/1/backlog", params={"startAt": value}, auth=sb.auth, timeout=30)
        assert r.status_code == 400


def test_the_largest_int32_start_is_an_empty_page():
    with serve(seed_issues=5) as sb:
        r = requests.get(sb.url + "/rest/api/2/search", params={"jql": "project = DEMO", "startAt": 2**31 - 1},
                         auth=sb.auth, timeout=30)
        assert r.status_code == 200 and r.json()["issues"] == [] and r.json()["total"] > 0


def test_the_store_takes_any_offset():
    store = open_store(":memory:", seed_issues=5)
    assert store.search_keys("", start=10**30, limit=10**30) == ([], 5)


@pytest.mark.parametrize("start", ["abc", 1.5, None, [1], -1, 2**40, True])
def test_a_forged_page_token_is_a_400(start):
    jql = "project = DEMO"
    with serve(mode="cloud", seed_issues=5) as sb:
        r = requests.post(sb.url + "/rest/api/3/search/jql", json={"jql": jql, "nextPageToken": forged(start, jql)},
                          auth=sb.auth, timeout=30)
        assert r.status_code == 400
        assert jira_error(r) == "The provided next page token is invalid or expired."


@pytest.mark.parametrize("token", ["", "!!!", "x" * 10_000, 12, ["a"]])
def test_garbage_page_tokens_are_400(token):
    with serve(mode="cloud", seed_issues=5) as sb:
        r = requests.post(sb.url + "/rest/api/3/search/jql", json={"jql": "project = DEMO", "nextPageToken": token},
                          auth=sb.auth, timeout=30)
        assert r.status_code in (200, 400) and r.status_code != 500
        if token:
            assert r.status_code == 400


def test_a_token_with_a_valid_offset_signed_with_the_old_public_key_is_refused():
    jql = "project = DEMO"
    with serve(mode="cloud", seed_issues=30) as sb:
        first = requests.post(sb.url + "/rest/api/3/search/jql", json={"jql": jql, "maxResults": 5},
                              auth=sb.auth, timeout=30).json()
        real = first["nextPageToken"]
        page = requests.post(sb.url + "/rest/api/3/search/jql", json={"jql": jql, "maxResults": 5,
                                                                      "nextPageToken": real}, auth=sb.auth, timeout=30)
        assert page.status_code == 200 and len(page.json()["issues"]) == 5
        r = requests.post(sb.url + "/rest/api/3/search/jql", json={"jql": jql, "nextPageToken": forged(5, jql)},
                          auth=sb.auth, timeout=30)
        assert r.status_code == 400
        other = requests.post(sb.url + "/rest/api/3/search/jql", json={"jql": "project = OPS", "nextPageToken": real},
                              auth=sb.auth, timeout=30)
        assert other.status_code == 400  # a token is bound to its JQL
    with serve(mode="cloud", seed_issues=30) as again:  # another run: another key
        r = requests.post(again.url + "/rest/api/3/search/jql", json={"jql": jql, "nextPageToken": real},
                          auth=again.auth, timeout=30)
        assert r.status_code == 400
