"""An oracle for Jira proximity search (``"a b"~N``) that shares no code with labkit: own words, stems, slop rule.

Used by ``test_proximity_real.py``; this module has no tests of its own. Every rule is written here
from the documentation, not imported from labkit:

- Words: Atlassian, "Search syntax for text fields": text is broken into words at characters that
  are not letters or digits, words are compared in lower case, and English stemming applies
  ("Jira uses ... stemming"); the stop words listed there ("a, an, and, are, as, at, be, but, by,
  for, if, in, into, is, it, no, not, of, on, or, such, that, the, their, then, there, these, they,
  this, to, was, will, with") are not searchable but, as Lucene's StopFilter does, keep their place.
- Stems: SQLite's own C Porter stemmer (FTS5 ``porter`` tokenizer, sqlite.org/fts5.html "The Porter
  Tokenizer"), read back word by word through an ``fts5vocab`` table: not labkit's Python stemmer.
- Slop: Lucene ``PhraseQuery.setSlop``: "The slop is in fact an edit-distance, where the units
  correspond to moves of terms in the query phrase out of position. For example, to switch the order
  of two words requires two moves"; a phrase matches when some choice of one position per word is
  within ``slop`` moves, the moves being the spread of (position in the text - place in the phrase)
  over the words (Lucene's sloppy phrase match length): for two words, every pair of positions.
- ``text ~`` matches when one field (summary, description, environment, comments) matches on its
  own; ``!~`` (and NOT ~) never matches an issue whose fields are all empty.
"""

from __future__ import annotations

import itertools
import re
import sqlite3

STOP = frozenset("a an and are as at be but by for if in into is it no not of on or such that the their then "
                 "there these they this to was will with".split())
WORD = re.compile(r"[^\W_]+")
FIELDS = ("summary", "description", "environment", "comment")


def issue_fields(fields: dict) -> tuple[str, str, str, str]:
    """The four searchable texts of a REST (Server, plain text) issue: comment bodies one after another."""
    bodies = [c.get("body") or "" for c in (fields.get("comment") or {}).get("comments") or []]
    return (fields.get("summary") or "", fields.get("description") or "", fields.get("environment") or "",
            "\n".join(bodies))


class Oracle:
    """Where each issue's fields hold the stems of some words of interest, and proximity matching over them."""

    def __init__(self, issues: list[dict], words_of_interest: set[str]) -> None:
        """Index, per issue and field, the positions of the stems of ``words_of_interest`` (stop words count as places)."""
        self.has_text = {it["key"]: any(t.strip() for t in issue_fields(it["fields"])) for it in issues}
        self.project = {it["key"]: it["fields"]["project"]["key"] for it in issues}
        query_stems = _porter(sorted(words_of_interest))
        wanted = {query_stems[w] for w in words_of_interest if w not in STOP}
        # Porter only rewrites a word's ending (a final y becomes i at most), so a word with one of these
        # stems starts with the stem's first letters: a field without them cannot hold the word
        heads = {st[:3] if len(st) > 3 else st[:-1] or st for st in wanted}
        texts = {it["key"]: [WORD.findall(low) if any(h in low for h in heads) else []
                             for low in (t.lower() for t in issue_fields(it["fields"]))] for it in issues}
        self._stem = _porter(sorted({w for fs in texts.values() for ws in fs for w in ws} | set(words_of_interest)))
        # key -> per field: stem -> its positions (only the wanted stems; a stop word is never one)
        self.where: dict[str, list[dict[str, list[int]]]] = {}
        for key, fs in texts.items():
            per_field = []
            for ws in fs:
                got: dict[str, list[int]] = {}
                for p, w in enumerate(ws):
                    s = self._stem[w]
                    if s in wanted and w not in STOP:
                        got.setdefault(s, []).append(p)
                per_field.append(got)
            self.where[key] = per_field

    def phrase(self, value: str) -> tuple[list[tuple[int, str]], int]:
        """A proximity value ``"w1 w2 ..."~N`` as (place, stem) of each searchable word, and N."""
        m = re.fullmatch(r'"([^"]*)"~(\d+)', value)
        assert m, value
        ws = WORD.findall(m.group(1).lower())
        kept = [(k, self._stem[w]) for k, w in enumerate(ws) if w not in STOP]
        base = kept[0][0]
        words = [(k - base, s) for k, s in kept]
        assert len({s for _, s in words}) == len(words), "the oracle takes phrases of distinct stems"
        return words, int(m.group(2))

    @staticmethod
    def moves(positions: tuple[int, ...], words: list[tuple[int, str]]) -> int:
        """Moves from the phrase to these text positions: the spread of (position - place in the phrase)."""
        moved = [p - place for p, (place, _) in zip(positions, words, strict=True)]
        return max(moved) - min(moved)

    def field_matches(self, where: dict[str, list[int]], words: list[tuple[int, str]], slop: int) -> bool:
        """Whether some choice of one position per phrase word is within ``slop`` moves of the phrase.

        Two words: every pair of positions (the documented rule as it stands). More: a window over
        (position - place) sorted, the smallest one holding every word.
        """
        if not all(s in where for _, s in words):
            return False
        if len(words) == 2:
            return any(self.moves(pair, words) <= slop for pair in itertools.product(*(where[s] for _, s in words)))
        shifted = sorted((p - place, k) for k, (place, s) in enumerate(words) for p in where[s])
        count: dict[int, int] = {}
        lo = 0
        for v, k in shifted:
            count[k] = count.get(k, 0) + 1
            while len(count) == len(words):
                if v - shifted[lo][0] <= slop:
                    return True
                kk = shifted[lo][1]
                count[kk] -= 1
                if not count[kk]:
                    del count[kk]
                lo += 1
        return False

    def matching(self, value: str, fields: tuple[str, ...] = FIELDS) -> set[str]:
        """Keys of the issues where one of ``fields`` matches the proximity ``value``."""
        words, slop = self.phrase(value)
        idx = [FIELDS.index(f) for f in fields]
        return {k for k, fs in self.where.items() if any(self.field_matches(fs[i], words, slop) for i in idx)}


def _porter(words: list[str]) -> dict[str, str]:
    """Each word's stem as SQLite FTS5's porter tokenizer makes it (the word itself when it is not one token)."""
    db = sqlite3.connect(":memory:")
    db.execute("CREATE VIRTUAL TABLE w USING fts5(x, tokenize='porter unicode61 remove_diacritics 0')")
    db.execute("CREATE VIRTUAL TABLE v USING fts5vocab(w, 'instance')")
    db.executemany("INSERT INTO w(rowid, x) VALUES (?, ?)", enumerate(words))
    got: dict[int, list[str]] = {}
    for term, doc in db.execute("SELECT term, doc FROM v"):
        got.setdefault(doc, []).append(term)
    db.close()
    return {w: got[k][0] if len(got.get(k, ())) == 1 else w for k, w in enumerate(words)}
