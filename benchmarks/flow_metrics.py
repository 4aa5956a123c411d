"""Benchmark: labkit's flow metrics and forecasts vs a straightforward pandas implementation (groupby/apply per issue).

Data: the demo tracker, 100,000 issues with about 2,000,000 history entries (--quick: 10,000 and
~200,000), flattened once by ``labkit.tracker.history.read_issues`` into an issue frame and a
changelog frame, saved to a temporary folder. Each peer then runs in its own process (so its own
peak memory, VmHWM, is its own), loads the frames and computes every metric once, cold:

- labkit: ``Flow.build`` + the metric, as a first ``df.jira.<metric>(log)`` call pays it;
- pandas: per issue ``groupby("key").apply(...)`` over the status changes, written from the same
  definitions (labkit.tracker.flow's module doc), then pandas/numpy for the per-day counts; the
  forecast as a Python loop over the 10,000 trials, numpy per trial.

Rounds alternate the peers (labkit, pandas, pandas, labkit, ...) and medians are printed side by
side with the ratio, labkit's share of the raw floor (numpy ordering the status changes by issue
and time, which every metric needs), and a check that both peers' answers agree.
Goals: every metric >= 10x faster than the pandas version, and each under 5 s.

    .venv/bin/python benchmarks/flow_metrics.py [--quick] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

METRICS = ["cycle_time", "lead_time", "throughput", "wip", "cumulative_flow", "ageing_wip", "time_in_stage",
           "flow_efficiency", "data_quality", "forecast"]
FORECAST_DAYS, FORECAST_ITEMS, TRIALS, WINDOW = 28, 200, 10_000, 90


def vmhwm_mb() -> float:
    """This process's peak resident memory (VmHWM), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def workflow():
    """The demo data's workflow: To Do / In Progress / In Review (a queue) / Done."""
    from labkit.tracker.workflow import Stage, Workflow

    return Workflow((Stage("To Do", ("Open", "To Do")), Stage("In Progress", ("In Progress",)),
                     Stage("In Review", ("In Review",), active=False), Stage("Done", ("Resolved", "Closed"))),
                    "In Progress", "Done")


# ---------------------------------------------------------------------------------------------- labkit

def run_labkit(frame, log, now):
    """Each metric cold (Flow.build + the metric); return times and answer digests."""
    from labkit.tracker import forecast, metrics
    from labkit.tracker.flow import Flow

    wf = workflow()
    jobs = {
        "cycle_time": lambda f: metrics.cycle_time(f)["cycle_days"],
        "lead_time": lambda f: metrics.lead_time(f)["lead_days"],
        "throughput": lambda f: metrics.throughput(f, "W"),
        "wip": lambda f: metrics.wip(f),
        "cumulative_flow": lambda f: metrics.cumulative_flow(f),
        "ageing_wip": lambda f: metrics.ageing_wip(f)["age_days"],
        "time_in_stage": lambda f: metrics.time_in_stage(f)[wf.names],
        "flow_efficiency": lambda f: metrics.flow_efficiency(f)["waiting_days"],
        "data_quality": lambda f: metrics.data_quality(f).set_index("check")["count"],
        "forecast": lambda f: _labkit_forecast(f, forecast),
    }
    out = {}
    for name, job in jobs.items():
        t0 = time.perf_counter()
        flow = Flow.build(frame, log, wf, now=now)
        answer = job(flow)
        out[name] = (time.perf_counter() - t0, digest(name, answer))
    t0 = time.perf_counter()
    Flow.build(frame, log, wf, now=now)
    out["(Flow.build alone)"] = (time.perf_counter() - t0, None)
    return out


def _labkit_forecast(flow, forecast):
    """How many in 28 days and when 200 items, 10,000 trials each."""
    import pandas as pd

    samples = forecast.throughput_samples(flow, window=WINDOW)
    start = pd.Timestamp(flow.last_day, tz="UTC") + pd.Timedelta(days=1)
    hm = forecast.how_many(samples, days=FORECAST_DAYS, start=start, trials=TRIALS)
    wh = forecast.when(samples, items=FORECAST_ITEMS, start=start, trials=TRIALS)
    return [hm.likely(p) for p in (50, 85, 95)] + [wh.likely(p) for p in (50, 85, 95)]


