"""The JQL syntax tree: immutable dataclasses that compare by value (so round trips can be checked)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Union


@dataclass(frozen=True)
class Value:
    """A literal operand: a quoted or unquoted string or number, kept as its text."""

    text: str


@dataclass(frozen=True)
class Empty:
    """The ``EMPTY`` / ``NULL`` keyword operand."""


@dataclass(frozen=True)
class Function:
    """A function call operand such as ``currentUser()`` or ``linkedIssues("X-1", "blocks")``."""

    name: str
    args: tuple[str, ...] = ()


@dataclass(frozen=True)
class ListValue:
    """A parenthesised list operand, as after ``IN`` or ``NOT IN``."""

    items: tuple[Operand, ...]


Operand = Union[Value, Empty, Function, ListValue]  # noqa: UP007 (used at runtime in isinstance-free code)


@dataclass(frozen=True)
class Predicate:
    """A history predicate after ``WAS`` or ``CHANGED``: ``AFTER``, ``BEFORE``, ``ON``, ``DURING``, ``BY``, ``FROM``, ``TO``."""

    name: str
    operands: tuple[Operand, ...]


@dataclass(frozen=True)
class Clause:
    """One ``field operator operand [predicates]`` test; ``operand`` is None for ``CHANGED``."""

    field: str
    op: str
    operand: Operand | None = None
    predicates: tuple[Predicate, ...] = ()


@dataclass(frozen=True)
class And:
    """All of the sub-conditions hold."""

    items: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    """At least one of the sub-conditions holds."""

    items: tuple[Node, ...]


@dataclass(frozen=True)
class Not:
    """The sub-condition does not hold."""

    item: Node


Node = Union[Clause, And, Or, Not]  # noqa: UP007


@dataclass(frozen=True)
class SortKey:
    """One ``ORDER BY`` entry; ``direction`` is ``"ASC"``, ``"DESC"`` or None (the field's default)."""

    field: str
    direction: str | None = None


@dataclass(frozen=True)
class Query:
    """A whole JQL query: an optional condition and the ``ORDER BY`` keys."""

    where: Node | None = None
    order_by: tuple[SortKey, ...] = ()

    def __str__(self) -> str:
        """Return the query as canonical JQL text."""
        from labkit.jira.jql import render

        return render(self)
