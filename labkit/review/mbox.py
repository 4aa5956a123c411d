"""A patch series as data: ``parse_mbox(data) -> PatchSeries`` of commits with their files and diffs.

    from labkit.review import parse_mbox
    series = parse_mbox(open("pr.patch", "rb").read())
    series.to_frame()          # one row per commit: author, subject, files, +/-, binary, renames
    series.commits[0].files    # FileChange rows: path, status, added, removed, binary, modes

Works on ``git format-patch`` output, GitHub ``.patch`` files and mailing-list mboxes (a cover
letter ``[PATCH 0/N]`` and replies without a patch are kept apart). Malformed input raises
:class:`ReviewError` naming the line.
"""

from __future__ import annotations

import email.utils
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from labkit.review.errors import ReviewError
from labkit.review.mailinfo import MailInfo, RawMessage, read_mail, split_mbox

_HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")
_PATCH_TAG = re.compile(r"\[[^\]]*?PATCH[^\]]*\]", re.I)
_TAG_NUM = re.compile(r"(\d+)/(\d+)")
_TAG_VERSION = re.compile(r"\bv(\d+)\b", re.I)
_BINARY_FILES = re.compile(r"^Binary files (?:Binary files )?(.+) and (.+) differ$")
_TRAILER = re.compile(r"^([A-Za-z0-9][A-Za-z0-9-]*)\s*:\s*(.*)$")
_KNOWN_TRAILERS = ("signed-off-by", "acked-by", "reviewed-by", "tested-by", "co-authored-by",
                   "reported-by", "suggested-by", "cc", "fixes", "change-id", "link")
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

    @property
    def mode_change(self) -> bool:
        """Tell whether the file's mode changed (e.g. made executable)."""
        return bool(self.old_mode and self.new_mode and self.old_mode != self.new_mode)


@dataclass
class Commit:
    """One patch of a series: author, date, message and files (what ``git am`` would commit)."""

    index: int
    author: str
    email: str
    date: str
    subject: str
    message: str = field(repr=False)  # the commit message body as git mailinfo writes it
    files: list[FileChange] = field(default_factory=list, repr=False)
    patch: str = field(default="", repr=False)
    trailers: list[tuple[str, str]] = field(default_factory=list, repr=False)
    number: int | None = None  # n of [PATCH n/m]
    total: int | None = None  # m of [PATCH n/m]
    version: int | None = None  # v of [PATCH vN]
    message_id: str = ""
    raw: bytes = field(default=b"", repr=False)  # the mail itself, fed to git am
    line: int = 0  # line of the input where this message starts
    raw_subject: str = field(default="", repr=False)

    @property
    def body(self) -> str:
        """The message body cleaned as git commits it (trailing blanks and extra blank lines gone)."""
        return stripspace(self.message)

    @property
    def full_message(self) -> str:
        """Subject, blank line and body: the whole commit message."""
        body = self.body
        return f"{self.subject}\n\n{body}" if body else f"{self.subject}\n"

    @property
    def when(self) -> datetime | None:
        """The author date as a datetime (None when the mail's Date header is not a date)."""
        try:
            return email.utils.parsedate_to_datetime(self.date) if self.date else None
        except (TypeError, ValueError, IndexError):
            return None

    @property
    def added(self) -> int:
        """Lines added over all files."""
        return sum(f.added for f in self.files)

    @property
    def removed(self) -> int:
        """Lines removed over all files."""
        return sum(f.removed for f in self.files)

    @property
    def binary_files(self) -> list[str]:
        """Paths of the binary files this commit touches."""
        return [f.path for f in self.files if f.binary]

    @property
    def renames(self) -> list[tuple[str, str]]:
        """(old, new) path pairs renamed by this commit."""
        return [(f.old_path or "", f.path) for f in self.files if f.status == "renamed"]

    def row(self) -> dict[str, Any]:
        """Return this commit as one table row."""
        return {"n": self.index, "author": self.author, "email": self.email, "date": self.date,
                "subject": self.subject, "files": len(self.files), "added": self.added,
                "removed": self.removed, "binary": len(self.binary_files), "renames": len(self.renames),
                "trailers": len(self.trailers)}


