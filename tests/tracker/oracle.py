"""A brute-force reading of raw REST histories, written for the tests and sharing no code with labkit.tracker.

Each issue's timeline is rebuilt by hand from ``changelog.histories`` (status items only, by time),
then every metric is answered by walking timelines day by day. Slow on purpose: it is the
definition, not an implementation. The definitions (labkit.tracker.flow's module doc):

- an issue stays in the status its first change moved it from, from its creation; without
  changes, in its current status;
- started: its first entry into the start stage or a later one; done: while it is in the done
  stage or a later one, its last entry into that range; unstarted: done without any stay in a
  stage from start up to (not including) done;
- daily counts are taken at the end of each UTC day (no later than ``now``), from the first day
  with data to the last day with activity.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta


def when(text):
    """Parse a Jira timestamp to aware UTC (``+0000`` and ``+00:00`` forms)."""
    t = text.strip()
    if len(t) >= 5 and t[-5] in "+-" and t[-4:].isdigit():
        t = t[:-2] + ":" + t[-2:]
    return datetime.fromisoformat(t).astimezone(UTC)


class Timeline:
    """One issue's stays in stages: [(start, end, stage)], and its status changes as stage pairs."""

    def __init__(self, issue, stage_of, now):
        f = issue["fields"]
        self.key = issue["key"]
        self.created = when(f["created"])
        changes = []
        log = issue.get("changelog") or {}
        hs = log if isinstance(log, list) else log.get("histories") or []
        for pos, h in enumerate(hs):
            for it in h.get("items") or []:
                if str(it.get("field", "")).lower() == "status":
                    changes.append((when(h["created"]), pos, it.get("fromString"), it.get("toString")))
        changes.sort(key=lambda c: (c[0], c[1]))
        # created in the status its first change left, whenever that change came
        first = stage_of.get(changes[0][2], -1) if changes else stage_of.get(f["status"]["name"], -1)
        start = min([self.created] + ([changes[0][0]] if changes else []))
        changes = [c for c in changes if c[0] <= now]
        self.changes = changes
        stays = []
        held, since = first, start
        self.moves = []  # (from stage held, to stage)
        for at, _pos, _frm, to in changes:
            stays.append((since, at, held))
            nxt = stage_of.get(to, -1)
            self.moves.append((held, nxt))
            held, since = nxt, at
        stays.append((since, now, held))
        self.stays = stays
        self.now_stage = held

    def stage_at(self, t):
        """The stage held at moment t (None before the issue exists)."""
        for a, b, s in self.stays:
            if a <= t < b:
                return s
        if self.stays and t >= self.stays[-1][1] and t <= self.stays[-1][1]:
            return self.stays[-1][2]
        return None

    def started(self, start):
        """First entry into the start stage or later."""
        for a, _b, s in self.stays:
            if s >= start:
                return a
        return None

    def done(self, done):
        """Last entry into the done range, if the issue is in it now."""
        if self.now_stage < done:
            return None
        found = None
        prev = None
        for a, _b, s in self.stays:
            if s >= done and (prev is None or prev < done):
                found = a
            prev = s
        return found

    def unstarted(self, start, done):
        """Done without a stay in [start, done)."""
        return self.done(done) is not None and not any(start <= s < done for _a, _b, s in self.stays)


def day_floor(t):
    """Midnight UTC of t's day."""
    return datetime(t.year, t.month, t.day, tzinfo=UTC)


def days_between(first, last):
    """Every UTC midnight from first to last, inclusive."""
    out, d = [], first
    while d <= last:
        out.append(d)
        d += timedelta(days=1)
    return out


def nearest_rank(values, p):
    """The smallest value with at least p% of the values at or below it."""
    s = sorted(values)
    if not s:
        return float("nan")
    k = max(1, math.ceil(p / 100 * len(s)))
    return s[min(k, len(s)) - 1]
