"""The 2012 way, for comparison: one rank call per violated "is blocked by" link, repeated until none is left."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from labkit.rank.closure import build
from labkit.rank.graph import edge_list
from labkit.rank.plan import RankCall, apply_calls


@dataclass
class BaselinePlan:
    """What the one-call-per-link script does to a backlog: its calls, the issues it moves, and what it leaves."""

    order: list[str]
    calls: list[RankCall] = field(default_factory=list)
    moved: list[str] = field(default_factory=list)
    passes: int = 0
    unresolved_links: int = 0   # direct links still violated when it gave up (0 when it converged)

    @property
    def moves(self) -> int:
        """Distinct issues the script re-ranks."""
        return len(self.moved)

    def final_order(self) -> list[str]:
        """The backlog after the script's calls (replayed in memory)."""
        return apply_calls(self.order, self.calls)

    def summary(self) -> dict[str, Any]:
        """Counts for a one-line report."""
        return {"moves": self.moves, "rank_calls": len(self.calls), "passes": self.passes,
                "unresolved_links": self.unresolved_links}


def baseline_plan(order: Sequence[str], blocks: Any, *, max_passes: int = 1000, reread: bool = False) -> BaselinePlan:
    """Simulate the old script: query the backlog by rank, make one rank call per violated link, repeat until clean.

    Each pass reads the order once (the query) and, for every "is blocked by" link whose blocker
    ranks below the issue it blocks in that snapshot, ranks the blocker just before that issue:
    one call per violated link. Links are taken from the bottom of the backlog up, so a blocker of
    several issues ends above the highest of them. Then it queries again, until no link is violated.
    Only links with both ends in the backlog count (the script only knew those); links inside a
    blocking cycle are skipped, or it would never stop. Each component is simulated on its own,
    which gives the same calls as on the whole backlog because other issues never matter.
    ``reread=True`` is a kinder script: it walks the query top down and re-reads the order before
    every call, skipping links an earlier call already fixed (still one call per link it finds violated).
    """
    order = list(order)
    cons = build(order, edge_list(blocks))
    result = BaselinePlan(order=order)
    moved: dict[str, None] = {}
    for comp in cons.components:
        if not any(comp.q_succ(i) for i in range(len(comp.keys))):
            continue
        members = set(comp.keys)
        blockers: dict[str, list[str]] = {}
        for a, b in cons.edges:
            if a in members and b in members and cons.scc_of[a] != cons.scc_of[b]:
                blockers.setdefault(b, []).append(a)
        seq = list(comp.keys)
        for n_pass in range(1, max_passes + 1):
            snap = {k: i for i, k in enumerate(seq)}
            walk = seq if reread else list(reversed(seq))   # the kinder script walks the query top down
            todo = [(b, a) for b in walk for a in blockers.get(b, ()) if snap[a] > snap[b]]
            if not todo:
                break
            result.passes = max(result.passes, n_pass)
            for issue, blocker in todo:
                if reread and seq.index(blocker) < seq.index(issue):
                    continue
                seq.remove(blocker)
                seq.insert(seq.index(issue), blocker)
                result.calls.append(RankCall((blocker,), before=issue))
                moved[blocker] = None
        pos = {k: i for i, k in enumerate(seq)}
        result.unresolved_links += sum(1 for b, bl in blockers.items() for a in bl if pos[a] > pos[b])
    result.moved = list(moved)
    return result
