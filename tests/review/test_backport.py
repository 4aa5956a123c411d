"""backport() onto several branches in parallel scratch worktrees: the grid, kept branches, and a repo left as it was."""

from __future__ import annotations

import subprocess

import pytest

from labkit.cli import main
from labkit.review import ReviewError, parse_mbox
from labkit.review.backports import backport

from .conftest import git
from .test_apply import repo_state

pytestmark = pytest.mark.integration


@pytest.fixture
def branches(make_repo):
    """main and two release branches; a 3-commit topic whose last commit touches a file release-1 lacks."""
    repo = make_repo()
    (repo / "test_calc.py").write_text("import calc\nassert calc.add(2, 3) == 5\n")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "tests")
    git(repo, "branch", "release-1")
    (repo / "NEWS").write_text("news\n")
    git(repo, "add", "NEWS")
    git(repo, "commit", "-q", "-m", "news")
    git(repo, "branch", "release-2")
    git(repo, "checkout", "-q", "-b", "topic")
    (repo / "calc.py").write_text("def add(a, b):\n    return a + b\n\n\ndef neg(a):\n    return -a\n")
    git(repo, "commit", "-q", "-am", "CALC-1: neg")
    (repo / "test_calc.py").write_text("import calc\nassert calc.add(2, 3) == 5\nassert calc.neg(1) == -1\n")
    git(repo, "commit", "-q", "-am", "CALC-1: test neg")
    (repo / "NEWS").write_text("news\nneg() added\n")
    git(repo, "commit", "-q", "-am", "CALC-1: news")
    git(repo, "checkout", "-q", "main")
    (repo / "untracked.txt").write_text("mine\n")
    mbox = subprocess.run(["git", "-C", str(repo), "format-patch", "--stdout", "main..topic"],
                          capture_output=True, check=True).stdout
    return repo, parse_mbox(mbox)


def test_grid_of_branches_and_commits_leaves_repo_byte_for_byte(branches):
    repo, series = branches
    before = repo_state(repo)
    bp = backport(repo, series, ["release-1", "release-2", "main"], test_cmd="python3 test_calc.py",
                  test_each=True, branch_prefix="bp/", dry_run=True)
    rows = bp.grid_rows()
    assert [r["release-1"] for r in rows] == ["applied, tests pass", "applied, tests pass", "conflict: NEWS",
                                              "pass on all 2 commits (2 of 3 applied)"]
    assert [r["release-2"] for r in rows] == ["applied, tests pass"] * 3 + ["pass on all 3 commits"]
    assert bp.branches["release-1"].status == "partial" and bp.branches["release-1"].conflicts == {3: ["NEWS"]}
    assert bp.branches["release-2"].ok and bp.branches["release-2"].branch == "bp/release-2"
    assert not any(b.branch_created for b in bp.branches.values())
    assert not bp.ok
    assert repo_state(repo) == before  # a dry run, tests and a conflict: nothing changed


def test_apply_keeps_only_the_clean_branches(branches):
    repo, series = branches
    bp = backport(repo, series, ["release-1", "release-2"], test_cmd="python3 test_calc.py", branch_prefix="bp/")
    assert bp.branches["release-2"].branch_created and not bp.branches["release-1"].branch_created
    assert git(repo, "branch", "--list", "bp/*").split() == ["bp/release-2"]
    assert git(repo, "log", "--format=%s", "-3", "bp/release-2").splitlines() == [
        "CALC-1: news", "CALC-1: test neg", "CALC-1: neg"]
    assert git(repo, "worktree", "list").count("\n") == 1


def test_failing_tests_and_bad_names_change_nothing(branches):
    repo, series = branches
    git(repo, "branch", "keep/release-2", "release-2")
    before = repo_state(repo)
    bp = backport(repo, series, ["release-2"], test_cmd="false", branch_prefix="bp/")
    assert bp.branches["release-2"].status == "tests-failed" and not bp.branches["release-2"].branch_created
    with pytest.raises(ReviewError, match="not a branch, tag or commit"):
        backport(repo, series, ["release-2", "nope"])
    with pytest.raises(ReviewError, match="already exists"):
        backport(repo, series, ["release-2"], branch_prefix="keep/")
    assert repo_state(repo) == before


def test_cli_backport_is_a_grid_and_a_dry_run(branches, tmp_path, capsys):
    repo, series = branches
    patch = tmp_path / "topic.patch"
    patch.write_bytes(series.to_mbox())
    before = repo_state(repo)
    code = main(["pr", "backport", str(patch), "--repo", str(repo), "--onto", "release-1", "--onto", "release-2",
                 "--branch-prefix", "bp/"])
    out, err = capsys.readouterr()
    assert code == 1 and "conflict: NEWS" in out and "would create branch bp/release-2 (add --apply)" in err
    assert repo_state(repo) == before


@pytest.mark.parametrize("extra, flag", [
    (["--onto", "nope"], "--onto"),
    (["--onto", "release-2", "--branch-prefix", "bad..name/"], "--branch-prefix"),
    (["--onto", "release-2", "--branch-prefix", "keep/"], "--branch-prefix"),
    (["--onto", "release-2", "--amend-issue", "not an id"], "--amend-issue"),
])
def test_cli_backport_hints_name_the_flag_and_change_nothing(branches, tmp_path, capsys, extra, flag):
    repo, series = branches
    git(repo, "branch", "keep/release-2", "release-2")
    patch = tmp_path / "topic.patch"
    patch.write_bytes(series.to_mbox())
    before = repo_state(repo)
    code = main(["pr", "backport", str(patch), "--repo", str(repo), *extra, "--apply"])
    out, err = capsys.readouterr()
    assert code == 1 and out == "" and err.startswith("labkit: error:") and err.count("\n") == 1, err
    assert flag in err, err
    assert repo_state(repo) == before
