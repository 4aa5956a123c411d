"""The one flat form of a planned cloud (dicts of plain values), shared by plan files and the record on the host.

``cloud_to_dict`` writes every value a plan decided; ``cloud_from_dict`` rebuilds the plan through the spec
dataclasses, so a hand-edited plan file or a tampered host record is checked by the same rules as a new plan.
"""

from __future__ import annotations

from typing import Any

from labkit.vm.errors import VmError
from labkit.vm.spec import (
    CloudPlan,
    DiskSpec,
    IpRange,
    KernelBoot,
    NicSpec,
    VmSpec,
    VncSpec,
    check_ssh_key,
    normalize_topology,
)

SEED_KINDS = ("", "nocloud", "kickstart")


def vm_to_dict(vm: VmSpec) -> dict[str, Any]:
    """Return a VM's values (empty ones left out), in the order a reader expects them."""
    d: dict[str, Any] = {
        "name": vm.name, "role": vm.role, "host": vm.host, "memory_mb": vm.memory_mb, "vcpus": vm.vcpus,
        "cpu_model": vm.cpu_model, "cpu_features": list(vm.cpu_features), "accel": vm.accel,
        "mac": vm.nic.mac, "bridge": vm.nic.bridge or "", "nic_model": vm.nic.model, "ip": vm.ip or "",
        "vnc_display": vm.vnc.display, "vnc_listen": vm.vnc.listen,
        "disk_kind": vm.disk.kind, "disk": vm.disk.path, "disk_gb": vm.disk.size_gb,
        "disk_format": vm.disk.format_override, "backing": vm.disk.backing, "backing_format": vm.disk.backing_format,
        "iso": vm.iso or "", "boot": list(vm.boot), "seed": vm.seed or "", "serial_log": vm.serial_log or "",
    }
    if vm.kernel:
        d.update(kernel=vm.kernel.kernel, initrd=vm.kernel.initrd, cmdline=vm.kernel.cmdline)
    return {k: v for k, v in d.items() if v not in ("", None)}


def _get(d: dict[str, Any], key: str, kind: type | tuple[type, ...], where: str, default: Any = None) -> Any:
    """Return ``d[key]`` checked to be of ``kind`` (``default`` when absent), or raise VmError naming the place."""
    if key not in d:
        if default is None:
            raise VmError(f"{where}: '{key}' is missing", hint="write the plan with labkit vm plan ... --save")
        return default
    value = d[key]
    if isinstance(value, bool) and kind is not bool or not isinstance(value, kind):
        raise VmError(f"{where}: '{key}' = {value!r} has the wrong type",
                      hint=f"write it as {kind.__name__ if isinstance(kind, type) else ' or '.join(k.__name__ for k in kind)}")
    return value


def vm_from_dict(d: dict[str, Any], *, cloud: str, where: str) -> VmSpec:
    """Rebuild a VM from its values; every value is checked by the spec dataclasses."""
    if not isinstance(d, dict):
        raise VmError(f"{where} is not a table", hint="each [[clouds.NAME.vms]] entry is a table of values")
    allowed = {"name", "role", "host", "memory_mb", "vcpus", "cpu_model", "cpu_features", "accel", "mac", "bridge",
               "nic_model", "ip", "vnc_display", "vnc_listen", "disk_kind", "disk", "disk_gb", "disk_format",
               "backing", "backing_format", "iso", "boot", "seed", "serial_log", "kernel", "initrd", "cmdline"}
    unknown = sorted(set(d) - allowed)
    if unknown:
        raise VmError(f"{where}: unknown key {unknown[0]!r}", hint=f"keys a VM takes: {', '.join(sorted(allowed))}")
    kernel = None
    if d.get("kernel"):
        kernel = KernelBoot(_get(d, "kernel", str, where), _get(d, "initrd", str, where, ""),
                            _get(d, "cmdline", str, where, ""))
    return VmSpec(
        name=_get(d, "name", str, where),
        memory_mb=_get(d, "memory_mb", (int, str), where),
        vcpus=_get(d, "vcpus", int, where),
        disk=DiskSpec(_get(d, "disk_kind", str, where), _get(d, "disk", str, where),
                      _get(d, "disk_gb", (int, str), where), _get(d, "disk_format", str, where, ""),
                      _get(d, "backing", str, where, ""), _get(d, "backing_format", str, where, "")),
        nic=NicSpec(_get(d, "mac", str, where), _get(d, "bridge", str, where, "") or None,
                    _get(d, "nic_model", str, where, "virtio")),
        vnc=VncSpec(_get(d, "vnc_display", int, where), _get(d, "vnc_listen", str, where, "127.0.0.1")),
        cpu_model=_get(d, "cpu_model", str, where, "qemu64"),
        cpu_features=tuple(_get(d, "cpu_features", list, where, [])),
        iso=_get(d, "iso", str, where, "") or None,
        boot=tuple(_get(d, "boot", list, where, ["hd"])),
        role=_get(d, "role", str, where, "ciab"),
        ip=_get(d, "ip", str, where, "") or None,
        cloud=cloud,
        host=_get(d, "host", str, where, "local"),
        accel=_get(d, "accel", str, where, "kvm"),
        seed=_get(d, "seed", str, where, "") or None,
        kernel=kernel,
        serial_log=_get(d, "serial_log", str, where, "") or None,
    )


