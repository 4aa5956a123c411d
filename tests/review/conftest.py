"""Shared fixtures of the PR review tests: data paths and throw-away git repositories."""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

import pytest

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "patches"
if not DATA.is_dir():
    DATA = Path(os.environ.get("LABKIT_DATA", "/work/shared/data")) / "patches"

GIT_ENV = {"GIT_AUTHOR_NAME": "Test Author", "GIT_AUTHOR_EMAIL": "author@example.com",
           "GIT_COMMITTER_NAME": "Test Committer", "GIT_COMMITTER_EMAIL": "committer@example.com",
           "GIT_CONFIG_NOSYSTEM": "1"}


def data_dir(name: str) -> Path:
    """Return a data folder under shared/data/patches or skip the test, saying why."""
    path = DATA / name
    if not path.is_dir():
        pytest.skip(f"test data {path} is absent (shared/data/patches is not on this machine)")
    return path


def git(repo: Path, *args: str, env: dict[str, str] | None = None, input: bytes | None = None) -> str:
    """Run real git in a repo and return its stdout."""
    e = {**os.environ, **GIT_ENV, "HOME": str(repo.parent), **(env or {})}
    r = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, env=e, input=input, check=True)
    return r.stdout.decode()


def format_patch(repo: Path, rev: str, *options: str) -> bytes:
    """``git format-patch --stdout`` of a revision range."""
    return subprocess.run(["git", "-C", str(repo), "format-patch", "--stdout", *options, rev], capture_output=True,
                          check=True).stdout


def neg_branch(repo: Path) -> bytes:
    """Add branch ``pr`` (one commit, "add neg", no issue ID) to a repo made by ``make_repo``; return its patch."""
    git(repo, "checkout", "-q", "-b", "pr")
    (repo / "calc.py").write_text("def add(a, b):\n    return a + b\n\n\ndef neg(a):\n    return -a\n")
    git(repo, "commit", "-q", "-am", "add neg")
    git(repo, "checkout", "-q", "main")
    return format_patch(repo, "main..pr")


@pytest.fixture
def make_repo(tmp_path):
    """Create a git repo with a main branch holding a few files; return a factory."""

    def make(name: str = "repo") -> Path:
        repo = tmp_path / name
        repo.mkdir()
        git(repo, "init", "-q", "-b", "main")
        git(repo, "config", "user.name", "Maintainer")
        git(repo, "config", "user.email", "maint@example.com")
        (repo / "calc.py").write_text("def add(a, b):\n    return a + b\n")
        (repo / "README").write_text("calc\n")
        git(repo, "add", ".")
        git(repo, "commit", "-q", "-m", "initial")
        return repo

    return make


@pytest.fixture(autouse=True)
def nothing_left_in_tmp(tmp_path_factory, monkeypatch):
    """Point the temp folder (Python's and $TMPDIR) at an empty folder; fail the test if labkit leaves anything there."""
    tmp = tmp_path_factory.mktemp("TMPDIR")
    monkeypatch.setattr(tempfile, "tempdir", str(tmp))
    monkeypatch.setenv("TMPDIR", str(tmp))
    yield tmp
    left = sorted(p.name for p in tmp.iterdir())
    assert not left, f"left behind in the temp folder: {left}"
