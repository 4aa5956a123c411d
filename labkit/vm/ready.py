"""Wait until a launched cloud's VMs answer at their planned addresses, in parallel, with a timeout.

Probes (``probe=``):

- ``tcp:PORT``: a TCP connection to the VM's planned IP and PORT is accepted;
- ``ssh`` (or ``ssh:PORT``): the VM's sshd sends its identification string (RFC 4253 4.2: "SSH-2.0-..."), which a
  firewall or transparent proxy that accepts every connection cannot fake;
- ``lease``: a libvirt network on the VM's host gave the planned MAC a DHCP lease (its address is reported, and a
  lease for another address than the plan's is said); ``lease:FILE`` reads a dnsmasq lease file instead (lines
  ``EXPIRY MAC IP HOSTNAME CLIENT-ID``, as dnsmasq writes ``--dhcp-leasefile``);
- ``serial:TEXT``: TEXT appears in the VM's serial console log (plans made with ``serial_log_dir``).
"""

from __future__ import annotations

import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

from labkit.vm.connection import connect, is_remote
from labkit.vm.errors import VmError
from labkit.vm.launch import uri_for
from labkit.vm.spec import CloudPlan, VmSpec

PROBE_KINDS = ("tcp", "ssh", "lease", "serial")
MAX_TIMEOUT = 24 * 3600


@dataclass(frozen=True)
class ReadyRow:
    """Whether one VM answered, at which address, after how long, and how it was seen."""

    cloud: str
    vm: str
    address: str
    ready: bool
    seconds: float
    seen: str


def parse_probe(probe: object) -> tuple[str, str]:
    """Return (kind, argument) of a probe like ``tcp:22``, ``lease`` or ``serial:login:``; raise VmError otherwise."""
    if not isinstance(probe, str):
        raise VmError(f"probe {probe!r} is not text", hint="use tcp:22, ssh, lease or serial:TEXT")
    kind, _, arg = probe.partition(":")
    if kind == "ssh" and not arg:
        arg = "22"
    if kind in ("tcp", "ssh"):
        if not arg.isdigit() or not 0 < int(arg) < 65536:
            raise VmError(f"probe {probe!r} needs a TCP port from 1 to 65535", hint="e.g. tcp:22")
    elif kind == "serial":
        if not arg:
            raise VmError(f"probe {probe!r} needs the text to look for", hint="e.g. serial:login:")
    elif kind != "lease":
        raise VmError(f"unknown probe {probe!r}", hint="use tcp:PORT, ssh, lease, lease:FILE or serial:TEXT")
    return kind, arg


def _tcp(ip: str, port: int, budget: float) -> bool:
    """Try one TCP connection; True when it is accepted."""
    try:
        with socket.create_connection((ip, port), timeout=max(0.05, min(2.0, budget))):
            return True
    except OSError:
        return False


def _ssh(ip: str, port: int, budget: float) -> str | None:
    """Return the sshd identification line the VM sends (None when nothing SSH answers)."""
    try:
        with socket.create_connection((ip, port), timeout=max(0.05, min(2.0, budget))) as s:
            s.settimeout(max(0.05, min(3.0, budget)))
            data = b""
            while b"\n" not in data and len(data) < 255:
                chunk = s.recv(255 - len(data))
                if not chunk:
                    break
                data += chunk
    except OSError:
        return None
    line = data.split(b"\n", 1)[0].rstrip(b"\r").decode("ascii", "replace")
    return line if line.startswith("SSH-") else None


def _lease_file(path: str, mac: str) -> str | None:
    """Return the address a dnsmasq lease file gives ``mac`` (the last line for it wins), or None."""
    found = None
    try:
        lines = Path(path).read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return None
    for line in lines:
        cols = line.split()
        if len(cols) >= 3 and cols[1].lower() == mac:
            found = cols[2]
    return found


def _lease(uri: str, mac: str, path: str = "") -> str | None:
    """Return the address leased to ``mac``: from a dnsmasq lease file, else from the host's libvirt networks."""
    import libvirt

    if path:
        return _lease_file(path, mac)
    conn = connect(uri)
    try:
        networks = conn.listAllNetworks()
    except libvirt.libvirtError:
        return None
    for net in networks:
        try:
            for lease in net.DHCPLeases(mac, 0) or []:
                if lease.get("ipaddr"):
                    return str(lease["ipaddr"])
        except libvirt.libvirtError:
            continue
    return None


def _serial(path: str, text: str) -> bool:
    """Tell whether ``text`` is in the serial log yet."""
    try:
        return text in Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False


