"""The rank board: a backlog with its violations, blockers and planned moves, Apply/Undo and drag-to-rank (anywidget).

Browser code in ``widgets/rankboard.js`` and ``.css``. The board always shows the plan first (the
dry run); only the Apply button sends rank calls, through :func:`labkit.rank.apply` with an undo
journal, and Undo goes through :func:`labkit.rank.undo`. Dragging an issue ranks it right away.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Any

import anywidget
import traitlets

from labkit.assets import widget_file
from labkit.errors import LabkitError
from labkit.rank.apply import ApplyResult, UndoResult, apply, load_journal, undo
from labkit.rank.client import RankClient
from labkit.rank.graph import blocks_graph, edge_list
from labkit.rank.plan import Plan, plan_moves
from labkit.rank.violations import ViolationReport, violations


def _next_free(path: str) -> str:
    """``rank-undo.json`` → ``rank-undo.2.json`` (or the next number not taken)."""
    stem, ext = os.path.splitext(path)
    base = stem.rsplit(".", 1)[0] if stem.rsplit(".", 1)[-1].isdigit() else stem
    n = 2
    while os.path.exists(f"{base}.{n}{ext}"):
        n += 1
    return f"{base}.{n}{ext}"


class RankBoard(anywidget.AnyWidget):
    """A backlog as a ranked list: violations highlighted, blockers marked, moves previewed; Apply, Undo, drag."""

    _esm = widget_file("rankboard.js")
    _css = widget_file("rankboard.css")
    rows = traitlets.List([]).tag(sync=True)          # [{key, pos, summary, blockers:[{key, pos, below}], ...}]
    violations = traitlets.List([]).tag(sync=True)    # [{issue, position, blocker, blocker_position, direct}]
    moves = traitlets.List([]).tag(sync=True)         # the planned moves (dry run)
    calls = traitlets.List([]).tag(sync=True)         # the rank calls Apply would send
    cycles = traitlets.List([]).tag(sync=True)        # [{name, members}]
    total = traitlets.Int(0).tag(sync=True)
    message = traitlets.Unicode("").tag(sync=True)
    error = traitlets.Bool(False).tag(sync=True)
    busy = traitlets.Bool(False).tag(sync=True)
    can_undo = traitlets.Bool(False).tag(sync=True)

    def __init__(self, client: RankClient, jql: str, blocks: Any, journal_path: str | os.PathLike[str], *,
                 summaries: Mapping[str, str] | None = None, max_rows: int = 500, **kwargs: Any) -> None:
        """Read the backlog through ``client`` and draw it with its plan."""
        super().__init__(**kwargs)
        self.client = client
        self.jql = jql
        self.edges = edge_list(blocks)
        self.journal_path = os.fspath(journal_path)
        self.summaries = dict(summaries or {})
        self.max_rows = max_rows
        self.plan: Plan | None = None
        self.report: ViolationReport | None = None
        self.last_result: ApplyResult | UndoResult | None = None
        self.on_msg(self._on_msg)
        self.refresh()

    @classmethod
    def from_issues(cls, client: RankClient, jql: str, issues: Iterable[Any], journal_path: str | os.PathLike[str],
                    **kwargs: Any) -> RankBoard:
        """Build a board from REST issue JSON: blocking links via blocks_graph(), summaries for the list."""
        issues = list(issues)
        summaries = {}
        for i in issues:
            raw = getattr(i, "raw", i)
            summaries[raw["key"]] = str((raw.get("fields") or {}).get("summary") or "")
        return cls(client, jql, blocks_graph(issues), journal_path, summaries=summaries, **kwargs)

    def refresh(self) -> None:
        """Re-read the backlog order, recompute violations and the plan, and redraw."""
        order = self.client.backlog_order(self.jql)
        self.report = violations(order, self.edges)
        self.plan = plan_moves(order, self.edges, jql=self.jql)
        pos = {k: i + 1 for i, k in enumerate(order)}
        blockers: dict[str, list[str]] = {}
        for a, b in self.edges:
            blockers.setdefault(b, []).append(a)
        late = {(v.issue, v.blocker) for v in self.report}
        bad = set(self.report.issues)
        in_cycle = {k for c in self.report.cycles for k in c.members}
        moving = {m.issue: m for m in self.plan.moves}
        rows = []
        for key in order[: self.max_rows]:
            m = moving.get(key)
            rows.append({
                "key": key, "pos": pos[key], "summary": self.summaries.get(key, ""),
                "blockers": [{"key": b, "pos": pos.get(b), "below": (key, b) in late} for b in blockers.get(key, [])],
                "violated": key in bad, "cycle": key in in_cycle,
                "move": {"to": m.to_pos, "direction": m.direction, "blocker": m.blocker, "blocked": m.blocked}
                if m else None,
            })
        with self.hold_sync():   # one update message, so the browser never draws half a refresh
            self.total = len(order)
            self.violations = [{"issue": v.issue, "position": v.position, "blocker": v.blocker,
                                "blocker_position": v.blocker_position, "direct": v.direct} for v in self.report]
            self.moves = [{"issue": m.issue, "from_pos": m.from_pos, "to_pos": m.to_pos, "direction": m.direction,
                           "blocker": m.blocker, "blocked": m.blocked} for m in self.plan.moves]
            self.calls = [c.describe() for c in self.plan.calls]
            self.cycles = [{"name": c.name, "members": list(c.members)} for c in self.report.cycles]
            self.rows = rows
            self.can_undo = self._undo_pending()

    def _undo_pending(self) -> bool:
        """True when the current journal holds an apply not undone yet."""
        try:
            return load_journal(self.journal_path).get("status") not in ("undone",)
        except LabkitError:
            return False

    def _say(self, text: str, error: bool = False) -> None:
        """Show a status line (red when ``error``)."""
        self.error = error
        self.message = text

    def do_apply(self) -> ApplyResult | None:
        """Send the planned rank calls (journal first), then redraw from the server's order."""
        if self.plan is None or not self.plan.calls:
            self._say("nothing to apply: no violation that a move can fix")
            return None
        if self._undo_pending():     # an earlier apply is still undoable: keep its journal, start a new one
            self.journal_path = _next_free(self.journal_path)
        self.busy = True
        try:
            result = apply(self.plan, self.client, self.journal_path, jql=self.jql)
        except LabkitError as exc:
            self._say(f"apply failed: {exc}", error=True)
            return None
        finally:
            self.busy = False
        self.last_result = result
        self.refresh()
        fails = f", {len(result.failures)} issue(s) refused and re-planned" if result.failures else ""
        left = "no violation left" if result.ok else f"{result.remaining_violations} violation(s) left"
        self._say(f"applied: {result.calls_sent} rank call(s){fails}; {left}; undo journal {result.journal}",
                  error=not result.ok)
        return result

    def do_undo(self) -> UndoResult | None:
        """Restore the order recorded in the latest undo journal, then redraw."""
        self.busy = True
        try:
            result = undo(self.journal_path, self.client)
        except LabkitError as exc:
            self._say(f"undo failed: {exc}", error=True)
            return None
        finally:
            self.busy = False
        self.last_result = result
        self.refresh()
        if result.restored:
            self._say(f"undone: original order restored with {result.calls_sent} rank call(s)")
        else:
            self._say(f"undo incomplete: {len(result.mismatches)} position(s) differ", error=True)
        return result

    def do_rank(self, issues: list[str], before: str | None = None, after: str | None = None) -> None:
        """Rank issues by hand (what a drag in the board does), then redraw."""
        try:
            entries = self.client.rank(list(issues), before=before, after=after)
        except LabkitError as exc:
            self._say(f"rank failed: {exc}", error=True)
            return
        from labkit.rank.apply import failed_entries

        failed = failed_entries(entries)
        self.refresh()
        where = f"before {before}" if before else f"after {after}"
        if failed:
            self._say(f"the server refused to rank {', '.join(str(e.get('issueKey')) for e in failed)}", error=True)
        else:
            self._say(f"ranked {', '.join(issues)} {where}")

    def _on_msg(self, _widget: Any, content: Any, _buffers: Any) -> None:
        """Dispatch a message from the browser: apply, undo, refresh or rank."""
        if not isinstance(content, dict):
            return
        action = content.get("action")
        if action == "apply":
            self.do_apply()
        elif action == "undo":
            self.do_undo()
        elif action == "refresh":
            self.refresh()
        elif action == "rank" and content.get("issues"):
            self.do_rank([str(k) for k in content["issues"]], before=content.get("before"), after=content.get("after"))
