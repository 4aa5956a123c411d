"""Host checks for a VM lab, each a row with its status and the exact fix; read from a configurable root."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from labkit.vm.connection import connect, host_capabilities, is_remote
from labkit.vm.errors import VmError
from labkit.vm.inventory import (
    cpu_vendor,
    host_root,
    host_routes,
    inventory_from_libvirt,
    listening_ports,
    read_capabilities,
)

OK, WARN, FAIL, UNKNOWN = "ok", "warn", "fail", "unknown"


@dataclass(frozen=True)
class CheckRow:
    """One host check: what was checked, its status, what was seen and the command that fixes it."""

    check: str
    status: str  # ok | warn | fail | unknown
    detail: str
    fix: str = ""


def _read(root: Path, rel: str) -> str | None:
    """Return a file under root, stripped, or None when unreadable."""
    try:
        return (root / rel).read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        return None


def check_nested(root: Path, vendor: str) -> CheckRow:
    """Check the CPU has vmx/svm and kvm's ``nested`` parameter is on."""
    module, flag = ("kvm_amd", "svm") if vendor == "amd" else ("kvm_intel", "vmx")
    fix = (f"echo 'options {module} nested=1' > /etc/modprobe.d/kvm.conf && modprobe -r {module} && "
           f"modprobe {module}")
    flags = _read(root, "proc/cpuinfo") or ""
    if flags and f" {flag}" not in flags.replace("\t", " "):
        return CheckRow("nested virtualization", FAIL, f"the CPU has no {flag} flag: only TCG emulation (slow) here",
                        "run the lab on a host with hardware virtualization, or render with accel='tcg'")
    value = _read(root, f"sys/module/{module}/parameters/nested")
    if value is None:
        return CheckRow("nested virtualization", FAIL, f"module {module} is not loaded", fix)
    if value.upper() in ("Y", "1"):
        return CheckRow("nested virtualization", OK, f"{module} nested={value}")
    return CheckRow("nested virtualization", FAIL, f"{module} nested={value}", fix)


def check_kvm_device(root: Path) -> CheckRow:
    """Check /dev/kvm exists and this user can read and write it."""
    dev = root / "dev/kvm"
    fix = "modprobe kvm && chgrp kvm /dev/kvm && chmod 0660 /dev/kvm && usermod -aG kvm $USER"
    if not dev.exists():
        return CheckRow("/dev/kvm usable", FAIL, f"{dev} is missing", fix)
    if not os.access(dev, os.R_OK | os.W_OK):
        return CheckRow("/dev/kvm usable", FAIL, f"{dev} is not readable and writable by this user", fix)
    return CheckRow("/dev/kvm usable", OK, f"{dev} is readable and writable")


def check_bridge(root: Path, bridge: str) -> CheckRow:
    """Check the bridge exists as a Linux bridge."""
    if (root / f"sys/class/net/{bridge}/bridge").is_dir():
        ports = sorted(p.name for p in (root / f"sys/class/net/{bridge}/brif").glob("*"))
        return CheckRow(f"bridge {bridge} present", OK, f"ports: {', '.join(ports) or 'none yet'}")
    if (root / f"sys/class/net/{bridge}").exists():
        return CheckRow(f"bridge {bridge} present", FAIL, f"{bridge} exists but is not a bridge",
                        f"rename the interface, or choose another bridge name than {bridge}")
    return CheckRow(f"bridge {bridge} present", FAIL, f"no interface {bridge}",
                    f"write the host files (labkit vm plan CLOUD --show files) or: ip link add {bridge} type bridge && "
                    f"ip link set eth0 master {bridge} && ip link set {bridge} up")


def check_bridge_conf(root: Path, bridge: str) -> CheckRow:
    """Check /etc/qemu/bridge.conf allows qemu-bridge-helper to use the bridge."""
    text = _read(root, "etc/qemu/bridge.conf")
    fix = f"mkdir -p /etc/qemu && echo 'allow {bridge}' >> /etc/qemu/bridge.conf"
    if text is None:
        return CheckRow("qemu bridge.conf", FAIL, "/etc/qemu/bridge.conf is missing", fix)
    allowed = {line.split()[1] for line in text.splitlines() if line.startswith("allow") and len(line.split()) > 1}
    if bridge in allowed or "all" in allowed:
        return CheckRow("qemu bridge.conf", OK, f"allows {bridge}")
    return CheckRow("qemu bridge.conf", FAIL, f"does not allow {bridge} (allows: {', '.join(sorted(allowed)) or 'none'})",
                    fix)


