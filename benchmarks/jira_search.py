"""Benchmark: labkit JiraClient.search vs pycontribs jira search_issues(maxResults=False) into a DataFrame.

    .venv/bin/python benchmarks/jira_search.py            # 20,000 issues, Server/DC mode
    .venv/bin/python benchmarks/jira_search.py --quick    # 2,000 issues, smoke run
    .venv/bin/python benchmarks/jira_search.py --mode cloud

The Jira sandbox runs in its own process. Each client runs in a fresh child process and
reports its wall time, its CPU time (user+system, all threads) and its peak memory growth
(peak RSS minus RSS before the search). The sandbox's caches (issue JSON per field selection) are warmed for both
clients' requests first so that
neither side pays for it. Printed: each measurement and the ratios pycontribs / labkit.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import secrets
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

JQL = "ORDER BY key ASC"
GOALS = {"wall": 3.0, "cpu": 5.0, "memory": 2.0}


def _rss_kb() -> int:
    """Return this process's resident memory in KiB."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def run_client(kind: str, url: str, jql: str, mode: str) -> dict[str, float]:
    """Run one search in this (fresh) process and return its measurements."""
    import pandas as pd  # noqa: F401 - imported before the baseline so both sides pay it equally

    secret = os.environ["LABKIT_SANDBOX_SECRET"]
    if kind == "labkit":
        from labkit.jira.client import JiraClient

        client = JiraClient(url, ("admin", secret), progress=False)
        client.server_info()
        client.rank_field  # noqa: B018 - metadata calls happen before timing on both sides
    else:
        from jira import JIRA

        from labkit.jira.client.rest import normalise, to_dataframe

        client = JIRA(url, basic_auth=("admin", secret), options={"check_update": False})
    base_rss = _rss_kb()
    r0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.perf_counter()
    if kind == "labkit":
        df = client.search(jql)
    elif mode == "cloud":
        issues = client.enhanced_search_issues(jql, maxResults=False)
        df = to_dataframe([normalise(i.raw) for i in issues])
    else:
        issues = client.search_issues(jql, maxResults=False)
        df = to_dataframe([normalise(i.raw) for i in issues])
    wall = time.perf_counter() - t0
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    peak = r1.ru_maxrss  # KiB on Linux
    return {"rows": len(df), "unique": int(df["key"].nunique()), "wall": wall, "cpu": cpu,
            "mem_mb": max(peak - base_rss, 1) / 1024}


def child(kind: str, url: str, jql: str, mode: str, env: dict[str, str]) -> dict[str, float]:
    """Run one client in a fresh interpreter and return its JSON result."""
    out = subprocess.run([sys.executable, __file__, "--client", kind, "--url", url, "--jql", jql, "--mode", mode],
                         env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def wait_ready(url: str, proc: subprocess.Popen, timeout: float = 600) -> None:
    """Wait until the sandbox answers /status."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            tail = proc.stderr.read().decode(errors="replace").strip().splitlines()[-5:] if proc.stderr else []
            raise SystemExit(f"sandbox exited with {proc.returncode}: " + " | ".join(tail))
        try:
            with urllib.request.urlopen(url + "/status", timeout=2):  # noqa: S310 - loopback
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit("sandbox did not start")


def main() -> int:
    """Start the sandbox, run both clients, print measurements and ratios."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="2,000 issues instead of 20,000")
    p.add_argument("--issues", type=int, help="number of issues in the sandbox")
    p.add_argument("--mode", choices=("server", "cloud"), default="server")
    p.add_argument("--client", choices=("labkit", "pycontribs"), help=argparse.SUPPRESS)
    p.add_argument("--url", help=argparse.SUPPRESS)
    p.add_argument("--jql", default=JQL, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.client:
        print(json.dumps(run_client(args.client, args.url, args.jql, args.mode)))
        return 0

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from labkit.jira.client import JiraClient
    from labkit.sandbox import free_port

    n = args.issues or (2000 if args.quick else 20000)
    jql = "project is not EMPTY ORDER BY key ASC" if args.mode == "cloud" else JQL
    secret = secrets.token_urlsafe(18)
    env = {**os.environ, "LABKIT_SANDBOX_SECRET": secret}
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    print(f"starting the Jira sandbox ({args.mode} mode, {n:,} issues) on {url} ...", flush=True)
    t = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "labkit.jira.sandbox", "--port", str(port), "--mode", args.mode,
                             "--seed-issues", str(n)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_ready(url, proc)
        print(f"  ready in {time.perf_counter() - t:.1f}s; warming the server's issue cache ...", flush=True)
        warm = JiraClient(url, ("admin", secret), progress=False, page_size=100)
        total = len(warm.search_issues(jql, ["*all"]))   # what pycontribs asks for
        warm.search(jql)                                 # what labkit asks for
        warm.close()
        results = {}
        for kind in ("pycontribs", "labkit"):
            results[kind] = child(kind, url, jql, args.mode, env)
            r = results[kind]
            print(f"  {kind:10s} rows={r['rows']:,} unique={r['unique']:,} wall={r['wall']:.2f}s "
                  f"cpu={r['cpu']:.2f}s peak-mem=+{r['mem_mb']:.1f} MB", flush=True)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    lab, peer = results["labkit"], results["pycontribs"]
    assert lab["rows"] == peer["rows"] == lab["unique"] == total, "both clients must return every issue once"
    ratios = {"wall": peer["wall"] / lab["wall"], "cpu": peer["cpu"] / max(lab["cpu"], 1e-3),
              "memory": peer["mem_mb"] / lab["mem_mb"]}
    print(f"\n{total:,} issues, {args.mode} mode: pycontribs / labkit")
    for name, value in ratios.items():
        goal = GOALS[name]
        verdict = "meets" if value >= goal else "misses"
        print(f"  {name:7s} ratio {value:5.2f}x  (goal >= {goal:g}x: {verdict})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
