"""Launch and tear down a planned cloud through libvirt: dry run first, idempotent, never half-applied."""

from __future__ import annotations

from dataclasses import dataclass, replace

from labkit.vm.connection import connect, default_uri, disconnect  # noqa: F401 - re-exported for callers
from labkit.vm.errors import Conflict, VmError, conflict_error
from labkit.vm.inventory import HostInventory, inventory_from_libvirt, parse_domain_xml, volume_key
from labkit.vm.render_libvirt import domain_xml
from labkit.vm.spec import CloudPlan, VmSpec


def sandbox_pool(uri: str, vg: str = "vg01", capacity_gb: int = 2000) -> str:
    """Give a test-driver host a logical storage pool named ``vg`` (the sandbox stand-in for a volume group)."""
    if not uri.startswith("test://"):
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


@dataclass(frozen=True)
class LaunchStep:
    """One thing launch or destroy does (or, in a dry run, would do) on a host."""

    host: str
    uri: str
    action: str  # create-volume | define | start | leave | manual | destroy | undefine | delete-volume | skip
    target: str
    detail: str
    done: bool = False


def _uri_for(vm: VmSpec, uri: str | None, hosts: dict[str, HostInventory] | None) -> str:
    """Return the libvirt URI of the host a VM is planned on."""
    if uri:
        return uri
    if hosts and vm.host in hosts and hosts[vm.host].uri:
        return hosts[vm.host].uri
    return default_uri()


def _pool_for(conn, vg: str):
    """Return the storage pool named after a volume group, or None."""
    import libvirt

    try:
        return conn.storagePoolLookupByName(vg)
    except libvirt.libvirtError:
        return None


def _plan_steps(plan: CloudPlan, uri: str | None, hosts: dict[str, HostInventory] | None,
                start: bool) -> list[tuple[LaunchStep, VmSpec, str]]:
    """Work out every step against what each host has now; raise VmError on any conflict (nothing changed)."""
    steps: list[tuple[LaunchStep, VmSpec, str]] = []
    conflicts: list[Conflict] = []
    inventories: dict[str, HostInventory] = {}
    for vm in plan.vms:
        u = _uri_for(vm, uri, hosts)
        inv = inventories.get(u) or inventories.setdefault(u, inventory_from_libvirt(u, name=vm.host))
        conn = connect(u)
        created = ""
        vol_key = volume_key(vm.disk.device)
        existing = inv.domains.get(vm.name)
        if existing is not None:
            xml = domain_xml(vm, created_volume=existing.labkit_created_volume)
            if existing.same_machine(parse_domain_xml(xml)):
                steps.append((LaunchStep(vm.host, u, "leave", vm.name, "identical domain already defined"), vm, xml))
                if start and not conn.lookupByName(vm.name).isActive():
                    steps.append((LaunchStep(vm.host, u, "start", vm.name, "start the existing domain"), vm, xml))
                continue
            conflicts.append(Conflict("domain", f"name {vm.name} on {u}", f"{plan.name}/{vm.role}",
                                      f"a different domain '{vm.name}' already defined there"))
            continue
        who = f"{plan.name}/{vm.role}"
        if vm.nic.mac in inv.macs:
            conflicts.append(Conflict("mac", vm.nic.mac, who, f"{inv.macs[vm.nic.mac]} on {u}"))
        if vm.vnc.port in inv.vnc_ports:
            conflicts.append(Conflict("vnc", f"port {vm.vnc.port}", who, f"{inv.vnc_ports[vm.vnc.port]} on {u}"))
        if vol_key in inv.volumes:
            conflicts.append(Conflict("volume", vol_key, who, f"{inv.volumes[vol_key]} on {u}"))
        if vm.disk.kind == "lvm":
            pool = _pool_for(conn, vm.disk.vg or "")
            if pool is not None:
                created = vol_key
                steps.append((LaunchStep(vm.host, u, "create-volume", vol_key,
                                         f"{vm.disk.size_gb} GiB volume in pool '{vm.disk.vg}'"), vm, ""))
            else:
                steps.append((LaunchStep(vm.host, u, "manual", vol_key,
                                         f"no libvirt pool '{vm.disk.vg}': run lvcreate -L {vm.disk.size_gb}G "
                                         f"-n {vm.disk.lv} {vm.disk.vg} on {vm.host} yourself"), vm, ""))
        else:
            steps.append((LaunchStep(vm.host, u, "manual", vm.disk.path,
                                     f"create the disk: qemu-img create -f {vm.disk.format} {vm.disk.path} "
                                     f"{vm.disk.size_gb}G"), vm, ""))
        xml = domain_xml(vm, created_volume=created)
        steps.append((LaunchStep(vm.host, u, "define", vm.name,
                                 f"mac {vm.nic.mac}, bridge {vm.nic.bridge or 'user'}, vnc {vm.vnc.listen}:{vm.vnc.port}, "
                                 f"disk {vm.disk.device}"), vm, xml))
        if start:
            steps.append((LaunchStep(vm.host, u, "start", vm.name, "start the domain"), vm, xml))
    if conflicts:
        raise conflict_error(conflicts, f"cannot launch cloud '{plan.name}'")
    return steps


