"""Apply a patch series onto any branch in a scratch worktree, test it, and merge only when asked.

    result = apply_series("~/src/cloud", series, onto="release-4.4", amend_issue="EUCA-1234",
                          test_cmd="make check", test_each=True, merge="ff")
    result.ok, result.status, result.head, result.rows()

The user's checkout is never touched: ``git am -3`` runs in a scratch ``git worktree`` on a
detached HEAD that checks out only the paths the series touches (every file when tests run);
on any failure (conflict, failing tests, damaged patch) the worktree is removed, so refs, HEAD,
index, stash, worktree list and files are exactly as before. Issue IDs and trailers collected
from a thread are written into the commits after the am (:mod:`labkit.review.amend`). Only
``merge=`` or ``branch=`` change the repository, and only after the tests passed.
"""

from __future__ import annotations

import shlex
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from labkit.review.amend import (
    DEFAULT_ISSUE_PATTERN,
    issue_regex,
    issues_to_add,
    new_messages,
    rewrite_messages,
)
from labkit.review.errors import ReviewError
from labkit.review.git import run_git
from labkit.review.lineends import line_ends
from labkit.review.mbox import parse_mbox
from labkit.review.scratch import AmOutcome, AppliedCommit, Scratch
from labkit.review.series import PatchSeries

__all__ = ["DEFAULT_ISSUE_PATTERN", "AppliedCommit", "ApplyResult", "CommitTest", "TestRun", "apply_series",
           "issue_regex", "run_tests"]

MERGE_MODES = (None, "ff", "merge")


@dataclass
class TestRun:
    """The outcome of the user's test command in the scratch worktree."""

    __test__ = False  # not a pytest class

    command: str
    returncode: int
    seconds: float
    output: str = field(repr=False)  # the last 8000 characters of stdout+stderr

    @property
    def passed(self) -> bool:
        """Tell whether the command exited 0."""
        return self.returncode == 0


@dataclass
class CommitTest:
    """The test command's outcome on one commit of the series (``test_each``)."""

    n: int
    sha: str
    run: TestRun


@dataclass
class ApplyResult:
    """What ``apply_series`` did (or, in a dry run, would do), step by step."""

    status: str  # planned | applied | merged | conflict | tests-failed | damaged | error
    onto: str
    onto_sha: str
    steps: list[str] = field(default_factory=list)
    commits: list[AppliedCommit] = field(default_factory=list)
    head: str | None = None
    failed_patch: int | None = None
    conflicts: list[str] = field(default_factory=list)
    test: TestRun | None = None  # the run on the head (the last of ``tests`` with test_each)
    tests: list[CommitTest] = field(default_factory=list)  # one per commit with test_each
    merged_into: str | None = None
    merge_sha: str | None = None
    branch: str | None = None
    message: str = ""
    am_args: list[str] = field(default_factory=list)  # the git am arguments (same as the check's)
    amended: list[int] = field(default_factory=list)  # patches whose message labkit changed

    @property
    def ok(self) -> bool:
        """Tell whether everything asked for worked (a dry run is ok when its plan is valid)."""
        return self.status in ("planned", "applied", "merged")

    def rows(self) -> list[dict[str, Any]]:
        """One row per applied commit (with its test when each commit was tested), or per planned step."""
        if self.commits:
            by_n = {t.n: t.run for t in self.tests}
            rows = []
            for c in self.commits:
                row: dict[str, Any] = {"n": c.n, "sha": c.sha[:12], "subject": c.subject, "status": self.status}
                if by_n:
                    run = by_n.get(c.n)
                    row["test"] = "" if run is None else ("pass" if run.passed else f"fail (exit {run.returncode})")
                rows.append(row)
            return rows
        return [{"n": i, "step": s, "status": self.status} for i, s in enumerate(self.steps, 1)]


