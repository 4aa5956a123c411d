"""``labkit jira search|mirror``: JQL search into a table, and an incremental local mirror.

    labkit jira search 'project = DEMO AND text ~ "\\"disk space\\""' --format csv
    labkit jira mirror --db demo.sqlite                # first run: everything; then only what changed
    labkit --profile prod jira mirror --db prod.sqlite --jql "project = OPS"
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from labkit.jira.errors import JiraError

TABLE_COLUMNS = ["key", "issuetype", "status", "priority", "assignee", "summary"]
MIRROR_PAGE = 100


@dataclass(frozen=True)
class MirrorResult:
    """What one ``mirror`` run did."""

    db: str
    jql: str
    since: str | None      # the ``updated >=`` bound used (None: full pull)
    pulled: int            # issues written to the store in this run
    resumed: bool          # continued an interrupted run
    total_in_store: int
    synced_at: str         # the bound the next run will use


def state_path(db: str | os.PathLike[str]) -> Path:
    """Return the sync-state file kept beside a mirror's database."""
    return Path(str(db) + ".sync.json")


def _read_state(path: Path) -> dict[str, Any]:
    """Read a mirror's sync state (empty when there is none)."""
    if not path.exists():
        return {}
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        state = None
    if not isinstance(state, dict):
        raise JiraError(f"{path} is not a mirror's sync state", hint="delete it to mirror everything again")
    return state


def _write_state(path: Path, state: dict[str, Any]) -> None:
    """Write a mirror's sync state atomically."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(state, indent=2), encoding="utf-8")
    os.replace(tmp, path)  # atomic: an interrupted run never leaves half a state file


def jql_time(epoch: float) -> str:
    """Format a time the way JQL date comparisons take it (``yyyy/MM/dd HH:mm``, UTC)."""
    return time.strftime("%Y/%m/%d %H:%M", time.gmtime(epoch))


def mirror_query(jql: str, since: str | None) -> str:
    """Return the JQL a mirror run pages through: the user's JQL, bounded by ``updated >= since``."""
    where = jql.strip()
    parts = [f"({where})"] if where else []
    if since:
        parts.append(f'updated >= "{since}"')
    if not parts:
        parts.append("created is not EMPTY")  # a bounded "everything" (Cloud refuses unbounded JQL)
    return " AND ".join(parts) + " ORDER BY key ASC"


def mirror(client: Any, db: str | os.PathLike[str], jql: str = "", *, page_size: int = MIRROR_PAGE,
           max_pages: int | None = None) -> MirrorResult:
    """Pull a Jira's issues into a local Store, incrementally and resumably.

    The first run pulls everything the JQL finds; later runs only ``updated >=`` the start of
    the last complete run (minus a minute: JQL dates have minute precision). Progress is saved
    after every page, so an interrupted run continues where it stopped. ``max_pages`` stops
    early (as an interruption would), for tests and trial runs.
    """
    from labkit.jira.store import Store

    if page_size < 1:
        raise JiraError(f"the page size {page_size} is less than 1", hint="give --page-size 1 or more")
    if _has_order_by(jql):
        raise JiraError(f"the mirror's JQL {jql!r} has an ORDER BY", hint="leave ORDER BY out: the mirror pages in key order")
    sp = state_path(db)
    state = _read_state(sp)
    if state.get("url") not in (None, client.url) or state.get("jql", jql) != jql:
        raise JiraError(f"{db} mirrors {state.get('url')} with JQL {state.get('jql')!r}, not {client.url} {jql!r}",
                        hint="use another --db for a different server or query")
    run = state.get("run")
    resumed = bool(run)
    if not run:
        run = {"since": state.get("synced_at"), "started": time.time() - 60, "cursor": None, "pulled": 0}
    query = mirror_query(jql, run["since"])
    new_db = not Path(db).exists()
    store = Store(str(db))
    pages = 0
    try:
        for issues, cursor in client.iter_pages(query, ["*all"], cursor=run["cursor"], page_size=page_size):
            if issues:
                store.import_issues(issues)
            run["pulled"] += len(issues)
            run["cursor"] = cursor
            state.update({"url": client.url, "jql": jql, "run": run})
            _write_state(sp, state)
            pages += 1
            if cursor is not None and max_pages is not None and pages >= max_pages:
                return MirrorResult(str(db), query, run["since"], run["pulled"], resumed, _total(store),
                                    state.get("synced_at") or "")
        synced_at = jql_time(run["started"])
        state.update({"url": client.url, "jql": jql, "synced_at": synced_at, "run": None})
        _write_state(sp, state)
        return MirrorResult(str(db), query, run["since"], run["pulled"], resumed, _total(store), synced_at)
    except BaseException:
        if new_db and pages == 0:  # nothing pulled into a file this run made: leave no empty store behind
            store.close()
            for suffix in ("", "-wal", "-shm"):
                Path(str(db) + suffix).unlink(missing_ok=True)
        raise
    finally:
        store.close()


