"""Message amendment: issue IDs on subjects and collected trailers, written into commits after ``git am``.

The issue ID a user types is checked against the issue pattern (the whole ID must match, one
line, no control characters) and is never placed into a mail header: ``git am`` commits the
pristine mails, then the commits whose message must change are re-made with
``git commit-tree`` (same tree, same author and author date, message from stdin). So
``--amend-issue $'EUCA-1\\nFrom: Mallory <m@evil.example>'`` is refused, and even an odd pattern
cannot turn a typed ID into an author.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from labkit.review.errors import ReviewError
from labkit.review.git import run_git
from labkit.review.scratch import AppliedCommit, Scratch
from labkit.review.series import PatchSeries

DEFAULT_ISSUE_PATTERN = r"\b[A-Z][A-Z0-9]+-\d+\b"
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029\x85]")


def issue_regex(pattern: str) -> re.Pattern[str]:
    """Compile an issue-ID pattern, or raise ReviewError saying why it is not a regular expression."""
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise ReviewError(f"issue pattern {pattern!r} is not a regular expression ({exc})",
                          hint=r"write e.g. --issue-pattern 'EUCA-\d+' (issue_pattern= in Python); escape ( [ + * ? "
                               "with a backslash to match them literally") from None


def valid_issue(issue: str, pattern: str = DEFAULT_ISSUE_PATTERN) -> str:
    """Return ``issue`` when it is one issue ID matching ``pattern`` as a whole; else raise ReviewError."""
    regex = issue_regex(pattern)
    if not isinstance(issue, str) or _CONTROL.search(issue) or not issue.strip() or not regex.fullmatch(issue):
        raise ReviewError(f"{issue!r} is not an issue ID matching {pattern}",
                          hint="give one ID such as EUCA-123 with --amend-issue (amend_issue= in Python), "
                               "or change --issue-pattern")
    return issue


def issues_to_add(series: PatchSeries, amend_issue: str | Mapping[int, str] | None,
                  pattern: str = DEFAULT_ISSUE_PATTERN) -> dict[int, str]:
    """Return {patch number: issue ID} for the commits that name no issue yet (IDs validated first)."""
    if not amend_issue:
        return {}
    wanted = {c.index: amend_issue for c in series.commits} if isinstance(amend_issue, str) else dict(amend_issue)
    for issue in set(wanted.values()):
        valid_issue(issue, pattern)
    regex = issue_regex(pattern)
    return {c.index: wanted[c.index] for c in series.commits
            if c.index in wanted and not regex.search(c.subject + "\n" + c.message)}


def new_messages(series: PatchSeries, issues: Mapping[int, str], *, trailers: bool = True) -> dict[int, str]:
    """Return {patch number: message} for each commit whose message changes (issue ID or collected trailers)."""
    out: dict[int, str] = {}
    for c in series.commits:
        if c.index in issues or (trailers and c.extra_trailers):
            out[c.index] = c.amended_message(issues.get(c.index), trailers=trailers)
    return out


def rewrite_messages(sc: Scratch, base: str, commits: list[AppliedCommit],
                     messages: Mapping[int, str]) -> list[AppliedCommit]:
    """Re-make the scratch worktree's commits so those in ``messages`` carry the new message; move its HEAD.

    Trees, authors and author dates stay; every commit after the first changed one gets a new parent.
    """
    todo = [i for i, c in enumerate(commits) if c.n in messages]
    if not todo:
        return commits
    first = todo[0]
    parent = commits[first - 1].sha if first else base
    log = sc.git("log", "--reverse", "--date=raw", "--format=%H%x00%T%x00%an%x00%ae%x00%ad%x00%B%x1e",
                 f"{parent}..HEAD").raw
    records = [r.lstrip(b"\n") for r in log.split(b"\x1e") if r.strip(b"\n")]
    out = list(commits[:first])
    for c, record in zip(commits[first:], records, strict=True):
        sha, tree, name, mail, date, body = record.split(b"\x00", 5)
        assert sha.decode() == c.sha, "scratch history changed under the rewrite"
        text = messages[c.n].encode() if c.n in messages else body
        env = {**sc.env, "GIT_AUTHOR_NAME": name.decode("utf-8", "surrogateescape"),
               "GIT_AUTHOR_EMAIL": mail.decode("utf-8", "surrogateescape"), "GIT_AUTHOR_DATE": date.decode()}
        assert sc.path is not None
        new = run_git(sc.path, "commit-tree", tree.decode(), "-p", parent, input=text, env=env,
                      config=sc.config).stdout.strip()
        subject = text.decode("utf-8", "replace").split("\n", 1)[0]
        out.append(AppliedCommit(c.n, new, subject))
        parent = new
    sc.git("update-ref", "--no-deref", "HEAD", parent)
    return out
