"""``labkit jira import`` (bulk import, dry run unless --apply) and ``labkit report`` (a flow report).

    labkit jira import rt-export.csv --project OPS            # dry run: the plan as a table
    labkit jira import rt-export.csv --project OPS --apply    # rerun after a kill: resumes, nothing twice
    labkit report --jql "project = OPS"                       # the headline numbers, printed
    labkit report --jql "project = OPS" --workflow wf.toml --out report.html   # the whole report, one file

``import`` joins the ``jira`` group that :mod:`labkit.jira.cli` makes (this module is registered after it).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from labkit.jira.errors import JiraError

REPORT_EPILOG = """\
A workflow file (TOML, or JSON with the same keys) names the stages and where the clocks run:

  start = "In Progress"      # cycle time starts on entering this stage (or a later one)
  done = "Done"              # ... and ends on the last entry into this one (or a later one)
  [[stages]]
  name = "To Do"
  statuses = ["Open", "To Do", "Reopened"]
  [[stages]]
  name = "In Progress"
  statuses = ["In Progress"]
  [[stages]]
  name = "Review"
  statuses = ["In Review"]
  active = false             # a queue: counts as waiting in flow efficiency
  [[stages]]
  name = "Done"
  statuses = ["Resolved", "Closed"]

Without --workflow or --board the stages are the status categories (To Do, In Progress, Done).
"""


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``import`` to the ``jira`` command group, and the ``report`` command."""
    from labkit.cli_output import add_format_option, bounded_int

    _register_report(sub)
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
    i.add_argument("--workers", type=bounded_int(1, 64), default=4, help="parallel link and status calls (1 to 64)")
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
    journal = args.journal or f"{args.export}.journal"
    Journal(journal, plan.binding())  # a journal it cannot use, or of another import, is refused (dry run too)
    if not args.apply:
        print_rows(plan.rows(), args.format, ["source_id", "summary", "type", "status", "labels"])
        print(plan.summary(), file=sys.stderr)
        return 0
    from labkit.jira.client import JiraClient

    client = JiraClient.from_profile(getattr(args, "profile", None), progress=False)
    try:
        result = run_import(plan, client, journal, workers=args.workers,
                            set_status=not args.no_status, progress=None if sys.stderr.isatty() else False)
    finally:
        client.close()
    print_rows(result.to_frame(), args.format)
    return 0


