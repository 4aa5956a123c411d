"""Benchmark: labkit JiraClient.search vs pycontribs jira at its best, and vs the raw floor, into a DataFrame.

    .venv/bin/python benchmarks/jira_search.py                 # 20,000 issues, Server/DC then Cloud mode
    .venv/bin/python benchmarks/jira_search.py --quick         # 2,000 issues, 3 rounds
    .venv/bin/python benchmarks/jira_search.py --mode cloud    # one mode only

The Jira sandbox runs in its own process. Every client runs in a fresh Python process (a user's
fresh kernel), in interleaved rounds (the order alternates each round); medians are printed:
- pycontribs at its best: the same ``fields=`` as labkit (13 fields), ``json_result=True`` (plain
  JSON, no Issue objects), and its largest documented page: ``search_issues(startAt=..,
  maxResults=1000)`` pages on Server/DC, ``enhanced_search_issues(nextPageToken=.., maxResults=1000)``
  on Cloud (the server caps it), issues collected then normalised with labkit's own ``normalise``
  into the same DataFrame;
- labkit: ``JiraClient.search`` (Server/DC: pages of 1000 fetched concurrently; Cloud: ids by token
  paging, then concurrent ``bulkfetch``; msgspec decoding into columns);
- the raw floor: the same requests as labkit's, sent with a bare ``requests.Session`` by the same
  number of threads, each page decoded with ``json.loads`` and nothing else (no DataFrame);
- pycontribs the old naive way (``search_issues(maxResults=False)``: all fields, Issue objects),
  one run, as a labelled second row.
Per client: wall and CPU time (user+system, all threads) of the search, the process's own peak
memory (VmHWM from /proc/self/status) and its growth over the resident size before the search, and
the cold total (fresh process: imports, client creation and server-info calls, then the search).
The search's own peak memory is also taken with tracemalloc, in one more fresh process per client
that is not timed (tracing slows Python down): the largest total of Python and numpy allocations
alive at once between the call's start and its return, the result included. It leaves out what
every side holds before the search (the interpreter, pandas' 72 MB of imported code and its
caches), which VmHWM counts; both figures are printed, and the memory goal is judged on the
search's own peak (tracemalloc), the measure issue 16 names for Python-level allocations.
The sandbox's own cold search is measured too: labkit's first search right after the sandbox
started (its issue cache empty) against the same search repeated (warm), over fresh sandboxes,
with the sandbox process's own CPU for each (/proc/PID/stat): the first search renders every issue.
Goals: pycontribs / labkit >= 3x wall and CPU, the search's own peak memory (tracemalloc) <= 0.5x pycontribs', labkit /
raw floor <= 1.2x wall, sandbox cold <= 1.5x warm; one met / not-met line each, with the load average.
"""

from __future__ import annotations

import time

_T0 = time.perf_counter()  # the child's start: the cold total counts imports from here

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import secrets  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import urllib.request  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
GOALS = {"wall": 3.0, "cpu": 3.0, "memory": 0.5, "raw": 1.2, "sandbox": 1.5}
WORKERS = 4  # labkit's default page workers; the raw floor uses as many


def _status_kb(name: str) -> int:
    """Return a /proc/self/status figure in KiB (VmRSS, VmHWM)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(name + ":"):
                return int(line.split()[1])
    return 0


def _cpu() -> float:
    """User+system CPU seconds of this process (all threads)."""
    t = os.times()
    return t.user + t.system


def _proc_cpu(pid: int) -> float:
    """User+system CPU seconds of another process so far (all its threads; /proc/PID/stat, clock-tick resolution)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()  # after the command name, which may hold spaces
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime: fields 14, 15 of proc(5)


def _fields() -> list[str]:
    """The fields labkit asks for (the peer and the raw floor ask for the same)."""
    sys.path.insert(0, str(ROOT))
    from labkit.jira.client.rest import base_fields

    return base_fields()


def run_labkit(url: str, auth: tuple[str, str], jql: str, mode: str):
    """labkit: JiraClient.search."""
    sys.path.insert(0, str(ROOT))
    from labkit.jira.client import JiraClient

    client = JiraClient(url, auth, progress=False, workers=WORKERS)
    client.server_info()
    client.rank_field  # noqa: B018 - metadata calls happen before timing on every side

    def search():
        """The timed part."""
        return client.search(jql)
    return search