@dataclass
class PatchSeries:
    """A parsed patch series: the commits in order, plus the cover letter and mails without a patch."""

    commits: list[Commit] = field(default_factory=list)
    cover: MailInfo | None = None
    others: list[MailInfo] = field(default_factory=list, repr=False)
    source: str = ""

    def __len__(self) -> int:
        """Return how many commits the series holds."""
        return len(self.commits)

    def __iter__(self):
        """Iterate over the commits in order."""
        return iter(self.commits)

    def __getitem__(self, i: int) -> Commit:
        """Return commit ``i`` of the series."""
        return self.commits[i]

    @property
    def authors(self) -> list[str]:
        """Distinct authors as ``Name <email>``, in order of first appearance."""
        seen: dict[str, None] = {}
        for c in self.commits:
            seen.setdefault(f"{c.author} <{c.email}>", None)
        return list(seen)

    def rows(self) -> list[dict[str, Any]]:
        """One dict per commit (for ``labkit.tables.format_rows``)."""
        return [c.row() for c in self.commits]

    def file_rows(self) -> list[dict[str, Any]]:
        """One dict per (commit, file)."""
        return [{"n": c.index, "path": f.path, "old_path": f.old_path, "status": f.status, "added": f.added,
                 "removed": f.removed, "binary": f.binary, "old_mode": f.old_mode, "new_mode": f.new_mode}
                for c in self.commits for f in c.files]

    def to_frame(self):  # -> pandas.DataFrame
        """The series as a DataFrame, one row per commit."""
        from labkit.tables import to_frame

        return to_frame(self.rows(), columns=["n", "author", "email", "date", "subject", "files", "added",
                                              "removed", "binary", "renames", "trailers"])

    def to_mbox(self) -> bytes:
        """The commits' mails again as one mbox (what ``git am`` reads)."""
        return b"".join(c.raw if c.raw.endswith(b"\n") else c.raw + b"\n" for c in self.commits)


def stripspace(text: str) -> str:
    """Trim trailing blanks, squash runs of blank lines and drop leading/trailing ones (git stripspace)."""
    out: list[str] = []
    blank = 0
    for line in text.split("\n"):
        line = line.rstrip()
        if not line:
            blank += 1
            continue
        if out and blank:
            out.append("")
        blank = 0
        out.append(line)
    return "\n".join(out) + ("\n" if out else "")


def parse_trailers(message: str) -> list[tuple[str, str]]:
    """Return the ``Key: value`` trailers of the message's last paragraph (git's 25 % rule)."""
    body = stripspace(message).rstrip("\n")
    if not body:
        return []
    last = body.split("\n\n")[-1].split("\n")
    found: list[tuple[str, str]] = []
    non = 0
    known = False
    for line in last:
        if line[:1] in (" ", "\t") and found:
            found[-1] = (found[-1][0], found[-1][1] + " " + line.strip())
            continue
        m = _TRAILER.match(line)
        if m and " " not in m.group(1):
            found.append((m.group(1), m.group(2).strip()))
            known = known or m.group(1).lower() in _KNOWN_TRAILERS
        else:
            non += 1
    if not found:
        return []
    if non == 0 or (known and len(found) * 3 >= non):
        return found
    return []


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


def _strip_prefix(path: str) -> str:
    """Return a diff path without its quoting, trailing tab part and a/ or b/ prefix."""
    path = c_unquote(path.split("\t", 1)[0].rstrip())
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
        return _strip_prefix(a), _strip_prefix(b)
    if rest.endswith('"'):
        start = rest.rfind(' "')
        return _strip_prefix(rest[:start]), _strip_prefix(rest[start + 1:])
    n = len(rest)
    if n % 2 == 1 and rest.startswith("a/"):  # same name twice: "a/N b/N"
        half = (n - 1) // 2
        if rest[half] == " " and rest[2:half] == rest[half + 3:]:
            return rest[2:half], rest[half + 3:]
    i = rest.find(" b/")
    if i > 0:
        return _strip_prefix(rest[:i]), rest[i + 3:]
    a, _, b = rest.partition(" ")
    return _strip_prefix(a), _strip_prefix(b)


