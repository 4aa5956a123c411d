"""labkit.kernel_client: a kernel's message is received even when the socket's wake-up was consumed elsewhere."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from queue import Empty

import pytest
import zmq
import zmq.asyncio
from jupyter_client.channels import AsyncZMQSocketChannel
from jupyter_client.session import Session

from labkit.kernel_client import SlicedChannel, notebook_client

NEVER = 5.0  # seconds after which an awaited message counts as never received


def run(coro):
    """Run a coroutine to its end on a thread and event loop of its own.

    Not ``asyncio.run`` here: the browser tests' session keeps playwright's sync API open, and it keeps an
    event loop running on the main thread for the rest of the session.
    """
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


async def _missed_wakeup(channel_class: type, timeout: float | None) -> str:
    """Return the type of the message ``channel_class`` receives after its socket's wake-up edge was consumed.

    A kernel-side ROUTER answers a client-side DEALER on 127.0.0.1. While the client waits, the answer
    arrives and a blocking zmq_poll on the client's socket processes its mailbox in the same breath
    (no await in between): the message stays queued, but the socket's edge-triggered ZMQ_FD has
    nothing left to signal. That is the state in which nbclient sat at a cell's reply until the cell's
    timeout. Returns "missed" when nothing arrives within NEVER seconds.
    """
    ctx, sync_ctx = zmq.asyncio.Context(), zmq.Context()
    router = sync_ctx.socket(zmq.ROUTER)
    dealer = ctx.socket(zmq.DEALER)
    try:
        port = router.bind_to_random_port("tcp://127.0.0.1")
        dealer.connect(f"tcp://127.0.0.1:{port}")
        session = Session(key=b"test")
        channel = channel_class(dealer, session)
        session.send(dealer, session.msg("kernel_info_request"))
        identity = router.recv_multipart()[0]
        waiting = asyncio.ensure_future(channel.get_msg(timeout=timeout))
        await asyncio.sleep(0.2)  # the wait is registered with the event loop, nothing to read yet
        session.send(router, session.msg("execute_reply", {"status": "ok"}), ident=[identity])
        assert zmq.Socket.shadow(dealer.underlying).poll(int(NEVER * 1000), zmq.POLLIN)  # consumes the edge
        try:
            return (await asyncio.wait_for(waiting, NEVER))["header"]["msg_type"]
        except TimeoutError:
            return "missed"
    finally:
        dealer.close(0)
        router.close(0)
        ctx.term()
        sync_ctx.term()


def test_jupyter_clients_own_channel_misses_the_reply_in_this_state():
    """The state the test below builds is the real failure: jupyter_client's channel sleeps past the reply."""
    assert run(_missed_wakeup(AsyncZMQSocketChannel, None)) == "missed"


@pytest.mark.parametrize("timeout", [None, 60.0])
def test_the_sliced_channel_receives_the_reply_whatever_its_timeout(timeout):
    assert run(_missed_wakeup(SlicedChannel, timeout)) == "execute_reply"


def test_the_sliced_channel_still_times_out_when_nothing_comes():
    async def wait() -> None:
        ctx = zmq.asyncio.Context()
        dealer = ctx.socket(zmq.DEALER)
        try:
            dealer.connect("tcp://127.0.0.1:9")  # nothing answers
            await SlicedChannel(dealer, Session(key=b"test")).get_msg(timeout=1.2)
        finally:
            dealer.close(0)
            ctx.term()

    with pytest.raises(Empty):
        run(wait())


def test_notebook_client_runs_a_notebook_through_sliced_channels(tmp_path):
    """A real kernel, started by notebook_client, answers on SlicedChannel channels."""
    import nbformat

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("import os\nprint(os.getcwd())"),
                                         nbformat.v4.new_code_cell("6 * 7")])
    client = notebook_client(nb, timeout=120, cwd=tmp_path)
    channels: list[tuple[type, type]] = []

    async def on_cell_executed(cell, cell_index, execute_reply):
        channels.append((type(client.kc.shell_channel), type(client.kc.iopub_channel)))

    client.on_cell_executed = on_cell_executed
    client.execute()
    assert nb.cells[0].outputs[0]["text"].strip() == str(tmp_path)
    assert nb.cells[1].outputs[0]["data"]["text/plain"] == "42"
    assert channels == [(SlicedChannel, SlicedChannel)] * 2
