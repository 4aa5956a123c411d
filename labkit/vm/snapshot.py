"""Snapshots of a whole cloud by name: take, list, revert and delete them on every VM at once; dry run first.

How a VM's disk is kept depends on what it is:

- a qcow2 file: a libvirt internal snapshot (with the memory of a running VM, so a revert resumes it as it was);
- a raw file: a qcow2 overlay (libvirt's external disk-only snapshot) on a shut-off VM; revert empties the overlay
  again (libvirt 9.0 cannot revert external snapshots itself), so the VM comes back shut off;
- an LVM volume: ``lvcreate --snapshot`` is shown as a manual step (libvirt has no LVM snapshots).

Running VMs are paused while a cloud is snapshotted, so every VM's snapshot is of the same moment. If one VM
fails, the snapshots this call made are removed again.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape

from labkit.vm.connection import connect, is_remote, is_sandbox
from labkit.vm.errors import VmError
from labkit.vm.inventory import HostInventory, parse_domain_xml
from labkit.vm.launch import uri_for
from labkit.vm.spec import CloudPlan, VmSpec

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


@dataclass(frozen=True)
class SnapshotStep:
    """One thing snapshot, revert or delete does (or, in a dry run, would do) to one VM."""

    host: str
    uri: str
    vm: str
    action: str  # pause | snapshot | overlay | revert | empty-overlay | resume | delete | manual | leave
    snapshot: str
    detail: str
    done: bool = False


@dataclass(frozen=True)
class SnapshotRow:
    """One snapshot of one VM."""

    cloud: str
    vm: str
    snapshot: str
    kind: str  # internal | overlay
    state: str  # the VM's state the snapshot holds
    created: int
    current: bool


def check_snapshot_name(name: object) -> str:
    """Return a snapshot name (ASCII letters, digits, '.', '_', '-'), or raise VmError."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise VmError(f"snapshot name {name!r} must be 1 to 64 ASCII letters, digits, '.', '_' or '-'",
                      hint="e.g. installed or before-upgrade")
    return name


def _domain(plan: CloudPlan, vm: VmSpec, u: str):
    """Return the VM's domain, refusing one labkit did not define for this cloud."""
    import libvirt

    try:
        dom = connect(u).lookupByName(vm.name)
    except libvirt.libvirtError:
        raise VmError(f"cloud '{plan.name}' has no domain {vm.name} on {u}",
                      hint="launch the cloud first (labkit vm launch ... --apply)") from None
    if parse_domain_xml(dom.XMLDesc(0)).labkit_cloud != plan.name:
        raise VmError(f"domain {vm.name} on {u} was not defined by labkit for cloud '{plan.name}'",
                      hint="labkit only snapshots the domains it launched")
    return dom


def _disk(dom) -> tuple[str, str, str]:
    """Return (kind of disk: file | block, path, format) of a domain's first disk."""
    root = ET.fromstring(dom.XMLDesc(0))
    d = root.find("devices/disk[@device='disk']")
    if d is None:
        return "none", "", ""
    src = d.find("source")
    path = (src.get("file") or src.get("dev") or "") if src is not None else ""
    fmt = (d.find("driver").get("type", "") if d.find("driver") is not None else "") or "raw"
    return d.get("type", "file"), path, fmt


def _mechanism(dom, u: str) -> str:
    """Return how a VM's disk is snapshotted: internal, overlay or lvm."""
    if is_sandbox(u):
        return "internal"  # the test driver keeps snapshot metadata for any disk
    kind, _, fmt = _disk(dom)
    if kind == "block":
        return "lvm"
    return "internal" if fmt == "qcow2" else "overlay"


def _find(dom, name: str):
    """Return the domain's snapshot called ``name``, or None."""
    import libvirt

    try:
        return dom.snapshotLookupByName(name)
    except libvirt.libvirtError:
        return None


