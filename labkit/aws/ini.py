"""A line-based INI merge: replace labkit's own sections, keep every other byte of the file.

configparser drops comments and ``aws configure set`` can damage nested sections, so labkit
never rewrites a whole file. It finds sections by their header lines, marks the ones it owns
with a comment line right above the header::

    # managed by labkit (profile partner01): `labkit aws write` replaces this section
    [profile partner01]

and swaps only those blocks. A block ends at its last key or value line; comments and blank
lines after it belong to whatever follows and are kept.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass

MARKER_RE = re.compile(r"^[#;]\s*managed by labkit\b(?:\s*\(profile\s+(?P<owner>[^)\s]+)\))?", re.IGNORECASE)
HEADER_RE = re.compile(r"^\[(?P<header>.+)\]")
COMMENT_PREFIXES = ("#", ";")

SectionKey = tuple[str, str]  # ("profile", name) | ("services", name) | ("sso-session", name) | ("other", header)


def marker(owner: str) -> str:
    """Return the comment line that marks a section as labkit's, owned by one profile."""
    return f"# managed by labkit (profile {owner}): `labkit aws write` replaces this section"


def config_key(header: str) -> SectionKey:
    """Return what a config-file section header means to botocore (profile, services, sso-session or other)."""
    header = header.strip()
    if header == "default":
        return ("profile", "default")
    for kind in ("profile", "services", "sso-session"):
        if header.startswith(kind):
            try:
                parts = shlex.split(header)
            except ValueError:
                return ("other", header)
            if len(parts) == 2 and parts[0] == kind:
                return (kind, parts[1])
            return ("other", header)
    return ("other", header)


def credentials_key(header: str) -> SectionKey:
    """Return what a credentials-file section header means: its text is the profile name."""
    return ("profile", header.strip())


def config_header(key: SectionKey) -> str:
    """Return the header line text (without brackets) for a config-file section key."""
    kind, name = key
    if kind == "profile":
        return "default" if name == "default" else f"profile {name}"
    if kind in ("services", "sso-session"):
        return f"{kind} {name}"
    return name


@dataclass
class Section:
    """One section of an INI file: where its block starts and ends (line indexes) and who owns it."""

    header: str
    key: SectionKey
    start: int  # first line of the block: the marker line when labkit owns it, else the header
    header_line: int
    end: int  # one past the last key/value line
    owner: str | None  # profile name from labkit's marker, "" for a marker without one, None if not labkit's

    @property
    def managed(self) -> bool:
        """Tell whether labkit's marker sits right above this section's header."""
        return self.owner is not None


def _is_trivia(line: str) -> bool:
    """Tell whether a line is blank or a full-line comment."""
    s = line.strip()
    return not s or s.startswith(COMMENT_PREFIXES)


def parse_sections(lines: list[str], keyfunc: Callable[[str], SectionKey] = config_key) -> list[Section]:
    """Find every section header in the lines (as configparser would) and the extent of its block."""
    headers: list[tuple[int, str]] = []
    in_value = False
    value_indent = 0
    for i, line in enumerate(lines):
        stripped = line.strip()
        if not stripped or stripped.startswith(COMMENT_PREFIXES):
            continue
        indent = len(line) - len(line.lstrip())
        if in_value and indent > value_indent:
            continue  # a continuation line of the value above, even if it looks like a header
        m = HEADER_RE.match(stripped)
        if m:
            headers.append((i, m.group("header")))
            in_value = False
            continue
        in_value, value_indent = True, indent
    sections = []
    for n, (h, header) in enumerate(headers):
        nxt = headers[n + 1][0] if n + 1 < len(headers) else len(lines)
        end = nxt
        while end > h + 1 and _is_trivia(lines[end - 1]):
            end -= 1
        owner = None
        start = h
        if h > 0:
            m = MARKER_RE.match(lines[h - 1].strip())
            if m:
                owner, start = m.group("owner") or "", h - 1
        sections.append(Section(header, keyfunc(header), start, h, end, owner))
    return sections


@dataclass
class Conflict:
    """A section labkit wants to write that already exists and is not this profile's own."""

    key: SectionKey
    header: str
    owner: str | None  # another labkit profile, or None for a section the user wrote


def merge(text: str, owner: str, blocks: dict[SectionKey, list[str]], *,
          keyfunc: Callable[[str], SectionKey] = config_key,
          force: bool = False) -> tuple[str, list[Conflict]]:
    """Return ``text`` with ``owner``'s sections replaced by ``blocks`` (key -> body lines), and conflicts.

    Sections marked as ``owner``'s that are not in ``blocks`` are removed; sections with a key in
    ``blocks`` that are not ``owner``'s are conflicts, replaced only with ``force``. New sections
    go at the end, each after a blank line of its own. Every other line is kept byte for byte, so
    removing a profile's blocks gives back the text from before it was written. Nothing is changed
    when there are conflicts and no ``force`` (the text comes back as it was).
    """
    nl = "\r\n" if "\r\n" in text.split("\n", 1)[0] + "\n" else "\n"
    lines = text.splitlines(keepends=True)
    sections = parse_sections(lines, keyfunc)
    conflicts = [Conflict(s.key, s.header, s.owner or None) for s in sections
                 if s.key in blocks and s.owner != owner]
    if conflicts and not force:
        return text, conflicts
    # which existing block becomes which new block, and which are dropped
    replace_at: dict[int, SectionKey] = {}
    drop: set[int] = set()
    placed: set[SectionKey] = set()
    for idx, s in enumerate(sections):
        ours = s.owner == owner
        if s.key in blocks and (ours or force):
            if s.key in placed:
                drop.add(idx)
            else:
                replace_at[idx] = s.key
                placed.add(s.key)
        elif ours:
            drop.add(idx)

    def render(key: SectionKey) -> list[str]:
        """Return the marker, header and body lines of one new block."""
        return [marker(owner) + nl, f"[{blocks[key][0]}]" + nl] + [b + nl for b in blocks[key][1:]]

    out: list[str] = []
    pos = 0
    for idx, s in enumerate(sections):
        if idx not in replace_at and idx not in drop:
            continue
        out.extend(lines[pos:s.start])
        pos = s.end
        if idx in replace_at:
            out.extend(render(replace_at[idx]))
        elif pos < len(lines) and not lines[pos].strip() and (not out or not out[-1].strip()):
            pos += 1  # a dropped block takes one blank separator line with it
        elif pos >= len(lines) and out and not out[-1].strip():
            out.pop()  # a dropped block at the end takes the blank line labkit put before it
    out.extend(lines[pos:])
    new = [k for k in blocks if k not in placed]
    if new:
        if out and not out[-1].endswith(("\n", "\r")):
            out[-1] += nl
        for key in new:
            if out:
                out.append(nl)  # always one blank line of labkit's own, so that removing the block gives it back
            out.extend(render(key))
    return "".join(out), []
