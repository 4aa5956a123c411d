"""Each check says pass/warn/fail with a reason; 'applies' and 'tests' run real git and leave no trace."""

from __future__ import annotations

import subprocess

import pytest

from labkit.review import check_series, parse_mbox
from labkit.review.checks import summary

from .conftest import data_dir, git

pytestmark = pytest.mark.integration


def series_from(repo, rev):
    out = subprocess.run(["git", "-C", str(repo), "format-patch", "--stdout", rev], capture_output=True,
                         check=True).stdout
    return parse_mbox(out)


@pytest.fixture
def pr_repo(make_repo):
    repo = make_repo()
    git(repo, "checkout", "-q", "-b", "pr")
    (repo / "calc.py").write_text("def add(a, b):\n    return a + b \n\n\ndef mul(a, b):\n    return a * b\n")
    git(repo, "commit", "-q", "-am", "EUCA-12: add mul\n\nSigned-off-by: Test Author <author@example.com>")
    (repo / "test_calc.py").write_text("from calc import mul\nassert mul(2, 3) == 6\n")
    git(repo, "add", "test_calc.py")
    git(repo, "commit", "-q", "-m", "add a test\n\nSigned-off-by: Someone Else <else@example.com>")
    git(repo, "checkout", "-q", "main")
    git(repo, "checkout", "-q", "-b", "diverged")
    (repo / "calc.py").write_text("def add(a, b):\n    return sum((a, b))\n")
    git(repo, "commit", "-q", "-am", "diverge")
    git(repo, "checkout", "-q", "main")
    return repo


def by(results, check, n):
    (r,) = [r for r in results if r.check == check and r.n == n]
    return r


def test_message_checks_explain_themselves(pr_repo):
    res = check_series(series_from(pr_repo, "main..pr"), issue_pattern=r"EUCA-\d+")
    assert by(res, "issue-id", 1).status == "pass" and "EUCA-12" in by(res, "issue-id", 1).detail
    assert by(res, "issue-id", 2).status == "fail" and "EUCA-" in by(res, "issue-id", 2).detail
    assert by(res, "signoff", 1).status == "pass"
    assert by(res, "signoff", 2).status == "warn" and "else@example.com" in by(res, "signoff", 2).detail
    assert by(res, "whitespace", 1).status == "warn" and "calc.py:2: trailing whitespace" in by(res, "whitespace", 1).detail
    assert by(res, "whitespace", 2).status == "pass"
    strict = check_series(series_from(pr_repo, "main..pr"), require_signoff=True)
    assert by(strict, "signoff", 2).status == "fail"


def test_applies_and_tests_against_real_targets(pr_repo):
    series = series_from(pr_repo, "main..pr")
    before = git(pr_repo, "for-each-ref"), (pr_repo / ".git" / "index").read_bytes()
    res = check_series(series, repo=pr_repo, onto="main", test_cmd="python3 test_calc.py")
    assert {r.status for r in res if r.check == "applies"} == {"pass"}
    assert by(res, "tests", 0).status == "pass"
    res = check_series(series, repo=pr_repo, onto="diverged")
    assert by(res, "applies", 1).status == "fail" and "diverged" in by(res, "applies", 1).detail
    assert by(res, "applies", 2).status == "warn"
    res = check_series(series, repo=pr_repo, onto="main", test_cmd="python3 -c 'raise SystemExit(4)'")
    assert by(res, "tests", 0).status == "fail" and "exited 4" in by(res, "tests", 0).detail
    assert (git(pr_repo, "for-each-ref"), (pr_repo / ".git" / "index").read_bytes()) == before
    assert summary(res)["fail"] >= 2


def test_binary_files_are_flagged_on_real_series():
    d = data_dir("eucalyptus")
    series = parse_mbox((d / "branch-binary-console-ean.patch").read_bytes())
    res = check_series(series, issue_pattern=None)
    assert all(by(res, "size", c.index).status == "warn" and "binary" in by(res, "size", c.index).detail
               for c in series)
