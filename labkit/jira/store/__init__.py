"""The local SQLite mirror of a Jira tracker: import REST issue JSON, answer JQL, and mirror a server into it.

    from labkit.jira.store import Store
    store = Store("tracker.db")
    store.search('text ~ "\\"disk space\\"" ORDER BY created DESC')

Modules: ``store`` (the Store), ``sql`` (JQL to SQL), ``dates`` (date operands), ``history``
(WAS/CHANGED), ``rank`` (LexoRank strings) and ``mirror`` (incremental, resumable pull from a server).
"""

from __future__ import annotations

from labkit.jira.store.store import Store

__all__ = ["Store"]
