"""labkit.bulk.no_gc: the cyclic collector is paused inside the blocks, across threads, and restored after the last."""

from __future__ import annotations

import gc
import threading

import pytest

from labkit.bulk import no_gc

pytestmark = pytest.mark.unit


@pytest.fixture
def collector():
    """Leave the collector as it was found."""
    was = gc.isenabled()
    yield
    (gc.enable if was else gc.disable)()


def test_overlapping_blocks_in_two_threads_keep_it_paused_until_the_last_ends(collector):
    gc.enable()
    first_in, second_in, first_out = threading.Event(), threading.Event(), threading.Event()
    seen: list[bool] = []

    def second():
        """Enter while the first block runs; stay in after it ends."""
        assert first_in.wait(10)
        with no_gc():
            second_in.set()
            assert first_out.wait(10)
            seen.append(gc.isenabled())  # the first block ended: still paused for this one
    t = threading.Thread(target=second)
    t.start()
    with no_gc():
        first_in.set()
        assert second_in.wait(10)
        assert not gc.isenabled()
    first_out.set()
    t.join(10)
    assert seen == [False]
    assert gc.isenabled()  # restored when the last block ended


def test_a_paused_collector_stays_paused(collector):
    gc.disable()
    with no_gc():
        with no_gc():
            assert not gc.isenabled()
    assert not gc.isenabled()
    gc.enable()
    with pytest.raises(ValueError):
        with no_gc():
            raise ValueError("boom")
    assert gc.isenabled()
