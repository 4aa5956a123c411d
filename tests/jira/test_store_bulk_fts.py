"""A large import into an empty store builds its FTS5 indexes in worker processes: the same index as one built row by row.

``Store.fts_workers`` switches the worker path (``labkit.jira.store.ftsbuild``) off, so the same
issues are imported both ways and compared: the FTS5 shadow tables row for row, FTS5's own
``integrity-check`` ("verify that the full-text index is internally consistent", sqlite.org/fts5.html),
the raw vocabulary, and the answers of text queries of every kind on every text field.
A failed or interrupted import leaves the store as it was.
"""

from __future__ import annotations

import random

import pytest

from labkit.jira.errors import JiraError
from labkit.jira.store import Store
from labkit.jira.store.ftsbuild import FTS_TABLES

from .test_store_helpers import issue

pytestmark = pytest.mark.unit

_WORDS = ("disk space volume attach reboot windows95 the node upgrade snapshot failed customers sdcard "
          "of and spacing disks volumes café naïve Größe").split()
_QUERIES = [
    'text ~ "disk"', 'text ~ "\\"disk space\\""', 'text ~ "\\"disk space\\"~3"', 'text ~ "snap*"',
    'text ~ "volum*"', 'text ~ "volume~1"', 'text ~ "disk -reboot"', 'text ~ "+node +upgrade"',
    'summary ~ "\\"volume attach\\""', 'description ~ "reboot*"', 'environment ~ "windows95"',
    'comment ~ "\\"the node\\""', 'comment ~ "café"', 'text ~ "größe"', 'summary ~ "sdcard"',
    'description is EMPTY', 'environment is not EMPTY', 'summary ~ "*"',
]
_SHADOWS = [f"{t}_{s}" for t in FTS_TABLES for s in ("data", "idx", "config", "docsize")]


def _text(k: int, n: int) -> str:
    """Seeded random text of ``n`` words for issue ``k``."""
    rnd = random.Random(k * 1000 + n)
    return " ".join(rnd.choice(_WORDS) for _ in range(n))


def _issues(count: int, *, project: str = "B") -> list[dict]:
    """``count`` issues with text in every text field (some fields empty)."""
    return [issue(f"{project}-{k + 1}", _text(k, 3 + k % 5), _text(k + 1, k % 40) if k % 11 else None,
                  comments=tuple(_text(k + c, 2 + c * 3) for c in range(k % 4)),
                  environment=_text(k, 2) if k % 3 == 0 else None) for k in range(count)]


def _state(store: Store) -> dict:
    """Everything the FTS5 indexes hold and answer, and that FTS5 finds them consistent."""
    out: dict = {}
    for t in _SHADOWS:
        if store.db.execute("SELECT 1 FROM sqlite_schema WHERE name = ?", (t,)).fetchone():
            out[t] = store.db.execute(f"SELECT * FROM {t} ORDER BY 1, 2").fetchall()
    for t in FTS_TABLES:  # raises sqlite3.DatabaseError when the index is corrupt
        store.db.execute(f"INSERT INTO {t}({t}) VALUES ('integrity-check')")
    out["vocab"] = store.db.execute("SELECT * FROM fts_raw_vocab ORDER BY term").fetchall()
    out["answers"] = {q: store.search_keys(q)[0] for q in _QUERIES}
    out["issues"] = store.db.execute("SELECT * FROM issue ORDER BY rid").fetchall()
    return out


def _imported(issues, monkeypatch, *, workers: bool, store: Store | None = None) -> Store:
    """A store with ``issues`` imported, the FTS5 indexes built by worker processes or row by row."""
    monkeypatch.setattr(Store, "fts_workers", workers)
    store = store if store is not None else Store()
    assert store.import_issues(issues) == len(issues)
    return store


def test_worker_fts_build_equals_the_row_by_row_one(monkeypatch):
    """Threads and row by row give the same shadow tables, vocabulary and answers; every query finds something."""
    issues = _issues(4500)  # two full batches and a partial one
    by_workers = _state(_imported(issues, monkeypatch, workers=True))
    sequential = _state(_imported(issues, monkeypatch, workers=False))
    assert by_workers == sequential
    assert all(by_workers["answers"][q] for q in _QUERIES if "EMPTY" not in q)
    assert len(by_workers["vocab"]) > 20


