"""Questions about a JQL string and changes to it, answered on the syntax tree (never with a regex).

    from labkit.jira.jql.edit import and_where, has_order_by, with_default_order
    has_order_by('summary ~ "sort order by date"')            # False: the words are inside a string
    and_where('project = DEMO ORDER BY Rank', 'status = Open')  # 'project = DEMO AND status = Open ORDER BY Rank'
    with_default_order("project = DEMO", "Rank")               # 'project = DEMO ORDER BY Rank ASC'

Each function takes JQL text or a parsed :class:`~labkit.jira.jql.ast.Query` and returns the same kind.
"""

from __future__ import annotations

from typing import TypeVar

from labkit.jira.jql.ast import And, Node, Query, SortKey, render
from labkit.jira.jql.parser import parse

__all__ = ["and_where", "has_order_by", "is_unbounded", "with_default_order", "with_order", "without_order"]

Jql = TypeVar("Jql", str, Query)


def _tree(jql: str | Query) -> Query:
    """The query as a tree (JQL text is parsed strictly)."""
    return jql if isinstance(jql, Query) else parse(jql)


def _same_kind(original: str | Query, q: Query) -> str | Query:
    """Return ``q`` as text when ``original`` was text."""
    return q if isinstance(original, Query) else render(q)


def has_order_by(jql: str | Query) -> bool:
    """Tell whether the query has an ``ORDER BY``."""
    return bool(_tree(jql).order_by)


def is_unbounded(jql: str | Query) -> bool:
    """Tell whether the query has no restriction (empty, or only an ``ORDER BY``)."""
    return _tree(jql).where is None


def with_order(jql: Jql, keys: tuple[SortKey, ...] | list[SortKey]) -> Jql:
    """Return the query with its ``ORDER BY`` replaced by ``keys`` (none: no ORDER BY)."""
    q = _tree(jql)
    return _same_kind(jql, Query(q.where, tuple(keys)))  # type: ignore[return-value]


def without_order(jql: Jql) -> Jql:
    """Return the query without its ``ORDER BY``."""
    return with_order(jql, ())


def with_default_order(jql: Jql, field: str, direction: str = "ASC") -> Jql:
    """Return the query ordered by ``field`` when it has no ``ORDER BY`` of its own (else unchanged)."""
    q = _tree(jql)
    if q.order_by:
        return jql
    return _same_kind(jql, Query(q.where, (SortKey(field, direction),)))  # type: ignore[return-value]


def and_where(jql: Jql, *conditions: str | Node | Query) -> Jql:
    """Return the query with each condition ANDed onto its restriction, keeping its ``ORDER BY``.

    A condition is JQL text (without ORDER BY), a condition node or a Query (its ORDER BY is ignored).
    """
    q = _tree(jql)
    items: list[Node] = []
    for part in (q.where, *(_condition(c) for c in conditions)):
        if part is None:
            continue
        items.extend(part.items if isinstance(part, And) else (part,))
    where = None if not items else items[0] if len(items) == 1 else And(tuple(items))
    return _same_kind(jql, Query(where, q.order_by))  # type: ignore[return-value]


def _condition(c: str | Node | Query) -> Node | None:
    """The restriction of a condition given as text, a node or a query."""
    if isinstance(c, str):
        parsed = parse(c)
        if parsed.order_by:
            from labkit.jira.errors import JqlSyntaxError

            raise JqlSyntaxError("A condition to add may not have its own ORDER BY", c, len(c),
                                 hint="leave ORDER BY out of the added condition")
        return parsed.where
    if isinstance(c, Query):
        return c.where
    return c
