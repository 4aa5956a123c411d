"""The Jira sandbox: a Jira-compatible server on 127.0.0.1 (REST v2/v3, Cloud search, agile rank, SOAP).

    from labkit.jira.sandbox import serve
    with serve(mode="server", seed_issues=200) as sb:
        requests.get(sb.url + "/rest/api/2/serverInfo", auth=sb.auth)

Modules: ``server`` (start, serve, the ``labkit sandbox`` service), ``app`` (the REST WSGI app),
``soap`` (the SOAP WSGI app over a narrow backend), ``fields`` (wire shapes), ``faults`` (fault
injection) and ``demo`` (generated demo issues). Importing this package does not import werkzeug.
"""

from __future__ import annotations

from labkit.jira.sandbox.server import (
    DEFAULT_SEED,
    DEFAULT_SEED_ISSUES,
    SERVICE,
    RunningSandbox,
    iter_dump_issues,
    main,
    open_store,
    serve,
)

__all__ = ["DEFAULT_SEED", "DEFAULT_SEED_ISSUES", "SERVICE", "RunningSandbox", "iter_dump_issues", "main",
           "open_store", "serve"]
