"""How big a JQL query a server (the sandbox) or the local store accepts: length and number of terms.

Jira refuses what it cannot run in reasonable time: Jira Cloud caps a JQL function at 1,000 values
("The JQL function ... has returned more than the maximum of 1000 values", Atlassian, "Work around
the 1,000 value limit in custom JQL functions") and its engine fails from a few thousand operands
(JRACLOUD-84010). Atlassian publishes no length limit; labkit's are its own, chosen so that any query
a person or labkit writes passes (labkit's own generated queries hold at most 50 values) and a
pathological one is refused before any work: a 100 KB text search used to take 17 s and 1.6 GB.

    check_length(jql)          # before parsing: a JqlError for a query longer than MAX_JQL_LENGTH
    check_terms(parse(jql))    # after: a JqlError for more than MAX_TERMS clauses, values and words
"""

from __future__ import annotations

from labkit.jira.errors import JqlError, JqlSyntaxError
from labkit.jira.jql.ast import Clause, Function, ListValue, Operand, Query, Value, clauses

MAX_JQL_LENGTH = 32_768   # characters
MAX_TERMS = 2_000         # clauses, list values, function arguments and text-search words together

_TEXT_OPERATORS = ("~", "!~")


def check_length(jql: str, limit: int = MAX_JQL_LENGTH) -> None:
    """Raise JqlError when a JQL text is longer than ``limit`` characters."""
    if len(jql) > limit:
        raise JqlError(f"The JQL query is {len(jql):,} characters long; this server accepts at most {limit:,}.",
                       hint="Split the search into smaller ones (fewer values per IN list, fewer words)")


def _operand_terms(op: Operand | None) -> int:
    """Count the values an operand carries (a list counts each item, a function each argument)."""
    if isinstance(op, ListValue):
        return sum(_operand_terms(i) for i in op.items)
    if isinstance(op, Function):
        return 1 + len(op.args)
    return 1 if op is not None else 0


def _text_terms(value: str) -> int:
    """Count the words, phrases, wildcards and fuzzy terms of a text-search value (1 if it does not parse)."""
    from labkit.jira.jql import text as T

    try:
        node = T.parse_text(value).node
    except JqlSyntaxError:
        return 1  # the store reports the syntax error itself
    todo, n = [node], 0
    while todo:
        x = todo.pop()
        if isinstance(x, T.Bool):
            todo.extend(x.must + x.should + x.must_not)
        elif isinstance(x, T.Phrase):
            n += len(x.words)
        else:
            n += 1
    return max(n, 1)


def count_terms(query: Query) -> int:
    """Count a query's terms: each clause, each value of its operand and predicates, each text-search word."""
    n = len(query.order_by)
    for c in clauses(query):
        n += _clause_terms(c)
    return n


def _clause_terms(c: Clause) -> int:
    """Count one clause and the values it carries."""
    if c.op in _TEXT_OPERATORS and isinstance(c.operand, Value):
        n = _text_terms(c.operand.text)
    else:
        n = _operand_terms(c.operand)
    return 1 + n + sum(_operand_terms(o) for p in c.predicates for o in p.operands)


def check_terms(query: Query, limit: int = MAX_TERMS) -> None:
    """Raise JqlError when a parsed query has more than ``limit`` terms (see :func:`count_terms`)."""
    n = count_terms(query)
    if n > limit:
        raise JqlError(f"The JQL query has {n:,} terms (clauses, values and words); this server accepts at most "
                       f"{limit:,}.", hint="Split the search into smaller ones (fewer values per IN list, fewer words)")
