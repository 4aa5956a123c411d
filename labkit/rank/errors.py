"""The rank analysis error type."""

from __future__ import annotations

from labkit.errors import LabkitError


class RankError(LabkitError):
    """A backlog, a plan, a rank call or an undo journal could not be used as asked."""
