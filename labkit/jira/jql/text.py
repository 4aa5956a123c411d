"""Jira text search (``summary ~ "..."``, ``text ~ "..."``): tokens, stems, stop words and query semantics.

This follows Atlassian's "Search syntax for text fields":

- Text is split into words at every character that is not a letter or digit (so the special
  characters ``+ - & | ! ( ) { } [ ] ^ ~ * ? \\ : /`` are not indexed), lower-cased, and words are
  compared by their Porter stem. English stop words are not searchable but keep their place (as in
  Lucene's StopFilter): ``"disk space"`` does not match "disk of space"; ``"disk space"~1`` does.
- The value of ``~`` is a small query language: words (all must match: AND is the default, as the
  Data Center docs say), ``"exact phrases"``, ``"proximity"~10`` (Lucene slop), ``te?t`` and ``win*``
  wildcards (also inside or at the start of a word), fuzzy ``roam~`` (edit distance, 2 by default),
  boost ``^4`` (no effect on matching), ``AND``/``&&``, ``OR``/``||``, ``NOT``/``!``/``-``, ``+``
  and grouping with parentheses. A value may not start with ``(`` (documented as not working).
- Wildcards and fuzzy terms are matched against the words as written (lower-cased), not stems.
- ``+word`` makes the plain words beside it optional (``+Jira atlassian``: must contain Jira).
- A group with only prohibited clauses (``NOT "atlassian Jira"``) matches nothing.
- Multi-word terms made by special characters (``Jira+Software``) are words, not a phrase.
- ``text ~ q`` matches when any one field (summary, description, environment, comment) matches q.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from labkit.jira.errors import JqlSyntaxError
from labkit.jira.jql.stem import porter

STOP_WORDS = frozenset(
    "a an and are as at be but by for if in into is it no not of on or such that the their then "
    "there these they this to was will with".split()
)
TEXT_FIELDS = ("summary", "description", "environment", "comment")

_WORD = re.compile(r"[^\W_]+")
_STEMS: dict[str, str] = {}


def words(text: str | None) -> list[str]:
    """Split text into lower-case words the way the index does (stop words kept)."""
    return _WORD.findall(text.lower()) if text else []


def index_words(text: str | None) -> list[str]:
    """Return the searchable words of a text: lower-case, split at non-letters, stop words dropped."""
    if not text:
        return []
    return [w for w in _WORD.findall(text.lower()) if w not in STOP_WORDS]


def has_index_word(text: str | None) -> bool:
    """Tell whether a text has at least one searchable word (not a stop word); stops at the first one."""
    if not text:
        return False
    m = _WORD.search(text)  # the first word decides almost always: one regex step, no generator
    while m is not None:
        if m.group().lower() not in STOP_WORDS:
            return True
        m = _WORD.search(text, m.end())
    return False


def stop_stems() -> frozenset[str]:
    """The stems of the stop words: a query word with one of these needs checking beyond FTS5."""
    return _STOP_STEMS


def stem(word: str) -> str:
    """Return the English (Porter) stem of one lower-case word, cached."""
    s = _STEMS.get(word)
    if s is None:
        s = _STEMS[word] = porter(word)
    return s


_STOP_STEMS = frozenset(porter(w) for w in STOP_WORDS)

# ---------------------------------------------------------------- the query tree

@dataclass(frozen=True)
class Term:
    """One analysed word; matches any word with the same stem."""

    word: str


@dataclass(frozen=True)
class Phrase:
    """Words in this order (``slop`` 0) or within ``slop`` moves of it (Lucene proximity).

    ``positions`` are the words' places in the phrase (gaps where stop words were), default 0, 1, 2...
    """

    words: tuple[str, ...]
    slop: int = 0
    positions: tuple[int, ...] = ()

    @property
    def places(self) -> tuple[int, ...]:
        """The position of each word in the phrase."""
        return self.positions or tuple(range(len(self.words)))

    @property
    def gaps(self) -> int:
        """How many stop-word holes the phrase has."""
        p = self.places
        return p[-1] - p[0] + 1 - len(p)


@dataclass(frozen=True)
class Wildcard:
    """A word pattern with ``?`` (one character) and ``*`` (any run), matched against words as written."""

    pattern: str


@dataclass(frozen=True)
class Fuzzy:
    """Words within ``edits`` insertions, deletions, substitutions or transpositions of ``word``."""

    word: str
    edits: int = 2


@dataclass(frozen=True)
class Bool:
    """A boolean group: all ``must``, at least one ``should`` when there is no ``must``, no ``must_not``."""

    must: tuple[TextNode, ...] = ()
    should: tuple[TextNode, ...] = ()
    must_not: tuple[TextNode, ...] = ()


TextNode = Term | Phrase | Wildcard | Fuzzy | Bool
MATCH_NOTHING = Bool()


@dataclass(frozen=True)
class TextQuery:
    """A parsed text-search value: the tree plus the features used (for lint and for Cloud)."""

    source: str
    node: TextNode
    features: frozenset[str] = field(default_factory=frozenset)
    dropped: tuple[str, ...] = ()  # stop words and unindexed characters left out


# ---------------------------------------------------------------- lexer and parser

_TERM_STOP = set(' \t\r\n\f\v()"^~')


@dataclass
class _T:
    """One token of a text-search value."""
    kind: str  # TERM PHRASE LP RP AND OR NOT PLUS MINUS EOF
    text: str
    pos: int
    raw: str = ""
    slop: float | None = None
    fuzzy: float | None = None
    boost: bool = False


def _lex(v: str) -> list[_T]:
    """Split a text-search value into tokens (phrases, words, operators)."""
    out: list[_T] = []
    i, n = 0, len(v)
    while i < n:
        c = v[i]
        if c.isspace():
            i += 1
            continue
        start = i
        if c == '"':
            i += 1
            buf = []
            while i < n and v[i] != '"':
                if v[i] == "\\" and i + 1 < n:
                    buf.append(v[i + 1])
                    i += 2
                    continue
                buf.append(v[i])
                i += 1
            if i >= n:
                raise JqlSyntaxError("Unterminated phrase in the text search", v, start,
                                     hint='close the phrase with \\" (escaped quote) in JQL')
            i += 1
            tok = _T("PHRASE", "".join(buf), start, raw=v[start:i])
            i = _suffixes(v, i, tok)
            out.append(tok)
            continue
        if c == "(":
            out.append(_T("LP", c, i))
            i += 1
            continue
        if c == ")":
            out.append(_T("RP", c, i))
            i += 1
            continue
        if v.startswith("&&", i):
            out.append(_T("AND", "&&", i))
            i += 2
            continue
        if v.startswith("||", i):
            out.append(_T("OR", "||", i))
            i += 2
            continue
        if c in "+-!":
            out.append(_T({"+": "PLUS", "-": "MINUS", "!": "NOT"}[c], c, i))
            i += 1
            continue
        if c in "^~":
            raise JqlSyntaxError(f"'{c}' must follow a word or a phrase", v, i,
                                 hint=f"write \\\\{c} to search for the character (it is not indexed anyway)")
        buf = []
        while i < n and v[i] not in _TERM_STOP:
            if v[i] == "\\" and i + 1 < n:
                buf.append("\\" + v[i + 1])
                i += 2
                continue
            buf.append(v[i])
            i += 1
        text = "".join(buf)
        kind = "TERM"
        if text in ("AND", "OR", "NOT"):
            kind = text
        tok = _T(kind, text, start, raw=v[start:i])
        if kind == "TERM":
            i = _suffixes(v, i, tok)
        out.append(tok)
    out.append(_T("EOF", "", n))
    return out


def tokens(value: str) -> list[_T]:
    """Return the tokens of a text-search value (words with their ~ and ^ suffixes, phrases, operators)."""
    return [t for t in _lex(value) if t.kind != "EOF"]


_NUM = re.compile(r"\d+(\.\d*)?|\.\d+")


def _suffixes(v: str, i: int, tok: _T) -> int:
    """Read ~N (slop or fuzzy) and ^N (boost) after a word or phrase."""
    while i < len(v) and v[i] in "~^":
        c = v[i]
        m = _NUM.match(v, i + 1)
        num = float(m.group()) if m else None
        end = m.end() if m else i + 1
        if c == "^":
            if num is None:
                raise JqlSyntaxError("'^' needs a number (boost)", v, i)
            tok.boost = True
        elif tok.kind == "PHRASE":
            if num is None:
                raise JqlSyntaxError("'~' after a phrase needs a distance, like \"a b\"~10", v, i)
            tok.slop = num
        else:
            tok.fuzzy = 2.0 if num is None else num
        i = end
    return i


def _unescape(text: str) -> tuple[str, bool]:
    """Drop backslashes; report whether an unescaped * or ? (a wildcard) is present."""
    out, wild, i = [], False, 0
    while i < len(text):
        if text[i] == "\\" and i + 1 < len(text):
            ch = text[i + 1]
            out.append("\x00" if ch in "*?" else ch)  # an escaped wildcard char: literal, never indexed
            i += 2
            continue
        if text[i] in "*?":
            wild = True
        out.append(text[i])
        i += 1
    return "".join(out), wild


class _TextParser:
    """Parser of the Lucene-style text-search value."""
    def __init__(self, v: str) -> None:
        """Tokenise a text-search value and start at its first token."""
        self.v = v
        self.toks = _lex(v)
        self.i = 0
        self.features: set[str] = set()
        self.dropped: list[str] = []
        self.depth = 0

    @property
    def tok(self) -> _T:
        """The current token."""
        return self.toks[self.i]

    def next(self) -> _T:
        """Consume and return the current token."""
        t = self.toks[self.i]
        if t.kind != "EOF":
            self.i += 1
        return t

    def parse(self) -> TextNode:
        """The whole value; a leading '(' is an error, as documented."""
        if self.tok.kind == "LP":
            raise JqlSyntaxError("A text search may not start with '(' (grouping)", self.v, self.tok.pos,
                                 hint="start with a word, e.g. bugs AND (atlassian OR Jira)")
        if self.tok.kind == "EOF":
            raise JqlSyntaxError("Empty text search", self.v, 0, hint="give at least one word")
        node = self.or_expr()
        if self.tok.kind != "EOF":
            raise JqlSyntaxError(f"Unexpected {self.tok.text!r} in the text search", self.v, self.tok.pos)
        return node

    def or_expr(self) -> TextNode:
        """Groups joined by OR."""
        groups = [self.and_expr()]
        while self.tok.kind == "OR":
            self.features.add("or")
            self.next()
            groups.append(self.and_expr())
        groups = [g for g in groups if g is not None]
        if not groups:
            return None
        if len(groups) == 1:
            return groups[0]
        return Bool(should=tuple(groups))

    def and_expr(self) -> TextNode | None:
        """Clauses side by side or joined by AND, with + and - / NOT modifiers."""
        clauses: list[tuple[str, TextNode | None, bool]] = []  # (modifier, node, joined by AND)
        joined_next = False
        while self.tok.kind not in ("EOF", "RP", "OR"):
            if self.tok.kind == "AND":
                if not clauses:
                    raise JqlSyntaxError("AND needs a word before it", self.v, self.tok.pos)
                self.next()
                m, nd, _ = clauses[-1]
                clauses[-1] = (m, nd, True)
                joined_next = True
                if self.tok.kind in ("EOF", "RP", "OR"):
                    raise JqlSyntaxError("AND needs a word after it", self.v, self.tok.pos)
                continue
            mod = ""
            if self.tok.kind in ("PLUS", "MINUS", "NOT"):
                mod = {"PLUS": "+", "MINUS": "-", "NOT": "-"}[self.tok.kind]
                self.features.add("not" if mod == "-" else "required")
                self.next()
            clauses.append((mod, self.primary(), joined_next))
            joined_next = False
        if not clauses:
            raise JqlSyntaxError("Expected a word or a phrase", self.v, self.tok.pos)
        any_plus = any(m == "+" for m, _, _ in clauses)
        must, should, must_not = [], [], []
        for mod, nd, joined in clauses:
            if nd is None:
                continue
            if mod == "-":
                must_not.append(nd)
            elif mod == "+" or not any_plus or joined:
                must.append(nd)
            else:
                should.append(nd)
        if not (must or should or must_not):
            return None
        if len(must) == 1 and not should and not must_not:
            return must[0]
        return Bool(tuple(must), tuple(should), tuple(must_not))

    def primary(self) -> TextNode | None:
        """A word, wildcard, fuzzy word, phrase or parenthesised group."""
        t = self.next()
        if t.kind == "LP":
            self.depth += 1
            if self.depth > 50:
                raise JqlSyntaxError("Text search nested too deeply", self.v, t.pos)
            self.features.add("group")
            inner = self.or_expr()
            if self.tok.kind != "RP":
                raise JqlSyntaxError("Expected ')'", self.v, self.tok.pos)
            self.next()
            self.depth -= 1
            return inner
        if t.boost:
            self.features.add("boost")
        if t.kind == "PHRASE":
            if any(ch in t.text for ch in "*?"):
                self.features.add("wildcard-in-phrase")
            all_words = words(t.text)
            kept = [(k, w) for k, w in enumerate(all_words) if w not in STOP_WORDS]
            self._note_dropped(t.text)
            if t.slop is not None:
                self.features.add("proximity")
            else:
                self.features.add("phrase")
            if not kept:
                return None
            if len(kept) == 1:
                return Term(kept[0][1])
            base = kept[0][0]
            places = tuple(k - base for k, _ in kept)
            ws = tuple(w for _, w in kept)
            return Phrase(ws, int(t.slop or 0), places if places != tuple(range(len(ws))) else ())
        if t.kind == "TERM":
            text, wild = _unescape(t.text)
            if t.fuzzy is not None:
                self.features.add("fuzzy")
                word = text.lower()
                f = t.fuzzy
                edits = int(f) if f >= 1 else (0 if f == 0 else min(2, int((1 - f) * len(word))))
                return Fuzzy(word, min(edits, 2))
            if wild:
                self.features.add("wildcard")
                if "?" in text:
                    self.features.add("question")
                if text[0] in "*?":
                    self.features.add("leading-wildcard")
                return Wildcard(text.lower())
            ws = index_words(text.replace("\x00", " "))
            self._note_dropped(text)
            if len(words(text.replace("\x00", " "))) > 1:
                self.features.add("split-word")
            if not ws:
                return None
            if len(ws) == 1:
                return Term(ws[0])
            return Bool(must=tuple(Term(w) for w in ws))
        raise JqlSyntaxError(f"Expected a word or a phrase, found {t.text or 'the end'!r}", self.v, t.pos)

    def _note_dropped(self, text: str) -> None:
        """Remember the stop words a part of the value loses."""
        for w in words(text):
            if w in STOP_WORDS:
                self.dropped.append(w)
                self.features.add("stop-word")


def parse_text(value: str) -> TextQuery:
    """Parse the value of a ``~`` clause into a ``TextQuery``; raise ``JqlSyntaxError`` if malformed."""
    p = _TextParser(value)
    node = p.parse()
    if node is None:
        node = MATCH_NOTHING
        p.features.add("nothing-indexed")
    return TextQuery(value, node, frozenset(p.features), tuple(p.dropped))


# ---------------------------------------------------------------- matching in Python

def wildcard_regex(pattern: str) -> re.Pattern[str]:
    """Compile a ``?``/``*`` word pattern to a regex that must match a whole word."""
    out = []
    for ch in pattern:
        out.append(".*" if ch == "*" else "." if ch == "?" else re.escape(ch))
    return re.compile("".join(out) + r"\Z", re.S)


def edit_distance(a: str, b: str, limit: int = 2) -> int:
    """Optimal-string-alignment distance (Damerau: transpositions count 1); stops early above ``limit``."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    prev2: list[int] | None = None
    prev = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        cur = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            v = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if prev2 is not None and i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                v = min(v, prev2[j - 2] + 1)
            cur[j] = v
        if min(cur) > limit:
            return limit + 1
        prev2, prev = prev, cur
    return prev[-1]


