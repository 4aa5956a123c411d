"""Offline JQL on the local store vs a pandas str.contains/regex scan of the same issues, side by side.

Run: .venv/bin/python benchmarks/jql_offline.py [--quick] [--generated N]

Datasets: the 29,057 real Appcelerator issues (/work/shared/data/jira/appcelerator-jira-archive)
and a generated tracker (1,000,000 issues by default; --quick: 100,000). For each it prints the
import time and, per query kind (phrase, proximity, wildcard, words, field), the median latency of
``Store.count(jql)`` and of the equivalent pandas scan, their ratio and both match counts (the
regex is the closest pandas equivalent; counts may differ where Jira semantics - stems, stop-word
holes - differ from a regex). Goals: >= 20x for text queries, >= 10x for field queries (the store
answers them from the (project, status) index without reading a row), 29k import < 10 s; each
dataset ends with a line per goal saying whether it was met.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from labkit.jira.model import field_texts
from labkit.jira.sandbox.demo import generate  # noqa: E402
from labkit.jira.store import Store  # noqa: E402

APPC = Path(os.environ.get("LABKIT_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data")) / "jira" / "appcelerator-jira-archive"
TEXT = ["summary", "description", "environment", "comment"]


def _rx(p: str) -> re.Pattern[str]:
    """Compile a case-insensitive regex."""
    return re.compile(p, re.I)


# kind -> (JQL, pandas regexes that must all match in one field, or a callable on the frame)
def queries(phrase: tuple[str, str], prefix: str, project: str, status: str) -> dict:
    """Return the benchmark's JQL queries with the regexes of the equivalent pandas scan."""
    a, b = phrase
    return {
        "phrase": (f'text ~ "\\"{a} {b}\\""', [rf"(?<![^\W_]){a}[\W_]+{b}(?![^\W_])"]),
        "proximity": (f'text ~ "\\"{a} {b}\\"~5"',
                      [rf"(?<![^\W_]){a}\w*(?:[\W_]+[^\W_]+){{0,5}}[\W_]+{b}|(?<![^\W_]){b}\w*(?:[\W_]+[^\W_]+){{0,3}}[\W_]+{a}"]),
        "wildcard": (f'text ~ "{prefix}*"', [rf"(?<![^\W_]){prefix}"]),
        "words": (f'text ~ "{a} {b}"', [rf"(?<![^\W_]){a}", rf"(?<![^\W_]){b}"]),
        "field": (f'project = {project} AND status = "{status}"',
                  lambda df: ((df["project"] == project) & (df["status"].str.lower() == status.lower())).sum()),
    }


def pandas_count(df, spec) -> int:
    """The scan: a regex str.contains over each text column (all patterns in the same field)."""
    if callable(spec):
        return int(spec(df))
    hit = None
    for col in TEXT:
        m = None
        for p in spec:
            c = df[col].str.contains(_rx(p), regex=True)
            m = c if m is None else (m & c)
        hit = m if hit is None else (hit | m)
    return int(hit.sum())


def median_ms(fn, repeat: int) -> tuple[float, object]:
    """Run ``fn`` ``repeat`` times; return the median time in ms and its last result."""
    out, times = None, []
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times), out


def _row(it: dict) -> dict:
    """Turn a REST issue into a flat row of the DataFrame the pandas scan searches."""
    f = it["fields"]
    s, d, e, c = field_texts(f)
    return {"key": it["key"], "project": (f.get("project") or {}).get("key"),
            "status": (f.get("status") or {}).get("name"), "summary": s, "description": d,
            "environment": e, "comment": c}


