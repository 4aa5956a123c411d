"""Rank violations of a backlog: issues ranked above something that (transitively) blocks them, and blocking cycles."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from labkit.rank.closure import Constraints, build
from labkit.rank.graph import edge_list
from labkit.rank.matching import _bits


@dataclass(frozen=True)
class Violation:
    """One issue ranked above an issue that blocks it (positions are 1-based, 1 = top of the backlog)."""

    issue: str
    position: int
    blocker: str
    blocker_position: int
    direct: bool          # False: the blocker blocks it through other issues


@dataclass(frozen=True)
class Cycle:
    """A blocking cycle: its members block each other, so no order satisfies them; reported, never re-ranked."""

    name: str
    members: tuple[str, ...]


@dataclass
class ViolationReport:
    """Every violated pair of a backlog and every blocking cycle touching it."""

    violations: list[Violation] = field(default_factory=list)
    cycles: list[Cycle] = field(default_factory=list)

    def __len__(self) -> int:
        """Number of violated pairs."""
        return len(self.violations)

    def __iter__(self) -> Iterator[Violation]:
        """Iterate over the violated pairs."""
        return iter(self.violations)

    @property
    def issues(self) -> list[str]:
        """Issues ranked too high, each once, in backlog order."""
        return list(dict.fromkeys(v.issue for v in sorted(self.violations, key=lambda v: v.position)))

    def to_frame(self):  # -> pandas.DataFrame
        """The violations as a table, one row per violated pair."""
        from labkit.tables import to_frame

        return to_frame(self.violations, columns=list(Violation.__dataclass_fields__))

    def cycles_frame(self):  # -> pandas.DataFrame
        """The blocking cycles as a table."""
        from labkit.tables import to_frame

        return to_frame([{"cycle": c.name, "members": ", ".join(c.members), "size": len(c.members)}
                         for c in self.cycles], columns=["cycle", "members", "size"])


def name_cycle(path: Sequence[str]) -> str:
    """A readable name for a cycle path: ``A → B → A``."""
    return " → ".join([*path, path[0]])


def cycles_of(cons: Constraints) -> list[Cycle]:
    """The blocking cycles found while building the constraints."""
    return [Cycle(name=name_cycle(c), members=tuple(c)) for c in cons.cycles]


def report(cons: Constraints) -> ViolationReport:
    """List every violated pair of already-built constraints (pairs inside one cycle are left to the cycle)."""
    out: list[Violation] = []
    for comp in cons.components:
        for i, key in enumerate(comp.keys):
            for j in _bits(comp.q_pred(i)):
                blocker = comp.keys[j]
                out.append(Violation(issue=key, position=comp.positions[i] + 1, blocker=blocker,
                                     blocker_position=comp.positions[j] + 1,
                                     direct=(blocker, key) in cons.direct))
    out.sort(key=lambda v: (v.position, v.blocker_position))
    return ViolationReport(violations=out, cycles=cycles_of(cons))


def violations(order: Sequence[str], graph: Any) -> ViolationReport:
    """Find every issue ranked above something that (transitively) blocks it, and every blocking cycle.

    ``order`` is the backlog, highest ranked first ("ORDER BY Rank ASC"); ``graph`` is
    ``blocks_graph(issues)``, a mapping blocked → blockers, or (blocker, blocked) pairs. Blocking
    through issues outside the backlog counts. Members of a cycle are named in ``cycles`` and their
    mutual order is not reported as a violation.
    """
    return report(build(order, edge_list(graph)))


def count_violations(order: Sequence[str], graph: Any) -> int:
    """Number of violated pairs, without listing them (fast, for checks after applying a plan)."""
    cons = build(order, edge_list(graph))
    return sum(comp.q_pred(i).bit_count() for comp in cons.components for i in range(len(comp.keys)))
