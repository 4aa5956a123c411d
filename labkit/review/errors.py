"""The error type of the PR review job."""

from __future__ import annotations

from labkit.errors import LabkitError


class ReviewError(LabkitError):
    """A pull request could not be fetched, parsed, checked or applied."""

    def __init__(self, message: str, *, hint: str | None = None, line: int | None = None) -> None:
        """Make the error, with the input line it points at when known."""
        self.line = line
        super().__init__(message, hint=hint)
