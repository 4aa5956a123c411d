"""An import of the real issues stores exactly the rows of an independent loader (the benchmark's raw floor).

``benchmarks/import_floor.py`` loads the same JSON lines into the same tables with msgspec and
hand-written ``executemany`` SQL and shares no code with labkit (it is the cost oracle of
``benchmarks/jql_offline.py``). On the 29,057 real Appcelerator issues every table labkit's import
writes must hold the same rows: issues, documents, labels, components, versions, links, named objects,
both FTS5 indexes' shadow tables (the index itself, not only its answers) and the same secondary
indexes. The only rows allowed to differ are the link types the store holds before any import.
Both of labkit's paths are checked: a large load (FTS5 built by worker processes) and a small one (row by row).
"""

from __future__ import annotations

import gzip
import importlib.util
import sqlite3
import sys
from pathlib import Path

import pytest

from labkit.jira.store import Store

from .test_store_helpers import APPC

pytestmark = [pytest.mark.integration, pytest.mark.slow]

_FLOOR = Path(__file__).resolve().parents[2] / "benchmarks" / "import_floor.py"
_NOT_TABLES = {"meta", "fts", "fts_raw", "fts_raw_vocab"}  # labkit's own counters; virtual tables (their rows below)


def _floor():
    """The benchmark's raw-floor loader, loaded from its file (it is not part of the package)."""
    spec = importlib.util.spec_from_file_location("import_floor", _FLOOR)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # msgspec resolves the structs' annotations through the module
    spec.loader.exec_module(mod)
    return mod


def _lines(limit: int | None = None) -> list[bytes]:
    """The real issues' JSON lines as bytes, as read from the archive's files."""
    if not APPC.exists():
        pytest.skip(f"the real Appcelerator archive is absent ({APPC}); set LABKIT_SHARED_DATA to its parent")
    out: list[bytes] = []
    for f in sorted(APPC.glob("*.jsonl.gz")):
        with gzip.open(f, "rb") as fh:
            out.extend(fh)
    return out[:limit]


def _tables(db: sqlite3.Connection) -> dict[str, set[tuple]]:
    """Every stored table's rows, and the secondary indexes as ``table(columns)``."""
    names = [r[0] for r in db.execute("SELECT name FROM sqlite_schema WHERE type = 'table'")]
    out = {n: set(db.execute(f"SELECT * FROM {n}")) for n in names if n not in _NOT_TABLES}
    out["indexes"] = {sql.split(" ON ", 1)[1] for (sql,) in db.execute(
        "SELECT sql FROM sqlite_schema WHERE type = 'index' AND sql IS NOT NULL")}
    return out


@pytest.mark.parametrize("limit", [None, 1500], ids=["large load", "small load"])
def test_the_import_stores_the_rows_an_independent_loader_stores(limit):
    """labkit's import and the floor's give the same rows in every table, FTS5 shadow tables included."""
    lines = _lines(limit)
    store = Store()
    assert store.import_issues(lines) == len(lines)
    floor = sqlite3.connect(":memory:", isolation_level=None)
    assert _floor().load(lines, floor) == len(lines)
    got, want = _tables(store.db), _tables(floor)
    before = {r[0] for r in Store().db.execute("SELECT id FROM linktype")}  # the types a new store holds
    for t in (got, want):
        t["linktype"] = {r for r in t["linktype"] if r[0] not in before}
    assert got.keys() == want.keys()
    for name in want:
        assert got[name] == want[name], name
    assert len(got["issue"]) == len(lines) and len(got["fts_data"]) > 100 and len(got["link"]) > (1000 if limit is None else 10)
