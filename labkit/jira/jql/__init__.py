"""JQL, the language: the syntax tree and its rendering, the parser, a builder, lint and the text-search language.

    from labkit.jira.jql import parse, render
    q = parse('project = DEMO AND text ~ "\\"disk space\\"" ORDER BY Rank')
    render(q)                                   # canonical JQL text

Modules: ``ast`` (tree + render, and NOT as Jira means it), ``parser`` (strict by default),
``reserved`` (Jira's reserved words and characters), ``edit`` (ORDER BY present? add a clause,
change the order: on the tree), ``build`` (Python builder), ``lint`` (traps), ``text`` (the value
language of ``~``) and ``stem`` (the Porter stemmer it compares words with).
"""

from __future__ import annotations

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
    clauses,
    quote,
    render,
    render_operand,
)
from labkit.jira.jql.parser import parse

__all__ = [
    "And", "Clause", "Empty", "Function", "ListValue", "Node", "Not", "Operand", "Or", "Predicate", "Query",
    "SortKey", "Value", "clauses", "parse", "quote", "render", "render_operand",
]
