"""The single source of Jira's rules that labkit applies in more than one place.

Every module that needs one of these asks here, so the client, the fast path, the store, the
sandbox and rank analysis can never disagree:

- the Rank field (:data:`RANK_FIELD`, its custom-field type and JQL names);
- status categories (:data:`STATUS_CATEGORIES`, :func:`category_key`);
- when an issue's embedded changelog is cut short (:data:`EMBEDDED_CHANGELOG_MAX`, :func:`changelog_truncated`);
- the columns of a search result (:data:`SEARCH_COLUMNS`);
- a field's searchable text, Atlassian Document Format flattened (:func:`adf_text`, :func:`field_texts`);
- which issue links mean "blocks", and which way round (:class:`BlockingRule`).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from labkit.jira.jql.text import TEXT_FIELDS

__all__ = ["EMBEDDED_CHANGELOG_MAX", "LEXO_RANK", "RANK_FIELD", "RANK_FIELD_NUMBER", "RANK_NAMES", "SEARCH_COLUMNS",
           "STATUS_CATEGORIES", "TEXT_FIELDS", "WORDING", "BlockingRule", "TimesColumn", "adf_text", "blocking_rule", "category_key",
           "changelog_truncated", "field_texts", "jira_time", "search_times", "search_times_columns", "status_category",
           "text_of", "texts_of"]

RANK_FIELD = "customfield_10019"
RANK_FIELD_NUMBER = int(RANK_FIELD.rsplit("_", 1)[1])
LEXO_RANK = "com.pyxis.greenhopper.jira:gh-lexo-rank"
RANK_NAMES = frozenset({"rank", RANK_FIELD, f"cf[{RANK_FIELD_NUMBER}]"})

# key -> (id, name, colorName), as Jira's statusCategory objects carry them
STATUS_CATEGORIES: dict[str, tuple[int, str, str]] = {
    "undefined": (1, "No Category", "medium-gray"),
    "new": (2, "To Do", "blue-gray"),
    "done": (3, "Done", "green"),
    "indeterminate": (4, "In Progress", "yellow"),
}

SEARCH_COLUMNS = ["key", "summary", "status", "status_category", "issuetype", "priority", "assignee",
                  "reporter", "created", "updated", "resolved", "labels", "components", "rank",
                  "blocked_by", "blocks"]
SEARCH_DATE_COLUMNS = ("created", "updated", "resolved")  # UTC timestamps in a search DataFrame (search_times)


# Jira embeds at most this many changelog entries per issue in a search (and in Cloud's GET issue) with
# expand=changelog; the rest come from GET /issue/{key}/changelog (paged) or Cloud's POST /changelog/bulkfetch.
EMBEDDED_CHANGELOG_MAX = 100


def status_category(key: str) -> dict[str, Any]:
    """Return the REST ``statusCategory`` object of a category key (``new``, ``indeterminate``, ``done``)."""
    cid, name, color = STATUS_CATEGORIES.get(key, STATUS_CATEGORIES["undefined"])
    return {"id": cid, "key": key if key in STATUS_CATEGORIES else "undefined", "colorName": color, "name": name}


def category_key(value: Any) -> str | None:
    """Return the category key (``new``, ``indeterminate``, ``done``) of a category key, name, id or object.

    Jira names its categories "To Do", "In Progress" and "Done" and keys them ``new``,
    ``indeterminate`` and ``done`` (ids 2, 4, 3); a ``statusCategory`` object, or a whole
    ``status`` object holding one, is read by its key, then its name, then its id. None when
    the value is no category.
    """
    if isinstance(value, dict):
        if isinstance(value.get("statusCategory"), dict):
            value = value["statusCategory"]
        for attr in ("key", "name", "id"):
            found = category_key(value.get(attr)) if value.get(attr) is not None else None
            if found:
                return found
        return None
    if value is None:
        return None
    text = str(value).strip().lower()
    for key, (cid, name, _color) in STATUS_CATEGORIES.items():
        if text in (key, name.lower(), str(cid)):
            return key
    return None


def jira_time(value: Any) -> datetime | None:
    """Parse a Jira REST timestamp (``2016-02-03T23:55:46.000+0000``, RFC 3339, or a date) to aware UTC, or None."""
    if isinstance(value, datetime):  # already parsed (a naive one is taken as UTC)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if not value or not isinstance(value, str):
        return None
    text = value.strip().replace("Z", "+00:00")
    try:
        t = datetime.fromisoformat(text)
    except ValueError:
        return None
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)


def changelog_truncated(changelog: Any) -> bool:
    """Tell whether an issue's embedded ``changelog`` may lack entries, so the rest must be paged in.

    It may when it says so (``total`` above the entries it holds) or when it holds
    :data:`EMBEDDED_CHANGELOG_MAX` entries or more without a ``total`` to prove it complete
    (Jira caps the embedded list there). A missing changelog is not truncated: it was not asked for.
    """
    if not isinstance(changelog, dict):
        return False
    held = len(changelog.get("histories") or [])
    total = changelog.get("total")
    if isinstance(total, int) and not isinstance(total, bool):
        return total > held
    return held >= EMBEDDED_CHANGELOG_MAX


# Where the sandbox's store keeps a comment's ADF body as a REST v3 client posted it (v3 reads give it back).
ADF_BODY = "labkitBodyAdf"


def adf_text(value: Any) -> Any:
    """Flatten an Atlassian Document Format document to plain text (any other value passes through).

    Blocks (paragraphs, headings, list items...) are separated by a blank line; the text nodes of a
    block are joined as they are.
    """
    if not isinstance(value, dict) or value.get("type") != "doc":
        return value

    def walk(node: Any) -> str:
        """Collect the text of an ADF node and its children."""
        if not isinstance(node, dict):
            return ""
        if node.get("type") == "text":
            return str(node.get("text", ""))
        return "".join(walk(c) for c in node.get("content", []) or [])

    return "\n\n".join(walk(block) for block in value.get("content", []) or [])


def text_of(value: Any) -> str:
    """Return a text field's plain text: ADF flattened, None as ``""``."""
    flat = adf_text(value)
    return flat if isinstance(flat, str) else ("" if flat is None else str(flat))


