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


# the per-user folders that libraries and tools write into, and what of the session's own folder stands in for each
_XDG = {"XDG_STATE_HOME": "state", "XDG_CONFIG_HOME": "config", "XDG_CACHE_HOME": "cache"}
_OWN = pytest.StashKey[tuple[str, dict[str, str | None]]]()


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    """Give this test session a folder of its own (removed at its end): its temp folders and per-user folders.

    Temp folders (unless ``--basetemp`` names one): pytest's shared numbered folders
    (``pytest-of-<user>/pytest-N``) are unsafe when none is kept: pytest then locks no session's
    folder, and every session, on exit, removes all unlocked ones, the running sessions' too. A
    second ``make test`` (another worktree) ending during a CI run here deleted that run's folders:
    540 errors. No other session touches a folder of this session's own.
    Per-user folders (``$XDG_STATE_HOME``, ``$XDG_CONFIG_HOME``, ``$XDG_CACHE_HOME``): a test that
    takes a remote host's lock wrote it into the user's ``~/.local/state/labkit``, and matplotlib
    its settings and font cache into ``~/.config`` and ``~/.cache``; and a user's own labkit
    configuration must not change what a test sees. The suite leaves the user's home alone (checked
    by tests/foundation/test_test_sessions.py).
    """
    if hasattr(config, "workerinput"):
        return
    own = tempfile.mkdtemp(prefix=SESSION_PREFIX)
    if config.option.basetemp is None:
        config.option.basetemp = os.path.join(own, "tmp")
    config.stash[_OWN] = (own, {name: os.environ.get(name) for name in _XDG})
    for name, folder in _XDG.items():
        os.environ[name] = os.path.join(own, folder)


def pytest_unconfigure(config: pytest.Config) -> None:
    """Remove this session's own folder (a test run leaves nothing in /tmp) and give back the per-user folders."""
    own, before = config.stash.get(_OWN, (None, {}))
    if own is None:
        return
    shutil.rmtree(own, ignore_errors=True)
    for name, value in before.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


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
