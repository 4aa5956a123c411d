"""The flow of work through a workflow, as arrays: every issue's stay in every stage, ready for vectorised metrics.

    flow = Flow.build(frame, log, workflow, now="last")   # frame: key, created, status[, resolved]
    flow.started, flow.done                               # per issue, ns since the epoch (NAT: never)
    flow.ev_stage, flow.ev_at, flow.ev_end                # one row per stay in a stage

Built once per (frame, changelog, workflow) with numpy: status changes are mapped to stage
positions through the few distinct status names, sorted by (issue, time) once, and the first
stay of each issue (from creation, in the status its first change left) inserted in place. Every
metric in :mod:`labkit.tracker.metrics` is then a handful of array operations, which is why this
is written here rather than as a pandas groupby/apply per issue (see benchmarks/flow_metrics.py).

Rules, each in one place below:
- an issue's first stay starts at its creation (or at its first change, if the history begins
  earlier) in the status its first change moved it from, or its current status if it never changed;
- ``started``: first (or, ``start_policy="last"``, last) entry into the start stage or a later one;
- ``done``: for an issue in the done stage or later now, its last (``done_policy="first"``: first)
  entry into it; an issue moved back out of done is not done;
- ``unstarted``: done without ever staying in a stage between start and done (no cycle time);
- moves compare the stages actually held (the previous stay), so a gap in a history shows as a
  move, and ``chain_breaks`` counts changes whose recorded "from" is not the status held.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from labkit.tracker.errors import TrackerError
from labkit.tracker.workflow import Workflow

NS_DAY = 86_400 * 1_000_000_000
NAT = np.iinfo(np.int64).min
FLAG_FIELDS = ("flagged",)  # Jira Software's "Flagged" field: set to "Impediment" while an issue is blocked


def _ns(series: Any) -> np.ndarray:
    """UTC datetimes (a pandas Series or array) as int64 ns, NaT as :data:`NAT`."""
    from labkit.tracker.history import utc

    return utc(series).to_numpy(dtype="datetime64[ns]").view("int64")


def as_of(now: Any, latest: int) -> int:
    """Resolve ``now``: None is the current time, ``"last"`` the data's last activity, else a timestamp."""
    import pandas as pd

    if now is None:
        return int(pd.Timestamp.now(tz="UTC").value)
    if isinstance(now, str) and now.strip().lower() in ("last", "last activity", "data"):
        return int(latest)
    ts = pd.Timestamp(now)
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    return int(ts.value)


def _stage_codes(values: Any, wf: Workflow) -> np.ndarray:
    """Stage positions of status names (-1: unknown), through the distinct names only."""
    import pandas as pd

    codes, uniques = pd.factorize(pd.Series(values, dtype=object), use_na_sentinel=True)
    table = np.array([wf.stage_of(u) for u in uniques] + [-1], dtype=np.int16)
    return table[codes]  # the sentinel -1 picks the trailing -1


def _first_of_runs(sorted_ids: np.ndarray) -> np.ndarray:
    """Mask of the first element of each run of equal values in a sorted array."""
    out = np.ones(len(sorted_ids), dtype=bool)
    if len(sorted_ids) > 1:
        out[1:] = sorted_ids[1:] != sorted_ids[:-1]
    return out


def _last_of_runs(sorted_ids: np.ndarray) -> np.ndarray:
    """Mask of the last element of each run of equal values in a sorted array."""
    out = np.ones(len(sorted_ids), dtype=bool)
    if len(sorted_ids) > 1:
        out[:-1] = sorted_ids[1:] != sorted_ids[:-1]
    return out


def per_issue_pick(mask: np.ndarray, issue: np.ndarray, values: np.ndarray, n: int, last: bool) -> np.ndarray:
    """For each issue, the value at its first (or last) event where ``mask`` holds; NAT where none does."""
    out = np.full(n, NAT, dtype=np.int64)
    idx = np.flatnonzero(mask)
    if len(idx):
        iss = issue[idx]
        pick = _last_of_runs(iss) if last else _first_of_runs(iss)
        out[iss[pick]] = values[idx[pick]]
    return out


