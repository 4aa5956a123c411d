"""Scratch worktrees: where ``git am`` runs for a check, an apply, a test or a backport, never in the user's checkout.

    with Scratch(repo) as sc:                       # one detached worktree, reused by every step
        out = sc.am_series(series, onto_sha)        # sparse: only the paths the series touches
        sc.checkout(out.head, paths=None)           # every file, for the test command
        sc.close()                                  # gone: worktree list, refs and files as before

Why sparse: in a large repository a full checkout costs far more than ``git am`` itself (a 46 MB
checkout for a 2-file series). Like b4 shazam, the scratch worktree is added with
``--no-checkout`` and then checks out only the paths the series reads or writes; ``git am -3``
still merges (ort writes any other path it needs). The sparse patterns live in the worktree's
own admin folder (``.git/worktrees/<name>/info/sparse-checkout``, removed with it) and
``core.sparseCheckout`` is passed with ``-c`` to the commands that apply them, so the user's config
is never written; ``git am`` itself runs with it off and leaves the skip-worktree files alone.
Hooks are off unless asked (``core.hooksPath=/dev/null``). A scratch worktree whose labkit process
was killed (no ``finally`` ran) is removed by the next one made in the same repository.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from labkit.locks import exclusive
from labkit.review.git import (
    GitResult,
    committer_env,
    repo_dirs,
    repo_dirs_and_commit,
    resolve_commit,
    run_git,
)
from labkit.review.lineends import LineEnds, line_ends
from labkit.review.series import PatchSeries

_SPARSE = ("-c", "core.sparseCheckout=true", "-c", "core.sparseCheckoutCone=false")
_NO_HOOKS = ("-c", "core.hooksPath=/dev/null")
_DAMAGED = re.compile(r"corrupt|fragment without header|does not have a valid e-mail|format detection failed|"
                      r"No valid patches|Patch format detection|only garbage")
_FAILED_PATH = re.compile(r"^error: (?:patch failed: (.+):\d+|(.+): (?:does not exist in index|already exists in "
                          r"(?:index|working directory)|patch does not apply|does not match index))$")


@dataclass
class AppliedCommit:
    """One commit created by ``git am``: its position in the series, new id and subject."""

    n: int
    sha: str
    subject: str


@dataclass
class Skipped:
    """A patch ``git am`` could not apply and skipped (backports go on with the next one)."""

    n: int
    conflicts: list[str]
    message: str


@dataclass
class AmOutcome:
    """What ``git am`` did with a series in the scratch worktree."""

    status: str  # applied | partial | conflict | damaged
    base: str  # the commit the series was applied onto
    argv: list[str]  # the git am arguments used (same for check, apply and backport)
    commits: list[AppliedCommit] = field(default_factory=list)
    failed_patch: int | None = None
    conflicts: list[str] = field(default_factory=list)
    message: str = ""
    skipped: list[Skipped] = field(default_factory=list)
    line_ends: LineEnds | None = None

    @property
    def ok(self) -> bool:
        """Tell whether every patch applied."""
        return self.status == "applied"

    @property
    def head(self) -> str:
        """The last commit made (the base when none was)."""
        return self.commits[-1].sha if self.commits else self.base


def sparse_pattern(path: str) -> str | None:
    """Return the sparse-checkout line that matches exactly ``path`` (None when gitignore syntax cannot say it)."""
    if "\n" in path or "\r" in path:
        return None
    escaped = re.sub(r"([\\*?\[])", r"\\\1", path)
    stripped = escaped.rstrip(" ")
    escaped = stripped + "\\ " * (len(escaped) - len(stripped))
    return "/" + escaped


OWNER_FILE = "labkit-owner"  # in a scratch worktree's admin folder: the process that made it


def process_id(pid: int) -> str:
    """Name a live process so that a later one with the same pid is told apart: ``pid:start-time`` (Linux /proc)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
        return f"{pid}:{stat.rsplit(')', 1)[1].split()[19]}"  # field 22, starttime, counted after the (comm)
    except (OSError, IndexError):
        return f"{pid}:?"


