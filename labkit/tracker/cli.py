"""``labkit jira import``: bulk-import another tracker's tickets into Jira (dry run unless --apply).

    labkit jira import rt-export.csv --project OPS            # dry run: the plan as a table
    labkit jira import rt-export.csv --project OPS --apply    # rerun after a kill: resumes, nothing twice

The command joins the ``jira`` group that :mod:`labkit.jira.cli` makes (this module is registered after it).
"""

from __future__ import annotations

import argparse
import sys

from labkit.jira.errors import JiraError


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``import`` to the ``jira`` command group."""
    from labkit.cli_output import add_format_option

    jira = sub.choices.get("jira")
    if jira is None:  # the jira group is not installed: no import command either
        return
    ss = next(a for a in jira._actions if isinstance(a, argparse._SubParsersAction))
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


def _import(args: argparse.Namespace) -> int:
    """Run ``labkit jira import``: the plan as a dry run, or the resumable import with ``--apply``."""
    from labkit.cli_output import print_rows
    from labkit.tracker.bulk_import import Journal, Mapping, plan_import, run_import
    from labkit.tracker.rt import read_tickets

    if args.mapping:
        mapping = Mapping.from_file(args.mapping, project=args.project)
    elif args.project:
        mapping = Mapping(project=args.project)
    else:
        raise JiraError("no target project", hint="pass --project KEY or a --mapping file that names one")
    plan = plan_import(read_tickets(args.export), mapping)
    if not args.apply:
        print_rows(plan.rows(), args.format, ["source_id", "summary", "type", "status", "labels"])
        print(plan.summary(), file=sys.stderr)
        return 0
    journal = args.journal or f"{args.export}.journal"
    Journal(journal)  # a journal it cannot write or read is refused before any call
    from labkit.jira.client import JiraClient

    client = JiraClient.from_profile(getattr(args, "profile", None), progress=False)
    try:
        result = run_import(plan, client, journal, workers=args.workers,
                            set_status=not args.no_status, progress=None if sys.stderr.isatty() else False)
    finally:
        client.close()
    print_rows(result.to_frame(), args.format)
    return 0
