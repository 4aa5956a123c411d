"""apply_series with real git: apply onto any branch, amend, test, merge, and roll back completely."""

from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path

import pytest

from labkit.review import ReviewError, apply_series, parse_mbox

from .conftest import git

pytestmark = [pytest.mark.integration]


def repo_state(repo: Path) -> dict:
    """Everything the user could notice: refs, reflogs, HEAD, index, stash, config, worktrees and files."""
    gitdir = repo / ".git"
    state: dict = {"refs": git(repo, "for-each-ref", "--format=%(refname) %(objectname)"),
                   "head": (gitdir / "HEAD").read_bytes(),
                   "stash": git(repo, "stash", "list", "--format=%H %gs"),
                   "index": hashlib.sha256((gitdir / "index").read_bytes()).hexdigest()}
    for sub in ("refs", "logs", "worktrees"):
        base = gitdir / sub
        for p in sorted(base.rglob("*")) if base.exists() else []:
            if p.is_file():
                state[f".git/{p.relative_to(gitdir)}"] = p.read_bytes()
    for name in ("packed-refs", "config", "ORIG_HEAD", "FETCH_HEAD", "MERGE_HEAD"):
        p = gitdir / name
        state[f".git/{name}"] = p.read_bytes() if p.exists() else None
    for p in sorted(repo.rglob("*")):
        rel = p.relative_to(repo)
        if rel.parts[0] == ".git":
            continue
        st = p.lstat()
        state[f"wt/{rel}"] = (st.st_mode, p.read_bytes() if p.is_file() else None)
    return state


def format_patch(repo: Path, rev: str) -> bytes:
    """Return git format-patch --stdout output for a revision range."""
    return subprocess.run(["git", "-C", str(repo), "format-patch", "--binary", "--stdout", rev],
                          capture_output=True, check=True).stdout


@pytest.fixture
def busy_repo(make_repo):
    """A maintainer's repo: branches main/release, a PR branch, a stash, staged, modified and untracked files."""
    repo = make_repo()
    git(repo, "checkout", "-q", "-b", "release")
    (repo / "NOTES").write_text("release notes\n")
    git(repo, "add", "NOTES")
    git(repo, "commit", "-q", "-m", "release notes")
    git(repo, "checkout", "-q", "main")
    git(repo, "checkout", "-q", "-b", "pr")
    (repo / "calc.py").write_text("def add(a, b):\n    return a + b\n\n\ndef sub(a, b):\n    return a - b\n")
    git(repo, "commit", "-q", "-am", "Add sub")
    (repo / "test_calc.py").write_text("from calc import add, sub\nassert add(1, 2) == 3\nassert sub(3, 1) == 2\n")
    git(repo, "add", "test_calc.py")
    git(repo, "commit", "-q", "-m", "Add tests\n\nSigned-off-by: Test Author <author@example.com>")
    git(repo, "checkout", "-q", "main")
    (repo / "README").write_text("calc, stashed edit\n")
    git(repo, "stash", "-q")
    (repo / "README").write_text("calc, edited but not staged\n")
    (repo / "staged.txt").write_text("staged\n")
    git(repo, "add", "staged.txt")
    (repo / "untracked.txt").write_text("untracked\n")
    return repo


def test_applies_onto_another_branch_amends_tests_and_fast_forwards(busy_repo):
    repo = busy_repo
    series = parse_mbox(format_patch(repo, "main..pr"))
    before_main = git(repo, "rev-parse", "main").strip()
    worktree_files = {p: p.read_bytes() for p in repo.iterdir() if p.is_file()}
    res = apply_series(repo, series, onto="release", amend_issue="EUCA-42",
                       test_cmd="python3 test_calc.py", merge="ff")
    assert res.status == "merged", res.message
    assert [c.subject for c in res.commits] == ["EUCA-42: Add sub", "EUCA-42: Add tests"]
    assert res.test is not None and res.test.passed
    assert git(repo, "rev-parse", "release").strip() == res.head
    assert git(repo, "log", "--format=%an|%s", "-3", "release").splitlines() == [
        "Test Author|EUCA-42: Add tests", "Test Author|EUCA-42: Add sub", "Test Author|release notes"]
    assert "NOTES" in git(repo, "ls-tree", "--name-only", "release")
    assert git(repo, "rev-parse", "main").strip() == before_main
    assert {p: p.read_bytes() for p in repo.iterdir() if p.is_file()} == worktree_files
    assert git(repo, "worktree", "list").count("\n") == 1