def _targets(plan: CloudPlan, uri: str | None, hosts: dict[str, HostInventory] | None):
    """Yield (vm, uri, domain) for every VM of the cloud."""
    for vm in plan.vms:
        u = uri_for(vm, uri, hosts, plan)
        yield vm, u, _domain(plan, vm, u)


def snapshot(plan: CloudPlan, name: str, *, uri: str | None = None, hosts: dict[str, HostInventory] | None = None,
             dry_run: bool = True) -> list[SnapshotStep]:
    """Snapshot every VM of a cloud under one name; dry run by default, all or nothing."""
    import libvirt

    check_snapshot_name(name)
    planned: list[tuple[SnapshotStep, object]] = []
    running = []
    for vm, u, dom in _targets(plan, uri, hosts):
        if _find(dom, name) is not None:
            raise VmError(f"VM {vm.name} already has a snapshot '{name}'; nothing was changed",
                          hint="choose another name, or delete it first (labkit vm snapshot --delete)")
        how = _mechanism(dom, u)
        active = bool(dom.isActive())
        if how == "lvm":
            _, path, _ = _disk(dom)
            vg, lv = path.split("/")[-2:]
            planned.append((SnapshotStep(vm.host, u, vm.name, "manual", name,
                                         f"lvcreate --snapshot -n {lv}-{name} -L 10G {vg}/{lv} on {vm.host}"), dom))
            continue
        if how == "overlay" and active:
            raise VmError(f"VM {vm.name} has a raw disk and is running: its snapshot is a qcow2 overlay, taken "
                          "shut off; nothing was changed", hint="shut the cloud down first, or use qcow2 disks")
        if how == "overlay" and is_remote(u):
            raise VmError(f"VM {vm.name}: overlay snapshots need the disk on this machine",
                          hint="use qcow2 disks on a remote host (internal snapshots)")
        if active:
            running.append((vm, u, dom))
        detail = ("libvirt's test driver keeps the snapshot's metadata only" if is_sandbox(u) else
                  "internal qcow2 snapshot with the running VM's memory" if how == "internal" and active else
                  "internal snapshot of the disk" if how == "internal" else
                  f"qcow2 overlay {_disk(dom)[1]}.{name}.qcow2 takes the writes from now on")
        planned.append((SnapshotStep(vm.host, u, vm.name, "snapshot" if how == "internal" else "overlay", name,
                                     detail), dom))
    pauses = [SnapshotStep(vm.host, u, vm.name, "pause", name, "pause so every VM is taken at the same moment")
              for vm, u, _ in running] if len(running) > 1 else []
    resumes = [SnapshotStep(s.host, s.uri, s.vm, "resume", name, "resume") for s in pauses]
    if dry_run:
        return pauses + [s for s, _ in planned] + resumes
    taken: list[tuple[object, object, str]] = []  # (dom, snapshot, how)
    done: list[SnapshotStep] = []
    try:
        for (_, _, dom), step in zip(running, pauses, strict=False):
            dom.suspend()
            done.append(SnapshotStep(**{**step.__dict__, "done": True}))
        for step, dom in planned:
            if step.action == "manual":
                done.append(step)
                continue
            desc = f"<description>labkit snapshot {escape(name)} of cloud {escape(plan.name)}</description>"
            if step.action == "snapshot":
                snap = dom.snapshotCreateXML(f"<domainsnapshot><name>{escape(name)}</name>{desc}</domainsnapshot>", 0)
            else:
                # labkit makes the overlay itself (the embedded driver has no storage backend to do it)
                _, base, fmt = _disk(dom)
                overlay = f"{base}.{name}.qcow2"
                _new_overlay(overlay, base, fmt)
                try:
                    snap = dom.snapshotCreateXML(
                        f"<domainsnapshot><name>{escape(name)}</name>{desc}<disks><disk name='vda' "
                        f"snapshot='external'><driver type='qcow2'/><source file='{escape(overlay)}'/></disk>"
                        "</disks></domainsnapshot>",
                        libvirt.VIR_DOMAIN_SNAPSHOT_CREATE_DISK_ONLY | libvirt.VIR_DOMAIN_SNAPSHOT_CREATE_ATOMIC
                        | libvirt.VIR_DOMAIN_SNAPSHOT_CREATE_REUSE_EXT)
                except libvirt.libvirtError:
                    os.unlink(overlay)
                    raise
            taken.append((dom, snap, step.action))
            done.append(SnapshotStep(**{**step.__dict__, "done": True}))
    except (libvirt.libvirtError, VmError) as exc:
        for dom, snap, how in reversed(taken):
            _drop(dom, snap, how)
        why = exc.get_error_message() if isinstance(exc, libvirt.libvirtError) else str(exc)
        raise VmError(f"snapshot '{name}' of cloud '{plan.name}' failed ({why}); the snapshots "
                      "this call took were removed", hint="fix the cause and try again") from None
    finally:
        for _, _, dom in running if pauses else []:
            try:
                if dom.info()[0] == libvirt.VIR_DOMAIN_PAUSED:
                    dom.resume()
            except libvirt.libvirtError:
                pass
    return done + [SnapshotStep(**{**s.__dict__, "done": True}) for s in resumes]


