"""Launch and tear down a planned cloud through libvirt: dry run first, idempotent, never half-applied.

Launch works out every step against what each host has now (so a conflict is found before the first change),
then creates disks and seeds, defines and starts the domains, and finally writes the cloud's plan into the host's
record (:mod:`labkit.vm.record`). If a step fails, what this call created is removed again. With
``converge=True`` (``labkit vm apply``) a labkit domain of the same cloud that differs from the plan is
"drift" and is redefined instead of being an error.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass, replace

from labkit.vm.connection import connect, default_uri, files_here, is_remote, is_sandbox
from labkit.vm.errors import Conflict, VmError, conflict_error
from labkit.vm.inventory import DomainFacts, HostInventory, inventory_from_libvirt, parse_domain_xml
from labkit.vm.lab import Lab
from labkit.vm.record import host_lock, read_record, write_record
from labkit.vm.render_libvirt import domain_xml
from labkit.vm.seed import write_seeds
from labkit.vm.spec import CloudPlan, VmSpec

# Fields compared to tell whether a domain on the host is the planned one (and named when it drifted).
_SAME_FIELDS = ("memory_kib", "vcpus", "macs", "bridges", "vnc_ports", "vnc_listen", "disks", "cdroms", "cpu_model",
                "boot", "labkit_cloud")


def sandbox_pool(uri: str, vg: str = "vg01", capacity_gb: int = 2000) -> str:
    """Give a test-driver host a logical storage pool named ``vg`` (the sandbox stand-in for a volume group)."""
    if not is_sandbox(uri):
        raise VmError(f"sandbox_pool only makes fake pools on libvirt's test driver, not {uri}",
                      hint=f"on a real host run vgcreate {vg} /dev/sdX and define a logical pool")
    conn = connect(uri)
    import libvirt

    try:
        conn.storagePoolLookupByName(vg)
        return vg
    except libvirt.libvirtError:
        pass
    xml = (f"<pool type='logical'><name>{vg}</name><capacity unit='G'>{capacity_gb}</capacity>"
           f"<available unit='G'>{capacity_gb}</available><source><name>{vg}</name></source>"
           f"<target><path>/dev/{vg}</path></target></pool>")
    pool = conn.storagePoolDefineXML(xml, 0)
    pool.create(0)
    return vg


def sandbox_iso(uri: str, path: str = "/var/lib/libvirt/isos/silvereye.iso", size_mb: int = 600) -> str:
    """Put an ISO volume at ``path`` into a test-driver host (a ``dir`` pool over its folder); return the path.

    The sandbox's stand-in for an installer ISO on the hypervisor: launch checks the ISO exists on the host, and
    on the test driver "exists" means a volume in one of its pools.
    """
    import posixpath
    from xml.sax.saxutils import escape, quoteattr

    import libvirt

    if not is_sandbox(uri):
        raise VmError(f"sandbox_iso only makes fake ISOs on libvirt's test driver, not {uri}",
                      hint="copy the ISO to the host and put its folder in a storage pool")
    if not path.startswith("/"):
        raise VmError(f"ISO path {path!r} is relative", hint="give an absolute path, e.g. /var/lib/libvirt/isos/x.iso")
    conn = connect(uri)
    folder, name = posixpath.split(path)
    pool = next((p for p in conn.listAllStoragePools() if _pool_target(p) == folder), None)
    if pool is None:
        pool_name = "isos" if not _pool_exists(conn, "isos") else f"isos-{len(conn.listAllStoragePools())}"
        pool = conn.storagePoolDefineXML(f"<pool type='dir'><name>{pool_name}</name><target><path>{escape(folder)}"
                                         "</path></target></pool>", 0)
        pool.create(0)
    try:
        pool.storageVolLookupByName(name)
    except libvirt.libvirtError:
        pool.createXML(f"<volume><name>{escape(name)}</name><key>{escape(path)}</key>"
                       f"<capacity unit='M'>{int(size_mb)}</capacity><allocation unit='M'>0</allocation>"
                       f"<target><format type={quoteattr('iso')}/></target></volume>", 0)
    return path


def _pool_exists(conn, name: str) -> bool:
    """Tell whether a storage pool of that name exists."""
    import libvirt

    try:
        conn.storagePoolLookupByName(name)
        return True
    except libvirt.libvirtError:
        return False


def _pool_target(pool) -> str:
    """Return a storage pool's target directory ("" when unreadable)."""
    import xml.etree.ElementTree as ET

    try:
        return (ET.fromstring(pool.XMLDesc(0)).findtext("target/path") or "").rstrip("/")
    except Exception:  # noqa: BLE001 - a pool we cannot read holds nothing for us
        return ""