def test_dry_run_changes_nothing_and_lists_the_steps(busy_repo):
    before = repo_state(busy_repo)
    res = apply_series(busy_repo, format_patch(busy_repo, "main..pr"), onto="release", merge="merge",
                       test_cmd="true", dry_run=True)
    assert res.status == "planned" and res.ok
    assert any("merge" in s for s in res.steps) and any("run tests" in s for s in res.steps)
    assert repo_state(busy_repo) == before


def test_merge_commit_into_checked_out_clean_branch(make_repo):
    repo = make_repo()
    git(repo, "checkout", "-q", "-b", "pr")
    (repo / "calc.py").write_text("def add(a, b):\n    return b + a\n")
    git(repo, "commit", "-q", "-am", "EUCA-7: swap")
    git(repo, "checkout", "-q", "main")
    res = apply_series(repo, format_patch(repo, "main..pr"), onto="main", merge="merge", branch="review/pr-1")
    assert res.status == "merged", res.message
    parents = git(repo, "log", "-1", "--format=%P", "main").split()
    assert len(parents) == 2 and parents[1] == res.head
    assert (repo / "calc.py").read_text() == "def add(a, b):\n    return b + a\n"
    assert git(repo, "rev-parse", "review/pr-1").strip() == res.head


def test_conflicting_series_leaves_repo_byte_for_byte(busy_repo):
    repo = busy_repo
    git(repo, "checkout", "-q", "-b", "other", "release")
    (repo / "calc.py").write_text("def add(a, b):\n    return int(a) + int(b)\n")
    git(repo, "commit", "-q", "-am", "conflicting change")
    git(repo, "checkout", "-q", "main")
    patch = format_patch(repo, "main..pr")
    before = repo_state(repo)
    res = apply_series(repo, patch, onto="other", merge="ff", branch="kept", test_cmd="true")
    assert res.status == "conflict" and not res.ok
    assert res.failed_patch == 1 and "calc.py" in res.conflicts
    assert repo_state(repo) == before


def test_failing_test_command_leaves_repo_byte_for_byte(busy_repo):
    before = repo_state(busy_repo)
    res = apply_series(busy_repo, format_patch(busy_repo, "main..pr"), onto="release", merge="ff",
                       branch="kept", amend_issue="EUCA-1",
                       test_cmd=["python3", "-c", "import sys; print('2 failed'); sys.exit(3)"])
    assert res.status == "tests-failed"
    assert res.test is not None and res.test.returncode == 3 and "2 failed" in res.test.output
    assert len(res.commits) == 2
    assert repo_state(busy_repo) == before


def test_malformed_patch_leaves_repo_byte_for_byte(busy_repo):
    repo = busy_repo
    git(repo, "checkout", "-q", "-b", "bin", "main")
    (repo / "blob.bin").write_bytes(bytes(range(256)) * 4)
    git(repo, "add", "blob.bin")
    git(repo, "commit", "-q", "-m", "add a binary")
    git(repo, "checkout", "-q", "main")
    good = format_patch(repo, "main..pr")
    binary = format_patch(repo, "main..bin")
    lines = binary.split(b"\n")
    i = next(n for n, ln in enumerate(lines) if ln.startswith(b"literal "))
    lines[i + 1] = b"z" + b"!" * 60  # garbage base85: git reports a corrupt binary patch
    damaged = good + b"\n".join(lines)
    before = repo_state(repo)
    res = apply_series(repo, damaged, onto="main", merge="ff", branch="kept")
    assert res.status == "damaged" and res.failed_patch == 3, res.message
    assert repo_state(repo) == before
    truncated = good[: good.index(b"+def sub")]
    with pytest.raises(ReviewError, match=r"line \d+"):
        apply_series(repo, truncated, onto="main", merge="ff")
    assert repo_state(repo) == before


