"""A local mirror of a Jira tracker in SQLite: import REST issue JSON, search it with JQL, edit it.

>>> from labkit.jira.store import Store
>>> store = Store()                                  # or Store("tracker.db")
>>> store.import_issues(issues)                      # Jira REST issue JSON, upsert by key
>>> store.search('text ~ "\\"disk space\\"" ORDER BY created DESC')   # a DataFrame

Text fields go to two contentless FTS5 tables: ``fts`` (Porter stems, for words and phrases) and
``fts_raw`` (words as written, for wildcards and fuzzy terms). What FTS5 cannot answer exactly
(proximity, phrases over stop words) it narrows down and Python checks (``labkit.jira.jql.text``).
Without ``ORDER BY`` results come in ``key DESC`` order (project, then number, newest first).
Once searches have fetched as many rows as the store holds, the search columns of every issue are
kept in memory (``labkit.jira.store.framecache``, about 1 KB an issue; ``Store.frame_cache = False``
turns it off) until the store changes; with it, a whole result is sorted by each issue's rank in
its order, computed once by SQLite with the same ORDER BY (``Store.cached_orders``).
``WAS``/``CHANGED`` are answered from ``changelog.histories`` when every issue has one; any clause
the store cannot answer raises ``JqlError`` naming it.
"""

from __future__ import annotations

import copy
import functools
import json
import os
import sqlite3
import threading
import zlib
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from itertools import repeat
from typing import Any, NamedTuple

import msgspec
from msgspec import Raw

from labkit.bulk import no_gc
from labkit.jira.errors import JiraError, JqlError
from labkit.jira.jql.limits import check_length, check_terms
from labkit.jira.jql.parser import parse
from labkit.jira.jql.text import has_index_word
from labkit.jira.model import (
    ADF_BODY,
    DEFAULT_LINK_TYPES,
    LEXO_RANK,
    RANK_FIELD,
    RANK_FIELD_NUMBER,
    SEARCH_COLUMNS,
    SEARCH_DATE_COLUMNS,
    BlockingRule,
    TimesColumn,
    blocking_rule,
    search_times_columns,
    status_category,
    text_of,
)
from labkit.jira.store.budget import SearchBudget
from labkit.jira.store.dates import iso, normalise
from labkit.jira.store.decode import (
    Category,
    DocFields,
    IssueDoc,
    LinkType,
    Named,
    Status,
    decode_issue,
    encode,
    fields_snapshot,
    fields_texts,
    link_snapshot,
    loads,
    raw_object,
    split_changelog,
    stored_fields,
    stored_issue,
    stored_parts,
    texts,
)
from labkit.jira.store.framecache import FrameCache, FramePolicy
from labkit.jira.store.ftsbuild import FTS_TABLES, FtsBuilder, bulk_merging, fts_create, fts_insert
from labkit.jira.store.rank import RANK_START, RANK_STEP, between, rank_int, rank_of
from labkit.jira.store.sql import IdSelect, SqlBuilder

__all__ = ["Store", "StoredIssue", "in_place", "rest_comment", "rest_parts"]