# ---------------------------------------------------------------------------------------------- pandas

def pandas_stays(frame, log, stage_of, now):
    """Every issue's stays in stages (key, start, end, stage), issue by issue with groupby/apply."""
    import pandas as pd

    st = log[(log["field"].str.lower() == "status") & (log["at"] <= now)].sort_values(["key", "at"], kind="stable")
    created = dict(zip(frame["key"], frame["created"], strict=True))
    first_from = log[log["field"].str.lower() == "status"].sort_values(["key", "at"], kind="stable") \
        .groupby("key")["from"].first()

    def per_issue(g):
        key = g.name
        c = created[key]
        held = stage_of.get(first_from.get(key), -1)
        ats = g["at"].tolist()
        since = min(c, ats[0])
        rows = []
        for at, to in zip(ats, g["to"].tolist(), strict=True):
            rows.append((key, since, at, held))
            held, since = stage_of.get(to, -1), at
        rows.append((key, since, now, held))
        return rows  # plain tuples: a DataFrame per issue would be slower still

    per = st.groupby("key", sort=False)[["at", "to"]].apply(per_issue)
    moved = pd.DataFrame([r for rows in per for r in rows], columns=["key", "start", "end", "stage"])
    still = frame[~frame["key"].isin(set(st["key"]))]
    quiet = pd.DataFrame({"key": still["key"], "start": still["created"], "end": now,
                          "stage": [stage_of.get(first_from.get(k, s), -1) for k, s in zip(still["key"],
                                                                                          still["status"], strict=True)]})
    return pd.concat([moved, quiet], ignore_index=True)


def pandas_points(stays, s_idx, d_idx):
    """Per issue: started, done, unstarted, stage now (groupby/apply over the stays)."""
    import pandas as pd

    def per_issue(g):
        stages, starts = g["stage"].tolist(), g["start"].tolist()
        started = next((a for a, s in zip(starts, stages, strict=True) if s >= s_idx), pd.NaT)
        done = pd.NaT
        if stages[-1] >= d_idx:
            prev = -2
            for a, s in zip(starts, stages, strict=True):
                if s >= d_idx and prev < d_idx:
                    done = a
                prev = s
        unstarted = done is not pd.NaT and not any(s_idx <= s < d_idx for s in stages)
        return (started, done, unstarted, stages[-1], starts[0])

    per = stays.groupby("key", sort=False)[["start", "stage"]].apply(per_issue)
    out = pd.DataFrame(per.tolist(), index=per.index, columns=["started", "done", "unstarted", "now", "created"])
    for c in ("started", "done", "created"):
        out[c] = pd.to_datetime(out[c], utc=True)
    return out