def test_target_moved_during_tests_is_not_merged(make_repo):
    repo = make_repo()
    git(repo, "checkout", "-q", "-b", "pr")
    (repo / "new.txt").write_text("x\n")
    git(repo, "add", "new.txt")
    git(repo, "commit", "-q", "-m", "EUCA-9: add new")
    git(repo, "branch", "target", "main")
    git(repo, "checkout", "-q", "main")
    mover = f"git -C {repo} commit-tree -p target -m moved target^{{tree}} | xargs git -C {repo} update-ref refs/heads/target"
    res = apply_series(repo, format_patch(repo, "main..pr"), onto="target", merge="ff", branch="keep",
                       test_cmd=mover)
    assert res.status == "error" and "moved" in res.message
    assert not git(repo, "branch", "--list", "keep").strip()


def test_bad_arguments_are_clear_errors(busy_repo, tmp_path):
    patch = format_patch(busy_repo, "main..pr")
    with pytest.raises(ReviewError, match="not a branch, tag or commit"):
        apply_series(busy_repo, patch, onto="nope")
    with pytest.raises(ReviewError, match="is not a merge mode"):   # checked first, whatever the target
        apply_series(busy_repo, patch, onto="nope", merge="rebase")
    with pytest.raises(ReviewError, match="not a git repository"):
        apply_series(tmp_path, patch, onto="main")
    with pytest.raises(ReviewError, match="already exists"):
        apply_series(busy_repo, patch, onto="main", branch="release")
    sha = git(busy_repo, "rev-parse", "release").strip()
    with pytest.raises(ReviewError, match="not a local branch"):
        apply_series(busy_repo, patch, onto=sha, merge="ff")
    assert os.path.isdir(busy_repo)


def test_test_each_reports_every_commit_and_leaves_repo_byte_for_byte(busy_repo):
    repo = busy_repo
    patch = format_patch(repo, "main..pr")
    before = repo_state(repo)
    # commit 1 has no test file yet: a test that needs it fails there only (not bisectable)
    res = apply_series(repo, patch, onto="release", test_cmd="python3 test_calc.py", test_each=True, merge="ff",
                       branch="kept")
    assert res.status == "tests-failed" and "on commit 1" in res.message
    assert [(t.n, t.run.passed) for t in res.tests] == [(1, False), (2, True)]
    assert [r["test"] for r in res.rows()] == ["fail (exit 2)", "pass"]
    assert repo_state(repo) == before
    ok = apply_series(repo, patch, onto="release", test_cmd="python3 -c 'import calc'", test_each=True)
    assert ok.status == "applied" and len(ok.tests) == 2 and all(t.run.passed for t in ok.tests)
    assert [t.sha for t in ok.tests] == [c.sha for c in ok.commits]
    assert repo_state(repo) == before


def test_issue_ids_are_written_into_commits_not_mail_headers(busy_repo):
    repo = busy_repo
    res = apply_series(repo, format_patch(repo, "main..pr"), onto="release", amend_issue={1: "EUCA-7"},
                       branch="amended")
    assert res.status == "applied" and res.amended == [1]
    log = git(repo, "log", "--format=%an|%ae|%ad|%s", "--date=raw", "-2", "amended").splitlines()
    orig = git(repo, "log", "--format=%an|%ae|%ad|%s", "--date=raw", "-2", "pr").splitlines()
    assert [line.rsplit("|", 1)[1] for line in log] == ["Add tests", "EUCA-7: Add sub"]
    assert [line.rsplit("|", 1)[0] for line in log] == [line.rsplit("|", 1)[0] for line in orig]  # author, date
    assert git(repo, "diff", "pr", "amended", "--", "calc.py", "test_calc.py") == ""


