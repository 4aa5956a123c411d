"""Run the real ``git`` binary for the review job, with settings that never touch the user's state."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from labkit.review.errors import ReviewError

# gc, maintenance and rerere would write into the shared .git of the user's repository.
SAFE_CONFIG = ("-c", "gc.auto=0", "-c", "maintenance.auto=false", "-c", "rerere.enabled=false",
               "-c", "advice.detachedHead=false", "-c", "core.quotePath=false")


@dataclass
class GitResult:
    """The outcome of one git command: argv, exit code and decoded output."""

    argv: list[str]
    returncode: int
    stdout: str
    stderr: str
    raw: bytes = b""  # stdout as git wrote it (file contents, binary)

    @property
    def ok(self) -> bool:
        """Tell whether git exited 0."""
        return self.returncode == 0


def git_binary() -> str:
    """Return the path of git or raise a clear error when it is not installed."""
    path = shutil.which("git")
    if not path:
        raise ReviewError("git is not installed", hint="install git (apt-get install git) and try again")
    return path


def run_git(cwd: str | Path, *args: str, input: bytes | None = None, env: Mapping[str, str] | None = None,
            check: bool = True, config: Sequence[str] = ()) -> GitResult:
    """Run ``git <args>`` in ``cwd``; raise :class:`ReviewError` with git's message when ``check`` and it fails."""
    argv = [git_binary(), *SAFE_CONFIG, *config, *args]
    full_env = {**os.environ, **(env or {})}
    for var in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE"):
        if env is None or var not in env:
            full_env.pop(var, None)
    proc = subprocess.run(argv, cwd=str(cwd), input=input, capture_output=True, env=full_env)
    res = GitResult(argv, proc.returncode, proc.stdout.decode("utf-8", "replace"),
                    proc.stderr.decode("utf-8", "replace"), proc.stdout)
    if check and not res.ok:
        detail = (res.stderr or res.stdout).strip().splitlines()
        raise ReviewError(f"git {' '.join(args[:2])} failed in {cwd}: {detail[-1] if detail else res.returncode}",
                          hint="check the repository path (--repo) and the branch or commit names (--onto)")
    return res


def repo_root(path: str | Path) -> Path:
    """Return the top folder of the git work tree holding ``path`` (clear error if it is not a repo)."""
    p = Path(path).expanduser()
    if not p.exists():
        raise ReviewError(f"{p} does not exist",
                          hint="give the path of a local clone of the repository with --repo (repo= in Python)")
    r = run_git(p, "rev-parse", "--show-toplevel", check=False)
    if not r.ok:
        raise ReviewError(f"{p} is not a git repository",
                          hint="clone the project first (git clone URL) and give that folder with --repo "
                               "(repo= in Python)")
    return Path(r.stdout.strip())


def repo_dirs(path: str | Path) -> tuple[Path, Path]:
    """Return (top folder of the work tree, the repository's common git folder) in one git call."""
    p = Path(path).expanduser()
    r = run_git(p, "rev-parse", "--path-format=absolute", "--show-toplevel", "--git-common-dir", check=False) \
        if p.is_dir() else None
    lines = r.stdout.splitlines() if r is not None and r.ok else []
    if len(lines) != 2:
        root = repo_root(p)  # raises the clear error (no such folder, not a repository)
        common = run_git(root, "rev-parse", "--path-format=absolute", "--git-common-dir").stdout.strip()
        return root, Path(common)
    return Path(lines[0]), Path(lines[1])


def repo_dirs_and_commit(path: str | Path, ref: str) -> tuple[Path, Path, str | None]:
    """Return (top folder, common git folder, the commit ``ref`` names or None if it names none) in one git call.

    Errors about the repository are :func:`repo_dirs`'s; a ref that names no commit is left to
    :func:`resolve_commit` (its error says which refs exist), so callers keep their order of checks.
    """
    p = Path(path).expanduser()
    r = run_git(p, "rev-parse", "--path-format=absolute", "--show-toplevel", "--git-common-dir",
                "--verify", "--quiet", f"{ref}^{{commit}}", check=False) if p.is_dir() else None
    lines = r.stdout.splitlines() if r is not None and r.ok else []
    if len(lines) == 3:
        return Path(lines[0]), Path(lines[1]), lines[2]
    root, common = repo_dirs(p)
    return root, common, None


def resolve_commit(repo: Path, ref: str) -> str:
    """Return the commit id a branch, tag or sha names (clear error if it names nothing)."""
    r = run_git(repo, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}", check=False)
    if not r.ok:
        branches = run_git(repo, "for-each-ref", "--format=%(refname:short)", "refs/heads", check=False)
        names = ", ".join(branches.stdout.split()[:10])
        raise ReviewError(f"{ref!r} is not a branch, tag or commit of {repo}",
                          hint=f"give one with --onto (onto= in Python): {names}")
    return r.stdout.strip()


def committer_env(repo: Path) -> dict[str, str]:
    """Return env vars giving git a committer (and merge author) identity when none is configured."""
    key = (str(repo), *(os.environ.get(f"GIT_{r}_{f}", "") for r in ("COMMITTER", "AUTHOR") for f in ("NAME", "EMAIL")))
    if key not in _IDENTITY:
        _IDENTITY[key] = _identity_env(repo)
    return dict(_IDENTITY[key])


_IDENTITY: dict[tuple[str, ...], dict[str, str]] = {}  # per repository and identity variables: asked once


def _identity_env(repo: Path) -> dict[str, str]:
    """Ask git whether it has a committer and an author identity; return the fallback for those it lacks."""
    env: dict[str, str] = {}
    for role in ("COMMITTER", "AUTHOR"):
        if os.environ.get(f"GIT_{role}_NAME") and os.environ.get(f"GIT_{role}_EMAIL"):
            continue
        if not run_git(repo, "var", f"GIT_{role}_IDENT", check=False).ok:
            env.update({f"GIT_{role}_NAME": "labkit", f"GIT_{role}_EMAIL": "labkit@localhost"})
    return env
