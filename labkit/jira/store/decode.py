"""Decoding of Jira REST issue JSON for the local store: only the parts it indexes, typed, in C (msgspec).

The store keeps each issue's document as JSON text and indexes a few dozen values of it. Decoding
the text into these structs reads those values without building a Python object for the rest
(changelogs, comment authors, custom fields), which is what makes a million-issue import and the
text checks of a search fast. A document whose values have an unexpected shape (a string where
Jira sends an object) is decoded loosely and its odd values dropped, as a dict walk would.
"""

from collections.abc import Sequence
from typing import Any

import msgspec
from msgspec import UNSET, Raw, Struct, UnsetType, field

from labkit.jira.model import RANK_FIELD, texts_of

__all__ = ["Category", "DocFields", "IssueDoc", "Named", "Status", "decode_issue", "encode", "encode_bytes",
           "changelog_sql", "fields_snapshot", "fields_texts", "link_snapshot", "loads", "raw_object", "split_changelog",
           "stored_changelog", "stored_fields", "stored_issue", "stored_log", "stored_parts", "texts"]


class Named(Struct, gc=False):
    """A named REST object: project, issue type, priority, resolution, component, version, parent."""

    id: Any = None
    name: Any = None
    key: Any = None
    value: Any = None


class Category(Struct, gc=False):
    """A status category."""

    id: Any = None
    key: Any = None
    name: Any = None


class Status(Struct, gc=False):
    """A status with its category."""

    id: Any = None
    name: Any = None
    statusCategory: Category | None = None


class User(Struct, gc=False):
    """A REST user (Server/DC ``name``/``key``, Cloud ``accountId``)."""

    name: Any = None
    accountId: Any = None
    key: Any = None
    displayName: Any = None


class LinkType(Struct, gc=False):
    """An issue link type."""

    id: Any = None
    name: Any = None
    inward: Any = None
    outward: Any = None


class LinkEnd(Struct, gc=False):
    """The other issue of a link: its id, key and the few fields Jira embeds (kept as raw JSON)."""

    id: Any = None
    key: Any = None
    fields: Raw = field(default_factory=Raw)  # empty when absent (msgspec takes Raw only on its own)


class Link(Struct, gc=False):
    """One entry of ``fields.issuelinks``."""

    id: Any = None
    type: LinkType | None = None
    inwardIssue: LinkEnd | None = None
    outwardIssue: LinkEnd | None = None


class Comment(Struct, gc=False):
    """A comment: only its body is searched."""

    body: Any = None


class Comments(Struct, gc=False):
    """``fields.comment``."""

    comments: list[Comment] | None = None


class DocFields(Struct, gc=False):
    """The fields of an issue the store indexes."""

    project: Named | None = None
    summary: Any = None
    description: Any = None
    environment: Any = None
    issuetype: Named | None = None
    status: Status | None = None
    priority: Named | None = None
    resolution: Named | None = None
    assignee: User | None = None
    reporter: User | None = None
    creator: User | None = None
    parent: Named | None = None
    created: Any = None
    updated: Any = None
    resolutiondate: Any = None
    duedate: Any = None
    labels: list[Any] | None = None
    components: list[Named] | None = None
    fixVersions: list[Named] | None = None
    versions: list[Named] | None = None
    comment: Comments | None = None
    issuelinks: list[Link] | None = None
    rank: Any = field(default=None, name=RANK_FIELD)


class IssueDoc(Struct, gc=False):
    """A REST issue as the store indexes it."""

    id: Any = None
    key: Any = None
    fields: DocFields | None = None


class TextFields(Struct, gc=False):
    """Only the searchable text fields."""

    summary: Any = None
    description: Any = None
    environment: Any = None
    comment: Comments | None = None


class TextDoc(Struct, gc=False):
    """A stored document read for its texts."""

    fields: TextFields | None = None


class SnapshotFields(Struct, gc=False):
    """The fields Jira embeds for the other issue of a link, as raw JSON (absent ones stay absent)."""

    summary: Raw | UnsetType = UNSET
    status: Raw | UnsetType = UNSET
    priority: Raw | UnsetType = UNSET
    issuetype: Raw | UnsetType = UNSET


class StoredDoc(Struct, gc=False):
    """A stored document read to serve it: its fields (values undecoded, in order) and its undecoded changelog."""

    fields: dict[str, Raw] | None = None
    changelog: Raw | UnsetType = UNSET


class StoredFields(Struct, gc=False):
    """A stored document read to serve it without its changelog: its fields (values undecoded, in order)."""

    fields: dict[str, Raw] | None = None


