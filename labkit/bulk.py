"""Helpers for bulk work in one call: decoding or building many thousands of small objects at once.

CPython's cyclic garbage collector runs after every few hundred new container objects and walks
every live one: building a 20,000-row table or importing a million issues triggers it thousands
of times over a growing heap, for objects that form no cycles. :func:`no_gc` pauses it for such a
call (reference counting still frees everything) and restores it after.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["no_gc"]


@contextmanager
def no_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector inside the block (as it was before, after it)."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()