def _has_order_by(jql: str) -> bool:
    """Tell whether a JQL ends with ORDER BY (a JQL the local parser cannot read is left to the server)."""
    from labkit.jira.errors import JqlSyntaxError
    from labkit.jira.jql import parse

    try:
        return bool(jql.strip()) and bool(parse(jql).order_by)
    except JqlSyntaxError:
        return False


def _total(store: Any) -> int:
    """Return how many issues a store holds (-1 if it cannot tell)."""
    try:
        return int(store.count(""))
    except Exception:  # noqa: BLE001 - a count is informative only
        return -1


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``jira`` command group."""
    from labkit.cli import add_format_option

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

    i = ss.add_parser("import", help="bulk-import another tracker's tickets (CSV/JSON); idempotent and resumable")
    i.add_argument("export", help="the RT-style export: .csv, .json or .jsonl (id, subject, queue, status, ...)")
    i.add_argument("--project", help="Jira project key (or give it in --mapping)")
    i.add_argument("--mapping", help="mapping spec (JSON or TOML): project, issuetype, users, statuses, links")
    i.add_argument("--journal", help="journal file that makes the run resumable (default: EXPORT.journal)")
    i.add_argument("--apply", action="store_true", help="really import (default: a dry run that prints the plan)")
    i.add_argument("--no-status", action="store_true", help="leave every issue in its initial status")
    i.add_argument("--workers", type=int, default=4, help="parallel link and status calls")
    add_format_option(i)
    i.set_defaults(func=_import)


def _client(args: argparse.Namespace) -> Any:
    """Build the client of the chosen profile."""
    from labkit.jira.client import JiraClient

    return JiraClient.from_profile(getattr(args, "profile", None), progress=False)


def _search(args: argparse.Namespace) -> int:
    """Run ``labkit jira search``."""
    from labkit.cli import print_rows

    client = _client(args)
    try:
        if args.count:
            print(client.count(args.jql))
            return 0
        extra = [f.strip() for f in args.fields.split(",") if f.strip()]
        if args.soap:
            from labkit.jira.soap import SoapClient

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
    """Turn a search DataFrame into plain rows (timestamps as ISO text, missing as None)."""
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
    from labkit.cli import print_rows

    client = _client(args)
    try:
        result = mirror(client, args.db, args.jql, page_size=args.page_size)
    finally:
        client.close()
    print_rows([result], args.format)
    return 0


def _import(args: argparse.Namespace) -> int:
    """Run ``labkit jira import``: the plan as a dry run, or the resumable import with ``--apply``."""
    from labkit.cli import print_rows
    from labkit.jira.bulk_import import Journal, Mapping, plan_import, run_import
    from labkit.jira.rt import read_tickets

    if args.mapping:
        mapping = Mapping.from_file(args.mapping, project=args.project)
    elif args.project:
        mapping = Mapping(project=args.project)
    else:
        raise JiraError("no target project", hint="pass --project KEY or a --mapping file that names one")
    plan = plan_import(read_tickets(args.export), mapping)
    if not args.apply:
        rows = [{"source_id": i.source_id, "summary": i.summary, "type": i.issuetype, "status": i.status,
                 "labels": list(i.labels)} for i in plan.issues]
        print_rows(rows, args.format)
        print(f"dry run: {len(plan.issues)} issues and {len(plan.links)} links into {mapping.project}; "
              f"{len(plan.skipped_links)} links skipped; add --apply to import", file=sys.stderr)
        return 0
    journal = args.journal or f"{args.export}.journal"
    Journal(journal)  # a journal it cannot write or read is refused before any call
    client = _client(args)
    try:
        result = run_import(plan, client, journal, workers=args.workers,
                            set_status=not args.no_status, progress=None if sys.stderr.isatty() else False)
    finally:
        client.close()
    print_rows(result.to_frame(), args.format)
    return 0