def _wait_one(plan: CloudPlan, vm: VmSpec, kind: str, arg: str, uri: str, deadline: float, interval: float,
              started: float, stop: threading.Event) -> ReadyRow:
    """Poll one VM until it answers or the deadline passes."""
    address = f"{vm.ip}:{arg}" if kind in ("tcp", "ssh") else vm.ip or ""
    tries = 0
    last = ""
    while not stop.is_set():
        tries += 1
        now = time.monotonic()
        if kind == "tcp":
            if _tcp(vm.ip, int(arg), deadline - now):
                return ReadyRow(plan.name, vm.name, address, True, round(time.monotonic() - started, 2),
                                f"TCP {address} accepted a connection (try {tries})")
        elif kind == "ssh":
            banner = _ssh(vm.ip, int(arg), deadline - now)
            if banner:
                return ReadyRow(plan.name, vm.name, address, True, round(time.monotonic() - started, 2),
                                f"sshd at {address} said {banner!r} (try {tries})")
        elif kind == "lease":
            got = _lease(uri, vm.nic.mac, arg)
            if got == vm.ip:
                return ReadyRow(plan.name, vm.name, address, True, round(time.monotonic() - started, 2),
                                f"DHCP lease of {vm.nic.mac} for {got}")
            if got:
                last = f"; the lease of {vm.nic.mac} is for {got}, not the planned {vm.ip}"
        elif _serial(vm.serial_log, arg):
            return ReadyRow(plan.name, vm.name, address, True, round(time.monotonic() - started, 2),
                            f"{arg!r} on the serial console ({vm.serial_log})")
        if time.monotonic() + interval > deadline:
            break
        stop.wait(interval)
    how = {"tcp": f"no TCP answer at {address}", "ssh": f"no SSH identification from {address}",
           "lease": f"no DHCP lease for {vm.nic.mac}",
           "serial": f"{arg!r} not on the serial console"}[kind]
    return ReadyRow(plan.name, vm.name, address, False, round(time.monotonic() - started, 2),
                    f"{how} within {deadline - started:.0f} s{last}")


def wait_ready(plan: CloudPlan, probe: str = "tcp:22", *, timeout: float = 300, interval: float = 0.5,
               uri: str | None = None, hosts=None, progress: bool = True, workers: int = 64) -> list[ReadyRow]:
    """Wait for every VM of a cloud to answer at its planned address, in parallel; return one row per VM.

    A VM that does not answer within ``timeout`` seconds gets ``ready=False`` and says what was missing; the
    call itself does not raise for it. ``progress`` shows a progress bar (tqdm) while waiting.
    """
    kind, arg = parse_probe(probe)
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not 0 < timeout <= MAX_TIMEOUT:
        raise VmError(f"timeout {timeout!r} is not a number of seconds", hint="give e.g. 300 (up to one day)")
    if isinstance(interval, bool) or not isinstance(interval, int | float) or not 0.01 <= interval <= 60:
        raise VmError(f"interval {interval!r} is out of range", hint="give 0.01 to 60 seconds")
    uris = {vm.name: uri_for(vm, uri, hosts, plan) for vm in plan.vms} if kind == "lease" else {}
    for vm in plan.vms:
        if kind in ("tcp", "ssh", "lease") and not vm.ip:
            raise VmError(f"VM {vm.name} has no planned IP to wait for", hint="plan the cloud with a lab network")
        if kind == "serial" and not vm.serial_log:
            raise VmError(f"VM {vm.name} has no serial log to read",
                          hint="plan it with serial_log_dir (labkit vm plan --serial-log-dir DIR)")
        if kind == "serial" and is_remote(uri_for(vm, uri, hosts, plan)):
            raise VmError(f"VM {vm.name}: the serial log is on a remote host", hint="use probe tcp:22 or lease")
    bar = None
    if progress:
        try:
            from tqdm.auto import tqdm

            bar = tqdm(total=len(plan.vms), desc=f"waiting for {plan.name}", unit="VM", leave=False)
        except ImportError:
            bar = None
    started = time.monotonic()
    deadline = started + timeout
    stop = threading.Event()
    rows: dict[str, ReadyRow] = {}
    try:
        with ThreadPoolExecutor(max_workers=max(1, min(workers, len(plan.vms)))) as pool:
            futures = {pool.submit(_wait_one, plan, vm, kind, arg, uris.get(vm.name, ""), deadline, interval,
                                   started, stop): vm.name for vm in plan.vms}
            for fut in as_completed(futures):
                rows[futures[fut]] = row = fut.result()
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix_str(f"{row.vm} {'ready' if row.ready else 'not ready'}")
    except KeyboardInterrupt:
        stop.set()
        raise
    finally:
        if bar is not None:
            bar.close()
    return [rows[vm.name] for vm in plan.vms]