def run_pandas(frame, log, now):
    """Each metric the straightforward pandas way; return times and answer digests."""
    import pandas as pd

    wf = workflow()
    stage_of = {s: i for i, st in enumerate(wf.stages) for s in st.statuses}
    S, D = wf.start_index, wf.done_index
    created = dict(zip(frame["key"], frame["created"], strict=True))

    def points():
        return pandas_points(pandas_stays(frame, log, stage_of, now), S, D)

    def cycle():
        p = points()
        ok = p[p["done"].notna() & p["started"].notna() & ~p["unstarted"].astype(bool)]
        return (ok["done"] - ok["started"]).dt.total_seconds() / 86400

    def lead():
        p = points()
        ok = p[p["done"].notna()]
        return (ok["done"] - pd.Series(created).reindex(ok.index)).dt.total_seconds() / 86400

    def days():
        first = min(frame["created"].min(), log["at"].min()).floor("D")
        last = min(max(frame["created"].max(), log.loc[log["field"].str.lower() == "status", "at"].max()), now).floor("D")
        return pd.date_range(first, last, freq="D")

    def throughput():
        p = points()
        d = p["done"].dropna().dt.floor("D")
        return d.value_counts().reindex(days(), fill_value=0).sort_index().resample("W").sum()

    def cfd():
        stays = pandas_stays(frame, log, stage_of, now)
        last = stays.groupby("key").cumcount(ascending=False) == 0
        stays.loc[last, "end"] = pd.Timestamp("2262-01-01", tz="UTC")
        ticks = pd.DatetimeIndex([min(t + pd.Timedelta(days=1), now) for t in days()])
        data = {}
        for i, name in enumerate(wf.names):
            part = stays[stays["stage"] == i]
            s = part["start"].dt.tz_convert(None).to_numpy(dtype="datetime64[ns]")
            e = part["end"].dt.tz_convert(None).to_numpy(dtype="datetime64[ns]")
            data[name] = [int(((s <= t) & (e > t)).sum()) for t in ticks.tz_convert(None).to_numpy()]
        return pd.DataFrame(data, index=days())

    def wip():
        c = cfd()
        return c[wf.names[S:D]].sum(axis=1)

    def ageing():
        p = points()
        inside = p[(p["now"] >= S) & (p["now"] < D)]
        return (now - inside["started"]).dt.total_seconds() / 86400

    def time_in_stage():
        stays = pandas_stays(frame, log, stage_of, now)
        stays["days"] = (stays["end"] - stays["start"]).dt.total_seconds() / 86400
        t = stays[stays["stage"] >= 0].groupby(["key", "stage"])["days"].sum().unstack(fill_value=0.0)
        t.columns = [wf.names[int(c)] for c in t.columns]
        return t.reindex(columns=wf.names, fill_value=0.0)

    def efficiency():
        stays = pandas_stays(frame, log, stage_of, now)
        p = points()
        ok = p[p["done"].notna() & p["started"].notna() & ~p["unstarted"].astype(bool)]
        flags = log[log["field"].str.lower() == "flagged"].sort_values(["key", "at"], kind="stable")
        periods = {}
        for key, g in flags.groupby("key"):
            on, out = None, []
            for at, to in zip(g["at"], g["to"], strict=True):
                if isinstance(to, str) and to.strip() and on is None:
                    on = at
                elif not (isinstance(to, str) and to.strip()) and on is not None:
                    out.append((on, at))
                    on = None
            if on is not None:
                out.append((on, now))
            periods[key] = out
        inactive = {i for i, st in enumerate(wf.stages) if not st.active}

        window = dict(zip(ok.index, zip(ok["started"], ok["done"], strict=True), strict=True))

        def per_issue(g):
            key = g.name
            w0, w1 = window[key]
            wait = pd.Timedelta(0)
            for a, b, s in zip(g["start"].tolist(), g["end"].tolist(), g["stage"].tolist(), strict=True):
                a0, b0 = max(a, w0), min(b, w1)
                if b0 <= a0:
                    continue
                if s in inactive:
                    wait += b0 - a0
                else:
                    for f0, f1 in periods.get(key, ()):
                        wait += max(pd.Timedelta(0), min(b0, f1) - max(a0, f0))
            return wait.total_seconds() / 86400

        return stays[stays["key"].isin(ok.index)].groupby("key", sort=False)[["start", "end", "stage"]] \
            .apply(per_issue)

    def quality():
        stays = pandas_stays(frame, log, stage_of, now)

        def per_issue(g):
            s = g["stage"].tolist()
            moves = list(zip(s[:-1], s[1:], strict=True))
            ok = [(a, b) for a, b in moves if a >= 0 and b >= 0]
            return (sum(b < a for a, b in ok), sum(a >= D > b for a, b in ok),
                    sum(b - a - 1 for a, b in ok if b > a + 1), len(moves))

        got = stays.groupby("key", sort=False)[["stage"]].apply(per_issue)
        per = pd.DataFrame(got.tolist(), index=got.index, columns=["backward", "reopen", "skipped", "changes"])
        p = points()
        return pd.Series({"backward moves": int(per["backward"].sum()), "reopened": int(per["reopen"].sum()),
                          "skipped stages": int(per["skipped"].sum()),
                          "done without being started": int(p["unstarted"].astype(bool).sum()),
                          "no history": int((per["changes"] == 0).sum())})

    def forecasts():
        p = points()
        d = p["done"].dropna().dt.floor("D")
        samples = d.value_counts().reindex(days(), fill_value=0).sort_index().to_numpy()[-WINDOW:]
        rng = np.random.default_rng(0)
        totals = [int(rng.choice(samples, FORECAST_DAYS).sum()) for _ in range(TRIALS)]
        needed = []
        for _ in range(TRIALS):
            got, day = 0, 0
            while got < FORECAST_ITEMS:
                got += int(rng.choice(samples))
                day += 1
            needed.append(day)
        s_tot, s_days = sorted(totals), sorted(needed)

        def likely(s, p, low):
            k = int(np.ceil(p / 100 * len(s)))
            return s[len(s) - k] if low else s[k - 1]

        return [likely(s_tot, p, True) for p in (50, 85, 95)] + [likely(s_days, p, False) for p in (50, 85, 95)]

    jobs = {"cycle_time": cycle, "lead_time": lead, "throughput": throughput, "wip": wip, "cumulative_flow": cfd,
            "ageing_wip": ageing, "time_in_stage": time_in_stage, "flow_efficiency": efficiency,
            "data_quality": quality, "forecast": forecasts}
    out = {}
    for name, job in jobs.items():
        t0 = time.perf_counter()
        answer = job()
        out[name] = (time.perf_counter() - t0, digest(name, answer))
    return out