def run_tests(cwd: Path, test_cmd: str | Sequence[str], timeout: float = 1800) -> TestRun:
    """Run the user's test command in ``cwd`` and return its exit code and output tail."""
    shell = isinstance(test_cmd, str)
    shown = test_cmd if shell else shlex.join(test_cmd)
    start = time.monotonic()
    try:
        proc = subprocess.run(test_cmd, shell=shell, cwd=str(cwd), capture_output=True, timeout=timeout,
                              stdin=subprocess.DEVNULL)
        code, out = proc.returncode, proc.stdout + proc.stderr
    except subprocess.TimeoutExpired as exc:
        code, out = 124, (exc.stdout or b"") + (exc.stderr or b"") + f"\n[timed out after {timeout}s]".encode()
    except OSError as exc:
        code, out = 127, str(exc).encode()
    return TestRun(shown, code, round(time.monotonic() - start, 3), out.decode("utf-8", "replace")[-8000:])


def as_series(series: PatchSeries | bytes | str, *, partial: bool = False) -> PatchSeries:
    """Parse the series if needed and refuse one that cannot be applied whole (missing or unreadable patches)."""
    if not isinstance(series, PatchSeries):
        series = parse_mbox(series if isinstance(series, bytes) else series.encode())
    if not series.commits:
        raise ReviewError("the series holds no commit to apply", hint="parse a .patch with at least one diff")
    if series.missing and not partial:
        gone = ", ".join(f"{n}/{series.commits[0].total or '?'}" for n in series.missing)
        raise ReviewError(f"patches {gone} of the series are missing or unreadable",
                          hint="fetch the whole thread again, or apply the readable ones with --partial "
                               "(partial=True in Python)")
    return series


def _validate(sc: Scratch, onto: str, merge: str | None, branch: str | None) -> str:
    """Check the merge mode, target and new branch before anything changes; return the target's sha."""
    if merge not in MERGE_MODES:
        raise ReviewError(f"merge={merge!r} is not a merge mode", hint="use --merge ff or --merge merge "
                                                                     "(merge='ff' or 'merge' in Python)")
    repo = sc.root
    onto_sha = sc.commit(onto)
    if merge and not run_git(repo, "show-ref", "--verify", "--quiet", f"refs/heads/{onto}", check=False).ok:
        raise ReviewError(f"cannot merge into {onto!r}: it is not a local branch",
                          hint="give a branch name with --onto (onto= in Python), or leave --merge out "
                               "and use the result's head")
    if branch:
        if not run_git(repo, "check-ref-format", "--branch", branch, check=False).ok:
            raise ReviewError(f"{branch!r} is not a valid branch name",
                              hint="use letters, digits, / - _ . in --branch (branch= in Python)")
        if run_git(repo, "show-ref", "--verify", "--quiet", f"refs/heads/{branch}", check=False).ok:
            raise ReviewError(f"branch {branch!r} already exists",
                              hint="choose another name with --branch (branch= in Python) or delete it first")
    return onto_sha


def _plan(series: PatchSeries, onto: str, onto_sha: str, am_args: list[str], amended: list[int],
          test_cmd: str | Sequence[str] | None, test_each: bool, branch: str | None, merge: str | None) -> list[str]:
    """The steps an apply takes, in words (what a dry run shows)."""
    plan = [f"git worktree add --no-checkout --detach <scratch> {onto} ({onto_sha[:12]}), "
            f"check out {'every file' if test_cmd else f'the {len(series.paths)} paths the series touches'}",
            f"git {' '.join(am_args)} < series ({len(series)} patches)"]
    if amended:
        plan.append(f"add the issue ID to the message of patches {', '.join(map(str, amended))}")
    trailered = [c.index for c in series.commits if c.extra_trailers]
    if trailered:
        plan.append(f"add trailers collected from the thread to patches {', '.join(map(str, trailered))}")
    if test_cmd:
        shown = test_cmd if isinstance(test_cmd, str) else shlex.join(test_cmd)
        plan.append(f"run tests{' on every commit' if test_each else ''}: {shown}")
    if branch:
        plan.append(f"git branch {branch} <new head>")
    if merge == "ff":
        plan.append(f"fast-forward {onto} to the new head")
    elif merge == "merge":
        plan.append(f"merge the new head into {onto} with a merge commit")
    plan.append("git worktree remove <scratch>")
    return plan


