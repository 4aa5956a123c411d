"""The raw floor of an import: Jira REST JSON lines into the store's tables with msgspec and executemany, no labkit code.

Run alone: .venv/bin/python benchmarks/import_floor.py FILE.jsonl [--db PATH]   (or ``-`` for the real archive)

What a person who knows SQLite would write to load the same tables labkit's store holds, in one
thread, each column's rule written out again here (it imports nothing from ``labkit``: it is the
cost oracle of ``benchmarks/jql_offline.py`` and the row oracle of tests/jira/test_store_import_floor.py):
- each line decoded once with msgspec into structs of just the indexed fields, the line itself kept
  as the document (TEXT);
- the issue row (ids, names, users, dates in UTC ``YYYY-MM-DDTHH:MM:SS``, rank, the text bits),
  labels, components, versions, links with the snapshot of each end's fields, link types, named
  objects; both FTS5 tables (Porter with positions; raw words, columns only) fed row by row;
- everything in one transaction with ``executemany`` per batch of 2,000, then the same 30
  secondary indexes built once at the end (``PRAGMA threads=2``), in a database with 16 KB pages.
Its CPU time is what SQLite and msgspec themselves cost on this machine; CPU / 2 bounds from below
what any use of 2 cores can reach. The rows are close to labkit's, not guaranteed equal (rich-text
fields are stored as their JSON; date forms other than Jira's usual one are kept as given): it
measures cost, it is not a second implementation.
"""

from __future__ import annotations

import gc
import re
import sqlite3
import sys
import time
from typing import Any

import msgspec

# The store's tables, written out here on purpose (the floor imports nothing from labkit);
# tests/jira/test_store_import_floor.py checks that both hold the same tables and indexes.
DDL = """
CREATE TABLE issue(
  rid INTEGER PRIMARY KEY, id TEXT UNIQUE NOT NULL, key TEXT UNIQUE NOT NULL,
  project TEXT, num INTEGER, project_id TEXT, project_name TEXT, summary TEXT,
  issuetype TEXT, issuetype_id TEXT, status TEXT, status_id TEXT,
  status_category TEXT, status_category_key TEXT, status_category_id INTEGER,
  priority TEXT, priority_id TEXT, resolution TEXT, resolution_id TEXT,
  assignee TEXT, assignee_display TEXT, reporter TEXT, reporter_display TEXT,
  creator TEXT, creator_display TEXT, parent TEXT, parent_id TEXT,
  created TEXT, updated TEXT, resolved TEXT, due TEXT, rank TEXT, texts INTEGER NOT NULL DEFAULT 0);
CREATE TABLE issue_doc(rid INTEGER PRIMARY KEY, doc TEXT NOT NULL, changelog TEXT, canonical INTEGER NOT NULL DEFAULT 0);
CREATE TABLE object(kind TEXT NOT NULL, id TEXT NOT NULL, name TEXT NOT NULL, key TEXT NOT NULL,
  PRIMARY KEY (kind, id, name, key)) WITHOUT ROWID;
CREATE TABLE label(rid INTEGER, value TEXT);
CREATE TABLE component(rid INTEGER, value TEXT, cid TEXT);
CREATE TABLE fixversion(rid INTEGER, value TEXT, vid TEXT);
CREATE TABLE affectsversion(rid INTEGER, value TEXT, vid TEXT);
CREATE TABLE link(id TEXT PRIMARY KEY, type_id TEXT, type_name TEXT, inward TEXT, outward TEXT,
  src TEXT, src_id TEXT, src_fields TEXT, dst TEXT, dst_id TEXT, dst_fields TEXT);
CREATE TABLE linktype(id TEXT PRIMARY KEY, name TEXT, inward TEXT, outward TEXT);
CREATE VIRTUAL TABLE fts USING fts5(summary, description, environment, comment, content='', columnsize=0,
  tokenize='porter unicode61 remove_diacritics 0');
CREATE VIRTUAL TABLE fts_raw USING fts5(summary, description, environment, comment, content='',
  tokenize='unicode61 remove_diacritics 0', detail=column);
"""
INDEXES = """
CREATE INDEX a1 ON issue(project, num); CREATE INDEX a2 ON issue(rank); CREATE INDEX a3 ON issue(created);
CREATE INDEX a4 ON issue(updated); CREATE INDEX a5 ON issue(resolved); CREATE INDEX a6 ON issue(due);
CREATE INDEX a7 ON issue(project, status); CREATE INDEX a8 ON issue(status, project);
CREATE INDEX a9 ON issue(project_id); CREATE INDEX a10 ON issue(issuetype); CREATE INDEX a11 ON issue(priority);
CREATE INDEX a12 ON issue(resolution);
CREATE INDEX b1 ON issue(assignee COLLATE NOCASE); CREATE INDEX b2 ON issue(assignee_display COLLATE NOCASE);
CREATE INDEX b3 ON issue(reporter COLLATE NOCASE); CREATE INDEX b4 ON issue(reporter_display COLLATE NOCASE);
CREATE INDEX b5 ON issue(creator COLLATE NOCASE); CREATE INDEX b6 ON issue(creator_display COLLATE NOCASE);
CREATE INDEX b7 ON issue(parent COLLATE NOCASE); CREATE INDEX b8 ON issue(parent_id COLLATE NOCASE);
CREATE INDEX c1 ON label(rid); CREATE INDEX c2 ON label(value COLLATE NOCASE);
CREATE INDEX c3 ON component(rid); CREATE INDEX c4 ON component(value);
CREATE INDEX c5 ON fixversion(rid); CREATE INDEX c6 ON fixversion(value);
CREATE INDEX c7 ON affectsversion(rid); CREATE INDEX c8 ON affectsversion(value);
CREATE INDEX c9 ON link(src); CREATE INDEX c10 ON link(dst);
"""
# Jira's English stop words (Atlassian, "Search syntax for text fields"): a text of only these has no searchable word
STOP = frozenset("a an and are as at be but by for if in into is it no not of on or such that the their then "
                 "there these they this to was will with".split())