def raw_floor(frame, log):
    """numpy ordering the status changes by (issue, time): what any per-issue metric needs at least."""
    t0 = time.perf_counter()
    st = (log["field"].to_numpy(dtype=object) == "status")
    pos = np.searchsorted(np.sort(frame["key"].to_numpy(dtype=str)), log["key"].to_numpy(dtype=str)[st])
    np.lexsort((log["at"].to_numpy(dtype="datetime64[ns]")[st].view("int64"), pos))
    return {"(raw floor: order the status changes)": (time.perf_counter() - t0, None)}


def digest(name, answer):
    """A comparable summary of an answer: count and rounded sum (lists for the forecast and data quality)."""
    import pandas as pd

    if name == "forecast":
        return [int(x) for x in answer]
    if name == "data_quality":
        keep = ["backward moves", "reopened", "skipped stages", "done without being started", "no history"]
        return [int(answer[k]) for k in keep]
    values = answer.to_numpy(dtype=float) if isinstance(answer, pd.DataFrame | pd.Series) else np.asarray(answer)
    return [int(values.size), round(float(np.nansum(values)), 3)]


# ---------------------------------------------------------------------------------------------- driver

def worker(peer: str, data: str) -> int:
    """Load the frames, run one peer's metrics, print JSON (times, digests, memory)."""
    import pandas as pd

    frame = pd.read_pickle(Path(data) / "frame.pkl")
    log = pd.read_pickle(Path(data) / "log.pkl")
    now = pd.Timestamp(json.loads((Path(data) / "now.json").read_text()), tz="UTC")
    loaded = vmhwm_mb()
    results = run_labkit(frame, log, now) if peer == "labkit" else run_pandas(frame, log, now)
    if peer == "labkit":
        results.update(raw_floor(frame, log))
    print(json.dumps({"results": results, "loaded_mb": loaded, "peak_mb": vmhwm_mb()}))
    return 0


def make_data(n: int, folder: Path, seed: int) -> dict:
    """Generate the tracker, flatten it once, save the frames; return its sizes."""
    import pandas as pd

    from labkit.jira.sandbox.demo import generate
    from labkit.jira.sandbox.histories import DemoWorkflow
    from labkit.tracker.history import read_issues

    t0 = time.perf_counter()
    entries = 0

    def counted():
        nonlocal entries
        for issue in generate(n, seed=seed, workflow=DemoWorkflow(field_changes=14.3), comments=False):
            entries += len(issue["changelog"]["histories"])
            yield issue

    frame, log, _counts = read_issues(counted())
    frame = frame[["key", "created", "resolved", "status", "status_category"]]
    frame.to_pickle(folder / "frame.pkl")
    log.to_pickle(folder / "log.pkl")
    now = max(log["at"].max(), frame["created"].max()) + pd.Timedelta(hours=1)
    (folder / "now.json").write_text(json.dumps(now.isoformat()))
    return {"issues": len(frame), "entries": entries, "items": len(log),
            "status_changes": int((log["field"] == "status").sum()), "seconds": time.perf_counter() - t0}


