"""The store's two FTS5 text indexes: their one declaration, and building them beside a bulk load in worker processes.

Each FTS5 table costs about as much CPU as all the rest of an import (1.0–1.4 s each for the
80 MB of text of the 29k real issues on this machine) and the two are independent, so a large
load into an empty store builds each in a worker process of its own (``python -I -S`` running this
file: the standard library only) while the importing thread decodes issues and inserts the rows.
Processes, not threads: measured on the 29k real issues, threads sharing the importing process
made the whole import cost 1.6x the CPU of the same work done one part after another (6.5–7.1 s
against 4.6 s) and saved no wall time, because every ``sqlite3_malloc`` and ``sqlite3_free`` takes
SQLite's one process-wide memory-statistics mutex and each row's bind takes the GIL: 66k context
switches and 1.3 s of system time per import (``strace -f -c``: 123k futex calls, a third of them
from ``sqlite3Malloc``). A worker process shares neither. Measured against the threads, alternating
on this machine: the 29k real issues 4.1–4.4 s → 2.8–3.3 s wall, 6.0–6.5 s → 4.7–5.6 s CPU (the
workers' included); 1M generated issues 132.7 s → 94.5 s wall, 162.6 s → 113.8 s CPU.
Each batch goes to the workers once, ``marshal``-encoded, written down a pipe by a writer thread per
worker (the write releases the GIL), and each worker inserts it into an in-memory database. At the
end a worker hands back its database (``sqlite3_serialize``), the importing process opens it
(``deserialize``) and moves the finished index into the store inside the import's transaction:
the store's (empty) table is dropped and created again with the same declaration, and the rows of
its shadow tables (``<t>_data``, ``<t>_idx``, ``<t>_config``, ``<t>_docsize``) are copied in.
FTS5 keeps all of a contentless table's index in those shadow tables, its structure record and
configuration included, and reads them back from there (the shadow tables of sqlite.org/fts5.html),
so an identically declared table holding the same rows is the same index; the tests check that the
rows equal a row-by-row build's and that FTS5's own ``integrity-check`` passes. Re-creating the table (rather than writing into the shadow tables
of the one the connection has open) matters: an open FTS5 table caches its structure record per
connection and only re-reads it when another connection changed the file.
The copy happens inside the import's transaction, so a failure or a kill leaves the store as it was;
a worker whose importing process went away reads the end of its input and exits without output.
"""

from __future__ import annotations

import marshal
import os
import queue
import select
import sqlite3
import struct
import subprocess
import sys
import threading
from collections.abc import Sequence

__all__ = ["FTS_TABLES", "FtsBuilder", "bulk_merging", "fts_create", "fts_insert"]

# The two contentless FTS5 tables: ``fts`` (Porter stems, positions: words, phrases, proximity) and
# ``fts_raw`` (words as written, columns only: wildcards and fuzzy terms, through ``fts_raw_vocab``).
FTS_TABLES = {
    "fts": "summary, description, environment, comment, content='', columnsize=0, "
           "tokenize='porter unicode61 remove_diacritics 0'",
    "fts_raw": "summary, description, environment, comment, content='', "
               "tokenize='unicode61 remove_diacritics 0', detail=column",
}
_SHADOWS = ("data", "idx", "config", "docsize")
_QUEUED = 4  # batches waiting per worker: the importing thread waits when a worker falls this far behind
_HEAD = struct.Struct("<Q")  # a batch's length before its bytes; 0 ends the input
_READY, _READY_S = b"R", 30.0  # what a worker writes first, and how long to wait for it


def _error(message: str, hint: str) -> Exception:
    """The store's error (imported when needed: a worker process runs this file alone, on the standard library)."""
    from labkit.jira.errors import JiraError

    return JiraError(message, hint=hint)


def fts_create(name: str, *, if_not_exists: bool = True) -> str:
    """The CREATE statement of one of :data:`FTS_TABLES`."""
    return f"CREATE VIRTUAL TABLE {'IF NOT EXISTS ' if if_not_exists else ''}{name} USING fts5({FTS_TABLES[name]})"


