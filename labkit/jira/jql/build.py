"""Build JQL in Python with the escaping done right, then render it.

>>> from labkit.jira.jql.build import text, field
>>> str(text("disk space", phrase=True, within=10) & (field("project") == "OPS"))
'text ~ "\\"disk space\\"~10" AND project = OPS'

Python's ``&`` binds tighter than ``==``: put comparisons in parentheses when you combine them.
>>> str((field("summary").contains("behavio*r") | ~field("status").in_(["Closed"])).order_by("Rank"))
'summary ~ "behavio*r" OR NOT status IN (Closed) ORDER BY Rank'
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from labkit.jira.jql.ast import (
    And,
    Clause,
    Empty,
    Function,
    ListValue,
    Node,
    Not,
    Operand,
    Or,
    Predicate,
    Query,
    SortKey,
    Value,
    render,
)
from labkit.jira.jql.reserved import looks_numeric

__all__ = ["Expr", "Field", "Ordered", "field", "fn", "phrase", "text"]


def _operand(v: object) -> Operand:
    """Turn a Python value into a JQL operand: None is EMPTY, an int an id, a str a name (quoted when numeric)."""
    if isinstance(v, Value | Empty | Function | ListValue):
        return v
    if v is None:
        return Empty()
    if isinstance(v, bool):
        return Value("true" if v else "false")
    if isinstance(v, int):
        return Value(str(v))
    text = str(v)
    return Value(text, quoted=looks_numeric(text))  # "10350" is a name; 10350 would be an id


def fn(name: str, *args: object) -> Function:
    """A JQL function operand, e.g. ``fn("linkedIssues", "X-1", "is blocked by")`` or ``fn("startOfWeek", -1)``."""
    return Function(name, tuple(str(a) for a in args))


def phrase(words: str, *, within: int | None = None) -> str:
    """The text-search value for an exact phrase (or words within ``within`` positions): ``"a b"`` or ``"a b"~10``."""
    inner = words.replace("\\", "\\\\").replace('"', '\\"')
    value = f'"{inner}"'
    if within is not None:
        if int(within) < 0:
            raise ValueError("within must be >= 0")
        value += f"~{int(within)}"
    return value


@dataclass(frozen=True)
class Expr:
    """A JQL condition; combine with ``&`` (AND), ``|`` (OR), ``~`` (NOT); ``str()`` renders it."""

    node: Node

    def __and__(self, other: Expr) -> Expr:
        """Combine two expressions with AND (flattening nested ANDs)."""
        a = self.node.items if isinstance(self.node, And) else (self.node,)
        b = other.node.items if isinstance(other.node, And) else (other.node,)
        return Expr(And(a + b))

    def __or__(self, other: Expr) -> Expr:
        """Combine two expressions with OR (flattening nested ORs)."""
        a = self.node.items if isinstance(self.node, Or) else (self.node,)
        b = other.node.items if isinstance(other.node, Or) else (other.node,)
        return Expr(Or(a + b))

    def __invert__(self) -> Expr:
        """Negate the expression with NOT."""
        return Expr(Not(self.node))

    def order_by(self, *keys: str | tuple[str, str]) -> Ordered:
        """Add ``ORDER BY``: each key is a field name or ``(field, "ASC"|"DESC")``."""
        return Ordered(Query(self.node, _sort_keys(keys)))

    @property
    def query(self) -> Query:
        """The condition as a whole ``Query`` tree."""
        return Query(self.node)

    def __str__(self) -> str:
        """Return the expression as JQL text."""
        return render(self.node)


def _sort_keys(keys: Iterable[str | tuple[str, str]]) -> tuple[SortKey, ...]:
    """ORDER BY keys from names or (name, direction) pairs."""
    out = []
    for k in keys:
        if isinstance(k, tuple):
            name, direction = k
            direction = direction.upper()
            if direction not in ("ASC", "DESC"):
                raise ValueError(f"sort direction must be ASC or DESC, not {direction!r}")
            out.append(SortKey(name, direction))
        else:
            out.append(SortKey(k))
    return tuple(out)


@dataclass(frozen=True)
class Ordered:
    """A condition with ``ORDER BY``; ``str()`` renders the whole query."""

    query: Query

    def __str__(self) -> str:
        """Return the query with its ORDER BY as JQL text."""
        return render(self.query)


@dataclass(frozen=True)
class Field:
    """A field to build clauses on: ``field("status") == "Open"``, ``.in_([...])``, ``.contains("x")``."""

    name: str

    def _c(self, op: str, operand: Operand | None, preds: tuple[Predicate, ...] = ()) -> Expr:
        """A clause on this field."""
        return Expr(Clause(self.name, op, operand, preds))

    def __eq__(self, v: object) -> Expr:  # type: ignore[override]
        """Build ``field = value`` (``field IS EMPTY`` for None)."""
        return self._c("IS" if v is None else "=", _operand(v))

    def __ne__(self, v: object) -> Expr:  # type: ignore[override]
        """Build ``field != value`` (``field IS NOT EMPTY`` for None)."""
        return self._c("IS NOT" if v is None else "!=", _operand(v))

    def __gt__(self, v: object) -> Expr:
        """Build ``field > value``."""
        return self._c(">", _operand(v))

    def __ge__(self, v: object) -> Expr:
        """Build ``field >= value``."""
        return self._c(">=", _operand(v))

    def __lt__(self, v: object) -> Expr:
        """Build ``field < value``."""
        return self._c("<", _operand(v))

    def __le__(self, v: object) -> Expr:
        """Build ``field <= value``."""
        return self._c("<=", _operand(v))

    __hash__ = object.__hash__

    def in_(self, values: Iterable[object] | Function) -> Expr:
        """``field IN (a, b)`` or ``field IN function()``."""
        if isinstance(values, Function):
            return self._c("IN", values)
        return self._c("IN", ListValue(tuple(_operand(v) for v in values)))

    def not_in(self, values: Iterable[object] | Function) -> Expr:
        """``field NOT IN (a, b)``."""
        if isinstance(values, Function):
            return self._c("NOT IN", values)
        return self._c("NOT IN", ListValue(tuple(_operand(v) for v in values)))

    def is_empty(self) -> Expr:
        """``field IS EMPTY``."""
        return self._c("IS", Empty())

    def is_not_empty(self) -> Expr:
        """``field IS NOT EMPTY``."""
        return self._c("IS NOT", Empty())

    def contains(self, value: str) -> Expr:
        """``field ~ "value"``: ``value`` is the text-search value as is (wildcards, operators allowed)."""
        return self._c("~", Value(value))

    def not_contains(self, value: str) -> Expr:
        """``field !~ "value"``."""
        return self._c("!~", Value(value))

    def was(self, value: object, *, not_: bool = False, **predicates: object) -> Expr:
        """``field WAS [NOT] value [BY x] [AFTER d] [BEFORE d] [ON d] [DURING (a, b)]``."""
        op = "WAS NOT" if not_ else "WAS"
        if isinstance(value, list | tuple):
            op += " IN"
            value = ListValue(tuple(_operand(v) for v in value))
        return self._c(op, _operand(value), _predicates(predicates))

    def changed(self, **predicates: object) -> Expr:
        """``field CHANGED [FROM a] [TO b] [BY x] [AFTER d] [BEFORE d] [ON d] [DURING (a, b)]``."""
        return self._c("CHANGED", None, _predicates(predicates))


def _predicates(kw: dict[str, object]) -> tuple[Predicate, ...]:
    """History predicates from keyword arguments (by=, after=, during=(a, b), ...)."""
    out = []
    for name, v in kw.items():
        up = name.rstrip("_").upper()
        if up == "DURING":
            a, b = v  # type: ignore[misc]
            out.append(Predicate("DURING", (_operand(a), _operand(b))))
        elif up in ("AFTER", "BEFORE", "ON", "BY", "FROM", "TO"):
            out.append(Predicate(up, (_operand(v),)))
        else:
            raise ValueError(f"unknown history predicate {name!r}")
    return tuple(out)


def field(name: str) -> Field:
    """Start a clause on a field (custom fields too: ``field("cf[10010]")``, ``field("Story Points")``)."""
    return Field(name)


def text(words: str, *, phrase: bool = False, within: int | None = None, field: str = "text") -> Expr:
    """A text search: words (any order), or with ``phrase=True`` the exact phrase, ``within=N`` proximity.

    ``text("disk space", phrase=True)`` renders ``text ~ "\\"disk space\\""``;
    ``text("disk space", phrase=True, within=10)`` renders ``text ~ "\\"disk space\\"~10"``.
    """
    if within is not None and not phrase:
        raise ValueError("within= needs phrase=True (proximity is a phrase with a distance)")
    value = globals()["phrase"](words, within=within) if phrase else words
    return Expr(Clause(field, "~", Value(value)))