def check_ip_forward(root: Path) -> CheckRow:
    """Check the kernel forwards IPv4 packets."""
    value = _read(root, "proc/sys/net/ipv4/ip_forward")
    fix = "sysctl -w net.ipv4.ip_forward=1 && echo 'net.ipv4.ip_forward = 1' > /etc/sysctl.d/90-labkit-vm.conf"
    if value == "1":
        return CheckRow("ip_forward", OK, "net.ipv4.ip_forward = 1")
    return CheckRow("ip_forward", FAIL, f"net.ipv4.ip_forward = {value if value is not None else 'unreadable'}", fix)


def check_firewall(root: Path, bridge: str) -> CheckRow:
    """Check no firewall filters bridged frames (firewalld running, bridge-nf-call-iptables on)."""
    firewalld = (root / "run/firewalld").is_dir() or (root / "var/run/firewalld.pid").exists()
    nf = _read(root, "proc/sys/net/bridge/bridge-nf-call-iptables")
    problems, fixes = [], []
    if firewalld:
        problems.append("firewalld is running")
        fixes.append(f"firewall-cmd --permanent --zone=trusted --add-interface={bridge} && firewall-cmd --reload")
    if nf == "1":
        problems.append("bridged frames pass through iptables (bridge-nf-call-iptables = 1)")
        fixes.append("sysctl -w net.bridge.bridge-nf-call-iptables=0")
    if problems:
        return CheckRow("firewall", WARN, "; ".join(problems), " && ".join(fixes))
    return CheckRow("firewall", OK, "no firewalld; bridged frames bypass iptables")


