"""Two test sessions at once: one ending keeps the other's temp folders and leaves none of its own in /tmp.

A developer runs ``make test`` in two worktrees, or a CI runner runs two jobs as one user. pytest's
shared numbered folders (``pytest-of-<user>/pytest-N``) with nothing kept are removed by the next
session to end, running or not: that cost one CI run here 540 errors (tests/conftest.py).
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

from .. import conftest

INNER = "tests/foundation/test_redact.py"  # a short module whose tests use tmp_path


def _session_folders() -> set[Path]:
    """The test sessions' temp folders now in the temp directory (labkit's own, and pytest's shared ones)."""
    tmp = Path(tempfile.gettempdir())
    return set(tmp.glob(f"{conftest.SESSION_PREFIX}*")) | set(tmp.glob("pytest-of-*/pytest-*"))


def test_a_second_session_ending_keeps_this_sessions_folders(tmp_path: Path) -> None:
    """Another session runs to its end meanwhile: this test's folder and file are still there, and it left no folder."""
    mine = tmp_path / "still-here.txt"
    mine.write_text("kept")
    before = _session_folders()
    inner = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", INNER],
                           cwd=conftest.REPO, capture_output=True, text=True, timeout=600)
    assert inner.returncode == 0, inner.stdout[-3000:] + inner.stderr[-2000:]
    assert "passed" in inner.stdout
    assert mine.read_text() == "kept"
    assert _session_folders() - before == set()
