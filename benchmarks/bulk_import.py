"""Benchmark: labkit bulk import vs pycontribs at its best (batched ``create_issues`` + one call per link).

    .venv/bin/python benchmarks/bulk_import.py            # 2,000 RT-style tickets with links, 3 rounds
    .venv/bin/python benchmarks/bulk_import.py --quick    # 300 tickets, 1 round

Each side imports the same generated tickets into a fresh Jira sandbox (its own process, started
anew for every run) from a fresh Python process (its imports counted in the cold total):
- labkit: ``run_import`` (label look-up of what already exists, ``issue/bulk`` batches of 50 whose
  creates carry the links to issues made earlier, the other links in parallel, a journal fsynced
  at every step so a killed run resumes);
- pycontribs at its best: ``create_issues(field_list, prefetch=False)`` in batches of 50 (the server's
  ``issue/bulk`` limit; prefetch would GET every issue back), then one ``create_issue_link`` per link
  as its API offers (it reads the link types before each one);
- the raw floor: labkit's own bulk calls (the same batches, links riding in the creates, the other
  links by 4 threads) sent with a bare ``requests.Session``: no journal, no look-up of existing issues;
- pycontribs the old naive way (``create_issue`` per ticket, default ``prefetch=True``, plus one call
  per link), one run, as a labelled second row.
Interleaved rounds (the order alternates), medians printed, with wall and CPU time of the import,
the process's own peak memory (VmHWM) and the load average. Goals: pycontribs / labkit >= 5x wall,
labkit / raw floor <= 1.3x wall.
"""

from __future__ import annotations

import time

_T0 = time.perf_counter()

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
GOALS = {"peer": 5.0, "raw": 1.3}


def _hwm_mb() -> float:
    """This process's peak resident memory (VmHWM) in MB."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def _cpu() -> float:
    """User+system CPU seconds of this process."""
    t = os.times()
    return t.user + t.system


def _plan(n: int):
    """The import plan of the benchmark's tickets (the same for every side)."""
    from labkit.tracker import rt
    from labkit.tracker.bulk_import import Mapping, plan_import

    return plan_import(list(rt.generate_tickets(n, seed=42)), Mapping(project="OPS"))


def side_labkit(url: str, auth: tuple[str, str], n: int, tmp: Path):
    """labkit's run_import, journalled."""
    from labkit.jira.client import JiraClient
    from labkit.tracker.bulk_import import run_import

    plan = _plan(n)
    client = JiraClient(url, auth, progress=False)
    client.server_info()

    def go() -> dict:
        """The timed part."""
        result = run_import(plan, client, tmp / "import.journal", set_status=False, progress=False)
        return {"issues": result.created, "links": result.links_created, "calls": result.batches}
    return go


