"""PullRequest.from_url: GitHub, GHE, Gitea/Forgejo, API and short forms."""

from __future__ import annotations

import pytest

from labkit.review import PullRequest, ReviewError
from labkit.review.pullrequest import RateLimit, alternate_patch_link, token_allowed

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
    assert pr.token is None and not pr.has_token  # $GITHUB_TOKEN is github.com's: it goes nowhere else
    gh = PullRequest.from_url("team/cloud#7")
    assert gh.has_token and "ghp_example" not in repr(gh) and gh.token.reveal() == "ghp_example"
    ghe = PullRequest.from_url("team/cloud#7", base_url="https://ghe.example/", token="ghe_token")
    assert ghe.has_token and ghe.token_host == "https://ghe.example"


@pytest.mark.parametrize("url, host, allowed", [
    ("https://api.github.com/repos/o/r/pulls/1", "https://api.github.com", True),
    ("https://API.GITHUB.COM/repos/o/r/pulls/1", "https://api.github.com", True),
    ("https://api.github.com.evil.example/repos", "https://api.github.com", False),
    ("http://api.github.com/repos/o/r/pulls/1", "https://api.github.com", False),  # same host, other scheme
    ("https://github.com/o/r/pull/1.patch", "https://api.github.com", False),
    ("http://127.0.0.1:8080/repos/o/r/pulls/1", "http://127.0.0.1:8080", True),  # loopback: plain http is fine
    ("http://127.0.0.1:9999/repos/o/r/pulls/1", "http://127.0.0.1:8080", False),  # another port
    ("http://git.example/repos/o/r/pulls/1", "http://git.example", False),  # never over plain http
    ("https://u:p@ghe.example/api/v3", "https://ghe.example", True),
])
def test_a_token_goes_only_to_its_host_over_https_or_loopback(url, host, allowed):
    assert token_allowed(url, host) is allowed


def test_a_token_for_a_plain_http_forge_is_refused():
    with pytest.raises(ReviewError, match="refusing to send the token to http://git.example over plain http"):
        PullRequest.from_url("http://git.example/o/r/pull/1", token="t")


@pytest.mark.parametrize("ref", ["o/r#5@0123abcd", "https://github.com/o/r/pull/5@0123abcd",
                                 "https://api.github.com/repos/o/r/pulls/5@0123abcd"])
def test_a_previous_head_is_named_with_at_sha(ref, monkeypatch):
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    pr = PullRequest.from_url(ref)
    assert (pr.number, pr.at) == (5, "0123abcd")
    assert pr.compare_url(pr.at, base="main") == "https://github.com/o/r/compare/main...0123abcd.patch"


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
