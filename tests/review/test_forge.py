"""The sandbox forge over real HTTP and real git: PR page, .patch, API v3 patch media type, pagination, limits."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest
import requests

import labkit.sandbox as sandbox
from labkit.cli import main
from labkit.review import PullRequest, ReviewError, apply_series
from labkit.review.forge import ISSUE_PATTERN
from labkit.review.rangediff import range_diff

from .test_apply import repo_state

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
def forge_run(tmp_path_factory):
    rd = tmp_path_factory.mktemp("run")
    sandbox.start(["forge"], rd=rd)
    try:
        yield rd
    finally:
        sandbox.stop(["forge"], rd=rd)


@pytest.fixture
def forge(forge_run):
    return sandbox.url("forge", rd=forge_run), sandbox.secret("forge", rd=forge_run)


@pytest.fixture
def sandbox_profile(forge_run, monkeypatch, tmp_path):
    """The CLI on the built-in sandbox profile, with the module's forge as the running sandbox."""
    monkeypatch.setenv("LABKIT_RUN_DIR", str(forge_run))
    monkeypatch.setenv("LABKIT_CONFIG", str(tmp_path / "no-config.toml"))
    monkeypatch.delenv("LABKIT_PROFILE", raising=False)
    return forge_run


def clone_of(url: str, tmp_path, *branches: str):
    """The maintainer's clone of the forge's demo repository, with local release branches."""
    clone = tmp_path / "calc"
    subprocess.run(["git", "clone", "-q", PullRequest.from_url(f"{url}/demo/calc/pull/1").repository()["clone_url"],
                    str(clone)], check=True)
    for b in branches:
        subprocess.run(["git", "-C", str(clone), "branch", b, f"origin/{b}"], check=True, capture_output=True)
    return clone


