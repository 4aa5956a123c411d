"""``labkit jira search|mirror``: JQL search into a table, and an incremental local mirror.

(``labkit jira import`` is added to this group by :mod:`labkit.tracker.cli`: bulk import is a tracker job.)

    labkit jira search 'project = DEMO AND text ~ "\\"disk space\\""' --format csv
    labkit jira mirror --db demo.sqlite                # first run: everything; then only what changed
    labkit --profile prod jira mirror --db prod.sqlite --jql "project = OPS"
"""

from __future__ import annotations

import argparse
from typing import Any

from labkit.jira.errors import JiraError
from labkit.jira.store.mirror import MIRROR_PAGE

TABLE_COLUMNS = ["key", "issuetype", "status", "priority", "assignee", "summary"]


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``jira`` command group."""
    from labkit.cli_output import add_format_option

    p = sub.add_parser("jira", help="search Jira with JQL, mirror it into a local store, bulk-import another tracker")
    ss = p.add_subparsers(dest="jira_command", metavar="ACTION", required=True)

    s = ss.add_parser("search", help="run a JQL search and print the issues")
    s.add_argument("jql", help="the JQL query (quote it for the shell)")
    s.add_argument("--fields", default="", help="extra REST field ids to add as columns, comma-separated")
    s.add_argument("--columns", help="columns to print (default: a short set for tables, all for csv/json)")
    s.add_argument("--limit", type=int, help="stop after this many issues")
    s.add_argument("--soap", action="store_true", help="use the legacy SOAP API (Jira 6 and older)")
    s.add_argument("--count", action="store_true", help="print only the number of matching issues")
    add_format_option(s)
    s.set_defaults(func=_search)

    m = ss.add_parser("mirror", help="pull issues into a local store (incremental: updated >= last sync; resumable)")
    m.add_argument("--db", required=True, help="SQLite file of the local store")
    m.add_argument("--jql", default="", help="restrict the mirror to this JQL (default: everything)")
    m.add_argument("--page-size", type=int, default=MIRROR_PAGE)
    add_format_option(m)
    m.set_defaults(func=_mirror)


def _client(args: argparse.Namespace) -> Any:
    """Build the client of the chosen profile."""
    from labkit.jira.client import JiraClient

    return JiraClient.from_profile(getattr(args, "profile", None), progress=False)


def _search(args: argparse.Namespace) -> int:
    """Run ``labkit jira search``."""
    from labkit.cli_output import print_rows

    client = _client(args)
    try:
        if args.count:
            print(client.count(args.jql))
            return 0
        extra = [f.strip() for f in args.fields.split(",") if f.strip()]
        if args.soap:
            from labkit.jira.client.soap import SoapClient

            user, password = client.session.auth or ("admin", "")
            df = SoapClient(client.url, user, password).search(args.jql, 1000 if args.limit is None else args.limit)
        else:
            df = client.search(args.jql, extra, limit=args.limit)
    finally:
        client.close()
    if args.columns:
        cols = [c.strip() for c in args.columns.split(",") if c.strip()]
        unknown = [c for c in cols if c not in df.columns]
        if unknown:
            raise JiraError(f"no column {', '.join(unknown)}", hint=f"choose from: {', '.join(df.columns)}")
    else:
        cols = TABLE_COLUMNS + extra if args.format == "table" else list(df.columns)
    print_rows(_plain_rows(df[cols]), args.format, cols)
    return 0


def _plain_rows(df: Any) -> list[dict[str, Any]]:
    """Turn a search DataFrame into plain rows for printing (timestamps as ISO text, missing as None)."""
    rows = df.to_dict(orient="records")
    for r in rows:
        for k, v in r.items():
            if hasattr(v, "isoformat"):
                r[k] = None if str(v) == "NaT" else v.isoformat()
            elif isinstance(v, float) and v != v:
                r[k] = None
    return rows


def _mirror(args: argparse.Namespace) -> int:
    """Run ``labkit jira mirror``."""
    from labkit.cli_output import print_rows
    from labkit.jira.store.mirror import mirror

    client = _client(args)
    try:
        result = mirror(client, args.db, args.jql, page_size=args.page_size)
    finally:
        client.close()
    print_rows([result], args.format)
    return 0
