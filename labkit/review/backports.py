"""Backports: apply one series onto several branches at once and see, per branch and commit, what happened.

    bp = backport("~/src/calc", series, onto=["main", "release-1.x", "release-2.x"], test_cmd="make check")
    bp.grid()            # commit x branch: applied / conflict: files / not tried, and a tests row
    bp.branches["release-1.x"].conflicts
    backport(..., branch_prefix="backport/pr-5/", dry_run=False)   # keep each clean result as a branch

Each branch gets its own scratch worktree (run in parallel threads): the same ``git am`` as
:func:`labkit.review.apply.apply_series` (flags from the line-ending rule), except that a patch
that does not apply is skipped so the later ones are still tried. Tests run on the result when
every patch applied (``test_each``: on every commit). Nothing changes in the repository unless
``branch_prefix`` is given and ``dry_run`` is False, and then only new branches for the branches
where every patch applied and the tests passed.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from labkit.review.amend import DEFAULT_ISSUE_PATTERN, issues_to_add, new_messages, rewrite_messages
from labkit.review.apply import CommitTest, as_series, test_commits
from labkit.review.errors import ReviewError
from labkit.review.git import repo_root, resolve_commit, run_git
from labkit.review.scratch import AppliedCommit, Scratch, Skipped
from labkit.review.series import PatchSeries


@dataclass
class BranchResult:
    """What happened to the series on one target branch."""

    onto: str
    onto_sha: str
    status: str = "planned"  # planned | applied | partial | damaged | tests-failed | error
    commits: list[AppliedCommit] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    failed_patch: int | None = None  # where a damaged series stopped
    message: str = ""
    tests: list[CommitTest] = field(default_factory=list)
    branch: str | None = None  # the branch kept (or, in a dry run, that would be)
    branch_created: bool = False
    am_args: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Tell whether every patch applied and the tests (if any) passed."""
        return self.status in ("planned", "applied")

    @property
    def conflicts(self) -> dict[int, list[str]]:
        """{patch number: conflicting paths} for the patches that did not apply."""
        return {s.n: s.conflicts for s in self.skipped}

    def cell(self, n: int) -> str:
        """The grid cell of patch ``n`` on this branch."""
        skipped = {s.n: s for s in self.skipped}
        if n in skipped:
            files = ", ".join(skipped[n].conflicts) or skipped[n].message
            return f"conflict: {files}"
        done = {c.n for c in self.commits}
        if n not in done:
            return "not tried" if self.status != "planned" else "planned"
        runs = {t.n: t.run for t in self.tests}
        if n in runs and len(self.tests) > 1:
            return "applied, tests pass" if runs[n].passed else f"applied, tests fail (exit {runs[n].returncode})"
        return "applied"

    def test_cell(self) -> str:
        """The grid's tests row for this branch."""
        if not self.tests:
            return "not run" + (" (no patch applied)" if self.status in ("partial", "damaged") else "")
        failed = [t for t in self.tests if not t.run.passed]
        partial = f" ({len(self.commits)} of {len(self.commits) + len(self.skipped)} applied)" if self.skipped else ""
        if not failed:
            return "pass" + (f" on all {len(self.tests)} commits" if len(self.tests) > 1 else "") + partial
        return f"fail (exit {failed[0].run.returncode})" + (
            f" on commit {', '.join(str(t.n) for t in failed)}" if len(self.tests) > 1 else "") + partial


@dataclass
class BackportResult:
    """The outcome of a backport: one :class:`BranchResult` per target branch, as a grid."""

    series: PatchSeries
    branches: dict[str, BranchResult]
    tested: bool = False
    dry_run: bool = True

    @property
    def ok(self) -> bool:
        """Tell whether every branch took every patch (and passed the tests)."""
        return all(b.ok for b in self.branches.values())

    def grid_rows(self) -> list[dict[str, Any]]:
        """One row per commit (and a tests row), one column per branch."""
        rows = [{"n": c.index, "subject": c.subject, **{name: b.cell(c.index) for name, b in self.branches.items()}}
                for c in self.series.commits]
        if self.tested:
            rows.append({"n": "", "subject": "tests", **{name: b.test_cell() for name, b in self.branches.items()}})
        return rows

    def grid(self):  # -> pandas.DataFrame
        """The grid as a DataFrame: commits down, branches across."""
        from labkit.tables import to_frame

        return to_frame(self.grid_rows(), columns=["n", "subject", *self.branches])

    def rows(self) -> list[dict[str, Any]]:
        """One row per branch: status, commits applied, conflicts, tests, branch kept."""
        return [{"onto": b.onto, "status": b.status, "applied": len(b.commits), "conflicts": len(b.skipped),
                 "tests": b.test_cell() if self.tested else "", "branch": b.branch or "",
                 "created": b.branch_created, "message": b.message} for b in self.branches.values()]