def _vg_free_from_vgs(vg: str) -> int | None:
    """Return a volume group's free bytes from ``vgs``, or None."""
    import shutil
    import subprocess

    exe = shutil.which("vgs")
    if not exe:
        return None
    try:
        out = subprocess.run([exe, "--noheadings", "--units", "b", "--nosuffix", "-o", "vg_free", vg],
                             capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    text = out.stdout.strip()
    return int(float(text)) if out.returncode == 0 and text else None


def check_vg_space(vg: str, need_gb: int, *, uri: str | None = None, local_vgs: bool = True) -> CheckRow:
    """Check the volume group (a libvirt pool of that name, or ``vgs`` on this machine) has room for the disks."""
    free: int | None = None
    where = ""
    if uri:
        pools = inventory_from_libvirt(uri).pools
        if vg in pools:
            free, where = pools[vg], f"libvirt pool '{vg}' at {uri}"
    if free is None and local_vgs:
        free = _vg_free_from_vgs(vg)
        where = f"vgs {vg}"
    name = f"free space in {vg}"
    if free is None:
        return CheckRow(name, UNKNOWN, f"no volume group or libvirt pool named {vg} found",
                        f"vgcreate {vg} /dev/sdX (or define a logical storage pool named {vg})")
    need = need_gb * 1024**3
    detail = f"{free / 1024**3:.1f} GiB free ({where}), {need_gb} GiB needed"
    if free >= need:
        return CheckRow(name, OK, detail)
    return CheckRow(name, FAIL, detail, f"vgextend {vg} /dev/sdX, or plan smaller disks (disk_gb)")


def check_routes(root: Path) -> CheckRow:
    """Say which host networks the plan steers clear of (read from /proc/net/route)."""
    nets = host_routes(root)
    return CheckRow("routes", OK, f"{len(nets)} host network(s) read from {root / 'proc/net/route'}: "
                    + (", ".join(str(n) for n, _ in nets) or "none") + "; the plan's ranges avoid them")


def check_sockets(root: Path) -> CheckRow:
    """Say which listening ports the plan's VNC displays steer clear of (read from /proc/net/tcp*)."""
    ports = sorted(p for p in listening_ports(root) if p >= 5900)
    return CheckRow("listening sockets", OK, f"{len(ports)} listening port(s) at 5900 or above "
                    + (f"({', '.join(map(str, ports[:10]))}{'...' if len(ports) > 10 else ''})" if ports else "")
                    + "; VNC displays skip them")


def remote_checks(uri: str, *, bridge: str = "br0", vg: str = "vg01", need_gb: int = 0) -> list[CheckRow]:
    """Check a remote host through libvirt only, and say plainly what cannot be read from here."""
    import xml.etree.ElementTree as ET

    import libvirt

    host = uri.split("://", 1)[1].split("/", 1)[0] or uri
    here = f"run labkit vm check on {host} itself"
    vendor, features = read_capabilities(uri)
    flag = "svm" if vendor == "amd" else "vmx"
    if not vendor:
        nested = CheckRow("nested virtualization", UNKNOWN, f"{uri} reports no CPU vendor", here)
    elif flag in features:
        module = "kvm_amd" if vendor == "amd" else "kvm_intel"
        nested = CheckRow("nested virtualization", UNKNOWN, f"the CPU has {flag} (libvirt capabilities); kvm's nested "
                          "parameter cannot be read over libvirt", f"ssh {host} cat /sys/module/{module}/parameters/nested")
    else:
        nested = CheckRow("nested virtualization", FAIL, f"the host CPU reports no {flag} (libvirt capabilities)",
                          "run the lab on a host with hardware virtualization, or plan with accel='tcg'")
    caps = ET.fromstring(host_capabilities(uri))
    kvm = any(d.get("type") == "kvm" for d in caps.iterfind("guest/arch/domain"))
    rows = [nested, CheckRow("/dev/kvm usable", OK if kvm else FAIL,
                             f"libvirt on {host} {'offers' if kvm else 'does not offer'} kvm domains",
                             "" if kvm else f"on {host}: modprobe kvm and give the qemu user /dev/kvm")]
    try:
        connect(uri).interfaceLookupByName(bridge)
        rows.append(CheckRow(f"bridge {bridge} present", OK, f"libvirt on {host} knows interface {bridge}"))
    except libvirt.libvirtError:
        rows.append(CheckRow(f"bridge {bridge} present", UNKNOWN, f"libvirt on {host} does not list {bridge} "
                             "(its interface driver may be off)", here))
    for name in ("qemu bridge.conf", "ip_forward", "firewall"):
        rows.append(CheckRow(name, UNKNOWN, "cannot be read over libvirt from a remote host", here))
    rows.append(check_vg_space(vg, need_gb, uri=uri, local_vgs=False))
    rows.append(CheckRow("routes", UNKNOWN, f"{host}'s routes cannot be read over libvirt: a planned range could "
                         "overlap a network only that host has", f"{here}, or give --public-range and --private-subnet"))
    rows.append(CheckRow("listening sockets", UNKNOWN, f"{host}'s listening sockets cannot be read over libvirt: only "
                         "its domains' VNC, websocket and SPICE ports are avoided", f"{here}, or pin --vnc-display"))
    return rows


def host_checks(root: str | Path = "/", *, bridge: str = "br0", vg: str = "vg01", need_gb: int = 0,
                uri: str | None = None, vendor: str | None = None) -> list[CheckRow]:
    """Run every host check and return the rows: a remote ``uri`` through libvirt, else against ``root``.

    ``root`` is a fake /sys, /proc, /etc tree in tests. For a remote host, what libvirt cannot tell (the kvm
    nested parameter, routes, listening sockets, bridge.conf, forwarding, firewall) is an ``unknown`` row saying
    so, never a guess from this machine.
    """
    if need_gb < 0:
        raise VmError(f"need_gb={need_gb} is not a size", hint="give the GB the planned disks need, 0 or more")
    if uri and is_remote(uri):
        return remote_checks(uri, bridge=bridge, vg=vg, need_gb=need_gb)
    root = host_root(root)
    vendor = vendor or cpu_vendor(root)
    return [
        check_nested(root, vendor),
        check_kvm_device(root),
        check_bridge(root, bridge),
        check_bridge_conf(root, bridge),
        check_ip_forward(root),
        check_firewall(root, bridge),
        check_vg_space(vg, need_gb, uri=uri, local_vgs=str(root) == "/"),
        check_routes(root),
        check_sockets(root),
    ]
