"""Host set-up a plan needs, as files and commands: bridge (ifcfg, NetworkManager, systemd-networkd), kvm, qemu, sysctl, LVM."""

from __future__ import annotations

import os
import shlex
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from labkit.vm.errors import VmError
from labkit.vm.spec import NESTED_FLAG, CloudPlan, VmSpec

NETWORK_STYLES = ("ifcfg", "networkmanager", "networkd")


@dataclass(frozen=True)
class HostFile:
    """One file the host needs: where it goes, what it holds and why."""

    path: str
    content: str
    purpose: str


@dataclass(frozen=True)
class HostCommand:
    """One shell command the host needs (shown, never run by labkit), and why."""

    command: str
    purpose: str


def _bridge_files(bridge: str, nic: str, style: str, host_ip: str | None, gateway: str | None,
                  dns: str | None) -> list[HostFile]:
    """Return the files that put ``nic`` under ``bridge`` in one configuration style."""
    addr, _, prefix = (host_ip or "").partition("/")
    prefix = prefix or "24"
    if style == "ifcfg":
        ip_lines = (f"BOOTPROTO=none\nIPADDR={addr}\nPREFIX={prefix}\n" + (f"GATEWAY={gateway}\n" if gateway else "")
                    + (f"DNS1={dns}\n" if dns else "")) if host_ip else "BOOTPROTO=dhcp\n"
        return [
            HostFile(f"/etc/sysconfig/network-scripts/ifcfg-{bridge}",
                     f"DEVICE={bridge}\nTYPE=Bridge\nONBOOT=yes\nDELAY=0\nSTP=off\nNM_CONTROLLED=no\n{ip_lines}",
                     f"bridge {bridge} that carries the host's address"),
            HostFile(f"/etc/sysconfig/network-scripts/ifcfg-{nic}",
                     f"DEVICE={nic}\nTYPE=Ethernet\nONBOOT=yes\nBOOTPROTO=none\nBRIDGE={bridge}\nNM_CONTROLLED=no\n",
                     f"physical NIC {nic} enslaved to {bridge}"),
        ]
    if style == "networkmanager":
        ipv4 = (f"method=manual\naddress1={addr}/{prefix}" + (f",{gateway}" if gateway else "") + "\n"
                + (f"dns={dns};\n" if dns else "")) if host_ip else "method=auto\n"
        return [
            HostFile(f"/etc/NetworkManager/system-connections/{bridge}.nmconnection",
                     f"[connection]\nid={bridge}\ntype=bridge\ninterface-name={bridge}\nautoconnect=yes\n\n"
                     f"[bridge]\nstp=false\n\n[ipv4]\n{ipv4}\n[ipv6]\nmethod=ignore\n",
                     f"bridge {bridge} (NetworkManager keyfile, mode 0600)"),
            HostFile(f"/etc/NetworkManager/system-connections/{bridge}-port-{nic}.nmconnection",
                     f"[connection]\nid={bridge}-port-{nic}\ntype=ethernet\ninterface-name={nic}\n"
                     f"controller={bridge}\nport-type=bridge\nautoconnect=yes\n",
                     f"{nic} as a port of {bridge}"),
        ]
    if style == "networkd":
        network = (f"Address={addr}/{prefix}\n" + (f"Gateway={gateway}\n" if gateway else "")
                   + (f"DNS={dns}\n" if dns else "")) if host_ip else "DHCP=ipv4\n"
        return [
            HostFile(f"/etc/systemd/network/10-{bridge}.netdev",
                     f"[NetDev]\nName={bridge}\nKind=bridge\n\n[Bridge]\nSTP=no\n", f"bridge device {bridge}"),
            HostFile(f"/etc/systemd/network/20-{nic}.network",
                     f"[Match]\nName={nic}\n\n[Network]\nBridge={bridge}\n", f"{nic} enslaved to {bridge}"),
            HostFile(f"/etc/systemd/network/30-{bridge}.network",
                     f"[Match]\nName={bridge}\n\n[Network]\n{network}", f"the host's address on {bridge}"),
        ]
    raise VmError(f"unknown network configuration style {style!r}", hint=f"use one of: {', '.join(NETWORK_STYLES)}")


