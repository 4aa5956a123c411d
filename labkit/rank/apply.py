"""Apply a re-rank plan through a rank client with an undo journal, and undo it issue by issue."""

from __future__ import annotations

import glob
import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from labkit.errors import LabkitError
from labkit.rank.client import RankClient
from labkit.rank.errors import RankError
from labkit.rank.plan import Plan, RankCall, plan_moves, rank_calls
from labkit.rank.violations import count_violations

JOURNAL_VERSION = 1


@dataclass
class ApplyResult:
    """What apply() did: calls sent, 207 failures met, re-plans, and the violations left on the server."""

    journal: str
    calls_sent: int
    failures: list[dict] = field(default_factory=list)
    rounds: int = 1
    remaining_violations: int = 0
    final_order: list[str] = field(default_factory=list)
    matches_plan: bool = True
    replanned_at_start: bool = False

    @property
    def ok(self) -> bool:
        """True when the server's backlog, re-read after the calls, has no violation left."""
        return self.remaining_violations == 0


@dataclass
class UndoResult:
    """What undo() did, and whether the backlog is back in its original order, issue by issue."""

    calls_sent: int
    restored: bool
    rounds: int = 1
    failures: list[dict] = field(default_factory=list)
    mismatches: list[dict] = field(default_factory=list)   # {position, expected, actual}


