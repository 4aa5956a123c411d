"""The error of tracker analytics: a workflow, a metric or a forecast that cannot be made from what was given."""

from __future__ import annotations

from labkit.errors import LabkitError


class TrackerError(LabkitError):
    """Tracker analytics could not answer: the message says what was missing or wrong, the hint what to do."""
