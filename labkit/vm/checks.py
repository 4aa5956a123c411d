"""Host checks for a VM lab, each a row with its status and the exact fix; read from a configurable root."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from labkit.vm.errors import VmError
from labkit.vm.inventory import cpu_vendor, host_root

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


def check_vg_space(vg: str, need_gb: int, *, uri: str | None = None, root: Path = Path("/")) -> CheckRow:
    """Check the volume group (a libvirt pool of that name, or ``vgs`` on this host) has room for the disks."""
    free: int | None = None
    where = ""
    if uri:
        from labkit.vm.inventory import inventory_from_libvirt

        pools = inventory_from_libvirt(uri).pools
        if vg in pools:
            free, where = pools[vg], f"libvirt pool '{vg}' at {uri}"
    if free is None and str(root) == "/":
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


def host_checks(root: str | Path = "/", *, bridge: str = "br0", vg: str = "vg01", need_gb: int = 0,
                uri: str | None = None, vendor: str | None = None) -> list[CheckRow]:
    """Run every host check against ``root`` (a fake /sys, /proc, /etc tree in tests) and return the rows."""
    root = host_root(root)
    if need_gb < 0:
        raise VmError(f"need_gb={need_gb} is not a size", hint="give the GB the planned disks need, 0 or more")
    vendor = vendor or cpu_vendor(root)
    return [
        check_nested(root, vendor),
        check_kvm_device(root),
        check_bridge(root, bridge),
        check_bridge_conf(root, bridge),
        check_ip_forward(root),
        check_firewall(root, bridge),
        check_vg_space(vg, need_gb, uri=uri, root=root),
    ]
