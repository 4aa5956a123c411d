"""Tracker analytics on issue DataFrames: trends, throughput, cycle time, flow, ageing WIP, blocked chains.

Importing this module registers the ``df.jira`` pandas accessor::

    import labkit.tracker.analytics  # noqa: F401  (registers df.jira)
    df = store.search("project = DEMO")                  # normalised columns
    log = changelog_frame(issues_json)                  # status transitions, when you have them
    df.jira.created_vs_resolved("W")                     # weekly created, resolved, open
    df.jira.cycle_time(log).describe()
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pandas as pd

from labkit.jira.errors import JiraError

# Status -> category for trackers whose frames carry no status_category (Jira's three categories).
DEFAULT_CATEGORIES = {
    "open": "new", "to do": "new", "backlog": "new", "reopened": "new", "new": "new", "selected for development": "new",
    "in progress": "indeterminate", "in review": "indeterminate", "in qe test": "indeterminate",
    "in testing": "indeterminate", "code review": "indeterminate", "blocked": "indeterminate",
    "done": "done", "closed": "done", "resolved": "done", "won't fix": "done",
}
CATEGORY_ORDER = ("new", "indeterminate", "done")


_FREQ_ALIASES = {"M": "ME", "Q": "QE", "Y": "YE", "A": "YE"}


def _freq(freq: str) -> str:
    """Accept the classic period names (M, Q, Y) that newer pandas renamed to month-end etc."""
    return _FREQ_ALIASES.get(freq, freq)


def _utc(series: pd.Series) -> pd.Series:
    """Parse a column of Jira timestamps as UTC datetimes (unparseable ones become NaT)."""
    return pd.to_datetime(series, utc=True, errors="coerce", format="mixed")


def changelog_frame(issues: Iterable[dict[str, Any]]) -> pd.DataFrame:
    """Flatten ``changelog.histories`` of REST issue JSON into rows: key, at, field, from, to, author."""
    rows = []
    for issue in issues:
        for h in (issue.get("changelog") or {}).get("histories", []):
            author = (h.get("author") or {}).get("displayName") or (h.get("author") or {}).get("name")
            for item in h.get("items", []):
                rows.append({"key": issue["key"], "at": h.get("created"), "field": item.get("field"),
                             "from": item.get("fromString"), "to": item.get("toString"), "author": author})
    frame = pd.DataFrame(rows, columns=["key", "at", "field", "from", "to", "author"])
    frame["at"] = _utc(frame["at"])
    return frame.sort_values(["key", "at"], kind="stable").reset_index(drop=True)


def _status_transitions(changelog: pd.DataFrame) -> pd.DataFrame:
    """Return the status rows of a changelog frame, or say that the metric needs a changelog."""
    if changelog is None or changelog.empty:
        raise JiraError("this metric needs the changelog (status transitions), and none was given",
                        hint="fetch issues with expand=changelog and pass changelog_frame(issues)")
    log = changelog[changelog["field"].str.lower() == "status"].copy()
    log["at"] = _utc(log["at"])
    return log


@pd.api.extensions.register_dataframe_accessor("jira")
class JiraAccessor:
    """The ``df.jira`` accessor: metrics over a frame with labkit's normalised issue columns."""

    REQUIRED = ("key", "created")

    def __init__(self, df: pd.DataFrame) -> None:
        """Wrap an issue table; refuse a frame that lacks the issue columns."""
        missing = [c for c in self.REQUIRED if c not in df.columns]
        if missing:
            raise JiraError(f"not an issue table: columns {missing} are missing",
                            hint="use a frame from JiraClient.search, Store.search or SoapClient.search")
        self._df = df

    # -- helpers ---------------------------------------------------------------------------------
    def _frame(self) -> pd.DataFrame:
        """Return a copy of the issue table with created/resolved as UTC datetimes."""
        df = self._df.copy()
        df["created"] = _utc(df["created"])
        df["resolved"] = _utc(df["resolved"]) if "resolved" in df else pd.NaT
        return df

    def categories(self) -> dict[str, str]:
        """Return status -> category (new, indeterminate, done), from the frame where it says, else defaults."""
        cats = {k: v for k, v in DEFAULT_CATEGORIES.items()}
        if {"status", "status_category"} <= set(self._df.columns):
            for status, cat in self._df[["status", "status_category"]].dropna().drop_duplicates().itertuples(index=False):
                cats[str(status).lower()] = _category_key(cat)
        return cats

    # -- metrics ---------------------------------------------------------------------------------
    def created_vs_resolved(self, freq: str = "W") -> pd.DataFrame:
        """Count issues created and resolved per period, and the open backlog at each period's end."""
        df = self._frame()
        freq = _freq(freq)
        created = df.set_index("created").resample(freq).size().rename("created")
        resolved = df.dropna(subset=["resolved"]).set_index("resolved").resample(freq).size().rename("resolved")
        out = pd.concat([created, resolved], axis=1).fillna(0).astype(int).sort_index()
        out["open"] = out["created"].cumsum() - out["resolved"].cumsum()
        out.index.name = "period"
        return out

    def throughput(self, freq: str = "W") -> pd.Series:
        """Count issues resolved per period (a period with none counts 0)."""
        return self.created_vs_resolved(freq)["resolved"].rename("throughput")

    def cycle_time(self, changelog: pd.DataFrame) -> pd.DataFrame:
        """Time from first entering an in-progress status to the last move into done, per finished issue."""
        cats = self.categories()
        log = _status_transitions(changelog)
        log = log[log["key"].isin(set(self._df["key"]))]
        log["to_cat"] = log["to"].str.lower().map(cats).fillna("indeterminate")
        started = log[log["to_cat"] == "indeterminate"].groupby("key")["at"].min().rename("started")
        finished = log[log["to_cat"] == "done"].groupby("key")["at"].max().rename("finished")
        out = pd.concat([started, finished], axis=1).dropna()
        out = out[out["finished"] >= out["started"]]
        out["cycle_days"] = (out["finished"] - out["started"]).dt.total_seconds() / 86400
        out.index.name = "key"
        return out.sort_values("cycle_days")

    def status_intervals(self, changelog: pd.DataFrame, now: pd.Timestamp | None = None) -> pd.DataFrame:
        """Each issue's stay in each status: key, status, start, end (end is ``now`` for the current one)."""
        df = self._frame().set_index("key")
        now = now or pd.Timestamp.now(tz="UTC")
        log = _status_transitions(changelog)
        rows = []
        by_key = {k: g for k, g in log.groupby("key")}
        for key, issue in df.iterrows():
            moves = by_key.get(key)
            first = moves["from"].iloc[0] if moves is not None and len(moves) else issue.get("status")
            at, status = issue["created"], first
            if moves is not None:
                for m in moves.itertuples(index=False):
                    rows.append((key, status, at, m.at))
                    at, status = m.at, m.to
            rows.append((key, status, at, now))
        return pd.DataFrame(rows, columns=["key", "status", "start", "end"])

    def cumulative_flow(self, changelog: pd.DataFrame, freq: str = "D",
                        now: pd.Timestamp | None = None) -> pd.DataFrame:
        """Count issues in each status category at the end of each period (a cumulative flow diagram's data)."""
        cats = self.categories()
        iv = self.status_intervals(changelog, now)
        iv["category"] = iv["status"].str.lower().map(cats).fillna("indeterminate")
        start, end = iv["start"].min().floor("D"), iv["end"].max().floor("D")
        current = iv.groupby("key").cumcount(ascending=False) == 0
        iv.loc[current, "end"] = pd.Timestamp("2200-01-01", tz="UTC")  # the status an issue is in now has no end
        ticks = pd.date_range(start, end, freq=_freq(freq), tz="UTC")
        data = {}
        for cat in CATEGORY_ORDER:
            part = iv[iv["category"] == cat]
            s, e = part["start"].to_numpy(), part["end"].to_numpy()
            data[cat] = [int(((s <= t) & (e > t)).sum()) for t in ticks.to_numpy()]
        out = pd.DataFrame(data, index=ticks)
        out.index.name = "at"
        return out

    def ageing_wip(self, changelog: pd.DataFrame | None = None, now: pd.Timestamp | None = None) -> pd.DataFrame:
        """List unfinished in-progress issues with their age: since entering progress (changelog) or creation."""
        cats = self.categories()
        now = now or pd.Timestamp.now(tz="UTC")
        df = self._frame()
        df["category"] = df["status"].str.lower().map(cats).fillna("indeterminate") if "status" in df else "new"
        wip = df[df["category"] == "indeterminate"].set_index("key")
        since = wip["created"]
        if changelog is not None and not changelog.empty:
            log = _status_transitions(changelog)
            log = log[log["to"].str.lower().map(cats).fillna("indeterminate") == "indeterminate"]
            since = log.groupby("key")["at"].min().reindex(wip.index).fillna(wip["created"])
        out = pd.DataFrame({"status": wip.get("status"), "since": since})
        out["age_days"] = (now - out["since"]).dt.total_seconds() / 86400
        return out.sort_values("age_days", ascending=False)

    def blocked_chain_depth(self) -> pd.Series:
        """For each issue, the length of the longest chain of open blockers behind it (0: nothing blocks it)."""
        if "blocked_by" not in self._df.columns:
            raise JiraError("blocked chains need the blocked_by column", hint="search with links (the default fields)")
        cats = self.categories()
        open_keys = set(self._df["key"])
        if "status" in self._df:
            done = self._df["status"].str.lower().map(cats).eq("done")
            open_keys = set(self._df.loc[~done, "key"])
        blockers = {k: [b for b in (v if isinstance(v, (list, tuple)) else []) if b in open_keys]
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

    # -- plots -----------------------------------------------------------------------------------
    def plot(self, metric: str = "created_vs_resolved", changelog: pd.DataFrame | None = None,
             freq: str = "W", ax: Any = None):
        """Draw one metric with matplotlib and return the Axes."""
        import matplotlib.pyplot as plt

        ax = ax or plt.subplots(figsize=(9, 3.5))[1]
        if metric == "created_vs_resolved":
            self.created_vs_resolved(freq)[["created", "resolved"]].plot(ax=ax, title="Created vs resolved")
        elif metric == "throughput":
            self.throughput(freq).plot(kind="bar", ax=ax, title=f"Throughput per {freq}")
        elif metric == "cycle_time":
            self.cycle_time(changelog)["cycle_days"].plot(kind="hist", bins=20, ax=ax, title="Cycle time (days)")
        elif metric == "cumulative_flow":
            self.cumulative_flow(changelog, freq="D")[list(reversed(CATEGORY_ORDER))].plot.area(
                ax=ax, title="Cumulative flow", stacked=True)
        elif metric == "ageing_wip":
            self.ageing_wip(changelog)["age_days"].head(30).plot(kind="barh", ax=ax, title="Ageing WIP (days)")
        else:
            raise JiraError(f"unknown metric {metric!r}", hint="created_vs_resolved, throughput, cycle_time, "
                                                              "cumulative_flow or ageing_wip")
        return ax


def _category_key(value: Any) -> str:
    """Map a status category name or key to its key (new, indeterminate, done)."""
    v = str(value).lower()
    if v in CATEGORY_ORDER:
        return v
    return {"to do": "new", "in progress": "indeterminate", "complete": "done"}.get(v, v)