def _write_json(path: Path, data: Mapping[str, Any]) -> None:
    """Write JSON atomically (temp file + rename) so a journal is never half written.

    A run killed between the temp file and the rename leaves ``<journal>.XXXXXXXX.tmp`` beside the
    journal: the next write of that journal (the resumed apply, or the undo) removes it.
    """
    import tempfile

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        stale = re.compile(re.escape(path.name) + r"\.[A-Za-z0-9_]{8}\.tmp")
        for old in path.parent.glob(glob.escape(path.name) + ".*.tmp"):
            if stale.fullmatch(old.name):
                old.unlink(missing_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise RankError(f"cannot write the undo journal {path} ({exc.strerror})",
                        hint="pass a journal path in a folder you can write") from None
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(data, f, indent=1)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise RankError(f"cannot write the undo journal {path} ({exc.strerror})",
                            hint="pass a journal path that is not a folder, in a folder you can write") from None
        raise


def load_journal(journal: str | os.PathLike[str] | Mapping[str, Any]) -> dict[str, Any]:
    """Read an undo journal (a path or an already loaded dict) and check it is one."""
    if isinstance(journal, Mapping):
        data = dict(journal)
    else:
        try:
            data = json.loads(Path(journal).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise RankError(f"undo journal {journal} does not exist",
                            hint="pass the journal path that apply() was given") from None
        except json.JSONDecodeError as exc:
            raise RankError(f"undo journal {journal} is not valid JSON ({exc.msg})",
                            hint="restore it from a backup; apply() writes it atomically") from None
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
            raise RankError(f"cannot read the undo journal {journal} ({reason})",
                            hint="pass the journal path that apply() was given") from None
    if not isinstance(data, dict) or data.get("labkit_rank_journal") != JOURNAL_VERSION or not isinstance(data.get("original_order"), list):
        raise RankError("this file is not a labkit rank undo journal",
                        hint="pass the journal path that apply() was given")
    return data


def failed_entries(entries: list[dict] | None) -> list[dict]:
    """The entries of a 207 answer that failed (a real server also lists the issues it ranked, with status 200)."""
    out = []
    for e in entries or []:
        try:
            status = int(e.get("status", 500))
        except (TypeError, ValueError):
            status = 500
        if not 200 <= status < 300:
            out.append(e)
    return out


def _send(client: RankClient, call: RankCall, journal: dict[str, Any], path: Path, label: str) -> list[dict]:
    """Send one rank call, record it in the journal, return its failed entries."""
    try:
        failed = failed_entries(client.rank(list(call.issues), before=call.before, after=call.after))
    except LabkitError as exc:
        journal["status"] = "interrupted"
        journal["error"] = str(exc)
        _write_json(path, journal)
        raise RankError(f"rank call '{call.describe()}' failed: {exc}",
                        hint=f"the backlog may be partly re-ranked; undo('{path}') puts it back") from exc
    journal[label].append({**call.body(), "failed": [e.get("issueKey") for e in failed]})
    _write_json(path, journal)
    return failed


def apply(plan: Plan, client: RankClient, journal_path: str | os.PathLike[str], *, jql: str | None = None,
          max_rounds: int = 3) -> ApplyResult:
    """Make the plan's rank calls, after writing an undo journal, and confirm by re-reading the ranks.

    The journal (the backlog's order as read just before the first call) is written before any
    call and updated after each one. If the backlog changed since planning, the plan is redone on
    the current order first. Issues a 207 answer reports as failed are re-planned from the
    re-read order (up to ``max_rounds`` more rounds); an issue that fails twice is pinned in place.
    """
    jql = jql or plan.jql
    if not jql:
        raise RankError("apply() needs the backlog's JQL to re-read the ranks",
                        hint="pass jql='project = X ORDER BY Rank ASC' or plan_moves(..., jql=...)")
    path = Path(journal_path)
    if path.is_dir():
        raise RankError(f"cannot write the undo journal {path} (it is a folder)", hint="pass a file path")
    if path.exists():
        old = load_journal(path)
        if old.get("status") != "undone":
            raise RankError(f"undo journal {path} already holds an apply that was not undone",
                            hint="undo it first, or pass a new journal path")
    current = client.backlog_order(jql)
    replanned = current != plan.order
    if replanned:
        plan = plan_moves(current, plan.blocks, jql=jql, pinned=plan.pinned)
    from datetime import UTC, datetime

    journal: dict[str, Any] = {
        "labkit_rank_journal": JOURNAL_VERSION, "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "jql": jql, "status": "started", "original_order": current,
        "planned_calls": [c.body() for c in plan.calls], "calls": [],
    }
    _write_json(path, journal)
    failures: list[dict] = []
    fail_count: dict[str, int] = {}
    sent = 0
    rounds = 1
    p = plan
    while True:
        round_failed = False
        for call in p.calls:
            failed = _send(client, call, journal, path, "calls")
            sent += 1
            for e in failed:
                round_failed = True
                failures.append(e)
                k = e.get("issueKey")
                if k:
                    fail_count[k] = fail_count.get(k, 0) + 1
        order = client.backlog_order(jql)
        remaining = count_violations(order, plan.blocks)
        if remaining == 0 or rounds > max_rounds:
            break
        if not round_failed and order == p.final_order:
            break   # done what was planned; what is left is not ours to fix (someone re-ranked meanwhile)
        pinned = [k for k, n in fail_count.items() if n >= 2]
        try:
            p = plan_moves(order, plan.blocks, jql=jql, pinned=pinned)
        except RankError:
            break   # the issues that keep failing are out of order with each other: report what is left
        if not p.calls:
            break
        rounds += 1
    journal["status"] = "applied" if remaining == 0 else "partial"
    journal["final_order"] = order
    _write_json(path, journal)
    return ApplyResult(journal=str(path), calls_sent=sent, failures=failures, rounds=rounds,
                       remaining_violations=remaining, final_order=order,
                       matches_plan=order == plan.final_order, replanned_at_start=replanned)


def _lis_keep(seq: Sequence[int]) -> set[int]:
    """Indices into seq of one longest increasing subsequence (patience sorting, O(n log n))."""
    import bisect

    tails: list[int] = []
    tails_at: list[int] = []
    prev = [-1] * len(seq)
    for i, v in enumerate(seq):
        j = bisect.bisect_left(tails, v)
        if j == len(tails):
            tails.append(v)
            tails_at.append(i)
        else:
            tails[j] = v
            tails_at[j] = i
        prev[i] = tails_at[j - 1] if j else -1
    keep: set[int] = set()
    i = tails_at[-1] if tails_at else -1
    while i >= 0:
        keep.add(i)
        i = prev[i]
    return keep


def restore_calls(current: Sequence[str], original: Sequence[str]) -> tuple[list[str], list[RankCall]]:
    """Rank calls that put the issues of ``original`` back in their original order with the fewest moves.

    Issues that are in ``current`` only (created since) stay where they are; issues that are gone
    are skipped. The issues kept in place are a longest run already in original order.
    """
    where = {k: i for i, k in enumerate(original)}
    common = [k for k in current if k in where]
    keep_idx = _lis_keep([where[k] for k in common])
    stay = {common[i] for i in keep_idx}
    moved = {k for k in common if k not in stay}
    common_set = set(common)
    target = [k for k in original if k in common_set]
    follow: dict[str | None, list[str]] = {}
    anchor: str | None = None
    for k in target:
        if k in stay:
            anchor = k
        else:
            follow.setdefault(anchor, []).append(k)
    final: list[str] = []
    head = follow.get(None, [])
    placed_head = False
    for k in current:
        if k in moved:
            continue
        if k in stay and not placed_head:
            final.extend(head)
            placed_head = True
        final.append(k)
        if k in stay:
            final.extend(follow.get(k, []))
    if not placed_head:
        final.extend(head)
    return final, rank_calls(final, moved)


def undo(journal: str | os.PathLike[str] | Mapping[str, Any], client: RankClient, *,
         max_rounds: int = 3) -> UndoResult:
    """Put the backlog back in the order recorded in the journal, then compare it issue by issue.

    Only issues that moved out of place are re-ranked. A 207 answer is handled by re-reading the
    order and trying again (up to ``max_rounds`` rounds).
    """
    path = None if isinstance(journal, Mapping) else Path(journal)
    data = load_journal(journal)
    jql, original = data["jql"], data["original_order"]
    data.setdefault("undo_calls", [])
    sent = 0
    failures: list[dict] = []
    rounds = 0
    while True:
        rounds += 1
        current = client.backlog_order(jql)
        _, calls = restore_calls(current, original)
        if not calls or rounds > max_rounds:
            break
        for call in calls:
            try:
                failed = failed_entries(client.rank(list(call.issues), before=call.before, after=call.after))
            except LabkitError as exc:
                raise RankError(f"undo call '{call.describe()}' failed: {exc}",
                                hint="fix the cause and run undo again; it starts from the current order") from exc
            sent += 1
            failures.extend(failed)
            data["undo_calls"].append({**call.body(), "failed": [e.get("issueKey") for e in failed]})
            if path is not None:
                _write_json(path, data)
    present, was = set(current), set(original)
    expected = [k for k in original if k in present]
    actual = [k for k in current if k in was]
    mismatches = [{"position": i + 1, "expected": e, "actual": a}
                  for i, (e, a) in enumerate(zip(expected, actual, strict=True)) if e != a]
    restored = not mismatches
    if path is not None:
        data["status"] = "undone" if restored else "undo-incomplete"
        _write_json(path, data)
    return UndoResult(calls_sent=sent, restored=restored, rounds=rounds, failures=failures, mismatches=mismatches)


@dataclass
class Rehearsal:
    """An OFFLINE apply and undo on an in-memory backlog: what each step did."""

    apply: ApplyResult
    undo: UndoResult
    violations_after_apply: int
    violations_after_undo: int
    restored: bool          # the backlog is back in its original order
    journal: str | None     # the journal kept, or None when it lived in a temporary folder

    @property
    def ok(self) -> bool:
        """Tell whether the apply fixed everything it could and the undo put the backlog back."""
        return self.apply.ok and self.undo.restored and self.restored

    def rows(self) -> list[dict[str, Any]]:
        """The two steps as table rows."""
        return [{"step": "apply", "rank_calls": self.apply.calls_sent, "violations_left": self.violations_after_apply,
                 "ok": self.apply.ok},
                {"step": "undo", "rank_calls": self.undo.calls_sent, "violations_left": self.violations_after_undo,
                 "ok": self.undo.restored and self.restored}]


def rehearse(order: Sequence[str], graph: Any, journal_path: str | os.PathLike[str] | None = None) -> Rehearsal:
    """Apply the plan for ``order`` and undo it on a :class:`ListRankClient` (no server); keep the journal if a path is given."""
    import tempfile

    from labkit.rank.client import ListRankClient
    from labkit.rank.violations import violations

    plan = plan_moves(list(order), graph, jql="(offline)")
    client = ListRankClient(order)
    with tempfile.TemporaryDirectory(prefix="labkit-rank-") as scratch:  # no journal path: nothing left behind
        journal = str(journal_path) if journal_path else str(Path(scratch) / "rank-undo.json")
        applied = apply(plan, client, journal, jql="(offline)")
        left = len(violations(client.backlog_order("(offline)"), graph))
        back = undo(journal, client)
    return Rehearsal(applied, back, left, len(violations(client.keys, graph)), client.keys == list(order),
                     str(journal_path) if journal_path else None)
