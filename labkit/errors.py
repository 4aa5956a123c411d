"""The labkit error hierarchy: one root, one type per domain."""

from __future__ import annotations


class LabkitError(Exception):
    """Base of every error labkit raises on purpose: says what was wrong and what to do.

    Build it as ``LabkitError("what was wrong", hint="what to do")``; ``str()`` joins both
    so the CLI can print one line and a notebook shows a readable message, never a traceback.
    """

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        self.message = message
        self.hint = hint
        super().__init__(self.__str__())

    def __str__(self) -> str:
        if self.hint:
            return f"{self.message}: {self.hint}" if not self.message.endswith(".") else f"{self.message} {self.hint}"
        return self.message


class ConfigError(LabkitError):
    """A profile, the config file or a secret is missing or malformed."""


class HttpError(LabkitError):
    """A remote service answered with an error or could not be reached."""

    def __init__(self, message: str, *, hint: str | None = None, status: int | None = None,
                 url: str | None = None) -> None:
        self.status = status
        self.url = url
        super().__init__(message, hint=hint)


class SandboxError(LabkitError):
    """A local stand-in service could not be started, found or stopped."""


class RunError(LabkitError):
    """A recorded runbook run could not start, or a cell of it failed (``record`` says where it was saved)."""

    def __init__(self, message: str, *, hint: str | None = None, record: object = None) -> None:
        self.record = record
        super().__init__(message, hint=hint)