class FieldText:
    """One field's indexed words with their stems, for matching a query in Python."""

    __slots__ = ("raw", "stems", "_stemset", "_rawset")

    def __init__(self, all_words: Sequence[str]) -> None:
        """Index a field's words by raw form and English stem (stop words kept in place)."""
        self.raw = list(all_words)
        self.stems: list[str | None] = [None if w in STOP_WORDS else stem(w) for w in self.raw]
        self._stemset = {s for s in self.stems if s is not None}
        self._rawset = set(self.raw) - STOP_WORDS

    @classmethod
    def of(cls, text: str | None) -> FieldText:
        """Analyse a field's text (all words, stop words keep their positions but never match)."""
        return cls(words(text))


def _min_spread(lists: list[list[int]]) -> int:
    """Smallest max-min over one value from each sorted list (Lucene's sloppy phrase distance)."""
    import heapq

    heap = [(lst[0], k, 0) for k, lst in enumerate(lists)]
    heapq.heapify(heap)
    hi = max(h[0] for h in heap)
    best = hi - heap[0][0]
    while True:
        lo, k, idx = heapq.heappop(heap)
        best = min(best, hi - lo)
        if idx + 1 >= len(lists[k]):
            return best
        nxt = lists[k][idx + 1]
        hi = max(hi, nxt)
        heapq.heappush(heap, (nxt, k, idx + 1))


