"""Monte Carlo forecasts from sampled daily throughput: how many items by a date, when N items will be done,
and when an issue and everything blocking it will be done.

    samples = throughput_samples(flow, window=90)          # items done per day, the last 90 days of data
    how_many(samples, until="2024-06-30").table()           # p50/p85/p95: items done by then
    when(samples, items=40).table()                         # p50/p85/p95: the date the 40th is done
    release(flow, "DEMO-12", blockers, samples).table()     # the issue and its open blockers, at p50/p85

Each trial draws one day's throughput at random (with replacement) from the samples for every
future day: numpy, seeded (same seed, same answer), 10,000 trials by default.

Reading the percentiles (the convention of flow-metrics forecasting): "85% likely" means the
answer holds in at least 85% of the trials. For *how many*, it is the largest count reached in
85% of the trials (so it is lower than the median); for *when*, the earliest day by which 85% of
the trials have finished (later than the median). Days are counted from ``start`` (the day after
the data's last day by default): one day of work ends that day, so *when* gives the day the last
item is done, and *how many* counts ``start`` .. ``until`` inclusive.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from labkit.tracker.errors import TrackerError

TRIALS = 10_000
LIKELIHOODS = (50, 85, 95)
MAX_DAYS = 3650  # a forecast further than ten years out is no forecast
_CHUNK = 20_000_000  # draws per block (memory: ~80 MB of int32)


def _start(start: Any, default: Any) -> Any:
    """The first forecast day as a UTC midnight Timestamp."""
    import pandas as pd

    ts = pd.Timestamp(start if start is not None else default)
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    return ts.normalize()


def throughput_samples(source: Any, *, window: int | None = 90, end: Any = None) -> np.ndarray:
    """Items done per day over the sampling window: the last ``window`` days up to ``end`` (the data's last day).

    ``source`` is a :class:`labkit.tracker.flow.Flow`, a Series of daily counts, or done dates.
    Days with nothing done count as 0. ``window=None`` takes every day of the data.
    """
    import pandas as pd

    from labkit.tracker.flow import Flow
    from labkit.tracker.metrics import daily_done

    if isinstance(source, Flow):
        daily = daily_done(source)
    elif isinstance(source, pd.Series) and isinstance(source.index, pd.DatetimeIndex):
        daily = source.astype(int)
    else:
        when = pd.to_datetime(pd.Series(list(source)), utc=True).dt.normalize()
        if when.empty:
            raise TrackerError("no done dates to sample throughput from", hint="give done dates or a Flow")
        days = pd.date_range(when.min(), when.max(), freq="D")
        daily = when.value_counts().reindex(days, fill_value=0).sort_index()
    if end is not None:
        daily = daily[daily.index <= _start(end, end)]
    if window is not None:
        if window < 1:
            raise TrackerError(f"the sampling window {window} is less than a day", hint="give window=1 or more days")
        daily = daily.iloc[-window:]
    out = daily.to_numpy(dtype=np.int64)
    if not len(out):
        raise TrackerError("no days of data to sample throughput from", hint="widen the window or give more data")
    return out


def _check(samples: Any, trials: int) -> np.ndarray:
    """The samples as an int array, checked; the trials count checked."""
    a = np.asarray(samples)
    if a.ndim != 1 or not len(a):
        raise TrackerError("the throughput samples are empty", hint="sample a window with finished items in it")
    if (a < 0).any():
        raise TrackerError("a daily throughput sample is negative", hint="give items finished per day (0 or more)")
    if trials < 1:
        raise TrackerError(f"{trials} trials", hint="run 1 or more trials (10,000 is the default)")
    return a.astype(np.int64)


@dataclass(frozen=True)
class Forecast:
    """The outcomes of a Monte Carlo forecast and their percentiles (see the module doc for how to read them)."""

    question: str                 # "how many" | "when" | "release"
    outcomes: np.ndarray          # per trial: items done (how many) or days needed (when, release)
    start: Any                    # first forecast day (UTC midnight)
    trials: int
    seed: int
    days: int | None = None       # how many: the horizon in days
    items: int | None = None      # when: the number of items
    detail: dict[str, Any] = field(default_factory=dict)

    def likely(self, p: float) -> int:
        """The answer that holds in at least ``p``% of the trials (items for how many, days for when).

        *When* is the nearest-rank percentile of the days; *how many* the same taken from the top
        (the largest count that at least ``p``% of the trials reach).
        """
        from labkit.tracker.metrics import percentile

        if self.question == "how many":
            return int(-percentile(-self.outcomes, p))
        return int(percentile(self.outcomes, p))

    def date(self, p: float) -> Any:
        """For when/release: the day the work is done in at least ``p``% of the trials."""
        import pandas as pd

        if self.question == "how many":
            raise TrackerError("a how-many forecast answers with items, not dates", hint="use likely(p)")
        return self.start + pd.Timedelta(days=max(self.likely(p) - 1, 0))

    def table(self, likelihoods: Sequence[int] = LIKELIHOODS):  # -> pandas.DataFrame
        """One row per likelihood: the items (how many) or the date and days (when, release)."""
        import pandas as pd

        rows = []
        for p in likelihoods:
            if self.question == "how many":
                rows.append({"likelihood_pct": p, "items": self.likely(p),
                             "by": (self.start + pd.Timedelta(days=(self.days or 1) - 1)).date()})
            else:
                rows.append({"likelihood_pct": p, "date": self.date(p).date(), "days": self.likely(p)})
        return pd.DataFrame(rows)

    def histogram(self):  # -> pandas.Series
        """How many trials ended with each outcome (items, or days), in outcome order."""
        import pandas as pd

        values, counts = np.unique(self.outcomes, return_counts=True)
        return pd.Series(counts, index=pd.Index(values, name="items" if self.question == "how many" else "days"),
                         name="trials")


def _days_until(start: Any, until: Any) -> int:
    """Days from ``start`` to ``until``, both included."""
    end = _start(until, until)
    days = int((end - start).days) + 1
    if days < 1:
        raise TrackerError(f"{end.date()} is before the forecast starts ({start.date()})",
                           hint="give a later date, or an earlier start")
    return days


def how_many(samples: Any, *, days: int | None = None, until: Any = None, start: Any = None,
             trials: int = TRIALS, seed: int = 0, share: float = 1.0) -> Forecast:
    """How many items will be done in ``days`` days (or from ``start`` until the date ``until``, inclusive).

    ``share`` is the part of the team's throughput that goes to these items (each finished item
    is one of them with that probability).
    """
    import pandas as pd

    a = _check(samples, trials)
    first = _start(start, pd.Timestamp.now(tz="UTC") + pd.Timedelta(days=1))
    if (days is None) == (until is None):
        raise TrackerError("give either days or until", hint="how_many(samples, days=30) or until='2024-06-30'")
    n_days = days if days is not None else _days_until(first, until)
    if n_days < 1 or n_days > MAX_DAYS:
        raise TrackerError(f"a horizon of {n_days} days", hint=f"forecast 1 to {MAX_DAYS} days ahead")
    rng = np.random.default_rng(seed)
    total = np.zeros(trials, dtype=np.int64)
    step = max(1, _CHUNK // trials)
    for lo in range(0, n_days, step):
        width = min(step, n_days - lo)
        drawn = a[rng.integers(0, len(a), size=(trials, width))]
        if share < 1.0:
            drawn = rng.binomial(drawn, share)
        total += drawn.sum(axis=1)
    return Forecast("how many", total, first, trials, seed, days=n_days)


def _days_to(a: np.ndarray, items: np.ndarray, rng: np.random.Generator, share: float) -> np.ndarray:
    """Per trial, the number of days until the cumulative draws reach that trial's ``items``."""
    trials = len(items)
    need = items.astype(np.int64).copy()
    days = np.zeros(trials, dtype=np.int64)
    todo = np.flatnonzero(need > 0)
    mean = a.mean() * share
    while len(todo):
        if days[todo[0]] >= MAX_DAYS:
            raise TrackerError(f"{len(todo):,} of {trials:,} trials are not done after {MAX_DAYS} days",
                               hint="the sampled throughput is too low for this much work: check the window")
        width = int(min(MAX_DAYS, max(8, np.ceil(need[todo].max() / max(mean, 1e-9) * 1.25))))
        width = min(width, max(1, _CHUNK // len(todo)))
        drawn = a[rng.integers(0, len(a), size=(len(todo), width))]
        if share < 1.0:
            drawn = rng.binomial(drawn, share)
        run = np.cumsum(drawn, axis=1)
        reached = run[:, -1] >= need[todo]
        first = np.argmax(run >= need[todo][:, None], axis=1)
        days[todo[reached]] += first[reached] + 1
        days[todo[~reached]] += width
        need[todo[~reached]] -= run[~reached, -1]
        todo = todo[~reached]
    return days


def when(samples: Any, *, items: int, start: Any = None, trials: int = TRIALS, seed: int = 0,
         share: float = 1.0) -> Forecast:
    """When ``items`` items will be done: per trial, the day the last of them is finished."""
    import pandas as pd

    a = _check(samples, trials)
    if items < 1:
        raise TrackerError(f"{items} items to forecast", hint="give 1 or more items")
    if a.sum() == 0 or share <= 0:
        raise TrackerError("no item was finished on any sampled day: nothing to forecast from",
                           hint="widen the sampling window to days when work was finished")
    first = _start(start, pd.Timestamp.now(tz="UTC") + pd.Timedelta(days=1))
    rng = np.random.default_rng(seed)
    days = _days_to(a, np.full(trials, items), rng, share)
    return Forecast("when", days, first, trials, seed, items=items)


# ------------------------------------------------------------------ release: an issue and its blockers

def open_blockers(key: str, blockers: Mapping[str, Iterable[str]], done: Iterable[str] = ()) -> list[str]:
    """The issue and every issue that (transitively) blocks it and is not done, blockers first.

    ``blockers`` maps an issue to the issues that block it (a search frame's ``blocked_by``, or
    ``blocks_graph(issues).blockers_map()``); a blocking cycle is followed once.
    """
    finished = set(done)
    order: list[str] = []
    seen: set[str] = set()
    stack: list[tuple[str, Any]] = [(key, iter(sorted(set(blockers.get(key, ())) - finished)))]
    seen.add(key)
    while stack:
        node, it = stack[-1]
        nxt = next(it, None)
        if nxt is None:
            stack.pop()
            if node not in finished:
                order.append(node)
        elif nxt not in seen:
            seen.add(nxt)
            stack.append((nxt, iter(sorted(set(blockers.get(nxt, ())) - finished))))
    return order


def _critical_days(nodes: list[str], blockers: Mapping[str, Iterable[str]], durations: np.ndarray) -> np.ndarray:
    """Per trial, the longest chain of blocked work: each node's days added after its slowest blocker's."""
    pos = {k: i for i, k in enumerate(nodes)}
    finish = np.zeros_like(durations, dtype=np.float64)
    for k in nodes:  # blockers first (open_blockers' order)
        i = pos[k]
        before = [pos[b] for b in blockers.get(k, ()) if b in pos and pos[b] < i]
        base = finish[before].max(axis=0) if before else 0.0
        finish[i] = base + durations[i]
    return finish.max(axis=0) if len(nodes) else np.zeros(durations.shape[1])


def release(key: str, blockers: Mapping[str, Iterable[str]], samples: Any, *, done: Iterable[str] = (),
            cycle_times: Any = None, ages: Mapping[str, float] | None = None, start: Any = None,
            trials: int = TRIALS, seed: int = 0, share: float = 1.0) -> Forecast:
    """When ``key`` and everything (transitively) blocking it that is not done will be done.

    Per trial it is the later of two dates: when the team's sampled throughput has finished as
    many items as the set holds, and, when ``cycle_times`` (days) are given, when the longest
    chain of blockers is through, each item taking a cycle time drawn from them (an item already
    ``ages[key]`` days in progress takes what is left of a cycle time longer than its age).
    """
    import pandas as pd

    a = _check(samples, trials)
    work = open_blockers(key, blockers, done)
    first = _start(start, pd.Timestamp.now(tz="UTC") + pd.Timedelta(days=1))
    rng = np.random.default_rng(seed)
    if not work:
        return Forecast("release", np.zeros(trials, dtype=np.int64), first, trials, seed, items=0,
                        detail={"issues": [], "key": key})
    if a.sum() == 0 or share <= 0:
        raise TrackerError("no item was finished on any sampled day: nothing to forecast from",
                           hint="widen the sampling window to days when work was finished")
    days = _days_to(a, np.full(trials, len(work)), rng, share)
    chain = None
    if cycle_times is not None:
        ct = np.sort(np.asarray(cycle_times, dtype=float))
        ct = ct[~np.isnan(ct)]
        if not len(ct):
            raise TrackerError("no cycle times to draw the blockers' durations from",
                               hint="give finished items' cycle times, or none to forecast by throughput alone")
        durations = np.empty((len(work), trials))
        for i, k in enumerate(work):
            age = float((ages or {}).get(k, 0.0))
            longer = ct[ct > age] if age > 0 else ct
            pool = (longer - age) if len(longer) else np.array([0.0])
            durations[i] = pool[rng.integers(0, len(pool), size=trials)]
        chain = np.ceil(_critical_days(work, blockers, durations)).astype(np.int64)
        days = np.maximum(days, np.maximum(chain, 1))
    return Forecast("release", days, first, trials, seed, items=len(work),
                    detail={"issues": work, "key": key, "chain_days": chain})
