"""Checks of a patch series, each pass/warn/fail with the reason (b4 style: every check explains itself).

    results = check_series(series, repo=".", onto="main", issue_pattern=r"EUCA-\\d+", test_cmd="make check")
    [r for r in results if r.status != "pass"]

Checks: issue ID in each message, sign-off by the author, whitespace errors, large or binary
files, applies cleanly onto the chosen target (a throw-away index, the work tree is not
touched) and the user's test command (run in a scratch worktree by :func:`apply_series`).
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from labkit.review.apply import DEFAULT_ISSUE_PATTERN, apply_series, issue_regex
from labkit.review.git import repo_root, resolve_commit, run_git
from labkit.review.mbox import Commit, PatchSeries

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
                       f"no issue ID matching {pattern} in the message: amend it (apply with amend_issue=...)")


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


def check_applies(series: PatchSeries, repo: str | Path, onto: str) -> list[CheckResult]:
    """Apply each patch in turn to a throw-away index of ``onto``; report the first that does not apply."""
    root = repo_root(repo)
    sha = resolve_commit(root, onto)
    fd, index = tempfile.mkstemp(prefix="labkit-check-index-")
    os.close(fd)
    os.unlink(index)
    env = {"GIT_INDEX_FILE": index}
    results: list[CheckResult] = []
    try:
        run_git(root, "read-tree", sha, env=env)
        for c in series.commits:
            r = run_git(root, "apply", "--cached", "--whitespace=nowarn", "-", input=patch_bytes(c), env=env,
                        check=False)
            if r.ok:
                results.append(CheckResult("applies", c.index, "pass", f"applies cleanly onto {onto}"))
                continue
            why = next((ln for ln in r.stderr.splitlines() if ln.startswith("error:")), r.stderr.strip()[:200])
            results.append(CheckResult("applies", c.index, "fail",
                                       f"does not apply onto {onto} ({why}); git am -3 may still merge it"))
            for rest in series.commits[c.index:]:
                results.append(CheckResult("applies", rest.index, "warn", f"not tried: patch {c.index} failed"))
            break
    finally:
        for p in (index, index + ".lock"):
            if os.path.exists(p):
                os.unlink(p)
    return results


def patch_bytes(c: Commit) -> bytes:
    """The bytes to give ``git apply``: the original mail unless its body was transfer-encoded."""
    head = c.raw.split(b"\n\n", 1)[0].lower()
    if c.raw and b"content-transfer-encoding: base64" not in head and b"quoted-printable" not in head:
        return c.raw  # git apply skips the mail text before the first diff
    return c.patch.encode("utf-8", errors="surrogateescape")


def check_series(series: PatchSeries, *, repo: str | Path | None = None, onto: str | None = None,
                 issue_pattern: str | None = DEFAULT_ISSUE_PATTERN, require_signoff: bool = False,
                 test_cmd: str | Sequence[str] | None = None, max_lines: int = 2000) -> list[CheckResult]:
    """Run every check that the arguments allow and return one row per (check, commit).

    ``repo`` and ``onto`` enable "applies cleanly" and, with ``test_cmd``, the test run (in a
    scratch worktree that is removed afterwards: nothing in the repository changes).
    """
    results: list[CheckResult] = []
    for c in series.commits:
        if issue_pattern:
            results.append(check_issue_id(c, issue_pattern))
        results.append(check_signoff(c, require_signoff))
        results.append(check_whitespace(c))
        results.append(check_size(c, max_lines=max_lines))
    if repo is not None and onto:
        results.extend(check_applies(series, repo, onto))
        if test_cmd:
            res = apply_series(repo, series, onto=onto, test_cmd=test_cmd)
            if res.status == "applied":
                results.append(CheckResult("tests", 0, "pass", f"{res.test.command} passed in {res.test.seconds}s"
                                           if res.test else "applied"))
            elif res.status == "tests-failed" and res.test:
                tail = res.test.output.strip().splitlines()[-1:] or [""]
                results.append(CheckResult("tests", 0, "fail",
                                           f"{res.test.command} exited {res.test.returncode}: {tail[0][:200]}"))
            else:
                results.append(CheckResult("tests", 0, "fail", f"not run: {res.message}"))
    return results


def summary(results: list[CheckResult]) -> dict[str, int]:
    """Count results by status."""
    return {s: sum(1 for r in results if r.status == s) for s in STATUSES}
