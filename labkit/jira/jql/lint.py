"""Warnings about JQL that runs but does not do what people expect (the traps of Jira text search)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from labkit.jira.errors import JqlSyntaxError
from labkit.jira.jql import parse, render
from labkit.jira.jql import text as T
from labkit.jira.jql.ast import Clause, Node, Not, Query, Value
from labkit.jira.jql.build import phrase as _phrase

__all__ = ["JqlWarning", "lint"]

_TEXT_FIELDS = {"summary", "description", "environment", "comment", "text"}
_NEGATIVE_OPS = {"!=", "!~", "NOT IN", "IS", "WAS NOT", "WAS NOT IN"}


@dataclass(frozen=True)
class JqlWarning:
    """One trap found in a query: a code, what happens, the clause, and what to write instead."""

    code: str
    message: str
    clause: str = ""
    hint: str = ""


def _clauses_with_sign(n: Node | None, negated: bool = False):
    """Yield each clause with whether it sits under an odd number of NOTs."""
    if n is None:
        return
    if isinstance(n, Clause):
        yield n, negated
    elif isinstance(n, Not):
        yield from _clauses_with_sign(n.item, not negated)
    else:
        for i in n.items:
            yield from _clauses_with_sign(i, negated)


def _text_warnings(c: Clause, cloud: bool) -> list[JqlWarning]:
    """The traps in one text-search clause."""
    out: list[JqlWarning] = []
    where = render(c)
    if not isinstance(c.operand, Value):
        return out
    value = c.operand.text
    try:
        tq = T.parse_text(value)
    except JqlSyntaxError as e:
        return [JqlWarning("text-syntax", f"The text search is not valid: {e.reason}", where, e.hint or "")]
    f = tq.features
    toks = T.tokens(value)  # the text language's own lexer: words and phrases as Jira reads them
    bare_words = [t.raw for t in toks if t.kind == "TERM"]
    plain = [t for t in toks if t.kind == "TERM" and T.index_words(t.text) and t.fuzzy is None and not t.boost
             and not any(ch in t.text for ch in "*?")]
    if "phrase" not in f and "proximity" not in f and not ({"or", "not", "required", "group"} & f) \
            and len(plain) >= 2:
        out.append(JqlWarning(
            "words-not-phrase",
            "Several words without escaped quotes match the words anywhere in the field, in any order, not the phrase",
            where, f'for the exact phrase write {c.field} ~ {render_value(_phrase(value))}'))
    for ph in (t.text for t in toks if t.kind == "PHRASE"):
        if re.search(r"~\d", ph):
            out.append(JqlWarning("proximity-in-phrase", "The ~N is inside the quotes, so it is not a proximity search",
                                  where, 'put ~N after the closing quote: "\\"a b\\"~10"'))
        if "*" in ph or "?" in ph:
            out.append(JqlWarning("wildcard-in-phrase", "Wildcards inside a phrase are ignored (treated as spaces)",
                                  where, "search the words with wildcards outside the quotes"))
    if "leading-wildcard" in f:
        out.append(JqlWarning("leading-wildcard", "Jira refuses a wildcard at the start of a word, on every deployment "
                              "(Server, Data Center and Cloud): the server answers with an error", where,
                              "start the word with at least one letter, e.g. magic* instead of *box"))
    if "nothing-indexed" in f:
        out.append(JqlWarning("stop-words-only", "The text search has only stop words or unindexed characters "
                              f"({', '.join(tq.dropped) or value!r}): it matches nothing", where,
                              "search for a word that is not a stop word"))
    elif tq.dropped:
        out.append(JqlWarning("stop-words", f"Stop words are ignored: {', '.join(sorted(set(tq.dropped)))}", where, ""))
    specials = sorted({ch for w in bare_words for ch in w if not ch.isalnum() and ch not in "*?~^\\.,;'\""})
    if "split-word" in f or specials:
        out.append(JqlWarning("special-characters", "Special characters are not indexed: "
                              f"{' '.join(specials) or 'punctuation'} split or vanish from the words", where,
                              "search for the words only; quote them as a phrase to keep them together"))
    if cloud:
        for feat, what in (("fuzzy", "fuzzy search (~)"), ("proximity", "proximity search (\"...\"~N)"),
                           ("boost", "boosting (^)")):
            if feat in f:
                out.append(JqlWarning(f"cloud-{feat}", f"Jira Cloud ignores {what}", where, ""))
        if "question" in f:
            out.append(JqlWarning("cloud-question", "Jira Cloud turns ? into * at the end of the word", where,
                                  "use a trailing * on Cloud"))
        if any(t.kind == "TERM" and any(ch in t.text[:-1] for ch in "*?") for t in toks):
            out.append(JqlWarning("cloud-inner-wildcard", "Jira Cloud supports only a trailing * wildcard", where, ""))
    return out


def render_value(v: str) -> str:
    """A text value as a quoted JQL string."""
    from labkit.jira.jql import quote

    return quote(v)


def lint(query: str | Query, *, cloud: bool | None = None) -> list[JqlWarning]:
    """Return the traps in a query (syntax errors raise ``JqlSyntaxError``).

    Features Jira Cloud ignores (fuzzy, proximity, boost, ``?``, inner wildcards) are reported
    unless ``cloud=False`` (you search Server/Data Center, where they work).
    """
    cloud = cloud is not False
    q = parse(query) if isinstance(query, str) else query
    out: list[JqlWarning] = []
    clauses = list(_clauses_with_sign(q.where))
    for c, _neg in clauses:
        f = c.field.lower()
        if f in _TEXT_FIELDS:
            if c.op in ("~", "!~"):
                out.extend(_text_warnings(c, cloud))
            elif c.op in ("=", "!=", "IN", "NOT IN"):
                out.append(JqlWarning("text-equals", f"{c.field} does not support {c.op}", render(c),
                                      f'use {c.field} ~ "words"'))
    positive = [c for c, neg in clauses if not neg and c.op not in _NEGATIVE_OPS]
    if not positive:
        out.append(JqlWarning("unbounded", "The query has no restriction, so it asks for every issue; Jira Cloud's "
                              "/rest/api/3/search/jql rejects unbounded queries", render(q),
                              "add a restriction such as project = KEY or updated >= -30d"))
    return out
