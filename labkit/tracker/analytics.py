"""The ``df.jira`` pandas accessor: flow metrics, charts and forecasts on an issue table and its changelog.

Importing this module registers the accessor::

    import labkit.tracker.analytics  # noqa: F401  (registers df.jira)
    issues = client.search_issues(jql, expand="changelog")     # whole changelogs (paged in when cut)
    df, log, counts = read_issues(issues)                       # or df = client.search(jql); log = changelog_frame(issues)
    wf = Workflow.default(df)                                   # or Workflow.from_file / from_board
    df.jira.cycle_time(log, workflow=wf)                        # key, started, done, cycle_days
    df.jira.plot("cycle_time", log)                             # a Chart (inline SVG in notebooks)
    df.jira.forecast_when(20)                                   # when will 20 items be done (p50/p85/p95)

Every metric is also a plain function of a :class:`labkit.tracker.flow.Flow` in
:mod:`labkit.tracker.metrics`; the accessor builds the flow once per changelog, workflow and
``now`` and keeps it. Without a changelog the metrics that only need creation and resolution
(lead time, throughput, created vs resolved, ageing since creation, forecasts) still work.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from labkit.tracker import metrics
from labkit.tracker.errors import TrackerError
from labkit.tracker.flow import Flow
from labkit.tracker.history import changelog_counts, changelog_frame, read_issues
from labkit.tracker.workflow import CATEGORY_ORDER, Workflow

__all__ = ["CATEGORY_ORDER", "JiraAccessor", "changelog_counts", "changelog_frame", "read_issues"]

PLOTS = ("cycle_time", "cycle_time_histogram", "throughput", "cumulative_flow", "ageing_wip",
         "created_vs_resolved", "forecast_how_many", "forecast_when")


@pd.api.extensions.register_dataframe_accessor("jira")
class JiraAccessor:
    """The ``df.jira`` accessor: metrics over a frame with labkit's issue columns (key, created, status...)."""

    REQUIRED = ("key", "created")

    def __init__(self, df: pd.DataFrame) -> None:
        """Wrap an issue table; refuse a frame that lacks the issue columns."""
        missing = [c for c in self.REQUIRED if c not in df.columns]
        if missing:
            raise TrackerError(f"not an issue table: columns {missing} are missing",
                               hint="use a frame from JiraClient.search, Store.search or read_issues")
        self._df = df
        self._flows: dict[tuple[Any, ...], tuple[Any, Any, Flow]] = {}

    # -- the flow ---------------------------------------------------------------------------------
    def workflow(self, statuses: Any = ()) -> Workflow:
        """The default workflow of this frame: To Do / In Progress / Done by the statuses' categories."""
        return Workflow.default(self._df, statuses)

    def flow(self, log: pd.DataFrame | None = None, workflow: Workflow | None = None, *, now: Any = None,
             counts: pd.DataFrame | None = None) -> Flow:
        """The frame's :class:`Flow` under a workflow (built once per changelog, workflow, now and counts)."""
        if log is not None and not isinstance(log, pd.DataFrame):
            raise TrackerError("the changelog must be a DataFrame", hint="pass changelog_frame(issues)")
        if log is not None and len(log) and not {"key", "at", "field", "from", "to"} <= set(log.columns):
            raise TrackerError("that is not a changelog frame (key, at, field, from, to)",
                               hint="pass changelog_frame(issues)")
        wf = workflow or self.workflow()
        cache = (id(log), len(log) if log is not None else -1, wf, str(now) if now is not None else None, id(counts))
        kept = self._flows.get(cache)
        if kept is not None and kept[0] is log and kept[1] is counts:  # the very objects (ids are reused)
            return kept[2]
        found = Flow.build(self._df, log, wf, now=now, counts=counts)
        if now is not None:  # "now" moves: an unpinned flow is rebuilt every time
            self._flows[cache] = (log, counts, found)
        return found

    def _need_log(self, log: pd.DataFrame | None, what: str) -> None:
        """Refuse a metric that needs the changelog when none was given."""
        if log is None or not len(log):
            raise TrackerError(f"{what} needs the changelog (status changes), and none was given",
                               hint="fetch issues with expand=changelog and pass changelog_frame(issues)")

    # -- metrics ---------------------------------------------------------------------------------
    def cycle_time(self, log: pd.DataFrame, workflow: Workflow | None = None, *, now: Any = None) -> pd.DataFrame:
        """Done items that were started: key, started, done, cycle_days."""
        self._need_log(log, "cycle time")
        return metrics.cycle_time(self.flow(log, workflow, now=now))

    def lead_time(self, log: pd.DataFrame | None = None, workflow: Workflow | None = None, *,
                  now: Any = None) -> pd.DataFrame:
        """Done items: key, start (creation or the lead_start stage), done, lead_days."""
        return metrics.lead_time(self.flow(log, workflow, now=now))

    def throughput(self, freq: str = "W", log: pd.DataFrame | None = None, workflow: Workflow | None = None, *,
                   now: Any = None) -> pd.Series:
        """Items done per period over the data's range (done by the changelog when given, else resolved)."""
        return metrics.throughput(self.flow(log, workflow, now=now), freq)

    def created_vs_resolved(self, freq: str = "W", log: pd.DataFrame | None = None,
                            workflow: Workflow | None = None, *, now: Any = None) -> pd.DataFrame:
        """Items created and done per period, and the open backlog at each period's end."""
        return metrics.created_vs_resolved(self.flow(log, workflow, now=now), freq)

    def wip(self, log: pd.DataFrame, workflow: Workflow | None = None, *, now: Any = None) -> pd.Series:
        """Items between the start and done stages at the end of each day."""
        self._need_log(log, "work in progress per day")
        return metrics.wip(self.flow(log, workflow, now=now))

    def cumulative_flow(self, log: pd.DataFrame, workflow: Workflow | None = None, *, now: Any = None,
                        freq: str = "D") -> pd.DataFrame:
        """Items in each stage at the end of each day (``freq`` W/M: at each period's last day)."""
        self._need_log(log, "cumulative flow")
        cfd = metrics.cumulative_flow(self.flow(log, workflow, now=now))
        return cfd if freq.upper() == "D" else cfd.resample(metrics._freq(freq)).last()

    def ageing_wip(self, log: pd.DataFrame | None = None, workflow: Workflow | None = None, *,
                   now: Any = None) -> pd.DataFrame:
        """Items in progress now: key, stage, since, age_days, band against the cycle-time percentiles."""
        return metrics.ageing_wip(self.flow(log, workflow, now=now))

    def time_in_stage(self, log: pd.DataFrame, workflow: Workflow | None = None, *, now: Any = None) -> pd.DataFrame:
        """Days each item spent in each stage."""
        self._need_log(log, "time in stage")
        return metrics.time_in_stage(self.flow(log, workflow, now=now))

    def flow_efficiency(self, log: pd.DataFrame, workflow: Workflow | None = None, *,
                        now: Any = None) -> pd.DataFrame:
        """Per done item: cycle_days, waiting_days, flagged_days, efficiency_pct (``.attrs`` holds the overall)."""
        self._need_log(log, "flow efficiency")
        return metrics.flow_efficiency(self.flow(log, workflow, now=now))

    def data_quality(self, log: pd.DataFrame | None = None, workflow: Workflow | None = None, *,
                     now: Any = None, counts: pd.DataFrame | None = None) -> pd.DataFrame:
        """What in the histories makes the numbers doubtful: one row per check, with example keys and advice."""
        return metrics.data_quality(self.flow(log, workflow, now=now, counts=counts))

    def blocked_chain_depth(self, workflow: Workflow | None = None) -> pd.Series:
        """For each issue, the length of the longest chain of open blockers behind it (0: nothing blocks it).

        Open means not in the workflow's done stage (or a later one) by the current status.
        """
        if "blocked_by" not in self._df.columns:
            raise TrackerError("blocked chains need the blocked_by column", hint="search with links (the default fields)")
        done = self._done_keys(self.flow(None, workflow, now="last"))
        open_keys = set(self._df["key"]) - done
        blockers = {k: [b for b in (v if isinstance(v, list | tuple) else []) if b in open_keys]
                    for k, v in zip(self._df["key"], self._df["blocked_by"], strict=True)}
        depth: dict[str, int] = {}
        for root in blockers:
            if root in depth:
                continue
            # iterative DFS; a key met again on the current path is a cycle and adds nothing
            stack, on_path = [(root, iter(blockers.get(root, ())))], {root}
            best = {root: 0}
            while stack:
                key, it = stack[-1]
                nxt = next(it, None)
                if nxt is None:
                    stack.pop()
                    on_path.discard(key)
                    depth[key] = best[key]
                    if stack:
                        parent = stack[-1][0]
                        best[parent] = max(best[parent], depth[key] + 1)
                elif nxt in depth:
                    best[key] = max(best[key], depth[nxt] + 1)
                elif nxt not in on_path:
                    on_path.add(nxt)
                    best[nxt] = 0
                    stack.append((nxt, iter(blockers.get(nxt, ()))))
        return pd.Series(depth, name="blocked_depth").reindex(self._df["key"]).fillna(0).astype(int)

    @staticmethod
    def _done_keys(flow: Flow) -> set[str]:
        """Keys of the issues in the workflow's done stage (or a later one) now: the one meaning of done."""
        return set(flow.keys[flow.stage_now >= flow.workflow.done_index])

    def blockers(self) -> dict[str, list[str]]:
        """Each issue's direct blockers (the ``blocked_by`` column, which the blocking rule filled)."""
        if "blocked_by" not in self._df.columns:
            raise TrackerError("blockers need the blocked_by column", hint="search with links (the default fields)")
        return {k: list(v) for k, v in zip(self._df["key"], self._df["blocked_by"], strict=True)
                if isinstance(v, list | tuple) and len(v)}

    # -- forecasts -------------------------------------------------------------------------------
    def _samples(self, log: pd.DataFrame | None, workflow: Workflow | None, now: Any, window: int | None) -> Any:
        """Daily throughput samples and the day after the data's last day."""
        from labkit.tracker.forecast import throughput_samples

        flow = self.flow(log, workflow, now=now)
        return throughput_samples(flow, window=window), pd.Timestamp(flow.last_day, tz="UTC") + pd.Timedelta(days=1)

    def forecast_how_many(self, days: int | None = None, until: Any = None, log: pd.DataFrame | None = None,
                          workflow: Workflow | None = None, *, now: Any = None, window: int | None = 90,
                          trials: int = 10_000, seed: int = 0) -> Any:
        """How many items will be done in ``days`` days (or by ``until``), from the last ``window`` days' throughput."""
        from labkit.tracker.forecast import how_many

        samples, start = self._samples(log, workflow, now, window)
        return how_many(samples, days=days, until=until, start=start, trials=trials, seed=seed)

    def forecast_when(self, items: int, log: pd.DataFrame | None = None, workflow: Workflow | None = None, *,
                      now: Any = None, window: int | None = 90, trials: int = 10_000, seed: int = 0) -> Any:
        """When ``items`` items will be done, from the last ``window`` days' throughput."""
        from labkit.tracker.forecast import when

        samples, start = self._samples(log, workflow, now, window)
        return when(samples, items=items, start=start, trials=trials, seed=seed)

    def forecast_release(self, key: str, log: pd.DataFrame | None = None, workflow: Workflow | None = None, *,
                         now: Any = None, window: int | None = 90, trials: int = 10_000, seed: int = 0) -> Any:
        """When ``key`` and every open issue (transitively) blocking it will be done (p50/p85/p95)."""
        from labkit.tracker.forecast import release

        flow = self.flow(log, workflow, now=now)
        if key not in set(self._df["key"]):
            raise TrackerError(f"{key} is not in this issue table", hint="give a key the search found")
        samples, start = self._samples(log, workflow, now, window)
        cycle = metrics.cycle_time(flow)["cycle_days"] if flow.has_history else None
        ages = dict(zip(*metrics.ageing_wip(flow)[["key", "age_days"]].to_numpy().T, strict=True)) \
            if flow.has_history else {}
        return release(key, self.blockers(), samples, done=self._done_keys(flow), cycle_times=cycle, ages=ages,
                       start=start, trials=trials, seed=seed)

    # -- charts ----------------------------------------------------------------------------------
    def plot(self, metric: str = "cycle_time", log: pd.DataFrame | None = None, workflow: Workflow | None = None,
             *, now: Any = None, freq: str = "W", **options: Any) -> Any:
        """Draw one metric as a :class:`labkit.tracker.charts.Chart` (``PLOTS`` lists them)."""
        from labkit.tracker import charts

        if metric not in PLOTS:
            raise TrackerError(f"unknown chart {metric!r}", hint=f"choose one of: {', '.join(PLOTS)}")
        flow = self.flow(log, workflow, now=now)
        if metric == "cycle_time":
            return charts.cycle_time_scatter(metrics.cycle_time(flow))
        if metric == "cycle_time_histogram":
            return charts.cycle_time_histogram(metrics.cycle_time(flow))
        if metric == "throughput":
            return charts.throughput_chart(metrics.throughput(flow, "W"))
        if metric == "cumulative_flow":
            return charts.cumulative_flow_chart(metrics.cumulative_flow(flow), done=flow.workflow.done)
        if metric == "ageing_wip":
            wf = flow.workflow
            pct = metrics.percentiles(metrics.cycle_time(flow)["cycle_days"]) if flow.has_history else \
                {p: float("nan") for p in metrics.PERCENTILES}
            return charts.ageing_wip_chart(metrics.ageing_wip(flow), wf.names[wf.start_index:wf.done_index], pct)
        if metric == "created_vs_resolved":
            return charts.created_vs_resolved_chart(metrics.created_vs_resolved(flow, freq))
        if metric == "forecast_how_many":
            return charts.forecast_chart(self.forecast_how_many(log=log, workflow=workflow, now=now, **options))
        return charts.forecast_chart(self.forecast_when(log=log, workflow=workflow, now=now, **options))