def side_peer(url: str, auth: tuple[str, str], n: int, tmp: Path):
    """pycontribs: create_issues(prefetch=False) by 50, then create_issue_link per link."""
    from jira import JIRA

    plan = _plan(n)
    client = JIRA(url, basic_auth=auth, options={"check_update": False})

    def go() -> dict:
        """The timed part."""
        keys: dict[str, str] = {}
        for i in range(0, len(plan.issues), 50):
            batch = plan.issues[i:i + 50]
            made = client.create_issues([dict(p.fields) for p in batch], prefetch=False)
            for p, m in zip(batch, made, strict=True):
                if m["status"] != "Success":
                    raise SystemExit(f"pycontribs create_issues refused {p.source_id}: {m['error']}")
                keys[p.source_id] = m["issue"].key
        for ln in plan.links:
            client.create_issue_link(ln.type, keys[ln.inward], keys[ln.outward])
        return {"issues": len(keys), "links": len(plan.links), "calls": -(-len(plan.issues) // 50) + len(plan.links)}
    return go


def side_naive(url: str, auth: tuple[str, str], n: int, tmp: Path):
    """pycontribs the old way: create_issue per ticket (prefetch=True), then create_issue_link per link."""
    from jira import JIRA

    plan = _plan(n)
    client = JIRA(url, basic_auth=auth, options={"check_update": False})

    def go() -> dict:
        """The timed part."""
        keys = {p.source_id: client.create_issue(fields=dict(p.fields)).key for p in plan.issues}
        for ln in plan.links:
            client.create_issue_link(ln.type, keys[ln.inward], keys[ln.outward])
        return {"issues": len(keys), "links": len(plan.links), "calls": len(plan.issues) * 2 + len(plan.links)}
    return go


def side_raw(url: str, auth: tuple[str, str], n: int, tmp: Path):
    """The raw floor: labkit's bulk calls with a bare requests.Session (no journal, no look-up)."""
    from concurrent.futures import ThreadPoolExecutor

    import requests
    from requests.adapters import HTTPAdapter

    from labkit.tracker.bulk_import import _batches

    plan = _plan(n)
    s = requests.Session()
    s.auth = auth
    s.mount("http://", HTTPAdapter(pool_maxsize=8))

    def go() -> dict:
        """The timed part."""
        touching: dict[str, list] = {}
        for ln in plan.links:
            touching.setdefault(ln.inward, []).append(ln)
            touching.setdefault(ln.outward, []).append(ln)
        keys: dict[str, str] = {}
        done: set[str] = set()
        calls = 0
        for batch in _batches(list(plan.issues), touching):
            updates = []
            for p in batch:
                ops = []
                for ln in touching.get(p.source_id, ()):
                    other = ln.outward if ln.inward == p.source_id else ln.inward
                    if ln.link_id not in done and other in keys:
                        side = "outwardIssue" if ln.inward == p.source_id else "inwardIssue"
                        ops.append({"add": {"type": {"name": ln.type}, side: {"key": keys[other]}}})
                        done.add(ln.link_id)
                updates.append({"fields": p.fields, **({"update": {"issuelinks": ops}} if ops else {})})
            r = s.post(url + "/rest/api/2/issue/bulk", json={"issueUpdates": updates}, timeout=120)
            r.raise_for_status()
            keys.update(zip((p.source_id for p in batch), (i["key"] for i in r.json()["issues"]), strict=True))
            calls += 1
        rest = [ln for ln in plan.links if ln.link_id not in done]

        def link(ln) -> None:
            """POST one issueLink."""
            s.post(url + "/rest/api/2/issueLink", json={"type": {"name": ln.type}, "inwardIssue": {"key": keys[ln.inward]},
                                                         "outwardIssue": {"key": keys[ln.outward]}},
                   timeout=120).raise_for_status()
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(link, rest))
        return {"issues": len(keys), "links": len(plan.links), "calls": calls + len(rest)}
    return go


SIDES = {"labkit": side_labkit, "pycontribs": side_peer, "naive": side_naive, "raw": side_raw}


def child_main(kind: str, url: str, n: int) -> dict:
    """Run one side in this fresh process and return its measurements."""
    auth = ("admin", os.environ["LABKIT_SANDBOX_SECRET"])
    with tempfile.TemporaryDirectory(prefix="labkit-bench-import-") as tmp:
        go = SIDES[kind](url, auth, n, Path(tmp))
        c0, t0 = _cpu(), time.perf_counter()
        out = go()
        out.update(wall=time.perf_counter() - t0, cpu=_cpu() - c0, hwm_mb=_hwm_mb(), cold=time.perf_counter() - _T0)
    return out


def run_side(kind: str, n: int) -> dict:
    """Start a fresh sandbox, run one side against it in a fresh process, stop the sandbox."""
    import labkit.sandbox as sb

    with tempfile.TemporaryDirectory(prefix="labkit-bench-sandbox-") as rd:
        os.environ["LABKIT_RUN_DIR"] = rd
        sb.start(["jira"])
        try:
            env = {**os.environ, "LABKIT_SANDBOX_SECRET": sb.secret("jira").reveal(), "PYTHONPATH": str(ROOT)}
            out = subprocess.run([sys.executable, __file__, "--side", kind, "--url", sb.url("jira"), "--tickets", str(n)],
                                 env=env, capture_output=True, text=True)
        finally:
            sb.stop(rd=Path(rd))
    if out.returncode:
        raise SystemExit(f"{kind} failed: {out.stderr.strip()[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def load() -> str:
    """The 1-minute load average and the CPU count."""
    return f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"


def main(argv: list[str] | None = None) -> int:
    """Run every side in interleaved rounds and print times, ratios and goals."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="300 tickets, 1 round")
    p.add_argument("--tickets", type=int, default=None)
    p.add_argument("--rounds", type=int, default=None)
    p.add_argument("--side", choices=tuple(SIDES), help=argparse.SUPPRESS)
    p.add_argument("--url", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    n = args.tickets or (300 if args.quick else 2000)
    if args.side:
        print(json.dumps(child_main(args.side, args.url, n)))
        return 0
    rounds = args.rounds or (1 if args.quick else 3)
    results: dict[str, list[dict]] = {"pycontribs": [], "labkit": [], "raw": []}
    order = list(results)
    for r in range(rounds):
        for kind in (order if r % 2 == 0 else order[::-1]):
            results[kind].append(run_side(kind, n))
        print(f"round {r + 1}/{rounds} done; {load()}", flush=True)
    naive = run_side("naive", n)
    med = {k: {m: statistics.median(x[m] for x in v) for m in v[0]} for k, v in results.items()}
    lk = med["labkit"]
    print(f"\nbulk import: {n:,} RT-style tickets, {int(lk['links']):,} links, a fresh Jira sandbox per run; "
          f"medians of {rounds} interleaved rounds; {load()}")
    print(f"  {'side':66} {'wall s':>7} {'CPU s':>6} {'calls':>6} {'VmHWM MB':>9} {'cold s':>7}")
    rows = [("pycontribs at its best: create_issues(prefetch=False) by 50 + create_issue_link", med["pycontribs"]),
            ("labkit run_import: issue/bulk with links in the creates, journalled", lk),
            ("raw floor: labkit's bulk calls with bare requests, no journal", med["raw"]),
            ("pycontribs old naive: create_issue (prefetch=True) + links; 1 run", naive)]
    for name, v in rows:
        print(f"  {name[:66]:66} {v['wall']:7.2f} {v['cpu']:6.2f} {int(v['calls']):6,} {v['hwm_mb']:9.0f} {v['cold']:7.2f}")
    peer, floor = med["pycontribs"]["wall"] / lk["wall"], lk["wall"] / med["raw"]["wall"]
    print(f"  pycontribs / labkit wall {peer:.2f}x (old naive {naive['wall'] / lk['wall']:.1f}x); labkit / raw floor "
          f"wall {floor:.2f}x, CPU {lk['cpu'] / max(med['raw']['cpu'], 1e-3):.2f}x")
    print(f"goal pycontribs / labkit >= {GOALS['peer']:g}x: {'met' if peer >= GOALS['peer'] else 'NOT met'} "
          f"({peer:.2f}x); {load()}")
    print(f"goal labkit / raw floor <= {GOALS['raw']:g}x: {'met' if floor <= GOALS['raw'] else 'NOT met'} "
          f"({floor:.2f}x); {load()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
