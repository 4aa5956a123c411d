"""Sandbox responses validate against Atlassian's published OpenAPI specs (openapi-core)."""

from __future__ import annotations

import json

import pytest
import requests

from labkit.jira.sandbox import serve
from labkit.jira.sandbox.app import GONE_MESSAGE

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def load_api(path, url: str):
    """Load a published OpenAPI spec aimed at the sandbox's URL."""
    from openapi_core import Config, OpenAPI

    spec = json.loads(path.read_text(encoding="utf-8"))
    spec["servers"] = [{"url": url}]
    # The published specs do not pass the strict spec validator themselves (an enum default of
    # ""), so only responses are validated, not the documents.
    return OpenAPI.from_dict(spec, config=Config(spec_validator_cls=None))


@pytest.fixture(scope="module")
def specs(shared_data):
    """The folder of published Jira OpenAPI specs (skip when the shared data is absent)."""
    folder = shared_data / "jira" / "openapi"
    if not (folder / "jira-platform.v3.json").is_file():
        pytest.skip(f"published Jira OpenAPI specs not found in {folder}")
    return folder


@pytest.fixture(scope="module")
def cloud(specs):
    """A Cloud-mode sandbox with the platform and software OpenAPI validators aimed at it."""
    with serve(mode="cloud", seed_issues=120, seed=2) as sb:
        yield sb, load_api(specs / "jira-platform.v3.json", sb.url), load_api(specs / "jira-software.v3.json", sb.url)


def check(api, sb, method: str, path: str, **kwargs) -> requests.Response:
    """Call the sandbox and validate the response against the spec's operation."""
    from openapi_core.contrib.requests import RequestsOpenAPIRequest, RequestsOpenAPIResponse

    r = requests.request(method, sb.url + path, auth=sb.auth, **kwargs)
    request, response = RequestsOpenAPIRequest(r.request), RequestsOpenAPIResponse(r)
    if r.content:
        api.validate_response(request, response)
    else:  # 201/204 without a body: the status must be one the operation declares
        from openapi_core.templating.paths.finders import APICallPathFinder

        found = APICallPathFinder(api.spec).find(request.method, request.host_url + request.path)
        assert str(r.status_code) in found.operation / "responses"
    return r


def test_platform_responses_match_the_spec(cloud):
    sb, platform, _ = cloud
    key = sb.app.db(lambda s: s.search_keys("ORDER BY key ASC")[0][0])
    project = sb.app.db(lambda s: s.projects()[0]["key"])
    calls = [
        ("GET", "/rest/api/3/serverInfo", {}),
        ("GET", "/rest/api/3/myself", {}),
        ("GET", "/rest/api/3/field", {}),
        ("GET", "/rest/api/3/issueLinkType", {}),
        ("GET", "/rest/api/3/project", {}),
        ("GET", f"/rest/api/3/project/{project}", {}),
        ("GET", "/rest/api/3/status", {}),
        ("GET", f"/rest/api/3/issue/{key}", {}),
        ("PUT", f"/rest/api/3/issue/{key}", {"json": {"fields": {"summary": "validated"}}}),
        ("POST", "/rest/api/3/issue", {"json": {"fields": {"project": {"key": project}, "summary": "n",
                                                           "issuetype": {"name": "Bug"}}}}),
        ("POST", "/rest/api/3/issue/bulk", {"json": {"issueUpdates": [
            {"fields": {"project": {"key": project}, "summary": "b", "issuetype": {"name": "Task"}}}]}}),
        ("POST", "/rest/api/3/issueLink", {"json": {"type": {"name": "Blocks"}, "inwardIssue": {"key": key},
                                                    "outwardIssue": {"key": f"{project}-2"}}}),
        ("POST", f"/rest/api/3/issue/{key}/comment", {"json": {"body": {"type": "doc", "version": 1, "content": [
            {"type": "paragraph", "content": [{"type": "text", "text": "hi"}]}]}}}),
        ("GET", f"/rest/api/3/issue/{key}/comment", {}),
        ("POST", "/rest/api/3/search/jql", {"json": {"jql": "created is not EMPTY", "maxResults": 30,
                                                     "fields": ["summary", "status"]}}),
        ("GET", "/rest/api/3/search/jql", {"params": {"jql": "created is not EMPTY"}}),
        ("POST", "/rest/api/3/search/jql", {"json": {"jql": "ORDER BY key"}}),  # 400: unbounded
        ("POST", "/rest/api/3/search/approximate-count", {"json": {"jql": "created is not EMPTY"}}),
        ("POST", "/rest/api/3/issue/bulkfetch", {"json": {"issueIdsOrKeys": [key], "fields": ["summary"]}}),
    ]
    statuses = [check(platform, sb, m, p, **kw).status_code for m, p, kw in calls]
    assert statuses.count(400) == 1 and all(s < 300 for s in statuses if s != 400)


def test_last_cloud_page_validates_without_a_token(cloud):
    sb, platform, _ = cloud
    r = check(platform, sb, "POST", "/rest/api/3/search/jql",
              json={"jql": "created is not EMPTY", "maxResults": 5000, "fields": ["id"]})
    assert r.json()["isLast"] is True and "nextPageToken" not in r.json()


def test_software_rank_and_backlog_match_the_spec(cloud):
    sb, _, software = cloud
    keys = sb.app.db(lambda s: s.search_keys("ORDER BY Rank ASC")[0])
    assert check(software, sb, "PUT", "/rest/agile/1.0/issue/rank",
                 json={"issues": [keys[3]], "rankBeforeIssue": keys[0]}).status_code == 204
    assert check(software, sb, "PUT", "/rest/agile/1.0/issue/rank",
                 json={"issues": [keys[4], "NOPE-1"], "rankAfterIssue": keys[0]}).status_code == 207
    assert check(software, sb, "GET", "/rest/agile/1.0/board/1/backlog").status_code == 200


def test_removed_search_answers_410_with_atlassians_message(cloud):
    sb, _, _ = cloud
    r = requests.get(sb.url + "/rest/api/3/search", params={"jql": "created is not EMPTY"}, auth=sb.auth)
    assert r.status_code == 410 and r.json()["errorMessages"] == [GONE_MESSAGE]