def field_texts(fields: dict) -> tuple[str, str, str, str]:
    """Return the four searchable texts of an issue: summary, description, environment, comments joined.

    REST v3 (Cloud) sends rich text as Atlassian Document Format; it is flattened to its words.
    """
    cm = (fields.get("comment") or {}).get("comments") or []
    return texts_of(fields.get("summary"), fields.get("description"), fields.get("environment"),
                    [c.get("body") for c in cm])


def texts_of(summary: Any, description: Any, environment: Any, bodies: Any) -> tuple[str, str, str, str]:
    """Return the four searchable texts from the raw values of the fields (comment bodies joined by lines).

    A plain ``str`` is its own text (what :func:`text_of` returns for it), taken without the call: an
    import runs this for every issue.
    """
    return (summary if summary.__class__ is str else text_of(summary),
            description if description.__class__ is str else text_of(description),
            environment if environment.__class__ is str else text_of(environment),
            "\n".join([b if b.__class__ is str else text_of(b) for b in bodies]))


# ---------------------------------------------------------------- blocking links

_BLOCKS_WORD = "blocks"
_BLOCKED_WORD = "is blocked by"

# Jira's four default issue link types, as a new instance has them (``GET /rest/api/2/issueLinkType``).
BLOCKS_LINK_TYPE = {"id": "10000", "name": "Blocks", "inward": _BLOCKED_WORD, "outward": _BLOCKS_WORD}
DEFAULT_LINK_TYPES = (
    BLOCKS_LINK_TYPE,
    {"id": "10001", "name": "Cloners", "inward": "is cloned by", "outward": "clones"},
    {"id": "10002", "name": "Duplicate", "inward": "is duplicated by", "outward": "duplicates"},
    {"id": "10003", "name": "Relates", "inward": "relates to", "outward": "relates to"},
)
_TEXT_OR_NONE = frozenset({str, type(None)})  # link-type values whose own tuple may key the direction cache


def _low(text: Any) -> str:
    """Lower-case, trimmed text of a link-type attribute."""
    return str(text or "").strip().lower()


