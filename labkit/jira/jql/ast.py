"""The JQL syntax tree (immutable dataclasses that compare by value) and its rendering back to JQL text."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Union

from labkit.jira.jql.reserved import UNQUOTED_FORBIDDEN, can_be_bare, is_control, is_reserved_word


@dataclass(frozen=True)
class Value:
    """A literal operand, kept as its text, and whether it was quoted.

    Quoting matters to Jira: an unquoted number (``fixVersion = 10350``) is looked up as an id
    first, a quoted one (``fixVersion = "10350"``) only as a name. A text that cannot be written
    without quotes (a reserved word, a reserved character, a space) is always ``quoted``.
    """

    text: str
    quoted: bool = False

    def __post_init__(self) -> None:
        """Mark a value that can only be written quoted as quoted."""
        if not self.quoted and not can_be_bare(self.text):
            object.__setattr__(self, "quoted", True)


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
        return render(self)


# ---------------------------------------------------------------- render

_NAME_CHARS = "[^" + re.escape("".join(sorted(UNQUOTED_FORBIDDEN))) + "]"
# A field written bare: a name, a custom field cf[N], or an entity property name[key].path (any depth).
FIELD_PATTERN = re.compile(rf"(?:cf\[[0-9]+\]|{_NAME_CHARS}+)(?:\[{_NAME_CHARS}+\](?:\.{_NAME_CHARS}+)*)*\Z",
                           re.IGNORECASE)
_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def quote(text: str) -> str:
    """Return ``text`` as a JQL double-quoted string with the escapes JQL understands (controls as ``\\uXXXX``)."""
    out = ['"']
    for ch in text:
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif is_control(ch) or 0xD800 <= ord(ch) <= 0xDFFF:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def is_bare_field(name: str) -> bool:
    """Tell whether a field name reads back the same unquoted (``cf[10010]`` and ``issue.property[k].path`` do)."""
    if not FIELD_PATTERN.match(name) or any(is_control(ch) for ch in name):
        return False
    head = re.split(r"[\[.]", name, maxsplit=1)[0]
    return name.lower().startswith("cf[") or not is_reserved_word(head if "[" in name else name)


def render_field(name: str) -> str:
    """A field name as JQL text: bare when that reads back the same, else quoted."""
    return name if is_bare_field(name) else quote(name)


def render_word(text: str) -> str:
    """A function argument as JQL text: bare when that reads back the same, else quoted."""
    return text if can_be_bare(text) else quote(text)


def render_operand(op: Operand) -> str:
    """Render one operand (value, EMPTY, function call or list) as JQL text."""
    if isinstance(op, Value):
        return quote(op.text) if op.quoted else op.text
    if isinstance(op, Empty):
        return "EMPTY"
    if isinstance(op, Function):
        return f"{_func_name(op.name)}({', '.join(render_word(a) for a in op.args)})"
    if isinstance(op, ListValue):
        return "(" + ", ".join(render_operand(i) for i in op.items) + ")"
    raise TypeError(f"not a JQL operand: {op!r}")


def _func_name(name: str) -> str:
    """A function name as JQL text (it must be a plain word)."""
    if can_be_bare(name):
        return name
    raise ValueError(f"cannot render function name {name!r}")


def _render_clause(c: Clause) -> str:
    """Render one clause with its operand and predicates."""
    parts = [render_field(c.field), c.op]
    if c.operand is not None:
        parts.append(render_operand(c.operand))
    for p in c.predicates:
        if p.name == "DURING":
            parts.append("DURING " + render_operand(ListValue(p.operands)))
        else:
            parts.append(p.name + " " + " ".join(render_operand(o) for o in p.operands))
    return " ".join(parts)


def _render_node(n: Node, parent: str = "") -> str:
    """Render a condition, adding parentheses where precedence needs them."""
    if isinstance(n, Clause):
        return _render_clause(n)
    if isinstance(n, Not):
        inner = _render_node(n.item, "NOT")
        return "NOT " + inner
    if isinstance(n, And):
        s = " AND ".join(_render_node(i, "AND") for i in n.items)
        return f"({s})" if parent == "NOT" else s
    if isinstance(n, Or):
        s = " OR ".join(_render_node(i, "OR") for i in n.items)
        return f"({s})" if parent in ("AND", "NOT") else s
    raise TypeError(f"not a JQL node: {n!r}")


def render(query: Query | Node) -> str:
    """Render a ``Query`` (or a bare condition) as canonical JQL text that a strict parse reads back equal."""
    if not isinstance(query, Query):
        query = Query(query)
    parts = []
    if query.where is not None:
        parts.append(_render_node(query.where))
    if query.order_by:
        keys = ", ".join(render_field(k.field) + (f" {k.direction}" if k.direction else "") for k in query.order_by)
        parts.append("ORDER BY " + keys)
    return " ".join(parts)


def clauses(node: Node | Query | None):
    """Yield every ``Clause`` in a tree, depth first."""
    if isinstance(node, Query):
        node = node.where
    if node is None:
        return
    if isinstance(node, Clause):
        yield node
    elif isinstance(node, Not):
        yield from clauses(node.item)
    else:
        for i in node.items:
            yield from clauses(i)


# ---------------------------------------------------------------- NOT, as Jira means it

# Atlassian, "JQL operators": "field != value" is the same as "NOT field = value". Jira pushes a NOT
# down to the clauses (De Morgan) and flips each operator; a clause with no opposite keeps its NOT.
OPPOSITE = {"=": "!=", "!=": "=", "IN": "NOT IN", "NOT IN": "IN", "IS": "IS NOT", "IS NOT": "IS",
            "~": "!~", "!~": "~", ">": "<=", "<=": ">", "<": ">=", ">=": "<",
            "WAS": "WAS NOT", "WAS NOT": "WAS", "WAS IN": "WAS NOT IN", "WAS NOT IN": "WAS IN"}


def negated(node: Node) -> Node:
    """Return ``NOT node`` with the NOT pushed down to the clauses and their operators flipped."""
    if isinstance(node, Clause):
        flip = OPPOSITE.get(node.op)
        return Not(node) if flip is None else Clause(node.field, flip, node.operand, node.predicates)
    if isinstance(node, Not):
        return without_not(node.item)
    if isinstance(node, And):
        return _joined(Or, [negated(i) for i in node.items])
    if isinstance(node, Or):
        return _joined(And, [negated(i) for i in node.items])
    raise TypeError(f"not a JQL node: {node!r}")


def without_not(node: Node) -> Node:
    """Return the condition with every NOT pushed down to the clauses (only un-flippable clauses keep one)."""
    if isinstance(node, Clause):
        return node
    if isinstance(node, Not):
        return negated(node.item)
    if isinstance(node, And):
        return _joined(And, [without_not(i) for i in node.items])
    if isinstance(node, Or):
        return _joined(Or, [without_not(i) for i in node.items])
    raise TypeError(f"not a JQL node: {node!r}")


def _joined(cls: type[And] | type[Or], items: list[Node]) -> Node:
    """An And/Or of the items, flattening nested ones of the same kind."""
    flat: list[Node] = []
    for i in items:
        flat.extend(i.items if isinstance(i, cls) else (i,))
    return flat[0] if len(flat) == 1 else cls(tuple(flat))