class StoredDocLoose(Struct, gc=False):
    """A stored document whose ``fields`` is not an object: no fields."""

    changelog: Raw | UnsetType = UNSET


class SnapshotDoc(Struct, gc=False):
    """A stored document read for its link snapshot."""

    fields: SnapshotFields | None = None


_ISSUE = msgspec.json.Decoder(IssueDoc)
_TEXTS = msgspec.json.Decoder(TextDoc)
_SNAPSHOT = msgspec.json.Decoder(SnapshotDoc)
_ANY = msgspec.json.Decoder()
_STORED = msgspec.json.Decoder(StoredDoc)
_SNAPSHOT_NAMES = tuple(f.encode_name for f in msgspec.structs.fields(SnapshotFields))
_STORED_LOOSE = msgspec.json.Decoder(StoredDocLoose)
_STORED_FIELDS = msgspec.json.Decoder(StoredFields)
_ENCODER = msgspec.json.Encoder()


def encode_bytes(obj: Any) -> bytes:
    """Return compact JSON of a value as UTF-8 bytes (not ASCII-escaped)."""
    return _ENCODER.encode(obj)


def encode(obj: Any) -> str:
    """Return compact JSON text of a value: :func:`encode_bytes` decoded."""
    return encode_bytes(obj).decode("utf-8")


def loads(text: str | bytes) -> Any:
    """Decode JSON text into plain Python values (dicts, lists, str...): a faster ``json.loads``."""
    return _ANY.decode(text)


# Where an issue's changelog is stored: ONE rule, written here in its two shapes side by side (SQL for readers in
# SQL, Python for the decoders). A document imported as a dict keeps its changelog beside it, in
# ``issue_doc.changelog`` (:func:`split_changelog`); JSON text, and a store made before that column, keep it inside
# the document. The column, when set, is the changelog; else the document's ``changelog`` member is.
# tests/jira/test_store.py checks both shapes against a table of stored rows; test_sandbox_first_search.py every
# reader (history queries, get_issues, stored_issues) in both layouts.
def changelog_sql(doc: str = "d") -> str:
    """The SQL of an issue's stored changelog JSON (NULL: none) over the ``issue_doc`` row named ``doc``: the rule, in SQL."""
    return f"COALESCE({doc}.changelog, json_extract({doc}.doc, '$.changelog'))"


INSIDE: Any = object()
"""What :func:`stored_changelog` gives when the changelog is the document's own ``changelog`` member."""


def stored_changelog(apart: Any) -> Any:
    """Where a stored issue's changelog is, given ``apart`` (the ``issue_doc.changelog`` column): the rule, in Python.

    The column's value when that is set, else :data:`INSIDE` (the document's member, which the caller reads, or not).
    """
    return INSIDE if apart is None else apart


def stored_log(text: str | bytes, apart: str | bytes | None) -> Any:
    """Decode a stored issue's changelog alone (plain values; None: it has none), by :func:`stored_changelog`'s rule.

    The document is only scanned, for its ``changelog`` member, when that is the changelog (history queries).
    """
    log = stored_changelog(apart)
    if log is INSIDE:
        log = _STORED_LOOSE.decode(text).changelog
        if log is UNSET:
            return None
    return loads(log)


def stored_parts(text: str | bytes, changelog: bool = True, apart: bytes | None = None,
                 ) -> tuple[dict[str, Raw], Raw | None]:
    """Return a stored issue's fields (name -> undecoded value, in stored order) and its undecoded changelog.

    Finding where each value ends is a scan without building objects, so a caller that needs a few
    fields (a search page) decodes just those with :func:`loads`, or passes them on as they are. No
    ``fields`` object gives no fields; no changelog (or ``changelog=False``: not wanted) gives None.
    ``apart``: the ``issue_doc.changelog`` column; which one is the changelog is :func:`stored_changelog`'s rule.
    """
    log = stored_changelog(apart) if changelog else None
    try:
        if log is not INSIDE:  # the document's changelog is not wanted: its fields only
            return _STORED_FIELDS.decode(text).fields or {}, None if log is None else Raw(log)
        doc = _STORED.decode(text)
    except msgspec.ValidationError:  # fields is not an object
        if log is not INSIDE:
            return {}, None if log is None else Raw(log)
        return {}, _changelog(_STORED_LOOSE.decode(text).changelog)
    return doc.fields or {}, _changelog(doc.changelog)


