"""Apply a patch series onto any branch in a scratch worktree, test it, and merge only when asked.

    result = apply_series("~/src/cloud", series, onto="release-4.4", amend_issue="EUCA-1234",
                          test_cmd="make check", merge="ff")
    result.ok, result.status, result.head, result.rows()

The user's checkout is never touched: ``git am -3`` runs in a temporary ``git worktree`` on a
detached HEAD; on any failure (conflict, failing tests, damaged patch) the am is aborted and the
worktree removed, so refs, HEAD, index, stash and files are exactly as before. Only ``merge=``
moves a branch, and only after the tests passed.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from labkit.review.errors import ReviewError
from labkit.review.git import committer_env, repo_root, resolve_commit, run_git
from labkit.review.mbox import PatchSeries, parse_mbox

DEFAULT_ISSUE_PATTERN = r"\b[A-Z][A-Z0-9]+-\d+\b"


def issue_regex(pattern: str) -> re.Pattern[str]:
    """Compile an issue-ID pattern, or raise ReviewError saying why it is not a regular expression."""
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise ReviewError(f"issue pattern {pattern!r} is not a regular expression ({exc})",
                          hint=r"write e.g. EUCA-\d+ (escape ( [ + * ? with a backslash to match them literally)") from None
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
class AppliedCommit:
    """One commit created by ``git am``: its new id and subject."""

    n: int
    sha: str
    subject: str


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
    test: TestRun | None = None
    merged_into: str | None = None
    merge_sha: str | None = None
    branch: str | None = None
    message: str = ""

    @property
    def ok(self) -> bool:
        """Tell whether everything asked for worked (a dry run is ok when its plan is valid)."""
        return self.status in ("planned", "applied", "merged")

    def rows(self) -> list[dict[str, Any]]:
        """One row per applied commit (or per planned step in a dry run) for a table."""
        if self.commits:
            return [{"n": c.n, "sha": c.sha[:12], "subject": c.subject, "status": self.status}
                    for c in self.commits]
        return [{"n": i, "step": s, "status": self.status} for i, s in enumerate(self.steps, 1)]


def amend_subject(raw: bytes, issue: str) -> bytes:
    """Put ``issue`` at the start of a mail's subject (after its ``[PATCH n/m]`` tag), headers kept."""
    head, sep, body = raw.partition(b"\n\n")
    lines = head.split(b"\n")
    for i, line in enumerate(lines):
        if line[:8].lower() == b"subject:":
            value = line[8:].lstrip()
            m = re.match(rb"((?:\s*\[[^\]]*\])*)\s*", value)
            tags = m.group(1).strip() if m else b""
            rest = value[m.end():] if m else value
            text = issue.encode() + b": " + rest
            lines[i] = b"Subject: " + (tags + b" " + text if tags else text)
            return b"\n".join(lines) + sep + body
    return raw


def _issue_for(amend_issue: str | Mapping[int, str] | None, n: int) -> str | None:
    """Return the issue ID to add to commit ``n`` (None when it gets none)."""
    if amend_issue is None:
        return None
    if isinstance(amend_issue, str):
        return amend_issue or None
    return amend_issue.get(n)


def prepare_mbox(series: PatchSeries, amend_issue: str | Mapping[int, str] | None = None,
                 issue_pattern: str = DEFAULT_ISSUE_PATTERN) -> tuple[bytes, list[int]]:
    """Return the mbox to feed ``git am`` and the numbers of the commits whose subject gains an issue ID."""
    pattern = issue_regex(issue_pattern)
    parts: list[bytes] = []
    amended: list[int] = []
    for c in series.commits:
        raw = c.raw if c.raw.endswith(b"\n") else c.raw + b"\n"
        issue = _issue_for(amend_issue, c.index)
        if issue and not pattern.search(c.subject + "\n" + c.message):
            raw = amend_subject(raw, issue)
            amended.append(c.index)
        parts.append(raw)
    return b"".join(parts), amended


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


def _remove_worktree(repo: Path, wt: Path) -> None:
    """Remove a scratch worktree and its administrative files, whatever state it is in."""
    removed = run_git(repo, "worktree", "remove", "--force", "--force", str(wt), check=False).ok
    if removed and not wt.exists():
        return
    if wt.exists():
        shutil.rmtree(wt, ignore_errors=True)
    admin = Path(run_git(repo, "rev-parse", "--git-common-dir").stdout.strip())
    if not admin.is_absolute():
        admin = repo / admin
    stale = admin / "worktrees" / wt.name
    if stale.exists():
        shutil.rmtree(stale, ignore_errors=True)


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


def _validate(repo: Path, onto: str, merge: str | None, branch: str | None) -> str:
    """Check the merge mode, target and new branch before anything changes; return the target's sha."""
    if merge not in MERGE_MODES:
        raise ReviewError(f"merge={merge!r} is not a merge mode", hint="use None, 'ff' or 'merge'")
    onto_sha = resolve_commit(repo, onto)
    if merge and not run_git(repo, "show-ref", "--verify", "--quiet", f"refs/heads/{onto}", check=False).ok:
        raise ReviewError(f"cannot merge into {onto!r}: it is not a local branch",
                          hint="pass a branch name as onto=, or leave merge unset and use the result's head")
    if branch:
        if not run_git(repo, "check-ref-format", "--branch", branch, check=False).ok:
            raise ReviewError(f"{branch!r} is not a valid branch name", hint="use letters, digits, / - _ .")
        if run_git(repo, "show-ref", "--verify", "--quiet", f"refs/heads/{branch}", check=False).ok:
            raise ReviewError(f"branch {branch!r} already exists", hint="choose another name or delete it first")
    return onto_sha


