"""A patch series as data: :class:`PatchSeries` of :class:`Commit` (what ``git am`` would commit), and message rules.

The commit-message rules live here and nowhere else: git's ``stripspace``, its trailer block
(``parse_trailers``), adding trailers to a message (``add_trailers``) and the issue-ID subject
(``Commit.amended_message``).
"""

from __future__ import annotations

import email.utils
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from labkit.review.diff import FileChange
from labkit.review.mailinfo import MailInfo

_TRAILER = re.compile(r"^([A-Za-z0-9][A-Za-z0-9-]*)\s*:\s*(.*)$")
_KNOWN_TRAILERS = ("signed-off-by", "acked-by", "reviewed-by", "tested-by", "co-authored-by",
                   "reported-by", "suggested-by", "cc", "fixes", "change-id", "link")


@dataclass
class MailProblem:
    """A mail of a thread that could not be read as a patch: where it starts and why."""

    line: int
    reason: str
    subject: str = ""
    number: int | None = None  # n of its [PATCH n/m], when the subject says
    version: int = 1
    hint: str = field(default="", repr=False)  # what to do about it


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
    in_reply_to: str = ""
    references: list[str] = field(default_factory=list, repr=False)
    extra_trailers: list[tuple[str, str]] = field(default_factory=list, repr=False)  # from replies, Link:
    cr_encoded: bool = False  # its CR LF line ends sit inside a base64/quoted-printable body

    @property
    def body(self) -> str:
        """The message body cleaned as git commits it (trailing blanks and extra blank lines gone)."""
        return stripspace(self.message)

    @property
    def full_message(self) -> str:
        """Subject, blank line and body: the whole commit message."""
        body = self.body
        return f"{self.subject}\n\n{body}" if body else f"{self.subject}\n"

    def amended_message(self, issue: str | None = None, *, trailers: bool = True) -> str:
        """The message ``git am`` commits, with ``ISSUE: `` before the subject and the collected trailers added."""
        subject = f"{issue}: {self.subject}" if issue else self.subject
        body = self.body
        message = f"{subject}\n\n{body}" if body else f"{subject}\n"
        return add_trailers(message, self.extra_trailers) if trailers else message

    @property
    def label(self) -> str:
        """How the mail names this patch: ``v2 3/5`` (version and counter when the subject has them)."""
        parts = [f"v{self.version}"] if self.version and self.version > 1 else []
        if self.number is not None and self.total:
            parts.append(f"{self.number}/{self.total}")
        return " ".join(parts) or f"#{self.index}"

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

    @property
    def crlf_files(self) -> list[str]:
        """Paths whose diff lines end in CR LF (Windows line ends in the file or the mail)."""
        return [f.path for f in self.files if f.crlf]

    @property
    def paths(self) -> list[str]:
        """Every path the commit reads or writes (old and new names of renames and copies)."""
        out: dict[str, None] = {}
        for f in self.files:
            if f.old_path:
                out.setdefault(f.old_path, None)
            out.setdefault(f.path, None)
        return list(out)

    def row(self) -> dict[str, Any]:
        """Return this commit as one table row."""
        return {"n": self.index, "patch": self.label, "author": self.author, "email": self.email,
                "date": self.date, "subject": self.subject, "files": len(self.files), "added": self.added,
                "removed": self.removed, "binary": len(self.binary_files), "renames": len(self.renames),
                "trailers": len(self.trailers) + len(self.extra_trailers)}


