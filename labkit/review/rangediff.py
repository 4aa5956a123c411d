"""Compare two revisions of a series: ``range_diff(old, new)`` pairs their commits and diffs each pair's patches.

    rd = range_diff(pr.revision(old_head).fetch_series(), pr.fetch_series())   # a force-push
    rd = range_diff(parse_thread(v1_mbox), parse_thread(v2_mbox))               # v1 vs v2 of a thread
    rd.to_frame()        # old, new, status (unchanged / changed / added / dropped), subjects
    rd.rows[0].diff      # the diff of the two patches (what changed in the commit), '' when unchanged

What ``git range-diff`` does, on parsed series (no repository needed): each commit becomes a text
(author, message, and its diff without line numbers and index lines); identical texts pair as
unchanged; the rest are paired by a minimum-cost assignment (Hungarian method) where pairing two
commits costs the size of the diff between their texts and leaving one unpaired costs 60 % of its
own size (git's creation factor), so a commit rewritten beyond recognition shows as dropped and added.
Written here rather than calling ``git range-diff`` because that needs both revisions applied
as commits in one repository, which a thread or a pair of ``.patch`` files does not have.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any

from labkit.review.series import Commit, PatchSeries

CREATION_FACTOR = 0.60  # git range-diff's default --creation-factor (60 %)
MARKERS = {"unchanged": "=", "changed": "!", "added": ">", "dropped": "<"}


@dataclass
class RangeRow:
    """One line of a range-diff: an old commit, a new one, or a pair, and how they differ."""

    old: int | None
    new: int | None
    status: str  # unchanged | changed | added | dropped
    subject: str
    old_subject: str = ""
    diff: str = field(default="", repr=False)  # unified diff of the two patches ('' when unchanged)

    @property
    def marker(self) -> str:
        """git range-diff's mark: ``=`` ``!`` ``>`` ``<``."""
        return MARKERS[self.status]

    def row(self) -> dict[str, Any]:
        """This line as a table row."""
        return {"old": self.old, "new": self.new, "status": self.status, "subject": self.subject,
                "old subject": self.old_subject if self.old_subject != self.subject else "",
                "changed lines": sum(1 for ln in self.diff.split("\n") if ln[:1] in "+-") if self.diff else 0}


@dataclass
class RangeDiff:
    """The range-diff of two revisions: one row per new commit, plus the dropped old ones where they were."""

    rows: list[RangeRow]
    old_label: str = "old"
    new_label: str = "new"

    def counts(self) -> dict[str, int]:
        """How many commits are unchanged, changed, added and dropped."""
        return {s: sum(1 for r in self.rows if r.status == s) for s in MARKERS}

    def to_frame(self):  # -> pandas.DataFrame
        """The range-diff as a DataFrame (one row per line)."""
        from labkit.tables import to_frame

        return to_frame([r.row() for r in self.rows],
                        columns=["old", "new", "status", "subject", "old subject", "changed lines"])

    def text(self) -> str:
        """The range-diff as text, one ``old: mark new: subject`` line per row followed by its diff."""
        out = []
        for r in self.rows:
            out.append(f"{r.old if r.old else '-':>3}: {r.marker} {r.new if r.new else '-':>3}: {r.subject}")
            if r.diff:
                out.extend("    " + ln for ln in r.diff.rstrip("\n").split("\n"))
        return "\n".join(out) + "\n"


def patch_text(c: Commit) -> list[str]:
    """The commit as range-diff compares it: metadata, message and diff without line numbers or blob ids."""
    lines = ["## Metadata ##", f"Author: {c.author} <{c.email}>", "", "## Commit message ##",
             *c.full_message.rstrip("\n").split("\n")]
    for f in c.files:
        name = f"{f.old_path} => {f.path}" if f.old_path and f.old_path != f.path else f.path
        tag = "" if f.status == "modified" else f" ({f.status})"
        lines += ["", f"## {name}{tag} ##"]
        in_hunks = False
        for line in f.diff.rstrip("\n").split("\n"):
            line = line.rstrip("\r")
            if line.startswith("@@"):
                in_hunks = True
                rest = line.split("@@", 2)
                lines.append("@@" + (rest[2] if len(rest) == 3 else ""))
            elif in_hunks or f.binary:
                if not line.startswith(("index ", "diff --git ")):
                    lines.append(line)
    return lines


def _diff(a: list[str], b: list[str]) -> list[str]:
    """The unified diff of two texts' lines, without its file header."""
    return [ln for ln in difflib.unified_diff(a, b, lineterm="", n=3)][2:]