def run(name: str, make_issues, qs: dict, repeat: int, *, stream: bool) -> None:
    """Import the issues (timed), build the pandas frame of the same issues, then time each query both ways."""
    import pandas as pd

    rows: list[dict] = []
    store = Store()
    if stream:  # too many to hold: time producing them alone, then producing + importing
        t, cpu = time.perf_counter(), time.process_time()
        produced = sum(1 for _ in make_issues())
        read_s, read_cpu = time.perf_counter() - t, time.process_time() - cpu

        def tee():
            """Yield the issues to the store while keeping their flat rows for pandas."""
            for it in make_issues():
                rows.append(_row(it))
                yield it

        t, cpu = time.perf_counter(), time.process_time()
        n = store.import_issues(tee())
        import_s = time.perf_counter() - t - read_s
        import_cpu = time.process_time() - cpu - read_cpu
        what = f"generate {read_s:.1f} s; Store.import_issues (minus generating)"
    else:  # JSON lines as read from the archive: import_issues parses them (timed)
        t = time.perf_counter()
        lines = list(make_issues())
        read_s = time.perf_counter() - t
        rows = [_row(json.loads(line)) for line in lines]
        produced = len(lines)
        t, cpu = time.perf_counter(), time.process_time()
        n = store.import_issues(lines)
        import_s, import_cpu = time.perf_counter() - t, time.process_time() - cpu
        del lines
        what = f"read gz {read_s:.1f} s; Store.import_issues of the JSON lines (parse + index)"
    assert n == produced
    df = pd.DataFrame(rows)
    rows.clear()
    print(f"\n== {name}: {n:,} issues; {what} {import_s:.1f} s wall, "
          f"{import_cpu:.1f} s CPU ({n / max(import_s, 1e-9):,.0f} issues/s); load average {os.getloadavg()[0]:.1f} "
          f"on {os.cpu_count()} CPUs")
    print(f"{'query':10} {'store ms':>9} {'pandas ms':>10} {'ratio':>8} {'store n':>8} {'pandas n':>9}  jql")
    ratios = {}
    for kind, (jql, spec) in qs.items():
        store.count(jql)  # warm: the first wildcard query loads the word list
        s_ms, s_n = median_ms(lambda jql=jql: store.count(jql), repeat)
        p_ms, p_n = median_ms(lambda spec=spec: pandas_count(df, spec), max(1, repeat // 2))
        ratios[kind] = p_ms / max(s_ms, 1e-6)
        print(f"{kind:10} {s_ms:9.1f} {p_ms:10.1f} {ratios[kind]:7.0f}x {s_n:8,} {p_n:9,}  {jql}")
    store.close()
    text_min = min(v for k, v in ratios.items() if k != "field")
    print(f"goal text >= 20x the pandas scan: {'met' if text_min >= 20 else 'NOT met'} (lowest {text_min:.0f}x)")
    print(f"goal field >= 10x the pandas scan: {'met' if ratios['field'] >= 10 else 'NOT met'} "
          f"({ratios['field']:.0f}x)")
    if not stream:
        print(f"goal import < 10 s: {'met' if import_s < 10 else 'NOT met'} ({import_s:.1f} s wall, "
              f"{import_cpu:.1f} s CPU, load average {os.getloadavg()[0]:.1f})")


def appc_issues():
    """Yield the real Appcelerator issues' JSON lines."""
    for f in sorted(APPC.glob("*.jsonl.gz")):
        with gzip.open(f, "rt", encoding="utf-8") as fh:
            yield from fh


def main() -> None:
    """Run the benchmark on the real issues and a generated store and print the ratios."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer repeats and a 100,000-issue generated store")
    ap.add_argument("--generated", type=int, default=None, help="size of the generated store")
    args = ap.parse_args()
    repeat = 3 if args.quick else 7
    gen_n = args.generated or (100_000 if args.quick else 1_000_000)
    if APPC.exists():
        run("Appcelerator (real)", appc_issues, queries(("disk", "space"), "sdcard", "TIMOB", "Open"), repeat,
            stream=False)
    else:
        print(f"skipping the real issues: {APPC} is absent")
    run(f"generated (seed 0, {gen_n:,})", lambda: generate(gen_n, seed=0),
        queries(("disk", "space"), "snapsh", "OPS", "In Review"), repeat, stream=True)


if __name__ == "__main__":
    main()
