"""The store's search columns of every issue kept in memory, so a large search is an index lookup plus a take.

Why: a search returning a fifth of a 1,000,000-issue store spends nearly all its time reading and
building its rows (about 25 us each: the issue row, its labels, components and blocking links, then
the columns), not finding them (FTS5 answers in a tenth of that). Keeping the columns of every
issue as arrays once built turns the rows part into a numpy ``take``. Building costs about as much
as fetching every issue once, so :class:`FramePolicy` builds the cache only after the searches since
the store last changed have fetched that many rows themselves (the ski-rental rule: never more than
about twice the cost of the best choice in hindsight), and any change to the store throws it away.
A store with a search budget (``Store.budget``, the sandbox's) never builds it: no budget bounds the build.

The frame is built by the store's own row-to-column rule (``Store._columns``), so a cached
answer and a fetched one are the same frame; ``tests/jira/test_store_frame_cache.py`` checks that
on the real issues, after writes, and with paging. Cells holding lists are copied on the way out,
so changing a result never changes the cache. Equal values of a column are kept as one object,
so a take touches a few objects many times rather than one scattered object per row. Memory:
about 1 KB per issue.

Orders: sorting a large result in SQL reads every match's sort keys from its row (on 1,000,000
issues a fifth of them took longer than finding them). The cache may keep, per ORDER BY list, every
issue's rank in that order, computed once by SQLite itself (``SELECT rid FROM issue ORDER BY
<the SQL builder's terms>``, which always end in a total order), so the order rule stays in the SQL
builder; a search then sorts its matches by rank with numpy. The order of every search without
ORDER BY is kept when the cache is built; any other once SQL has sorted as many rows in it as the
cache holds (ski rental again). Ranks live in the cache and go with it when the store changes.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any

__all__ = ["FrameCache", "FramePolicy", "TextsColumn"]

LIST_COLUMNS = ("labels", "components", "blocked_by", "blocks")
MAX_ORDERS = 8  # orders kept at once (16 bytes an issue each)


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
        n = len(self.rids)
        dense = n > 0 and int(self.rids[-1]) - int(self.rids[0]) == n - 1  # ascending and distinct: no gap
        self._base: int | None = int(self.rids[0]) if dense else None
        self._ranks: dict[str, tuple[Any, Any]] = {}  # order -> (each position's rank, the positions by rank)
        self._sorted: dict[str, int] = {}  # order -> rows SQL sorted in it since the cache was built
        self.columns: dict[str, Any] = {}
        for c, v in columns.items():
            if not isinstance(v, list):  # dates: TimesColumn
                self.columns[c] = v
                continue
            # equal values become one object (lists too: they are only ever copied out): a take then
            # touches a few objects many times, not one object per row scattered over the heap (on
            # 1,000,000 issues that was most of a large result's time), and the cache is smaller
            seen: dict[Any, Any] = {}
            v = list(map(seen.setdefault, map(tuple, v), v) if c in LIST_COLUMNS else map(seen.setdefault, v, v))
            # object arrays (fromiter: a column of equal-length lists stays 1-D); pandas infers each
            # result's dtypes from its own values, as it does for a fetched frame (a subset with no
            # priority at all is an object column, not a string one): TextsColumn keeps that rule
            values = np.fromiter(v, dtype=object, count=len(v))
            self.columns[c] = values if c in LIST_COLUMNS else TextsColumn.of(values)

    def __len__(self) -> int:
        """How many issues the cache holds."""
        return len(self.rids)

    def positions(self, rids: Sequence[int]):  # -> numpy.ndarray
        """Where the issues ``rids`` sit in the cache (KeyError when one is not in it)."""
        import numpy as np

        want = np.asarray(rids, dtype=np.int64)
        n = len(self.rids)
        if self._base is not None:  # every row id from the first to the last: a position is an offset
            pos = want - self._base
            if len(pos) and (int(pos.min()) < 0 or int(pos.max()) >= n):
                raise KeyError("a row id is not in the frame cache")
            return pos
        pos = np.searchsorted(self.rids, want)
        if len(want) and (int(pos.max()) >= n or not bool(np.all(self.rids[pos] == want))):
            raise KeyError("a row id is not in the frame cache")
        return pos

    def members(self, rids: Sequence[int]):  # -> numpy.ndarray
        """Positions of the distinct ``rids`` the cache holds, in row id order (ids it does not hold are left out)."""
        import numpy as np

        want = np.asarray(rids, dtype=np.int64)
        if len(want) > 1 and not bool(np.all(want[1:] > want[:-1])):  # ascending, as an index gives them, is the rule
            want = np.sort(want)  # (np.unique hashes: 200 ms on 220,000 ids, a sort and a compare a tenth of that)
            want = want[np.concatenate(([True], want[1:] != want[:-1]))]
        n = len(self.rids)
        if self._base is not None:  # every row id from the first to the last: a position is an offset
            pos = want - self._base
            return pos[(pos >= 0) & (pos < n)]
        pos = np.searchsorted(self.rids, want)
        held = pos < n
        held[held] = self.rids[pos[held]] == want[held]
        return pos[held]

    def take(self, rids: Sequence[int]):  # -> pandas.DataFrame
        """The frame of the issues ``rids``, in that order (list cells are fresh copies)."""
        return self.frame(self.positions(rids))

    def frame(self, pos):  # -> pandas.DataFrame
        """The frame of the issues at cache positions ``pos``, in that order (list cells are fresh copies)."""
        import numpy as np
        import pandas as pd

        out: dict[str, Any] = {}
        for c in self.order:
            col = self.columns[c]
            if c in LIST_COLUMNS:
                out[c] = np.fromiter(map(list.copy, col.take(pos)), dtype=object, count=len(pos))
            else:
                out[c] = col.take(pos)
        # every array above is new and this frame's own: pandas need not copy them again (a second
        # pass over every cell, most of the time a frame took before)
        return pd.DataFrame(out, columns=self.order, copy=False)

    # ------------------------------------------------------------ orders
    def has_order(self, order: str) -> bool:
        """Whether the cache holds every issue's place in ``order`` (an ORDER BY list as the SQL builder makes it)."""
        return order in self._ranks

    def orders(self) -> list[str]:
        """The orders kept, oldest first."""
        return list(self._ranks)

    def order_due(self, order: str) -> bool:
        """Whether SQL has sorted as many rows in ``order`` as the cache holds, so keeping the order pays now.

        The ski-rental rule of :class:`FramePolicy`: keeping an order costs one sort of every issue.
        """
        return self._sorted.get(order, 0) >= len(self) > 0

    def note_sorted(self, order: str, rows: int) -> None:
        """Count ``rows`` that SQL sorted in ``order`` for a search answered from this cache."""
        self._sorted[order] = self._sorted.get(order, 0) + rows

    def add_order(self, order: str, rids: Sequence[int]) -> None:
        """Keep ``order``: ``rids`` are every issue of the cache, once each, sorted by it (by SQLite, see Store)."""
        import numpy as np

        by_rank = self.positions(rids)
        n = len(self)
        rank = np.full(n, -1, dtype=np.int64)
        rank[by_rank] = np.arange(len(by_rank), dtype=np.int64)
        if len(by_rank) != n or bool((rank < 0).any()):
            raise ValueError("an order of the frame cache must hold each of its issues once")
        self._ranks[order] = (rank, by_rank)
        while len(self._ranks) > MAX_ORDERS:  # the oldest other than the first (the default order) goes
            del self._ranks[next(k for k in list(self._ranks)[1:] if k != order)]

    def ordered(self, order: str, pos, start: int, limit: int):  # -> numpy.ndarray
        """The positions ``pos`` sorted by ``order`` (kept with :meth:`add_order`), from ``start``, at most ``limit`` (-1: all)."""
        import numpy as np

        rank, by_rank = self._ranks[order]
        places = np.sort(rank.take(pos))  # ranks are distinct: sorting them sorts the issues
        places = places[start:] if limit < 0 else places[start:start + limit]
        return by_rank.take(places)