class BlockingRule:
    """Which issue link types mean "blocks", and which way round.

    A link type blocks when its wording says so, whatever its name or case: outward ``blocks``
    / inward ``is blocked by`` (the standard way round), or outward ``is blocked by`` / inward
    ``blocks`` (a type worded the other way round). A profile may add type names that block in
    the standard way whatever their wording (``blocking_link_types = ["Depends"]`` in
    ``[profiles.NAME.jira]``), for types in another language or with other words.

    A link row ``src --[type]--> dst`` means "src <outward> dst": the issue holding the link as
    ``outwardIssue`` is ``dst``. :meth:`direction` says +1 (src blocks dst), -1 (dst blocks src)
    or 0 (not a blocking link).
    """

    __slots__ = ("type_names", "_cache")

    def __init__(self, type_names: Any = ()) -> None:
        """Block by wording, plus the link types named in ``type_names`` (case-insensitive)."""
        self.type_names = frozenset(_low(n) for n in type_names if _low(n))
        self._cache: dict[tuple[str, str, str], int] = {}

    def __repr__(self) -> str:
        """Show the extra type names."""
        return f"BlockingRule(type_names={sorted(self.type_names)!r})"

    def __eq__(self, other: object) -> bool:
        """Two rules are equal when they add the same type names."""
        return isinstance(other, BlockingRule) and other.type_names == self.type_names

    def __hash__(self) -> int:
        """Hash by the type names."""
        return hash(self.type_names)

    @classmethod
    def from_profile(cls, profile: Any = None) -> BlockingRule:
        """The rule of a labkit profile (a Profile, a name, or None for the active one)."""
        from labkit.config import get_profile

        p = profile if hasattr(profile, "section") else get_profile(profile)
        names = p.section("jira").get("blocking_link_types") or []
        if isinstance(names, str):
            names = [names]
        if not isinstance(names, list | tuple) or not all(isinstance(n, str) for n in names):
            from labkit.errors import ConfigError

            raise ConfigError(f"profile {p.name!r}: jira.blocking_link_types must be a list of link type names",
                              hint='write blocking_link_types = ["Depends"] under [profiles.NAME.jira]')
        return cls(names)

    def direction(self, name: Any, inward: Any, outward: Any) -> int:
        """+1 if ``src`` blocks ``dst`` on a link row of this type, -1 if ``dst`` blocks ``src``, 0 if not blocking."""
        texts = _TEXT_OR_NONE.issuperset((type(name), type(inward), type(outward)))
        if texts:  # the texts as given: a search meets the same few link types over and over
            found = self._cache.get((name, inward, outward))
            if found is not None:
                return found
        key = (_low(name), _low(inward), _low(outward))
        found = self._cache.get(key)
        if found is None:
            n, i, o = key
            if o == _BLOCKS_WORD or i == _BLOCKED_WORD:
                found = 1
            elif o == _BLOCKED_WORD or i == _BLOCKS_WORD:
                found = -1
            elif n in self.type_names:
                found = 1
            else:
                found = 0
            self._cache[key] = found
        if texts:  # the same answer: the lowered texts decide it (and lowering a lowered text changes nothing)
            self._cache[(name, inward, outward)] = found
        return found

    def type_direction(self, link_type: Any) -> int:
        """:meth:`direction` of a REST link type object ``{name, inward, outward}``."""
        t = link_type if isinstance(link_type, dict) else {}
        return self.direction(t.get("name"), t.get("inward"), t.get("outward"))

    def sides(self, links: Any) -> tuple[list[str], list[str]]:
        """Return (blocked_by, blocks) keys of one issue from ``(name, inward, outward, side, other_key)`` tuples.

        ``side`` is ``"outward"`` when the other issue is the link's ``outwardIssue`` (this issue
        <outward> it) and ``"inward"`` when it is the ``inwardIssue``. Keys come back sorted, once.
        """
        blocked_by: set[str] = set()
        blocks: set[str] = set()
        for name, inward, outward, side, other in links:
            d = self.direction(name, inward, outward)
            if not d or not other:
                continue
            this_blocks = (d > 0) == (side == "outward")
            (blocks if this_blocks else blocked_by).add(other)
        return sorted(blocked_by), sorted(blocks)

    def blocking(self, fields: dict) -> tuple[list[str], list[str]]:
        """Return (blocked_by, blocks) keys from a REST issue's ``fields.issuelinks``."""
        out = []
        for link in (fields or {}).get("issuelinks") or []:
            t = link.get("type") or {}
            for side in ("outward", "inward"):
                other = link.get(f"{side}Issue")
                if isinstance(other, dict):
                    out.append((t.get("name"), t.get("inward"), t.get("outward"), side, other.get("key")))
                    break
        return self.sides(out)


WORDING = BlockingRule()
"""The rule by wording alone (what every Jira's standard Blocks type satisfies)."""


def blocking_rule(profile: Any = None) -> BlockingRule:
    """Return the blocking rule of a profile (the active one by default): wording plus its named types."""
    return BlockingRule.from_profile(profile)


def search_times(values: Sequence[Any]):  # -> pandas.Series
    """Turn a search column's date texts into UTC timestamps (unparseable: NaT), the one rule for every search DataFrame.

    The client's REST dates and the store's go through here, read as ``pandas.to_datetime(utc=True,
    format="ISO8601")`` reads them. The store writes ``YYYY-MM-DDTHH:MM:SS``: numpy parses that in C;
    a column with a text numpy would read another way than it is written, or with no date at all
    (pandas' unit differs then), goes through pandas' own parser.
    """
    return search_times_columns([values])[0]