def run_peer(url: str, auth: tuple[str, str], jql: str, mode: str):
    """pycontribs at its best: same fields, json_result=True, pages of 1000, then labkit's normalise."""
    from jira import JIRA

    sys.path.insert(0, str(ROOT))
    from labkit.jira.client.rest import normalise, to_dataframe

    fields = _fields()
    client = JIRA(url, basic_auth=auth, options={"check_update": False})

    def search():
        """The timed part."""
        issues: list[dict] = []
        if mode == "cloud":
            token = None
            while True:
                page = client.enhanced_search_issues(jql, nextPageToken=token, maxResults=1000, fields=list(fields),
                                                     json_result=True)
                issues.extend(page["issues"])
                token = page.get("nextPageToken")
                if not token or page.get("isLast"):
                    break
        else:
            start = 0
            while True:
                page = client.search_issues(jql, startAt=start, maxResults=1000, fields=list(fields), json_result=True)
                issues.extend(page["issues"])
                start += len(page["issues"])
                if not page["issues"] or start >= page["total"]:
                    break
        return to_dataframe([normalise(i) for i in issues])
    return search


def run_naive(url: str, auth: tuple[str, str], jql: str, mode: str):
    """pycontribs the old way: maxResults=False (all fields, Issue objects), then normalise."""
    from jira import JIRA

    sys.path.insert(0, str(ROOT))
    from labkit.jira.client.rest import normalise, to_dataframe

    client = JIRA(url, basic_auth=auth, options={"check_update": False})

    def search():
        """The timed part."""
        if mode == "cloud":
            issues = client.enhanced_search_issues(jql, maxResults=False)
        else:
            issues = client.search_issues(jql, maxResults=False)
        return to_dataframe([normalise(i.raw) for i in issues])
    return search


def run_raw(url: str, auth: tuple[str, str], jql: str, mode: str):
    """The raw floor: labkit's requests with a bare requests.Session and json.loads, no DataFrame."""
    from concurrent.futures import ThreadPoolExecutor

    import requests
    from requests.adapters import HTTPAdapter

    fields = _fields()
    s = requests.Session()
    s.auth = auth
    s.mount("http://", HTTPAdapter(pool_maxsize=WORKERS * 2))

    def post(path: str, body: dict) -> dict:
        """POST JSON, decode the answer with json.loads."""
        r = s.post(url + path, json=body, timeout=120)
        r.raise_for_status()
        return json.loads(r.content)

    def search():
        """The timed part: the same pages as labkit, decoded, counted."""
        with ThreadPoolExecutor(WORKERS) as pool:
            if mode == "cloud":
                ids, token = [], None
                while True:
                    body = {"jql": jql, "fields": ["id"], "maxResults": 5000}
                    if token:
                        body["nextPageToken"] = token
                    page = post("/rest/api/3/search/jql", body)
                    ids += [i["id"] for i in page["issues"]]
                    token = page.get("nextPageToken")
                    if not token:
                        break
                batches = [ids[i:i + 100] for i in range(0, len(ids), 100)]
                pages = list(pool.map(lambda b: post("/rest/api/3/issue/bulkfetch",
                                                     {"issueIdsOrKeys": b, "fields": fields}), batches))
            else:
                first = post("/rest/api/2/search", {"jql": jql, "startAt": 0, "maxResults": 1000, "fields": fields})
                starts = range(len(first["issues"]), first["total"], 1000)
                pages = [first] + list(pool.map(
                    lambda st: post("/rest/api/2/search",
                                    {"jql": jql, "startAt": st, "maxResults": 1000, "fields": fields}), starts))
        return [i for p in pages for i in p["issues"]]
    return search


CLIENTS = {"labkit": run_labkit, "pycontribs": run_peer, "naive": run_naive, "raw": run_raw}


def client_main(kind: str, url: str, jql: str, mode: str, trace: bool = False) -> dict[str, float]:
    """Run one client in this fresh process and return its measurements (with ``trace``, its tracemalloc peak)."""
    import tracemalloc

    import pandas  # noqa: F401 - every side pays for pandas before its baseline

    auth = ("admin", os.environ["LABKIT_SANDBOX_SECRET"])
    search = CLIENTS[kind](url, auth, jql, mode)
    base_kb = _status_kb("VmRSS")
    if trace:
        tracemalloc.start()
    c0, t0 = _cpu(), time.perf_counter()
    out = search()
    wall, cpu = time.perf_counter() - t0, _cpu() - c0
    traced_mb = tracemalloc.get_traced_memory()[1] / 2**20 if trace else float("nan")
    tracemalloc.stop()
    keys = list(out["key"]) if hasattr(out, "columns") else [i["key"] for i in out]
    return {"rows": len(keys), "unique": len(set(keys)), "wall": wall, "cpu": cpu,
            "hwm_mb": _status_kb("VmHWM") / 1024, "growth_mb": max(_status_kb("VmHWM") - base_kb, 0) / 1024,
            "traced_mb": traced_mb, "cold": time.perf_counter() - _T0}


