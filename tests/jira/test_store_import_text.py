"""How the store keeps the documents it imports: TEXT whatever form they came in, UTF-8 checked, 16 KB pages.

An import keeps valid UTF-8 as bytes (ASCII lines, msgspec's encoding of a dict) and stores it
with ``CAST(? AS TEXT)``: SQLite reads a BLOB cast to TEXT as text in the database encoding
(sqlite.org/lang_expr.html, "CAST expressions"), so the stored value must be TEXT equal to the line.
The oracle here is the standard library's ``json`` and the lines themselves, not labkit's decoder.
"""

from __future__ import annotations

import json
import sqlite3

import pytest

from labkit.jira.errors import JiraError
from labkit.jira.store import Store

from .test_store_helpers import issue

pytestmark = pytest.mark.unit


def _docs(store: Store) -> dict[str, tuple[str, str]]:
    """Each issue's stored document: its SQLite type and its text."""
    return {k: (t, d) for k, t, d in store.db.execute(
        "SELECT i.key, typeof(d.doc), d.doc FROM issue i JOIN issue_doc d ON d.rid = i.rid")}


def test_documents_are_text_whatever_form_they_came_in():
    """Dicts, str lines, ASCII and non-ASCII byte lines: TEXT equal to the line given, searchable, read back whole."""
    as_dict = issue("D-1", "dict café", "plain description")
    str_line = json.dumps(issue("D-2", "str line Größe", "naïve text"), ensure_ascii=False)
    ascii_bytes = json.dumps(issue("D-3", "ascii bytes volume", "escaped \u00e9t\u00e9")).encode()  # \\u escapes
    utf8_bytes = json.dumps(issue("D-4", "utf8 bytes café", "Größe über alles"), ensure_ascii=False).encode()
    assert ascii_bytes.isascii() and not utf8_bytes.isascii()
    s = Store()
    assert s.import_issues([as_dict, str_line, ascii_bytes, utf8_bytes]) == 4
    docs = _docs(s)
    assert {k: t for k, (t, _) in docs.items()} == dict.fromkeys(("D-1", "D-2", "D-3", "D-4"), "text")
    assert json.loads(docs["D-1"][1]) == as_dict
    assert docs["D-2"][1] == str_line
    assert docs["D-3"][1] == ascii_bytes.decode()
    assert docs["D-4"][1] == utf8_bytes.decode()
    # length() counts characters of TEXT (bytes of a BLOB): the non-ASCII document is text, not bytes
    n = s.db.execute("SELECT length(d.doc) FROM issue i JOIN issue_doc d ON d.rid = i.rid WHERE i.key = 'D-4'")
    assert n.fetchone()[0] == len(utf8_bytes.decode())
    assert s.search_keys('text ~ "café"')[0] == ["D-4", "D-1"]
    assert s.search_keys('description ~ "größe"')[0] == ["D-4"]
    assert s.search_keys('description ~ "été"')[0] == ["D-3"]
    assert s.get_issue("D-4")["fields"]["description"] == "Größe über alles"
    assert s.get_issue("D-3")["fields"]["description"] == "escaped été"


def test_a_line_that_is_not_utf8_is_refused_and_nothing_is_stored():
    """Bytes that are not UTF-8 stop the import with a one-line error; the valid lines before them are not kept."""
    good = json.dumps(issue("U-1", "fine")).encode()
    bad = json.dumps(issue("U-2", "PLACEHOLDER")).encode().replace(b"PLACEHOLDER", b"caf\xe9")  # Latin-1, not UTF-8
    s = Store()
    with pytest.raises(JiraError, match="not UTF-8 text"):
        s.import_issues([good, bad])
    assert len(s) == 0 and s.db.execute("SELECT COUNT(*) FROM issue_doc").fetchone()[0] == 0
    assert s.import_issues([good]) == 1


def test_a_new_store_has_16k_pages_and_an_older_one_keeps_its_own(tmp_path):
    """A new store (file in WAL mode, or memory) gets 16 KB pages; a file made with 4 KB pages keeps them and works."""
    with Store(tmp_path / "new.db") as s:
        assert s.db.execute("PRAGMA page_size").fetchone()[0] == 16384
        assert s.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    with Store() as s:
        assert s.db.execute("PRAGMA page_size").fetchone()[0] == 16384
    old = tmp_path / "old.db"
    with sqlite3.connect(old) as db:  # a database created before: 4 KB pages, WAL
        db.execute("PRAGMA page_size=4096")
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("CREATE TABLE unrelated(x)")
    db.close()
    with Store(old) as s:
        s.import_issues([issue("O-1", "old pages volume"), issue("O-2", "second")])
    with Store(old) as s:
        assert s.db.execute("PRAGMA page_size").fetchone()[0] == 4096
        assert s.search_keys('summary ~ "volume"')[0] == ["O-1"] and len(s) == 2