def _one(repo: Path, series: PatchSeries, res: BranchResult, messages: Mapping[int, str], *,
         test_cmd: str | Sequence[str] | None, test_each: bool, test_timeout: float, three_way: bool,
         keep_cr: bool | None, keep: bool, lock: threading.Lock) -> None:
    """Backport onto one branch in its own scratch worktree (runs in a worker thread)."""
    with Scratch(repo) as sc:
        out = sc.am_series(series, res.onto_sha, three_way=three_way, keep_cr=keep_cr, skip_conflicts=True,
                           paths=None if test_cmd else ())
        res.am_args, res.skipped = out.argv, out.skipped
        if out.status == "damaged" or out.status == "conflict":
            res.status, res.failed_patch, res.message = "damaged", out.failed_patch, out.message
            return
        res.commits = rewrite_messages(sc, res.onto_sha, out.commits, messages)
        res.status = out.status
        if test_cmd and res.commits:  # on what applied, even when a patch was skipped
            res.tests = test_commits(sc, res.commits, test_cmd, test_timeout, test_each)
        if out.status == "partial":
            res.message = f"{len(out.skipped)} of {len(series)} patches do not apply onto {res.onto}"
            return
        if any(not t.run.passed for t in res.tests):
            res.status, res.message = "tests-failed", "tests failed"
            return
        res.message = f"all {len(series)} patches apply onto {res.onto}"
        if keep and res.branch and res.commits:
            with lock:
                run_git(repo, "branch", res.branch, res.commits[-1].sha)
            res.branch_created = True


def backport(repo: str | Path, series: PatchSeries | bytes | str, onto: Sequence[str], *,
             test_cmd: str | Sequence[str] | None = None, test_each: bool = False, test_timeout: float = 1800,
             amend_issue: str | Mapping[int, str] | None = None, issue_pattern: str = DEFAULT_ISSUE_PATTERN,
             trailers: bool = True, three_way: bool = True, keep_cr: bool | None = None,
             branch_prefix: str | None = None, dry_run: bool = False, partial: bool = False,
             max_workers: int | None = None) -> BackportResult:
    """Apply ``series`` onto every branch in ``onto`` in parallel scratch worktrees; return the grid.

    ``branch_prefix`` keeps each fully applied, tested result as branch ``<prefix><onto>``
    (only when ``dry_run`` is False); everything else leaves the repository as it was.
    """
    series = as_series(series, partial=partial)
    targets = list(dict.fromkeys(b.strip() for b in onto if b and b.strip()))
    if not targets:
        raise ReviewError("no branch to backport onto", hint="name one or more with --onto (onto=[...] in Python)")
    root = repo_root(repo)
    issues = issues_to_add(series, amend_issue, issue_pattern)
    messages = new_messages(series, issues, trailers=trailers)
    results: dict[str, BranchResult] = {}
    for name in targets:
        res = BranchResult(name, resolve_commit(root, name))
        if branch_prefix:
            res.branch = f"{branch_prefix}{name}"
            if not run_git(root, "check-ref-format", "--branch", res.branch, check=False).ok:
                raise ReviewError(f"{res.branch!r} is not a valid branch name",
                                  hint="use letters, digits, / - _ . in --branch-prefix (branch_prefix= in Python)")
            if run_git(root, "show-ref", "--verify", "--quiet", f"refs/heads/{res.branch}", check=False).ok:
                raise ReviewError(f"branch {res.branch!r} already exists",
                                  hint="choose another --branch-prefix (branch_prefix= in Python) or delete it first")
        results[name] = res
    lock = threading.Lock()
    workers = max_workers or min(len(targets), os.cpu_count() or 2)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(_one, root, series, res, messages, test_cmd=test_cmd, test_each=test_each,
                               test_timeout=test_timeout, three_way=three_way, keep_cr=keep_cr,
                               keep=bool(branch_prefix) and not dry_run, lock=lock) for res in results.values()]
        errors = [f.exception() for f in futures if f.exception() is not None]
    if errors:  # fail closed: no branch stays behind from a backport that went wrong
        for res in results.values():
            if res.branch_created and res.branch:
                run_git(root, "branch", "-D", res.branch, check=False)
        raise errors[0]
    return BackportResult(series, results, tested=bool(test_cmd), dry_run=dry_run)