def phrase_matches(ph: Phrase, ft: FieldText) -> bool:
    """Whether a phrase (with its slop) matches one field."""
    targets = [stem(w) for w in ph.words]
    if not all(t in ft._stemset for t in targets):
        return False
    places = ph.places
    if ph.slop == 0:
        n = len(ft.stems)
        span = places[-1]
        for p in range(n - span):
            if all(ft.stems[p + off] == t for off, t in zip(places, targets, strict=True)):
                return True
        return False
    lists = [[p - off for p, s in enumerate(ft.stems) if s == t] for off, t in zip(places, targets, strict=True)]
    return _min_spread(lists) <= ph.slop


def matches(node: TextNode, ft: FieldText) -> bool:
    """Whether a text query matches one field's text (the reference semantics the store must equal)."""
    if isinstance(node, Term):
        return stem(node.word) in ft._stemset
    if isinstance(node, Phrase):
        return phrase_matches(node, ft)
    if isinstance(node, Wildcard):
        rx = wildcard_regex(node.pattern)
        return any(rx.match(w) for w in ft._rawset)
    if isinstance(node, Fuzzy):
        return any(edit_distance(node.word, w, node.edits) <= node.edits for w in ft._rawset)
    if isinstance(node, Bool):
        if not node.must and not node.should:
            return False
        if node.must and not all(matches(n, ft) for n in node.must):
            return False
        if not node.must and not any(matches(n, ft) for n in node.should):
            return False
        return not any(matches(n, ft) for n in node.must_not)
    raise TypeError(f"not a text query node: {node!r}")


def text_matches(query: str | TextQuery, texts: Iterable[str | None]) -> bool:
    """Whether a text-search value matches any one of the given field texts (like ``text ~``)."""
    tq = parse_text(query) if isinstance(query, str) else query
    return any(matches(tq.node, FieldText.of(t)) for t in texts)
