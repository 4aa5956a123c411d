"""VM lab: plan, check, render, launch, wait for, snapshot and clone nested-virtualization test clouds.

    from labkit.vm import Lab, qemu_command, launch, wait_ready, snapshot, revert, save_plan
    lab = Lab.from_host("test:///default")                 # reads what the host has, and labkit's record there
    plan = lab.plan_cloud("alpha", topology="fe+nc", nodes=2, iso="/isos/silvereye.iso", seed="nocloud")
    print(qemu_command(plan.vms[0]))                        # qemu-kvm -m 4096 -cpu qemu64,+vmx ...
    save_plan("lab.toml", [plan])                           # review and commit; labkit vm apply lab.toml
    launch(plan)                                            # dry run: the steps; dry_run=False does them
    wait_ready(plan, probe="tcp:22")                        # one row per VM: address, ready, seconds, how
    snapshot(plan, "installed", dry_run=False); revert(plan, "installed", dry_run=False)
"""

from __future__ import annotations

from labkit.vm.allocate import mac_for
from labkit.vm.checks import CheckRow, host_checks
from labkit.vm.connection import connect, disconnect, stand_in
from labkit.vm.errors import Conflict, VmError
from labkit.vm.hostfiles import (
    HostCommand,
    HostFile,
    disk_commands,
    host_files,
    setup_commands,
    write_host_files,
)
from labkit.vm.inventory import (
    DomainFacts,
    HostInventory,
    inventory_from_files,
    inventory_from_host,
    parse_domain_xml,
)
from labkit.vm.lab import CloudRequest, Lab
from labkit.vm.launch import (
    ConnectionRow,
    LaunchStep,
    connections,
    destroy,
    launch,
    sandbox_iso,
    sandbox_pool,
)
from labkit.vm.packet_path import Hop, PacketPath, packet_path
from labkit.vm.plan_file import load_plan, plan_text, save_plan
from labkit.vm.ready import ReadyRow, wait_ready
from labkit.vm.render_libvirt import domain_xml
from labkit.vm.render_qemu import qemu_argv, qemu_command
from labkit.vm.seed import kickstart, seed_files, write_seeds
from labkit.vm.snapshot import SnapshotRow, SnapshotStep, delete_snapshot, revert, snapshot, snapshots
from labkit.vm.spec import CloudPlan, DiskSpec, IpRange, KernelBoot, NicSpec, VmSpec, VncSpec


def clone(plan: CloudPlan, n: int, *, lab: Lab | None = None, disk_dir: str | None = None) -> list[CloudPlan]:
    """Plan ``n`` linked clones of a cloud (see :meth:`Lab.clone`) in ``lab``, or in a lab read from the plan's hosts."""
    if lab is None:
        lab = Lab([inventory_from_host(u, name=h) for h, u in plan.uris.items()] or None, network=plan.network)
    return lab.clone(plan, n, disk_dir=disk_dir)


__all__ = [
    "CheckRow", "CloudPlan", "CloudRequest", "Conflict", "ConnectionRow", "DiskSpec", "DomainFacts", "Hop",
    "HostCommand", "HostFile", "HostInventory", "IpRange", "KernelBoot", "Lab", "LaunchStep", "NicSpec",
    "PacketPath", "ReadyRow", "SnapshotRow", "SnapshotStep", "VmError", "VmSpec", "VncSpec", "clone", "connect",
    "connections", "delete_snapshot", "destroy", "disconnect", "disk_commands", "domain_xml", "host_checks",
    "host_files", "inventory_from_files", "inventory_from_host", "kickstart", "launch", "load_plan", "mac_for",
    "packet_path", "parse_domain_xml", "plan_text", "qemu_argv", "qemu_command", "revert", "sandbox_iso",
    "sandbox_pool", "save_plan", "seed_files", "setup_commands", "snapshot", "snapshots", "stand_in",
    "wait_ready", "write_host_files", "write_seeds",
]