def parse_diff(patch: str, *, first_line: int = 1, exact_lines: bool = True) -> list[FileChange]:
    """Parse the diff part of one patch into files with line counts, modes, renames and binaries.

    Raises :class:`ReviewError` with the input line number when a hunk is cut short or garbled.
    """
    lines = patch.split("\n")
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
        cur.diff = "\n".join(lines[start:end]) + "\n"

    def where(idx: int) -> int:
        """Return the input line number for the diff line at ``idx``."""
        return first_line + idx if exact_lines else first_line

    while i < n:
        line = lines[i]
        if line.startswith("diff --git "):
            close(i)
            a, b = _git_header_paths(line[11:])
            cur = FileChange(path=b, old_path=a if a != b else None, line=where(i))
            files.append(cur)
            start = i
            i += 1
            continue
        if line.startswith("--- ") and i + 1 < n and lines[i + 1].startswith("+++ ") and (
                cur is None or cur.hunks or cur.binary):
            # a plain (non-git) diff starts a new file at its ---/+++ pair
            if True:
                close(i)
                old = _strip_prefix(line[4:])
                new = _strip_prefix(lines[i + 1][4:])
                cur = FileChange(path=new if new != "/dev/null" else old, line=where(i))
                if old == "/dev/null":
                    cur.status = "added"
                elif new == "/dev/null":
                    cur.status = "deleted"
                elif old != new:
                    cur.old_path = old
                files.append(cur)
                start = i
                i += 2
                continue
        if line.startswith("Binary files ") and (cur is None or cur.hunks or cur.binary):
            m = _BINARY_FILES.match(line)
            if m:  # a plain diff's binary file ("Binary files A and B differ")
                close(i)
                cur = FileChange(path=_strip_prefix(m.group(2)), binary=True, line=where(i))
                files.append(cur)
                start = i
                i += 1
                continue
        if cur is None:
            i += 1
            continue
        c0 = line[:1]
        if c0 == "@":
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
                c = h[:1]
                if c == " " or h == "" or h == "\r":
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
                old = _strip_prefix(line[4:])
                if old == "/dev/null":
                    cur.status = "added"
            elif line.startswith("+++ "):
                new = _strip_prefix(line[4:])
                if new == "/dev/null":
                    cur.status = "deleted"
                    cur.path = cur.old_path or cur.path
                elif cur.status not in ("renamed", "copied"):
                    cur.path = new
        i += 1
    close(n)
    for f in files:
        if f.status == "deleted" and f.old_path:
            f.path, f.old_path = f.old_path, None
        if f.status not in ("renamed", "copied") and f.old_path == f.path:
            f.old_path = None
        if f.status == "modified" and f.old_mode == f.new_mode:
            f.old_mode = f.new_mode = f.new_mode
    return files


def _commit_from(info: MailInfo, raw: RawMessage, index: int) -> Commit:
    """Build a Commit from a parsed message and its raw text."""
    number = total = version = None
    tag = _PATCH_TAG.search(info.raw_subject or "")
    if tag:
        m = _TAG_NUM.search(tag.group(0))
        if m:
            number, total = int(m.group(1)), int(m.group(2))
        v = _TAG_VERSION.search(tag.group(0))
        if v:
            version = int(v.group(1))
    first = raw.line + info.patch_line - 1 if info.patch_line else raw.line
    files = parse_diff(info.patch, first_line=first, exact_lines=info.exact_lines)
    return Commit(index=index, author=info.author, email=info.email, date=info.date, subject=info.subject,
                  message=info.msg, files=files, patch=info.patch, trailers=parse_trailers(info.msg),
                  number=number, total=total, version=version, message_id=info.message_id, raw=raw.data,
                  line=raw.line, raw_subject=info.raw_subject)


def parse_mbox(data: bytes | str, *, source: str = "", mboxrd: bool = False) -> PatchSeries:
    """Parse an mbox (format-patch output, a GitHub ``.patch``, a mailing-list archive) into a series.

    Messages with a diff become commits; a ``[PATCH 0/N]`` mail is the cover letter; other mails
    (replies, notes) are kept in ``others``. Raises :class:`ReviewError` (with the line number) for
    input that holds no patch or a damaged one.
    """
    if isinstance(data, str):
        data = data.encode("utf-8", errors="surrogateescape")
    if not data.strip():
        raise ReviewError("the input is empty: no patch to read",
                          hint="pass the text of a .patch file or an mbox", line=1)
    series = PatchSeries(source=source)
    for raw in split_mbox(data, mboxrd=mboxrd):
        info = read_mail(raw.data, start_line=raw.line)
        if info.patch and ("\ndiff " in "\n" + info.patch or "\n--- " in "\n" + info.patch
                           or "\nIndex: " in "\n" + info.patch):
            series.commits.append(_commit_from(info, raw, len(series.commits) + 1))
        elif series.cover is None and not series.commits and re.search(
                r"\[[^\]]*PATCH[^\]]*\b0+/\d+", info.raw_subject or "", re.I):
            series.cover = info
        else:
            series.others.append(info)
    if not series.commits:
        first = split_mbox(data)[0].line if data.strip() else 1
        raise ReviewError(f"line {first}: no patch found in {source or 'the input'}",
                          hint="expected git format-patch output (From <sha> ..., headers, ---, diff --git)",
                          line=first)
    for c in series.commits:
        if not c.email:
            raise ReviewError(f"line {c.line}: the mail of patch {c.index} has no author (From: header)",
                              hint="git am needs an author: use git format-patch output", line=c.line)
    return series
