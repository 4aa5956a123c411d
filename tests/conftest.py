"""Shared test fixtures: an isolated sandbox run dir and the third-party data beside the repo; nothing left in /tmp."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SESSION_PREFIX = "labkit-tests-"


def shared_data_dir() -> Path:
    """Return ../shared/data beside the checkout (or $LABKIT_SHARED_DATA)."""
    env = os.environ.get("LABKIT_SHARED_DATA")
    return Path(env) if env else REPO.parent / "shared" / "data"


_OWN_TEMP = pytest.StashKey[str]()


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    """Give this test session a temp folder of its own (removed at its end), unless ``--basetemp`` names one.

    pytest's shared numbered folders (``pytest-of-<user>/pytest-N``) are unsafe when none is kept:
    pytest then locks no session's folder, and every session, on exit, removes all unlocked ones,
    the running sessions' too. A second ``make test`` (another worktree) ending during a CI run here
    deleted that run's folders: 540 errors (tests/foundation/test_test_sessions.py). No other session
    touches a folder of this session's own.
    """
    if config.option.basetemp is None and not hasattr(config, "workerinput"):
        own = tempfile.mkdtemp(prefix=SESSION_PREFIX)
        config.option.basetemp = own
        config.stash[_OWN_TEMP] = own


def pytest_unconfigure(config: pytest.Config) -> None:
    """Remove this session's own temp folder, so a test run leaves nothing in /tmp."""
    own = config.stash.get(_OWN_TEMP, None)
    if own is not None:
        shutil.rmtree(own, ignore_errors=True)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real third-party data in ../shared/data; skips the test when it is absent."""
    path = shared_data_dir()
    if not path.is_dir():
        pytest.skip(f"third-party test data not found at {path} (clone with ../shared beside the repo)")
    return path


@pytest.fixture
def run_dir(tmp_path, monkeypatch) -> Path:
    """A private sandbox run directory; every service started in it is stopped after the test."""
    rd = tmp_path / "run"
    monkeypatch.setenv("LABKIT_RUN_DIR", str(rd))
    yield rd
    import labkit.sandbox as sb

    sb.stop(rd=rd)