WORD = re.compile(r"[^\W_]+")
B36 = "0123456789abcdefghijklmnopqrstuvwxyz"


class Obj(msgspec.Struct, gc=False):
    id: Any = None
    name: Any = None
    key: Any = None


class Cat(msgspec.Struct, gc=False):
    id: Any = None
    key: Any = None
    name: Any = None


class St(msgspec.Struct, gc=False):
    id: Any = None
    name: Any = None
    statusCategory: Cat | None = None


class Person(msgspec.Struct, gc=False):
    name: Any = None
    accountId: Any = None
    key: Any = None
    displayName: Any = None


class End(msgspec.Struct, gc=False):
    id: Any = None
    key: Any = None
    fields: msgspec.Raw = msgspec.field(default_factory=msgspec.Raw)


class LType(msgspec.Struct, gc=False):
    id: Any = None
    name: Any = None
    inward: Any = None
    outward: Any = None


class IssueLink(msgspec.Struct, gc=False):
    id: Any = None
    type: LType | None = None
    inwardIssue: End | None = None
    outwardIssue: End | None = None


class Body(msgspec.Struct, gc=False):
    body: Any = None


class CommentList(msgspec.Struct, gc=False):
    comments: list[Body] | None = None


class Fields(msgspec.Struct, gc=False):
    project: Obj | None = None
    summary: Any = None
    description: Any = None
    environment: Any = None
    issuetype: Obj | None = None
    status: St | None = None
    priority: Obj | None = None
    resolution: Obj | None = None
    assignee: Person | None = None
    reporter: Person | None = None
    creator: Person | None = None
    parent: Obj | None = None
    created: Any = None
    updated: Any = None
    resolutiondate: Any = None
    duedate: Any = None
    labels: list[Any] | None = None
    components: list[Obj] | None = None
    fixVersions: list[Obj] | None = None
    versions: list[Obj] | None = None
    comment: CommentList | None = None
    issuelinks: list[IssueLink] | None = None
    rank: Any = msgspec.field(default=None, name="customfield_10019")


class Snap(msgspec.Struct, gc=False, omit_defaults=True):
    summary: msgspec.Raw | msgspec.UnsetType = msgspec.UNSET
    status: msgspec.Raw | msgspec.UnsetType = msgspec.UNSET
    priority: msgspec.Raw | msgspec.UnsetType = msgspec.UNSET
    issuetype: msgspec.Raw | msgspec.UnsetType = msgspec.UNSET