def _size(a: list[str], b: list[str]) -> int:
    """How many lines differ between two texts (what pairing them costs)."""
    sm = difflib.SequenceMatcher(None, a, b, autojunk=False)
    same = sum(block.size for block in sm.get_matching_blocks())
    return len(a) + len(b) - 2 * same


def assign(cost: list[list[float]]) -> list[int]:
    """Minimum-cost assignment of a square matrix (Hungarian method, O(n^3)); returns column per row."""
    n = len(cost)
    inf = float("inf")
    u = [0.0] * (n + 1)
    v = [0.0] * (n + 1)
    p = [0] * (n + 1)  # p[j]: row matched to column j (1-based, 0 = none)
    way = [0] * (n + 1)
    for i in range(1, n + 1):
        p[0] = i
        j0 = 0
        minv = [inf] * (n + 1)
        used = [False] * (n + 1)
        while True:
            used[j0] = True
            i0, delta, j1 = p[j0], inf, 0
            row = cost[i0 - 1]
            for j in range(1, n + 1):
                if not used[j]:
                    cur = row[j - 1] - u[i0] - v[j]
                    if cur < minv[j]:
                        minv[j], way[j] = cur, j0
                    if minv[j] < delta:
                        delta, j1 = minv[j], j
            for j in range(n + 1):
                if used[j]:
                    u[p[j]] += delta
                    v[j] -= delta
                else:
                    minv[j] -= delta
            j0 = j1
            if p[j0] == 0:
                break
        while j0:
            j1 = way[j0]
            p[j0] = p[j1]
            j0 = j1
    out = [0] * n
    for j in range(1, n + 1):
        if p[j]:
            out[p[j] - 1] = j - 1
    return out


def _pairs(old: list[list[str]], new: list[list[str]]) -> dict[int, int]:
    """Pair old commits with new ones: identical texts first, then the minimum-cost assignment."""
    pairs: dict[int, int] = {}
    by_text: dict[tuple[str, ...], list[int]] = {}
    for j, t in enumerate(new):
        by_text.setdefault(tuple(t), []).append(j)
    for i, t in enumerate(old):
        js = by_text.get(tuple(t))
        if js:
            pairs[i] = js.pop(0)
    rest_old = [i for i in range(len(old)) if i not in pairs]
    taken = set(pairs.values())
    rest_new = [j for j in range(len(new)) if j not in taken]
    if not rest_old or not rest_new:
        return pairs
    n, m = len(rest_old), len(rest_new)
    size = n + m
    cost = [[0.0] * size for _ in range(size)]
    for a, i in enumerate(rest_old):
        for b, j in enumerate(rest_new):
            cost[a][b] = _size(old[i], new[j])
        for b in range(m, size):
            cost[a][b] = len(old[i]) * CREATION_FACTOR
    for a in range(n, size):
        for b, j in enumerate(rest_new):
            cost[a][b] = len(new[j]) * CREATION_FACTOR
    for a, b in enumerate(assign(cost)):
        if a < n and b < m:
            pairs[rest_old[a]] = rest_new[b]
    return pairs


def range_diff(old: PatchSeries, new: PatchSeries, *, old_label: str = "old", new_label: str = "new") -> RangeDiff:
    """Pair the commits of two revisions and say for each whether it is unchanged, changed, added or dropped."""
    old_texts = [patch_text(c) for c in old.commits]
    new_texts = [patch_text(c) for c in new.commits]
    pairs = _pairs(old_texts, new_texts)
    by_new = {j: i for i, j in pairs.items()}
    rows: list[RangeRow] = []
    shown: set[int] = set()

    def dropped_before(limit: int) -> None:
        """Show the old commits before ``limit`` that nothing pairs with (where they were)."""
        for i in range(limit):
            if i not in pairs and i not in shown:
                shown.add(i)
                c = old.commits[i]
                rows.append(RangeRow(c.index, None, "dropped", c.subject, c.subject))

    for j, c in enumerate(new.commits):
        i = by_new.get(j)
        if i is None:
            rows.append(RangeRow(None, c.index, "added", c.subject))
            continue
        dropped_before(i)
        shown.add(i)
        o = old.commits[i]
        same = old_texts[i] == new_texts[j]
        rows.append(RangeRow(o.index, c.index, "unchanged" if same else "changed", c.subject, o.subject,
                             "" if same else "\n".join(_diff(old_texts[i], new_texts[j])) + "\n"))
    dropped_before(len(old.commits))
    return RangeDiff(rows, old_label, new_label)
