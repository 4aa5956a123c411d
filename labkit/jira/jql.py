"""JQL: parse a query into a syntax tree and render a tree back to canonical text.

``parse(q)`` reads the whole JQL grammar (clauses, history operators, functions, lists,
``ORDER BY``; precedence OR < AND < NOT) and raises ``JqlSyntaxError`` with the position and
a caret line. ``render(tree)`` writes canonical text, and ``parse(render(parse(q))) == parse(q)``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from labkit.jira.errors import JqlSyntaxError
from labkit.jira.jql_ast import (
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
)

__all__ = [
    "And", "Clause", "Empty", "Function", "ListValue", "Not", "Or", "Predicate", "Query",
    "SortKey", "Value", "parse", "quote", "render", "render_operand",
]

_STOP_CHARS = set(" \t\r\n\f\v=!<>(),~\"'&|")
_SAFE_WORD = re.compile(r"[A-Za-z0-9_.\-]+(\[[0-9]+\])?\Z")
# Words that cannot be unquoted values or fields (they steer the grammar).
_GRAMMAR_WORDS = {"AND", "OR", "NOT", "ORDER", "BY", "IN", "IS", "WAS", "CHANGED", "EMPTY", "NULL"}
_PREDICATES = {"AFTER", "BEFORE", "DURING", "ON", "BY", "FROM", "TO"}
_KEYWORDS = _GRAMMAR_WORDS | _PREDICATES | {"ASC", "DESC"}
_ESCAPES = {'"': '"', "'": "'", "\\": "\\", "n": "\n", "r": "\r", "t": "\t", " ": " "}
_MAX_DEPTH = 100


@dataclass(frozen=True)
class _Tok:
    """One JQL token: kind, decoded text and position."""
    kind: str  # WORD, STRING, OP, LP, RP, COMMA, AMP, BAR, BANG, EOF
    text: str
    pos: int


def _lex(q: str) -> list[_Tok]:
    """Split JQL text into tokens, decoding quoted strings and escapes."""
    toks: list[_Tok] = []
    i, n = 0, len(q)
    while i < n:
        c = q[i]
        if c.isspace():
            i += 1
            continue
        if c in "\"'":
            start, i, out = i, i + 1, []
            while True:
                if i >= n:
                    raise JqlSyntaxError(f"Unterminated string starting with {c}", q, start,
                                         hint=f"close the string with a matching {c}")
                ch = q[i]
                if ch == c:
                    i += 1
                    break
                if ch == "\\":
                    if i + 1 >= n:
                        raise JqlSyntaxError("Backslash at the end of a string", q, i,
                                             hint="write \\\\ for a literal backslash")
                    e = q[i + 1]
                    if e in _ESCAPES:
                        out.append(_ESCAPES[e])
                        i += 2
                    elif e == "u" and re.fullmatch(r"[0-9a-fA-F]{4}", q[i + 2:i + 6] or ""):
                        out.append(chr(int(q[i + 2:i + 6], 16)))
                        i += 6
                    else:
                        raise JqlSyntaxError(f"Illegal escape sequence \\{e}", q, i,
                                             hint="escape only \\\" \\' \\\\ \\n \\r \\t \\uXXXX; "
                                                  "write \\\\ before a special character")
                    continue
                out.append(ch)
                i += 1
            toks.append(_Tok("STRING", "".join(out), start))
            continue
        two = q[i:i + 2]
        if two in ("!=", ">=", "<=", "!~"):
            toks.append(_Tok("OP", two, i))
            i += 2
            continue
        if c in "=<>~":
            toks.append(_Tok("OP", c, i))
            i += 1
            continue
        if two in ("&&", "||"):
            toks.append(_Tok("AMP" if c == "&" else "BAR", two, i))
            i += 2
            continue
        single = {"(": "LP", ")": "RP", ",": "COMMA", "&": "AMP", "|": "BAR", "!": "BANG"}
        if c in single:
            toks.append(_Tok(single[c], c, i))
            i += 1
            continue
        start, out = i, []
        while i < n and q[i] not in _STOP_CHARS:
            if q[i] == "\\":
                if i + 1 >= n:
                    raise JqlSyntaxError("Backslash at the end of the query", q, i)
                e = q[i + 1]
                if e in _ESCAPES:
                    out.append(_ESCAPES[e])
                    i += 2
                    continue
                raise JqlSyntaxError(f"Illegal escape sequence \\{e}", q, i)
            out.append(q[i])
            i += 1
        toks.append(_Tok("WORD", "".join(out), start))
    toks.append(_Tok("EOF", "", n))
    return toks


class _Parser:
    """Recursive-descent JQL parser (one instance per query)."""
    def __init__(self, q: str) -> None:
        """Tokenise the query and start at its first token."""
        self.q = q
        self.toks = _lex(q)
        self.i = 0
        self.depth = 0

    # -- helpers
    @property
    def tok(self) -> _Tok:
        """The current token."""
        return self.toks[self.i]

    def peek(self, k: int = 1) -> _Tok:
        """The token k places ahead."""
        return self.toks[min(self.i + k, len(self.toks) - 1)]

    def next(self) -> _Tok:
        """Consume and return the current token."""
        t = self.toks[self.i]
        if t.kind != "EOF":
            self.i += 1
        return t

    def is_kw(self, word: str, tok: _Tok | None = None) -> bool:
        """Whether a token is the unquoted keyword ``word``."""
        t = tok or self.tok
        return t.kind == "WORD" and t.text.upper() == word

    def fail(self, msg: str, tok: _Tok | None = None, hint: str | None = None) -> JqlSyntaxError:
        """A syntax error at a token, saying what was found."""
        t = tok or self.tok
        found = "the end of the query" if t.kind == "EOF" else repr(t.text if t.kind != "STRING" else '"' + t.text + '"')
        return JqlSyntaxError(f"{msg}, found {found}", self.q, t.pos, hint=hint)

    # -- grammar
    def query(self) -> Query:
        """query := [or_expr] [ORDER BY key (, key)*]"""
        where = None
        if self.tok.kind != "EOF" and not (self.is_kw("ORDER") and self.is_kw("BY", self.peek())):
            where = self.or_expr()
        order: list[SortKey] = []
        if self.is_kw("ORDER"):
            self.next()
            if not self.is_kw("BY"):
                raise self.fail("Expected BY after ORDER")
            self.next()
            while True:
                f = self.field_name("Expected a field to order by")
                direction = None
                if self.is_kw("ASC") or self.is_kw("DESC"):
                    direction = self.next().text.upper()
                order.append(SortKey(f, direction))
                if self.tok.kind != "COMMA":
                    break
                self.next()
        if self.tok.kind != "EOF":
            if where is None and not order:
                raise self.fail("Expected a field name")
            raise self.fail("Expected AND, OR or ORDER BY" if not order else "Expected ',' or the end of the query")
        return Query(where, tuple(order))

    def or_expr(self) -> Node:
        """or_expr := and_expr (OR and_expr)*"""
        items = [self.and_expr()]
        while self.tok.kind == "BAR" or self.is_kw("OR"):
            self.next()
            items.append(self.and_expr())
        if len(items) == 1:
            return items[0]
        flat: list[Node] = []
        for it in items:
            flat.extend(it.items if isinstance(it, Or) else (it,))
        return Or(tuple(flat))

    def and_expr(self) -> Node:
        """and_expr := not_expr (AND not_expr)*"""
        items = [self.not_expr()]
        while self.tok.kind == "AMP" or self.is_kw("AND"):
            self.next()
            items.append(self.not_expr())
        if len(items) == 1:
            return items[0]
        flat: list[Node] = []
        for it in items:
            flat.extend(it.items if isinstance(it, And) else (it,))
        return And(tuple(flat))

    def not_expr(self) -> Node:
        """not_expr := NOT not_expr | ( or_expr ) | clause"""
        self.depth += 1
        if self.depth > _MAX_DEPTH:
            raise self.fail("Query is nested too deeply")
        try:
            if self.tok.kind == "BANG" or self.is_kw("NOT"):
                self.next()
                return Not(self.not_expr())
            if self.tok.kind == "LP":
                open_tok = self.next()
                inner = self.or_expr()
                if self.tok.kind != "RP":
                    raise self.fail(f"Expected ')' to close the '(' at position {open_tok.pos}")
                self.next()
                return inner
            return self.clause()
        finally:
            self.depth -= 1

    def field_name(self, msg: str) -> str:
        """A field name: a word that is not a keyword, or a quoted string."""
        t = self.tok
        if t.kind == "STRING" or (t.kind == "WORD" and t.text.upper() not in _GRAMMAR_WORDS):
            self.next()
            return t.text
        raise self.fail(msg, hint="quote a field name that is a JQL keyword or has spaces")

    def clause(self) -> Clause:
        """clause := field operator operand [predicates]"""
        field = self.field_name("Expected a field name")
        t = self.tok
        if t.kind == "OP":
            self.next()
            return Clause(field, t.text, self.operand(allow_list=False))
        if self.is_kw("IN"):
            self.next()
            return Clause(field, "IN", self.list_operand())
        if self.is_kw("NOT"):
            self.next()
            if not self.is_kw("IN"):
                raise self.fail("Expected IN after NOT")
            self.next()
            return Clause(field, "NOT IN", self.list_operand())
        if self.is_kw("IS"):
            self.next()
            op = "IS"
            if self.is_kw("NOT"):
                self.next()
                op = "IS NOT"
            if not (self.is_kw("EMPTY") or self.is_kw("NULL")):
                raise self.fail(f"Expected EMPTY or NULL after {op}")
            self.next()
            return Clause(field, op, Empty())
        if self.is_kw("WAS"):
            self.next()
            op = "WAS"
            if self.is_kw("NOT"):
                self.next()
                op += " NOT"
            if self.is_kw("IN"):
                self.next()
                op += " IN"
                operand = self.list_operand()
            else:
                operand = self.operand(allow_list=False)
            return Clause(field, op, operand, self.predicates())
        if self.is_kw("CHANGED"):
            self.next()
            return Clause(field, "CHANGED", None, self.predicates())
        raise self.fail(f"Expected an operator after the field {field!r}",
                        hint="use one of = != > >= < <= ~ !~ IN, NOT IN, IS, IS NOT, WAS, CHANGED")

    def predicates(self) -> tuple[Predicate, ...]:
        """History predicates after WAS or CHANGED."""
        preds: list[Predicate] = []
        while self.tok.kind == "WORD" and self.tok.text.upper() in _PREDICATES:
            name = self.next().text.upper()
            if name == "DURING":
                lst = self.list_operand()
                if not isinstance(lst, ListValue) or len(lst.items) != 2:
                    raise self.fail("DURING takes two dates: DURING (start, end)")
                preds.append(Predicate(name, lst.items))
            else:
                preds.append(Predicate(name, (self.operand(allow_list=True),)))
        return tuple(preds)

    def list_operand(self) -> Operand:
        """The operand of IN: a list or a function call."""
        if self.tok.kind == "LP":
            return self.operand(allow_list=True)
        if self.tok.kind == "WORD" and self.peek().kind == "LP":
            return self.operand(allow_list=False)
        raise self.fail("Expected a list like (a, b) or a function")

    def operand(self, *, allow_list: bool) -> Operand:
        """A value, EMPTY, a function call or (if allowed) a list."""
        t = self.tok
        if t.kind == "STRING":
            self.next()
            return Value(t.text)
        if t.kind == "LP":
            if not allow_list:
                raise self.fail("A list of values is only allowed after IN, NOT IN or WAS IN")
            self.next()
            items = [self.operand(allow_list=False)]
            while self.tok.kind == "COMMA":
                self.next()
                items.append(self.operand(allow_list=False))
            if self.tok.kind != "RP":
                raise self.fail("Expected ',' or ')' in the list")
            self.next()
            return ListValue(tuple(items))
        if t.kind == "WORD":
            up = t.text.upper()
            if self.peek().kind == "LP":
                self.next()
                self.next()
                args: list[str] = []
                if self.tok.kind != "RP":
                    while True:
                        a = self.tok
                        if a.kind not in ("WORD", "STRING"):
                            raise self.fail(f"Expected an argument of {t.text}()")
                        self.next()
                        args.append(a.text)
                        if self.tok.kind != "COMMA":
                            break
                        self.next()
                if self.tok.kind != "RP":
                    raise self.fail(f"Expected ',' or ')' in the arguments of {t.text}()")
                self.next()
                return Function(t.text, tuple(args))
            if up in ("EMPTY", "NULL"):
                self.next()
                return Empty()
            if up in _GRAMMAR_WORDS:
                raise self.fail("Expected a value", hint=f'quote "{t.text}" if it is a value')
            self.next()
            return Value(t.text)
        raise self.fail("Expected a value")


def parse(query: str) -> Query:
    """Parse JQL text into a ``Query`` tree; raise ``JqlSyntaxError`` (with a caret line) if malformed."""
    if isinstance(query, Query):
        return query
    if not isinstance(query, str):
        raise TypeError(f"parse() needs the JQL as a str, not {type(query).__name__}")
    return _Parser(query).query()


# ---------------------------------------------------------------- render

def quote(text: str) -> str:
    """Return ``text`` as a JQL double-quoted string with the escapes JQL understands."""
    out = ['"']
    for ch in text:
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif ord(ch) < 32 or 0xD800 <= ord(ch) <= 0xDFFF:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _word(text: str) -> str:
    """A field name or value, unquoted when that reads back the same."""
    if _SAFE_WORD.match(text) and text.upper() not in _KEYWORDS:
        return text
    return quote(text)


def render_operand(op: Operand) -> str:
    """Render one operand (value, EMPTY, function call or list) as JQL text."""
    if isinstance(op, Value):
        return _word(op.text)
    if isinstance(op, Empty):
        return "EMPTY"
    if isinstance(op, Function):
        return f"{_func_name(op.name)}({', '.join(_word(a) for a in op.args)})"
    if isinstance(op, ListValue):
        return "(" + ", ".join(render_operand(i) for i in op.items) + ")"
    raise TypeError(f"not a JQL operand: {op!r}")


def _func_name(name: str) -> str:
    """A function name as JQL text (it must be a plain word)."""
    if _SAFE_WORD.match(name) and name.upper() not in _GRAMMAR_WORDS:
        return name
    raise ValueError(f"cannot render function name {name!r}")


def _render_clause(c: Clause) -> str:
    """Render one clause with its operand and predicates."""
    parts = [_word(c.field), c.op]
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
    """Render a ``Query`` (or a bare condition) as canonical JQL text."""
    if not isinstance(query, Query):
        query = Query(query)
    parts = []
    if query.where is not None:
        parts.append(_render_node(query.where))
    if query.order_by:
        keys = ", ".join(_word(k.field) + (f" {k.direction}" if k.direction else "") for k in query.order_by)
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