def failure_message(series: PatchSeries, out: AmOutcome, onto: str) -> str:
    """Say which patch did not apply and why, with the line-ending hint when it applies."""
    n = out.failed_patch
    subject = series.commits[n - 1].subject if n and n <= len(series) else "?"
    text = (f"patch {n} ({subject}) does not apply onto {onto}: {out.message or 'git am failed'}" if n
            else f"git am failed: {out.message}")
    extra = out.line_ends.explain(series, n) if out.line_ends else ""
    return f"{text}; {extra}" if extra else text


def test_commits(sc: Scratch, commits: list[AppliedCommit], test_cmd: str | Sequence[str], timeout: float,
                 each: bool) -> list[CommitTest]:
    """Run the tests on the head, or on every commit in turn (``each``), in the full scratch checkout."""
    todo = commits if each else commits[-1:]
    out: list[CommitTest] = []
    for c in todo:
        if each:
            sc.git("checkout", "--quiet", "--detach", c.sha)
        assert sc.path is not None
        out.append(CommitTest(c.n, c.sha, run_tests(sc.path, test_cmd, timeout)))
    return out


def apply_series(repo: str | Path, series: PatchSeries | bytes | str, *, onto: str,
                 amend_issue: str | Mapping[int, str] | None = None,
                 issue_pattern: str = DEFAULT_ISSUE_PATTERN,
                 test_cmd: str | Sequence[str] | None = None, test_each: bool = False, test_timeout: float = 1800,
                 merge: str | None = None, branch: str | None = None, dry_run: bool = False,
                 three_way: bool = True, keep_cr: bool | None = None, hooks: bool = False, trailers: bool = True,
                 partial: bool = False, scratch: Scratch | None = None) -> ApplyResult:
    """Apply ``series`` onto the branch/commit ``onto`` in a scratch worktree; test; merge if asked.

    ``amend_issue`` adds an issue ID to each subject that has none (a str for all, or {n: id});
    ``trailers`` writes the trailers collected from a thread; ``test_cmd`` runs in the worktree
    after the am (``test_each``: after every commit); ``branch`` keeps the result under a new
    branch; ``merge='ff'`` fast-forwards ``onto`` and ``merge='merge'`` records a merge commit.
    ``keep_cr`` overrides the line-ending rule; ``partial`` applies a thread with missing patches.
    ``scratch`` reuses a :class:`Scratch` (as ``check_series`` did). ``dry_run=True`` only
    returns the plan. On failure everything is rolled back and the result says why.
    """
    series = as_series(series, partial=partial)
    own = scratch is None
    sc = scratch or Scratch(repo, hooks=hooks, ref=onto)
    try:
        root = sc.root
        onto_sha = _validate(sc, onto, merge, branch)
        issues = issues_to_add(series, amend_issue, issue_pattern)
        messages = new_messages(series, issues, trailers=trailers)
        am_args = ["am", "--quiet", *(["-3"] if three_way else []), *line_ends(root, series, onto_sha, keep_cr).flags]
        result = ApplyResult(status="planned", onto=onto, onto_sha=onto_sha, branch=branch, am_args=am_args,
                             amended=sorted(issues),
                             steps=_plan(series, onto, onto_sha, am_args, sorted(issues), test_cmd, test_each,
                                         branch, merge))
        if dry_run:
            result.message = "dry run: nothing was changed"
            return result
        _run(sc, series, result, messages, test_cmd=test_cmd, test_each=test_each, test_timeout=test_timeout,
             merge=merge, three_way=three_way, keep_cr=keep_cr)
        return result
    finally:
        if own:
            sc.close()


