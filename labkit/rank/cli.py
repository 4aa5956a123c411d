"""``labkit rank violations|plan|rehearse``: rank analysis of a backlog from REST issue JSON, offline.

    labkit rank violations --issues demo
    labkit rank plan --issues dump.jsonl.gz --order backlog.txt --calls
    labkit rank rehearse --issues demo          # OFFLINE: apply + undo on an in-memory backlog

``--issues`` takes ``demo`` (a built-in demo backlog), a .json file (a list, a search page or one
issue), a .jsonl(.gz) file, or a directory of .json files. ``--order`` is a text file of keys, top
of the backlog first; without it the backlog is the order of the issues in the input.
Until the Jira client lands these commands never talk to a server: ``rehearse`` runs on
:class:`labkit.rank.ListRankClient`, an in-memory backlog, and says so.
"""

from __future__ import annotations

import argparse
import gzip
import json
from pathlib import Path
from typing import Any

from labkit.rank.errors import RankError


def load_issues(source: str) -> tuple[list[str], list[dict[str, Any]]]:
    """Read REST issues from ``demo``, a JSON/JSONL(.gz) file or a directory; return (keys in input order, issues)."""
    if source == "demo":
        from labkit.rank.demo import demo_backlog

        return demo_backlog()
    path = Path(source)
    if not path.exists():
        raise RankError(f"{source} does not exist", hint="pass a .json/.jsonl file, a directory of them, or 'demo'")
    files = sorted(p for p in path.rglob("*") if p.is_file() and p.name.endswith((".json", ".jsonl", ".jsonl.gz"))) \
        if path.is_dir() else [path]
    issues: list[dict[str, Any]] = []
    for f in files:
        try:
            if f.name.endswith((".jsonl", ".jsonl.gz")):
                opener = gzip.open if f.name.endswith(".gz") else open
                with opener(f, "rt", encoding="utf-8") as fh:
                    issues += [json.loads(line) for line in fh if line.strip()]
                continue
            data = json.loads(f.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise RankError(f"{f} is not readable JSON ({exc})", hint="pass REST issue JSON as Jira returns it") from None
        if isinstance(data, dict) and "issues" in data:
            issues += data["issues"]
        elif isinstance(data, dict):
            issues.append(data)
        elif isinstance(data, list):
            issues += data
    issues = [i for i in issues if isinstance(i, dict) and "key" in i]
    if not issues:
        raise RankError(f"no Jira issues found in {source}", hint="each issue needs a 'key' and 'fields'")
    return list(dict.fromkeys(i["key"] for i in issues)), issues


def _order(args: argparse.Namespace, keys: list[str]) -> list[str]:
    """The backlog order: the --order file's keys, or the input order."""
    if not args.order:
        return keys
    try:
        lines = Path(args.order).read_text(encoding="utf-8").split()
    except OSError as exc:
        raise RankError(f"cannot read the order file {args.order} ({exc.strerror})",
                        hint="one issue key per line, top of the backlog first") from None
    return list(dict.fromkeys(lines))


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``rank`` command group."""
    from labkit.cli import add_format_option

    p = sub.add_parser("rank", help="rank violations, minimal re-rank plans, offline rehearsal")
    rs = p.add_subparsers(dest="rank_command", metavar="ACTION", required=True)
    for action, helptext in (("violations", "every issue ranked above something that blocks it, and cycles"),
                             ("plan", "the fewest moves that fix every violation (a dry run: nothing is sent)"),
                             ("rehearse", "OFFLINE: apply the plan and undo it on an in-memory backlog")):
        a = rs.add_parser(action, help=helptext)
        a.add_argument("--issues", required=True, help="'demo', a .json/.jsonl(.gz) file or a directory of .json")
        a.add_argument("--order", help="file of issue keys, top of the backlog first (default: input order)")
        a.add_argument("--include-done", action="store_true", help="also count blockers that are done")
        if action == "plan":
            a.add_argument("--calls", action="store_true", help="list the rank calls instead of the moves")
            a.add_argument("--baseline", action="store_true",
                           help="compare with the one-call-per-violated-link script")
        if action == "rehearse":
            a.add_argument("--journal", help="undo journal path (default: a temporary file)")
        add_format_option(a)
        a.set_defaults(func=_run, action=action)


def _run(args: argparse.Namespace) -> int:
    """Run one rank action and print its table."""
    import sys

    from labkit.cli import print_rows
    from labkit.rank import ListRankClient, apply, baseline_plan, blocks_graph, plan_moves, undo, violations

    keys, issues = load_issues(args.issues)
    order = _order(args, keys)
    graph = blocks_graph(issues, include_done=args.include_done)
    if args.action == "violations":
        report = violations(order, graph)
        print_rows(report.violations, args.format, ["issue", "position", "blocker", "blocker_position", "direct"])
        for c in report.cycles:
            print(f"blocking cycle (cannot be satisfied): {c.name}", file=sys.stderr)
        return 0
    plan = plan_moves(order, graph, jql="(offline)")
    if args.action == "plan":
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
    import tempfile

    journal = args.journal or str(Path(tempfile.mkdtemp(prefix="labkit-rank-")) / "rank-undo.json")
    print("OFFLINE rehearsal on an in-memory backlog (ListRankClient): no server is contacted", file=sys.stderr)
    client = ListRankClient(order)
    result = apply(plan, client, journal, jql="(offline)")
    left = len(violations(client.backlog_order("(offline)"), graph))
    back = undo(journal, client)
    print_rows([{"step": "apply", "rank_calls": result.calls_sent, "violations_left": left, "ok": result.ok},
                {"step": "undo", "rank_calls": back.calls_sent, "violations_left": len(violations(client.keys, graph)),
                 "ok": back.restored and client.keys == order}],
               args.format, ["step", "rank_calls", "violations_left", "ok"])
    print(f"undo journal: {journal}", file=sys.stderr)
    return 0 if result.ok and back.restored else 1
