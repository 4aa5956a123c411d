"""The kernel client labkit runs notebooks with: a wait for a kernel's message never sleeps past its arrival.

jupyter_client's asyncio channels wait for a message with one ``await socket.poll(timeout)``.
pyzmq wakes that poll from the socket's ``ZMQ_FD``, which is edge-triggered (zmq_getsockopt(3),
"ZMQ_FD"): when the edge is consumed elsewhere, the poll sleeps until its timeout, and only the
non-blocking ``zmq_poll`` pyzmq runs at that moment finds the message that had been waiting all
along. nbclient waits for a cell's reply with the whole cell timeout, so a missed edge stalls a
run for the rest of that timeout and then carries on as if nothing had happened.

Measured here on 2026-11-27 (pyzmq 27.3.0, jupyter_client 8.10.0, nbclient 0.11.0, ipykernel
7.4.0): runbook 04 run by nbclient with a 600 s cell timeout; its last cell's reply was sent after
38 s and reached nbclient at that cell's deadline, 600 s after the cell began (the kernel sat idle,
every cell done, a probe over the same connection answered at once). CI's run of
tests/aws/test_notebook.py failed on the same stall.

:class:`SlicedChannel` waits in slices of at most :data:`SLICE` seconds. Each slice ends in that
same non-blocking poll, so a missed edge costs at most one slice, while the caller's timeout still
bounds the whole wait. labkit writes this class because neither library offers the setting; it is a
few lines on jupyter_client's own channel class and changes nothing else.
"""

from __future__ import annotations

import time
from pathlib import Path
from queue import Empty
from typing import Any

from jupyter_client.asynchronous.client import AsyncKernelClient
from jupyter_client.channels import AsyncZMQSocketChannel
from jupyter_client.manager import AsyncKernelManager
from traitlets import DottedObjectName, Type

__all__ = ["SLICE", "KernelClient", "KernelManager", "SlicedChannel", "notebook_client"]

SLICE = 0.5  # seconds: the longest a wait may sleep past a message whose wake-up was missed


class SlicedChannel(AsyncZMQSocketChannel):
    """A kernel channel whose wait re-checks the socket itself at least every :data:`SLICE` seconds."""

    async def get_msg(self, timeout: float | None = None) -> dict[str, Any]:  # type: ignore[override]
        """Return the next message; raise ``queue.Empty`` when ``timeout`` seconds pass without one (None: wait on)."""
        deadline = None if timeout is None else time.monotonic() + max(0.0, timeout)
        while True:
            left = SLICE if deadline is None else min(SLICE, max(0.0, deadline - time.monotonic()))
            if await self.socket.poll(int(left * 1000)):  # 0 ms: pyzmq's immediate, non-blocking poll
                return await self._recv()
            if deadline is not None and time.monotonic() >= deadline:
                raise Empty


class KernelClient(AsyncKernelClient):
    """jupyter_client's asyncio kernel client, every socket channel a :class:`SlicedChannel`."""

    shell_channel_class = Type(SlicedChannel)  # type: ignore[assignment]
    iopub_channel_class = Type(SlicedChannel)  # type: ignore[assignment]
    stdin_channel_class = Type(SlicedChannel)  # type: ignore[assignment]
    control_channel_class = Type(SlicedChannel)  # type: ignore[assignment]


class KernelManager(AsyncKernelManager):
    """jupyter_client's asyncio kernel manager, handing out :class:`KernelClient` clients."""

    client_class = DottedObjectName("labkit.kernel_client.KernelClient")
    client_factory = Type(KernelClient)  # what client() builds: the trait's own default, not client_class


def notebook_client(nb: Any, *, timeout: float, cwd: str | Path, kernel_name: str = "python3", **options: Any):
    """Return an nbclient ``NotebookClient`` for ``nb`` that runs its kernel through :class:`KernelManager`."""
    from nbclient import NotebookClient

    return NotebookClient(nb, timeout=timeout, kernel_name=kernel_name, kernel_manager_class=KernelManager,
                          resources={"metadata": {"path": str(cwd)}}, **options)