def _run(sc: Scratch, series: PatchSeries, result: ApplyResult, messages: Mapping[int, str], *,
         test_cmd: str | Sequence[str] | None, test_each: bool, test_timeout: float, merge: str | None,
         three_way: bool, keep_cr: bool | None) -> None:
    """Do the apply planned in ``result``: am, amend, test, branch, merge; roll back what it made on failure."""
    created_branch = False
    try:
        out = sc.am_series(series, result.onto_sha, three_way=three_way, keep_cr=keep_cr,
                           paths=None if test_cmd else ())
        result.am_args = out.argv
        if not out.ok:
            result.status, result.failed_patch, result.conflicts = out.status, out.failed_patch, out.conflicts
            result.message = failure_message(series, out, result.onto)
            return
        result.commits = rewrite_messages(sc, result.onto_sha, out.commits, messages)
        result.head = result.commits[-1].sha if result.commits else result.onto_sha
        result.status = "applied"
        if test_cmd:
            result.tests = test_commits(sc, result.commits, test_cmd, test_timeout, test_each)
            result.test = result.tests[-1].run if result.tests else None
            failed = [t for t in result.tests if not t.run.passed]
            if failed:
                result.status = "tests-failed"
                which = f"on commit{'s' if len(failed) > 1 else ''} {', '.join(str(t.n) for t in failed)} " \
                    if test_each else ""
                result.message = f"tests failed {which}(exit {failed[0].run.returncode}): nothing was merged"
                return
            if not test_each:
                result.tests = []
        if result.branch:
            run_git(sc.root, "branch", result.branch, result.head)
            created_branch = True
        if merge:
            _merge(sc.root, result, merge, sc.env, sc.hook_config)
        if not result.message:
            result.message = f"applied {len(result.commits)} commits onto {result.onto}" + (
                f" and {'fast-forwarded' if merge == 'ff' else 'merged'} {result.onto}" if merge else "")
    except BaseException:
        result.status = "error"
        raise
    finally:
        if not result.ok and created_branch and result.branch:
            run_git(sc.root, "branch", "-D", result.branch, check=False)


def _checked_out_in(repo: Path, branch: str) -> Path | None:
    """Return the worktree where ``branch`` is checked out, if any."""
    r = run_git(repo, "worktree", "list", "--porcelain")
    path: str | None = None
    for line in r.stdout.splitlines():
        if line.startswith("worktree "):
            path = line[9:]
        elif line == f"branch refs/heads/{branch}" and path:
            return Path(path)
    return None


def _merge(root: Path, result: ApplyResult, mode: str, env: dict[str, str], hook_cfg: list[str]) -> None:
    """Move the target branch to the tested head (fast-forward) or a merge commit; fail closed."""
    onto, head = result.onto, result.head or ""
    msg = f"Merge {len(result.commits)} reviewed commits into {onto}"
    checkout = _checked_out_in(root, onto)
    if checkout is not None:
        dirty = run_git(checkout, "--no-optional-locks", "status", "--porcelain", "--untracked-files=no")
        if dirty.stdout.strip():
            result.status = "error"
            result.message = (f"{onto} is checked out in {checkout} with uncommitted changes: "
                              "not merged (commit or stash them, then merge again)")
            return
        args = ["merge", "--quiet", "--ff-only", head] if mode == "ff" else \
            ["merge", "--quiet", "--no-ff", "-m", msg, head]
        r = run_git(checkout, *args, env=env, check=False, config=hook_cfg)
        if not r.ok:
            run_git(checkout, "merge", "--abort", check=False)
            result.status = "error"
            result.message = f"merge into {onto} failed: {(r.stderr or r.stdout).strip()[:300]}"
            return
        new = run_git(root, "rev-parse", f"refs/heads/{onto}").stdout.strip()
    else:
        if mode == "ff":
            new = head
        else:
            new = run_git(root, "commit-tree", f"{head}^{{tree}}", "-p", result.onto_sha, "-p", head,
                          "-m", msg, env=env).stdout.strip()
        r = run_git(root, "update-ref", "-m", f"labkit review: {mode} {onto}", f"refs/heads/{onto}", new,
                    result.onto_sha, check=False)
        if not r.ok:
            result.status = "error"
            result.message = f"{onto} moved while the series was tested: not merged, apply again"
            return
    result.status = "merged"
    result.merged_into = onto
    result.merge_sha = new
