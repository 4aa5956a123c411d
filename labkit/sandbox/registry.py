"""The registry of local stand-ins for real systems that ``labkit sandbox`` can start."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class ServiceSpec:
    """How to run one sandbox service: a command bound to 127.0.0.1 on a port labkit picks.

    ``argv(port, workdir)`` returns the command; the service must serve HTTP on
    ``127.0.0.1:port`` and keep its files under ``workdir``. The runner passes a fresh random
    secret in ``$LABKIT_SANDBOX_SECRET`` (services that need auth use it as the password/token).
    """

    name: str
    description: str
    argv: Callable[[int, Path], list[str]]
    env: dict[str, str] = field(default_factory=dict)
    health_path: str = "/"
    ready_timeout: float = 90.0
    order: int = 50  # start order: lower first

    def url(self, port: int) -> str:
        """Return the service's base URL for a port."""
        return f"http://127.0.0.1:{port}"


# name -> "module:attribute" of a ServiceSpec; a job's module that is not there yet is skipped.
SERVICE_PATHS: dict[str, str] = {
    "aws": "labkit.aws.sandbox:SERVICE",
    "jira": "labkit.jira.sandbox:SERVICE",
    "forge": "labkit.review.forge:SERVICE",
}


def available_services() -> dict[str, ServiceSpec]:
    """Return every service whose module is present, in start order."""
    found: dict[str, ServiceSpec] = {}
    for name, path in SERVICE_PATHS.items():
        module, _, attr = path.partition(":")
        try:
            spec = getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError):
            continue
        found[name] = spec
    return dict(sorted(found.items(), key=lambda kv: kv[1].order))
