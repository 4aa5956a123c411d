"""Shared test fixtures: an isolated sandbox run dir and the third-party data beside the repo; nothing left in /tmp."""

from __future__ import annotations

import getpass
import os
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def shared_data_dir() -> Path:
    """Return ../shared/data beside the checkout (or $LABKIT_SHARED_DATA)."""
    env = os.environ.get("LABKIT_SHARED_DATA")
    return Path(env) if env else REPO.parent / "shared" / "data"


def pytest_unconfigure(config: pytest.Config) -> None:
    """Remove pytest's emptied ``pytest-of-<user>`` temp folder, so a test run leaves nothing in /tmp.

    pytest keeps no tmp_path folder (``tmp_path_retention_policy`` in pyproject.toml) but leaves their parent.
    """
    root = Path(tempfile.gettempdir()) / f"pytest-of-{getpass.getuser()}"
    try:
        root.rmdir()  # only when empty: another session's folders stay
    except OSError:
        pass


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
