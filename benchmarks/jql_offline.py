"""Offline JQL: ``Store.search`` into a DataFrame vs a pandas scan and vs hand-written SQL, side by side.

Run: .venv/bin/python benchmarks/jql_offline.py [--quick] [--generated N] [--rounds R]

Datasets: the 29,057 real Appcelerator issues (/work/shared/data/jira/appcelerator-jira-archive)
and a generated tracker (1,000,000 issues by default; --quick: 100,000), each imported from JSON
lines (the real ones as read from the archive, the generated ones written once to a temporary file),
so the import pays for parsing as a user's import of a dump does.

Per query kind (phrase, proximity, wildcard, words, field), in interleaved rounds (median printed):
- ``Store.search(jql)``: the DataFrame notebook users get (what the goals are about);
- the pandas scan: a regex ``str.contains`` over the text columns (or the field comparison) of a
  DataFrame of the same issues already in memory, then ``df[mask]``: the same rows as a frame;
- hand-written SQL: the query a person would write against the store's own tables (FTS5 MATCH,
  the prefix query ``"snapsh" *`` for the wildcard, indexed equality for the field query) with the
  same columns, fetched into ``pandas.DataFrame``: the raw floor;
- ``Store.count(jql)`` next to a pandas count: the old benchmark's figure, kept as its own row.
The first search of each query (the cold one, after import) is printed too. The regex is the
closest pandas equivalent; counts may differ where Jira semantics (stems, stop-word holes) differ
from a regex. Memory: this process's peak (VmHWM) after each dataset. Goals (1M issues): field
query >= 10x the pandas scan, phrase and proximity >= 20x, wildcard within 2x of the FTS5 prefix
query, labkit / hand-written SQL <= 2x on every query; import of the 29k real issues < 5 s and of
1M < 60 s. Each dataset ends with one met / not-met line per goal and the load average.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from labkit.jira.model import field_texts  # noqa: E402
from labkit.jira.sandbox.demo import generate  # noqa: E402
from labkit.jira.store import Store  # noqa: E402

APPC = Path(os.environ.get("LABKIT_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data")) / "jira" / "appcelerator-jira-archive"
TEXT = ["summary", "description", "environment", "comment"]
HAND_SELECT = (
    "SELECT i.key, i.summary, i.status, i.status_category, i.issuetype, i.priority, i.assignee_display, "
    "i.reporter_display, i.created, i.updated, i.resolved, "
    "(SELECT group_concat(value) FROM label WHERE rid = i.rid), "
    "(SELECT group_concat(value) FROM component WHERE rid = i.rid), i.rank, "
    "(SELECT group_concat(src) FROM link WHERE dst = i.key AND outward = 'blocks'), "
    "(SELECT group_concat(dst) FROM link WHERE src = i.key AND outward = 'blocks') FROM issue i ")
HAND_COLUMNS = ["key", "summary", "status", "status_category", "issuetype", "priority", "assignee", "reporter",
                "created", "updated", "resolved", "labels", "components", "rank", "blocked_by", "blocks"]
ORDER = " ORDER BY i.project DESC, i.num DESC"


def vm_hwm_mb() -> float:
    """This process's peak resident memory (VmHWM) in MB."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def load() -> str:
    """The 1-minute load average and the CPU count, for the figures' context."""
    return f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"


def _rx(p: str) -> re.Pattern[str]:
    """Compile a case-insensitive regex."""
    return re.compile(p, re.I)


def queries(phrase: tuple[str, str], prefix: str, project: str, status: str) -> dict:
    """Per kind: (JQL, pandas regexes that must all match in one field or a mask function, hand-written WHERE)."""
    a, b = phrase
    each = " OR ".join(f"{{{c}}} : ({a} AND {b})" for c in TEXT)
    fts = "i.rid IN (SELECT rowid FROM {t} WHERE {t} MATCH '{m}')"
    return {
        "phrase": (f'text ~ "\\"{a} {b}\\""', [rf"(?<![^\W_]){a}[\W_]+{b}(?![^\W_])"],
                   fts.format(t="fts", m=f'"{a} {b}"')),
        "proximity": (f'text ~ "\\"{a} {b}\\"~5"',
                      [rf"(?<![^\W_]){a}\w*(?:[\W_]+[^\W_]+){{0,5}}[\W_]+{b}|(?<![^\W_]){b}\w*(?:[\W_]+[^\W_]+){{0,3}}[\W_]+{a}"],
                      fts.format(t="fts", m=f'NEAR("{a}" "{b}", 5)')),
        "wildcard": (f'text ~ "{prefix}*"', [rf"(?<![^\W_]){prefix}"],
                     fts.format(t="fts_raw", m=f'"{prefix}" *')),
        "words": (f'text ~ "{a} {b}"', [rf"(?<![^\W_]){a}", rf"(?<![^\W_]){b}"], fts.format(t="fts", m=each)),
        "field": (f'project = {project} AND status = "{status}"',
                  lambda df: (df["project"] == project) & (df["status"].str.lower() == status.lower()),
                  f"i.project = '{project}' AND i.status = '{status}'"),
    }