class Line(msgspec.Struct, gc=False):
    id: Any = None
    key: Any = None
    fields: Fields | None = None


class SnapLine(msgspec.Struct, gc=False):
    fields: Snap | None = None


def _text(v: Any) -> str:
    """A text field's text: a string as is, nothing as empty, anything else its JSON."""
    if v.__class__ is str:
        return v
    return "" if v is None else msgspec.json.encode(v).decode()


def _utc(v: Any) -> Any:
    """Jira's ``2016-02-03T23:55:46.000+0000`` as ``2016-02-03T23:55:46``; a date gets midnight."""
    if not v:
        return None
    if len(v) >= 24 and v.endswith("+0000"):
        return v[:19]
    return v + "T00:00:00" if len(v) == 10 else v


def _rank(n: int) -> str:
    """The n-th bottom rank ``0|xxxxxx:``."""
    x = int("100000", 36) + n * 1024
    out = ""
    while x:
        x, r = divmod(x, 36)
        out = B36[r] + out
    return f"0|{out.rjust(6, '0')}:"


def _bits(ts: tuple[str, str, str, str]) -> int:
    """The text bits: bit k when text k is not blank, bit 4+k when it holds a word that is not a stop word."""
    mask = 0
    for k, t in enumerate(ts):
        if t and t.strip():
            mask |= 1 << k
            if any(m.group().lower() not in STOP for m in WORD.finditer(t)):
                mask |= 1 << (4 + k)
    return mask


def load(lines, db: sqlite3.Connection) -> int:
    """Load JSON lines into ``db`` (a new database) the plain way; return the issue count."""
    gc.disable()  # millions of small tuples and no cycles: the cyclic collector would only walk them
    try:
        return _load(lines, db)
    finally:
        gc.enable()


