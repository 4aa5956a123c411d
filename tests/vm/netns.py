"""Network namespaces for the VM lab tests: a private bridge or loopback aliases, never the host's interfaces.

``entered(ns)`` moves the calling thread into the namespace (setns(2)); threads it starts are born there too,
so libvirt's tap devices, qemu's bridge and every probe socket stay inside. Leaving restores the thread.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import secrets
import shutil
import subprocess

CLONE_NEWNET = 0x40000000


def missing() -> str | None:
    """Say why namespaces cannot be used here (None when they can)."""
    if not shutil.which("ip"):
        return "iproute2 is not installed (apt-get install iproute2)"
    if os.geteuid() != 0:
        return "creating network namespaces needs root"
    return None


def ip(*argv: str, ns: str | None = None) -> None:
    """Run ``ip ARGS`` (inside ``ns`` when given)."""
    cmd = ["ip", "netns", "exec", ns, "ip", *argv] if ns else ["ip", *argv]
    subprocess.run(cmd, check=True, capture_output=True, timeout=30)


@contextlib.contextmanager
def namespace(prefix: str = "labkit-t"):
    """Create a network namespace with its loopback up; delete it afterwards. Yields its name."""
    name = f"{prefix}-{secrets.token_hex(3)}"
    ip("netns", "add", name)
    try:
        ip("link", "set", "lo", "up", ns=name)
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], capture_output=True, timeout=30)


@contextlib.contextmanager
def entered(name: str):
    """Run the calling thread (and the threads it starts) inside namespace ``name``."""
    libc = ctypes.CDLL(None, use_errno=True)
    home = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    target = os.open(f"/run/netns/{name}", os.O_RDONLY)
    try:
        if libc.setns(target, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), "setns into the test namespace failed")
        try:
            yield
        finally:
            if libc.setns(home, CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), "setns back to the test's own namespace failed")
    finally:
        os.close(home)
        os.close(target)