@dataclass(frozen=True)
class LaunchStep:
    """One thing launch or destroy does (or, in a dry run, would do) on a host."""

    host: str
    uri: str
    action: str  # create-volume | create-disk | write-seed | define | drift | start | leave | manual | record ...
    target: str
    detail: str
    done: bool = False


def uri_for(vm: VmSpec, uri: str | None = None, hosts: dict[str, HostInventory] | None = None,
            plan: CloudPlan | None = None) -> str:
    """Return the libvirt URI of the host a VM is planned on (explicit, the lab's hosts, the plan's, the profile's)."""
    if uri:
        return uri
    if hosts and vm.host in hosts and hosts[vm.host].uri:
        return hosts[vm.host].uri
    if plan is not None and plan.uris.get(vm.host):
        return plan.uris[vm.host]
    return default_uri()


def _pool_for(conn, vg: str):
    """Return the storage pool named after a volume group, or None."""
    import libvirt

    try:
        return conn.storagePoolLookupByName(vg)
    except libvirt.libvirtError:
        return None


def _dir_pool_for(conn, folder: str):
    """Return an active storage pool whose target is ``folder``, or None (the embedded driver has no pools)."""
    try:
        pools = conn.listAllStoragePools()
    except Exception:  # noqa: BLE001 - no storage driver
        return None
    return next((p for p in pools if p.isActive() and _pool_target(p) == folder.rstrip("/")), None)


def _on_host(conn, uri: str, path: str) -> bool:
    """Tell whether a file exists on the host: a volume in one of its pools, or (a host on this machine) a file."""
    import libvirt

    try:
        conn.storageVolLookupByPath(path)
        return True
    except libvirt.libvirtError:
        pass
    return files_here(uri) and os.path.isfile(path)


def _needs_files(vm: VmSpec, conn, uri: str, who: str) -> None:
    """Refuse a VM whose ISO, kernel or initrd is not on its host (or is written relative), before any change."""
    wanted = [("ISO", vm.iso)]
    if vm.kernel:
        wanted += [("kernel", vm.kernel.kernel), ("initrd", vm.kernel.initrd)]
    for label, path in wanted:
        if not path:
            continue
        if not path.startswith("/"):
            raise VmError(f"{who}: the {label} path {path!r} is relative; libvirt needs an absolute one",
                          hint=f"give the full path of the {label} on the host, e.g. /var/lib/libvirt/isos/x.iso")
        if not _on_host(conn, uri, path):
            where = "on this machine" if files_here(uri) else "in any storage pool"
            raise VmError(f"{who}: the {label} {path} does not exist {where} of host {vm.host} ({uri}); "
                          "nothing was changed",
                          hint=f"copy the {label} there (or put its folder in a storage pool), or fix the path")


def _differences(have: DomainFacts, want: DomainFacts) -> list[str]:
    """Return the names of the fields where a domain on the host differs from the planned one."""
    out = [k for k in _SAME_FIELDS if getattr(have, k) != getattr(want, k)]
    if sorted(have.cpu_features) != sorted(want.cpu_features):
        out.append("cpu_features")
    return out