def launch(plan: CloudPlan, *, uri: str | None = None, hosts: dict[str, HostInventory] | None = None,
           dry_run: bool = True, start: bool = True) -> list[LaunchStep]:
    """Create volumes, define and start every VM of a plan; dry run by default.

    Idempotent: an identical domain already there is left alone, a different one is an error. Any conflict is
    found before the first change; if a step fails midway, what this call created is removed again.
    """
    import libvirt

    planned = _plan_steps(plan, uri, hosts, start)
    if dry_run:
        return [s for s, _, _ in planned]
    done: list[LaunchStep] = []
    undo: list[tuple[str, str, str]] = []  # (uri, kind, name)
    try:
        for step, vm, xml in planned:
            conn = connect(step.uri)
            if step.action == "create-volume":
                pool = _pool_for(conn, vm.disk.vg or "")
                # the test driver's pools are a fixed 100 GiB: sandbox volumes are thin, real ones fully allocated
                alloc = 0 if step.uri.startswith("test:") else vm.disk.size_gb
                pool.createXML(f"<volume><name>{vm.disk.lv}</name><capacity unit='G'>{vm.disk.size_gb}</capacity>"
                               f"<allocation unit='G'>{alloc}</allocation></volume>", 0)
                undo.append((step.uri, "volume", f"{vm.disk.vg}/{vm.disk.lv}"))
            elif step.action == "define":
                conn.defineXML(xml)
                undo.append((step.uri, "domain", vm.name))
            elif step.action == "start":
                dom = conn.lookupByName(vm.name)
                if not dom.isActive():
                    dom.create()
            done.append(replace(step, done=step.action in ("create-volume", "define", "start")))
    except libvirt.libvirtError as exc:
        _undo(undo)
        raise VmError(f"launch of cloud '{plan.name}' failed at {step.action} {step.target} on {step.uri} "
                      f"({exc.get_error_message()}); everything this launch created was removed",
                      hint="fix the cause and launch again") from None
    return done


def _undo(undo: list[tuple[str, str, str]]) -> None:
    """Remove, newest first, what a failed launch created."""
    import libvirt

    for uri, kind, name in reversed(undo):
        conn = connect(uri)
        try:
            if kind == "domain":
                dom = conn.lookupByName(name)
                if dom.isActive():
                    dom.destroy()
                dom.undefine()
            else:
                vg, lv = name.split("/", 1)
                pool = _pool_for(conn, vg)
                if pool is not None:
                    pool.storageVolLookupByName(lv).delete(0)
        except libvirt.libvirtError:
            continue


def destroy(plan: CloudPlan, *, uri: str | None = None, hosts: dict[str, HostInventory] | None = None,
            dry_run: bool = True) -> list[LaunchStep]:
    """Stop and undefine the plan's domains and delete the volumes launch created; touch nothing else."""
    import libvirt

    steps: list[LaunchStep] = []
    for vm in plan.vms:
        u = _uri_for(vm, uri, hosts)
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
        active = bool(dom.isActive())
        if active:
            if not dry_run:
                dom.destroy()
            steps.append(LaunchStep(vm.host, u, "destroy", vm.name, "stop the domain", not dry_run))
        if not dry_run:
            dom.undefine()
        steps.append(LaunchStep(vm.host, u, "undefine", vm.name, "remove the definition", not dry_run))
        if facts.labkit_created_volume:
            vg, _, lv = facts.labkit_created_volume.partition("/")
            pool = _pool_for(conn, vg)
            if pool is not None:
                try:
                    vol = pool.storageVolLookupByName(lv)
                except libvirt.libvirtError:
                    continue
                if not dry_run:
                    vol.delete(0)
                steps.append(LaunchStep(vm.host, u, "delete-volume", facts.labkit_created_volume,
                                        "launch created it", not dry_run))
    return steps


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
            admin_ui=f"https://{vm.ip}:8443" if front and vm.ip else "",
            user_console=f"https://{vm.ip}:8888" if front and vm.ip else ""))
    return rows