def run_peer(peer: str, folder: Path) -> dict:
    """Run one peer in its own process and return its JSON."""
    out = subprocess.run([sys.executable, __file__, "--peer", peer, "--data", str(folder)], capture_output=True,
                         text=True, check=True, env={**os.environ, "PYTHONWARNINGS": "ignore"})
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    """Generate, run interleaved rounds, print the table and the goals; exit 1 if a goal is missed."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="10,000 issues (~200,000 history entries)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seed", type=int, default=17)
    ap.add_argument("--peer", choices=("labkit", "pandas"), help=argparse.SUPPRESS)
    ap.add_argument("--data", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.peer:
        return worker(args.peer, args.data)
    n = 10_000 if args.quick else 100_000
    with tempfile.TemporaryDirectory(prefix="flow-metrics-bench-") as tmp:
        folder = Path(tmp)
        size = make_data(n, folder, args.seed)
        print(f"data: {size['issues']:,} issues, {size['entries']:,} history entries ({size['items']:,} items, "
              f"{size['status_changes']:,} status changes), generated and flattened in {size['seconds']:.0f} s")
        runs: dict[str, list[dict]] = {"labkit": [], "pandas": []}
        for r in range(args.rounds):
            order = ("labkit", "pandas") if r % 2 == 0 else ("pandas", "labkit")
            for peer in order:
                runs[peer].append(run_peer(peer, folder))
                print(f"  round {r + 1}: {peer} done", file=sys.stderr)
    lk, pd_ = runs["labkit"], runs["pandas"]
    print(f"\nmedians of {args.rounds} interleaved rounds, each peer in its own process, each metric cold")
    print(f"{'metric':40}{'labkit s':>10}{'pandas s':>10}{'ratio':>9}{'  answers'}")
    ok_speed, ok_under, agree = True, True, True
    for m in METRICS:
        t_l = statistics.median(r["results"][m][0] for r in lk)
        t_p = statistics.median(r["results"][m][0] for r in pd_)
        d_l, d_p = lk[0]["results"][m][1], pd_[0]["results"][m][1]
        same = _agree(m, d_l, d_p)
        agree &= same
        ok_speed &= t_p >= 10 * t_l
        ok_under &= t_l < 5.0
        print(f"{m:40}{t_l:10.3f}{t_p:10.2f}{t_p / max(t_l, 1e-9):8.0f}x  {'same' if same else f'DIFFER {d_l} {d_p}'}")
    for extra in ("(Flow.build alone)", "(raw floor: order the status changes)"):
        t = statistics.median(r["results"][extra][0] for r in lk)
        print(f"{extra:40}{t:10.3f}")
    floor = statistics.median(r["results"]["(raw floor: order the status changes)"][0] for r in lk)
    build = statistics.median(r["results"]["(Flow.build alone)"][0] for r in lk)
    print(f"labkit's Flow.build is {build / max(floor, 1e-9):.1f}x the raw floor")
    for peer, rs in runs.items():
        print(f"peak memory {peer:7}: {statistics.median(r['peak_mb'] for r in rs):7.0f} MB "
              f"(after loading the frames: {statistics.median(r['loaded_mb'] for r in rs):.0f} MB)")
    goals = [(f"every metric >= 10x faster than pandas groupby/apply ({n:,} issues)", ok_speed),
             ("every metric under 5 s", ok_under), ("both peers give the same answers", agree)]
    print()
    load = f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
    for text, ok in goals:
        print(f"goal {'met   ' if ok else 'MISSED'}  {text}; {load}")
    return 0 if all(ok for _, ok in goals) else 1


def _agree(metric, a, b) -> bool:
    """Whether two digests agree (forecasts: within 3%, being separate random draws)."""
    if metric == "forecast":
        return all(abs(x - y) <= max(1, 0.03 * max(abs(x), abs(y))) for x, y in zip(a, b, strict=True))
    if metric == "data_quality":
        return a == b
    return a[0] == b[0] and abs(a[1] - b[1]) <= 1e-6 * max(1.0, abs(a[1]))


if __name__ == "__main__":
    sys.exit(main())