def plan_vendor(plan: CloudPlan) -> str:
    """Return the CPU vendor a plan was made for (``amd`` when its VMs ask for svm, else ``intel``)."""
    return "amd" if any("svm" in vm.cpu_features for vm in plan.vms) else "intel"


def host_files(plan: CloudPlan, *, nic: str = "eth0", style: str = "ifcfg", vendor: str | None = None,
               host_ip: str | None = None) -> list[HostFile]:
    """Return every file a host needs for a cloud: bridge over ``nic``, nested kvm, qemu bridge ACL, sysctl."""
    vendor = vendor or plan_vendor(plan)
    module = "kvm_amd" if vendor == "amd" else "kvm_intel"
    files = _bridge_files(plan.bridge, nic, style, host_ip, plan.gateway, plan.dns) if plan.bridge else []
    files += [
        HostFile("/etc/modprobe.d/kvm.conf", f"options {module} nested=1\n",
                 f"nested virtualization ({NESTED_FLAG.get(vendor, 'vmx')}) inside the cloud's VMs"),
        *([HostFile("/etc/qemu/bridge.conf", f"allow {plan.bridge}\n",
                    f"lets qemu-bridge-helper add taps to {plan.bridge}")] if plan.bridge else []),
        HostFile("/etc/sysctl.d/90-labkit-vm.conf",
                 "net.ipv4.ip_forward = 1\n"
                 "net.bridge.bridge-nf-call-iptables = 0\nnet.bridge.bridge-nf-call-ip6tables = 0\n",
                 "forward packets for the clouds; keep bridged frames out of iptables"),
    ]
    return files


def disk_commands(vms: Iterable[VmSpec]) -> list[HostCommand]:
    """Return the ``lvcreate`` (or ``qemu-img create``) command of each VM's disk; labkit only shows them."""
    out = []
    for vm in vms:
        d = vm.disk
        if d.kind == "lvm":
            out.append(HostCommand(shlex.join(["lvcreate", "-L", f"{d.size_gb}G", "-n", d.lv or "", d.vg or ""]),
                                   f"{d.size_gb} GB logical volume for {vm.name} on {vm.host}"))
        else:
            fmt = d.file_format
            backing = ["-b", d.backing, "-F", d.backing_format or "raw"] if d.backing else []
            out.append(HostCommand(shlex.join(["qemu-img", "create", "-f", fmt, *backing, d.path, f"{d.size_gb}G"]),
                                   f"{d.size_gb} GB {fmt} disk for {vm.name} on {vm.host}"
                                   + (f" (linked clone of {d.backing})" if d.backing else "")))
    return out


def setup_commands(plan: CloudPlan, *, vendor: str | None = None) -> list[HostCommand]:
    """Return the commands that apply the host files now (module reload, sysctl) plus the disk commands."""
    vendor = vendor or plan_vendor(plan)
    module = "kvm_amd" if vendor == "amd" else "kvm_intel"
    return [
        HostCommand(f"modprobe -r {module} && modprobe {module}", "reload kvm so nested=1 takes effect"),
        HostCommand("sysctl --system", "apply /etc/sysctl.d/90-labkit-vm.conf"),
        *disk_commands(plan.vms),
    ]


@dataclass(frozen=True)
class FileAction:
    """What writing one host file did or would do."""

    path: str
    action: str  # create | replace | unchanged
    done: bool


def write_host_files(files: Iterable[HostFile], root: str | Path, *, dry_run: bool = True) -> list[FileAction]:
    """Write host files under ``root`` (a staging tree, or / on a real host), each atomically; dry run by default."""
    root = Path(root)
    out = []
    for f in files:
        target = root / f.path.lstrip("/")
        old = target.read_text(encoding="utf-8") if target.is_file() else None
        action = "unchanged" if old == f.content else ("replace" if old is not None else "create")
        if not dry_run and action != "unchanged":
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as fh:
                    fh.write(f.content)
                if target.name.endswith(".nmconnection"):
                    os.chmod(tmp, 0o600)
                os.replace(tmp, target)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        out.append(FileAction(str(target), action, not dry_run and action != "unchanged"))
    return out
