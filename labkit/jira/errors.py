"""Errors of the Jira domain: JQL syntax, un-evaluable clauses, store and server problems."""

from __future__ import annotations

from labkit.errors import LabkitError


class JiraError(LabkitError):
    """Anything the Jira helpers (JQL, local store, clients) could not do."""


class JqlSyntaxError(JiraError):
    """A JQL query (or the text-search value inside one) is not well formed.

    ``position`` is the 0-based character offset of the problem in ``query``; the message
    ends with the query and a caret line pointing at it.
    """

    def __init__(self, message: str, query: str = "", position: int = 0, *, hint: str | None = None) -> None:
        """Build the message with the position and a caret line under the query."""
        self.query = query
        self.position = max(0, min(position, len(query)))
        self.reason = message
        text = f"{message} at position {self.position}"
        if query:
            line = query.replace("\n", " ").replace("\r", " ").replace("\t", " ")
            text += f"\n    {line}\n    {' ' * self.position}^"
        super().__init__(text, hint=hint)

    def __str__(self) -> str:
        """Return the message with the caret lines, and the hint on a line of its own."""
        if self.hint:
            return f"{self.message}\n{self.hint}"
        return self.message


class JqlError(JiraError):
    """A well-formed JQL clause that cannot be evaluated here (unknown field, unsupported operator)."""
