"""What JQL does not allow unquoted: Jira's reserved words and characters, and its control characters.

The facts come from Jira itself: the reserved-word set is ``JqlStringSupportImpl.RESERVED_WORDS``
(the same list Atlassian's "Advanced searching - Restricted words and characters" page prints),
and the characters an unquoted string may not contain are those of the JQL lexer's
``VALID_UNQUOTED_CHARS`` rule. A value or field made of any of them must be quoted.
"""

from __future__ import annotations

import re

RESERVED_WORDS = frozenset("""
abort access add after alias all alter and any as asc audit avg before begin between boolean break by byte
catch cf changed char character check checkpoint collate collation column commit connect continue count create
current date decimal declare decrement default defaults define delete delimiter desc difference distinct divide
do double drop else empty encoding end equals escape exclusive exec execute exists explain false fetch file field
first float for from function go goto grant greater group having identified if immediate in increment index
initial inner inout input insert int integer intersect intersection into is isempty isnull join last left less
like limit lock long max min minus mode modify modulo more multiply next noaudit not notin nowait null number
object of on option or order outer output power previous prior privileges public raise raw remainder rename
resource return returns revoke right row rowid rownum rows select session set share size sqrt start strict
string subtract sum synonym table then to trans transaction trigger true uid union unique update user validate
values view was when whenever where while with
""".split())

# Keywords of the grammar that are not in Jira's list but still cannot be a bare value here.
GRAMMAR_WORDS = frozenset({"during"})

# Characters Jira reserves without using them: unquoted, they are a syntax error ("reserved character").
RESERVED_CHARS = frozenset("{}*/%+^$#@?;")
# Every character an unquoted JQL string may not contain (the lexer's VALID_UNQUOTED_CHARS complement).
UNQUOTED_FORBIDDEN = frozenset(" \t\r\n\"'=!<>()~,[]|&\\") | RESERVED_CHARS

_CONTROL = re.compile("[\u0000-\u0009\u000b\u000c\u000e-\u001f\u007f-\u009f\ufdd0-\ufdef\ufffe\uffff]")
NUMBER = re.compile(r"-?[0-9]+\Z")


def is_reserved_word(word: str) -> bool:
    """Tell whether a word must be quoted to be a value or a field name (case-insensitive)."""
    low = word.lower()
    return low in RESERVED_WORDS or low in GRAMMAR_WORDS


def is_control(ch: str) -> bool:
    """Tell whether a character is a JQL control character (written as ``\\uXXXX`` inside quotes)."""
    return bool(_CONTROL.match(ch))


def can_be_bare(text: str) -> bool:
    """Tell whether a value reads back the same without quotes: no reserved word, character or control."""
    return (bool(text) and not is_reserved_word(text)
            and not any(ch in UNQUOTED_FORBIDDEN or is_control(ch) for ch in text))


def looks_numeric(text: str) -> bool:
    """Tell whether a value is a JQL number (``123``, ``-5``): unquoted, Jira reads it as an id first."""
    return bool(NUMBER.match(text))
