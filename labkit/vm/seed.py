"""Unattended install: a NoCloud seed (cloud-init) or a kickstart file per VM, carrying the planned network.

- NoCloud: ``meta-data``, ``user-data`` (``#cloud-config``: hostname, SSH keys) and ``network-config`` (version 2:
  the NIC matched by its planned MAC, static address with the lab network's prefix, default route via the
  gateway, DNS) on an ISO 9660 volume labelled ``cidata``, which cloud-init's NoCloud datasource reads.
- Kickstart: ``ks.cfg`` with ``network --device=MAC --bootproto=static ...`` on a volume labelled ``OEMDRV``,
  which Anaconda loads by itself (or serve the text and boot with ``inst.ks=``).

YAML is written by hand with every string JSON-quoted (a JSON string is a YAML double-quoted scalar), so no YAML
library is needed and no value can change the document's structure. The ISO is built with ``xorriso``.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from labkit.vm.errors import VmError
from labkit.vm.spec import CloudPlan, VmSpec

LABELS = {"nocloud": "cidata", "kickstart": "OEMDRV"}


def _q(value: str) -> str:
    """Quote a string for YAML (JSON's double-quoted form)."""
    return json.dumps(value)


def instance_id(plan: CloudPlan, vm: VmSpec) -> str:
    """Return the VM's cloud-init instance id: changes when its address does, so a re-addressed clone re-runs."""
    digest = hashlib.sha256(f"{plan.name}|{vm.name}|{vm.nic.mac}|{vm.ip}".encode()).hexdigest()[:12]
    return f"{vm.name}-{digest}"


def _need_ip(plan: CloudPlan, vm: VmSpec) -> str:
    """Return the VM's planned address or raise VmError (a seed without one cannot configure the network)."""
    if not vm.ip:
        raise VmError(f"VM {vm.name} of cloud '{plan.name}' has no planned IP", hint="plan it with a lab network")
    return vm.ip


def meta_data(plan: CloudPlan, vm: VmSpec) -> str:
    """Return NoCloud ``meta-data``: instance id and hostname."""
    return f"instance-id: {_q(instance_id(plan, vm))}\nlocal-hostname: {_q(vm.name)}\n"


def user_data(plan: CloudPlan, vm: VmSpec) -> str:
    """Return NoCloud ``user-data``: a ``#cloud-config`` setting the hostname and the SSH keys, passwords off."""
    lines = ["#cloud-config", f"hostname: {_q(vm.name)}", "manage_etc_hosts: true", "ssh_pwauth: false"]
    if plan.ssh_keys:
        lines.append("ssh_authorized_keys:")
        lines += [f"  - {_q(k)}" for k in plan.ssh_keys]
    return "\n".join(lines) + "\n"


def network_config(plan: CloudPlan, vm: VmSpec) -> str:
    """Return NoCloud ``network-config`` (version 2): static address, default route and DNS for the planned MAC."""
    ip = _need_ip(plan, vm)
    return (
        "version: 2\n"
        "ethernets:\n"
        "  nic0:\n"
        "    match:\n"
        f"      macaddress: {_q(vm.nic.mac)}\n"
        "    set-name: \"eth0\"\n"
        "    addresses:\n"
        f"      - {_q(f'{ip}/{plan.prefixlen}')}\n"
        "    routes:\n"
        "      - to: \"0.0.0.0/0\"\n"
        f"        via: {_q(plan.gateway)}\n"
        "    nameservers:\n"
        "      addresses:\n"
        f"        - {_q(plan.dns)}\n")


def kickstart(plan: CloudPlan, vm: VmSpec) -> str:
    """Return a kickstart file installing onto ``vda`` with the planned static network and SSH keys."""
    ip = _need_ip(plan, vm)
    netmask = str(ipaddress.IPv4Network(plan.network, strict=False).netmask)
    lines = [
        f"# labkit kickstart for {vm.name} (cloud {plan.name}): static network from the plan",
        "text",
        "lang en_US.UTF-8",
        "keyboard us",
        "timezone Etc/UTC --utc",
        f"network --device={vm.nic.mac} --bootproto=static --ip={ip} --netmask={netmask} "
        f"--gateway={plan.gateway} --nameserver={plan.dns} --hostname={vm.name} --activate --onboot=yes",
        "rootpw --lock",
    ]
    lines += [f"sshkey --username=root {_q(k)}" for k in plan.ssh_keys]
    lines += ["zerombr", "clearpart --all --initlabel --drives=vda", "ignoredisk --only-use=vda", "autopart",
              "bootloader --location=mbr --boot-drive=vda", "reboot", "", "%packages", "@core", "%end", ""]
    return "\n".join(lines)


def seed_files(plan: CloudPlan, vm: VmSpec, kind: str | None = None) -> dict[str, str]:
    """Return the files of a VM's seed (``nocloud``: meta-data, user-data, network-config; ``kickstart``: ks.cfg)."""
    kind = kind or plan.seed_kind or "nocloud"
    if kind == "nocloud":
        return {"meta-data": meta_data(plan, vm), "user-data": user_data(plan, vm),
                "network-config": network_config(plan, vm)}
    if kind == "kickstart":
        return {"ks.cfg": kickstart(plan, vm)}
    raise VmError(f"unknown seed kind {kind!r}", hint="use nocloud or kickstart")


def build_iso(files: dict[str, str], label: str, path: str | Path, *, application: str = "labkit seed") -> Path:
    """Write ``files`` onto an ISO 9660 (Joliet + Rock Ridge) volume named ``label`` at ``path``, atomically."""
    xorriso = shutil.which("xorriso")
    if not xorriso:
        raise VmError("xorriso is not installed, so no seed ISO can be built",
                      hint="apt-get install xorriso (make setup does)")
    path = Path(path)
    if not path.parent.is_dir():
        raise VmError(f"cannot write the seed {path}: {path.parent} is not a directory",
                      hint="create the seed directory first or give seed_dir")
    with tempfile.TemporaryDirectory(prefix=".labkit-seed-", dir=path.parent) as tmp:
        src = Path(tmp) / "files"
        src.mkdir()
        for name, text in files.items():
            (src / name).write_text(text, encoding="utf-8")
        out = Path(tmp) / "seed.iso"
        proc = subprocess.run([xorriso, "-as", "mkisofs", "-quiet", "-V", label, "-A", application, "-J", "-r",
                               "-o", str(out), str(src)],
                              capture_output=True, text=True, timeout=120, check=False)
        if proc.returncode != 0:
            raise VmError(f"xorriso could not build {path} ({proc.stderr.strip().splitlines()[-1:] or proc.returncode})",
                          hint="check the disk has room and the directory is writable")
        os.replace(out, path)
    return path


@dataclass(frozen=True)
class SeedAction:
    """What writing one VM's seed did or would do."""

    vm: str
    path: str
    kind: str
    files: str
    action: str  # create | replace | unchanged
    done: bool


def _application_id(path: Path) -> str:
    """Return the Application Identifier of an ISO 9660 image's primary volume descriptor ("" if unreadable)."""
    try:
        with open(path, "rb") as fh:
            fh.seek(16 * 2048)  # the primary volume descriptor is sector 16 (ECMA-119 8.4)
            pvd = fh.read(2048)
    except OSError:
        return ""
    if pvd[:6] != b"\x01CD001":
        return ""
    return pvd[574:702].decode("ascii", "replace").strip()  # Application Identifier, 128 bytes at BP 575


def write_seeds(plan: CloudPlan, *, dry_run: bool = True) -> list[SeedAction]:
    """Build each VM's seed ISO at its planned path (``vm.seed``); dry run by default.

    The ISO's application id carries a digest of its files, so a seed whose content is unchanged is left alone.
    """
    out = []
    kind = plan.seed_kind or "nocloud"
    for vm in plan.vms:
        if not vm.seed:
            continue
        files = seed_files(plan, vm, kind)
        path = Path(vm.seed)
        stamp = "labkit seed " + hashlib.sha256(json.dumps(files, sort_keys=True).encode()).hexdigest()[:40]
        exists = path.is_file()
        action = "unchanged" if exists and _application_id(path) == stamp.upper() else \
            "replace" if exists else "create"
        if not dry_run and action != "unchanged":
            build_iso(files, LABELS[kind], path, application=stamp)
        out.append(SeedAction(vm.name, str(path), kind, ", ".join(files), action, not dry_run and action != "unchanged"))
    return out
