"""The sandbox's render queue: one thread, requests before read-ahead, waiting requests of one shape in one batch."""

from __future__ import annotations

import threading

import pytest

from labkit.jira.sandbox.renderqueue import RenderQueue

pytestmark = pytest.mark.unit


class Recorder:
    """A render function that notes each call (thread, shape, items) and can be held at its first call."""

    def __init__(self, hold: bool = False) -> None:
        """Record calls; with ``hold``, the first call waits for ``release``."""
        self.calls: list[tuple[str, tuple, list[str]]] = []
        self.entered, self.release = threading.Event(), threading.Event()
        if not hold:
            self.release.set()

    def __call__(self, tag: tuple, args: tuple, wanted: list[str]) -> dict[str, str]:
        """Render each item as its upper case (unknown: an item starting with "x")."""
        self.calls.append((threading.current_thread().name, tag, list(wanted)))
        self.entered.set()
        assert self.release.wait(10)
        if "boom" in wanted:
            raise ValueError("boom")
        return {w: None if w.startswith("x") else w.upper() for w in wanted}


def _asking(queue: RenderQueue, tag: tuple, wanted: list[str], out: dict) -> threading.Thread:
    """A request thread asking the queue for ``wanted``; its answer (or error) lands in ``out``."""
    def ask() -> None:
        """Ask and keep what came back."""
        try:
            out[tuple(wanted)] = queue.render(tag, (), wanted)
        except Exception as exc:  # noqa: BLE001 - kept for the test to look at
            out[tuple(wanted)] = exc
    t = threading.Thread(target=ask)
    t.start()
    return t


def test_requests_waiting_together_are_rendered_in_one_batch_per_shape_before_read_ahead():
    work = Recorder(hold=True)
    queue = RenderQueue(work)
    out: dict = {}
    try:
        first = _asking(queue, ("a",), ["k1"], out)
        assert work.entered.wait(10)  # the render thread is busy with k1: what comes now waits
        ahead_ran = threading.Event()

        def ahead() -> None:
            """A read-ahead: noted among the render calls."""
            work.calls.append((threading.current_thread().name, ("ahead",), []))
            ahead_ran.set()
        assert queue.ahead(ahead)
        waiting = [_asking(queue, ("a",), ["k2", "k3"], out), _asking(queue, ("b",), ["k4"], out),
                   _asking(queue, ("a",), ["k3", "x5"], out)]
        for _ in range(200):
            if len(queue._jobs) == 3:
                break
            threading.Event().wait(0.01)
        work.release.set()
        for t in (first, *waiting):
            t.join(10)
        assert ahead_ran.wait(10)
    finally:
        work.release.set()
        queue.close()
    assert out[("k1",)] == {"k1": "K1"}
    assert out[("k2", "k3")]["k2"] == "K2" and out[("k2", "k3")]["k3"] == "K3"
    assert out[("k3", "x5")]["k3"] == "K3" and out[("k3", "x5")]["x5"] is None
    assert out[("k4",)] == {"k4": "K4"}
    # shape a's two waiting requests in one batch, then shape b's, then the read-ahead queued before them
    assert [(c[1], c[2]) for c in work.calls] == [(("a",), ["k1"]), (("a",), ["k2", "k3", "x5"]), (("b",), ["k4"]),
                                                 (("ahead",), [])]
    assert {c[0] for c in work.calls} == {"jira-render"}


def test_read_ahead_runs_when_no_request_waits():
    work = Recorder()
    queue = RenderQueue(work)
    done = threading.Event()
    try:
        assert queue.ahead(done.set)
        assert done.wait(10)
        assert queue.render(("a",), (), ["k"]) == {"k": "K"}
    finally:
        queue.close()


def test_a_render_error_reaches_the_requests_that_waited_for_it_and_the_thread_goes_on():
    work = Recorder()
    queue = RenderQueue(work)
    try:
        with pytest.raises(ValueError, match="boom"):
            queue.render(("a",), (), ["boom"])
        assert queue.render(("a",), (), ["k"]) == {"k": "K"}
    finally:
        queue.close()


def test_close_finishes_the_requests_waiting_and_drops_the_read_ahead():
    work = Recorder(hold=True)
    queue = RenderQueue(work)
    out: dict = {}
    ran: list[str] = []
    first = _asking(queue, ("a",), ["k1"], out)
    assert work.entered.wait(10)
    assert queue.ahead(lambda: ran.append("ahead"))
    second = _asking(queue, ("a",), ["k2"], out)
    for _ in range(200):
        if queue._jobs:
            break
        threading.Event().wait(0.01)
    closing = threading.Thread(target=queue.close)
    closing.start()
    work.release.set()
    for t in (first, second, closing):
        t.join(10)
    assert out == {("k1",): {"k1": "K1"}, ("k2",): {"k2": "K2"}}
    assert ran == []


def test_a_closed_queue_refuses_work():
    queue = RenderQueue(Recorder())
    queue.close()
    with pytest.raises(RuntimeError):
        queue.render(("a",), (), ["k"])
    assert queue.ahead(lambda: None) is False