@dataclass
class Flow:
    """Issues, their stays in the workflow's stages, and what follows from them (see the module doc)."""

    workflow: Workflow
    keys: np.ndarray            # issue keys (object)
    created: np.ndarray         # ns
    resolved: np.ndarray        # ns (the tracker's resolution date; NAT if none)
    now: int                    # ns: the moment the flow is read at
    has_history: bool
    ev_issue: np.ndarray        # per stay: issue position
    ev_at: np.ndarray           # ... its start (ns)
    ev_end: np.ndarray          # ... its end (ns; ``now`` for the stay an issue is in)
    ev_stage: np.ndarray        # ... stage position (-1: a status the workflow does not know)
    ev_prev: np.ndarray         # ... the stage before (-2 for the first stay)
    ev_first: np.ndarray        # position of each issue's first stay
    stage_now: np.ndarray       # per issue: stage at ``now`` (from the history, else the current status)
    current: np.ndarray         # per issue: stage of the status the issue table gives
    started: np.ndarray         # per issue: ns or NAT
    done: np.ndarray            # per issue: ns or NAT
    unstarted: np.ndarray       # per issue: done without a stay between start and done
    chain_breaks: np.ndarray    # per issue: changes whose "from" is not the status held
    unmapped: dict[str, int] = field(default_factory=dict)   # status -> changes/issues using it
    flags: Any = None           # DataFrame issue, start, end of flagged (impediment) periods
    counts: Any = None          # changelog counts (key, total, held, truncated), when known
    after_now: int = 0          # status changes later than ``now`` (left out: the flow is read as of then)
    first_day: int = 0          # ns, midnight UTC of the first day with data
    last_day: int = 0           # ns, midnight UTC of the last day with data

    @property
    def n(self) -> int:
        """Number of issues."""
        return len(self.keys)

    @property
    def ev_last(self) -> np.ndarray:
        """Position of each issue's last stay (the one it is in at ``now``)."""
        return np.r_[self.ev_first[1:] - 1, len(self.ev_issue) - 1] if self.n else np.empty(0, dtype=np.int64)

    @property
    def is_done(self) -> np.ndarray:
        """Mask of the issues done now."""
        return self.done != NAT

    def need_history(self, what: str) -> None:
        """Refuse a metric that needs status histories when the flow has none."""
        if not self.has_history:
            raise TrackerError(f"{what} needs the issues' status histories, and none were given",
                               hint="fetch issues with expand=changelog (client.search_issues(jql, expand='changelog'))"
                                    " and pass changelog_frame(issues)")

    # -------------------------------------------------------------- building
    @classmethod
    def build(cls, frame: Any, log: Any = None, workflow: Workflow | None = None, *, now: Any = None,
              counts: Any = None, flag_fields: tuple[str, ...] = FLAG_FIELDS) -> Flow:
        """Build the flow of an issue frame (key, created, status[, resolved]) and its changelog frame.

        Without a changelog (``log`` None or empty of status changes) the flow knows only creation,
        resolution and the current stage: lead time, throughput and ageing since creation work,
        metrics of stays in stages refuse with a clear error.
        """
        import pandas as pd

        missing = [c for c in ("key", "created") if c not in frame.columns]
        if missing:
            raise TrackerError(f"not an issue table: columns {missing} are missing",
                               hint="use a frame from JiraClient.search, Store.search or read_issues")
        wf = workflow or Workflow.default(frame)
        keys = frame["key"].to_numpy(dtype=object)
        n = len(keys)
        if not n:
            raise TrackerError("the issue table is empty: no flow to measure", hint="widen the search")
        twice = frame["key"][frame["key"].duplicated()]
        if len(twice):
            raise TrackerError(f"the issue table holds {twice.iloc[0]} (and {len(twice) - 1} more) twice",
                               hint="drop duplicate rows (df.drop_duplicates('key')) before measuring")
        created = _ns(frame["created"])
        resolved = _ns(frame["resolved"]) if "resolved" in frame.columns else np.full(n, NAT, dtype=np.int64)
        status = frame["status"] if "status" in frame.columns else pd.Series([None] * n, dtype=object)
        cur = _stage_codes(status.to_numpy(dtype=object), wf)
        unmapped: dict[str, int] = {}
        for name, hits in pd.Series(status.to_numpy(dtype=object)[cur < 0]).value_counts().items():
            unmapped[str(name)] = unmapped.get(str(name), 0) + int(hits)

        t_issue = np.empty(0, dtype=np.int64)
        t_at = np.empty(0, dtype=np.int64)
        t_from = t_to = np.empty(0, dtype=np.int16)
        flags = None
        if log is not None and len(log):
            fcodes, fnames = pd.factorize(log["field"].astype(object), use_na_sentinel=True)
            low = [str(f).strip().lower() for f in fnames]
            is_status = np.isin(fcodes, [i for i, f in enumerate(low) if f == "status"])
            pos = pd.Index(keys).get_indexer(log["key"].to_numpy(dtype=object))
            at_all = _ns(log["at"])
            keep = is_status & (pos >= 0) & (at_all != NAT)
            t_issue = pos[keep].astype(np.int64)
            t_at = at_all[keep]
            t_from = _stage_codes(log["from"].to_numpy(dtype=object)[keep], wf)
            to_names = log["to"].to_numpy(dtype=object)[keep]
            t_to = _stage_codes(to_names, wf)
            for name, hits in pd.Series(to_names[t_to < 0]).value_counts().items():
                unmapped[str(name)] = unmapped.get(str(name), 0) + int(hits)
            flag_codes = [i for i, f in enumerate(low) if f in flag_fields]
            if flag_codes:
                fl = np.isin(fcodes, flag_codes) & (pos >= 0) & (at_all != NAT)
                flags = (pos[fl].astype(np.int64), at_all[fl], log["to"].to_numpy(dtype=object)[fl])
        has_history = len(t_issue) > 0
        latest = max([int(created.max()) if n and (created != NAT).any() else 0,
                      int(t_at.max()) if len(t_at) else 0,
                      int(resolved[resolved != NAT].max()) if (resolved != NAT).any() else 0])
        now_ns = as_of(now, latest)
        order = np.lexsort((np.arange(len(t_issue)), t_at, t_issue))
        t_issue, t_at, t_from, t_to = t_issue[order], t_at[order], t_from[order], t_to[order]
        # the status an issue was created in is its first change's "from", whenever that change came
        first_any = np.searchsorted(t_issue, np.arange(n))
        had = first_any < len(t_issue)
        had[had] = t_issue[first_any[had]] == np.arange(n)[had]
        init_stage = cur.copy()
        init_stage[had] = t_from[first_any[had]]
        later = t_at <= now_ns  # read the flow as it was at ``now``
        after_now = int((~later).sum())
        t_issue, t_at, t_from, t_to = t_issue[later], t_at[later], t_from[later], t_to[later]
        m = len(t_issue)

        first_pos = np.searchsorted(t_issue, np.arange(n))
        has = first_pos < m
        has[has] = t_issue[first_pos[has]] == np.arange(n)[has]
        init_at = created.copy()
        first_at = np.full(n, NAT, dtype=np.int64)
        first_at[has] = t_at[first_pos[has]]
        early = has & ((init_at == NAT) | (first_at < init_at))
        init_at[early] = first_at[early]
        # events: each issue's first stay, then its changes
        ev_issue = np.insert(t_issue, first_pos, np.arange(n))
        ev_at = np.insert(t_at, first_pos, init_at)
        ev_stage = np.insert(t_to, first_pos, init_stage).astype(np.int16)
        ev_recorded_from = np.insert(t_from, first_pos, np.full(n, -2, dtype=np.int16))
        ev_first = first_pos + np.arange(n)
        e = len(ev_issue)
        ev_prev = np.empty(e, dtype=np.int16)
        ev_prev[0:1] = -2
        ev_prev[1:] = ev_stage[:-1]
        ev_prev[ev_first] = -2
        ev_end = np.empty(e, dtype=np.int64)
        ev_end[:-1] = ev_at[1:]
        last = np.r_[ev_first[1:] - 1, e - 1] if n else np.empty(0, dtype=np.int64)
        ev_end[last] = now_ns
        ev_end = np.maximum(ev_end, ev_at)  # a stay never ends before it starts (an issue created after now)
        breaks_mask = (ev_prev >= -1) & (ev_recorded_from != ev_prev)
        chain_breaks = np.bincount(ev_issue[breaks_mask], minlength=n) if e else np.zeros(n, dtype=np.int64)
        stage_now = ev_stage[last].copy() if n else np.empty(0, dtype=np.int16)
        unborn = init_at > now_ns  # created after ``now``: not there yet
        stage_now[unborn] = -1

        S, D = wf.start_index, wf.done_index
        if has_history:
            if wf.start_policy == "first":
                started = per_issue_pick(ev_stage >= S, ev_issue, ev_at, n, last=False)
            else:
                started = per_issue_pick((ev_stage >= S) & (ev_prev < S), ev_issue, ev_at, n, last=True)
            entry = (ev_stage >= D) & (ev_prev < D)
            done = per_issue_pick(entry, ev_issue, ev_at, n, last=wf.done_policy == "last")
            done[stage_now < D] = NAT
            started[unborn] = NAT
            between = (ev_stage >= S) & (ev_stage < D)
            ever_between = np.bincount(ev_issue[between], minlength=n) > 0
            unstarted = (done != NAT) & ~ever_between
        else:
            started = np.full(n, NAT, dtype=np.int64)
            done = np.where(stage_now >= D, np.where(resolved != NAT, resolved, NAT), NAT).astype(np.int64)
            unstarted = np.zeros(n, dtype=bool)

        flag_frame = _flag_periods(flags, now_ns) if flags is not None else None
        valid = ev_at[ev_at != NAT]
        day0 = (int(valid.min()) // NS_DAY) * NS_DAY if len(valid) else 0
        activity = max([int(t_at.max()) if m else 0, int(valid.max()) if len(valid) else 0,
                        int(done[done != NAT].max()) if (done != NAT).any() else 0])
        day1 = (min(activity, now_ns) // NS_DAY) * NS_DAY
        return cls(wf, keys, created, resolved, now_ns, has_history, ev_issue, ev_at, ev_end, ev_stage, ev_prev,
                   ev_first, stage_now, cur, started, done, unstarted, chain_breaks, unmapped, flag_frame, counts,
                   after_now, day0, max(day0, day1))

    # -------------------------------------------------------------- common reads
    def moves(self) -> dict[str, np.ndarray]:
        """Per issue: counts of forward, skip, skipped (stages jumped over), backward and reopen moves."""
        real = self.ev_prev >= 0
        a, b = self.ev_prev.astype(np.int64), self.ev_stage.astype(np.int64)
        ok = real & (b >= 0)
        d = self.workflow.done_index
        kinds = {
            "forward": ok & (b == a + 1),
            "skip": ok & (b > a + 1),
            "backward": ok & (b < a),
            "reopen": ok & (b < a) & (a >= d) & (b < d),
        }
        out = {k: np.bincount(self.ev_issue[v], minlength=self.n) for k, v in kinds.items()}
        skipped = np.where(kinds["skip"], b - a - 1, 0)
        out["skipped"] = np.bincount(self.ev_issue, weights=skipped, minlength=self.n).astype(np.int64)
        out["changes"] = np.bincount(self.ev_issue[self.ev_prev > -2], minlength=self.n)
        return out

    def day_index(self) -> Any:
        """The days the data covers (UTC midnights), first activity to last."""
        import pandas as pd

        return pd.date_range(pd.Timestamp(self.first_day, tz="UTC"), pd.Timestamp(self.last_day, tz="UTC"),
                             freq="D", name="day")


def _flag_periods(flags: tuple[np.ndarray, np.ndarray, np.ndarray], now_ns: int):  # -> pandas.DataFrame
    """Flagged periods (issue, start, end) from the flag field's changes: set to a value, cleared to none."""
    import pandas as pd

    issue, at, to = flags
    keep = at <= now_ns
    issue, at, to = issue[keep], at[keep], to[keep]
    order = np.lexsort((np.arange(len(issue)), at, issue))
    issue, at, to = issue[order], at[order], to[order]
    on = np.array([not pd.isna(v) and str(v).strip() != "" for v in to], dtype=bool)  # cleared: None, NaN or ""
    rows = []
    open_at: dict[int, int] = {}
    for i, t, flag in zip(issue.tolist(), at.tolist(), on.tolist(), strict=True):
        if flag:
            open_at.setdefault(i, t)
        elif i in open_at:
            rows.append((i, open_at.pop(i), t))
    rows.extend((i, t, now_ns) for i, t in open_at.items())
    return pd.DataFrame(rows, columns=["issue", "start", "end"])
