"""The test suite keeps to its own folders: a second session at once, and the user's home, are left alone.

A developer runs ``make test`` in two worktrees, or a CI runner runs two jobs as one user. pytest's
shared numbered folders (``pytest-of-<user>/pytest-N``) with nothing kept are removed by the next
session to end, running or not: that cost one CI run here 540 errors. A test taking a remote
libvirt host's lock wrote the lock file into the user's own ``~/.local/state/labkit``, matplotlib
its font cache into ``~/.cache`` (tests/conftest.py), and chromium its settings into ``~/.config``
(tests/browser/conftest.py).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from .. import conftest

pytestmark = [pytest.mark.integration, pytest.mark.slow]

# short modules: one whose tests use tmp_path, and one of each that wrote into the user's home: remote libvirt
# hosts' locks; matplotlib's settings and font cache (charts); chromium's crash-report settings and dconf cache
INNER = ["tests/foundation/test_redact.py", "tests/vm/test_remote_hosts.py", "tests/tracker/test_report.py",
         "tests/browser/test_welcome.py"]


def _session_folders() -> set[Path]:
    """The test sessions' folders now in the temp directory (labkit's own, and pytest's shared ones)."""
    tmp = Path(tempfile.gettempdir())
    return set(tmp.glob(f"{conftest.SESSION_PREFIX}*")) | set(tmp.glob("pytest-of-*/pytest-*"))


def test_a_second_session_keeps_this_ones_folders_and_the_users_home(tmp_path: Path) -> None:
    """Another session runs to its end meanwhile, as a user whose home is empty.

    This test's folder and file are still there after it; it left no folder in the temp directory
    and nothing in that home.
    """
    mine = tmp_path / "still-here.txt"
    mine.write_text("kept")
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("XDG_")} | {"HOME": str(home)}
    before = _session_folders()
    inner = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *INNER],
                           cwd=conftest.REPO, env=env, capture_output=True, text=True, timeout=600)
    assert inner.returncode == 0, inner.stdout[-3000:] + inner.stderr[-2000:]
    assert " passed" in inner.stdout
    assert mine.read_text() == "kept"
    assert _session_folders() - before == set()
    assert sorted(p.relative_to(home).as_posix() for p in home.rglob("*")) == []
