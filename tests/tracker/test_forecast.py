"""Monte Carlo forecasts: exact when throughput is constant, within 2% of the analytic answer for a known distribution.

The analytic answers are computed here from the distribution itself (convolution of the daily
probability mass function), not by sampling, and read with the same definitions the forecasts
document: *how many* at p% is the largest count reached with probability at least p%; *when* at
p% is the first day by which the work is done with probability at least p%.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from labkit.tracker.errors import TrackerError
from labkit.tracker.forecast import how_many, open_blockers, release, throughput_samples, when

pytestmark = pytest.mark.unit

START = pd.Timestamp("2024-03-01", tz="UTC")


@pytest.mark.parametrize("k", [1, 3, 7])
def test_constant_throughput_gives_exact_forecasts(k):
    hm = how_many([k] * 5, days=30, start=START)
    assert [hm.likely(p) for p in (50, 85, 95)] == [30 * k] * 3
    assert hm.trials == 10_000 and len(hm.outcomes) == 10_000
    by_date = how_many([k], until="2024-03-10", start=START)  # the 1st to the 10th: ten days
    assert by_date.likely(85) == 10 * k
    wh = when([k], items=50, start=START)
    days = math.ceil(50 / k)
    assert [wh.likely(p) for p in (50, 85, 95)] == [days] * 3
    assert wh.date(85) == START + pd.Timedelta(days=days - 1)
    assert list(wh.table()["days"]) == [days] * 3


def pmf_of(samples):
    """The daily throughput's probability mass function (index: items)."""
    values, counts = np.unique(samples, return_counts=True)
    pmf = np.zeros(values.max() + 1)
    pmf[values] = counts / counts.sum()
    return pmf


def pmf_after(pmf, days):
    """The pmf of the total over ``days`` independent days."""
    out = np.array([1.0])
    for _ in range(days):
        out = np.convolve(out, pmf)
    return out


SAMPLES = [0, 0, 1, 1, 1, 2, 2, 2, 2, 3, 5, 8]  # a lumpy week-day mix: mean 2.25


@pytest.mark.parametrize("days", [10, 45])
def test_how_many_percentiles_match_the_convolution(days):
    dist = pmf_after(pmf_of(SAMPLES), days)
    at_least = np.cumsum(dist[::-1])[::-1]  # P(X >= n)
    hm = how_many(SAMPLES, days=days, start=START, seed=11)
    for p in (50, 85, 95):
        exact = int(np.max(np.flatnonzero(at_least >= p / 100)))
        assert hm.likely(p) == pytest.approx(exact, rel=0.02), p


@pytest.mark.parametrize("items", [20, 90])
def test_when_percentiles_match_the_convolution(items):
    pmf = pmf_of(SAMPLES)
    done_by = []  # P(total over d days >= items), d = 1, 2, ...
    dist = np.array([1.0])
    while not done_by or done_by[-1] < 0.999:
        dist = np.convolve(dist, pmf)
        done_by.append(dist[items:].sum())
    wh = when(SAMPLES, items=items, start=START, seed=3)
    for p in (50, 85, 95):
        exact = next(d for d, q in enumerate(done_by, start=1) if q >= p / 100)
        assert wh.likely(p) == pytest.approx(exact, rel=0.02), p


def test_a_share_of_the_throughput_thins_it_binomially():
    n = 4 * 50  # four items a day for fifty days, each one of ours with probability 0.3
    cdf = np.cumsum([math.comb(n, j) * 0.3 ** j * 0.7 ** (n - j) for j in range(n + 1)])
    hm = how_many([4], days=50, start=START, share=0.3, seed=5)
    for p in (50, 85, 95):
        exact = int(np.max(np.flatnonzero(1 - np.r_[0, cdf[:-1]] >= p / 100)))
        assert hm.likely(p) == pytest.approx(exact, rel=0.02)


def test_seeded_and_reproducible():
    a = when(SAMPLES, items=30, start=START, seed=1)
    b = when(SAMPLES, items=30, start=START, seed=1)
    c = when(SAMPLES, items=30, start=START, seed=2)
    assert (a.outcomes == b.outcomes).all() and not (a.outcomes == c.outcomes).all()


def test_samples_are_the_last_days_with_zeros_included():
    done = pd.to_datetime(["2024-01-01", "2024-01-01", "2024-01-03", "2024-01-08"], utc=True)
    assert list(throughput_samples(done, window=None)) == [2, 0, 1, 0, 0, 0, 0, 1]
    assert list(throughput_samples(done, window=3)) == [0, 0, 1]


def test_release_waits_for_the_longest_chain_of_blockers():
    blockers = {"R": ["A", "B"], "A": ["C"], "C": [], "B": ["Z"], "Z": []}
    assert open_blockers("R", blockers, done={"Z"}) == ["C", "A", "B", "R"]
    fast = release("R", blockers, [4], done={"Z"}, start=START)  # 4 items, 4 a day: one day
    assert fast.likely(95) == 1
    chained = release("R", blockers, [4], done={"Z"}, cycle_times=[2.0], start=START)  # C, A, R: 3 x 2 days
    assert [chained.likely(p) for p in (50, 85)] == [6, 6]
    aged = release("R", blockers, [4], done={"Z"}, cycle_times=[2.0, 5.0], ages={"C": 4.0}, start=START, seed=0)
    assert aged.likely(50) >= 1 + 2 and aged.detail["issues"] == ["C", "A", "B", "R"]


def test_bad_input_is_refused_in_one_line():
    with pytest.raises(TrackerError, match="no item was finished"):
        when([0, 0, 0], items=5, start=START)
    with pytest.raises(TrackerError, match="before the forecast starts"):
        how_many([1], until="2024-01-01", start=START)
    with pytest.raises(TrackerError, match="either days or until"):
        how_many([1], start=START)
    with pytest.raises(TrackerError, match="negative"):
        how_many([1, -1], days=3, start=START)
    with pytest.raises(TrackerError, match="not done after"):
        when([0] * 999 + [1], items=100, start=START, trials=50)


def test_the_frames_blockers_are_the_blocker_graphs():
    """open_blockers over read_issues' blocked_by agrees with labkit.rank's blocks_graph of the same issues."""
    from labkit.jira.model import WORDING
    from labkit.jira.sandbox.demo import generate
    from labkit.rank.graph import blocks_graph
    from labkit.tracker.history import read_issues

    raw = list(generate(900, seed=6))
    frame, _log, _counts = read_issues(raw, rule=WORDING)
    done = set(frame.loc[frame["status_category"] == "done", "key"])
    from_frame = {k: list(v) for k, v in zip(frame["key"], frame["blocked_by"], strict=True) if len(v)}
    from_graph = blocks_graph(raw, include_done=True, rule=WORDING).blockers_map()
    blocked = [k for k in from_frame if k not in done]
    assert len(blocked) > 20
    for key in blocked:
        assert open_blockers(key, from_frame, done) == open_blockers(key, from_graph, done), key