@dataclass
class PatchSeries:
    """A parsed patch series: the commits in order, the cover letter, other mails and what could not be read."""

    commits: list[Commit] = field(default_factory=list)
    cover: MailInfo | None = None
    others: list[MailInfo] = field(default_factory=list, repr=False)
    source: str = ""
    problems: list[MailProblem] = field(default_factory=list)  # unreadable mails (line, reason)
    notes: list[str] = field(default_factory=list)  # what the thread reader decided and why
    missing: list[int] = field(default_factory=list)  # numbers n of [PATCH n/m] with no readable patch
    version: int | None = None  # the revision (vN) the commits come from, when the subjects say

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
    def complete(self) -> bool:
        """Tell whether every patch n/m of the series is here and readable."""
        return not self.missing

    @property
    def authors(self) -> list[str]:
        """Distinct authors as ``Name <email>``, in order of first appearance."""
        seen: dict[str, None] = {}
        for c in self.commits:
            seen.setdefault(f"{c.author} <{c.email}>", None)
        return list(seen)

    @property
    def paths(self) -> list[str]:
        """Every path the series reads or writes, in order of first appearance."""
        out: dict[str, None] = {}
        for c in self.commits:
            for p in c.paths:
                out.setdefault(p, None)
        return list(out)

    def rows(self) -> list[dict[str, Any]]:
        """One dict per commit (for ``labkit.tables.format_rows``)."""
        return [c.row() for c in self.commits]

    def problem_rows(self) -> list[dict[str, Any]]:
        """One dict per unreadable mail and per missing patch (empty for a whole series)."""
        rows = [{"line": p.line, "patch": p.number, "subject": p.subject, "problem": p.reason}
                for p in self.problems]
        known = {p.number for p in self.problems}
        rows += [{"line": None, "patch": n, "subject": "", "problem": "missing from the thread"}
                 for n in self.missing if n not in known]
        return rows

    def file_rows(self) -> list[dict[str, Any]]:
        """One dict per (commit, file)."""
        return [{"n": c.index, "path": f.path, "old_path": f.old_path, "status": f.status, "added": f.added,
                 "removed": f.removed, "binary": f.binary, "old_mode": f.old_mode, "new_mode": f.new_mode,
                 "crlf": f.crlf, "line": f.line}
                for c in self.commits for f in c.files]

    def to_frame(self):  # -> pandas.DataFrame
        """The series as a DataFrame, one row per commit."""
        from labkit.tables import to_frame

        return to_frame(self.rows(), columns=["n", "patch", "author", "email", "date", "subject", "files",
                                              "added", "removed", "binary", "renames", "trailers"])

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
    block = _trailer_block(stripspace(message).rstrip("\n"), with_subject=False)
    return block[1] if block else []


def _trailer_block(text: str, *, with_subject: bool) -> tuple[int, list[tuple[str, str]]] | None:
    """Find the trailer block of a cleaned body or whole message: (its first line, trailers), or None."""
    if not text:
        return None
    lines = text.split("\n")
    start = len(lines)
    while start > 0 and lines[start - 1] != "":
        start -= 1
    if start == 0 and with_subject:  # one paragraph only: the subject, never a trailer block
        return None
    found: list[tuple[str, str]] = []
    non = 0
    known = False
    for line in lines[start:]:
        if line[:1] in (" ", "\t") and found:
            found[-1] = (found[-1][0], found[-1][1] + " " + line.strip())
            continue
        m = _TRAILER.match(line)
        if m and " " not in m.group(1):
            found.append((m.group(1), m.group(2).strip()))
            known = known or m.group(1).lower() in _KNOWN_TRAILERS
        else:
            non += 1
    if found and (non == 0 or (known and len(found) * 3 >= non)):
        return start, found
    return None


def add_trailers(message: str, trailers: list[tuple[str, str]]) -> str:
    """Return ``message`` with each trailer not already there appended to its trailer block (or a new one)."""
    body = stripspace(message).rstrip("\n")
    block = _trailer_block(body, with_subject=True)
    have = {(k.lower(), v.strip().lower()) for k, v in (block[1] if block else [])}
    new = []
    for key, value in trailers:
        value = " ".join(value.split())
        if (key.lower(), value.lower()) not in have:
            have.add((key.lower(), value.lower()))
            new.append(f"{key}: {value}")
    if not new:
        return body + "\n"
    return body + ("\n" if block else "\n\n") + "\n".join(new) + "\n"
