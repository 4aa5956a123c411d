"""``labkit rank violations|plan|apply|undo|rehearse``: rank a Jira backlog so blockers come first, reversibly.

    labkit rank plan --jql "project = DEMO ORDER BY Rank ASC"            # dry run: violations and the moves
    labkit rank apply --jql "project = DEMO ORDER BY Rank ASC" --journal rank-undo.json
    labkit rank undo --journal rank-undo.json                          # the original order, issue by issue
    labkit rank violations --issues dump.jsonl.gz --order backlog.txt  # OFFLINE, from REST issue JSON
    labkit rank rehearse --issues demo          # OFFLINE: apply + undo on an in-memory backlog

``--jql`` reads the backlog from the profile's Jira (the sandbox by default; ``labkit --profile X``
for another): its order by Rank, and its blocking links. ``apply`` and ``undo`` change ranks on that
Jira; ``plan`` and ``violations`` only read. ``--issues`` works offline instead: ``demo`` (a built-in
demo backlog), a .json file (a list, a search page or one issue), a .jsonl(.gz) file, or a directory
of .json files; ``--order`` is then a text file of keys, top of the backlog first (default: the
order of the issues in the input). ``rehearse`` never talks to a server: it runs on
:class:`labkit.rank.ListRankClient`, an in-memory backlog, and says so.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from labkit.rank.backlog import backlog_jql, load_issues, read_backlog, read_order
from labkit.rank.errors import RankError


def _jira(args: argparse.Namespace) -> Any:
    """The JiraClient of the chosen profile (the sandbox by default)."""
    from labkit.jira.client import JiraClient

    return JiraClient.from_profile(getattr(args, "profile", None), progress=False)


def _source(args: argparse.Namespace) -> tuple[list[str], Any, Any, str]:
    """Return (order, graph, client or None, jql) from --jql (the profile's Jira) or --issues (offline)."""
    from labkit.rank import blocks_graph

    if getattr(args, "jql", None) is not None:
        jql = backlog_jql(args.jql)
        client = _jira(args)
        order, graph = read_backlog(client, jql, args.include_done)
        return order, graph, client, jql
    keys, issues = load_issues(args.issues)
    return read_order(args.order, keys, args.issues), blocks_graph(issues, include_done=args.include_done), None, "(offline)"


def _add_source(a: argparse.ArgumentParser, offline_only: bool = False) -> None:
    """Add --jql (the profile's Jira) and/or --issues/--order (offline) to a subcommand."""
    if offline_only:
        a.add_argument("--issues", required=True, help="'demo', a .json/.jsonl(.gz) file or a directory of .json")
    else:
        src = a.add_mutually_exclusive_group(required=True)
        src.add_argument("--jql", help="the backlog on the profile's Jira, e.g. 'project = DEMO ORDER BY Rank ASC'")
        src.add_argument("--issues", help="OFFLINE: 'demo', a .json/.jsonl(.gz) file or a directory of .json")
    a.add_argument("--order", help="with --issues: file of issue keys, top of the backlog first (default: input order)")
    a.add_argument("--include-done", action="store_true", help="also count blockers that are done")


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``rank`` command group."""
    from labkit.cli_output import add_format_option

    p = sub.add_parser("rank", help="rank blockers above what they block: violations, minimal plan, apply, undo")
    rs = p.add_subparsers(dest="rank_command", metavar="ACTION", required=True)

    a = rs.add_parser("violations", help="every issue ranked above something that blocks it, and cycles")
    _add_source(a)
    add_format_option(a)
    a.set_defaults(func=_violations)

    a = rs.add_parser("plan", help="the fewest moves that fix every violation (a dry run: nothing is sent)")
    _add_source(a)
    a.add_argument("--calls", action="store_true", help="list the rank calls instead of the moves")
    a.add_argument("--baseline", action="store_true", help="compare with the one-call-per-violated-link script")
    add_format_option(a)
    a.set_defaults(func=_plan)

    a = rs.add_parser("apply", help="send the plan's rank calls to the profile's Jira, undo journal first")
    a.add_argument("--jql", required=True, help="the backlog, e.g. 'project = DEMO ORDER BY Rank ASC'")
    a.add_argument("--journal", required=True, help="undo journal to write (must not hold an apply not undone)")
    a.add_argument("--include-done", action="store_true", help="also count blockers that are done")
    add_format_option(a)
    a.set_defaults(func=_apply)

    a = rs.add_parser("undo", help="put the backlog back in the order an apply's journal recorded")
    a.add_argument("--journal", required=True, help="the undo journal that 'labkit rank apply' wrote")
    add_format_option(a)
    a.set_defaults(func=_undo)

    a = rs.add_parser("rehearse", help="OFFLINE: apply the plan and undo it on an in-memory backlog")
    _add_source(a, offline_only=True)
    a.add_argument("--journal", help="undo journal path (default: a temporary file)")
    add_format_option(a)
    a.set_defaults(func=_rehearse)


def _close(client: Any) -> None:
    """Close a Jira client (None for offline runs)."""
    if client is not None:
        client.close()


def _violations(args: argparse.Namespace) -> int:
    """Run ``labkit rank violations``: the violations table; cycles on stderr."""
    from labkit.cli_output import print_rows
    from labkit.rank import violations

    order, graph, client, _ = _source(args)
    _close(client)
    report = violations(order, graph)
    print_rows(report.violations, args.format, ["issue", "position", "blocker", "blocker_position", "direct"])
    print(f"{len(report)} violation(s), {len(report.cycles)} cycle(s) in {len(order)} issues", file=sys.stderr)
    for c in report.cycles:
        print(f"blocking cycle (cannot be satisfied): {c.name}", file=sys.stderr)
    return 0


def _plan(args: argparse.Namespace) -> int:
    """Run ``labkit rank plan``: a dry run; the moves (or calls, or the baseline comparison) on stdout."""
    from labkit.cli_output import print_rows
    from labkit.rank import baseline_plan, plan_moves, violations

    order, graph, client, jql = _source(args)
    _close(client)
    report = violations(order, graph)
    plan = plan_moves(order, graph, jql=jql)
    where = "offline" if client is None else f"on {client.url}"
    print(f"{len(order)} issues, {len(graph.links)} blocking links, {len(report)} violation(s), "
          f"{len(report.cycles)} cycle(s) {where}; plan: {len(plan.moves)} move(s) in {len(plan.calls)} "
          "rank call(s). Dry run: nothing was sent.", file=sys.stderr)
    for c in report.cycles:
        print(f"blocking cycle (cannot be satisfied): {c.name}", file=sys.stderr)
    if args.baseline:
        base = baseline_plan(order, graph)
        rows = [{"method": "labkit", "moves": len(plan.moves), "rank_calls": len(plan.calls)},
                {"method": "baseline (one call per violated link)", "moves": base.moves,
                 "rank_calls": len(base.calls)}]
        print_rows(rows, args.format, ["method", "moves", "rank_calls"])
    elif args.calls:
        print_rows([{"call": n + 1, **c.body()} for n, c in enumerate(plan.calls)], args.format,
                   ["call", "issues", "rankBeforeIssue", "rankAfterIssue"])
    else:
        print_rows(plan.moves, args.format, ["issue", "from_pos", "to_pos", "direction", "blocker", "blocked"])
    return 0


def _apply(args: argparse.Namespace) -> int:
    """Run ``labkit rank apply``: plan, write the journal, send the calls, re-read, report what is left."""
    from labkit.cli_output import print_rows
    from labkit.rank import apply, load_journal, plan_moves

    journal = Path(args.journal)
    if journal.is_dir() or not journal.resolve().parent.is_dir():
        raise RankError(f"cannot write the undo journal {journal}", hint="pass a file path in an existing folder")
    if journal.exists() and load_journal(journal).get("status") != "undone":
        raise RankError(f"undo journal {journal} already holds an apply that was not undone",
                        hint=f"run 'labkit rank undo --journal {journal}' first, or pass a new --journal")
    jql = backlog_jql(args.jql)
    client = _jira(args)
    try:
        order, graph = read_backlog(client, jql, args.include_done)
        plan = plan_moves(order, graph, jql=jql)
        if not plan.calls:
            print(f"nothing to apply: no violation a move can fix in {len(order)} issues "
                  f"({len(plan.cycles)} blocking cycle(s)); no journal written", file=sys.stderr)
            return 0
        print(f"applying {len(plan.moves)} move(s) in {len(plan.calls)} rank call(s) on {client.url}; "
              f"undo journal {journal}", file=sys.stderr)
        result = apply(plan, client, journal, jql=jql)
    finally:
        client.close()
    print_rows([{"moves": len(plan.moves), "rank_calls": result.calls_sent, "rounds": result.rounds,
                 "refused": len(result.failures), "violations_left": result.remaining_violations,
                 "ok": result.ok, "journal": result.journal}],
               args.format, ["moves", "rank_calls", "rounds", "refused", "violations_left", "ok", "journal"])
    if not result.ok:
        raise RankError(f"{result.remaining_violations} violation(s) left after {result.rounds} round(s)",
                        hint=f"see the table above; 'labkit rank undo --journal {journal}' restores the order")
    return 0


def _undo(args: argparse.Namespace) -> int:
    """Run ``labkit rank undo``: restore the journal's order on the profile's Jira and check it issue by issue."""
    from labkit.cli_output import print_rows
    from labkit.rank import load_journal, undo

    if not Path(args.journal).is_file():
        raise RankError(f"undo journal {args.journal} does not exist",
                        hint="pass the --journal file that 'labkit rank apply' wrote")
    data = load_journal(args.journal)      # a foreign or broken file is a one-line error before any call
    if data.get("jql") == "(offline)":
        raise RankError(f"{args.journal} is the journal of an OFFLINE rehearsal",
                        hint="only a journal written by 'labkit rank apply' can be undone on a Jira")
    client = _jira(args)
    try:
        result = undo(args.journal, client)
    finally:
        client.close()
    print_rows([{"rank_calls": result.calls_sent, "rounds": result.rounds, "refused": len(result.failures),
                 "restored": result.restored, "mismatches": len(result.mismatches)}],
               args.format, ["rank_calls", "rounds", "refused", "restored", "mismatches"])
    if not result.restored:
        first = result.mismatches[0]
        raise RankError(f"undo incomplete: {len(result.mismatches)} position(s) differ (first: position "
                        f"{first['position']} is {first['actual']}, was {first['expected']})",
                        hint=f"run 'labkit rank undo --journal {args.journal}' again")
    return 0


def _rehearse(args: argparse.Namespace) -> int:
    """Run ``labkit rank rehearse``: OFFLINE apply + undo on an in-memory backlog."""
    from labkit.cli_output import print_rows
    from labkit.rank.apply import rehearse

    if args.journal and (Path(args.journal).is_dir() or not Path(args.journal).resolve().parent.is_dir()):
        raise RankError(f"cannot write the undo journal {args.journal}", hint="pass a file path in an existing folder")
    order, graph, _, _ = _source(args)
    print("OFFLINE rehearsal on an in-memory backlog (ListRankClient): no server is contacted", file=sys.stderr)
    result = rehearse(order, graph, args.journal)
    print_rows(result.rows(), args.format, ["step", "rank_calls", "violations_left", "ok"])
    if result.journal:
        print(f"undo journal: {result.journal}", file=sys.stderr)
    return 0 if result.ok else 1
