"""Issue 15, defect 10: ``--amend-issue`` text never becomes a mail header (it made Mallory the author).

Issue IDs are checked against the issue pattern (whole ID, one line) and written into the commit message
after ``git am``, never into the mail it reads.
"""

from __future__ import annotations

import pytest

from labkit.cli import main
from labkit.review import ReviewError, apply_series
from tests.review.conftest import git, neg_branch

pytestmark = [pytest.mark.integration]

EVIL = "EUCA-1\nFrom: Mallory <m@evil.example>"


@pytest.fixture
def pr(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    (repo / "calc.py").write_text("def add(a, b):\n    return a + b\n")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "initial")
    patch = tmp_path / "pr.patch"
    patch.write_bytes(neg_branch(repo))
    return repo, patch


def test_cli_refuses_a_header_in_the_issue_id(pr, capsys):
    repo, patch = pr
    before = git(repo, "rev-parse", "main")
    code = main(["pr", "apply", str(patch), "--repo", str(repo), "--onto", "main", "--merge", "ff",
                 "--amend-issue", EVIL])
    out, err = capsys.readouterr()
    assert code == 1 and err.count("\n") == 1 and "is not an issue ID" in err and "--amend-issue" in err
    assert git(repo, "rev-parse", "main") == before
    assert "evil" not in git(repo, "log", "--all", "--format=%an %ae")


@pytest.mark.parametrize("issue, pattern", [
    (EVIL, r"\b[A-Z][A-Z0-9]+-\d+\b"),
    (EVIL, r"(?s).+"),                         # even a pattern that matches anything
    ("EUCA-1\rFrom: M <m@evil.example>", r"(?s).+"),
    ("NOT AN ID", r"EUCA-\d+"),
    ("xEUCA-1", r"EUCA-\d+"),                  # the whole ID must match
])
def test_python_refuses_before_anything_changes(pr, issue, pattern):
    repo, patch = pr
    before = git(repo, "for-each-ref")
    with pytest.raises(ReviewError, match="is not an issue ID"):
        apply_series(repo, patch.read_bytes(), onto="main", amend_issue=issue, issue_pattern=pattern, merge="ff")
    with pytest.raises(ReviewError, match="is not an issue ID"):
        apply_series(repo, patch.read_bytes(), onto="main", amend_issue={1: issue}, issue_pattern=pattern, merge="ff")
    assert git(repo, "for-each-ref") == before


def test_a_valid_id_goes_into_the_subject_and_the_author_stays(pr):
    repo, patch = pr
    res = apply_series(repo, patch.read_bytes(), onto="main", amend_issue="EUCA-1", merge="ff")
    assert res.status == "merged"
    assert git(repo, "log", "-1", "--format=%an <%ae>|%s", "main").strip() == \
        "Test Author <author@example.com>|EUCA-1: add neg"