def _disk_step(vm: VmSpec, conn, u: str, who: str,
               conflicts: list[Conflict]) -> tuple[LaunchStep, str]:
    """Return the step that creates a VM's disk and the volume key launch records as created ("" if none)."""
    d = vm.disk
    if d.kind == "lvm":
        if _pool_for(conn, d.vg or "") is not None:
            return LaunchStep(vm.host, u, "create-volume", d.path, f"{d.size_gb} GiB volume in pool '{d.vg}'"), d.path
        return LaunchStep(vm.host, u, "manual", d.path, f"no libvirt pool '{d.vg}': run lvcreate -L {d.size_gb}G "
                                                         f"-n {d.lv} {d.vg} on {vm.host} yourself"), ""
    backing = f" over {d.backing}" if d.backing else ""
    if not d.path.startswith("/"):
        raise VmError(f"{who}: the disk path {d.path!r} is relative; libvirt needs an absolute one",
                      hint="give disk_dir as an absolute folder")
    folder = os.path.dirname(d.path)
    if _dir_pool_for(conn, folder) is not None:
        return LaunchStep(vm.host, u, "create-volume", d.path,
                          f"{d.size_gb} GiB {d.format} volume{backing} in the pool over {folder}"), d.path
    if not files_here(u):
        cmd = f"qemu-img create -f {d.format}" + (f" -b {d.backing} -F {d.backing_format or 'raw'}" if d.backing
                                                  else "") + f" {d.path} {d.size_gb}G"
        return LaunchStep(vm.host, u, "manual", d.path, f"create the disk on {vm.host}: {cmd}"), ""
    if os.path.exists(d.path):
        conflicts.append(Conflict("volume", d.path, who, f"a file already there on {u}"))
    if not os.path.isdir(folder):
        raise VmError(f"{who}: the disk folder {folder} does not exist on this machine",
                      hint=f"mkdir -p {folder}, or plan with another disk_dir")
    if d.backing and not os.path.exists(d.backing):
        raise VmError(f"{who}: the clone's backing image {d.backing} does not exist", hint="launch the original first")
    return LaunchStep(vm.host, u, "create-disk", d.path, f"qemu-img create -f {d.format}{backing} ({d.size_gb} GiB)"), \
        d.path


def _plan_steps(plan: CloudPlan, uri: str | None, hosts: dict[str, HostInventory] | None,
                start: bool, converge: bool) -> list[tuple[LaunchStep, VmSpec | None, str]]:
    """Work out every step against what each host has now; raise VmError on any conflict (nothing changed)."""
    import libvirt

    steps: list[tuple[LaunchStep, VmSpec | None, str]] = []
    conflicts: list[Conflict] = []
    inventories: dict[str, HostInventory] = {}
    for vm in plan.vms:
        u = uri_for(vm, uri, hosts, plan)
        inv = inventories.get(u) or inventories.setdefault(u, inventory_from_libvirt(u, name=vm.host))
        conn = connect(u)
        who = vm.who
        _needs_files(vm, conn, u, who)
        existing = inv.domains.get(vm.name)
        if existing is not None:
            # compare with the persistent definition: a redefined running domain changes at its next start
            existing = parse_domain_xml(conn.lookupByName(vm.name).XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE))
            xml = domain_xml(vm, plan=plan, created_volume=existing.labkit_created_volume)
            diff = _differences(existing, parse_domain_xml(xml))
            if not diff:
                steps.append((LaunchStep(vm.host, u, "leave", vm.name, "identical domain already defined"), vm, xml))
            elif converge and existing.labkit_cloud == plan.name:
                xml = domain_xml(vm, plan=plan, created_volume=existing.labkit_created_volume,
                                 uuid=conn.lookupByName(vm.name).UUIDString())
                steps.append((LaunchStep(vm.host, u, "drift", vm.name, f"differs in {', '.join(diff)}: redefine "
                                         "(takes effect at the next start)"), vm, xml))
            else:
                conflicts.append(Conflict("domain", f"name {vm.name} on {u}", who,
                                          f"a different domain '{vm.name}' already defined there "
                                          f"(differs in {', '.join(diff)})"))
                continue
            if start and not conn.lookupByName(vm.name).isActive():
                steps.append((LaunchStep(vm.host, u, "start", vm.name, "start the existing domain"), vm, xml))
            continue
        step, created = _disk_step(vm, conn, u, who, conflicts)
        steps.append((step, vm, ""))
        if vm.seed:
            if is_remote(u):
                steps.append((LaunchStep(vm.host, u, "manual", vm.seed, "write the seed with labkit vm seed and copy "
                                         f"it to {vm.host}:{vm.seed}"), vm, ""))
            else:
                if not os.path.isdir(os.path.dirname(vm.seed) or "."):
                    raise VmError(f"{who}: the seed folder {os.path.dirname(vm.seed)} does not exist on this machine; "
                                  "nothing was changed", hint="create it, or plan with another seed_dir")
                steps.append((LaunchStep(vm.host, u, "write-seed", vm.seed, f"{plan.seed_kind or 'nocloud'} seed "
                                         f"for {vm.ip} (labelled ISO)"), vm, ""))
        xml = domain_xml(vm, plan=plan, created_volume=created)
        steps.append((LaunchStep(vm.host, u, "define", vm.name,
                                 f"mac {vm.nic.mac}, bridge {vm.nic.bridge or 'user'}, vnc {vm.vnc.listen}:{vm.vnc.port}, "
                                 f"disk {vm.disk.device}"), vm, xml))
        if start:
            steps.append((LaunchStep(vm.host, u, "start", vm.name, "start the domain"), vm, xml))
    for u, inv in inventories.items():
        # what each host holds now (its domains, and every cloud labkit recorded there) against the whole plan
        here = {vm.name: inv.name for vm in plan.vms if uri_for(vm, uri, hosts, plan) == u}
        conflicts += Lab([inv], network=plan.network).clashes(plan, on_host=here)
    if conflicts:
        raise conflict_error(conflicts, f"cannot launch cloud '{plan.name}'")
    for u, inv in inventories.items():
        old = inv.clouds.get(plan.name)
        if old is None or old != plan:
            steps.append((LaunchStep(inv.name, u, "record", plan.name,
                                     "record the cloud's plan in labkit-state on the host"
                                     + (" (replacing the old one)" if old is not None else "")), None, ""))
    return steps