def cloud_to_dict(plan: CloudPlan) -> dict[str, Any]:
    """Return a cloud's values and its VMs' (the form plan files and host records hold)."""
    d: dict[str, Any] = {
        "name": plan.name, "topology": plan.topology, "bridge": plan.bridge or "", "network": plan.network,
        "public_range": str(plan.public_range), "private_subnet": plan.private_subnet, "gateway": plan.gateway,
        "dns": plan.dns, "network_mode": plan.network_mode, "seed": plan.seed_kind,
        "ssh_keys": list(plan.ssh_keys), "hosts": dict(plan.uris),
    }
    d = {k: v for k, v in d.items() if v not in ("", None, [], {})}
    d["vms"] = [vm_to_dict(vm) for vm in plan.vms]
    return d


def cloud_from_dict(d: dict[str, Any], *, where: str = "plan") -> CloudPlan:
    """Rebuild a cloud plan from its values, checking each; raise VmError naming the bad key."""
    from labkit.vm.spec import check_cloud_name

    if not isinstance(d, dict):
        raise VmError(f"{where} is not a table", hint="write the plan with labkit vm plan ... --save")
    name = check_cloud_name(_get(d, "name", str, where))
    where = f"{where} cloud '{name}'"
    first, _, last = _get(d, "public_range", str, where).partition("-")
    seed = _get(d, "seed", str, where, "")
    if seed not in SEED_KINDS:
        raise VmError(f"{where}: unknown seed kind {seed!r}", hint="use nocloud or kickstart, or leave it out")
    keys = _get(d, "ssh_keys", list, where, [])
    if not all(isinstance(k, str) for k in keys):
        raise VmError(f"{where}: ssh_keys must be a list of strings", hint='write ssh_keys = ["ssh-ed25519 AAAA..."]')
    for k in keys:
        check_ssh_key(k)
    uris = _get(d, "hosts", dict, where, {})
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in uris.items()):
        raise VmError(f"{where}: hosts must map host names to libvirt URIs", hint='write local = "qemu:///system"')
    vms = _get(d, "vms", list, where)
    plan = CloudPlan(
        name=name, topology=normalize_topology(_get(d, "topology", str, where)),
        bridge=_get(d, "bridge", str, where, ""), public_range=IpRange(first.strip(), (last or first).strip()),
        private_subnet=_get(d, "private_subnet", str, where), gateway=_get(d, "gateway", str, where),
        dns=_get(d, "dns", str, where, "") or _get(d, "gateway", str, where),
        network_mode=_get(d, "network_mode", str, where, "EDGE"),
        network=_get(d, "network", str, where, "192.168.100.0/24"),
        ssh_keys=tuple(keys), seed_kind=seed, uris=dict(uris),
        vms=[vm_from_dict(v, cloud=name, where=f"{where} VM {i + 1}") for i, v in enumerate(vms)])
    if not plan.vms:
        raise VmError(f"{where} has no VMs", hint="a cloud needs at least one [[clouds.NAME.vms]] entry")
    return plan
