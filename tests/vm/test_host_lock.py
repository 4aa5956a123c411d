"""Launches and destroys from many processes at once on one libvirt host: each waits its turn (labkit.locks).

The host is a private ``libvirtd`` serving its test driver over a unix socket (``test+unix:///default``): unlike
``test:///default`` its domains are shared by every process that connects, as a real host's are.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from labkit.locks import exclusive
from labkit.vm.connection import connect, disconnect
from labkit.vm.errors import VmError
from labkit.vm.record import host_lock, host_lock_path, read_record

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CLOUDS = [f"c{k}" for k in range(6)]


# A privileged libvirtd keeps state under these folders; the test's daemon sees empty ones of its own (tmpfs in a
# private mount namespace), so nothing of it is left on the machine.
DAEMON_STATE = ("/run", "/var/lib", "/var/cache", "/var/log")


@pytest.fixture
def shared_host(tmp_path):
    """A private libvirtd (test driver) on a socket in tmp_path; its URI. Stopped afterwards."""
    daemon, unshare = shutil.which("libvirtd"), shutil.which("unshare")
    if daemon is None or unshare is None:
        pytest.skip("libvirtd is not installed (apt-get install libvirt-daemon)")
    conf = tmp_path / "libvirtd.conf"
    conf.write_text(f'unix_sock_dir = "{tmp_path}"\nunix_sock_rw_perms = "0700"\nauth_unix_rw = "none"\n'
                    'auth_unix_ro = "none"\nlisten_tls = 0\nlisten_tcp = 0\n', encoding="utf-8")
    mounts = " && ".join(f"mount -t tmpfs -o mode=0755 labkit-test {d}" for d in DAEMON_STATE)
    proc = subprocess.Popen([unshare, "--mount", "--propagation", "private", "sh", "-c",
                             f'{mounts} && exec "$0" -f "$1" -p "$2"', daemon, str(conf), str(tmp_path / "pid")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    sock = tmp_path / "libvirt-sock"
    for _ in range(300):
        if sock.exists() or proc.poll() is not None:
            break
        time.sleep(0.05)
    if not sock.exists():
        proc.kill()
        why = (proc.communicate(timeout=30)[1] or "").strip().splitlines()[-1:]
        pytest.skip(f"a private libvirtd cannot run here (it needs a mount namespace): {why}")
    uri = f"test+unix:///default?socket={sock}"
    connect(uri)  # the daemon keeps its test driver's state while one connection is open: hold one, as a host would
    yield uri
    disconnect(uri)
    proc.terminate()
    proc.communicate(timeout=30)


@pytest.fixture
def state(tmp_path, monkeypatch):
    """A private XDG_STATE_HOME: where the host locks live."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("LABKIT_CONFIG", str(tmp_path / "no-config.toml"))
    monkeypatch.delenv("LABKIT_PROFILE", raising=False)
    return tmp_path / "state"


def cli(*argv: str) -> subprocess.CompletedProcess:
    """Run ``labkit`` in a new process, as a user would."""
    return subprocess.run([sys.executable, "-m", "labkit.cli", *argv], capture_output=True, text=True,
                          env=dict(os.environ), timeout=300, check=False)


def test_launches_and_destroys_at_once_on_one_host_lose_nothing_and_share_no_range(shared_host, state, tmp_path):
    (tmp_path / "root" / "proc").mkdir(parents=True)  # an empty /proc for the CLI: no ports, no routes
    common = ["--uri", shared_host, "--root", str(tmp_path / "root"), "--no-start", "--format", "json"]
    with ThreadPoolExecutor(len(CLOUDS)) as pool:
        launched = list(pool.map(lambda c: cli("vm", "launch", c, "--apply", *common), CLOUDS))
    for c, p in zip(CLOUDS, launched, strict=True):
        assert p.returncode == 0, f"{c}: {p.stderr}"
        assert [s["action"] for s in json.loads(p.stdout)][-1] == "record"
    record = read_record(connect(shared_host), shared_host)
    assert sorted(record) == CLOUDS  # no launch's record was overwritten by another's
    for what, of in (("MAC", lambda vm: vm.nic.mac), ("VNC display", lambda vm: vm.vnc.display),
                     ("IP", lambda vm: vm.ip), ("disk", lambda vm: vm.disk.device)):
        seen = [of(vm) for plan in record.values() for vm in plan.vms]
        assert len(seen) == len(set(seen)), f"two clouds were given the same {what}: {sorted(seen)}"
    import ipaddress

    ranges = sorted((ipaddress.IPv4Address(p.public_range.first), ipaddress.IPv4Address(p.public_range.last))
                    for p in record.values())
    assert all(a[1] < b[0] for a, b in zip(ranges, ranges[1:], strict=False)), f"public ranges overlap: {ranges}"
    assert len({p.private_subnet for p in record.values()}) == len(record)

    with ThreadPoolExecutor(len(CLOUDS)) as pool:
        gone = list(pool.map(lambda c: cli("vm", "destroy", c, "--apply", "--uri", shared_host, "--format", "json"),
                             CLOUDS))
    for c, p in zip(CLOUDS, gone, strict=True):
        assert p.returncode == 0, f"{c}: {p.stderr}"
    assert read_record(connect(shared_host), shared_host) == {}
    assert [d.name() for d in connect(shared_host).listAllDomains()] == ["test"]  # the driver's own domain only


def test_a_host_changed_by_another_labkit_too_long_is_one_error(shared_host, state, monkeypatch):
    import labkit.vm.record as record

    monkeypatch.setattr(record, "LOCK_WAIT", 0.3)
    path = host_lock_path(shared_host)
    path.parent.mkdir(parents=True)
    holder = subprocess.Popen([sys.executable, "-c", "import fcntl, sys, time\n"
                               "f = open(sys.argv[1], 'w'); fcntl.flock(f, fcntl.LOCK_EX); print('held', flush=True)\n"
                               "time.sleep(60)", str(path)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(VmError, match="another labkit has been launching or destroying on test\\+unix"), \
                host_lock([shared_host]):
            pass
    finally:
        holder.kill()
        holder.wait()
    with host_lock([shared_host]):  # a killed holder leaves nothing locked
        pass


def test_only_hosts_other_processes_share_are_locked(tmp_path, state):
    assert host_lock_path("test:///default") is None
    assert host_lock_path("qemu:///embed?root=/var/tmp/lab") is None  # libvirt gives an embedded root to one process
    a, b = host_lock_path("qemu:///system"), host_lock_path("qemu+ssh://hv1/system")
    assert a != b and a.parent == b.parent == Path(state) / "labkit" / "locks"
    assert "hv1" not in b.name  # the file name says nothing about the host


def test_a_lock_is_reentrant_in_its_thread_and_waited_for_by_another(tmp_path):
    import threading

    path = tmp_path / "x.lock"
    order: list[str] = []

    def other() -> None:
        """Take the lock from another thread."""
        with exclusive(path):
            order.append("other")

    with exclusive(path), exclusive(path):  # the same thread again: no wait for itself
        t = threading.Thread(target=other)
        t.start()
        t.join(0.3)
        order.append("first")  # the other thread is still waiting for the lock
    t.join(10)
    assert order == ["first", "other"]