def _create_volume(conn, vm: VmSpec, uri: str) -> None:
    """Create a VM's disk as a volume in the pool that holds it (LVM group or directory)."""
    from xml.sax.saxutils import escape

    d = vm.disk
    if d.kind == "lvm":
        pool, name = _pool_for(conn, d.vg or ""), d.lv or ""
        # the test driver's pools are a fixed size: sandbox volumes are thin, real ones fully allocated
        alloc = 0 if is_sandbox(uri) else d.size_gb
    else:
        pool, name, alloc = _dir_pool_for(conn, os.path.dirname(d.path)), os.path.basename(d.path), 0
    backing = (f"<backingStore><path>{escape(d.backing)}</path><format type='{d.backing_format or 'raw'}'/>"
               "</backingStore>") if d.backing else ""
    fmt = "" if d.kind == "lvm" else f"<target><format type='{d.format}'/></target>"
    pool.createXML(f"<volume><name>{escape(name)}</name><capacity unit='G'>{d.size_gb}</capacity>"
                   f"<allocation unit='G'>{alloc}</allocation>{fmt}{backing}</volume>", 0)


def _create_disk(vm: VmSpec) -> None:
    """Create a VM's disk file on this machine with qemu-img (a qcow2 overlay when it has a backing image)."""
    exe = shutil.which("qemu-img")
    if not exe:
        raise VmError("qemu-img is not installed", hint="apt-get install qemu-utils")
    d = vm.disk
    argv = [exe, "create", "-q", "-f", d.file_format]
    if d.backing:
        argv += ["-b", d.backing, "-F", d.backing_format or "raw"]
    argv += [d.path, f"{d.size_gb}G"]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
    if proc.returncode != 0:
        raise VmError(f"qemu-img could not create {d.path} ({proc.stderr.strip()})", hint="check the folder and space")