def _new_overlay(overlay: str, base: str, fmt: str) -> None:
    """Create (or empty again) a qcow2 overlay on ``base`` at ``overlay``, atomically."""
    exe = shutil.which("qemu-img")
    if not exe:
        raise VmError("qemu-img is not installed", hint="apt-get install qemu-utils")
    tmp = f"{overlay}.labkit-new"
    proc = subprocess.run([exe, "create", "-q", "-f", "qcow2", "-b", base, "-F", fmt, tmp], capture_output=True,
                          text=True, timeout=120, check=False)
    if proc.returncode != 0:
        Path(tmp).unlink(missing_ok=True)
        raise VmError(f"qemu-img could not create the overlay {overlay} ({proc.stderr.strip()})",
                      hint="check the folder is writable and has room")
    os.replace(tmp, overlay)


def _drop(dom, snap, how: str) -> None:
    """Take back a snapshot this call made (an overlay: point the disk at its base again, delete the overlay)."""
    import libvirt

    try:
        if how == "snapshot":
            snap.delete(0)
            return
        inner = ET.fromstring(snap.getXMLDesc(0)).find("domain")
        overlay = ET.fromstring(snap.getXMLDesc(0)).find("disks/disk/source").get("file")
        snap.delete(libvirt.VIR_DOMAIN_SNAPSHOT_DELETE_METADATA_ONLY)
        if inner is not None:
            dom.connect().defineXML(ET.tostring(inner, encoding="unicode"))
        if overlay and os.path.isfile(overlay):
            os.unlink(overlay)
    except libvirt.libvirtError:
        pass


def _overlay_paths(snap) -> tuple[str, str, str]:
    """Return (overlay, base image, base format) of an external snapshot."""
    root = ET.fromstring(snap.getXMLDesc(0))
    overlay = root.find("disks/disk/source").get("file")
    disk = root.find("domain/devices/disk[@device='disk']")
    base = disk.find("source").get("file")
    fmt = disk.find("driver").get("type", "raw") if disk.find("driver") is not None else "raw"
    return overlay, base, fmt


def _is_overlay(snap) -> bool:
    """Tell whether a snapshot is an external (overlay) one."""
    root = ET.fromstring(snap.getXMLDesc(0))
    return any(d.get("snapshot") == "external" for d in root.iterfind("disks/disk"))