def test_a_key_repeated_in_a_later_batch_is_upserted_on_the_worker_path(monkeypatch):
    """A later batch repeating keys moves the workers' index into the store and goes on row by row: same result."""
    first = _issues(2500)
    again = [issue(i["key"], "replaced volume text", None) for i in first[:50]]
    by_workers = _state(_imported(first + again, monkeypatch, workers=True))
    sequential = _state(_imported(first + again, monkeypatch, workers=False))
    assert by_workers == sequential
    assert by_workers["answers"]['summary ~ "\\"volume attach\\""'] != []
    assert len(by_workers["issues"]) == 2500


def test_an_index_read_before_the_import_sees_the_imported_text(monkeypatch, tmp_path):
    """A search on the empty store (FTS5 caches its structure per connection) then a large import: the new index
    answers, in this store and in a store opened on the same file afterwards."""
    path = tmp_path / "t.db"
    store = Store(path)
    assert store.search_keys('text ~ "disk"')[0] == []
    issues = _issues(2100)
    _imported(issues, monkeypatch, workers=True, store=store)
    got = _state(store)
    store.close()
    with Store(path) as again:
        assert _state(again) == got
    assert got == _state(_imported(issues, monkeypatch, workers=False))


def _failing(issues, exc: BaseException):
    """Yield the issues, then raise ``exc`` (a bad item is a JiraError; a kill is a KeyboardInterrupt here)."""
    yield from issues
    raise exc


@pytest.mark.parametrize("exc", [JiraError("boom"), KeyboardInterrupt()])
@pytest.mark.parametrize("workers", [True, False])
def test_a_failed_large_import_leaves_the_store_as_it_was(monkeypatch, tmp_path, exc, workers):
    """An import into an empty store that fails after two batches leaves it empty and usable, on disk too."""
    monkeypatch.setattr(Store, "fts_workers", workers)
    path = tmp_path / "f.db"
    store = Store(path)
    empty = _state(store)
    with pytest.raises(type(exc)):
        store.import_issues(_failing(_issues(4100), exc))
    assert len(store) == 0
    assert _state(store) == empty
    bad = _issues(2001)
    with pytest.raises(JiraError, match="has no id or key"):
        store.import_issues([*bad, {"summary": "no key"}])
    assert _state(store) == empty
    store.close()
    with Store(path) as again:
        assert _state(again) == empty
        issues = _issues(2300)
        _imported(issues, monkeypatch, workers=workers, store=again)
        assert _state(again) == _state(_imported(issues, monkeypatch, workers=not workers))


@pytest.mark.parametrize("executable", ["/bin/false", "/nonexistent/python"])
def test_where_the_workers_cannot_run_the_index_is_built_row_by_row(monkeypatch, executable):
    """A Python that cannot run the worker file (or none at all): the same store as the row-by-row build."""
    issues = _issues(2300)
    expected = _state(_imported(issues, monkeypatch, workers=False))
    monkeypatch.setattr("labkit.jira.store.ftsbuild.sys.executable", executable)
    assert _state(_imported(issues, monkeypatch, workers=True)) == expected


def test_a_worker_that_dies_fails_the_import_in_one_line_and_loses_nothing(monkeypatch, tmp_path):
    """A worker killed in the middle of a large import: a JiraError naming the index, the store as it was."""
    import signal

    from labkit.jira.store import ftsbuild

    started = ftsbuild.FtsBuilder.started

    def kill_one(self):
        ok = started(self)
        self._work[0].proc.send_signal(signal.SIGKILL)
        return ok

    monkeypatch.setattr(ftsbuild.FtsBuilder, "started", kill_one)
    store = Store(tmp_path / "k.db")
    empty = _state(store)
    with pytest.raises(JiraError, match=r"building the text index fts failed: .*exit status -9") as err:
        _imported(_issues(4100), monkeypatch, workers=True, store=store)
    assert "\n" not in str(err.value) and "run it again" in (err.value.hint or "")
    assert len(store) == 0 and _state(store) == empty
    monkeypatch.setattr(ftsbuild.FtsBuilder, "started", started)
    issues = _issues(2300)
    assert _state(_imported(issues, monkeypatch, workers=True, store=store)) == _state(
        _imported(issues, monkeypatch, workers=False))