def launch(plan: CloudPlan, *, uri: str | None = None, hosts: dict[str, HostInventory] | None = None,
           dry_run: bool = True, start: bool = True, converge: bool = False) -> list[LaunchStep]:
    """Create disks and seeds, define and start every VM of a plan, record the plan on the host; dry run by default.

    Idempotent: an identical domain already there is left alone, a different one is an error (or, with
    ``converge``, drift to redefine when it is this cloud's own). Any conflict or missing ISO is found before the
    first change; if a step fails midway, what this call created is removed again.
    """
    if dry_run:
        return [s for s, _, _ in _plan_steps(plan, uri, hosts, start, converge)]
    with host_lock(uri_for(vm, uri, hosts, plan) for vm in plan.vms):  # checked and done with no other labkit
        return _launch(plan, _plan_steps(plan, uri, hosts, start, converge))


def _launch(plan: CloudPlan, planned: list[tuple[LaunchStep, VmSpec | None, str]]) -> list[LaunchStep]:
    """Carry out a launch's planned steps; on a failure remove what was created and raise VmError."""
    import libvirt

    done: list[LaunchStep] = []
    undo: list[tuple[str, str, str]] = []  # (uri, kind, name)
    step = planned[0][0] if planned else None
    try:
        for step, vm, xml in planned:
            conn = connect(step.uri)
            if step.action == "create-volume":
                _create_volume(conn, vm, step.uri)
                undo.append((step.uri, "volume", vm.disk.device))
            elif step.action == "create-disk":
                _create_disk(vm)
                undo.append((step.uri, "file", vm.disk.path))
            elif step.action == "write-seed":
                existed = os.path.exists(vm.seed)
                write_seeds(replace(plan, vms=[vm]), dry_run=False)
                if not existed:
                    undo.append((step.uri, "file", vm.seed))
            elif step.action in ("define", "drift"):
                conn.defineXML(xml)
                if step.action == "define":
                    undo.append((step.uri, "domain", vm.name))
            elif step.action == "start":
                dom = conn.lookupByName(vm.name)
                if not dom.isActive():
                    dom.create()
            elif step.action == "record":
                write_record(conn, f"host {step.host} ({step.uri})", put=[plan])
            done.append(replace(step, done=step.action not in ("leave", "manual")))
    except (libvirt.libvirtError, VmError, OSError) as exc:
        _undo(undo)
        why = exc.get_error_message() if isinstance(exc, libvirt.libvirtError) else str(exc)
        raise VmError(f"launch of cloud '{plan.name}' failed at {step.action} {step.target} on {step.uri} "
                      f"({why}); everything this launch created was removed",
                      hint="fix the cause and launch again") from None
    return done


def _undo(undo: list[tuple[str, str, str]]) -> None:
    """Remove, newest first, what a failed launch created."""
    import libvirt

    for uri, kind, name in reversed(undo):
        try:
            if kind == "file":
                os.unlink(name)
                continue
            conn = connect(uri)
            if kind == "domain":
                dom = conn.lookupByName(name)
                if dom.isActive():
                    dom.destroy()
                dom.undefine()
            else:
                conn.storageVolLookupByPath(name).delete(0)
        except (libvirt.libvirtError, OSError, VmError):
            continue


def destroy(plan: CloudPlan, *, uri: str | None = None, hosts: dict[str, HostInventory] | None = None,
            dry_run: bool = True) -> list[LaunchStep]:
    """Stop and undefine the plan's domains, delete the disks and seeds launch created, drop the host's record.

    Only domains labkit defined for this cloud are touched; anything else is left alone and listed as ``skip``.
    """
    if dry_run:
        return _destroy(plan, uri, hosts, dry_run)
    with host_lock(uri_for(vm, uri, hosts, plan) for vm in plan.vms):
        return _destroy(plan, uri, hosts, dry_run)


