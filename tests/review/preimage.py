"""Test oracle: rebuild a base tree a series applies to, from the series alone (shares no code with labkit).

The real series in shared/data/patches come without their repository. Each hunk says which lines
its file has at a given position (context and removed lines), so replaying the series on files
made of "slots" pins every line some patch reads; the unpinned slots become filler lines. A hunk
without trailing context must end the file (git apply's rule), which fixes a file's length. The
result is a set of files that the whole series applies to with plain ``git am`` wherever the
patches are text (a binary delta or a binary modification needs the real blob and cannot be
rebuilt: such a series then fails the same way in check and apply, which is what the test wants).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

FROM_LINE = re.compile(rb"^From [0-9a-f]{40} ", re.M)
HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")


class Slot:
    """One line of a file in the base, known (text) or not yet."""

    __slots__ = ("text", "absent", "nonl")

    def __init__(self) -> None:
        self.text: str | None = None
        self.absent = False
        self.nonl = False


@dataclass
class Base:
    """The rebuilt base: files (path -> bytes) and modes, and why some could not be rebuilt."""

    files: dict[str, bytes] = field(default_factory=dict)
    modes: dict[str, str] = field(default_factory=dict)
    unsure: list[str] = field(default_factory=list)


def _mails(data: bytes) -> list[str]:
    """Split a format-patch mbox on its ``From <sha>`` lines; return each mail's text."""
    starts = [m.start() for m in FROM_LINE.finditer(data)] or [0]
    return [data[a:b].decode("utf-8", "surrogateescape")
            for a, b in zip(starts, [*starts[1:], len(data)], strict=True)]


def _file_sections(mail: str) -> list[list[str]]:
    """The ``diff --git`` sections of one mail, as lists of lines (the signature cut off)."""
    lines = mail.split("\n")
    out: list[list[str]] = []
    cur: list[str] | None = None
    for line in lines:
        if line.startswith("diff --git "):
            cur = [line]
            out.append(cur)
        elif cur is not None:
            if line == "-- ":
                cur = None
                continue
            cur.append(line)
    return out


def _strip1(path: str) -> str:
    return path.split("/", 1)[1] if "/" in path else path


class FileState:
    """A file while the series is replayed: its slots now, the base slots it grew from, whether its end is known."""

    def __init__(self, slots: list[Slot], base: list[Slot] | None, ended: bool) -> None:
        self.slots, self.base, self.ended = slots, base, ended

    def reach(self, n: int) -> None:
        """Make sure the file has at least ``n`` slots: unknown base lines at its (unknown) end."""
        while len(self.slots) < n and not self.ended and self.base is not None:
            s = Slot()
            self.slots.append(s)
            self.base.append(s)


def rebuild(data: bytes) -> Base:
    """Replay a format-patch series on slot files and return the base it needs."""
    base: dict[str, list[Slot]] = {}
    ends: dict[str, bool] = {}
    modes: dict[str, str] = {}
    current: dict[str, FileState] = {}
    unsure: list[str] = []

    def existing(path: str) -> FileState:
        if path not in current:
            base[path] = []
            current[path] = FileState([], base[path], False)
        return current[path]

    for mail in _mails(data):
        for sec in _file_sections(mail):
            head = sec[0][len("diff --git "):]
            old = new = None
            status = "modified"
            i = 1
            while i < len(sec) and not sec[i].startswith("@@"):
                line = sec[i]
                if line.startswith("new file mode"):
                    status = "added"
                elif line.startswith("deleted file mode"):
                    status = "deleted"
                    modes.setdefault(old or "", line.split()[-1])
                elif line.startswith("rename from "):
                    old, status = line[12:], "renamed"
                elif line.startswith("rename to "):
                    new = line[10:]
                elif line.startswith("copy from "):
                    old, status = line[10:], "copied"
                elif line.startswith("copy to "):
                    new = line[8:]
                elif line.startswith("old mode "):
                    modes.setdefault("__old__", line.split()[-1])
                elif line.startswith("--- ") and line[4:] != "/dev/null":
                    old = old or _strip1(line[4:].split("\t")[0])
                elif line.startswith("+++ ") and line[4:] != "/dev/null":
                    new = new or _strip1(line[4:].split("\t")[0])
                elif line.startswith(("GIT binary patch", "Binary files")):
                    unsure.append(f"binary change of {head}")
                i += 1
            if old is None and new is None:  # no ---/+++ (mode change, pure rename): names from the header
                half = head.split(" ")
                old = new = _strip1(half[0])
            old = old or new
            new = new or old
            mode = modes.pop("__old__", None)
            if status == "added":
                state = FileState([], None, True)
            else:
                state = existing(old)
                if mode and old in base and old not in modes:
                    modes[old] = mode
            if status == "copied":
                state = FileState(list(state.slots), state.base, state.ended)
            slots = state.slots
            delta = 0
            while i < len(sec):
                m = HUNK.match(sec[i])
                if not m:
                    i += 1
                    continue
                ostart, olen = int(m.group(1)), int(m.group(2) or 1)
                pos = (ostart - 1 if olen else ostart) + delta
                i += 1
                body: list[tuple[str, str]] = []
                seen_old = 0
                seen_new = 0
                nlen = int(m.group(4) or 1)
                while i < len(sec) and (seen_old < olen or seen_new < nlen or sec[i].startswith("\\")):
                    line = sec[i]
                    kind = line[:1] or " "
                    if kind == "\\":
                        if body:
                            body[-1] = (body[-1][0] + "\\", body[-1][1])
                        i += 1
                        continue
                    body.append((kind, line[1:]))
                    if kind in " -":
                        seen_old += 1
                    if kind in " +":
                        seen_new += 1
                    i += 1
                trailing = 0
                for kind, _ in reversed(body):
                    if kind.startswith(" "):
                        trailing += 1
                    else:
                        break
                out: list[Slot] = []
                k = pos
                state.reach(pos + seen_old + 1)
                for kind, text in body:
                    if kind[0] in " -":
                        slot = slots[k]
                        if slot.text is None:
                            slot.text = text
                        elif slot.text != text:
                            unsure.append(f"{old}: line {k + 1} wanted twice with different text")
                        if kind.endswith("\\"):
                            slot.nonl = True
                        k += 1
                        if kind[0] == " ":
                            out.append(slot)
                    else:
                        s = Slot()
                        s.text = text
                        s.nonl = kind.endswith("\\")
                        out.append(s)
                ended = (olen and trailing == 0) or any(kind.endswith("\\") and kind[0] in " -" for kind, _ in body)
                if ended:  # the old file ends here
                    for s in slots[k:]:
                        if s.text is not None and not s.absent:
                            unsure.append(f"{old}: a hunk ends the file before a pinned line")
                        s.absent = True
                    del slots[k:]
                    state.ended = True
                    if state.base is not None:
                        ends[old] = True
                slots[pos:k] = out
                delta += len(out) - (k - pos)
            if status == "deleted":
                current.pop(old, None)
                continue
            if status == "renamed":
                current.pop(old, None)
            current[new] = state
    files: dict[str, bytes] = {}
    for path, slots in base.items():
        kept = [s for s in slots if not s.absent]
        if not ends.get(path):  # never ended by a hunk: a few filler lines after the last one read
            kept += [Slot() for _ in range(3)]
        text = []
        for i, s in enumerate(kept):
            line = s.text if s.text is not None else f"filler line {i + 1} of {path}"
            text.append(line + ("" if s.nonl else "\n"))
        files[path] = "".join(text).encode("utf-8", "surrogateescape")
    return Base(files, {p: m for p, m in modes.items() if p in files}, unsure)
