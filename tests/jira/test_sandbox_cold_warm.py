"""A first (cold) search answers the bytes a repeated (warm, cached) one does, and what a whole decode of each issue gives.

On demo data with every kind of field value (objects, users, dates, lists, rank, comments, links, and
custom fields holding big integers, floats, booleans, null, nested objects and escaped text), fields in
another order, documents without a rank or links, an empty fields object, no fields at all, and issues
imported as JSON text beside those imported as dicts (one page mixes both). Server/DC pages and Cloud
bulkfetch batches, REST v2 and v3, several field selections, before and after writes.
"""

from __future__ import annotations

import base64
import json

import pytest
from msgspec.json import Encoder
from werkzeug.test import Client

from labkit.jira.model import RANK_FIELD
from labkit.jira.sandbox.app import JiraApp
from labkit.jira.sandbox.demo import generate
from labkit.jira.store import Store

pytestmark = pytest.mark.integration

SECRET = "cold-warm"
AUTH = {"Authorization": "Basic " + base64.b64encode(f"admin:{SECRET}".encode()).decode()}
CLIENT_FIELDS = ["summary", "status", "issuetype", "priority", "assignee", "reporter", "created", "updated",
                 "resolutiondate", "labels", "components", "issuelinks", RANK_FIELD]
SHAPES = [CLIENT_FIELDS, None, ["*all"], ["*all", "-comment", "-description", "-environment"], ["summary"],
          [RANK_FIELD], ["issuelinks"], ["comment", "description"], ["customfield_1", "customfield_2", "customfield_3",
                                                                     "customfield_4", "customfield_5", "customfield_6",
                                                                     "summary", "nothere"], ["nothere"]]
ODD_VALUES = {  # every kind of JSON value a field may hold
    "customfield_1": 12345678901234567890, "customfield_2": -0.5, "customfield_3": True,
    "customfield_4": None, "customfield_5": {"value": "caf\u00e9 \"q\" \\ \t\n\u2028 \U0001f600", "child": [1, [], {}]},
    "customfield_6": [1e16, 1.5e-7, "", None, False],
}


def _issues() -> list[dict]:
    """Demo issues and odd ones: odd custom values, fields reversed, no rank or links stored, empty or no fields."""
    issues = list(generate(240, seed=3))
    for k in range(0, 240, 7):
        issues[k]["fields"].update(ODD_VALUES)
    for k in range(1, 240, 11):
        issues[k]["fields"] = dict(reversed(list(issues[k]["fields"].items())))
    for k in range(2, 240, 13):
        issues[k]["fields"].pop(RANK_FIELD)
        issues[k]["fields"].pop("issuelinks", None)
    return issues + [{"id": "900001", "key": "ODD-1", "fields": {}}, {"id": "900002", "key": "ODD-2"},
                     {"key": "ODD-3", "id": "900003", "expand": "x", "fields": {"summary": "around", **ODD_VALUES},
                      "self": "elsewhere"}]


def _text_issues() -> list[str]:
    """Issues imported as JSON text (stored as given, compact or pretty-printed)."""
    return [json.dumps({"id": str(800000 + k), "key": f"TXT-{k}", "fields": {"summary": f"text {k}", **ODD_VALUES}},
                       indent=1 if k % 2 else None) for k in range(1, 30)]


def _app(mode: str) -> JiraApp:
    """A sandbox app over the demo and odd issues."""
    def make():
        store = Store()
        store.import_issues(_issues())
        store.import_issues(_text_issues())
        return store
    return JiraApp(make, secret=SECRET, mode=mode)


def _search(app: JiraApp, version: str, spec, mode: str) -> list[tuple[list[str], bytes]]:
    """Every issue's answer, by request: Server/DC pages of 100 in key order, or Cloud bulkfetch batches of 50
    (keys, some lower-case, and ids); each with the keys or ids it asked for and the bytes of its issues."""
    client = Client(app)
    keys = app.db(lambda s: s.search_keys("ORDER BY key ASC")[0])
    ids = dict(app.db(lambda s: s.db.execute("SELECT key, id FROM issue").fetchall()))
    out = []
    for start in range(0, len(keys), 100 if mode == "server" else 50):
        fields = {"fields": spec} if spec else {}
        if mode == "server":
            asked = keys[start:start + 100]
            r = client.post(f"/rest/api/{version}/search", headers=AUTH,
                            json={"jql": "ORDER BY key ASC", "startAt": start, "maxResults": 100, **fields})
            issues = r.data[r.data.index(b'"issues":[') + len(b'"issues":['):-2]
        else:
            asked = [k.lower() if n % 3 == 1 else ids[k] if n % 3 == 2 else k
                     for n, k in enumerate(keys[start:start + 50])]
            r = client.post(f"/rest/api/{version}/issue/bulkfetch", json={"issueIdsOrKeys": asked, **fields},
                            headers=AUTH)
            issues = r.data[r.data.index(b'"issues":[') + len(b'"issues":['):r.data.index(b'],"issueErrors"')]
        assert r.status_code == 200, r.data[:300]
        out.append((asked, issues))
    return out


def _whole(app: JiraApp, asked: list[str], version: str, spec) -> bytes:
    """The issues decoded whole (``Store.get_issues``), rendered and encoded: an oracle sharing no selection code."""
    enc = Encoder()
    return b",".join(enc.encode(app.issue_json(i, version, "http://localhost", spec, "*navigable", None, 100))
                     for i in app.db(lambda s: s.get_issues(asked)))


def _edit(app: JiraApp) -> None:
    """Writes through the REST API: an edited summary, a new link, a comment, a rank change."""
    client = Client(app)
    for method, path, body in [
        ("put", "/rest/api/2/issue/DEMO-5", {"fields": {"summary": "Edited: caf\u00e9 \"q\" \\"}}),
        ("post", "/rest/api/2/issueLink", {"type": {"name": "Blocks"}, "inwardIssue": {"key": "DEMO-5"},
                                           "outwardIssue": {"key": "ODD-3"}}),
        ("post", "/rest/api/2/issue/OPS-7/comment", {"body": "a new comment"}),
        ("put", "/rest/agile/1.0/issue/rank", {"issues": ["NET-9", "ODD-1"], "rankBeforeIssue": "DEMO-1"}),
    ]:
        r = getattr(client, method)(path, json=body, headers=AUTH)
        assert r.status_code in (201, 204), r.data


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["server", "cloud"])
def test_cold_answers_equal_warm_answers_and_a_whole_decode_on_every_kind_of_field(mode):
    app = _app(mode)
    try:
        for edited in (False, True):
            if edited:
                _edit(app)
            for version in ("2", "3"):
                for spec in SHAPES:
                    app.invalidate()
                    cold = _search(app, version, spec, mode)
                    assert _search(app, version, spec, mode) == cold, (version, spec, edited)  # warm: cached
                    for asked, issues in cold:
                        assert issues == _whole(app, asked, version, spec), (version, spec, edited, asked[:3])
    finally:
        app.close()