def _register_report(sub: argparse._SubParsersAction) -> None:
    """Add ``labkit report``."""
    from labkit.cli_output import add_format_option

    r = sub.add_parser("report", help="flow metrics, charts and forecasts of a JQL search as one HTML file",
                       description="Cycle and lead time, throughput, cumulative flow, ageing WIP, time in stage, "
                                   "flow efficiency, data quality and Monte Carlo forecasts of the issues a JQL "
                                   "finds (whole changelogs, paged in where Jira cuts them). Without --out the "
                                   "headline numbers are printed and nothing is written.",
                       epilog=REPORT_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    r.add_argument("--jql", default="", help="the issues to report on (quote it for the shell)")
    source = r.add_mutually_exclusive_group()
    source.add_argument("--workflow", metavar="FILE", help="stages and clock points (TOML or JSON, see below)")
    source.add_argument("--board", type=int, metavar="ID", help="take the stages from an agile board's columns")
    r.add_argument("--out", metavar="FILE", help="write the report here (an existing file must be a labkit report)")
    r.add_argument("--store", metavar="DB", help="read the issues from a local mirror (labkit jira mirror) instead")
    r.add_argument("--now", default="last",
                   help='read the flow as of this moment: "last" (the data\'s last activity, default), "now", or a date')
    r.add_argument("--forecast-days", type=int, default=28, help="how many items in this many days (default 28)")
    r.add_argument("--forecast-items", type=int, help="when will this many items be done (default: those in progress)")
    r.add_argument("--release", metavar="KEY", help="when will this issue and its open blockers be done")
    r.add_argument("--window", type=int, default=90, help="days of throughput the forecasts sample (default 90)")
    r.add_argument("--trials", type=int, default=10_000, help="Monte Carlo trials (default 10000)")
    r.add_argument("--seed", type=int, default=0, help="random seed of the forecasts (default 0)")
    r.add_argument("--title", help="the report's title (default: Flow report: JQL)")
    add_format_option(r)
    r.set_defaults(func=_report)


def _report(args: argparse.Namespace) -> int:
    """Run ``labkit report``: gather the issues with whole changelogs, print the summary, write the file if asked."""
    import labkit.tracker.analytics  # noqa: F401  (df.jira, used by the release forecast)
    from labkit.cli_output import print_rows
    from labkit.tracker.errors import TrackerError
    from labkit.tracker.history import read_issues
    from labkit.tracker.metrics import summary
    from labkit.tracker.report import build_report
    from labkit.tracker.workflow import Workflow

    for name in ("forecast_days", "trials", "window"):
        if getattr(args, name) is not None and getattr(args, name) < 1:
            raise TrackerError(f"--{name.replace('_', '-')} {getattr(args, name)} is less than 1", hint="give 1 or more")
    now = None if str(args.now).lower() == "now" else args.now
    wf = Workflow.from_file(args.workflow) if args.workflow else None
    if args.store:
        from labkit.jira.store import Store

        if not Path(args.store).exists():
            raise TrackerError(f"no local store at {args.store}", hint="make one with `labkit jira mirror --db FILE`")
        with Store(args.store) as store:
            frame, log, counts = read_issues(store.iter_issues(args.jql), rule=store.blocking)
            statuses = store.statuses()
        source = f"{args.store}: {args.jql or 'every issue'}"
    else:
        if not args.jql:
            raise TrackerError("no --jql: which issues should the report cover?",
                               hint='give --jql "project = OPS" (or --store DB for a local mirror)')
        from labkit.jira.client import JiraClient

        client = JiraClient.from_profile(getattr(args, "profile", None), progress=None if sys.stderr.isatty() else False)
        try:
            fields = ["key", "status", "created", "resolutiondate", "issuelinks", "issuetype", "summary"]
            issues = client.search_issues(args.jql, fields, expand="changelog")
            frame, log, counts = read_issues(issues, rule=client.blocking)
            statuses = client.session.get(f"{client.api}/status").json()
            if args.board is not None:
                wf = Workflow.from_board(client, args.board)
        finally:
            client.close()
        source = f"{client.url}: {args.jql}"
    if not len(frame):
        raise TrackerError(f"the JQL {args.jql!r} finds no issues: nothing to report", hint="widen the query")
    wf = wf or Workflow.default(frame, statuses)
    if not args.out:  # the dry run: the headline numbers only
        from labkit.tracker.flow import Flow

        print_rows(_rows(summary(Flow.build(frame, log, wf, now=now)), args.format), args.format)
        print("dry run: no file written (give --out FILE to write the report)", file=sys.stderr)
        return 0
    report = build_report(frame, log, counts, wf, now=now, title=args.title or f"Flow report: {args.jql or 'all'}",
                          source=source, forecast_days=args.forecast_days, forecast_items=args.forecast_items,
                          release_key=args.release, window=args.window, trials=args.trials, seed=args.seed)
    path = report.write(args.out)
    print_rows(_rows(report.summary, args.format), args.format)
    print(f"wrote {path} ({len(report.charts)} charts, {len(report.sections)} sections)", file=sys.stderr)
    return 0


def _rows(summary: dict, fmt: str) -> list[dict]:
    """The summary as rows: written for reading in a table, the plain numbers for CSV and JSON."""
    from labkit.tracker.report import summary_rows

    return summary_rows(summary) if fmt == "table" else [{"measure": k, "value": v} for k, v in summary.items()]