def pandas_mask(df, spec):
    """The scan: a regex str.contains over each text column (all patterns in the same field), or the field mask."""
    if callable(spec):
        return spec(df)
    hit = None
    for col in TEXT:
        m = None
        for p in spec:
            c = df[col].str.contains(_rx(p), regex=True)
            m = c if m is None else (m & c)
        hit = m if hit is None else (hit | m)
    return hit


def hand_sql(store: Store, where: str):
    """The hand-written query into a DataFrame (dates and lists left as SQLite gives them)."""
    import pandas as pd

    return pd.DataFrame(store.db.execute(HAND_SELECT + "WHERE " + where + ORDER).fetchall(), columns=HAND_COLUMNS)


def timed(fn) -> tuple[float, object]:
    """Run ``fn`` once; return (ms, result)."""
    t = time.perf_counter()
    out = fn()
    return (time.perf_counter() - t) * 1000, out


def flat_row(it: dict) -> dict:
    """Turn a REST issue into a flat row of the DataFrame the pandas scan searches."""
    f = it["fields"]
    s, d, e, c = field_texts(f)
    return {"key": it["key"], "project": (f.get("project") or {}).get("key"),
            "status": (f.get("status") or {}).get("name"), "summary": s, "description": d,
            "environment": e, "comment": c}


def run(name: str, lines, rows: list[dict], qs: dict, rounds: int, goal_import_s: float) -> dict:
    """Import the JSON lines (timed), then time each query every way in interleaved rounds; print and check goals."""
    import pandas as pd

    store = Store()
    t, cpu = time.perf_counter(), time.process_time()
    n = store.import_issues(lines)
    import_s, import_cpu = time.perf_counter() - t, time.process_time() - cpu
    import_load = load()
    df = pd.DataFrame(rows)
    rows.clear()
    print(f"\n== {name}: {n:,} issues; Store.import_issues of the JSON lines (parse + index): {import_s:.1f} s wall, "
          f"{import_cpu:.1f} s CPU ({n / max(import_s, 1e-9):,.0f} issues/s); {import_load}", flush=True)
    cold = {kind: timed(lambda jql=jql: store.search(jql))[0] for kind, (jql, _, _) in qs.items()}
    samples: dict[tuple[str, str], list[float]] = {}
    counts: dict[tuple[str, str], int] = {}
    ways = {
        "search": lambda jql, spec, where: store.search(jql),
        "pandas": lambda jql, spec, where: df[pandas_mask(df, spec)],
        "sql": lambda jql, spec, where: hand_sql(store, where),
        "count": lambda jql, spec, where: store.count(jql),
        "pandas count": lambda jql, spec, where: int(pandas_mask(df, spec).sum()),
    }
    for _ in range(rounds):
        for kind, (jql, spec, where) in qs.items():
            for way, fn in ways.items():
                ms, out = timed(lambda fn=fn, jql=jql, spec=spec, where=where: fn(jql, spec, where))
                samples.setdefault((kind, way), []).append(ms)
                counts[(kind, way)] = out if isinstance(out, int) else len(out)
    med = {k: statistics.median(v) for k, v in samples.items()}
    print(f"DataFrame results, median of {rounds} interleaved rounds (ms); {load()}")
    print(f"{'query':10} {'search':>8} {'cold':>8} {'pandas':>9} {'hand SQL':>9} {'pandas/search':>14} "
          f"{'search/SQL':>11} {'rows':>8} {'pandas n':>9} {'SQL n':>7}  jql")
    ratios: dict[str, tuple[float, float]] = {}
    for kind, (jql, _, _) in qs.items():
        s, p, q = med[(kind, "search")], med[(kind, "pandas")], med[(kind, "sql")]
        ratios[kind] = (p / max(s, 1e-6), s / max(q, 1e-6))
        print(f"{kind:10} {s:8.1f} {cold[kind]:8.1f} {p:9.1f} {q:9.1f} {ratios[kind][0]:13.1f}x {ratios[kind][1]:10.2f}x "
              f"{counts[(kind, 'search')]:8,} {counts[(kind, 'pandas')]:9,} {counts[(kind, 'sql')]:7,}  {jql}")
    print("old figure (counts only, as the earlier benchmark measured): Store.count vs a pandas count")
    for kind in qs:
        s, p = med[(kind, "count")], med[(kind, "pandas count")]
        print(f"  {kind:10} count {s:8.1f} ms  pandas count {p:9.1f} ms  ratio {p / max(s, 1e-6):7.1f}x  "
              f"n={counts[(kind, 'count')]:,}")
    hwm = vm_hwm_mb()
    store.close()
    goals = [
        (f"import < {goal_import_s:g} s", import_s < goal_import_s, f"{import_s:.1f} s wall, {import_cpu:.1f} s CPU"),
        ("field query >= 10x the pandas scan", ratios["field"][0] >= 10, f"{ratios['field'][0]:.1f}x"),
        ("phrase >= 20x the pandas scan", ratios["phrase"][0] >= 20, f"{ratios['phrase'][0]:.1f}x"),
        ("proximity >= 20x the pandas scan", ratios["proximity"][0] >= 20, f"{ratios['proximity'][0]:.1f}x"),
        ("wildcard within 2x of the FTS5 prefix query", ratios["wildcard"][1] <= 2, f"{ratios['wildcard'][1]:.2f}x"),
        ("labkit / hand-written SQL <= 2x on every query", all(r[1] <= 2 for r in ratios.values()),
         ", ".join(f"{k} {r[1]:.2f}x" for k, r in ratios.items())),
    ]
    for text, ok, detail in goals:
        print(f"goal {text}: {'met' if ok else 'NOT met'} ({detail})")
    print(f"peak memory of this process (VmHWM, pandas frame + store + benchmark): {hwm:,.0f} MB; {load()}")
    return {"import_s": import_s, "ratios": ratios}


