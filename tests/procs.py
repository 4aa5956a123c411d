"""What runs on this machine, read from /proc: for tests that check nothing was left behind or exposed."""

from __future__ import annotations

import os
from pathlib import Path


def _pids() -> list[int]:
    return [int(p) for p in os.listdir("/proc") if p.isdigit()]


def cmdline(pid: int) -> list[str]:
    """Return a process's arguments ([] when it is gone or unreadable)."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [a.decode(errors="replace") for a in raw.split(b"\0") if a]


def alive(pid: int) -> bool:
    """Tell whether a process runs (a zombie does not count)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(") ", 1)[1][:1] != "Z"


def processes_under(folder: Path) -> dict[int, list[str]]:
    """Return the live processes whose working directory or arguments lie in ``folder``."""
    folder = str(Path(folder).resolve())
    found = {}
    for pid in _pids():
        if pid == os.getpid() or not alive(pid):
            continue
        try:
            cwd = os.readlink(f"/proc/{pid}/cwd")
        except OSError:
            cwd = ""
        args = cmdline(pid)
        if cwd == folder or cwd.startswith(folder + "/") or any(folder in a for a in args):
            found[pid] = args
    return found


def processes_with_argument(text: str) -> dict[int, list[str]]:
    """Return the live processes that have ``text`` anywhere in their command line."""
    found = {}
    for pid in _pids():
        args = cmdline(pid)
        if alive(pid) and any(text in a for a in args):
            found[pid] = args
    return found
