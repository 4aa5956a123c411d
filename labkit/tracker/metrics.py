"""Flow metrics as plain functions of a :class:`labkit.tracker.flow.Flow` (``df.jira`` calls these).

    flow = Flow.build(frame, log, workflow)
    cycle_time(flow)            # key, started, done, cycle_days (done items that were started)
    lead_time(flow)             # key, start, done, lead_days
    throughput(flow, "W")       # items done per period (zeros included), first to last day of the data
    wip(flow)                   # items between start and done at the end of each day
    cumulative_flow(flow)       # items in each stage at the end of each day
    ageing_wip(flow)            # items in progress, their age and where it falls against cycle-time percentiles
    time_in_stage(flow)         # days each item spent in each stage (all its stays added up)
    flow_efficiency(flow)       # active share of each cycle: waiting stages and flagged periods taken out
    data_quality(flow)          # what in the histories makes these numbers doubtful, item by item
    percentiles(values)         # 50/85/95th

Days are UTC days; durations are in days (float). Percentiles use the nearest-rank method (the
smallest value with at least that share of values at or below it), the convention of
flow-metrics tools: "85% of items finished within N days" holds for N itself.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from labkit.tracker.flow import NAT, NS_DAY, Flow
from labkit.tracker.workflow import Workflow

PERCENTILES = (50, 85, 95)


def percentile(values: Any, p: float) -> float:
    """The nearest-rank ``p``-th percentile: the smallest value with at least p% of the values at or below it."""
    a = np.sort(np.asarray(values, dtype=float)[~np.isnan(np.asarray(values, dtype=float))])
    if not len(a):
        return float("nan")
    rank = int(np.ceil(p / 100.0 * len(a)))
    return float(a[min(len(a), max(1, rank)) - 1])


def percentiles(values: Any, ps: tuple[float, ...] = PERCENTILES) -> dict[int, float]:
    """Nearest-rank percentiles of values (NaN ignored): ``{50: ..., 85: ..., 95: ...}``."""
    return {int(p): percentile(values, p) for p in ps}


def _ts(ns: np.ndarray):  # -> pandas.DatetimeIndex/array in UTC, NaT kept
    """ns since the epoch (NAT as NaT) as UTC timestamps."""
    import pandas as pd

    return pd.to_datetime(np.where(ns == NAT, np.datetime64("NaT", "ns").view("int64"), ns).view("datetime64[ns]"),
                          utc=True)


def _days(ns: np.ndarray) -> np.ndarray:
    """A duration in ns as days."""
    return ns.astype(np.float64) / NS_DAY


def cycle_time(flow: Flow):  # -> pandas.DataFrame
    """Done items that were started: key, started, done, cycle_days; unstarted ones are left out (see data_quality)."""
    import pandas as pd

    flow.need_history("cycle time")
    ok = (flow.done != NAT) & (flow.started != NAT) & ~flow.unstarted
    idx = np.flatnonzero(ok)
    out = pd.DataFrame({"key": flow.keys[idx], "started": _ts(flow.started[idx]), "done": _ts(flow.done[idx]),
                        "cycle_days": _days(flow.done[idx] - flow.started[idx])})
    return out.sort_values(["done", "key"], kind="stable").reset_index(drop=True)


def lead_time(flow: Flow):  # -> pandas.DataFrame
    """Done items: key, start (creation, or first entry into the workflow's lead_start stage), done, lead_days."""
    import pandas as pd

    from labkit.tracker.flow import per_issue_pick

    li = flow.workflow.lead_index
    if li is None:
        start = flow.created
    else:
        flow.need_history(f"lead time from {flow.workflow.lead_start!r}")
        start = per_issue_pick(flow.ev_stage >= li, flow.ev_issue, flow.ev_at, flow.n, last=False)
    ok = (flow.done != NAT) & (start != NAT)
    idx = np.flatnonzero(ok)
    out = pd.DataFrame({"key": flow.keys[idx], "start": _ts(start[idx]), "done": _ts(flow.done[idx]),
                        "lead_days": _days(np.maximum(flow.done[idx] - start[idx], 0))})
    return out.sort_values(["done", "key"], kind="stable").reset_index(drop=True)


def daily_done(flow: Flow):  # -> pandas.Series indexed by day
    """Items done on each day, first to last day of the data, zeros included."""
    import pandas as pd

    days = flow.day_index()
    d = flow.done[flow.done != NAT]
    pos = (d // NS_DAY * NS_DAY - flow.first_day) // NS_DAY
    pos = pos[(pos >= 0) & (pos < len(days))]
    return pd.Series(np.bincount(pos, minlength=len(days))[: len(days)], index=days, name="done")


def throughput(flow: Flow, freq: str = "W"):  # -> pandas.Series
    """Items done per period (``D``, ``W``, ``M``...), over the data's range, periods with none as 0."""
    per_day = daily_done(flow)
    if freq.upper() == "D":
        return per_day.rename("throughput")
    return per_day.resample(_freq(freq)).sum().rename("throughput")


_FREQ_ALIASES = {"M": "ME", "Q": "QE", "Y": "YE", "A": "YE"}


def _freq(freq: str) -> str:
    """Accept the classic period names (M, Q, Y) that newer pandas renamed to month-end etc."""
    return _FREQ_ALIASES.get(freq, freq)


def _ticks(flow: Flow) -> np.ndarray:
    """The moments daily counts are taken: the end of each day of the data (the last one no later than now)."""
    count = (flow.last_day - flow.first_day) // NS_DAY + 1  # np.arange on ns goes through floats: count instead
    days = flow.first_day + NS_DAY * np.arange(1, count + 1, dtype=np.int64)
    return np.minimum(days, flow.now)


def cumulative_flow(flow: Flow):  # -> pandas.DataFrame
    """Items in each stage at the end of each day of the data (columns in workflow order): a CFD's data."""
    import pandas as pd

    flow.need_history("cumulative flow")
    ticks = _ticks(flow)
    ends_all = flow.ev_end.copy()
    ends_all[flow.ev_last] = np.iinfo(np.int64).max  # the stay an issue is in has no end yet
    data = {}
    for s, name in enumerate(flow.workflow.names):
        sel = flow.ev_stage == s
        starts = np.sort(flow.ev_at[sel])
        ends = np.sort(ends_all[sel])
        data[name] = np.searchsorted(starts, ticks, "right") - np.searchsorted(ends, ticks, "right")
    return pd.DataFrame(data, index=flow.day_index())


def wip(flow: Flow):  # -> pandas.Series
    """Items between the start and done stages at the end of each day of the data."""
    cfd = cumulative_flow(flow)
    names = flow.workflow.names[flow.workflow.start_index:flow.workflow.done_index]
    return cfd[names].sum(axis=1).rename("wip")


BANDS = ("under p50", "p50-p85", "p85-p95", "over p95")


def _band(age: np.ndarray, pct: dict[int, float]) -> np.ndarray:
    """Where each age falls against the cycle-time percentiles (blank when there are none)."""
    if np.isnan(pct[50]):
        return np.full(len(age), "", dtype=object)
    return np.select([age <= pct[50], age <= pct[85], age <= pct[95]], BANDS[:3], BANDS[3]).astype(object)


def ageing_wip(flow: Flow):  # -> pandas.DataFrame
    """Items in progress now (start stage up to done): key, stage, since, age_days, band against cycle-time percentiles.

    Without histories the age counts from creation for items in a stage between start and done.
    """
    import pandas as pd

    wf = flow.workflow
    inside = (flow.stage_now >= wf.start_index) & (flow.stage_now < wf.done_index)
    idx = np.flatnonzero(inside)
    since = flow.started[idx] if flow.has_history else flow.created[idx]
    since = np.where(since == NAT, flow.created[idx], since)
    age = _days(flow.now - since)
    pct = percentiles(cycle_time(flow)["cycle_days"]) if flow.has_history else {p: float("nan") for p in PERCENTILES}
    out = pd.DataFrame({"key": flow.keys[idx], "stage": [wf.names[s] for s in flow.stage_now[idx]],
                        "since": _ts(since), "age_days": age, "band": _band(age, pct)})
    return out.sort_values(["age_days", "key"], ascending=[False, True], kind="stable").reset_index(drop=True)


def time_in_stage(flow: Flow):  # -> pandas.DataFrame
    """Days each item spent in each stage, all its stays added up (the stage it is in counts up to now)."""
    import pandas as pd

    flow.need_history("time in stage")
    s_count = len(flow.workflow.names)
    ok = flow.ev_stage >= 0
    flat = flow.ev_issue[ok] * s_count + flow.ev_stage[ok].astype(np.int64)
    total = np.bincount(flat, weights=_days(flow.ev_end[ok] - flow.ev_at[ok]), minlength=flow.n * s_count)
    out = pd.DataFrame(total.reshape(flow.n, s_count), columns=flow.workflow.names)
    out.insert(0, "key", flow.keys)
    return out


def _overlap(a0: np.ndarray, a1: np.ndarray, b0: np.ndarray, b1: np.ndarray) -> np.ndarray:
    """Length of the overlap of intervals [a0, a1) and [b0, b1), elementwise (0 when apart)."""
    return np.maximum(0, np.minimum(a1, b1) - np.maximum(a0, b0))


def flow_efficiency(flow: Flow):  # -> pandas.DataFrame
    """Per done item with a cycle: cycle_days, waiting_days (in stages marked not active, or flagged), efficiency_pct.

    Waiting is any time between start and done spent in a stage with ``active = false``, plus any
    flagged (impediment) time spent in an active stage. ``DataFrame.attrs["efficiency_pct"]`` is
    the whole set's: active time over cycle time, summed over the items.
    """
    import pandas as pd

    flow.need_history("flow efficiency")
    ok = (flow.done != NAT) & (flow.started != NAT) & ~flow.unstarted
    w0 = np.where(ok, flow.started, 0)
    w1 = np.where(ok, flow.done, 0)
    active_stage = np.array([s.active for s in flow.workflow.stages] + [True], dtype=bool)  # -1 (unknown): active
    st = flow.ev_stage.astype(np.int64)
    iss = flow.ev_issue
    inside = _overlap(flow.ev_at, flow.ev_end, w0[iss], w1[iss])
    waiting = np.bincount(iss, weights=np.where(active_stage[st], 0, inside), minlength=flow.n)
    flagged = np.zeros(flow.n)
    if flow.flags is not None and len(flow.flags):
        f = flow.flags
        fi, fs, fe = f["issue"].to_numpy(), f["start"].to_numpy(), f["end"].to_numpy()
        # each flagged period against each active stay of its issue within the cycle
        by_issue = np.argsort(iss, kind="stable")
        lo = np.searchsorted(iss[by_issue], fi, "left")
        hi = np.searchsorted(iss[by_issue], fi, "right")
        reps = hi - lo
        rows = np.repeat(np.arange(len(fi)), reps)
        stays = by_issue[np.concatenate([np.arange(a, b) for a, b in zip(lo, hi, strict=True)])] \
            if len(rows) else np.empty(0, dtype=np.int64)
        s0 = np.maximum(flow.ev_at[stays], w0[fi[rows]])
        s1 = np.minimum(flow.ev_end[stays], w1[fi[rows]])
        part = np.where(active_stage[st[stays]], _overlap(s0, s1, fs[rows], fe[rows]), 0)
        flagged = np.bincount(fi[rows], weights=part, minlength=flow.n)
    idx = np.flatnonzero(ok)
    cycle = _days(flow.done[idx] - flow.started[idx])
    wait = (waiting[idx] + flagged[idx]) / NS_DAY
    eff = np.where(cycle > 0, 100.0 * (cycle - wait) / np.where(cycle > 0, cycle, 1), np.nan)
    out = pd.DataFrame({"key": flow.keys[idx], "cycle_days": cycle, "waiting_days": wait, "flagged_days":
                        flagged[idx] / NS_DAY, "efficiency_pct": eff})
    total = cycle.sum()
    out.attrs["efficiency_pct"] = float(100.0 * (total - wait.sum()) / total) if total > 0 else float("nan")
    return out


def created_vs_resolved(flow: Flow, freq: str = "W"):  # -> pandas.DataFrame
    """Items created and done per period, and the open backlog at each period's end (done by the workflow)."""
    import pandas as pd

    c = flow.created[flow.created != NAT]
    created = pd.Series(1, index=_ts(c)).resample(_freq(freq)).sum() if len(c) else pd.Series(dtype=int)
    d = flow.done[flow.done != NAT]
    done = pd.Series(1, index=_ts(d)).resample(_freq(freq)).sum() if len(d) else pd.Series(dtype=int)
    out = pd.concat([created.rename("created"), done.rename("resolved")], axis=1).fillna(0).astype(int).sort_index()
    out["open"] = out["created"].cumsum() - out["resolved"].cumsum()
    out.index.name = "period"
    return out


QUALITY_ADVICE = {
    "no history": "Cycle time, flow and time in stage leave these out: fetch issues with expand=changelog.",
    "changelog cut short": "Jira sent fewer history entries than the issue has: fetch with labkit (it pages the "
                           "rest in) or `labkit jira mirror`, else these items' stages are wrong.",
    "history does not chain": "A change starts from another status than the one held: entries are missing "
                              "(a cut changelog, or a status renamed); check these items' history in Jira.",
    "history ends elsewhere": "The last change does not lead to the current status: the history is incomplete.",
    "backward moves": "Work moved back to an earlier stage; cycle time counts from the first start "
                      "(start_policy) unless the workflow says otherwise.",
    "reopened": "Done, then reopened: the item counts as done only at its last finish (done_policy).",
    "skipped stages": "Moved past stages it never entered; time in those stages is zero.",
    "done without being started": "Finished without a stay in progress (closed from the backlog): left out of "
                                  "cycle time, kept in lead time and throughput.",
    "unmapped statuses": "Statuses the workflow does not place in a stage: add them to the workflow file.",
}


def data_quality(flow: Flow):  # -> pandas.DataFrame
    """One row per check: check, items, share_pct, count (moves or statuses), examples, advice."""
    import pandas as pd

    n = max(flow.n, 1)
    mv = flow.moves()
    rows = []

    def row(check: str, mask: np.ndarray, count: int | None = None) -> None:
        """Add one check's row from a mask of the items it finds."""
        idx = np.flatnonzero(mask)
        rows.append({"check": check, "items": len(idx), "share_pct": 100.0 * len(idx) / n,
                     "count": int(count if count is not None else len(idx)),
                     "examples": list(flow.keys[idx[:5]]), "advice": QUALITY_ADVICE[check]})

    row("no history", mv["changes"] == 0)
    if flow.counts is not None and len(flow.counts):
        c = flow.counts
        pos = _positions(flow.keys, c["key"].to_numpy(dtype=object))
        cut = np.zeros(flow.n, dtype=bool)
        hit = pos >= 0
        cut[pos[hit]] = c["truncated"].to_numpy(dtype=bool)[hit]
        row("changelog cut short", cut)
    if flow.has_history:
        row("history does not chain", flow.chain_breaks > 0, int(flow.chain_breaks.sum()))
        if not flow.after_now:  # read as of an earlier moment, the current status may differ rightly
            row("history ends elsewhere", (mv["changes"] > 0) & (flow.current != flow.stage_now) & (flow.current >= 0)
                & (flow.stage_now >= 0))
    row("backward moves", mv["backward"] > 0, int(mv["backward"].sum()))
    row("reopened", mv["reopen"] > 0, int(mv["reopen"].sum()))
    row("skipped stages", mv["skip"] > 0, int(mv["skipped"].sum()))
    row("done without being started", flow.unstarted)
    rows.append({"check": "unmapped statuses", "items": None, "share_pct": None,
                 "count": len(flow.unmapped), "examples": sorted(flow.unmapped)[:5],
                 "advice": QUALITY_ADVICE["unmapped statuses"]})
    return pd.DataFrame(rows, columns=["check", "items", "share_pct", "count", "examples", "advice"])


def _positions(keys: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """Positions of ``wanted`` keys among ``keys`` (-1 when absent)."""
    import pandas as pd

    return pd.Index(keys).get_indexer(wanted)


def summary(flow: Flow) -> dict[str, Any]:
    """The headline numbers: items, done, in progress, cycle/lead-time percentiles, weekly throughput mean."""
    out: dict[str, Any] = {"items": flow.n, "done": int((flow.done != NAT).sum())}
    wf: Workflow = flow.workflow
    out["in progress"] = int(((flow.stage_now >= wf.start_index) & (flow.stage_now < wf.done_index)).sum())
    if flow.has_history:
        for p, v in percentiles(cycle_time(flow)["cycle_days"]).items():
            out[f"cycle time p{p} (days)"] = v
    for p, v in percentiles(lead_time(flow)["lead_days"]).items():
        out[f"lead time p{p} (days)"] = v
    tp = throughput(flow, "W")
    out["throughput per week (mean)"] = float(tp.mean()) if len(tp) else 0.0
    return out