def remove_orphans(common: Path) -> list[Path]:
    """Remove the scratch worktrees whose labkit process is gone (killed mid-apply); return their folders.

    Called under :func:`worktree_lock` before each new scratch worktree, so a ``kill -9`` during
    an apply leaves the worktree list as it was at the next check, apply or backport. Only
    folders labkit made (``labkit-review-*`` with an owner file) whose owner is dead are touched.
    """
    removed = []
    for admin in sorted((common / "worktrees").glob("labkit-review-*")):
        try:
            owner = (admin / OWNER_FILE).read_text(encoding="utf-8").strip()
            gitfile = Path((admin / "gitdir").read_text(encoding="utf-8", errors="surrogateescape").strip())
        except OSError:
            continue
        pid, _, _ = owner.partition(":")
        if not pid.isdigit() or owner.endswith(":?") or process_id(int(pid)) == owner:
            continue  # alive (or cannot be told): leave it
        wt = gitfile.parent
        if wt.name.startswith("labkit-review-"):
            shutil.rmtree(wt, ignore_errors=True)
        shutil.rmtree(admin, ignore_errors=True)
        removed.append(wt)
    return removed


@contextmanager
def worktree_lock(common: Path) -> Iterator[None]:
    """Hold an exclusive lock while adding or removing a worktree (git's own add is not safe in parallel).

    The lock is on the repository's common git folder itself, so no lock file is ever left in it.
    """
    with exclusive(common):
        yield


