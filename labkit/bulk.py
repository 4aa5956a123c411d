"""Helpers for bulk work in one call: decoding or building many thousands of small objects at once.

CPython's cyclic garbage collector runs after every few hundred new container objects and walks
every live one: building a 20,000-row table or importing a million issues triggers it thousands
of times over a growing heap, for objects that form no cycles. :func:`no_gc` pauses it for such a
call (reference counting still frees everything) and restores it after.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["no_gc"]

_lock = threading.Lock()
_inside = 0          # blocks running now, in any thread
_restore = False     # whether the collector was on when the first of them began


@contextmanager
def no_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector inside the block (as it was before, after it).

    Blocks may overlap in several threads (a server rendering pages at once): the collector stays
    paused until the last of them ends, then is restored as it was before the first began.
    """
    global _inside, _restore
    with _lock:
        if _inside == 0:
            _restore = gc.isenabled()
            gc.disable()
        _inside += 1
    try:
        yield
    finally:
        with _lock:
            _inside -= 1
            if _inside == 0 and _restore:
                gc.enable()
