"""Jira: JQL (parse, build, lint), a local tracker store, REST/SOAP clients and a sandbox server.

Layers, each depending only on the ones before it (an import contract in the tests keeps it so):
``errors``; ``jql`` (the language); ``model`` (the single source of Jira's rules: blocking links,
rank field, field text, columns, status categories); ``store`` and ``client`` side by side;
``sandbox``; and ``cli`` (argument parsing only).

Importing this package is cheap: names are loaded lazily on first use, e.g.
``from labkit.jira import parse, Store``.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "JiraError": "labkit.jira.errors",
    "JqlSyntaxError": "labkit.jira.errors",
    "JqlError": "labkit.jira.errors",
    "parse": "labkit.jira.jql",
    "render": "labkit.jira.jql",
    "Query": "labkit.jira.jql",
    "lint": "labkit.jira.jql.lint",
    "JqlWarning": "labkit.jira.jql.lint",
    "Store": "labkit.jira.store",
    "JiraClient": "labkit.jira.client",
    "SoapClient": "labkit.jira.client.soap",
    "BlockingRule": "labkit.jira.model",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    """Load an exported name on first access (keeps ``import labkit.jira`` fast)."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'labkit.jira' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