@pytest.fixture
def limited_forge(tmp_path):
    """A forge process with 2 anonymous API calls per 3 s window."""
    port = sandbox.free_port()
    proc = subprocess.Popen([sys.executable, "-m", "labkit.review.forge", "--port", str(port), "--workdir",
                             str(tmp_path), "--anon-limit", "2", "--window", "3"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(200):
            if sandbox.port_open(port):
                break
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_every_fetch_route_gives_the_same_series(forge):
    url, secret = forge
    pr = PullRequest.from_url(f"{url}/demo/calc/pull/1", token=None)
    assert pr.api_url == f"{url}/api/v3"
    via_patch = pr.fetch_series("patch")
    via_page = pr.fetch_series("page")
    via_api = PullRequest.from_url(f"{url}/demo/calc/pull/1", token=secret).fetch_series("api")
    gitea = PullRequest.from_url(f"{url}/demo/calc/pulls/1").fetch_series("api")
    for s in (via_page, via_api, gitea):
        assert [(c.subject, c.author, c.added) for c in s] == [(c.subject, c.author, c.added) for c in via_patch]
    assert [c.subject for c in via_patch] == ["Add mul()", "CALC-7: test mul()"]
    assert via_patch.authors == ["Ada Lovelace <ada@example.org>"]


def test_api_info_pagination_and_token(forge):
    url, secret = forge
    pr = PullRequest.from_url("demo/calc#1", base_url=url, token=secret)
    info = pr.info()
    assert info["base"]["ref"] == "main" and info["head"]["ref"] == "feature/mul"
    assert len(pr.commits(per_page=1)) == 2  # two pages joined through the Link header
    assert [p["number"] for p in pr.list_pulls(per_page=2)] == [1, 2, 3, 4, 5]  # three pages
    assert pr.rate_limit is not None and pr.rate_limit.limit == 5000
    r = requests.get(f"{url}/repos/demo/calc/pulls", params={"per_page": 1}, timeout=10)
    assert 'rel="next"' in r.headers["Link"] and r.headers["X-RateLimit-Limit"] == "60"
    bad = PullRequest.from_url("demo/calc#1", base_url=url, token="wrong")
    with pytest.raises(ReviewError, match="refused the token"):
        bad.info()


def _use_up_the_window(url: str) -> None:
    """Make anonymous API calls until the forge refuses one, in a window with time left (the client must wait)."""
    for _ in range(50):
        r = requests.get(f"{url}/repos/demo/calc/pulls/2", timeout=10)
        if r.status_code == 403 and int(r.headers["X-RateLimit-Reset"]) - time.time() > 1.0:
            return
        if r.status_code == 403:  # the window is about to reset: wait for a fresh one and use it up
            time.sleep(max(0.0, int(r.headers["X-RateLimit-Reset"]) - time.time()) + 0.05)
    pytest.fail("the forge never refused an anonymous call")


def test_rate_limit_waits_or_explains(limited_forge):
    url = limited_forge
    waits: list[float] = []
    pr = PullRequest.from_url(f"{url}/demo/calc/pull/2", token=None, max_wait=5)
    pr.sleep = lambda s: (waits.append(s), time.sleep(s))
    _use_up_the_window(url)
    assert pr.fetch_series("api")[0].subject == "CALC-8: add() adds b to a"  # waited for the reset, then got it
    assert len(waits) == 1 and 0 < waits[0] <= pr.max_wait  # waited once, within the allowed bound
    impatient = PullRequest.from_url(f"{url}/demo/calc/pull/2", token=None, max_wait=0)
    _use_up_the_window(url)
    with pytest.raises(ReviewError, match=r"rate limit exhausted .* resets at"):
        impatient.fetch_patch("api")
    assert impatient.rate_limit is not None and impatient.rate_limit.remaining == 0


def test_forge_pr_applies_onto_release_branch_and_merges(forge, tmp_path):
    url, _ = forge
    pr = PullRequest.from_url(f"{url}/demo/calc/pull/1")
    clone = tmp_path / "calc"
    subprocess.run(["git", "clone", "-q", pr.repository()["clone_url"], str(clone)], check=True)
    subprocess.run(["git", "-C", str(clone), "branch", "release-1.x", "origin/release-1.x"], check=True,
                   capture_output=True)
    res = apply_series(clone, pr.fetch_series(), onto="release-1.x", amend_issue="CALC-7",
                       issue_pattern=ISSUE_PATTERN, test_cmd="python3 -m unittest -q", merge="merge")
    assert res.status == "merged", res.message + (res.test.output if res.test else "")
    log = subprocess.run(["git", "-C", str(clone), "log", "--format=%s", "-3", "release-1.x"], capture_output=True,
                         text=True, check=True).stdout.splitlines()
    assert log[1:] == ["CALC-7: test mul()", "CALC-7: Add mul()"]
    conflicting = apply_series(clone, PullRequest.from_url(f"{url}/demo/calc/pull/2").fetch_series(),
                               onto="release-1.x")
    assert conflicting.status == "conflict"
    failing = apply_series(clone, PullRequest.from_url(f"{url}/demo/calc/pull/3").fetch_series(), onto="main",
                           test_cmd="python3 -m unittest -q")
    assert failing.status == "tests-failed" and "FAILED" in failing.test.output


def test_large_pr_is_refused_406_then_fetched_with_git(forge, tmp_path):
    url, _ = forge
    for path in ("/demo/calc/pull/4.patch", "/demo/calc/pull/4.diff"):
        r = requests.get(url + path, timeout=10)
        assert r.status_code == 406 and "maximum number of files (300)" in r.json()["message"]
    r = requests.get(f"{url}/repos/demo/calc/pulls/4", headers={"Accept": "application/vnd.github.patch"}, timeout=10)
    assert r.status_code == 406 and r.json()["errors"][0]["code"] == "too_large"
    clone = clone_of(url, tmp_path)
    before = repo_state(clone)
    pr = PullRequest.from_url(f"{url}/demo/calc/pull/4")
    series = pr.fetch_series(repo=clone)  # borrows the clone's objects, writes nothing into it
    assert pr.tried == ["git"] and len(series) == 1 and len(series[0].files) == 301
    assert series[0].subject == "CALC-13: vendor the icon set"
    assert repo_state(clone) == before
    res = apply_series(clone, series, onto="main")
    assert res.status == "applied" and repo_state(clone) == before


def test_force_pushed_pr_revisions_and_range_diff(forge):
    url, _ = forge
    pr = PullRequest.from_url(f"{url}/demo/calc/pull/5")
    ((old, new),) = pr.force_pushes()
    assert new == pr.info()["head"]["sha"] and old != new
    v1 = PullRequest.from_url(f"demo/calc#5@{old[:10]}", base_url=url).fetch_series()
    v2 = pr.fetch_series()
    assert [c.subject for c in v1] == ["CALC-11: add div()", "CALC-11: test div()"]
    rd = range_diff(v1, v2)
    assert [(r.old, r.status, r.new) for r in rd.rows] == [(1, "changed", 1), (2, "unchanged", 2), (None, "added", 3)]
    assert "ZeroDivisionError" in rd.rows[0].diff
    r = requests.get(f"{url}/demo/calc/compare/main...{old}.patch", timeout=10)
    assert r.status_code == 200 and r.content.count(b"\nFrom ") + r.content.startswith(b"From ") == 2


def test_cli_on_the_sandbox_profile_uses_the_sandbox_forge(sandbox_profile, capsys, tmp_path):
    assert main(["pr", "review", "demo/calc#1", "--format", "json", "--issue-pattern", ISSUE_PATTERN]) == 1
    out = capsys.readouterr().out
    import json

    doc = json.loads(out)
    assert [r["subject"] for r in doc["series"]] == ["Add mul()", "CALC-7: test mul()"]
    assert main(["pr", "range-diff", "demo/calc#5", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["status"] for r in rows] == ["changed", "unchanged", "added"]
    url = sandbox.url("forge", rd=sandbox_profile)
    clone = clone_of(url, tmp_path, "release-1.x")
    before = repo_state(clone)
    code = main(["pr", "backport", "demo/calc#5", "--repo", str(clone), "--onto", "main", "--onto", "release-1.x",
                 "--test", "python3 -m unittest -q", "--format", "json"])
    grid = json.loads(capsys.readouterr().out)
    assert code == 1 and [r["release-1.x"] for r in grid][2] == "conflict: README.md"
    assert [r["main"] for r in grid][-1] == "pass"
    assert repo_state(clone) == before


@pytest.mark.parametrize("path", ["/demo/calc/pull/{n}", "/demo/calc/pull/{n}.patch", "/demo/calc/pulls/{n}.diff",
                                  "/repos/demo/calc/pulls/{n}", "/api/v3/repos/demo/calc/pulls/{n}/commits",
                                  "/api/v1/repos/demo/calc/pulls/{n}.patch"])
def test_absurd_pr_numbers_are_400_and_the_forge_stays_up(forge, path):
    url, _ = forge
    r = requests.get(url + path.format(n="9" * 5000), timeout=10)
    assert r.status_code == 400 and "not a pull request number" in r.json()["message"]
    assert requests.get(url + path.format(n="1"), timeout=10).status_code == 200
