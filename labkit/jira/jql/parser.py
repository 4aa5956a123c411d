"""The JQL parser: JQL text into the syntax tree of :mod:`labkit.jira.jql.ast`.

``parse(q)`` reads the whole JQL grammar (clauses, history operators, functions, lists,
``ORDER BY``; precedence OR < AND < NOT) and raises ``JqlSyntaxError`` with the position and
a caret line. ``render(tree)`` writes canonical text, and ``parse(render(parse(q))) == parse(q)``.

``strict=True`` (the default: JQL meant for a server) refuses what Jira's own lexer refuses:
an unquoted reserved character (``{ } * / % + ^ $ # @ ? ;`` and, in values, ``[ ]``), an unquoted
reserved word (``labels = user``) and raw control characters, each with a hint to quote it.
``strict=False`` reads such JQL anyway (the values come out quoted).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from labkit.jira.errors import JqlSyntaxError
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
    is_bare_field,
    quote,
)
from labkit.jira.jql.reserved import RESERVED_CHARS, is_control, is_reserved_word

__all__ = ["parse"]

_SPACE = " \t\r\n"  # JQL's whitespace; any other control character is refused (strict) or skipped
_STOP_CHARS = set(_SPACE + "\f\v=!<>(),~\"'&|")
# Words that cannot be unquoted values or fields (they steer the grammar).
_GRAMMAR_WORDS = {"AND", "OR", "NOT", "ORDER", "BY", "IN", "IS", "WAS", "CHANGED", "EMPTY", "NULL"}
_PREDICATES = {"AFTER", "BEFORE", "DURING", "ON", "BY", "FROM", "TO"}
_VALUE_RESERVED = RESERVED_CHARS | {"[", "]"}
_ESCAPES = {'"': '"', "'": "'", "\\": "\\", "n": "\n", "r": "\r", "t": "\t", " ": " "}
_MAX_DEPTH = 100


@dataclass(frozen=True)
class _Tok:
    """One JQL token: kind, decoded text and position."""
    kind: str  # WORD, STRING, OP, LP, RP, COMMA, AMP, BAR, BANG, EOF
    text: str
    pos: int
    raw: str = ""


def _control(q: str, i: int) -> JqlSyntaxError:
    """The error for a raw control character at ``i``."""
    return JqlSyntaxError(f"The control character U+{ord(q[i]):04X} is not allowed in JQL", q, i,
                          hint=f"write it inside quotes as \\u{ord(q[i]):04x}")


def _lex(q: str, strict: bool = True) -> list[_Tok]:
    """Split JQL text into tokens, decoding quoted strings and escapes."""
    toks: list[_Tok] = []
    i, n = 0, len(q)
    while i < n:
        c = q[i]
        if c in _SPACE:
            i += 1
            continue
        if is_control(c) or c in "\f\v":
            if strict:
                raise _control(q, i)
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
                if strict and is_control(ch) and ch not in "\r\n":
                    raise _control(q, i)
                out.append(ch)
                i += 1
            toks.append(_Tok("STRING", "".join(out), start, q[start:i]))
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
                if e == "u" and re.fullmatch(r"[0-9a-fA-F]{4}", q[i + 2:i + 6] or ""):
                    out.append(chr(int(q[i + 2:i + 6], 16)))
                    i += 6
                    continue
                raise JqlSyntaxError(f"Illegal escape sequence \\{e}", q, i)
            if strict and is_control(q[i]):
                raise _control(q, i)
            out.append(q[i])
            i += 1
        toks.append(_Tok("WORD", "".join(out), start, q[start:i]))
    toks.append(_Tok("EOF", "", n))
    return toks


class _Parser:
    """Recursive-descent JQL parser (one instance per query)."""
    def __init__(self, q: str, strict: bool = True) -> None:
        """Tokenise the query and start at its first token."""
        self.q = q
        self.strict = strict
        self.toks = _lex(q, strict)
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
            if t.kind == "WORD" and self.strict and not is_bare_field(t.text):
                bad = next((k for k, ch in enumerate(t.raw) if ch in RESERVED_CHARS), None)
                if bad is not None or not is_reserved_word(t.text):
                    raise self.reserved_char(t, bad if bad is not None else t.raw.find("["), "field name")
                raise self.reserved_word(t, "field name")
            self.next()
            return t.text
        raise self.fail(msg, hint="quote a field name that is a JQL keyword or has spaces")

    def reserved_char(self, t: _Tok, at: int, what: str) -> JqlSyntaxError:
        """The error for an unquoted reserved character inside a word."""
        at = max(at, 0)
        ch = t.raw[at] if at < len(t.raw) else "?"
        return JqlSyntaxError(f"The character {ch!r} is a reserved JQL character", self.q, t.pos + at,
                              hint=f"quote the {what}: {quote(t.text)}")

    def reserved_word(self, t: _Tok, what: str) -> JqlSyntaxError:
        """The error for an unquoted reserved word."""
        return JqlSyntaxError(f"{t.text!r} is a reserved JQL word", self.q, t.pos,
                              hint=f"quote the {what}: {quote(t.text)}")

    def bare_value(self, t: _Tok, what: str = "value") -> str:
        """Check an unquoted value or argument the way Jira's lexer does (strict) and return its text."""
        if self.strict:
            bad = next((k for k, ch in enumerate(t.raw) if ch in _VALUE_RESERVED), None)
            if bad is not None:
                raise self.reserved_char(t, bad, what)
            if is_reserved_word(t.text):
                raise self.reserved_word(t, what)
        return t.text

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
            return Value(t.text, quoted=True)
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
                        args.append(a.text if a.kind == "STRING" else self.bare_value(a, "argument"))
                        self.next()
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
            text = self.bare_value(t)
            self.next()
            return Value(text)
        raise self.fail("Expected a value")


def parse(query: str, *, strict: bool = True) -> Query:
    """Parse JQL text into a ``Query`` tree; raise ``JqlSyntaxError`` (with a caret line) if malformed.

    ``strict`` (default) refuses what Jira refuses: unquoted reserved characters and words, raw
    control characters; ``strict=False`` accepts them (for JQL that is only read, never sent).
    """
    if isinstance(query, Query):
        return query
    if not isinstance(query, str):
        raise TypeError(f"parse() needs the JQL as a str, not {type(query).__name__}")
    return _Parser(query, strict).query()
