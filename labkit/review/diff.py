"""One patch's diff as data: ``parse_diff(text) -> [FileChange]`` with paths, status, modes and line counts.

Reads git diffs (renames, copies, modes, binary patches, C-quoted names) and plain unified diffs.
Lines ending in CR LF are read as lines (the CR is not content) and the file is marked ``crlf``,
so the line-ending rule can decide how ``git am`` must treat them. A damaged hunk raises
:class:`ReviewError` naming the line of the input.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from labkit.review.errors import ReviewError

_HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")
_BINARY_FILES = re.compile(r"^Binary files (?:Binary files )?(.+) and (.+) differ$")
_C_ESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v",
              '"': '"', "\\": "\\"}


@dataclass
class FileChange:
    """One file touched by a commit: its paths, what happened to it and its line counts."""

    path: str
    old_path: str | None = None
    status: str = "modified"  # added | deleted | modified | renamed | copied
    added: int = 0
    removed: int = 0
    binary: bool = False
    old_mode: str | None = None
    new_mode: str | None = None
    similarity: int | None = None
    hunks: int = 0
    diff: str = field(default="", repr=False)
    line: int = 0  # line of the input where this file's diff starts
    crlf: bool = False  # some of its diff lines end in CR LF (the file has Windows line ends)

    @property
    def mode_change(self) -> bool:
        """Tell whether the file's mode changed (e.g. made executable)."""
        return bool(self.old_mode and self.new_mode and self.old_mode != self.new_mode)


def c_unquote(path: str) -> str:
    """Undo git's C-style quoting of a path (``"a/t\\303\\251st"`` -> ``a/tést``)."""
    if not (path.startswith('"') and path.endswith('"') and len(path) >= 2):
        return path
    s = path[1:-1]
    out = bytearray()
    i = 0
    while i < len(s):
        c = s[i]
        if c == "\\" and i + 1 < len(s):
            n = s[i + 1]
            if n in "01234567" and i + 3 < len(s) + 0 and s[i + 1:i + 4].isdigit():
                out.append(int(s[i + 1:i + 4], 8) & 0xFF)
                i += 4
                continue
            out += _C_ESCAPES.get(n, n).encode()
            i += 2
            continue
        out += c.encode("utf-8", errors="surrogateescape")
        i += 1
    return out.decode("utf-8", errors="replace")


def _strip_prefix(path: str, *, git: bool = False) -> str:
    """Return a diff path without its quoting, trailing tab part and prefix.

    A git diff loses its first path component, whatever it is (``a/``, ``b/``, or the mnemonic
    ``i/``, ``w/``, ``c/``, ``o/``), as ``git apply -p1`` does; a plain diff only ``a/`` or ``b/``.
    """
    path = c_unquote(path.split("\t", 1)[0].rstrip())
    if path == "/dev/null":
        return path
    if git:
        return path.split("/", 1)[1] if "/" in path else path
    if path.startswith(("a/", "b/")):
        return path[2:]
    return path


def _git_header_paths(rest: str) -> tuple[str, str]:
    """Split the ``a/X b/Y`` of a ``diff --git`` line (quoted or plain, names may hold spaces)."""
    if rest.startswith('"'):
        end = rest.find('" ', 1)
        while end > 0 and rest[end - 1] == "\\":
            end = rest.find('" ', end + 1)
        a, b = rest[: end + 1], rest[end + 2:]
        return _strip_prefix(a, git=True), _strip_prefix(b, git=True)
    if rest.endswith('"'):
        start = rest.rfind(' "')
        return _strip_prefix(rest[:start], git=True), _strip_prefix(rest[start + 1:], git=True)
    # the same name twice ("P/N Q/N", one-component prefixes): the usual case, names may hold spaces
    pos = rest.find(" ")
    while pos > 0:
        left, right = rest[:pos], rest[pos + 1:]
        if "/" in left and "/" in right and left.split("/", 1)[1] == right.split("/", 1)[1]:
            return left.split("/", 1)[1], right.split("/", 1)[1]
        pos = rest.find(" ", pos + 1)
    i = rest.find(" b/")
    if i > 0:
        return _strip_prefix(rest[:i], git=True), rest[i + 3:]
    a, _, b = rest.partition(" ")
    return _strip_prefix(a, git=True), _strip_prefix(b, git=True)