_ISO_DIGITS = [0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18]  # the digits of YYYY-MM-DDTHH:MM:SS


def _iso_seconds(texts: list[Any]):  # -> numpy bool array
    """Which texts are exactly ``YYYY-MM-DDTHH:MM:SS`` in ASCII (checked on all of them at once; else all False).

    Such a text that numpy parsed without error is what ``numpy.datetime_as_string(unit="s")`` writes
    back (fields zero-padded to their widths, in range or numpy refuses it), so only the others need
    that (slow, 0.3 us a date) round trip.
    """
    import numpy as np

    n = len(texts)
    try:
        raw = ("\x00".join(texts) + "\x00").encode("ascii")
    except (TypeError, UnicodeEncodeError):
        return np.zeros(n, dtype=bool)
    if len(raw) != 20 * n:  # some text is not 19 characters long: leave them all to the round trip
        return np.zeros(n, dtype=bool)
    a = np.frombuffer(raw, dtype=np.uint8).reshape(n, 20)
    digits = a[:, _ISO_DIGITS]
    return (((digits >= ord("0")) & (digits <= ord("9"))).all(axis=1) & (a[:, 4] == ord("-")) & (a[:, 7] == ord("-"))
            & (a[:, 10] == ord("T")) & (a[:, 13] == ord(":")) & (a[:, 16] == ord(":")) & (a[:, 19] == 0))


# Jira REST's dates, YYYY-MM-DDTHH:MM:SS.fff+hhmm, then the separator: where the digits and the marks are
_REST_DIGITS = [0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18, 20, 21, 22, 24, 25, 26, 27]
_REST_MARKS = [4, 7, 10, 13, 16, 19, 28]
_MONTH_DAYS = (0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)  # by month number; February of a common year


def _rest_times(texts: Sequence[Any]):  # -> pandas.Series | None
    """Jira REST's dates (``YYYY-MM-DDTHH:MM:SS.fff+hhmm`` or -hhmm, or None) as UTC timestamps in one numpy pass.

    None when any text has another form, names an impossible time (30 February, second 60, an offset
    of a day) or there is no date: then pandas decides. Every position of every text is checked and
    the fields become microseconds by integer arithmetic (days from the civil date, proleptic Gregorian),
    so what comes back is what ``pandas.to_datetime(utc=True, format="ISO8601")`` gives, without its
    per-text parse (tests/jira/test_model.py compares the two on random dates).
    """
    import numpy as np
    import pandas as pd

    values = np.fromiter(texts, dtype=object, count=len(texts))  # np.array looks into each text (0.9 ms for 20k)
    given = values != None  # noqa: E711 (element-wise)
    shown = values[given].tolist()
    n = len(shown)
    if not n:
        return None
    try:
        raw = ("\x00".join(shown) + "\x00").encode("ascii")
    except (TypeError, UnicodeEncodeError):
        return None
    if len(raw) != 29 * n:
        return None
    a = np.frombuffer(raw, dtype=np.uint8).reshape(n, 29)
    sign = a[:, 23]
    digits = a[:, _REST_DIGITS]
    digits -= ord("0")  # one byte each: a byte that is no digit wraps past 9
    if not ((digits <= 9).all() and ((sign == ord("+")) | (sign == ord("-"))).all()
            and (a[:, _REST_MARKS] == np.frombuffer(b"--T::.\x00", dtype=np.uint8)).all()):
        return None
    # each digit as its own array of 8-byte integers: no (dates x digits) array of them, 3.4 MB for 20k dates
    # that the allocator maps fresh each time (800 page faults of about 3 us each here)
    d = [digits[:, k].astype(np.int64) for k in range(len(_REST_DIGITS))]
    year = d[0] * 1000 + d[1] * 100 + d[2] * 10 + d[3]
    month, day, hour = d[4] * 10 + d[5], d[6] * 10 + d[7], d[8] * 10 + d[9]
    minute, second = d[10] * 10 + d[11], d[12] * 10 + d[13]
    millis = d[14] * 100 + d[15] * 10 + d[16]
    offset = ((d[17] * 10 + d[18]) * 60 + d[19] * 10 + d[20]) * np.where(sign == ord("+"), 1, -1)
    leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
    days_in_month = np.array(_MONTH_DAYS)[np.clip(month, 0, 12)] + (leap & (month == 2))
    if not ((month >= 1) & (month <= 12) & (day >= 1) & (day <= days_in_month) & (hour <= 23) & (minute <= 59)
            & (second <= 59) & (d[17] * 10 + d[18] <= 23) & (d[19] * 10 + d[20] <= 59)).all():
        return None
    y = year - (month <= 2)  # days since 1970-01-01 of a civil date (the year counted from March)
    era = y // 400
    of_era = y - era * 400
    of_year = (153 * ((month + 9) % 12) + 2) // 5 + day - 1
    days = era * 146097 + of_era * 365 + of_era // 4 - of_era // 100 + of_year - 719468
    micros = ((((days * 24 + hour) * 60 + minute) * 60 + second) * 1000 + millis) * 1000 - offset * 60_000_000
    stamps = np.full(len(values), np.datetime64("NaT"), dtype="datetime64[us]")
    stamps[given] = micros.view("datetime64[us]")
    return pd.Series(pd.DatetimeIndex(stamps, tz="UTC"))


