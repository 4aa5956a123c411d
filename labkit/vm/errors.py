"""The VM lab's error type and the conflict record it carries."""

from __future__ import annotations

from dataclasses import dataclass

from labkit.errors import LabkitError


@dataclass(frozen=True)
class Conflict:
    """One clash between what a plan wants and what someone else already holds."""

    kind: str  # mac | vnc | volume | ip-range | domain
    value: str
    wanted_by: str
    held_by: str

    def sentence(self) -> str:
        """Say the clash in one line, naming both parties."""
        return f"{self.kind} {self.value} wanted by {self.wanted_by} is already held by {self.held_by}"


class VmError(LabkitError):
    """A VM lab plan, check, render or launch failed; ``conflicts`` lists every clash found."""

    def __init__(self, message: str, *, hint: str | None = None,
                 conflicts: list[Conflict] | None = None) -> None:
        """Build the error; ``conflicts`` are the clashes behind it."""
        self.conflicts = list(conflicts or [])
        super().__init__(message, hint=hint)


def conflict_error(conflicts: list[Conflict], what: str) -> VmError:
    """Build the one error raised for a list of conflicts (message names both parties of the first)."""
    first = conflicts[0]
    more = f" (and {len(conflicts) - 1} more conflict{'s' if len(conflicts) > 2 else ''})" if len(conflicts) > 1 else ""
    hints = {
        "mac": "give that VM another MAC or leave it out so labkit allocates a free one",
        "vnc": "pick another VNC display or leave it out so labkit skips ports in use",
        "volume": "labkit never reuses a volume: choose another volume name, or leave it out",
        "ip-range": "choose ranges that overlap no other cloud nor host network, or leave them out to allocate",
        "domain": "rename the cloud or destroy the other domain first",
    }
    return VmError(f"{what}: {first.sentence()}{more}; nothing was changed",
                   hint=hints.get(first.kind, "fix the plan and try again"), conflicts=conflicts)