def stored_fields(texts: Sequence[bytes]) -> list[dict[str, Raw]]:
    """Return the fields of stored documents (name -> undecoded value, in order): :func:`stored_parts` without changelogs, for many."""
    decode = _STORED_FIELDS.decode
    try:
        return [decode(text).fields or {} for text in texts]
    except msgspec.ValidationError:  # one's fields is not an object: each read alone
        return [stored_parts(text, False)[0] for text in texts]


def stored_issue(text: str | bytes, apart: str | bytes | None) -> Any:
    """Decode a stored document whole (plain values), with its changelog by :func:`stored_changelog`'s rule.

    A document imported as a dict keeps its changelog beside it (``apart``: search pages then never
    read it); the changelog goes back in as the issue's last member.
    """
    issue = loads(text)
    log = stored_changelog(apart)
    if log is not INSIDE and isinstance(issue, dict):
        issue["changelog"] = loads(log)
    return issue


def split_changelog(issue: dict[str, Any]) -> tuple[bytes, bytes | None]:
    """Return the stored JSON of an issue given as a dict, and of its changelog kept apart (None: it has none).

    The changelog is most of a document's bytes (61 % of the demo data's) and a search page does not
    need it: kept in its own column, it is read only for ``expand=changelog`` and history queries.
    """
    changelog = issue.get("changelog")
    if changelog is None:
        return encode_bytes(issue), None
    return encode_bytes({k: v for k, v in issue.items() if k != "changelog"}), encode_bytes(changelog)


def decode_issue(text: str | bytes) -> IssueDoc | None:
    """Decode an issue's JSON text into its indexed parts; None when the text is not a JSON object."""
    try:
        return _ISSUE.decode(text)
    except msgspec.ValidationError:
        obj = _ANY.decode(text)
        if not isinstance(obj, dict):
            return None
        return msgspec.convert(_fit(obj, IssueDoc), IssueDoc)


def texts(text: str | bytes) -> tuple[str, str, str, str]:
    """Return the four searchable texts of a stored document (as :func:`labkit.jira.model.field_texts`)."""
    try:
        f = _TEXTS.decode(text).fields
    except msgspec.ValidationError:
        f = msgspec.convert(_fit(_ANY.decode(text), TextDoc), TextDoc).fields
    return fields_texts(f)


def fields_texts(f: DocFields | TextFields | None) -> tuple[str, str, str, str]:
    """Return the four searchable texts of decoded fields (the very text the index is fed)."""
    if f is None:
        return texts_of(None, None, None, ())
    cm = f.comment.comments if f.comment is not None and f.comment.comments else ()
    return texts_of(f.summary, f.description, f.environment, [c.body for c in cm])


def _changelog(raw: Raw | UnsetType) -> Raw | None:
    """A decoded document's changelog, None when it has none."""
    return None if raw is UNSET else raw


def fields_snapshot(fields: dict[str, Raw]) -> str:
    """Return the JSON of the fields Jira embeds for an issue on the other end of a link, from its stored fields.

    The same text :func:`link_snapshot` gives for the whole document.
    """
    return encode(SnapshotFields(**{k: fields[k] for k in _SNAPSHOT_NAMES if k in fields}))


def raw_object(raw: Raw) -> str:
    """Return the JSON text of a raw object value, ``{}`` when it is absent or null."""
    b = bytes(raw)
    return "{}" if not b or b == b"null" else b.decode("utf-8")


def link_snapshot(text: str | bytes) -> str:
    """Return the JSON of the fields Jira embeds for an issue on the other end of a link."""
    try:
        f = _SNAPSHOT.decode(text).fields
    except msgspec.ValidationError:
        f = None
    return "{}" if f is None else encode(f)


def _fit(value: Any, tp: Any) -> Any:
    """Drop the parts of a decoded value that do not have the shape ``tp`` wants (None for a wrong object)."""
    info = msgspec.inspect.type_info(tp)
    return _fit_info(value, info)


def _fit_info(value: Any, info: Any) -> Any:
    """:func:`_fit` over msgspec's type info."""
    ins = msgspec.inspect
    if isinstance(info, ins.UnionType):
        for t in info.types:
            if not isinstance(t, ins.NoneType):
                return None if value is None else _fit_info(value, t)
        return None
    if isinstance(info, ins.StructType):
        if not isinstance(value, dict):
            return None
        out = {}
        for f in info.fields:
            if f.encode_name in value:
                out[f.encode_name] = _fit_info(value[f.encode_name], f.type)
        return out
    if isinstance(info, ins.ListType):
        if not isinstance(value, list):
            return None
        got = [_fit_info(v, info.item_type) for v in value]
        return [v for v in got if v is not None]
    if isinstance(info, ins.RawType):
        return Raw(_ENCODER.encode(value))
    return value