def child(kind: str, url: str, jql: str, mode: str, env: dict[str, str], trace: bool = False) -> dict[str, float]:
    """Run one client in a fresh interpreter and return its JSON result."""
    out = subprocess.run([sys.executable, __file__, "--client", kind, "--url", url, "--jql", jql, "--mode", mode]
                         + (["--trace"] if trace else []), env=env, capture_output=True, text=True)
    if out.returncode:
        raise SystemExit(f"{kind} client failed: {out.stderr.strip()[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def wait_ready(url: str, proc: subprocess.Popen, timeout: float = 900) -> None:
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


class Sandbox:
    """A Jira sandbox in its own process on a free loopback port."""

    def __init__(self, mode: str, n: int, env: dict[str, str]) -> None:
        """Start it and wait until it answers."""
        sys.path.insert(0, str(ROOT))
        from labkit.sandbox import free_port

        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        t = time.perf_counter()
        self.proc = subprocess.Popen([sys.executable, "-m", "labkit.jira.sandbox", "--port", str(port), "--mode", mode,
                                      "--seed-issues", str(n)], env=env, cwd=ROOT, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE)
        try:
            wait_ready(self.url, self.proc)
        except BaseException:
            self.stop()
            raise
        self.ready_s = time.perf_counter() - t

    def stop(self) -> None:
        """Stop the sandbox process."""
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def load() -> str:
    """The 1-minute load average and the CPU count."""
    return f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"


def bench_mode(mode: str, n: int, rounds: int, cold_rounds: int, env: dict[str, str]) -> list[tuple[str, bool, str]]:
    """Measure one mode; print the table and return its goal lines."""
    jql = "project is not EMPTY ORDER BY key ASC" if mode == "cloud" else "ORDER BY key ASC"
    print(f"\n=== {mode} mode, {n:,} issues, JQL {jql!r}", flush=True)
    cold_pairs, cold_cpu = [], []  # (first search, repeated): wall of the client; CPU of the sandbox process
    for k in range(cold_rounds):
        sb = Sandbox(mode, n, env)
        try:
            before = _proc_cpu(sb.proc.pid)
            cold = child("labkit", sb.url, jql, mode, env)
            between = _proc_cpu(sb.proc.pid)
            warm = child("labkit", sb.url, jql, mode, env)
            after = _proc_cpu(sb.proc.pid)
            cold_pairs.append((cold["wall"], warm["wall"]))
            cold_cpu.append((between - before, after - between))
            print(f"  sandbox {k + 1}: ready in {sb.ready_s:.1f}s; labkit's first search {cold['wall']:.2f}s "
                  f"(the sandbox's CPU {between - before:.2f}s), repeated {warm['wall']:.2f}s (its CPU "
                  f"{after - between:.2f}s); {load()}", flush=True)
        finally:
            sb.stop()
    sb = Sandbox(mode, n, env)
    results: dict[str, list[dict[str, float]]] = {"pycontribs": [], "labkit": [], "raw": []}
    try:
        for kind in ("labkit", "pycontribs", "raw", "naive"):  # warm the sandbox's caches for every request shape
            child(kind, sb.url, jql, mode, env)
        naive = child("naive", sb.url, jql, mode, env)
        order = ["pycontribs", "labkit", "raw"]
        for r in range(rounds):
            for kind in (order if r % 2 == 0 else order[::-1]):
                results[kind].append(child(kind, sb.url, jql, mode, env))
            print(f"  round {r + 1}/{rounds} done; {load()}", flush=True)
        traced = {kind: child(kind, sb.url, jql, mode, env, trace=True)["traced_mb"] for kind in order}
    finally:
        sb.stop()
    med = {k: {m: statistics.median(x[m] for x in v) for m in v[0]} for k, v in results.items()}
    for k, v in med.items():
        assert v["rows"] == v["unique"] == n, f"{k} must return every issue once: {v}"
        v["traced_mb"] = traced[k]
    naive["traced_mb"] = float("nan")
    print(f"  medians of {rounds} interleaved rounds (fresh process each); {load()}")
    print(f"  {'client':58} {'wall s':>7} {'CPU s':>7} {'VmHWM MB':>9} {'growth MB':>10} {'search peak MB':>15} "
          f"{'cold total s':>13}")
    rows = [("pycontribs at its best (same fields, json_result=True, 1000/page)", med["pycontribs"]),
            ("labkit JiraClient.search", med["labkit"]),
            ("raw floor (bare requests, labkit's pages, json.loads only)", med["raw"]),
            ("pycontribs old naive (maxResults=False, *all, Issue objects; 1 run)", naive)]
    for name, v in rows:
        print(f"  {name:58} {v['wall']:7.2f} {v['cpu']:7.2f} {v['hwm_mb']:9.0f} {v['growth_mb']:10.0f} "
              f"{v['traced_mb']:15.1f} {v['cold']:13.2f}")
    peer, lab, raw = med["pycontribs"], med["labkit"], med["raw"]
    wall, cpu = peer["wall"] / lab["wall"], peer["cpu"] / max(lab["cpu"], 1e-3)
    mem, floor = lab["traced_mb"] / peer["traced_mb"], lab["wall"] / raw["wall"]
    hwm = lab["hwm_mb"] / peer["hwm_mb"]
    sandbox = statistics.median(c / w for c, w in cold_pairs) if cold_pairs else float("nan")
    print(f"  pycontribs / labkit: wall {wall:.2f}x, CPU {cpu:.2f}x; labkit / pycontribs: the search's own peak "
          f"(tracemalloc) {mem:.2f}x, process peak VmHWM {hwm:.2f}x, VmHWM growth "
          f"{lab['growth_mb'] / max(peer['growth_mb'], 1e-3):.2f}x; labkit / raw floor wall {floor:.2f}x, "
          f"CPU {lab['cpu'] / max(raw['cpu'], 1e-3):.2f}x")
    print(f"  old naive pycontribs / labkit: wall {naive['wall'] / lab['wall']:.1f}x, CPU "
          f"{naive['cpu'] / max(lab['cpu'], 1e-3):.1f}x, peak memory labkit/naive {lab['hwm_mb'] / naive['hwm_mb']:.2f}x")
    return [
        (f"{mode}: pycontribs / labkit wall >= {GOALS['wall']:g}x", wall >= GOALS["wall"], f"{wall:.2f}x"),
        (f"{mode}: pycontribs / labkit client CPU >= {GOALS['cpu']:g}x", cpu >= GOALS["cpu"], f"{cpu:.2f}x"),
        (f"{mode}: labkit search's own peak memory (tracemalloc) <= {GOALS['memory']:g}x pycontribs'",
         mem <= GOALS["memory"], f"{mem:.2f}x; whole process VmHWM {hwm:.2f}x"),
        (f"{mode}: labkit / raw fetch+parse wall <= {GOALS['raw']:g}x", floor <= GOALS["raw"], f"{floor:.2f}x"),
        (f"{mode}: sandbox cold search <= {GOALS['sandbox']:g}x warm", sandbox <= GOALS["sandbox"],
         f"{sandbox:.2f}x over {len(cold_pairs)} fresh sandboxes" + (
             f"; the sandbox's own CPU for the first search {statistics.median(c for c, _ in cold_cpu):.2f}s, for "
             f"the repeated one {statistics.median(w for _, w in cold_cpu):.2f}s" if cold_cpu else "")),
    ]


def main() -> int:
    """Start the sandbox per mode, run every client, print measurements, ratios and goals."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="2,000 issues, 3 rounds, 1 cold sandbox")
    p.add_argument("--issues", type=int, help="number of issues in the sandbox")
    p.add_argument("--rounds", type=int, help="interleaved rounds (default 5)")
    p.add_argument("--cold-rounds", type=int, help="fresh sandboxes for the cold search (default 3)")
    p.add_argument("--mode", choices=("server", "cloud", "both"), default="both")
    p.add_argument("--client", choices=tuple(CLIENTS), help=argparse.SUPPRESS)
    p.add_argument("--url", help=argparse.SUPPRESS)
    p.add_argument("--jql", help=argparse.SUPPRESS)
    p.add_argument("--trace", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.client:
        print(json.dumps(client_main(args.client, args.url, args.jql, args.mode, args.trace)))
        return 0
    n = args.issues or (2000 if args.quick else 20000)
    rounds = args.rounds or (3 if args.quick else 5)
    cold_rounds = args.cold_rounds if args.cold_rounds is not None else (1 if args.quick else 3)
    env = {**os.environ, "LABKIT_SANDBOX_SECRET": secrets.token_urlsafe(18), "PYTHONPATH": str(ROOT)}
    goals = []
    for mode in (("server", "cloud") if args.mode == "both" else (args.mode,)):
        goals += bench_mode(mode, n, rounds, cold_rounds, env)
    print()
    for text, ok, detail in goals:
        print(f"goal {text}: {'met' if ok else 'NOT met'} ({detail}); {load()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
