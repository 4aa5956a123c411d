"""Benchmark: labkit bulk import vs one pycontribs ``create_issue`` call per ticket (and one link call per link).

    .venv/bin/python benchmarks/bulk_import.py            # 2,000 RT-style tickets with links
    .venv/bin/python benchmarks/bulk_import.py --quick    # 300 tickets, smoke run

Each side imports the same generated tickets into a fresh Jira sandbox running in its own
process: labkit with ``issue/bulk`` batches of 50 whose creates carry the links; the peer as a
hand-written script would, with pycontribs ``create_issue`` and ``create_issue_link``.
Printed: wall time of each phase and the ratio peer / labkit (goal: >= 10x).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

GOAL = 10.0


def fresh_sandbox(run_dir: Path):
    """Start a Jira sandbox with a small seed in its own process; return (url, secret)."""
    os.environ["LABKIT_RUN_DIR"] = str(run_dir)
    import labkit.sandbox as sb

    sb.start(["jira"])
    return sb.url("jira"), sb.secret("jira").reveal()


def stop(run_dir: Path) -> None:
    """Stop the sandbox started in run_dir."""
    import labkit.sandbox as sb

    sb.stop(rd=run_dir)


def run_labkit(url: str, secret: str, tickets, journal: Path) -> dict[str, float]:
    """Import with labkit: bulk create, then links in parallel."""
    from labkit.jira.client import JiraClient
    from labkit.tracker.bulk_import import Mapping, plan_import, run_import

    client = JiraClient(url, ("admin", secret), progress=False)
    client.server_info()
    plan = plan_import(tickets, Mapping(project="OPS"))
    t0 = time.perf_counter()
    result = run_import(plan, client, journal, set_status=False, progress=False)
    total = time.perf_counter() - t0
    assert result.created == len(tickets), result
    return {"total": total, "issues": len(tickets), "links": result.links_created, "batches": result.batches}


def run_peer(url: str, secret: str, tickets) -> dict[str, float]:
    """Import the way a script with pycontribs does: one create_issue per ticket, one call per link."""
    from jira import JIRA

    from labkit.tracker.bulk_import import Mapping, plan_import

    plan = plan_import(tickets, Mapping(project="OPS"))
    client = JIRA(url, basic_auth=("admin", secret), options={"check_update": False})
    t0 = time.perf_counter()
    keys = {}
    for issue in plan.issues:
        keys[issue.source_id] = client.create_issue(fields=issue.fields).key
    t_issues = time.perf_counter() - t0
    for ln in plan.links:
        client.create_issue_link(ln.type, keys[ln.inward], keys[ln.outward])
    total = time.perf_counter() - t0
    return {"total": total, "issues_time": t_issues, "issues": len(keys), "links": len(plan.links)}


def main(argv: list[str] | None = None) -> int:
    """Run both imports and print times and ratios."""
    from labkit.tracker import rt

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="300 tickets instead of 2,000")
    p.add_argument("--tickets", type=int, default=None)
    args = p.parse_args(argv)
    n = args.tickets or (300 if args.quick else 2000)
    tickets = list(rt.generate_tickets(n, seed=42))
    with tempfile.TemporaryDirectory(prefix="labkit-bench-import-") as tmp:
        tmp = Path(tmp)
        results = {}
        for side in ("labkit", "pycontribs"):
            rd = tmp / side
            url, secret = fresh_sandbox(rd)
            try:
                if side == "labkit":
                    results[side] = run_labkit(url, secret, tickets, tmp / "import.journal")
                else:
                    results[side] = run_peer(url, secret, tickets)
            finally:
                stop(rd)
    lk, pc = results["labkit"], results["pycontribs"]
    print(f"bulk import: {n:,} RT-style tickets, {lk['links']:,} links, Jira sandbox in its own process")
    print(f"  pycontribs  create_issue x{pc['issues']:,} + create_issue_link x{pc['links']:,}: "
          f"{pc['total']:.2f}s (issues {pc['issues_time']:.2f}s)")
    print(f"  labkit      issue/bulk x{lk['batches']} (links ride in the creates), journalled: {lk['total']:.2f}s")
    ratio = pc["total"] / lk["total"]
    print(f"  wall ratio pycontribs / labkit: {ratio:.1f}x  (goal >= {GOAL:.0f}x: {'meets' if ratio >= GOAL else 'misses'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