def fts_insert(name: str) -> str:
    """The INSERT of one issue's ``(rowid, summary, description, environment, comment)`` into one of :data:`FTS_TABLES`."""
    return f"INSERT INTO {name} (rowid, summary, description, environment, comment) VALUES (?,?,?,?,?)"


def bulk_merging(db: sqlite3.Connection | sqlite3.Cursor, name: str, *, bulk: bool) -> None:
    """Set an FTS5 table's merging for a bulk load (no automerge, rare crisis merges) or back to FTS5's defaults."""
    automerge, crisis = (0, 64) if bulk else (4, 16)
    db.execute(f"INSERT INTO {name}({name}, rank) VALUES ('automerge', {automerge})")
    db.execute(f"INSERT INTO {name}({name}, rank) VALUES ('crisismerge', {crisis})")


class _Worker:
    """One worker process building one FTS5 table, and the thread that feeds it and reads its result."""

    def __init__(self, name: str) -> None:
        """Start the process (``python -I -S`` on this file) and its feeding thread."""
        self.name = name
        self.result: bytes | None = None
        self.error: str | None = None
        self.queue: queue.Queue[bytes | None] = queue.Queue(_QUEUED)
        self.proc = subprocess.Popen([sys.executable, "-I", "-S", __file__, name], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.thread = threading.Thread(target=self._feed, name=f"labkit-{name}", daemon=True)
        self.thread.start()

    def _feed(self) -> None:
        """Write the queued batches to the worker, then the end mark, then read back its database."""
        proc = self.proc
        assert proc.stdin is not None and proc.stdout is not None
        while (frame := self.queue.get()) is not None:  # every batch is taken, so the importing thread never waits
            if self.error is None and not self._write(frame):
                self._ended()
        if self.error is None and self._write(_HEAD.pack(0)):
            try:
                proc.stdin.close()
                self.result = proc.stdout.read()
            except (OSError, ValueError):
                self.result = None
        self._ended()

    def _write(self, data: bytes) -> bool:
        """Write to the worker; False when it is gone (a broken pipe)."""
        try:
            self.proc.stdin.write(data)  # type: ignore[union-attr]
        except (OSError, ValueError):
            return False
        return True

    def _ended(self) -> None:
        """Wait for the worker to end; an exit status other than 0 is the error (its last line of stderr says why)."""
        code = self.proc.wait()
        if code != 0 and self.error is None:
            why = self.proc.stderr.read().decode("utf-8", "replace").strip().splitlines()  # type: ignore[union-attr]
            self.error = f"{why[-1] if why else 'no message'} (exit status {code})"
        if self.error is not None:
            self.result = None

    def ready(self) -> bool:
        """Wait (at most :data:`_READY_S`) for the worker's first byte, which it writes once its table exists."""
        out = self.proc.stdout
        assert out is not None
        if not select.select([out], [], [], _READY_S)[0]:
            return False
        return out.read(1) == _READY

    def stop(self) -> None:
        """Kill the worker (its database is dropped) and let the feeding thread end."""
        self.error = self.error or "stopped"
        if self.proc.poll() is None:
            self.proc.kill()


class FtsBuilder:
    """Build the FTS5 tables of a bulk load in worker processes; :meth:`finish` moves them into the store."""

    def __init__(self, names: Sequence[str] = tuple(FTS_TABLES)) -> None:
        """Start one worker process per table; :meth:`started` says whether they run."""
        self._work: list[_Worker] = []
        self._started: bool | None = None
        try:
            if not sys.executable or not os.path.isfile(__file__):
                raise OSError("no Python executable or no source file to run")
            for name in names:
                self._work.append(_Worker(name))
        except OSError:
            self._started = False

    def started(self) -> bool:
        """Whether every worker runs and took its table (each says so first); else the store builds row by row."""
        if self._started is None:
            self._started = all(w.ready() for w in self._work)
        return self._started

    def _check(self) -> None:
        """Raise a worker's error in the importing thread."""
        for w in self._work:
            if w.error is not None:
                raise _error(f"building the text index {w.name} failed: {w.error}",
                             "the import was rolled back, the store is as it was: run it again")

    def add(self, rows: list[tuple]) -> None:
        """Queue a batch of ``(rowid, summary, description, environment, comment)`` rows for every table."""
        self._check()
        data = marshal.dumps(rows)
        frame = _HEAD.pack(len(data)) + data
        for w in self._work:
            w.queue.put(frame)

    def _join(self) -> None:
        """Send the end mark and wait for the feeding threads (each has read back its worker's database)."""
        for w in self._work:
            w.queue.put(None)
        for w in self._work:
            w.thread.join()

    def finish(self, db: sqlite3.Connection) -> None:
        """Wait for the indexes and move them into ``db``'s empty tables of the same names (inside its transaction)."""
        try:
            if not self.started():  # the store asks before its first batch, so this is never the first word
                raise _error("the text index workers did not start", "run the import again")
            self._join()
            self._check()
            for w in self._work:
                built = sqlite3.connect(":memory:")
                try:
                    data, w.result = w.result or b"", None
                    built.deserialize(data)  # a copy: the bytes go at once, one index's at a time is held
                    del data
                    _move(built, db, w.name)
                finally:
                    built.close()
        finally:
            self.close()

    def abort(self) -> None:
        """Stop the workers and drop what they built (the store is not touched)."""
        for w in self._work:
            w.stop()
        self._join()
        self.close()

    def close(self) -> None:
        """Forget the workers (their processes have ended)."""
        for w in self._work:
            w.stop()
            w.proc.wait()
            for f in (w.proc.stdin, w.proc.stdout, w.proc.stderr):
                if f is not None:
                    f.close()
        self._work = []


def _move(built: sqlite3.Connection, db: sqlite3.Connection, name: str) -> None:
    """Replace ``db``'s table ``name`` with the one ``built`` holds: same declaration, shadow rows copied."""
    db.execute(f"DROP TABLE {name}")
    db.execute(fts_create(name, if_not_exists=False))
    for shadow in _SHADOWS:
        table = f"{name}_{shadow}"
        if built.execute("SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = ?", (table,)).fetchone() is None:
            continue
        cur = built.execute(f"SELECT * FROM {table}")
        marks = ", ".join("?" * len(cur.description))
        db.execute(f"DELETE FROM {table}")
        while rows := cur.fetchmany(2000):
            db.executemany(f"INSERT INTO {table} VALUES ({marks})", rows)


def _read(stream, n: int) -> bytes | None:  # noqa: ANN001 - a binary file
    """Exactly ``n`` bytes from ``stream``, or None at its end (the importing process went away)."""
    data = stream.read(n)
    return data if len(data) == n else None


def _worker_main(name: str) -> int:
    """Build one FTS5 table from the batches on stdin and write the in-memory database to stdout."""
    conn = sqlite3.connect(":memory:", isolation_level=None)
    conn.execute(fts_create(name, if_not_exists=False))
    conn.execute("BEGIN")
    bulk_merging(conn, name, bulk=True)
    sys.stdout.buffer.write(_READY)
    sys.stdout.buffer.flush()
    sql, inp = fts_insert(name), sys.stdin.buffer
    while True:
        head = _read(inp, _HEAD.size)
        if head is None:
            return 1
        (size,) = _HEAD.unpack(head)
        if size == 0:
            break
        data = _read(inp, size)
        if data is None:
            return 1
        conn.executemany(sql, marshal.loads(data))
    conn.execute("COMMIT")
    sys.stdout.buffer.write(conn.serialize())
    sys.stdout.buffer.flush()
    return 0


if __name__ == "__main__":
    sys.exit(_worker_main(sys.argv[1]))
