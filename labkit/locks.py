"""Cross-process locks: how every labkit process waits its turn for a shared thing (one rule, one place).

A lock is ``flock`` on a file or a directory. The kernel releases it when its holder dies, so a killed
``labkit`` never leaves anything locked, and locking a directory leaves no file behind. The threads of one
process take a lock one after another, and a thread that holds it may take it again (``flock`` on a second
descriptor of the same file would otherwise wait for itself).
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from labkit.errors import LabkitError

_HELD: dict[str, int] = {}  # path -> depth, for the locks this process holds
_THREADS: dict[str, threading.RLock] = {}  # path -> the lock the threads of this process take it by
_GUARD = threading.Lock()


@contextmanager
def exclusive(path: str | os.PathLike, *, wait: float | None = None,
              busy: Callable[[float], LabkitError] | None = None) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (a directory, or a file created 0600 if missing) while the block runs.

    ``wait`` bounds the wait in seconds (None: wait as long as it takes); past it, ``busy(wait)`` is raised.
    """
    key = os.path.realpath(path)
    with _GUARD:
        local = _THREADS.setdefault(key, threading.RLock())
    if not local.acquire(timeout=-1 if wait is None else wait):
        raise _busy(wait or 0.0, busy)
    try:
        if _HELD.get(key):  # this thread holds it already
            _HELD[key] += 1
            try:
                yield
            finally:
                _HELD[key] -= 1
            return
        if os.path.isdir(key):
            fd = os.open(key, os.O_RDONLY | os.O_DIRECTORY)
        else:
            fd = os.open(key, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            _acquire(fd, wait, busy)
            _HELD[key] = 1
            try:
                yield
            finally:
                _HELD[key] = 0
        finally:
            os.close(fd)  # closing the descriptor releases the lock
    finally:
        local.release()


def _busy(wait: float, busy: Callable[[float], LabkitError] | None) -> LabkitError:
    """Return the error for a lock still held by another after ``wait`` seconds."""
    if busy is not None:
        return busy(wait)
    return LabkitError(f"another labkit has held a lock for over {wait:.0f} s", hint="wait for it to finish, then try again")


def _acquire(fd: int, wait: float | None, busy: Callable[[float], LabkitError] | None) -> None:
    """Take the flock on ``fd``, waiting at most ``wait`` seconds."""
    if wait is None:
        fcntl.flock(fd, fcntl.LOCK_EX)
        return
    end = time.monotonic() + wait
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() > end:
                raise _busy(wait, busy) from None
            time.sleep(0.05)


def locks_dir() -> Path:
    """Return the folder for lock files of things that have no folder of their own (``$XDG_STATE_HOME/labkit/locks``)."""
    from labkit.config import state_home

    return state_home() / "locks"