_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS issue(
  rid INTEGER PRIMARY KEY, id TEXT UNIQUE NOT NULL, key TEXT UNIQUE NOT NULL,
  project TEXT, num INTEGER, project_id TEXT, project_name TEXT, summary TEXT,
  issuetype TEXT, issuetype_id TEXT, status TEXT, status_id TEXT,
  status_category TEXT, status_category_key TEXT, status_category_id INTEGER,
  priority TEXT, priority_id TEXT, resolution TEXT, resolution_id TEXT,
  assignee TEXT, assignee_display TEXT, reporter TEXT, reporter_display TEXT,
  creator TEXT, creator_display TEXT, parent TEXT, parent_id TEXT,
  created TEXT, updated TEXT, resolved TEXT, due TEXT, rank TEXT, texts INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS issue_doc(rid INTEGER PRIMARY KEY, doc TEXT NOT NULL, changelog TEXT,
  canonical INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS object(kind TEXT NOT NULL, id TEXT NOT NULL, name TEXT NOT NULL, key TEXT NOT NULL,
  PRIMARY KEY (kind, id, name, key)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS label(rid INTEGER, value TEXT);
CREATE TABLE IF NOT EXISTS component(rid INTEGER, value TEXT, cid TEXT);
CREATE TABLE IF NOT EXISTS fixversion(rid INTEGER, value TEXT, vid TEXT);
CREATE TABLE IF NOT EXISTS affectsversion(rid INTEGER, value TEXT, vid TEXT);
CREATE TABLE IF NOT EXISTS link(
  id TEXT PRIMARY KEY, type_id TEXT, type_name TEXT, inward TEXT, outward TEXT,
  src TEXT, src_id TEXT, src_fields TEXT, dst TEXT, dst_id TEXT, dst_fields TEXT);
CREATE TABLE IF NOT EXISTS linktype(id TEXT PRIMARY KEY, name TEXT, inward TEXT, outward TEXT);
CREATE TABLE IF NOT EXISTS meta(name TEXT PRIMARY KEY, value TEXT);
{fts_create("fts")};
{fts_create("fts_raw")};
CREATE VIRTUAL TABLE IF NOT EXISTS fts_raw_vocab USING fts5vocab(fts_raw, 'row');
"""

# Page size of a new store. A stored document averages 4-7 KB: with SQLite's default 4 KB pages almost every
# one spills into an overflow page. With 16 KB pages a load of 100,000 generated issues took about 10 % less CPU
# (document inserts and the index builds at its end). SQLite fixes the page size when the database is created
# and ignores the pragma for an existing one (sqlite.org/pragma.html#pragma_page_size), so it is set first of all.
_PAGE_SIZE = 16384
_RIDS = msgspec.json.Decoder(list[int])  # a JSON array of row ids (json_group_array)
_SQL_INT_MAX = 2**62  # LIMIT/OFFSET bound: SQLite integers are 64-bit, no store holds this many issues

# Secondary indexes: one for each column a JQL clause can match (NOCASE where the match ignores case), the
# orders of ORDER BY, and the look-ups of links and multi-valued fields (an object's id is matched through its
# name's index, see SqlBuilder._by_id; statusCategory has three values, an index would not narrow it). A load into an empty store drops
# them and builds each once at the end (a sort), which is much faster than updating them row by row.
_INDEXES = {
    "issue_pk": "issue(project, num)", "issue_rank": "issue(rank)", "issue_created": "issue(created)",
    "issue_updated": "issue(updated)", "issue_resolved": "issue(resolved)", "issue_due": "issue(due)",
    "issue_project_status": "issue(project, status)", "issue_status": "issue(status, project)",
    "issue_project_id": "issue(project_id)", "issue_type": "issue(issuetype)", "issue_priority": "issue(priority)",
    "issue_resolution": "issue(resolution)",
    "issue_assignee": "issue(assignee COLLATE NOCASE)", "issue_assignee_name": "issue(assignee_display COLLATE NOCASE)",
    "issue_reporter": "issue(reporter COLLATE NOCASE)", "issue_reporter_name": "issue(reporter_display COLLATE NOCASE)",
    "issue_creator": "issue(creator COLLATE NOCASE)", "issue_creator_name": "issue(creator_display COLLATE NOCASE)",
    "issue_parent": "issue(parent COLLATE NOCASE)", "issue_parent_id": "issue(parent_id COLLATE NOCASE)",
    "label_rid": "label(rid)", "label_value": "label(value COLLATE NOCASE)",
    "component_rid": "component(rid)", "component_value": "component(value)",
    "fixversion_rid": "fixversion(rid)", "fixversion_value": "fixversion(value)",
    "affectsversion_rid": "affectsversion(rid)", "affectsversion_value": "affectsversion(value)",
    "link_src": "link(src)", "link_dst": "link(dst)",
}
# The issue table's columns in the order rows are built at import.
_ISSUE_COLUMNS = ("rid", "id", "key", "project", "num", "project_id", "project_name", "summary", "issuetype",
                  "issuetype_id", "status", "status_id", "status_category", "status_category_key",
                  "status_category_id", "priority", "priority_id", "resolution", "resolution_id", "assignee",
                  "assignee_display", "reporter", "reporter_display", "creator", "creator_display", "parent",
                  "parent_id", "created", "updated", "resolved", "due", "rank", "texts")
_INSERT_ISSUE = f"INSERT INTO issue ({', '.join(_ISSUE_COLUMNS)}) VALUES ({', '.join('?' * len(_ISSUE_COLUMNS))})"
_BATCH = 2000
# A document's text is bound as a str or as UTF-8 bytes (see _document); CAST keeps bytes TEXT: a BLOB cast to TEXT
# is its bytes read as text in the database encoding (sqlite.org/lang_expr.html, "CAST expressions"), UTF-8 in a
# store labkit made (checked when it is opened; in a store of another encoding the bytes are decoded first).
_INSERT_DOC = "INSERT INTO issue_doc VALUES (?, CAST(? AS TEXT), CAST(? AS TEXT), ?)"
# One search row: the columns of SEARCH_COLUMNS in order, lists as JSON arrays (sorted in Python: a sorted
# subquery per row costs SQLite a temporary b-tree each), the links as [type name, inward, outward, other key]
# from each side, for the blocking rule. Only links of the types the rule calls blocking are read (their
# ``name<US>inward<US>outward`` texts are the statement's first two parameters, see Store._blocking_types):
# the others cannot fill blocked_by or blocks.
_LINK_TYPE = "coalesce(type_name, '') || char(31) || coalesce(inward, '') || char(31) || coalesce(outward, '')"
_FRAME_SELECT = (
    "i.key, i.summary, i.status, i.status_category, i.issuetype, i.priority, i.assignee_display, "
    "i.reporter_display, i.created, i.updated, i.resolved, "
    "(SELECT json_group_array(value) FROM label WHERE rid = i.rid), "
    "(SELECT json_group_array(value) FROM component WHERE rid = i.rid), i.rank, "
    "(SELECT json_group_array(json_array(type_name, inward, outward, src)) FROM link WHERE dst = i.key "
    f"AND {_LINK_TYPE} IN (SELECT value FROM json_each(?1))), "
    "(SELECT json_group_array(json_array(type_name, inward, outward, dst)) FROM link WHERE src = i.key "
    f"AND {_LINK_TYPE} IN (SELECT value FROM json_each(?1)))")



def _page(start: int, limit: int | None) -> tuple[int, int]:
    """SQL LIMIT and OFFSET of a page (-1: no limit), clamped to what SQLite's 64-bit integers hold."""
    lim = -1 if limit is None else min(max(0, int(limit)), _SQL_INT_MAX)  # past any store's size
    return lim, min(max(0, int(start)), _SQL_INT_MAX)


@functools.lru_cache(maxsize=256)
def _checked_parse(jql: str) -> Any:
    """The syntax tree of a JQL text within the term limit, kept for the next search of the same text.

    The trees are immutable and parsing depends on the text alone; a notebook repeats its queries.
    Errors are raised each time (lru_cache keeps only results).
    """
    q = parse(jql)
    check_terms(q)
    return q


def _short(jql: str, limit: int = 200) -> str:
    """A JQL cut to ``limit`` characters for an error message."""
    return jql if len(jql) <= limit else jql[:limit] + f"... ({len(jql):,} characters)"


def _user(u: Any) -> tuple[Any, Any]:
    """(login, display name) of a decoded REST user."""
    if u is None:
        return None, None
    login = u.name or u.accountId or u.key
    return login, u.displayName or login


def text_mask(texts: tuple[str, str, str, str]) -> int:
    """Bits of a field's text for EMPTY and ``~ "*"``: bit k when field k has text, bit 4+k when it has a searchable word."""
    mask = 0
    for k, t in enumerate(texts):
        if t and t.strip():
            mask |= 1 << k
            if has_index_word(t):
                mask |= 1 << (4 + k)
    return mask


def _objects(f: DocFields, out: set[tuple[str, str, str, str]]) -> None:
    """Add the (kind, id, name, key) of the named objects an issue carries, for value look-ups in JQL.

    An object counts when it has an id or a name; what it lacks is an empty string. (Written out field
    by field, without a tuple of pairs to loop over: an import runs this for every issue.)
    """
    add = out.add
    p = f.project
    if p is not None and (p.id is not None or p.name):
        add(("project", str(p.id or ""), str(p.name or ""), str(p.key or "")))
    if (obj := f.issuetype) is not None and (obj.id is not None or obj.name):
        add(("issuetype", str(obj.id or ""), str(obj.name or ""), ""))
    if (obj := f.status) is not None and (obj.id is not None or obj.name):
        add(("status", str(obj.id or ""), str(obj.name or ""), ""))
    if (obj := f.priority) is not None and (obj.id is not None or obj.name):
        add(("priority", str(obj.id or ""), str(obj.name or ""), ""))
    if (obj := f.resolution) is not None and (obj.id is not None or obj.name):
        add(("resolution", str(obj.id or ""), str(obj.name or ""), ""))
    for kind, objs in (("component", f.components), ("fixversion", f.fixVersions), ("affectsversion", f.versions)):
        if objs:
            for obj in objs:
                if obj is not None and (obj.id is not None or obj.name):
                    add((kind, str(obj.id or ""), str(obj.name or ""), ""))


def _document(issue: dict | str | bytes) -> tuple[str | bytes, IssueDoc, bool, bytes | None]:
    """The stored text, the decoded indexed parts, whether the text is canonical and the changelog kept apart.

    A dict is stored as :func:`labkit.jira.store.decode.encode` makes it: canonical, each value's bytes in
    it are what ``encode`` gives that value decoded, so a reader may splice them (``Store.stored_issues``).
    Its changelog is kept apart (:func:`labkit.jira.store.decode.split_changelog`), canonical too.
    JSON text is kept as given: whether it is canonical is not known, a reader decodes it.
    The text stays UTF-8 bytes where it is known to be valid UTF-8 (msgspec's encoding of a dict, an
    ASCII line): decoding it into a ``str`` only for SQLite to encode it back costs about 5 % of an
    import of JSON lines. Such bytes are stored as TEXT (:data:`_INSERT_DOC`), the same value a str gives.
    """
    apart: bytes | None = None
    if isinstance(issue, dict):
        text, apart = split_changelog(issue)
    elif isinstance(issue, str | bytes):
        try:
            text = issue if isinstance(issue, str) or issue.isascii() else issue.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise JiraError(f"an issue to import is not UTF-8 text ({exc})",
                            hint="import Jira REST issue JSON: {id, key, fields}") from None
    else:
        raise JiraError(f"An issue to import has no id or key: {str(issue)[:80]}",
                        hint="import Jira REST issue JSON: {id, key, fields}")
    try:
        d = decode_issue(text)
    except (msgspec.DecodeError, ValueError) as exc:
        raise JiraError(f"an issue to import is not JSON ({exc}): {_start(text)}",
                        hint="import Jira REST issue JSON: {id, key, fields}") from None
    if d is None or not d.key or d.id in (None, ""):
        raise JiraError(f"An issue to import has no id or key: {_start(text)}",
                        hint="import Jira REST issue JSON: {id, key, fields}")
    return text, d, isinstance(issue, dict), apart


def _start(text: str | bytes) -> str:
    """The first 80 characters of an issue's text, for an error message."""
    return (text if isinstance(text, str) else text[:320].decode("utf-8", "replace"))[:80]


# Stand-ins for an absent object, whose attributes are all None: a row reads ``obj.name`` without a None test
_NO_NAMED, _NO_STATUS, _NO_CATEGORY = Named(), Status(), Category()


def _issue_row(rid: int, d: IssueDoc, f: DocFields, rank: str, texts: int) -> tuple:
    """The issue table row (in :data:`_ISSUE_COLUMNS` order) of one decoded issue."""
    key = d.key
    project, _, num = key.rpartition("-")
    proj = f.project or _NO_NAMED
    st = f.status or _NO_STATUS
    cat = st.statusCategory or _NO_CATEGORY
    it, pr = f.issuetype or _NO_NAMED, f.priority or _NO_NAMED
    rs, pa = f.resolution or _NO_NAMED, f.parent or _NO_NAMED
    summary = f.summary if f.summary is None or f.summary.__class__ is str else text_of(f.summary)
    return (rid, str(d.id), key, proj.key or project, int(num) if num.isdigit() else 0, proj.id, proj.name, summary,
            it.name, it.id, st.name, st.id, cat.name, cat.key, cat.id, pr.name, pr.id, rs.name, rs.id,
            *_user(f.assignee), *_user(f.reporter), *_user(f.creator), pa.key, pa.id,
            normalise(f.created), normalise(f.updated), normalise(f.resolutiondate), normalise(f.duedate),
            rank, texts)


def rest_comment(stored: Any) -> dict[str, Any]:
    """An issue's ``comment`` field as a read answers it: the stored comments (decoded), all of them, counted."""
    cm = ((loads(stored) if isinstance(stored, Raw) else stored) or {}).get("comments") or []
    return {"comments": cm, "maxResults": len(cm), "total": len(cm), "startAt": 0}


def in_place(stored: Any) -> Any:
    """The stored comment as it is: :func:`rest_parts` gives it its place, for the caller to convert later."""
    return stored


def rest_parts(fields: dict[str, Any], rank: str, links: list[dict] | None,
               comment: Callable[[Any], Any] | None = rest_comment) -> None:
    """Put into an issue's stored fields what a read answers from the store instead: rank, comment, links, in this order.

    The rule every reader of a whole issue or of a page of issues follows (:meth:`Store.get_issues`,
    :func:`labkit.jira.sandbox.fields.wire_fields`): the rank is the store's (a rank call moves it
    without rewriting the document), the comment is :func:`rest_comment` of the stored one, the
    links are the store's current ones (:meth:`Store._links_for`). A field the document has keeps
    its place; one it lacks is added after the others, in this order. ``comment``: how the stored
    comment becomes the answered one (:func:`in_place`: kept as stored, for the caller to convert;
    None: the comment is not asked for); ``links=None``: the links are not asked for.
    """
    fields[RANK_FIELD] = rank
    if comment is not None:
        fields["comment"] = comment(fields.get("comment"))
    if links is not None:
        fields["issuelinks"] = links


class StoredIssue(NamedTuple):
    """One issue as the store holds it, for rendering (:meth:`Store.stored_issues`)."""

    key: str
    id: str
    rank: str
    fields: dict[str, Raw]  # name -> stored JSON, in stored order
    changelog: Raw | None
    canonical: bool  # each stored value is the bytes labkit's ``encode`` gives it decoded: it may be spliced as is
    links: list[dict] | None  # REST-shaped ``issuelinks``, when asked for


class _Plan(NamedTuple):
    """A search's SQL: WHERE, ORDER BY, the ORDER BY's own terms (the order's name), parameters, the WHERE's id set."""

    where: str
    order: str
    terms: str
    params: list[Any]
    ids: IdSelect | None  # the WHERE is one id set, reported by the builder (else None)


class Store:
    """A local tracker: Jira REST issue JSON in SQLite, searched with JQL (FTS5 for text fields).

    ``now`` (a naive UTC datetime) fixes "now" for relative dates and date functions;
    ``current_user`` is what ``currentUser()`` means; ``budget`` (seconds, None: no limit) stops a
    search that runs longer with a JqlError. The connection may be shared by threads (a lock
    serialises writes and searches); other Store objects on the same file may read beside it.
    """

    # A load of at least one batch into an empty store builds the FTS5 indexes in worker processes
    # (labkit.jira.store.ftsbuild); False: row by row in this connection
    fts_workers = True
    # Keep every issue's search columns in memory once searches have fetched as many rows as the store
    # holds (labkit.jira.store.framecache; about 1 KB per issue); False: always fetch the rows. A store
    # with a search budget never builds it: the build (a minute on 1M issues) is not a bounded search
    frame_cache = True
    # With the frame cache, also sort pages (start/limit) by its ranks of an order; False: SQL sorts and cuts
    # them (Store._by_rank). Whole results are sorted by rank once the cache keeps their order.
    rank_pages = False

    def __init__(self, path: str | os.PathLike = ":memory:", *, blocking: BlockingRule | None = None) -> None:
        """Open (or create) a store at ``path``; ``":memory:"`` keeps it in memory.

        ``blocking`` decides the ``blocked_by``/``blocks`` columns (default: the active profile's rule).
        """
        self.path = str(path)
        self._blocking = blocking
        try:
            self.db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            self.db.execute(f"PRAGMA page_size={_PAGE_SIZE}")  # takes effect only in a new store
            self.db.execute("PRAGMA journal_mode=WAL" if self.path != ":memory:" else "PRAGMA journal_mode=MEMORY")
            self.db.execute("PRAGMA synchronous=OFF")
            self.db.execute("PRAGMA cache_size=-200000")
            self.db.execute("PRAGMA threads=2")  # index builds sort on two cores
            self._migrate()
            self.db.executescript(_SCHEMA)
            self._create_indexes()
        except sqlite3.Error as exc:
            raise JiraError(f"cannot open {self.path} as a labkit store ({exc})",
                            hint="give the path of a new file in an existing directory, or of a store "
                                 "labkit made before") from None
        self.lock = threading.RLock()
        self.now: datetime | None = None
        self.budget: float | None = None
        self._budget = SearchBudget(None)
        self.current_user = "admin"
        self._vocab: list[str] | None = None
        self._vocab_version = -1
        self._btypes: tuple[tuple[int, int, int], str] | None = None
        self._version = 0
        self._fcache: FrameCache | None = None
        self._fpolicy = FramePolicy()
        self._bulk = False  # within an import into an empty store: secondary indexes are built at its end
        self._fts: FtsBuilder | None = None  # within a large one: the FTS5 indexes being built by workers
        # UTF-8 documents are stored from bytes as they are (_INSERT_DOC) only where that is the database's encoding
        self._utf8 = self.db.execute("PRAGMA encoding").fetchone()[0] == "UTF-8"
        if self.db.execute("SELECT COUNT(*) FROM linktype").fetchone()[0] == 0:
            self.db.executemany("INSERT INTO linktype VALUES (:id, :name, :inward, :outward)", DEFAULT_LINK_TYPES)

    @property
    def blocking(self) -> BlockingRule:
        """Which links fill ``blocked_by``/``blocks`` (the active profile's rule unless one was given)."""
        if self._blocking is None:
            self._blocking = blocking_rule()
        return self._blocking

    def _migrate(self) -> None:
        """Bring a store made by an earlier labkit up to this schema (new columns, the object table)."""
        doc_cols = {r[1] for r in self.db.execute("PRAGMA table_info(issue_doc)")}
        if doc_cols and "canonical" not in doc_cols:  # its documents are read as not known to be canonical
            self.db.execute("ALTER TABLE issue_doc ADD COLUMN canonical INTEGER NOT NULL DEFAULT 0")
        cols = {r[1] for r in self.db.execute("PRAGMA table_info(issue)")}
        if not cols or "texts" in cols:
            return
        self.db.execute("ALTER TABLE issue ADD COLUMN texts INTEGER NOT NULL DEFAULT 0")
        for table in ("fixversion", "affectsversion"):
            self.db.execute(f"ALTER TABLE {table} ADD COLUMN vid TEXT")
        self.db.executescript(_SCHEMA)
        objects: set[tuple[str, str, str, str]] = set()
        updates = []
        for rid, doc in self.db.execute("SELECT rid, doc FROM issue_doc"):
            d = decode_issue(doc)
            f = d.fields if d is not None and d.fields is not None else DocFields()
            updates.append((text_mask(fields_texts(f)), rid))
            _objects(f, objects)
        self.db.executemany("UPDATE issue SET texts = ? WHERE rid = ?", updates)
        self.db.executemany("INSERT OR IGNORE INTO object VALUES (?,?,?,?)", objects)

    def _create_indexes(self) -> None:
        """Create the secondary indexes that are missing (all of them after a bulk load)."""
        for name, on in _INDEXES.items():
            self.db.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {on}")

    def _drop_indexes(self) -> None:
        """Drop the secondary indexes before a bulk load into an empty store; let FTS5 merge its segments less."""
        for name in _INDEXES:
            self.db.execute(f"DROP INDEX IF EXISTS {name}")
        for table in FTS_TABLES:  # merging as it goes rewrites the index several times over
            bulk_merging(self.db, table, bulk=True)

    def _end_bulk(self) -> None:
        """Build the secondary indexes, move in the FTS5 indexes built by workers, put FTS5's merging back."""
        self._create_indexes()  # first: while the FTS5 workers finish their last batches
        if self._fts is not None:
            fts, self._fts = self._fts, None
            fts.finish(self.db)
        for table in FTS_TABLES:
            bulk_merging(self.db, table, bulk=False)
        self._bulk = False

    def close(self) -> None:
        """Close the database connection."""
        self.db.close()

    def __enter__(self) -> Store:
        """Use the store as a context manager that closes it."""
        return self

    def __exit__(self, *exc: object) -> None:
        """Close the database connection."""
        self.close()

    def __len__(self) -> int:
        """Return how many issues the store holds."""
        return self.db.execute("SELECT COUNT(*) FROM issue").fetchone()[0]

    # ------------------------------------------------------------ meta
    def _meta(self, name: str, default: int = 0) -> int:
        """Read an integer from the meta table."""
        row = self.db.execute("SELECT value FROM meta WHERE name = ?", (name,)).fetchone()
        return int(row[0]) if row else default

    def _set_meta(self, name: str, value: int) -> None:
        """Write an integer to the meta table."""
        self.db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (name, str(value)))

    # ------------------------------------------------------------ import
    def import_issues(self, issues: Iterable[dict | str | bytes]) -> int:
        """Insert or replace (by key) Jira REST issues, with their links, comments, rank and changelog; return the count.

        Items may be dicts or JSON text (a line of a ``.jsonl`` file; its text is stored as is).

        Each issue is ``{id, key, fields: {...}}`` as ``GET /rest/api/2/issue/KEY`` returns it
        (``fields.issuelinks``, ``fields.comment.comments`` and ``changelog.histories`` are kept
        when present). Issues without a rank (:data:`labkit.jira.model.RANK_FIELD`) go to the bottom of the backlog.
        A load into an empty store builds the secondary indexes once at the end.
        """
        if isinstance(issues, str | bytes | dict):
            raise JiraError(f"import_issues() takes many issues, not one {type(issues).__name__}",
                            hint="pass a list (or any iterable) of issue dicts or JSON lines")
        n = 0
        with self.lock, no_gc():
            self.db.execute("BEGIN")
            try:
                self._bulk = self.db.execute("SELECT 1 FROM issue LIMIT 1").fetchone() is None
                if self._bulk:
                    self._drop_indexes()
                next_rank = self._meta("rank_next", 0)
                batch: list[tuple[str | bytes, IssueDoc, bool, bytes | None]] = []
                for issue in issues:
                    batch.append(_document(issue))
                    if len(batch) >= _BATCH:
                        if self._bulk and n == 0 and self.fts_workers:  # a large load into an empty store
                            self._fts = FtsBuilder()
                        n += len(batch)
                        next_rank = self._import_batch(batch, next_rank)
                        batch = []
                if batch:
                    n += len(batch)
                    next_rank = self._import_batch(batch, next_rank)
                self._set_meta("rank_next", next_rank)
                if self._bulk:
                    self._end_bulk()
                self.db.execute("COMMIT")
            except BaseException:
                self._bulk = False
                if self._fts is not None:
                    fts, self._fts = self._fts, None
                    fts.abort()
                self.db.execute("ROLLBACK")
                raise
            self._version += 1
        return n

    def _import_batch(self, batch: list[tuple[str | bytes, IssueDoc, bool, bytes | None]], next_rank: int) -> int:
        """Upsert a batch of decoded issues with their texts, labels, links; return the next rank number."""
        db = self.db
        last = {b[1].key: k for k, b in enumerate(batch)}
        if len(last) != len(batch):  # the last copy of a key wins, as an upsert would
            batch = [b for k, b in enumerate(batch) if last[b[1].key] == k]
        keys = [b[1].key for b in batch]
        # upsert: drop what an earlier import stored for these keys (or ids: a moved issue)
        old: dict[str, tuple[int, str]] = {}
        for row in db.execute("SELECT key, rid, rank FROM issue WHERE key IN (SELECT value FROM json_each(?)) "
                              "OR id IN (SELECT value FROM json_each(?))",
                              (encode(keys), encode([str(b[1].id) for b in batch]))):
            old[row[0]] = (row[1], row[2])
        old_rank: dict[str, str] = {}
        if old:
            if self._bulk:  # deletes look rows up by rid: build the indexes now
                self._end_bulk()
            for key, (rid, rank) in old.items():
                old_rank[key] = rank
                self._delete_rid(rid)
        rid = (db.execute("SELECT MAX(rid) FROM issue").fetchone()[0] or 0) + 1
        rows, docs, fts_rows, labels, comps, fixv, affv, links, ltypes = ([] for _ in range(9))
        objects: set[tuple[str, str, str, str]] = set()
        for text, d, canonical, apart in batch:
            f = d.fields if d.fields is not None else DocFields()
            key = d.key
            rank = f.rank or old_rank.get(key)
            if not rank:
                rank = rank_of(next_rank)
                next_rank += 1
            else:
                next_rank = max(next_rank, (rank_int(rank) - RANK_START) // RANK_STEP + 1)
            texts = fields_texts(f)
            rows.append(_issue_row(rid, d, f, rank, text_mask(texts)))
            docs.append((rid, text if self._utf8 or isinstance(text, str) else text.decode("utf-8"),
                         apart if self._utf8 or apart is None else apart.decode("utf-8"), canonical))
            fts_rows.append((rid, *texts))
            _objects(f, objects)
            if f.labels:
                labels.extend((rid, lb) for lb in f.labels)
            if f.components:
                comps.extend((rid, c.name, c.id) for c in f.components)
            if f.fixVersions:
                fixv.extend((rid, v.name, v.id) for v in f.fixVersions)
            if f.versions:
                affv.extend((rid, v.name, v.id) for v in f.versions)
            if f.issuelinks:
                here = (key, str(d.id), link_snapshot(text))
                for lk in f.issuelinks:
                    t = lk.type or LinkType()
                    ltypes.append((t.id, t.name, t.inward, t.outward))
                    o = lk.outwardIssue or lk.inwardIssue
                    if o is None:
                        continue
                    other = (o.key, str(o.id), raw_object(o.fields))
                    src, dst = (here, other) if lk.outwardIssue is not None else (other, here)
                    links.append((str(lk.id), t.id, t.name, t.inward, t.outward, *src, *dst))
            rid += 1
        db.executemany(_INSERT_ISSUE, rows)
        if self._fts is not None and not self._fts.started():  # no workers here: build the indexes row by row
            self._fts.abort()
            self._fts = None
        if self._fts is not None:
            self._fts.add(fts_rows)
        else:
            for table in FTS_TABLES:
                db.executemany(fts_insert(table), fts_rows)
        db.executemany(_INSERT_DOC, docs)
        db.executemany("INSERT INTO label VALUES (?,?)", labels)
        db.executemany("INSERT INTO component VALUES (?,?,?)", comps)
        db.executemany("INSERT INTO fixversion VALUES (?,?,?)", fixv)
        db.executemany("INSERT INTO affectsversion VALUES (?,?,?)", affv)
        db.executemany("INSERT OR IGNORE INTO object VALUES (?,?,?,?)", objects)
        db.executemany("INSERT OR REPLACE INTO link VALUES (?,?,?,?,?,?,?,?,?,?,?)", links)
        db.executemany("INSERT OR IGNORE INTO linktype VALUES (?,?,?,?)", {lt for lt in ltypes if lt[0]})
        return next_rank

    def _delete_rid(self, rid: int) -> None:
        """Remove an issue and everything indexed for it."""
        db = self.db
        row = db.execute("SELECT summary, key FROM issue WHERE rid = ?", (rid,)).fetchone()
        doc = db.execute("SELECT doc FROM issue_doc WHERE rid = ?", (rid,)).fetchone()
        if doc is not None:
            old = texts(doc[0])
            for table in FTS_TABLES:
                db.execute(f"INSERT INTO {table} ({table}, rowid, summary, description, environment, comment) "
                           "VALUES ('delete', ?, ?, ?, ?, ?)", (rid, *old))
        for table in ("label", "component", "fixversion", "affectsversion", "issue_doc"):
            db.execute(f"DELETE FROM {table} WHERE rid = ?", (rid,))
        if row is not None:
            db.execute("DELETE FROM link WHERE src = ? OR dst = ?", (row[1], row[1]))
        db.execute("DELETE FROM issue WHERE rid = ?", (rid,))

    # ------------------------------------------------------------ read
    def get_issue(self, key_or_id: str) -> dict | None:
        """Return the REST-shaped issue ``{id, key, fields, changelog?}`` with current links, comments and rank, or None."""
        got = self.get_issues([key_or_id])
        return got[0] if got else None

    def get_issues(self, keys_or_ids: list[str]) -> list[dict]:
        """Return REST-shaped issues (as :meth:`get_issue`) of keys or ids, in that order; unknown ones are left out.

        One read of the documents and one of the links serve the whole list.
        """
        wanted = [str(k) for k in keys_or_ids]
        if not wanted:
            return []
        with self.lock:
            rows = self._doc_rows(wanted, "i.rank, d.doc, d.changelog")
            links = self._links_for([r[0] for r in rows])
        out = []
        for key, _id, rank, doc, apart in rows:
            issue = stored_issue(doc, apart)
            f = issue.get("fields")
            if not isinstance(f, dict):  # none, or not an object: no fields (as stored_parts reads it)
                f = issue["fields"] = {}
            rest_parts(f, rank, links[key])
            out.append(issue)
        return out

    def stored_issues(self, keys_or_ids: list[str], *, documents: bool = True,
                      links: bool = False, changelog: bool = True) -> list[StoredIssue]:
        """Return issues of keys or ids as stored, values undecoded, in that order; unknown ones are left out.

        For a server answering a page of issues with a few fields each: one read of the documents (and
        of the links, with ``links``) serves the page, and each field's stored JSON is found without
        decoding it (:func:`labkit.jira.store.decode.stored_parts`). The fields are as imported: the
        rank, comment and links a REST answer has are ``rank``, the stored comment and ``links``, for the
        caller to put in by :func:`rest_parts` (as :meth:`get_issues` does). ``documents=False``
        reads only keys, ids and ranks (no fields, no changelog); ``changelog=False`` leaves each
        issue's changelog out (None). A link's other issue has its fields as stored JSON
        (``msgspec.Raw``) where that is canonical (:meth:`_links_for`).
        """
        wanted = [str(k) for k in keys_or_ids]
        if not wanted:
            return []
        with self.lock, no_gc():
            if not documents:
                rows = self._doc_rows(wanted, "i.rank", documents=False)
            elif changelog:  # kept apart (imported as a dict), else in the document
                rows = self._doc_rows(wanted, "i.rank, d.canonical, CAST(d.doc AS BLOB), CAST(d.changelog AS BLOB)")
            else:
                rows = self._doc_rows(wanted, "i.rank, d.canonical, CAST(d.doc AS BLOB)")  # bytes: no str to build
            if not rows:
                return []
            keys, ids, ranks, *rest = zip(*rows, strict=True)  # columns
            nothing = [None] * len(rows)
            if not documents:
                fields: list[Any] = [{}] * len(rows)
                logs: list[Any] = nothing
                canonical = [False] * len(rows)
            else:
                canonical = list(map(bool, rest[0]))
                if changelog:
                    parts = list(map(stored_parts, rest[1], repeat(True), rest[2]))
                    fields, logs = [p[0] for p in parts], [p[1] for p in parts]
                else:
                    fields, logs = stored_fields(rest[1]), nothing
            got = self._links_for(list(keys), dict(zip(keys, zip(ids, fields, canonical, strict=True), strict=True))
                                  if documents else None, raw=True) if links else None
            issue_links = list(map(got.__getitem__, keys)) if got is not None else nothing
            # each tuple made in C (what StoredIssue._make does): no Python call per issue
            return list(map(functools.partial(tuple.__new__, StoredIssue),
                            zip(keys, ids, ranks, fields, logs, canonical, issue_links, strict=True)))

    def _doc_rows(self, wanted: list[str], columns: str, documents: bool = True) -> list[tuple]:
        """The rows ``(key, id, *columns)`` of the stored issues of these keys or ids, in that order (unknown: left out).

        A key (any case) is looked up first, then an id: a page is mostly all keys or all ids, so each
        look-up is one statement. ``columns`` may name the issue table ``i`` and, with ``documents``,
        the document table ``d``. The wanted values drive the join (one index probe each, then the
        document by its rowid): on 1000 keys this is about half the time of ``i.key IN (SELECT value
        FROM json_each(?))``, which SQLite answers through a temporary index of the list.
        """
        docs = " CROSS JOIN issue_doc d ON d.rid = i.rid" if documents else ""
        sql = f"SELECT i.key, i.id, {columns} FROM json_each(?) j CROSS JOIN issue i ON i.{{}} = j.value{docs}"
        by_key = {r[0]: r for r in self.db.execute(sql.format("key"), (encode([w.upper() for w in wanted]),))}
        rest = [w for w in wanted if w.upper() not in by_key]
        by_id = {r[1]: r for r in self.db.execute(sql.format("id"), (encode(rest),))} if rest else {}
        return [r for r in (by_key.get(w.upper()) or by_id.get(w) for w in wanted) if r is not None]

    def _links_for(self, keys: list[str], known: dict[str, tuple[str, dict[str, Raw], bool]] | None = None,
                   raw: bool = False) -> dict[str, list[dict]]:
        """Each issue's links REST-shaped (outwardIssue: this issue [outward] it; inwardIssue: it [outward] this issue).

        The other issue shows its current id and fields when it is in the store, else the snapshot
        taken when the link was imported. ``known``: the ids, stored fields and canonical flags of
        issues already read (key -> (id, fields, canonical)), which need no second read. ``raw``: the
        other issue's fields stay their JSON text (``msgspec.Raw``) where that text is canonical (taken
        from a canonical document), so that an encoder writes the very bytes decoding and encoding
        them gives; elsewhere, and without ``raw``, they are decoded.
        """
        out: dict[str, list[dict]] = {k: [] for k in keys}
        if not keys:
            return out
        ks = encode(keys)
        rows = self.db.execute("SELECT * FROM link WHERE src IN (SELECT value FROM json_each(?)) "
                               "OR dst IN (SELECT value FROM json_each(?)) ORDER BY CAST(id AS INTEGER), id",
                               (ks, ks)).fetchall()
        if not rows:
            return out
        ends = {r[5] for r in rows} | {r[8] for r in rows}
        known = known or {}
        current = {key: (known[key][0], fields_snapshot(known[key][1]), raw and known[key][2])
                   for key in ends if key in known}
        if len(current) < len(ends):
            current.update((key, (id_, link_snapshot(doc), raw and bool(canonical))) for key, id_, doc, canonical in
                           self.db.execute("SELECT i.key, i.id, d.doc, d.canonical FROM json_each(?) j CROSS JOIN "
                                           "issue i ON i.key = j.value CROSS JOIN issue_doc d ON d.rid = i.rid",
                                           (encode(sorted(ends - current.keys())),)))
        for (lid, tid, tname, inward, outward, src, src_id, src_f, dst, dst_id, dst_f) in rows:
            if src in out:
                oid, of, keep = current.get(dst) or (dst_id, dst_f or "{}", False)
                out[src].append({"id": lid, "type": {"id": tid, "name": tname, "inward": inward, "outward": outward},
                                 "outwardIssue": {"id": oid, "key": dst, "fields": Raw(of) if keep else loads(of)}})
            if dst in out and dst != src:
                oid, of, keep = current.get(src) or (src_id, src_f or "{}", False)
                out[dst].append({"id": lid, "type": {"id": tid, "name": tname, "inward": inward, "outward": outward},
                                 "inwardIssue": {"id": oid, "key": src, "fields": Raw(of) if keep else loads(of)}})
        return out

    def _links_of(self, key: str) -> list[dict]:
        """One issue's links REST-shaped (see :meth:`_links_for`)."""
        return self._links_for([key])[key]

    def _data_version(self) -> tuple[int, int, int]:
        """What the store's caches depend on: every row this connection changed, and commits by other connections.

        ``total_changes`` counts each row any statement of this connection inserted, updated or
        deleted (a rolled-back change too, which only costs a rebuild); ``PRAGMA data_version``
        changes when another connection commits to the same file.
        """
        return self._version, self.db.total_changes, self.db.execute("PRAGMA data_version").fetchone()[0]

    def _builder(self) -> SqlBuilder:
        """A SQL builder for this store, reusing the cached word list, bound by the running search's budget."""
        b = SqlBuilder(self.db, self.now or datetime.now(UTC).replace(tzinfo=None), self.current_user)
        b.budget = self._budget
        if self._vocab is not None and self._vocab_version == self._data_version():
            b._vocab = self._vocab
        return b

    def _keep_vocab(self, b: SqlBuilder) -> None:
        """Keep the word list a builder loaded for later queries."""
        if b._vocab is not None:
            self._vocab, self._vocab_version = b._vocab, self._data_version()

    @contextmanager
    def _bounded(self) -> Iterator[SearchBudget]:
        """Run one search within ``self.budget`` seconds (its SQL and the Python work around it)."""
        with SearchBudget.running(self.db, self.budget) as budget:
            self._budget = budget
            try:
                yield budget
            finally:
                self._budget = SearchBudget(None)

    @staticmethod
    def _parse(jql: str) -> Any:
        """Parse a JQL for a search, refusing one too long or with too many terms (a JqlError, before any work)."""
        if isinstance(jql, str):
            check_length(jql)
            return _checked_parse(jql)
        q = parse(jql)
        check_terms(q)
        return q

    def search_keys(self, jql: str, *, start: int = 0, limit: int | None = None) -> tuple[list[str], int]:
        """Return the keys of a page of matches in result order, and the total number of matches.

        ``ORDER BY`` is honoured (``Rank`` too); without it the order is ``key DESC``.
        Raises ``JqlSyntaxError`` for malformed JQL and ``JqlError`` for clauses the store cannot evaluate.
        """
        with self.lock, self._bounded():
            rids, total = self._search_rids(jql, start, limit, with_total=True)
            keys = self._keys_of(rids)
            return keys, total

    def _keys_of(self, rids: list[int]) -> list[str]:
        """Keys of internal row ids, in the same order (one statement: the ids drive a join on the rowid)."""
        if not rids:
            return []
        got = dict(self.db.execute("SELECT i.rid, i.key FROM json_each(?) j CROSS JOIN issue i ON i.rid = j.value",
                                   (encode(rids),)))
        return [got[r] for r in rids]

    def _query(self, jql: str, *, ordered: bool) -> tuple[str, str, list[Any]]:
        """The WHERE and ORDER BY of a JQL query and their parameters.

        ``ordered``: the order is applied to the matches (filter, then sort) instead of walking an
        index of the order and filtering each row on the way, which reads every issue.
        """
        where, order, _, params, _ = self._plan(jql, ordered=ordered)
        return where, order, params

    def _plan(self, jql: str, *, ordered: bool) -> _Plan:
        """:meth:`_query`'s WHERE, ORDER BY and parameters, with the ORDER BY's terms as such (the name of the order)
        and the id set the WHERE is, when the builder reports it is one."""
        q = self._parse(jql)
        b = self._builder()
        where = b.where(q)
        order = b.order(q, after_filter=ordered and where.sql != "1")
        terms = b.order(q)
        self._keep_vocab(b)
        return _Plan(where.sql, order, terms, list(b.params), where.ids)

    def _run(self, jql: str, sql: str, params: list[Any]) -> list[tuple]:
        """Run a search's SQL, turning SQLite's refusal into a JqlError naming the query."""
        try:
            return self.db.execute(sql, params).fetchall()
        except sqlite3.OperationalError as e:
            self._budget.check()  # interrupted at the deadline: say so, not "could not run"
            raise JqlError(f"The local store could not run `{_short(jql)}`: {e}",
                           hint="simplify the text search (very broad wildcards expand to too many words)") from e

    def _search_rids(self, jql: str, start: int, limit: int | None, with_total: bool) -> tuple[list[int], int]:
        """Internal row ids of a page of matches, and the total."""
        where, order, params = self._query(jql, ordered=limit is None)
        lim, off = _page(start, limit)
        rows = self._run(jql, f"SELECT i.rid FROM issue i WHERE {where} ORDER BY {order} LIMIT ? OFFSET ?",
                         [*params, lim, off])
        rids = [r[0] for r in rows]
        total = len(rids) + off if limit is None and start == 0 else -1
        if with_total and (total < 0 or limit is not None or start):
            total = self._run(jql, f"SELECT COUNT(*) FROM issue i WHERE {where}", params)[0][0]
        return rids, total

    def count(self, jql: str) -> int:
        """Return how many issues match the JQL (the ORDER BY is ignored)."""
        with self.lock, self._bounded():
            where, _, _, params, ids = self._plan(jql, ordered=False)
            cache = self._fcache
            if ids is not None and cache is not None and self.cached_issues:  # the ids that are issues, counted
                return len(cache.members(self._rids_named(jql, ids)))
            return self._run(jql, f"SELECT COUNT(*) FROM issue i WHERE {where}", params)[0][0]

    def _rids_named(self, jql: str, ids: IdSelect) -> list[int]:
        """The ids the SELECT of an id-set WHERE names (:class:`labkit.jira.store.sql.Where`), as one JSON array."""
        got = self._run(jql, f"WITH t(r) AS ({ids.sql}) SELECT json_group_array(r) FROM t WHERE r IS NOT NULL",
                        ids.params)
        return _RIDS.decode(got[0][0])

    def search(self, jql: str, *, start: int = 0, limit: int | None = None):  # -> pandas.DataFrame
        """Return the matches as a DataFrame with the columns in ``SEARCH_COLUMNS``, in result order.

        Dates are UTC timestamps; ``labels``, ``components``, ``blocked_by`` and ``blocks`` are lists
        of names/keys (``blocked_by``: issues linked with "is blocked by", i.e. that block this one).
        One SQL statement reads the page with its labels, components and links; the frame is built
        column by column.
        """
        with self.lock:
            cache = self._frame_cache()
            with self._bounded(), no_gc():
                where, order, terms, params, ids = self._plan(jql, ordered=limit is None)
                lim, off = _page(start, limit)
                if cache is not None and self._by_rank(jql, cache, terms, limit):  # matches, then sorted in memory
                    # the matches' ids as one JSON array: half the time of a row per id on 200,000 ids
                    if ids is not None:  # ids as the condition names them; the cache holds every issue, and only them
                        pos = cache.members(self._rids_named(jql, ids))
                    else:
                        rids = self._run(jql, f"SELECT json_group_array(i.rid) FROM issue i WHERE {where}", params)
                        pos = cache.positions(_RIDS.decode(rids[0][0]))
                    pos = cache.ordered(terms, pos, off, lim)
                    return cache.frame(pos) if len(pos) else self._frame([])
                if cache is not None:  # the rows' ids in order, then their columns from memory
                    rows = self._run(jql, f"SELECT i.rid FROM issue i WHERE {where} ORDER BY {order} LIMIT ? OFFSET ?",
                                     [*params, lim, off])
                    if limit is None:
                        cache.note_sorted(terms, len(rows))
                    return cache.take([r[0] for r in rows]) if rows else self._frame([])
                rows = self._run(jql, f"SELECT {_FRAME_SELECT} FROM issue i WHERE {where} ORDER BY {order} "
                                      "LIMIT ? OFFSET ?", [self._blocking_types(), *params, lim, off])
                self._fpolicy.note(self._frame_version(), len(rows))
                return self._frame(rows)

    def _by_rank(self, jql: str, cache: FrameCache, terms: str, limit: int | None) -> bool:
        """Whether a search with the frame cache sorts its matches by the cache's ranks of the order ``terms``.

        A whole result (no ``limit``) is sorted by rank once the cache keeps the order: every issue's
        place in it, put there by SQLite itself (``ORDER BY terms`` over every issue, the SQL
        builder's rule), when the cache is built for the default order, otherwise once SQL has
        sorted as many rows in it as the store holds (:meth:`FrameCache.order_due`). A page
        (``limit``) is left to SQL unless ``rank_pages`` is set: with a LIMIT SQLite may walk an
        index of the order and stop at the page's end.
        """
        if limit is not None and not self.rank_pages:
            return False
        if not cache.has_order(terms):
            if not cache.order_due(terms):
                return False
            self._keep_order(jql, cache, terms)
        return True

    def _keep_order(self, jql: str, cache: FrameCache, terms: str) -> None:
        """Keep every issue's place in the order ``terms`` in ``cache``, as SQLite sorts them."""
        cache.add_order(terms, [r[0] for r in self._run(jql, f"SELECT i.rid FROM issue i ORDER BY {terms}", [])])

    @property
    def cached_issues(self) -> int:
        """How many issues' search columns the store keeps in memory now (0: searches fetch their rows)."""
        with self.lock:
            fc = self._fcache
            on = self.frame_cache and self.budget is None
            return len(fc) if on and fc is not None and fc.version == self._frame_version() else 0

    @property
    def cached_orders(self) -> list[str]:
        """The orders (ORDER BY lists of the store's SQL) whose every issue's place the frame cache keeps now."""
        with self.lock:
            return self._fcache.orders() if self.cached_issues and self._fcache is not None else []

    def _frame_version(self) -> tuple[Any, ...]:
        """What a search's columns depend on: the store's data and the link types the blocking rule picks."""
        return (*self._data_version(), self._blocking_types())

    def _frame_cache(self) -> FrameCache | None:
        """The frame cache of the store as it is now: kept, built now when due (see :class:`FramePolicy`), or None."""
        if not self.frame_cache or self.budget is not None:  # a build is not bounded by a search budget: none then
            self._fcache = None
            return None
        version = self._frame_version()
        if self._fcache is not None and self._fcache.version == version:
            return self._fcache
        self._fcache = None
        size = self.db.execute("SELECT max(rid) FROM issue").fetchone()[0] or 0  # >= the issue count, O(1)
        if not self._fpolicy.due(version, size):
            return None
        cols: dict[str, list[Any]] = {c: [] for c in SEARCH_COLUMNS}
        rids: list[int] = []
        with no_gc():
            cur = self.db.execute(f"SELECT {_FRAME_SELECT}, i.rid FROM issue i ORDER BY i.rid", (version[-1],))
            while chunk := cur.fetchmany(50_000):
                rids += [r[-1] for r in chunk]
                for c, v in self._columns([r[:-1] for r in chunk]).items():
                    cols[c] += v
            cols.update(zip(SEARCH_DATE_COLUMNS, TimesColumn.read([cols[c] for c in SEARCH_DATE_COLUMNS]), strict=True))
            cache = FrameCache(version, rids, cols, SEARCH_COLUMNS)
            default = self._plan("", ordered=False)[2]  # the order of every search without ORDER BY
            self._keep_order("ORDER BY key DESC", cache, default)
            self._fcache = cache
        return self._fcache

    def rows(self, rids: list[int]) -> list[dict]:
        """Return the normalised rows (dicts with ``SEARCH_COLUMNS``) of issues by internal row id, in that order."""
        if not rids:
            return []
        with self.lock:
            got = {r[-1]: r[:-1] for r in self.db.execute(
                f"SELECT {_FRAME_SELECT}, i.rid FROM issue i WHERE i.rid IN (SELECT value FROM json_each(?2))",
                (self._blocking_types(), encode(rids)))}
        columns = self._columns([got[r] for r in rids])
        return [dict(zip(SEARCH_COLUMNS, values, strict=True)) for values in zip(*columns.values(), strict=True)]

    def _blocking_types(self) -> str:
        """The link types in the store that the blocking rule calls blocking, as JSON ``name<US>inward<US>outward`` texts.

        Read once per change of the store; the rule itself (:meth:`BlockingRule.direction`) decides.
        """
        version = self._data_version()
        if self._btypes is None or self._btypes[0] != version:
            kinds = self.db.execute("SELECT DISTINCT type_name, inward, outward FROM link").fetchall()
            chosen = ["\x1f".join("" if v is None else str(v) for v in k) for k in kinds if self.blocking.direction(*k)]
            self._btypes = (version, encode(chosen))
        return self._btypes[1]

    def _columns(self, rows: list[tuple]) -> dict[str, list[Any]]:
        """Turn the rows of :data:`_FRAME_SELECT` into the search columns (lists decoded, blocking sides derived)."""
        if not rows:
            return {c: [] for c in SEARCH_COLUMNS}
        cols = list(zip(*rows, strict=True))
        labels, components = ([sorted(v) if len(v) > 1 else v for v in loads(f"[{','.join(cols[k])}]")]
                              for k in (11, 12))
        blocked_by: list[list[str]] = []
        blocks: list[list[str]] = []
        sides = self.blocking.sides
        for inward, outward in zip(cols[14], cols[15], strict=True):
            if inward == "[]" and outward == "[]":
                blocked_by.append([])
                blocks.append([])
                continue
            links = [(*lk[:3], "inward", lk[3]) for lk in loads(inward)]
            links += [(*lk[:3], "outward", lk[3]) for lk in loads(outward)]
            by, bl = sides(links)
            blocked_by.append(by)
            blocks.append(bl)
        out = dict(zip(SEARCH_COLUMNS[:11], (list(c) for c in cols[:11]), strict=True))
        out.update(labels=labels, components=components, rank=list(cols[13]), blocked_by=blocked_by, blocks=blocks)
        return {c: out[c] for c in SEARCH_COLUMNS}

    def _frame(self, rows: list[tuple]):  # -> pandas.DataFrame
        """The search DataFrame of :data:`_FRAME_SELECT` rows (UTC timestamps for the dates)."""
        import pandas as pd

        cols = self._columns(rows)
        times = search_times_columns([cols[c] for c in SEARCH_DATE_COLUMNS])
        cols.update((c, t.array) for c, t in zip(SEARCH_DATE_COLUMNS, times, strict=True))  # arrays: nothing to align
        return pd.DataFrame(cols, columns=SEARCH_COLUMNS)

    # ------------------------------------------------------------ write
    def _project_of(self, ref: dict, projects: list[dict] | None = None) -> dict:
        """The REST project for a {key} or {id} reference (``projects``: a list already read, in a batch)."""
        key, pid = ref.get("key"), ref.get("id")
        for p in projects if projects is not None else self.projects():
            if (key and p["key"].upper() == str(key).upper()) or (pid and str(p["id"]) == str(pid)):
                return {"id": p["id"], "key": p["key"], "name": p["name"]}
        raise JiraError(f"Project {key or pid!r} does not exist in the local store",
                        hint="create issues in one of: " + ", ".join(p["key"] for p in self.projects()))

    def _named(self, kind: str, ref: Any, options: list[dict]) -> dict:
        """A REST object (status, priority, issue type) matched by id or name."""
        if isinstance(ref, str):
            ref = {"name": ref}
        if not isinstance(ref, dict):
            raise JiraError(f"{kind} must be given as {{'name': ...}} or {{'id': ...}}")
        for o in options:
            if (ref.get("id") is not None and str(o.get("id")) == str(ref["id"])) or (
                    ref.get("name") and str(o.get("name", "")).lower() == str(ref["name"]).lower()):
                return o
        if ref.get("name"):
            return {"id": ref.get("id") or str(zlib.crc32(ref["name"].encode()) % 100000 + 20000), "name": ref["name"]}
        raise JiraError(f"The {kind} {ref!r} does not exist in the local store",
                        hint="known: " + ", ".join(str(o.get("name")) for o in options))

    def _distinct_objects(self, field: str) -> list[dict]:
        """The distinct REST objects of a field (status, priority, issuetype, resolution) in the store, by id."""
        if field == "status":
            rows = self.db.execute("SELECT status_id, status, status_category_id, status_category_key, status_category "
                                   "FROM issue WHERE status IS NOT NULL GROUP BY status_id, status").fetchall()
            out = [{"id": r[0], "name": r[1], "statusCategory": {
                "id": r[2], "key": r[3], "name": r[4], "colorName": status_category(r[3] or "")["colorName"]}}
                for r in rows]
        else:
            col = {"issuetype": "issuetype", "priority": "priority", "resolution": "resolution"}[field]
            rows = self.db.execute(f"SELECT {col}_id, {col} FROM issue WHERE {col} IS NOT NULL "
                                   f"GROUP BY {col}_id, {col}").fetchall()
            out = [{"id": r[0], "name": r[1]} for r in rows]
        return sorted(out, key=lambda o: (len(str(o.get("id") or "")), str(o.get("id") or "")))

    def create_issue(self, fields: dict) -> dict:
        """Create an issue with REST create semantics and return ``{"id", "key"}``.

        ``fields.project`` ({key} or {id}), ``summary`` and ``issuetype`` ({name} or {id}) are required;
        the key is the project's next number, the status is the first "To Do" status known (else "Open"),
        and the rank puts it at the bottom of the backlog.
        """
        made = self.create_issues([fields])[0]
        if isinstance(made, JiraError):
            raise made
        return made

    def create_issues(self, many: list[dict]) -> list[dict | JiraError]:
        """Create several issues in one transaction (``POST /issue/bulk``); a bad one is its error, in place.

        Each result is ``{"id", "key"}`` or the :class:`JiraError` that refused that element; the others
        are created all the same, as Jira's bulk create does.
        """
        with self.lock:
            ctx: dict[str, Any] = {"nums": {}}
            out: list[dict | JiraError] = []
            docs = []
            for fields in many:
                try:
                    issue = self._new_issue(fields, ctx)
                except JiraError as exc:
                    out.append(exc)
                    continue
                docs.append(issue)
                out.append({"id": issue["id"], "key": issue["key"]})
            if docs:
                self._set_meta("id_next", ctx["id_next"])
                self.import_issues(docs)
            return out

    def _new_issue(self, fields: dict, ctx: dict[str, Any]) -> dict:
        """Build the stored document of a new issue; ``ctx`` caches look-ups and counters across a batch."""
        if not isinstance(fields, dict):
            raise JiraError("fields must be a dict")
        missing = [k for k in ("project", "summary", "issuetype") if not fields.get(k)]
        if missing:
            raise JiraError(f"Cannot create an issue without {', '.join(missing)}",
                            hint="give fields.project {key}, fields.summary and fields.issuetype {name}")
        if "types" not in ctx:
            ctx["types"] = self._distinct_objects("issuetype")
            ctx["priorities"] = self._distinct_objects("priority")
            ctx["todo"] = next((s for s in self.statuses() if (s.get("statusCategory") or {}).get("key") == "new"),
                               {"id": "1", "name": "Open", "statusCategory": status_category("new")})
            ctx["id_next"] = max(self._meta("id_next", 0),
                                 (self.db.execute("SELECT MAX(CAST(id AS INTEGER)) FROM issue").fetchone()[0] or 10000) + 1)
            ctx["now"] = iso(self.now or datetime.now(UTC)) + ".000+0000"
            ctx["projects"] = self.projects()
        ref = fields["project"] if isinstance(fields["project"], dict) else {"key": fields["project"]}
        proj = self._project_of(ref, ctx["projects"])
        itype = self._named("issue type", fields["issuetype"], ctx["types"])
        nums = ctx["nums"]
        if proj["key"] not in nums:
            nums[proj["key"]] = self.db.execute("SELECT MAX(num) FROM issue WHERE project = ?",
                                                (proj["key"],)).fetchone()[0] or 0
        nums[proj["key"]] += 1
        new_id = ctx["id_next"]
        ctx["id_next"] = new_id + 1
        now = ctx["now"]
        f = {k: v for k, v in fields.items() if k not in ("project", "issuetype")}
        f.update({"project": proj, "issuetype": itype, "status": ctx["todo"], "created": now, "updated": now,
                  "resolution": None, "resolutiondate": None})
        if isinstance(f.get("priority"), dict | str):
            f["priority"] = self._named("priority", f["priority"], ctx["priorities"])
        for u in ("assignee", "reporter"):
            if isinstance(f.get(u), dict):
                f[u] = {"name": f[u].get("name") or f[u].get("accountId"),
                        "displayName": f[u].get("displayName") or f[u].get("name") or f[u].get("accountId")}
        f.setdefault("reporter", {"name": self.current_user, "displayName": self.current_user})
        f.setdefault("labels", [])
        f.setdefault("components", [])
        return {"id": str(new_id), "key": f"{proj['key']}-{nums[proj['key']]}", "fields": f,
                "changelog": {"startAt": 0, "maxResults": 0, "total": 0, "histories": []}}  # nothing changed yet

    def update_issue(self, key_or_id: str, fields: dict, history: dict | None = None) -> None:
        """Set fields of an issue (REST ``PUT /issue`` ``fields`` semantics: given fields replace the old values).

        ``history`` (a changelog entry ``{id, author, created, items}``) is appended to the issue's
        changelog, when it keeps one, as Jira records a transition.
        """
        with self.lock:
            issue = self.get_issue(key_or_id)
            if issue is None:
                raise JiraError(f"Issue {key_or_id} does not exist in the local store")
            log = issue.get("changelog")
            if history is not None and isinstance(log, dict):
                hist = list(log.get("histories") or []) + [history]
                issue["changelog"] = {"startAt": 0, "maxResults": len(hist), "total": len(hist), "histories": hist}
            f = issue["fields"]
            for k, v in fields.items():
                if k in ("issuelinks", "comment"):
                    raise JiraError(f"Field {k} cannot be set with update_issue",
                                    hint="use add_link() or add_comment()")
                if k == "priority" and isinstance(v, dict | str):
                    v = self._named("priority", v, self._distinct_objects("priority"))
                if k == "status" and isinstance(v, dict | str):
                    v = self._named("status", v, self.statuses())
                f[k] = v
            f["updated"] = iso(self.now or datetime.now(UTC)) + ".000+0000"
            links = self._links_of(issue["key"])
            self.import_issues([issue])
            self._restore_links(links, issue["key"])

    def _restore_links(self, links: list[dict], key: str) -> None:
        """Put links back after an issue is re-imported."""
        for lk in links:
            t = lk["type"]
            if "outwardIssue" in lk:
                self._insert_link(lk["id"], t, key, lk["outwardIssue"]["key"])
            else:
                self._insert_link(lk["id"], t, lk["inwardIssue"]["key"], key)

    def _insert_link(self, lid: str, t: dict, src: str, dst: str) -> None:
        """Insert one link row, snapshotting both issues' fields."""
        def side(k: str) -> tuple[str, str]:
            """The id and link-field snapshot of one end."""
            row = self.db.execute("SELECT i.id, d.doc FROM issue i JOIN issue_doc d ON d.rid = i.rid WHERE i.key = ?",
                                  (k,)).fetchone()
            if row is None:
                return "", "{}"
            return row[0], link_snapshot(row[1])
        s_id, s_f = side(src)
        d_id, d_f = side(dst)
        self.db.execute("INSERT OR REPLACE INTO link VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                        (lid, t.get("id"), t.get("name"), t.get("inward"), t.get("outward"),
                         src, s_id, s_f, dst, d_id, d_f))

    def add_link(self, type_name: str, inward_key: str, outward_key: str) -> str:
        """Link two issues and return the new link id; it shows on both issues.

        As in ``POST /rest/api/2/issueLink``: with ``Blocks``, ``inward_key`` blocks ``outward_key``
        (``outward_key`` "is blocked by" ``inward_key``); the type is matched by name, inward or outward text.
        """
        with self.lock:
            t = next((lt for lt in self.link_types() if type_name.lower() in
                      (lt["name"].lower(), lt["inward"].lower(), lt["outward"].lower())), None)
            if t is None:
                raise JiraError(f"Link type {type_name!r} does not exist",
                                hint="known: " + ", ".join(lt["name"] for lt in self.link_types()))
            keys = []
            for k in (inward_key, outward_key):
                row = self.db.execute("SELECT key FROM issue WHERE key = ? OR id = ?", (str(k).upper(), str(k))).fetchone()
                if row is None:
                    raise JiraError(f"Issue {k} does not exist in the local store")
                keys.append(row[0])
            lid = max(self._meta("link_next", 0),
                      (self.db.execute("SELECT MAX(CAST(id AS INTEGER)) FROM link").fetchone()[0] or 10000) + 1)
            self._set_meta("link_next", lid + 1)
            self._insert_link(str(lid), t, keys[0], keys[1])
            return str(lid)

    def add_comment(self, key_or_id: str, body: str, author: str = "admin", adf: dict | None = None) -> dict:
        """Add a comment to an issue (it becomes searchable with ``comment ~``) and return it REST-shaped.

        ``adf`` keeps the Atlassian Document Format body a REST v3 client posted, so v3 reads give it back.
        """
        with self.lock:
            issue = self.get_issue(key_or_id)
            if issue is None:
                raise JiraError(f"Issue {key_or_id} does not exist in the local store")
            cid = max(self._meta("comment_next", 0), 10001)
            self._set_meta("comment_next", cid + 1)
            now = iso(self.now or datetime.now(UTC)) + ".000+0000"
            user = {"name": author, "key": author, "displayName": author, "active": True}
            c = {"id": str(cid), "author": user, "body": body, "updateAuthor": user, "created": now, "updated": now}
            if adf is not None:
                c[ADF_BODY] = adf
            issue["fields"]["comment"]["comments"].append(c)
            links = issue["fields"].pop("issuelinks")
            self.import_issues([issue])
            self._restore_links(links, issue["key"])
            return copy.deepcopy(c)

    # ------------------------------------------------------------ rank
    def ranks(self, keys: list[str]) -> dict[str, str]:
        """Return the rank string of each given issue key (missing keys are left out)."""
        out: dict[str, str] = {}
        with self.lock:
            for i in range(0, len(keys), 900):
                chunk = [str(k).upper() for k in keys[i:i + 900]]
                out.update(self.db.execute(f"SELECT key, rank FROM issue WHERE key IN ({','.join('?' * len(chunk))})",
                                           chunk))
        return out

    def rank(self, keys: list[str], *, before: str | None = None, after: str | None = None) -> None:
        """Move issues as one block (in the given order) just before or just after an anchor issue."""
        if (before is None) == (after is None):
            raise JiraError("rank() needs exactly one of before= or after=")
        anchor = str(before or after).upper()
        moving = [str(k).upper() for k in keys]
        if anchor in moving:
            raise JiraError(f"Cannot rank {anchor} relative to itself")
        if len(set(moving)) != len(moving):
            raise JiraError("rank() got the same issue twice")
        with self.lock:
            have = self.ranks(moving + [anchor])
            missing = [k for k in moving + [anchor] if k not in have]
            if missing:
                raise JiraError(f"Issue {', '.join(missing)} does not exist in the local store")
            if not moving:
                return
            a = have[anchor]
            marks = ",".join("?" * len(moving))
            if before is not None:
                row = self.db.execute(f"SELECT MAX(rank) FROM issue WHERE rank < ? AND key NOT IN ({marks})",
                                      [a, *moving]).fetchone()
                lo, hi = row[0], a
            else:
                row = self.db.execute(f"SELECT MIN(rank) FROM issue WHERE rank > ? AND key NOT IN ({marks})",
                                      [a, *moving]).fetchone()
                lo, hi = a, row[0]
            new = between(lo, hi, len(moving))
            self.db.execute("BEGIN")
            try:
                self.db.executemany("UPDATE issue SET rank = ? WHERE key = ?", list(zip(new, moving, strict=True)))
                self.db.execute("COMMIT")
            except BaseException:
                self.db.execute("ROLLBACK")
                raise

    # ------------------------------------------------------------ metadata (REST-shaped)
    def projects(self) -> list[dict]:
        """Return the projects seen in the store, REST-shaped ``{id, key, name}``, by key."""
        with self.lock:
            rows = self.db.execute("SELECT project, MIN(project_id), MIN(project_name) FROM issue GROUP BY project "
                                   "ORDER BY project").fetchall()
            extra = self.db.execute("SELECT value FROM meta WHERE name LIKE 'project:%'").fetchall()
        out = {r[0]: {"id": r[1] or r[0], "key": r[0], "name": r[2] or r[0]} for r in rows}
        for (v,) in extra:
            p = json.loads(v) if v.startswith("{") else None
            if p:
                out.setdefault(p["key"], p)
        return sorted(out.values(), key=lambda p: p["key"])

    def add_project(self, key: str, name: str | None = None, id: str | None = None) -> dict:
        """Register an (empty) project so issues can be created in it; return it REST-shaped."""
        p = {"id": str(id or 10000 + len(self.projects()) + 1), "key": key.upper(), "name": name or key.upper()}
        with self.lock:
            self.db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (f"project:{p['key']}", json.dumps(p)))
            self.db.execute("INSERT OR IGNORE INTO object VALUES ('project', ?, ?, ?)", (p["id"], p["name"], p["key"]))
        return p

    def add_objects(self, kind: str, objects: list[dict]) -> None:
        """Make named objects (``issuetype``, ``priority``, ``status``, ...) known to JQL without any issue having them."""
        with self.lock:
            self.db.executemany("INSERT OR IGNORE INTO object VALUES (?, ?, ?, '')",
                                [(kind, str(o.get("id") or ""), str(o.get("name") or "")) for o in objects])

    def statuses(self) -> list[dict]:
        """Return the statuses seen in the store with their ``statusCategory``, REST-shaped."""
        with self.lock:
            return self._distinct_objects("status")

    def link_types(self) -> list[dict]:
        """Return the issue link types ``{id, name, inward, outward}`` (Blocks is always there)."""
        with self.lock:
            return [dict(zip(("id", "name", "inward", "outward"), r, strict=True))
                    for r in self.db.execute("SELECT * FROM linktype ORDER BY CAST(id AS INTEGER), id")]

    def fields(self) -> list[dict]:
        """Return the fields the store knows, REST-shaped like ``GET /rest/api/2/field``."""
        def fd(fid: str, name: str, typ: str, *, custom: bool = False, items: str | None = None,
               searchable: bool = True, orderable: bool = True, clause: list[str] | None = None) -> dict:
            """One REST field description."""
            schema: dict[str, Any] = {"type": typ, "system": fid} if not custom else {"type": typ}
            if items:
                schema["items"] = items
            d = {"id": fid, "key": fid, "name": name, "custom": custom, "orderable": orderable, "navigable": True,
                 "searchable": searchable, "clauseNames": clause or [fid], "schema": schema}
            return d
        out = [
            fd("summary", "Summary", "string"), fd("description", "Description", "string"),
            fd("environment", "Environment", "string"), fd("comment", "Comment", "comments-page"),
            fd("project", "Project", "project"), fd("issuetype", "Issue Type", "issuetype", clause=["issuetype", "type"]),
            fd("status", "Status", "status"), fd("priority", "Priority", "priority"),
            fd("resolution", "Resolution", "resolution"), fd("assignee", "Assignee", "user"),
            fd("reporter", "Reporter", "user"), fd("creator", "Creator", "user"),
            fd("labels", "Labels", "array", items="string"), fd("components", "Component/s", "array", items="component",
                                                                 clause=["component"]),
            fd("fixVersions", "Fix Version/s", "array", items="version", clause=["fixVersion"]),
            fd("versions", "Affects Version/s", "array", items="version", clause=["affectedVersion"]),
            fd("created", "Created", "datetime", clause=["created", "createdDate"]),
            fd("updated", "Updated", "datetime", clause=["updated", "updatedDate"]),
            fd("resolutiondate", "Resolved", "datetime", clause=["resolved", "resolutiondate"]),
            fd("duedate", "Due Date", "date", clause=["due", "duedate"]),
            fd("issuelinks", "Linked Issues", "array", items="issuelinks", clause=["issueLinkType"]),
            fd("issuekey", "Key", "string", clause=["id", "issue", "issuekey", "key"]),
        ]
        rank = fd(RANK_FIELD, "Rank", "any", custom=True, clause=[f"cf[{RANK_FIELD_NUMBER}]", "Rank"])
        rank["schema"] = {"type": "any", "custom": LEXO_RANK, "customId": RANK_FIELD_NUMBER}
        out.append(rank)
        return out

    def iter_issues(self, jql: str = "") -> Iterator[dict]:
        """Yield every matching issue REST-shaped (as ``get_issue`` returns it), in result order."""
        keys, _ = self.search_keys(jql)
        for k in keys:
            issue = self.get_issue(k)
            if issue is not None:
                yield issue