def _destroy(plan: CloudPlan, uri: str | None, hosts: dict[str, HostInventory] | None,
             dry_run: bool) -> list[LaunchStep]:
    """Destroy's steps (done unless ``dry_run``)."""
    import libvirt

    steps: list[LaunchStep] = []
    uris: dict[str, str] = {}
    for vm in plan.vms:
        u = uri_for(vm, uri, hosts, plan)
        uris.setdefault(u, vm.host)
        conn = connect(u)
        try:
            dom = conn.lookupByName(vm.name)
        except libvirt.libvirtError:
            steps.append(LaunchStep(vm.host, u, "skip", vm.name, "no such domain", False))
            continue
        facts = parse_domain_xml(dom.XMLDesc(0), source=vm.name)
        if facts.labkit_cloud != plan.name:
            steps.append(LaunchStep(vm.host, u, "skip", vm.name,
                                    f"domain was not created by labkit for cloud '{plan.name}': left alone", False))
            continue
        if dom.isActive():
            if not dry_run:
                dom.destroy()
            steps.append(LaunchStep(vm.host, u, "destroy", vm.name, "stop the domain", not dry_run))
        if not dry_run:
            # snapshots go with the domain: their data lives in the disk launch created, deleted below
            dom.undefineFlags(libvirt.VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA)
        steps.append(LaunchStep(vm.host, u, "undefine", vm.name, "remove the definition (and its snapshots)",
                                not dry_run))
        created = facts.labkit_created_volume
        if created:
            steps += _delete_created(conn, vm, u, created, dry_run)
        if vm.seed and not is_remote(u) and os.path.isfile(vm.seed):
            if not dry_run:
                os.unlink(vm.seed)
            steps.append(LaunchStep(vm.host, u, "delete-seed", vm.seed, "launch wrote it", not dry_run))
    for u, host in uris.items():
        if plan.name in read_record(connect(u), u):
            if not dry_run:
                write_record(connect(u), f"host {host} ({u})", drop=[plan.name])
            steps.append(LaunchStep(host, u, "unrecord", plan.name, "drop the cloud from labkit-state", not dry_run))
    return steps


def _delete_created(conn, vm: VmSpec, u: str, created: str, dry_run: bool) -> list[LaunchStep]:
    """Delete the volume or disk file launch created for a VM (as recorded in its metadata)."""
    import libvirt

    path = f"/dev/{created}" if not created.startswith("/") else created
    try:
        vol = conn.storageVolLookupByPath(path)
    except libvirt.libvirtError:
        vol = None
    if vol is None and created.count("/") == 1 and not created.startswith("/"):
        pool = _pool_for(conn, created.split("/")[0])
        try:
            vol = pool.storageVolLookupByName(created.split("/")[1]) if pool is not None else None
        except libvirt.libvirtError:
            vol = None
    if vol is not None:
        if not dry_run:
            vol.delete(0)
        return [LaunchStep(vm.host, u, "delete-volume", created, "launch created it", not dry_run)]
    if created.startswith("/") and files_here(u) and os.path.isfile(created):
        if not dry_run:
            os.unlink(created)
        return [LaunchStep(vm.host, u, "delete-disk", created, "launch created it", not dry_run)]
    return []


# The frontend's web consoles (Eucalyptus 4.x): the admin UI and the user console.
ADMIN_UI_PORT = 8443
USER_CONSOLE_PORT = 8888


@dataclass(frozen=True)
class ConnectionRow:
    """How to reach one VM of a launched cloud: VNC, SSH and the cloud's web consoles."""

    cloud: str
    vm: str
    role: str
    vnc: str
    ssh: str
    admin_ui: str
    user_console: str


def connections(plan: CloudPlan, *, user: str = "root") -> list[ConnectionRow]:
    """Return the connection table of a cloud (admin UI on 8443 and user console on 8888 on the frontend)."""
    rows = []
    for vm in plan.vms:
        front = vm.role in ("ciab", "frontend")
        via = "" if vm.host == "local" else f" (via ssh -L {vm.vnc.port}:{vm.vnc.listen}:{vm.vnc.port} {vm.host})"
        rows.append(ConnectionRow(
            cloud=plan.name, vm=vm.name, role=vm.role, vnc=f"vnc://{vm.vnc.listen}:{vm.vnc.port}{via}",
            ssh=f"ssh {user}@{vm.ip}" if vm.ip else "",
            admin_ui=f"https://{vm.ip}:{ADMIN_UI_PORT}" if front and vm.ip else "",
            user_console=f"https://{vm.ip}:{USER_CONSOLE_PORT}" if front and vm.ip else ""))
    return rows