def search_times_columns(columns: Sequence[Sequence[Any]]) -> list:  # -> list[pandas.Series]
    """:func:`search_times` of several columns at once (one numpy pass over all of them: a search's three dates).

    Each column comes out as :func:`search_times` alone makes it: which parser reads it is decided per column.
    """
    return [series for series, _ in _times_columns(columns)]


class TimesColumn:
    """A date column read once by the :func:`search_times` rule, from which subsets come out as that rule reads them.

    When numpy read the whole column (every text exactly ``YYYY-MM-DDTHH:MM:SS`` or empty), it reads
    any subset holding a date the same way, so those are taken from the parsed column; any other
    subset (no date in it, or a column pandas had to read) is read again from its texts.
    """

    def __init__(self, texts: Sequence[Any], series: Any, fast: bool) -> None:
        """Keep a column's texts and what :func:`search_times` made of them (``fast``: numpy read it)."""
        import numpy as np

        self.texts = np.fromiter(texts, dtype=object, count=len(texts))
        self.array = series.array
        self.fast = fast

    @classmethod
    def read(cls, columns: Sequence[Sequence[Any]]) -> list[TimesColumn]:
        """Read several date columns at once (one numpy pass, as :func:`search_times_columns`)."""
        return [cls(col, series, fast) for col, (series, fast) in zip(columns, _times_columns(columns), strict=True)]

    def take(self, positions: Any) -> Any:  # -> pandas DatetimeArray
        """The dates of the rows at ``positions``, exactly as :func:`search_times` reads their texts."""
        if self.fast:
            sub = self.array.take(positions)
            if len(sub) and not sub.isna().all():
                return sub
        return search_times(self.texts.take(positions).tolist()).array


def _times_columns(columns: Sequence[Sequence[Any]]) -> list[tuple[Any, bool]]:
    """The work of :func:`search_times_columns`: each column's Series, and whether numpy (not pandas) read it.

    A column numpy read gives the same dates for any subset with a date in it (each date is read on its own).
    """
    import numpy as np
    import pandas as pd

    first = [next((v for v in col if v is not None), None) for col in columns]
    if all(isinstance(v, str) and len(v) == 28 for v in first):  # Jira REST's dates (the client's): numpy alone
        rest = [_rest_times(col) for col in columns]
        if all(r is not None for r in rest):
            return [(r, True) for r in rest]
    texts = np.array([v for col in columns for v in col], dtype=object)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # numpy warns of a time zone (Jira's +0000): pandas reads those
            stamps = texts.astype("datetime64[s]")
        given = texts != None  # noqa: E711 (element-wise)
        written = np.ones(len(texts), dtype=bool)  # as numpy writes it back (or no date)
        shown, parsed = texts[given], stamps[given]
        same = _iso_seconds(shown.tolist())  # numpy parsed these and writes them back as they are
        if not same.all():
            same[~same] = np.datetime_as_string(parsed[~same], unit="s") == shown[~same]
        written[given] = same
    except (ValueError, TypeError, OverflowError, Warning):
        if len(columns) > 1:  # one column's text stopped numpy: decide each column on its own
            return [_times_columns([col])[0] for col in columns]
        rest = _rest_times(columns[0])  # Jira REST's own form (numpy refuses its time zone)
        if rest is not None:
            return [(rest, True)]
        stamps = given = written = None
    out = []
    start = 0
    for col in columns:
        part = slice(start, start + len(col))
        start += len(col)
        if stamps is not None and bool(given[part].any()) and bool(written[part].all()):
            out.append((pd.Series(pd.DatetimeIndex(stamps[part].astype("datetime64[us]"), tz="UTC")), True))
        else:
            out.append((pd.to_datetime(pd.Series(col, dtype=object), utc=True, format="ISO8601", errors="coerce"),
                        False))
    return out
