"""The store's two FTS5 text indexes: their one declaration, and building them beside a bulk load on other threads.

Each FTS5 table costs about as much CPU as all the rest of an import (3.6 s each for the 80 MB
of text of the 29k real issues) and the two are independent. SQLite releases the GIL while a
statement steps, so :class:`FtsBuilder` feeds each index, batch by batch, to its own private
in-memory database on its own thread while the main thread decodes issues and inserts the rows.
At the end the finished index is moved into the store inside the import's transaction: the
store's (empty) table is dropped and created again with the same declaration, and the rows of
its shadow tables (``<t>_data``, ``<t>_idx``, ``<t>_config``, ``<t>_docsize``) are copied in.
FTS5 keeps all of a contentless table's index in those shadow tables, its structure record and
configuration included, and reads them back from there (the shadow tables of sqlite.org/fts5.html),
so an identically declared table holding the same rows is the same index; the tests check that the
rows equal a row-by-row build's and that FTS5's own ``integrity-check`` passes. Re-creating the table (rather than writing into the shadow tables
of the one the connection has open) matters: an open FTS5 table caches its structure record per
connection and only re-reads it when another connection changed the file.
The copy happens inside the import's transaction, so a failure or a kill leaves the store as it was.
"""

from __future__ import annotations

import queue
import sqlite3
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
_QUEUED = 4  # batches waiting per index: the main thread waits when an index falls this far behind


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


class FtsBuilder:
    """Build the FTS5 tables of a bulk load on worker threads; :meth:`finish` moves them into the store."""

    def __init__(self, names: Sequence[str] = tuple(FTS_TABLES)) -> None:
        """Start one worker per table, each with a private in-memory database holding that table."""
        self._work: list[tuple[str, sqlite3.Connection, queue.Queue, threading.Thread]] = []
        self._errors: list[BaseException] = []
        self._stop = threading.Event()
        for name in names:
            conn = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
            conn.execute(fts_create(name, if_not_exists=False))
            conn.execute("BEGIN")
            bulk_merging(conn, name, bulk=True)
            q: queue.Queue = queue.Queue(_QUEUED)
            t = threading.Thread(target=self._run, args=(name, conn, q), name=f"labkit-{name}", daemon=True)
            self._work.append((name, conn, q, t))
            t.start()

    def _run(self, name: str, conn: sqlite3.Connection, q: queue.Queue) -> None:
        """Insert the queued batches until the end mark (after a failure: drain them, so the feeder never waits)."""
        sql = fts_insert(name)
        while True:
            rows = q.get()
            if rows is None:
                break
            if self._errors or self._stop.is_set():
                continue
            try:
                conn.executemany(sql, rows)
            except BaseException as exc:  # noqa: BLE001 - handed to the importing thread by finish()
                self._errors.append(exc)
        if not self._errors and not self._stop.is_set():
            try:
                conn.execute("COMMIT")
            except BaseException as exc:  # noqa: BLE001 - as above
                self._errors.append(exc)

    def _check(self) -> None:
        """Raise a worker's error in the importing thread."""
        if self._errors:
            raise self._errors[0]

    def add(self, rows: list[tuple]) -> None:
        """Queue a batch of ``(rowid, summary, description, environment, comment)`` rows for every table."""
        self._check()
        for _, _, q, _ in self._work:
            q.put(rows)

    def _join(self) -> None:
        """Send the end mark and wait for the workers."""
        for _, _, q, _ in self._work:
            q.put(None)
        for _, _, _, t in self._work:
            t.join()

    def finish(self, db: sqlite3.Connection) -> None:
        """Wait for the indexes and move them into ``db``'s empty tables of the same names (inside its transaction)."""
        try:
            self._join()
            self._check()
            for name, conn, _, _ in self._work:
                db.execute(f"DROP TABLE {name}")
                db.execute(fts_create(name, if_not_exists=False))
                for shadow in _SHADOWS:
                    table = f"{name}_{shadow}"
                    if conn.execute("SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = ?",
                                    (table,)).fetchone() is None:
                        continue
                    cur = conn.execute(f"SELECT * FROM {table}")
                    marks = ", ".join("?" * len(cur.description))
                    db.execute(f"DELETE FROM {table}")
                    while rows := cur.fetchmany(2000):
                        db.executemany(f"INSERT INTO {table} VALUES ({marks})", rows)
        finally:
            self.close()

    def abort(self) -> None:
        """Stop the workers and drop what they built (the store is not touched)."""
        self._stop.set()
        self._join()
        self.close()

    def close(self) -> None:
        """Close the workers' databases."""
        for _, conn, _, _ in self._work:
            conn.close()
        self._work = []