def test_scratch_is_sparse_and_shared_by_check_and_apply(busy_repo):
    from labkit.review import check_series
    from labkit.review.scratch import Scratch

    repo = busy_repo
    for i in range(30):
        (repo / f"other{i}.txt").write_text("x\n")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "more files")  # on main, with the staged file: the user's own commit
    series = parse_mbox(format_patch(repo, "main~1..pr"))
    before = repo_state(repo)
    with Scratch(repo) as sc:
        results = check_series(series, repo=repo, onto="release", scratch=sc)
        assert all(r.status == "pass" for r in results if r.check == "applies")
        path = sc.path
        files = sorted(str(p.relative_to(path)) for p in path.rglob("*") if p.is_file() and ".git" not in p.parts)
        assert files == ["calc.py", "test_calc.py"]  # only what the series touches, not README, NOTES, ...
        assert git(repo, "worktree", "list").count("\n") == 2
        res = apply_series(repo, series, onto="release", scratch=sc, test_cmd="python3 test_calc.py")
        assert res.status == "applied" and sc.path == path  # the same worktree, now with every file
        assert (path / "NOTES").exists()
    assert not path.exists() and git(repo, "worktree", "list").count("\n") == 1
    assert repo_state(repo) == before


def test_an_apply_killed_mid_test_is_cleaned_up_by_the_next_check(busy_repo, tmp_path, nothing_left_in_tmp):
    """kill -9 during the test run leaves a registered scratch worktree; the next labkit run removes it."""
    import signal
    import sys
    import time

    from labkit.review import check_series
    from labkit.review.scratch import Scratch

    repo = busy_repo
    patch = tmp_path / "pr.patch"
    patch.write_bytes(format_patch(repo, "main..pr"))
    before = repo_state(repo)
    started = tmp_path / "started"
    proc = subprocess.Popen([sys.executable, "-m", "labkit.cli", "pr", "apply", str(patch), "--repo", str(repo),
                             "--onto", "release", "--apply", "--test", f"touch {started} && sleep 600"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 300
        while not started.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert started.exists(), "the apply never reached its test command"
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert git(repo, "worktree", "list").count("\n") == 2  # what the killed process left
    assert [p.name for p in nothing_left_in_tmp.iterdir() if p.name.startswith("labkit-review-")]
    with Scratch(repo) as live:  # a scratch worktree whose process is alive is left alone
        live.checkout(git(repo, "rev-parse", "main").strip(), paths=["calc.py"])
        results = check_series(parse_mbox(patch.read_bytes()), repo=repo, onto="release", issue_pattern=None)
        assert all(r.status == "pass" for r in results if r.check == "applies")
        assert live.path is not None and (live.path / "calc.py").exists()
        assert git(repo, "worktree", "list").count("\n") == 2  # the killed one gone, the live one kept
    assert repo_state(repo) == before
    assert not [p.name for p in nothing_left_in_tmp.iterdir() if p.name.startswith("labkit-review-")]


@pytest.mark.parametrize("reflog", ["true", "false"])
@pytest.mark.parametrize("subjects", [["Add sub", "Add tests", "Last one"],
                                      ["Add sub", "Fix  the   spacing", "Café: non-ASCII subject", "Last one"]])
def test_reported_commits_are_what_git_log_shows_with_or_without_reflogs(make_repo, reflog, subjects):
    """The applied commits (id, subject) equal real ``git log onto..head``, whether or not git writes reflogs.

    labkit reads them from the scratch worktree's HEAD reflog when it can vouch for them and asks
    git log otherwise (reflogs off, a non-ASCII subject, a subject git's reflog reformats).
    """
    repo = make_repo()
    git(repo, "checkout", "-q", "-b", "pr")
    for n, subject in enumerate(subjects):
        (repo / f"f{n}.txt").write_text(f"{subject}\n")
        git(repo, "add", f"f{n}.txt")
        git(repo, "commit", "-q", "-m", subject)
    git(repo, "checkout", "-q", "main")
    git(repo, "config", "core.logAllRefUpdates", reflog)
    res = apply_series(repo, format_patch(repo, "main..pr"), onto="main")
    assert res.status == "applied", res.message
    shown = git(repo, "log", "--reverse", "--format=%H%x00%s", f"main..{res.head}").splitlines()
    assert [f"{c.sha}\x00{c.subject}" for c in res.commits] == shown
    assert [c.n for c in res.commits] == list(range(1, len(subjects) + 1))
