"""The store's search columns of every issue kept in memory, so a large search is an index lookup plus a take.

Why: a search returning a fifth of a 1,000,000-issue store spends nearly all its time reading and
building its rows (about 25 us each: the issue row, its labels, components and blocking links, then
the columns), not finding them (FTS5 answers in a tenth of that). Keeping the columns of every
issue as arrays once built turns the rows part into a numpy ``take``. Building costs about as much
as fetching every issue once, so :class:`FramePolicy` builds the cache only after the searches since
the store last changed have fetched that many rows themselves (the ski-rental rule: never more than
about twice the cost of the best choice in hindsight), and any change to the store throws it away.
A store with a search budget (``Store.budget``, the sandbox's) never builds it: no budget bounds the build.

The frame is built by the store's own row-to-column rule (``Store._frame_columns``), so a cached
answer and a fetched one are the same frame; ``tests/jira/test_store_frame_cache.py`` checks that
on the real issues, after writes, and with paging. Cells holding lists are copied on the way out,
so changing a result never changes the cache. Memory: about 1 KB per issue.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any

__all__ = ["FrameCache", "FramePolicy"]

LIST_COLUMNS = ("labels", "components", "blocked_by", "blocks")


class FrameCache:
    """The search columns of every issue, in row id order, tagged with the store version they belong to."""

    def __init__(self, version: Hashable, rids: Sequence[int], columns: dict[str, Any], order: Sequence[str]) -> None:
        """Keep ``columns`` (lists; dates as :class:`~labkit.jira.model.TimesColumn`) of ``rids`` (ascending) at ``version``."""
        import numpy as np

        self.version = version
        self.rids = np.asarray(rids, dtype=np.int64)
        if len(self.rids) > 1 and not bool(np.all(self.rids[1:] > self.rids[:-1])):
            raise ValueError("the frame cache needs its row ids in ascending order")
        self.order = list(order)
        self.columns: dict[str, Any] = {}
        for c, v in columns.items():
            # object arrays (fromiter: a column of equal-length lists stays 1-D); pandas infers each
            # result's dtypes from its own values, as it does for a fetched frame (a subset with no
            # priority at all is an object column, not a string one)
            self.columns[c] = np.fromiter(v, dtype=object, count=len(v)) if isinstance(v, list) else v

    def __len__(self) -> int:
        """How many issues the cache holds."""
        return len(self.rids)

    def take(self, rids: Sequence[int]):  # -> pandas.DataFrame
        """The frame of the issues ``rids``, in that order (list cells are fresh copies)."""
        import numpy as np
        import pandas as pd

        want = np.asarray(rids, dtype=np.int64)
        pos = np.searchsorted(self.rids, want)
        if len(want) and (int(pos.max()) >= len(self.rids) or not bool(np.all(self.rids[pos] == want))):
            raise KeyError("a row id is not in the frame cache")
        out: dict[str, Any] = {}
        for c in self.order:
            col = self.columns[c]
            out[c] = list(map(list.copy, col.take(pos))) if c in LIST_COLUMNS else col.take(pos)
        return pd.DataFrame(out, columns=self.order)


class FramePolicy:
    """When to build the cache: once rows fetched since the last change reach the store's size."""

    def __init__(self) -> None:
        """Start counting for no version yet."""
        self.version: Hashable = None
        self.fetched = 0

    def note(self, version: Hashable, rows: int) -> None:
        """Count rows a search fetched without the cache, at store ``version``."""
        if version != self.version:
            self.version, self.fetched = version, 0
        self.fetched += rows

    def due(self, version: Hashable, size: int) -> bool:
        """Whether a store of ``size`` issues at ``version`` has fetched enough rows to build the cache now."""
        return version == self.version and size > 0 and self.fetched >= size
