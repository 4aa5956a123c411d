"""The time one search of the local store may take before it is stopped with a clear error.

SQLite's progress handler interrupts the running statement once the deadline passes; the Python
loops around the SQL (wildcard and fuzzy expansion, phrase checks) call :meth:`SearchBudget.check`.
A stopped search frees what it built up and leaves the connection usable for the next one.

    with SearchBudget.running(db, 10.0) as budget:   # None seconds: no limit
        ... budget.check() ...
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager

from labkit.jira.errors import JqlError

PROGRESS_STEPS = 20_000  # SQLite virtual-machine steps between two looks at the clock (well under 10 ms)


class SearchBudget:
    """A deadline for one search; ``check()`` raises JqlError once it has passed."""

    def __init__(self, seconds: float | None) -> None:
        """Start the clock: the search may run ``seconds`` (None: forever)."""
        self.seconds = seconds
        self.end = None if seconds is None else time.monotonic() + seconds

    def over(self) -> bool:
        """Tell whether the deadline has passed."""
        return self.end is not None and time.monotonic() > self.end

    def error(self) -> JqlError:
        """Return the error of a search stopped at its deadline."""
        return JqlError(f"The search took longer than {self.seconds:g} s and was stopped.",
                        hint="Narrow it: fewer wildcard or fuzzy (~) terms, a project or date restriction")

    def check(self) -> None:
        """Raise the budget's JqlError if the deadline has passed."""
        if self.over():
            raise self.error()

    @classmethod
    @contextmanager
    def running(cls, db: sqlite3.Connection, seconds: float | None) -> Iterator[SearchBudget]:
        """Run a search on ``db`` within ``seconds``: SQL past the deadline is interrupted and becomes JqlError."""
        budget = cls(seconds)
        if budget.end is None:
            yield budget
            return
        db.set_progress_handler(budget.over, PROGRESS_STEPS)
        try:
            yield budget
        except sqlite3.OperationalError as exc:
            if budget.over() and "interrupt" in str(exc):
                raise budget.error() from None
            raise
        finally:
            db.set_progress_handler(None, PROGRESS_STEPS)