def appc_lines() -> list[str]:
    """The real Appcelerator issues' JSON lines."""
    out: list[str] = []
    for f in sorted(APPC.glob("*.jsonl.gz")):
        with gzip.open(f, "rt", encoding="utf-8") as fh:
            out.extend(fh)
    return out


def main() -> None:
    """Run the benchmark on the real issues and a generated store and print the ratios and goals."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="3 rounds and a 100,000-issue generated store")
    ap.add_argument("--generated", type=int, default=None, help="size of the generated store (0: none)")
    ap.add_argument("--rounds", type=int, default=None, help="interleaved rounds (default 5; --quick 3)")
    ap.add_argument("--skip-real", action="store_true", help="only the generated store")
    args = ap.parse_args()
    rounds = args.rounds or (3 if args.quick else 5)
    gen_n = args.generated if args.generated is not None else (100_000 if args.quick else 1_000_000)
    if args.skip_real:
        pass
    elif APPC.exists():
        lines = appc_lines()
        rows = [flat_row(json.loads(line)) for line in lines]
        run("Appcelerator (real)", lines, rows, queries(("disk", "space"), "sdcard", "TIMOB", "Open"), rounds, 5)
        del lines
    else:
        print(f"skipping the real issues: {APPC} is absent")
    if not gen_n:  # --generated 0: the real issues only
        return
    with tempfile.TemporaryDirectory(prefix="labkit-bench-jql-") as tmp:
        path = Path(tmp) / "generated.jsonl"
        t = time.perf_counter()
        rows = []
        with path.open("w", encoding="utf-8") as fh:
            for it in generate(gen_n, seed=0):
                rows.append(flat_row(it))
                fh.write(json.dumps(it, ensure_ascii=False, separators=(",", ":")) + "\n")
        print(f"\n(generated {gen_n:,} issues as JSON lines, {path.stat().st_size / 1e9:.1f} GB, in "
              f"{time.perf_counter() - t:.0f} s: not timed below)", flush=True)
        with path.open("rb") as fh:
            run(f"generated (seed 0, {gen_n:,})", fh, rows, queries(("disk", "space"), "snapsh", "OPS", "In Review"),
                rounds, 60 * gen_n / 1_000_000)


if __name__ == "__main__":
    main()
