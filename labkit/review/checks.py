"""Checks of a patch series, each pass/warn/fail with the reason (b4 style: every check explains itself).

    results = check_series(series, repo=".", onto="main", issue_pattern=r"EUCA-\\d+", test_cmd="make check")
    [r for r in results if r.status != "pass"]

Checks: the series is complete (every n/m readable), issue ID in each message, sign-off by the
author, whitespace errors, large or binary files, applies onto the chosen target (the very
``git am`` :func:`apply_series` runs, with the same flags, in the same kind of scratch worktree,
so "applies" means the apply succeeds) and the user's test command (in that same worktree).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from labkit.review.amend import DEFAULT_ISSUE_PATTERN, issue_regex
from labkit.review.apply import failure_message, test_commits
from labkit.review.git import resolve_commit
from labkit.review.scratch import AmOutcome, Scratch
from labkit.review.series import Commit, PatchSeries

STATUSES = ("pass", "warn", "fail")


@dataclass
class CheckResult:
    """One check on one commit (or on the whole series when ``n`` is 0): status and why."""

    check: str
    n: int
    status: str  # pass | warn | fail
    detail: str


def check_issue_id(c: Commit, pattern: str = DEFAULT_ISSUE_PATTERN) -> CheckResult:
    """Pass when the subject or body names an issue matching ``pattern``."""
    m = issue_regex(pattern).search(c.subject + "\n" + c.message)
    if m:
        return CheckResult("issue-id", c.index, "pass", f"mentions {m.group(0)}")
    return CheckResult("issue-id", c.index, "fail",
                       f"no issue ID matching {pattern} in the message: add one with --amend-issue "
                       "(amend_issue= in Python)")


def check_signoff(c: Commit, required: bool = False) -> CheckResult:
    """Pass when a Signed-off-by trailer names the author (by e-mail, or by name)."""
    offs = [v for k, v in c.trailers if k.lower() == "signed-off-by"]
    if not offs:
        offs = re.findall(r"(?mi)^signed-off-by:\s*(.+)$", c.message)
    for v in offs:
        if c.email and c.email.lower() in v.lower():
            return CheckResult("signoff", c.index, "pass", f"signed off by the author ({v.strip()})")
    status = "fail" if required else "warn"
    if offs:
        return CheckResult("signoff", c.index, status,
                           f"signed off by {', '.join(o.strip() for o in offs)} but not by the author {c.email}")
    return CheckResult("signoff", c.index, status, f"no Signed-off-by from the author {c.email}")


def whitespace_errors(c: Commit, limit: int = 20) -> list[str]:
    """Return ``path:line: problem`` for added lines with trailing blanks, space before tab or a blank at EOF."""
    problems: list[str] = []
    for f in c.files:
        if f.binary:
            continue
        new_line = 0
        trailing_blank = False
        for line in f.diff.split("\n"):
            if line.startswith("@@"):
                m = re.match(r"@@ -\d+(?:,\d+)? \+(\d+)", line)
                new_line = int(m.group(1)) if m else 0
                trailing_blank = False
                continue
            if line.startswith("+++") or line.startswith("---") or not new_line:
                continue
            if line.startswith("+"):
                body = line[1:].rstrip("\r")
                if body != body.rstrip(" \t"):
                    problems.append(f"{f.path}:{new_line}: trailing whitespace")
                elif re.match(r"^\t* +\t", body):
                    problems.append(f"{f.path}:{new_line}: space before tab in indent")
                trailing_blank = body.strip() == ""
                new_line += 1
            elif line.startswith(" ") or line == "":
                trailing_blank = False
                new_line += 1
            elif line.startswith("\\"):
                continue
        if trailing_blank and f.diff.rstrip("\n").split("\n")[-1].startswith("+"):
            problems.append(f"{f.path}: new blank line at EOF")
        if len(problems) >= limit:
            break
    return problems[:limit]


def check_whitespace(c: Commit) -> CheckResult:
    """Warn about whitespace errors in added lines (what ``git apply --whitespace=warn`` reports)."""
    problems = whitespace_errors(c)
    if not problems:
        return CheckResult("whitespace", c.index, "pass", "no whitespace errors in added lines")
    more = "" if len(problems) < 20 else " (first 20)"
    noun = "problem" if len(problems) == 1 else "problems"
    return CheckResult("whitespace", c.index, "warn", f"{len(problems)} {noun}{more}: " + "; ".join(problems[:5]))


def check_size(c: Commit, max_lines: int = 2000, max_file_lines: int = 1000) -> CheckResult:
    """Warn about binary files and very large changes that deserve a careful look."""
    notes: list[str] = []
    if c.binary_files:
        notes.append(f"binary: {', '.join(c.binary_files[:5])}")
    big = [f"{f.path} (+{f.added})" for f in c.files if f.added > max_file_lines]
    if big:
        notes.append(f"large files: {', '.join(big[:5])}")
    if c.added + c.removed > max_lines:
        notes.append(f"{c.added + c.removed} changed lines")
    if notes:
        return CheckResult("size", c.index, "warn", "; ".join(notes))
    return CheckResult("size", c.index, "pass", f"+{c.added} -{c.removed}, no binary files")


def applies_results(series: PatchSeries, out: AmOutcome, onto: str) -> list[CheckResult]:
    """Turn the scratch ``git am`` outcome into one "applies" row per commit (the apply's own verdict)."""
    results: list[CheckResult] = []
    failed = out.failed_patch if not out.ok else None
    for c in series.commits:
        if failed is None or c.index < failed:
            results.append(CheckResult("applies", c.index, "pass", f"git {' '.join(out.argv)} applies it onto {onto}"))
        elif c.index == failed:
            where = f" (conflicts: {', '.join(out.conflicts)})" if out.conflicts else ""
            results.append(CheckResult("applies", c.index, "fail", failure_message(series, out, onto) + where))
        else:
            results.append(CheckResult("applies", c.index, "warn", f"not tried: patch {failed} failed"))
    if not out.ok and failed is None:
        results.append(CheckResult("applies", 0, "fail", failure_message(series, out, onto)))
    return results


@contextmanager
def _scratch(repo: str | Path, given: Scratch | None):
    """Yield the caller's scratch worktree, or a new one removed afterwards."""
    if given is not None:
        yield given
        return
    with Scratch(repo) as sc:
        yield sc


def check_complete(series: PatchSeries) -> CheckResult:
    """Pass when every patch n/m of the series is here and readable; fail naming the missing ones."""
    total = next((c.total for c in series.commits if c.total), None)
    if series.missing:
        why = "; ".join(f"line {p.line}: {p.reason}" for p in series.problems[:3])
        return CheckResult("complete", 0, "fail", f"patches {', '.join(map(str, series.missing))} of {total} "
                           f"are missing or unreadable{' (' + why + ')' if why else ''}")
    notes = f"; {'; '.join(series.notes)}" if series.notes else ""
    return CheckResult("complete", 0, "pass", f"{len(series)} patches{f' of {total}' if total else ''}{notes}")


def check_series(series: PatchSeries, *, repo: str | Path | None = None, onto: str | None = None,
                 issue_pattern: str | None = DEFAULT_ISSUE_PATTERN, require_signoff: bool = False,
                 test_cmd: str | Sequence[str] | None = None, test_each: bool = False, max_lines: int = 2000,
                 keep_cr: bool | None = None, three_way: bool = True,
                 scratch: Scratch | None = None) -> list[CheckResult]:
    """Run every check that the arguments allow and return one row per (check, commit).

    ``repo`` and ``onto`` enable "applies" (the apply's own ``git am`` in a scratch worktree)
    and, with ``test_cmd``, the test run in that same worktree (``test_each``: on every commit).
    Nothing in the repository changes; pass ``scratch`` to keep the worktree for a later apply.
    """
    results: list[CheckResult] = [check_complete(series)]
    for c in series.commits:
        if issue_pattern:
            results.append(check_issue_id(c, issue_pattern))
        results.append(check_signoff(c, require_signoff))
        results.append(check_whitespace(c))
        results.append(check_size(c, max_lines=max_lines))
    if repo is None or not onto:
        return results
    with _scratch(repo, scratch) as sc:
        sha = resolve_commit(sc.root, onto)
        out = sc.am_series(series, sha, three_way=three_way, keep_cr=keep_cr, paths=None if test_cmd else ())
        results.extend(applies_results(series, out, onto))
        if test_cmd:
            if not out.ok:
                results.append(CheckResult("tests", 0, "fail", f"not run: {failure_message(series, out, onto)}"))
                return results
            for t in test_commits(sc, out.commits, test_cmd, 1800, test_each):
                n = t.n if test_each else 0
                if t.run.passed:
                    results.append(CheckResult("tests", n, "pass", f"{t.run.command} passed in {t.run.seconds}s"))
                else:
                    tail = t.run.output.strip().splitlines()[-1:] or [""]
                    results.append(CheckResult("tests", n, "fail",
                                               f"{t.run.command} exited {t.run.returncode}: {tail[0][:200]}"))
    return results


def summary(results: list[CheckResult]) -> dict[str, int]:
    """Count results by status."""
    return {s: sum(1 for r in results if r.status == s) for s in STATUSES}
