"""The Porter stemmer, written to give the same stems as SQLite FTS5's ``porter`` tokenizer.

The local store indexes text with FTS5 ``porter``; Python needs the same stems to check
proximity matches and to scan issues without the index (tests, small stores).
"""

from __future__ import annotations

_VOWELS = "aeiou"


def _is_vowel(c: str, y_is_vowel: bool) -> bool:
    """Porter's vowel test (y is a vowel after a consonant)."""
    return c in _VOWELS or (y_is_vowel and c == "y")


def _gobble_vc(s: str, start: int, prev_cons: bool) -> int:
    """Index after the first vowel-then-consonant run from ``start``, or 0 if there is none."""
    cons = prev_cons
    n = len(s)
    i = start
    while i < n:
        cons = not _is_vowel(s[i], cons)
        if not cons:
            break
        i += 1
    i += 1
    while i < n:
        cons = not _is_vowel(s[i], cons)
        if cons:
            return i + 1
        i += 1
    return 0


def _m_gt0(s: str) -> bool:
    """Porter measure m > 0."""
    return _gobble_vc(s, 0, False) != 0


def _m_gt1(s: str) -> bool:
    """Porter measure m > 1."""
    n = _gobble_vc(s, 0, False)
    return bool(n) and _gobble_vc(s, n, True) != 0


def _m_eq1(s: str) -> bool:
    """Porter measure m == 1."""
    n = _gobble_vc(s, 0, False)
    return bool(n) and _gobble_vc(s, n, True) == 0


def _ostar(s: str) -> bool:
    """Porter *o: ends consonant-vowel-consonant, the last not w, x or y."""
    if not s or s[-1] in "wxy":
        return False
    mask = 0
    cons = False
    for c in s:
        cons = not _is_vowel(c, cons)
        mask = (mask << 1) + int(cons)
    return (mask & 7) == 5


def _has_vowel(s: str) -> bool:
    """Porter *v*: contains a vowel."""
    return any(_is_vowel(c, i > 0) for i, c in enumerate(s))


def _mgt1_s_or_t(s: str) -> bool:
    """Porter (m > 1 and (*S or *T))."""
    return bool(s) and s[-1] in "st" and _m_gt1(s)


_STEP2 = [
    ("ational", "ate"), ("tional", "tion"), ("enci", "ence"), ("anci", "ance"), ("izer", "ize"),
    ("bli", "ble"), ("alli", "al"), ("entli", "ent"), ("eli", "e"), ("ousli", "ous"),
    ("ization", "ize"), ("ation", "ate"), ("ator", "ate"), ("alism", "al"), ("iveness", "ive"),
    ("fulness", "ful"), ("ousness", "ous"), ("aliti", "al"), ("iviti", "ive"), ("biliti", "ble"),
    ("logi", "log"),
]
_STEP3 = [("icate", "ic"), ("ative", ""), ("alize", "al"), ("iciti", "ic"), ("ical", "ic"),
          ("ful", ""), ("ness", "")]
_STEP4 = ["al", "ance", "ence", "er", "ic", "able", "ible", "ant", "ement", "ment", "ent", "ion",
          "ou", "ism", "ate", "iti", "ous", "ive", "ize"]


def _longest(word: str, table: list[tuple[str, str]]) -> tuple[str, str] | None:
    """The longest suffix rule that applies."""
    best = None
    for suf, rep in table:
        if word.endswith(suf) and (best is None or len(suf) > len(best[0])):
            best = (suf, rep)
    return best


def porter(word: str) -> str:
    """Return the Porter stem of one lowercase token, as SQLite FTS5 ``porter`` computes it."""
    if not word.isascii():  # FTS5 stems UTF-8 bytes: each byte of a non-ASCII letter counts as a consonant
        try:
            return _porter(word.encode("utf-8").decode("latin-1")).encode("latin-1").decode("utf-8")
        except UnicodeDecodeError:
            return word
    return _porter(word)


def _porter(word: str) -> str:
    """The Porter steps on a word of single-byte characters."""
    if len(word) < 3 or len(word) > 64:
        return word
    w = word
    # step 1a
    if w.endswith("s"):
        if w.endswith("sses") or w.endswith("ies"):
            w = w[:-2]
        elif not w.endswith("ss"):
            w = w[:-1]
    # step 1b
    extra = False
    if w.endswith("eed"):
        if _m_gt0(w[:-3]):
            w = w[:-1]
    elif w.endswith("ed") and _has_vowel(w[:-2]):
        w = w[:-2]
        extra = True
    elif w.endswith("ing") and _has_vowel(w[:-3]):
        w = w[:-3]
        extra = True
    if extra:
        if w.endswith(("at", "bl", "iz")):
            w += "e"
        elif len(w) >= 2 and w[-1] == w[-2] and w[-1] not in _VOWELS + "lsz" and not _is_vowel(w[-1], not _is_vowel(w[-2], True)):
            w = w[:-1]
        elif _m_eq1(w) and _ostar(w):
            w += "e"
    # step 1c
    if w.endswith("y") and _has_vowel(w[:-1]):
        w = w[:-1] + "i"
    # step 2
    hit = _longest(w, _STEP2)
    if hit and _m_gt0(w[: -len(hit[0])]):
        w = w[: -len(hit[0])] + hit[1]
    # step 3
    hit = _longest(w, _STEP3)
    if hit and _m_gt0(w[: -len(hit[0])]):
        w = w[: -len(hit[0])] + hit[1]
    # step 4
    best = max((s for s in _STEP4 if w.endswith(s)), key=len, default=None)
    if best:
        stem = w[: -len(best)]
        if (best == "ion" and _mgt1_s_or_t(stem)) or (best != "ion" and _m_gt1(stem)):
            w = stem
    # step 5a
    if w.endswith("e"):
        stem = w[:-1]
        if _m_gt1(stem) or (_m_eq1(stem) and not _ostar(stem)):
            w = stem
    # step 5b
    if w.endswith("ll") and _m_gt1(w):
        w = w[:-1]
    return w