def apply_series(repo: str | Path, series: PatchSeries | bytes | str, *, onto: str,
                 amend_issue: str | Mapping[int, str] | None = None,
                 issue_pattern: str = DEFAULT_ISSUE_PATTERN,
                 test_cmd: str | Sequence[str] | None = None, test_timeout: float = 1800,
                 merge: str | None = None, branch: str | None = None, dry_run: bool = False,
                 three_way: bool = True, keep_cr: bool = False, hooks: bool = False) -> ApplyResult:
    """Apply ``series`` onto the branch/commit ``onto`` in a scratch worktree; test; merge if asked.

    ``amend_issue`` adds an issue ID to each subject that has none (a str for all, or {n: id});
    ``test_cmd`` runs in the worktree after the am; ``branch`` keeps the result under a new branch;
    ``merge='ff'`` fast-forwards ``onto`` and ``merge='merge'`` records a merge commit on it.
    ``dry_run=True`` only returns the plan. On failure everything is rolled back and the result says why.
    """
    if not isinstance(series, PatchSeries):
        series = parse_mbox(series if isinstance(series, bytes) else series.encode())
    if not series.commits:
        raise ReviewError("the series holds no commit to apply", hint="parse a .patch with at least one diff")
    root = repo_root(repo)
    onto_sha = _validate(root, onto, merge, branch)
    mbox, amended = prepare_mbox(series, amend_issue, issue_pattern)
    am_args = ["am", "--quiet"] + (["-3"] if three_way else []) + (["--keep-cr"] if keep_cr else [])
    plan = [f"git worktree add --detach <scratch> {onto} ({onto_sha[:12]})",
            f"git {' '.join(am_args)} < series ({len(series)} patches)"]
    if amended:
        plan.append(f"add issue ID to the subject of patches {', '.join(map(str, amended))}")
    if test_cmd:
        plan.append(f"run tests: {test_cmd if isinstance(test_cmd, str) else shlex.join(test_cmd)}")
    if branch:
        plan.append(f"git branch {branch} <new head>")
    if merge == "ff":
        plan.append(f"fast-forward {onto} to the new head")
    elif merge == "merge":
        plan.append(f"merge the new head into {onto} with a merge commit")
    plan.append("git worktree remove <scratch>")
    result = ApplyResult(status="planned", onto=onto, onto_sha=onto_sha, steps=plan, branch=branch)
    if dry_run:
        result.message = "dry run: nothing was changed"
        return result

    env = committer_env(root)
    hook_cfg: list[str] = []
    empty_hooks = None
    if not hooks:
        empty_hooks = tempfile.mkdtemp(prefix="labkit-nohooks-")
        hook_cfg = ["-c", f"core.hooksPath={empty_hooks}"]
    wt = Path(tempfile.mkdtemp(prefix="labkit-review-"))
    created_branch = False
    try:
        wt.rmdir()  # git worktree add wants to create it
        run_git(root, "worktree", "add", "--detach", "--quiet", str(wt), onto_sha, config=hook_cfg, env=env)
        am = run_git(wt, *am_args, input=mbox, env=env, check=False, config=hook_cfg)
        if not am.ok:
            git_dir = Path(run_git(wt, "rev-parse", "--absolute-git-dir").stdout.strip())
            nxt = git_dir / "rebase-apply" / "next"
            failed = int(nxt.read_text().strip()) if nxt.exists() else None
            conflicts = run_git(wt, "diff", "--name-only", "--diff-filter=U", check=False).stdout.split()
            run_git(wt, "am", "--abort", check=False, config=hook_cfg, env=env)
            text = (am.stdout + am.stderr).strip()
            damaged = bool(re.search(r"corrupt|fragment without header|does not have a valid e-mail|"
                                     r"format detection failed|No valid patches", text))
            result.status = "damaged" if damaged else "conflict"
            result.failed_patch = failed
            result.conflicts = conflicts
            subject = series.commits[failed - 1].subject if failed and failed <= len(series) else "?"
            last = [ln for ln in text.splitlines() if ln.startswith("error:")] or \
                [ln for ln in text.splitlines() if ln.strip() and not ln.startswith("hint:")]
            result.message = (f"patch {failed} ({subject}) does not apply onto {onto}: "
                              f"{last[0] if last else 'git am failed'}") if failed else \
                f"git am failed: {last[0] if last else text[:200]}"
            return result
        log = run_git(wt, "log", "--reverse", "--format=%H%x00%s", f"{onto_sha}..HEAD").stdout
        result.commits = [AppliedCommit(i, *line.split("\x00", 1))
                          for i, line in enumerate(log.splitlines(), 1)]
        result.head = result.commits[-1].sha if result.commits else onto_sha
        result.status = "applied"
        if test_cmd:
            result.test = run_tests(wt, test_cmd, test_timeout)
            if not result.test.passed:
                result.status = "tests-failed"
                result.message = f"tests failed (exit {result.test.returncode}): nothing was merged"
                return result
        if branch:
            run_git(root, "branch", branch, result.head)
            created_branch = True
        if merge:
            _merge(root, result, merge, env, hook_cfg)
        if not result.message:
            result.message = f"applied {len(result.commits)} commits onto {onto}" + (
                f" and {'fast-forwarded' if merge == 'ff' else 'merged'} {onto}" if merge else "")
        return result
    except BaseException:
        result.status = "error"
        raise
    finally:
        if not result.ok and created_branch:
            run_git(root, "branch", "-D", branch, check=False)
        _remove_worktree(root, wt)
        if empty_hooks:
            shutil.rmtree(empty_hooks, ignore_errors=True)


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