class TextsColumn:
    """A column of texts (some missing) as pandas reads it, read once; subsets come out as pandas reads them.

    pandas gives a column of texts and missing values its ``str`` dtype when it holds at least one
    text (a missing value becomes NaN), and keeps a column with no text at all as objects: a subset
    holding a text is taken from the column pandas made of every value, any other from the values.
    Taking from pandas' own array spares each result pandas' check of every cell.
    """

    def __init__(self, values: Any, array: Any) -> None:
        """Keep a column's ``values`` (an object array) and ``array``, what pandas made of them."""
        import numpy as np

        self.values = values
        self.array = array
        self.texts = ~np.asarray(array.isna())  # which values pandas read as a text (a bool each)

    @classmethod
    def of(cls, values: Any) -> Any:
        """A TextsColumn of ``values`` (an object array) when pandas reads them as texts, else ``values`` themselves."""
        import pandas as pd

        array = pd.Series(values, copy=False).array
        return cls(values, array) if isinstance(array.dtype, pd.StringDtype) else values

    def take(self, positions: Any) -> Any:
        """The values at ``positions`` as pandas reads them: texts, or objects when none is a text."""
        if len(positions) and bool(self.texts.take(positions).any()):
            return self.array.take(positions)
        return self.values.take(positions)


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