def revert(plan: CloudPlan, name: str, *, uri: str | None = None, hosts: dict[str, HostInventory] | None = None,
           dry_run: bool = True) -> list[SnapshotStep]:
    """Bring every VM of a cloud back to the snapshot ``name``; dry run by default.

    Every VM must have the snapshot (checked before the first change). An internal snapshot restores disk and,
    if taken running, memory; an overlay is emptied, the VM left shut off.
    """
    import libvirt

    check_snapshot_name(name)
    planned = []
    for vm, u, dom in _targets(plan, uri, hosts):
        snap = _find(dom, name)
        if snap is None:
            raise VmError(f"VM {vm.name} has no snapshot '{name}'; nothing was changed",
                          hint="list them with labkit vm snapshot CLOUD --list")
        if _is_overlay(snap) and not is_sandbox(u):
            if not snap.isCurrent():
                raise VmError(f"VM {vm.name}: '{name}' is an overlay snapshot with newer ones on top; nothing was "
                              "changed", hint="revert to the newest snapshot, or use qcow2 disks")
            overlay, base, _ = _overlay_paths(snap)
            planned.append((SnapshotStep(vm.host, u, vm.name, "empty-overlay", name,
                                         f"stop the VM and empty {overlay} (back to {base} as it was)"), dom, snap))
        else:
            planned.append((SnapshotStep(vm.host, u, vm.name, "revert", name, "restore the snapshot"), dom, snap))
    if dry_run:
        return [s for s, _, _ in planned]
    done = []
    try:
        for step, dom, snap in planned:
            if step.action == "revert":
                # a cloud is paused while it is snapshotted: a VM taken running or paused comes back running
                state = ET.fromstring(snap.getXMLDesc(0)).findtext("state") or ""
                dom.revertToSnapshot(snap, libvirt.VIR_DOMAIN_SNAPSHOT_REVERT_RUNNING
                                     if state in ("running", "paused") else 0)
            else:
                if dom.isActive():
                    dom.destroy()
                _new_overlay(*_overlay_paths(snap))
            done.append(SnapshotStep(**{**step.__dict__, "done": True}))
    except (libvirt.libvirtError, VmError, OSError) as exc:
        why = exc.get_error_message() if isinstance(exc, libvirt.libvirtError) else str(exc)
        raise VmError(f"revert of cloud '{plan.name}' to '{name}' stopped at {step.vm} ({why}); "
                      f"VMs done: {', '.join(s.vm for s in done) or 'none'}",
                      hint="fix the cause and revert again (reverting twice is harmless)") from None
    return done


def delete_snapshot(plan: CloudPlan, name: str, *, uri: str | None = None,
                    hosts: dict[str, HostInventory] | None = None, dry_run: bool = True) -> list[SnapshotStep]:
    """Delete the snapshot ``name`` of every VM that has it; dry run by default (an overlay stays the disk)."""
    import libvirt

    check_snapshot_name(name)
    steps = []
    for vm, u, dom in _targets(plan, uri, hosts):
        snap = _find(dom, name)
        if snap is None:
            steps.append(SnapshotStep(vm.host, u, vm.name, "leave", name, "no such snapshot"))
            continue
        overlay = _is_overlay(snap) and not is_sandbox(u)
        if not dry_run:
            snap.delete(libvirt.VIR_DOMAIN_SNAPSHOT_DELETE_METADATA_ONLY if overlay else 0)
        steps.append(SnapshotStep(vm.host, u, vm.name, "delete", name,
                                  "forget the snapshot (its overlay stays the VM's disk)" if overlay else
                                  "delete the internal snapshot", not dry_run))
    return steps


def snapshots(plan: CloudPlan, *, uri: str | None = None,
              hosts: dict[str, HostInventory] | None = None) -> list[SnapshotRow]:
    """Return every snapshot of every VM of the cloud, oldest first."""
    rows = []
    for vm, u, dom in _targets(plan, uri, hosts):
        for snap in dom.listAllSnapshots(0):
            root = ET.fromstring(snap.getXMLDesc(0))
            rows.append(SnapshotRow(plan.name, vm.name, snap.getName(),
                                    "overlay" if _is_overlay(snap) and not is_sandbox(u) else "internal",
                                    root.findtext("state") or "", int(root.findtext("creationTime") or 0),
                                    bool(snap.isCurrent())))
    return sorted(rows, key=lambda r: (r.created, r.vm))