def parse_diff(patch: str, *, first_line: int = 1, exact_lines: bool = True) -> list[FileChange]:
    """Parse the diff part of one patch into files with line counts, modes, renames and binaries.

    ``first_line`` is the input line where ``patch`` starts (file positions and errors are
    counted from it). Raises :class:`ReviewError` with that line number when a hunk is cut
    short or garbled.
    """
    raw_lines = patch.split("\n")
    lines = [ln[:-1] if ln.endswith("\r") else ln for ln in raw_lines] if "\r" in patch else raw_lines
    files: list[FileChange] = []
    cur: FileChange | None = None
    start = 0
    i = 0
    n = len(lines)
    hunk_end = 0  # line after the current file's last hunk line (the mail signature is not part of it)

    def close(end: int) -> None:
        """Finish the file being read at line ``end``."""
        if cur is None:
            return
        if cur.hunks:
            end = min(end, hunk_end)
        else:
            for k in range(start, end):
                if lines[k] == "-- ":
                    end = k
                    break
        cur.diff = "\n".join(raw_lines[start:end]) + "\n"

    def where(idx: int) -> int:
        """Return the input line number for the diff line at ``idx``."""
        return first_line + idx if exact_lines else first_line

    def begin(c: FileChange, at: int) -> FileChange:
        """Close the file being read and start reading ``c`` at line ``at``."""
        nonlocal start
        close(at)
        files.append(c)
        start = at
        return c

    while i < n:
        line = lines[i]
        if line.startswith("diff --git "):
            a, b = _git_header_paths(line[11:])
            cur = begin(FileChange(path=b, old_path=a if a != b else None, line=where(i)), i)
            i += 1
            continue
        between_files = cur is None or cur.hunks or cur.binary
        if between_files and line.startswith("--- ") and i + 1 < n and lines[i + 1].startswith("+++ "):
            # a plain (non-git) diff starts a new file at its ---/+++ pair
            old = _strip_prefix(line[4:])
            new = _strip_prefix(lines[i + 1][4:])
            cur = begin(FileChange(path=new if new != "/dev/null" else old, line=where(i)), i)
            if old == "/dev/null":
                cur.status = "added"
            elif new == "/dev/null":
                cur.status = "deleted"
            elif old != new:
                cur.old_path = old
            i += 2
            continue
        if between_files and line.startswith("Binary files "):
            m = _BINARY_FILES.match(line)
            if m:  # a plain diff's binary file ("Binary files A and B differ")
                cur = begin(FileChange(path=_strip_prefix(m.group(2)), binary=True, line=where(i)), i)
                i += 1
                continue
        if cur is None:
            i += 1
            continue
        if line[:1] == "@":
            m = _HUNK.match(line)
            if not m:
                raise ReviewError(f"line {where(i)}: malformed hunk header {line[:60]!r}",
                                  hint="the patch is damaged: fetch it again or ask for a fresh format-patch",
                                  line=where(i))
            old_left = int(m.group(2)) if m.group(2) is not None else 1
            new_left = int(m.group(4)) if m.group(4) is not None else 1
            cur.hunks += 1
            i += 1
            added = removed = 0
            while old_left > 0 or new_left > 0:
                if i >= n:
                    raise ReviewError(f"line {where(i - 1)}: hunk of {cur.path} ends early "
                                      f"({old_left} old and {new_left} new lines missing)",
                                      hint="the patch was cut short: fetch it again", line=where(i - 1))
                h = lines[i]
                if raw_lines[i] is not h:
                    cur.crlf = True
                c = h[:1]
                if c == " " or h == "":
                    old_left -= 1
                    new_left -= 1
                elif c == "-":
                    old_left -= 1
                    removed += 1
                elif c == "+":
                    new_left -= 1
                    added += 1
                elif c != "\\":
                    raise ReviewError(f"line {where(i)}: unexpected line in hunk of {cur.path}: {h[:60]!r}",
                                      hint="the patch is damaged (wrapped or edited by a mailer): "
                                           "fetch the raw .patch again", line=where(i))
                i += 1
            if old_left < 0 or new_left < 0:
                raise ReviewError(f"line {where(i - 1)}: hunk of {cur.path} has more lines than its header says",
                                  hint="the patch was edited by hand: regenerate it", line=where(i - 1))
            cur.added += added
            cur.removed += removed
            hunk_end = i
            if i < n and lines[i].startswith("\\"):  # "\ No newline at end of file" after the last line
                hunk_end = i + 1
            continue
        if cur.hunks == 0 and not cur.binary:
            _read_extended_header(cur, line)
        i += 1
    close(n)
    for f in files:
        if f.status == "deleted" and f.old_path:
            f.path, f.old_path = f.old_path, None
        if f.status not in ("renamed", "copied") and f.old_path == f.path:
            f.old_path = None
    return files


def _read_extended_header(cur: FileChange, line: str) -> None:
    """Take one line of a git diff's extended header (modes, renames, index, binary) into ``cur``."""
    if line.startswith("new file mode "):
        cur.status, cur.new_mode = "added", line[14:].strip()
    elif line.startswith("deleted file mode "):
        cur.status, cur.old_mode = "deleted", line[18:].strip()
    elif line.startswith("old mode "):
        cur.old_mode = line[9:].strip()
    elif line.startswith("new mode "):
        cur.new_mode = line[9:].strip()
    elif line.startswith("rename from "):
        cur.status, cur.old_path = "renamed", c_unquote(line[12:])
    elif line.startswith("rename to "):
        cur.status, cur.path = "renamed", c_unquote(line[10:])
    elif line.startswith("copy from "):
        cur.status, cur.old_path = "copied", c_unquote(line[10:])
    elif line.startswith("copy to "):
        cur.status, cur.path = "copied", c_unquote(line[8:])
    elif line.startswith(("similarity index ", "dissimilarity index ")):
        try:
            cur.similarity = int(line.rsplit(" ", 1)[1].rstrip("%"))
        except ValueError:
            pass
    elif line.startswith("index "):
        parts = line.split()
        if len(parts) == 3 and cur.new_mode is None:
            cur.old_mode = cur.new_mode = parts[2]
    elif line == "GIT binary patch" or (line.startswith("Binary files ") and line.endswith(" differ")):
        cur.binary = True
    elif line.startswith("--- "):
        if _strip_prefix(line[4:], git=True) == "/dev/null":
            cur.status = "added"
    elif line.startswith("+++ "):
        new = _strip_prefix(line[4:], git=True)
        if new == "/dev/null":
            cur.status = "deleted"
            cur.path = cur.old_path or cur.path
        elif cur.status not in ("renamed", "copied"):
            cur.path = new