def _load(lines, db: sqlite3.Connection) -> int:
    """:func:`load` with the collector off."""
    db.execute("PRAGMA page_size=16384")
    db.execute("PRAGMA journal_mode=MEMORY")
    db.execute("PRAGMA synchronous=OFF")
    db.execute("PRAGMA cache_size=-200000")
    db.execute("PRAGMA threads=2")
    db.executescript(DDL)
    db.execute("BEGIN")
    for t in ("fts", "fts_raw"):  # FTS5's bulk-load settings: no merging as it goes, rare crisis merges
        db.execute(f"INSERT INTO {t}({t}, rank) VALUES ('automerge', 0)")
        db.execute(f"INSERT INTO {t}({t}, rank) VALUES ('crisismerge', 64)")
    dec, snap, enc = msgspec.json.Decoder(Line), msgspec.json.Decoder(SnapLine), msgspec.json.Encoder()
    sql = {
        "issue": f"INSERT INTO issue VALUES ({','.join('?' * 33)})", "doc": "INSERT INTO issue_doc VALUES (?,CAST(? AS TEXT),NULL,0)",
        "fts": "INSERT INTO fts (rowid, summary, description, environment, comment) VALUES (?,?,?,?,?)",
        "fts_raw": "INSERT INTO fts_raw (rowid, summary, description, environment, comment) VALUES (?,?,?,?,?)",
        "label": "INSERT INTO label VALUES (?,?)", "component": "INSERT INTO component VALUES (?,?,?)",
        "fixversion": "INSERT INTO fixversion VALUES (?,?,?)", "affectsversion": "INSERT INTO affectsversion VALUES (?,?,?)",
        "link": "INSERT OR REPLACE INTO link VALUES (?,?,?,?,?,?,?,?,?,?,?)",
        "linktype": "INSERT OR IGNORE INTO linktype VALUES (?,?,?,?)",
        "object": "INSERT OR IGNORE INTO object VALUES (?,?,?,?)",
    }
    rid = 0
    nrank = 0
    rows: dict[str, list] = {k: [] for k in sql}

    def flush() -> None:
        for k, s in sql.items():
            if rows[k]:
                db.executemany(s, rows[k])
                rows[k] = []

    def who(p: Person | None) -> tuple[Any, Any]:
        if p is None:
            return None, None
        login = p.name or p.accountId or p.key
        return login, p.displayName or login

    for line in lines:
        it = dec.decode(line)
        f = it.fields or Fields()
        rid += 1
        proj, st, it_, pr, rs, pa = f.project, f.status, f.issuetype, f.priority, f.resolution, f.parent
        cat = st.statusCategory if st else None
        pkey, _, num = it.key.rpartition("-")
        rank = f.rank
        if not rank:
            rank, nrank = _rank(nrank), nrank + 1
        bodies = f.comment.comments if f.comment and f.comment.comments else ()
        ts = (_text(f.summary), _text(f.description), _text(f.environment), "\n".join(_text(b.body) for b in bodies))
        a, r, c = who(f.assignee), who(f.reporter), who(f.creator)
        rows["issue"].append((
            rid, str(it.id), it.key, (proj.key if proj else None) or pkey, int(num) if num.isdigit() else 0,
            proj.id if proj else None, proj.name if proj else None, f.summary,
            it_.name if it_ else None, it_.id if it_ else None, st.name if st else None, st.id if st else None,
            cat.name if cat else None, cat.key if cat else None, cat.id if cat else None,
            pr.name if pr else None, pr.id if pr else None, rs.name if rs else None, rs.id if rs else None,
            a[0], a[1], r[0], r[1], c[0], c[1], pa.key if pa else None, pa.id if pa else None,
            _utc(f.created), _utc(f.updated), _utc(f.resolutiondate), _utc(f.duedate), rank, _bits(ts)))
        rows["doc"].append((rid, line))
        rows["fts"].append((rid, *ts))
        rows["fts_raw"].append((rid, *ts))
        obj = rows["object"]
        if proj:
            obj.append(("project", str(proj.id or ""), str(proj.name or ""), str(proj.key or "")))
        for kind, o in (("issuetype", it_), ("status", st), ("priority", pr), ("resolution", rs)):
            if o is not None and (o.id is not None or o.name):
                obj.append((kind, str(o.id or ""), str(o.name or ""), ""))
        for lb in f.labels or ():
            rows["label"].append((rid, lb))
        for kind, tbl, objs in (("component", "component", f.components), ("fixversion", "fixversion", f.fixVersions),
                                ("affectsversion", "affectsversion", f.versions)):
            for o in objs or ():
                rows[tbl].append((rid, o.name, o.id))
                obj.append((kind, str(o.id or ""), str(o.name or ""), ""))
        if f.issuelinks:
            sf = snap.decode(line).fields
            me = (it.key, str(it.id), "{}" if sf is None else enc.encode(sf).decode())
            for lk in f.issuelinks:
                t = lk.type or LType()
                rows["linktype"].append((t.id, t.name, t.inward, t.outward))
                o = lk.outwardIssue or lk.inwardIssue
                if o is None:
                    continue
                raw = bytes(o.fields)
                other = (o.key, str(o.id), "{}" if not raw or raw == b"null" else raw.decode())
                src, dst = (me, other) if lk.outwardIssue is not None else (other, me)
                rows["link"].append((str(lk.id), t.id, t.name, t.inward, t.outward, *src, *dst))
        if rid % 2000 == 0:
            flush()
    flush()
    for stmt in INDEXES.split(";"):
        if stmt.strip():
            db.execute(stmt)
    for t in ("fts", "fts_raw"):  # FTS5's default merging again (sqlite.org/fts5.html: automerge 4, crisismerge 16)
        db.execute(f"INSERT INTO {t}({t}, rank) VALUES ('automerge', 4)")
        db.execute(f"INSERT INTO {t}({t}, rank) VALUES ('crisismerge', 16)")
    db.execute("COMMIT")
    return rid


def main() -> None:
    """Time the floor on a JSON-lines file."""
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("lines")
    ap.add_argument("--db", default=":memory:")
    args = ap.parse_args()
    db = sqlite3.connect(args.db, isolation_level=None)
    with open(args.lines, "rb") as fh:
        t, cpu = time.perf_counter(), time.process_time()
        n = load(fh, db)
    print(f"floor: {n:,} issues in {time.perf_counter() - t:.1f} s wall, {time.process_time() - cpu:.1f} s CPU",
          file=sys.stderr)


if __name__ == "__main__":
    main()
