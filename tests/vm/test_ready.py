"""wait_ready waits for each VM at its planned address, in parallel, and says how it saw each one.

The lab network here is 127.0.0.0/24: Linux answers on every 127.x address, so a listener bound to a VM's planned
address stands in for that VM without touching any interface.
"""

from __future__ import annotations

import socket
import threading
import time

import pytest

from labkit.vm import Lab, VmError, wait_ready

pytestmark = pytest.mark.integration


@pytest.fixture
def plan():
    return Lab(network="127.0.0.0/24").plan_cloud("alpha", topology="fe+nc", nodes=2)


class Listeners:
    """TCP listeners on some VMs' planned addresses, all on one port."""

    def __init__(self) -> None:
        self.socks: list[socket.socket] = []
        self.port = 0

    def listen(self, ip: str) -> None:
        s = socket.socket()
        s.bind((ip, self.port))
        s.listen()
        self.port = s.getsockname()[1]
        self.socks.append(s)

    def close(self) -> None:
        for s in self.socks:
            s.close()


@pytest.fixture
def listeners():
    ls = Listeners()
    yield ls
    ls.close()


def test_each_vm_is_seen_at_its_planned_address_or_said_missing(plan, listeners):
    fe, nc1, nc2 = plan.vms
    listeners.listen(fe.ip)
    listeners.listen(nc1.ip)
    late = threading.Timer(0.6, listeners.listen, args=(nc2.ip,))
    rows = None
    try:
        late.start()
        rows = wait_ready(plan, f"tcp:{listeners.port}", timeout=20, interval=0.1, progress=False)
    finally:
        late.cancel()
    assert [(r.vm, r.address, r.ready) for r in rows] == [
        (vm.name, f"{vm.ip}:{listeners.port}", True) for vm in plan.vms]
    assert all("accepted a connection" in r.seen for r in rows)
    assert rows[2].seconds >= rows[0].seconds  # the late VM was seen later


def test_a_vm_that_never_answers_is_not_ready_and_says_what_was_missing(plan, listeners):
    listeners.listen(plan.vms[0].ip)
    rows = wait_ready(plan, f"tcp:{listeners.port}", timeout=1, interval=0.1, progress=False)
    assert [r.ready for r in rows] == [True, False, False]
    assert rows[1].seen == f"no TCP answer at {plan.vms[1].ip}:{listeners.port} within 1 s"


def test_serial_marker_probe_reads_each_vms_console_log(tmp_path):
    plan = Lab().plan_cloud("alpha", topology="fe+nc", nodes=1, serial_log_dir=str(tmp_path))
    fe, nc = plan.vms
    assert fe.serial_log == str(tmp_path / "alpha-fe.serial.log")
    (tmp_path / "alpha-fe.serial.log").write_text("SeaBIOS\nalpha-fe login: ")
    (tmp_path / "alpha-nc1.serial.log").write_text("SeaBIOS\nBooting from Hard Disk...\n")
    rows = wait_ready(plan, "serial:login: ", timeout=1, interval=0.1, progress=False)
    assert [r.ready for r in rows] == [True, False]
    assert "'login: ' on the serial console" in rows[0].seen and "not on the serial console" in rows[1].seen


def test_lease_probe_reads_a_dnsmasq_lease_file(tmp_path, plan):
    # dnsmasq(8) --dhcp-leasefile: one lease per line, "expiry-time MAC IP hostname client-id"
    fe, nc1, nc2 = plan.vms
    leases = tmp_path / "dnsmasq.leases"
    leases.write_text(f"{int(time.time()) + 3600} {fe.nic.mac} {fe.ip} alpha-fe 01:{fe.nic.mac}\n"
                      f"{int(time.time()) + 3600} {nc1.nic.mac} 127.0.0.99 * *\n")
    rows = wait_ready(plan, f"lease:{leases}", timeout=0.5, interval=0.1, progress=False)
    assert [r.ready for r in rows] == [True, False, False]
    assert rows[0].seen == f"DHCP lease of {fe.nic.mac} for {fe.ip}"
    assert f"is for 127.0.0.99, not the planned {nc1.ip}" in rows[1].seen
    assert rows[2].seen.startswith(f"no DHCP lease for {nc2.nic.mac}")


@pytest.mark.parametrize("probe, words", [("tcp", "TCP port"), ("tcp:0", "TCP port"), ("tcp:70000", "TCP port"),
                                          ("icmp", "unknown probe"), ("serial:", "text to look for"), (22, "text")])
def test_a_bad_probe_is_refused(plan, probe, words):
    with pytest.raises(VmError, match=words):
        wait_ready(plan, probe, timeout=1, progress=False)


@pytest.mark.parametrize("timeout", [0, -1, "60", True, 10**9])
def test_a_bad_timeout_is_refused(plan, timeout):
    with pytest.raises(VmError, match="timeout"):
        wait_ready(plan, "tcp:22", timeout=timeout, progress=False)


def test_serial_probe_needs_a_planned_log():
    with pytest.raises(VmError, match="serial_log_dir"):
        wait_ready(Lab().plan_cloud("alpha"), "serial:login:", timeout=1, progress=False)


def test_lease_probe_asks_the_hosts_libvirt_networks():
    pytest.importorskip("libvirt", reason="libvirt-python is not installed (make setup)")
    from labkit.vm.connection import disconnect

    plan = Lab().plan_cloud("alpha")
    try:  # the test driver's network 'default' hands out no leases
        rows = wait_ready(plan, "lease", uri="test:///default", timeout=0.3, interval=0.1, progress=False)
    finally:
        disconnect("test:///default")
    assert not rows[0].ready and rows[0].seen.startswith(f"no DHCP lease for {plan.vms[0].nic.mac}")


def test_ssh_probe_needs_sshds_identification_not_just_an_open_port(plan):
    # RFC 4253 4.2: "When the connection has been established, both sides MUST send an identification string"
    # of the form "SSH-protoversion-softwareversion"; a port that accepts and stays silent is not an sshd.
    fe, nc1, _ = plan.vms
    server = Listeners()
    server.listen(fe.ip)
    server.listen(nc1.ip)
    sshd, silent = server.socks

    def greet():
        conn, _ = sshd.accept()
        conn.sendall(b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n")
        conn.close()

    threading.Thread(target=greet, daemon=True).start()
    try:
        rows = wait_ready(plan, f"ssh:{server.port}", timeout=1.5, interval=0.1, progress=False)
    finally:
        server.close()
    assert [r.ready for r in rows] == [True, False, False]
    assert rows[0].seen.startswith(f"sshd at {fe.ip}:{server.port} said 'SSH-2.0-OpenSSH_9.2p1")
    assert rows[1].seen.startswith(f"no SSH identification from {nc1.ip}:{server.port}")
