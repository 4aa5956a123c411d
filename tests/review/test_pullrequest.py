"""PullRequest.from_url: GitHub, GHE, Gitea/Forgejo, API and short forms."""

from __future__ import annotations

import pytest

from labkit.review import PullRequest, ReviewError
from labkit.review.pullrequest import RateLimit, alternate_patch_link

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("ref, web, api, flavor", [
    ("https://github.com/eucalyptus/eucalyptus/pull/53", "https://github.com", "https://api.github.com", "github"),
    ("https://github.com/eucalyptus/eucalyptus/pull/53.patch", "https://github.com", "https://api.github.com",
     "github"),
    ("https://github.com/eucalyptus/eucalyptus/pull/53/commits", "https://github.com", "https://api.github.com",
     "github"),
    ("https://api.github.com/repos/eucalyptus/eucalyptus/pulls/53", "https://github.com", "https://api.github.com",
     "github"),
    ("eucalyptus/eucalyptus#53", "https://github.com", "https://api.github.com", "github"),
    ("https://ghe.corp.example/eucalyptus/eucalyptus/pull/53", "https://ghe.corp.example",
     "https://ghe.corp.example/api/v3", "github"),
    ("https://codeberg.org/eucalyptus/eucalyptus/pulls/53.patch", "https://codeberg.org",
     "https://codeberg.org/api/v1", "gitea"),
    ("https://git.example/gitea/eucalyptus/eucalyptus/pulls/53", "https://git.example/gitea",
     "https://git.example/gitea/api/v1", "gitea"),
])
def test_from_url_forms(ref, web, api, flavor, monkeypatch):
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    pr = PullRequest.from_url(ref)
    assert (pr.owner, pr.repo, pr.number) == ("eucalyptus", "eucalyptus", 53)
    assert (pr.web_url, pr.api_url, pr.flavor) == (web, api, flavor)
    assert pr.patch_url.endswith("/53.patch") and pr.patch_url.startswith(web)
    assert pr.api_pull_url == f"{api}/repos/eucalyptus/eucalyptus/pulls/53"


def test_short_form_on_an_enterprise_base(monkeypatch):
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_example")
    pr = PullRequest.from_url("team/cloud#7", base_url="https://ghe.example/")
    assert pr.api_url == "https://ghe.example/api/v3" and pr.html_url == "https://ghe.example/team/cloud/pull/7"
    assert "ghp_example" not in repr(pr) and pr.token.reveal() == "ghp_example"


def test_not_a_pull_request_is_a_clear_error():
    with pytest.raises(ReviewError, match="is not a pull request"):
        PullRequest.from_url("https://github.com/eucalyptus/eucalyptus/issues/5")


def test_alternate_link_discovery():
    page = ('<html><head><link rel="stylesheet" href="/a.css">'
            '<link rel="alternate" type="text/x-patch" href="/o/r/pull/3.patch"></head></html>')
    assert alternate_patch_link(page, "https://h.example/o/r/pull/3") == "https://h.example/o/r/pull/3.patch"
    assert alternate_patch_link("<html></html>", "https://h.example/") is None


def test_rate_limit_headers():
    rl = RateLimit.from_headers({"X-RateLimit-Limit": "60", "X-RateLimit-Remaining": "0",
                                 "X-RateLimit-Reset": "1700000000"})
    assert rl is not None and rl.remaining == 0 and rl.reset_at.year == 2023
    assert RateLimit.from_headers({}) is None