class Scratch:
    """A detached scratch worktree of ``repo``, created on first use, reset between uses, removed by ``close``."""

    def __init__(self, repo: str | Path, *, hooks: bool = False, ref: str | None = None) -> None:
        """Prepare (not yet create) a scratch worktree of the repository holding ``repo``.

        ``ref`` (the branch or commit the series goes onto) is resolved in the same git call; read it with
        :meth:`commit`.
        """
        self._resolved: tuple[str, str] | None = None
        if ref is None:
            self.root, self.common = repo_dirs(repo)
        else:
            self.root, self.common, sha = repo_dirs_and_commit(repo, ref)
            if sha is not None:
                self._resolved = (ref, sha)
        self.path: Path | None = None
        self.admin: Path | None = None
        self.hook_config: list[str] = [] if hooks else list(_NO_HOOKS)  # also for commands in the user's checkout
        self.config: tuple[str, ...] = tuple(self.hook_config)
        self.env = committer_env(self.root)
        self.full = False

    def commit(self, ref: str) -> str:
        """The commit id ``ref`` names now (clear error if it names nothing).

        The ``ref`` given to the constructor is answered once from that same git call; any later
        question asks git again, so a branch that moved meanwhile is never read stale.
        """
        pre, self._resolved = self._resolved, None
        if pre is not None and pre[0] == ref:
            return pre[1]
        return resolve_commit(self.root, ref)

    def __enter__(self) -> Scratch:
        """Use the scratch worktree as a context manager that removes it at the end."""
        return self

    def __exit__(self, *exc: object) -> None:
        """Remove the scratch worktree."""
        self.close()

    def git(self, *args: str, input: bytes | None = None, check: bool = True, sparse: bool = False) -> GitResult:
        """Run git inside the scratch worktree with its settings (no hooks, an identity).

        ``sparse=True`` turns sparse checkout on for the command, so it applies the patterns (read-tree,
        am --abort). Other commands run with it off: the skip-worktree bits stay in the index and git
        leaves those files alone, without matching every index entry against the patterns at each
        step (that matching made ``git am`` 1.5x slower in a 30,000-file repository).
        """
        assert self.path is not None, "checkout() first"
        config = (*_SPARSE, *self.config) if sparse else self.config
        return run_git(self.path, *args, input=input, env=self.env, check=check, config=config)

    def checkout(self, sha: str, paths: Sequence[str] | None = None) -> None:
        """Put the worktree on ``sha`` (detached) with only ``paths`` in it, or every file when ``paths`` is None."""
        lines = [sparse_pattern(p) for p in paths] if paths is not None else ["/*"]
        if any(line is None for line in lines):
            lines = ["/*"]  # a path gitignore syntax cannot name: check out everything
        if self.path is None:
            self.path = Path(tempfile.mkdtemp(prefix="labkit-review-"))
            self.path.rmdir()  # git worktree add makes it (and names its admin folder after it)
            try:
                with worktree_lock(self.common):
                    remove_orphans(self.common)
                    run_git(self.root, "worktree", "add", "--no-checkout", "--detach", "--quiet", str(self.path), sha,
                            env=self.env, config=self.config)
                    self.admin = self._admin_dir()
                    (self.admin / OWNER_FILE).write_text(process_id(os.getpid()) + "\n", encoding="utf-8")
            except BaseException:
                shutil.rmtree(self.path, ignore_errors=True)
                if self.admin is not None and self.admin.parent == self.common / "worktrees":
                    shutil.rmtree(self.admin, ignore_errors=True)
                self.path = self.admin = None
                raise
            self._write_patterns(lines)
            self.git("read-tree", "-mu", "HEAD", sparse=True)
        else:
            self.abort()
            self._write_patterns(lines)
            self.git("read-tree", "--reset", "-u", sha, sparse=True)
            self.git("update-ref", "--no-deref", "HEAD", sha)
        self.full = paths is None

    def _admin_dir(self) -> Path:
        """The worktree's own folder in the repository (named in its ``.git`` file: ``gitdir: <path>``)."""
        assert self.path is not None
        text = (self.path / ".git").read_text(encoding="utf-8", errors="surrogateescape").strip()
        admin = Path(text[len("gitdir:"):].strip()) if text.startswith("gitdir:") else None
        if admin is None or admin.parent != self.common / "worktrees":
            admin = Path(self.git("rev-parse", "--absolute-git-dir").stdout.strip())
        return admin

    def _write_patterns(self, lines: list[str | None]) -> None:
        """Write the worktree's own sparse-checkout file."""
        assert self.admin is not None
        info = self.admin / "info"
        info.mkdir(exist_ok=True)
        (info / "sparse-checkout").write_text("\n".join(line for line in lines if line) + "\n", encoding="utf-8")

    def abort(self) -> None:
        """Stop a ``git am`` left in progress (its state would block the next one)."""
        if self.admin is not None and (self.admin / "rebase-apply").exists():
            self.git("am", "--abort", check=False, sparse=True)
            shutil.rmtree(self.admin / "rebase-apply", ignore_errors=True)

    def am_series(self, series: PatchSeries, onto_sha: str, *, three_way: bool = True,
                  keep_cr: bool | None = None, skip_conflicts: bool = False,
                  paths: Sequence[str] | None = ()) -> AmOutcome:
        """Check out ``onto_sha`` and ``git am`` the series onto it: the one way labkit applies a series.

        ``paths=()`` (default) checks out the series' own paths; None checks out every file.
        ``skip_conflicts`` skips a patch that does not apply and goes on (backports).
        """
        ends = line_ends(self.root, series, onto_sha, keep_cr)
        argv = ["am", "--quiet", *(["-3"] if three_way else []), *ends.flags]
        self.checkout(onto_sha, series.paths if paths == () else paths)
        out = AmOutcome(status="applied", base=onto_sha, argv=argv, line_ends=ends)
        am = self.git(*argv, input=series.to_mbox(), check=False)
        while not am.ok:
            failed = self._failed_patch()
            conflicts = self._conflicts(am)
            text = (am.stdout + am.stderr).strip()
            errors = [ln for ln in text.splitlines() if ln.startswith(("error:", "CONFLICT"))]
            errors.sort(key=lambda ln: not (_FAILED_PATH.match(ln) or ln.startswith("CONFLICT")))
            first = errors[0] if errors else next((ln for ln in text.splitlines() if ln.strip()
                                                   and not ln.startswith("hint:")), text[:200])
            if failed is None or not skip_conflicts or _DAMAGED.search(text):
                self.abort()
                out.status = "damaged" if _DAMAGED.search(text) else "conflict"
                out.failed_patch, out.conflicts, out.message = failed, conflicts, first
                break
            out.skipped.append(Skipped(failed, conflicts, first))
            am = self.git("am", "--skip", check=False)
        else:
            if out.skipped:
                out.status = "partial"
        if out.status in ("applied", "partial"):
            out.commits = self._new_commits(onto_sha, series, out.skipped)
        return out

    def _failed_patch(self) -> int | None:
        """Return the number of the patch ``git am`` stopped at (None when it stopped before any)."""
        assert self.admin is not None
        nxt = self.admin / "rebase-apply" / "next"
        try:
            return int(nxt.read_text().strip())
        except (OSError, ValueError):
            return None

    def _conflicts(self, am: GitResult) -> list[str]:
        """The paths that stopped ``git am``: unmerged ones after ``-3``, else those git's errors name."""
        unmerged = self.git("diff", "--name-only", "--diff-filter=U", check=False).stdout.split("\n")
        found = [p for p in unmerged if p]
        if not found:
            for line in (am.stdout + am.stderr).splitlines():
                m = _FAILED_PATH.match(line)
                path = m and (m.group(1) or m.group(2))
                if path and path not in found:
                    found.append(path)
        return found

    def _new_commits(self, onto_sha: str, series: PatchSeries, skipped: list[Skipped]) -> list[AppliedCommit]:
        """The commits am made, numbered by their patch in the series (skipped patches have none)."""
        gone = {s.n for s in skipped}
        kept = [c for c in series.commits if c.index not in gone]
        made = self._reflog_commits(onto_sha, [c.subject for c in kept])
        if made is not None:
            return [AppliedCommit(c.index, sha, c.subject) for c, sha in zip(kept, made, strict=True)]
        log = self.git("log", "--reverse", "--format=%H%x00%s", f"{onto_sha}..HEAD").stdout
        return [AppliedCommit(c.index, *line.split("\x00", 1)) for c, line in zip(kept, log.splitlines(), strict=False)]

    def _reflog_commits(self, onto_sha: str, subjects: list[str]) -> list[str] | None:
        """The ids of the commits ``git am`` just made, from the scratch worktree's own HEAD reflog (no git call).

        git am logs each commit it makes as ``am: <subject>``. The last len(subjects) entries are
        used only if they chain from ``onto_sha`` to the worktree's HEAD, each names the expected
        subject (ASCII, as the series says it), and nothing else is there; otherwise None and the caller
        asks ``git log`` (reflogs off, another reflog action, non-ASCII subjects).
        """
        if self.admin is None:
            return None
        try:
            head = (self.admin / "HEAD").read_bytes().strip()
            entries = (self.admin / "logs" / "HEAD").read_bytes().splitlines()[-len(subjects):] if subjects else []
        except OSError:
            return None
        if len(entries) != len(subjects):
            return None
        prev = onto_sha.encode("ascii")
        shas: list[str] = []
        for entry, subject in zip(entries, subjects, strict=True):
            ident, tab, message = entry.partition(b"\t")
            old, _, rest = ident.partition(b" ")
            new, _, _ = rest.partition(b" ")
            if not tab or old != prev or not subject.isascii() or message != b"am: " + subject.encode("ascii"):
                return None
            prev = new
            shas.append(new.decode("ascii", "replace"))
        return shas if prev == head else None

    def close(self) -> None:
        """Remove the worktree and its administrative folder, whatever state it is in.

        Both halves are the scratch's own (made by ``git worktree add`` for it): removing them is
        what ``git worktree remove --force --force`` does, without starting a process.
        """
        if self.path is None:
            return
        wt, admin = self.path, self.admin
        self.path = self.admin = None
        with worktree_lock(self.common):
            if admin is not None and admin.parent == self.common / "worktrees":
                shutil.rmtree(admin, ignore_errors=True)
                shutil.rmtree(wt, ignore_errors=True)
            else:
                run_git(self.root, "worktree", "remove", "--force", "--force", str(wt), check=False)
                shutil.rmtree(wt, ignore_errors=True)
