"""VM lab: plan, check, render and launch nested-virtualization test clouds.

    from labkit.vm import Lab, qemu_command, domain_xml, launch, connections
    lab = Lab.from_host("test:///default")                 # reads what the host already has
    plan = lab.plan_cloud("alpha", topology="fe+nc", nodes=2, iso="silvereye.iso")
    print(qemu_command(plan.vms[0]))                        # qemu-kvm -m 4096 -cpu qemu64,+vmx ...
    launch(plan)                                            # dry run: the steps; dry_run=False does them
"""

from __future__ import annotations

from labkit.vm.allocate import mac_for
from labkit.vm.checks import CheckRow, host_checks
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
from labkit.vm.launch import ConnectionRow, LaunchStep, connect, connections, destroy, launch, sandbox_pool
from labkit.vm.packet_path import Hop, PacketPath, packet_path
from labkit.vm.render_libvirt import domain_xml
from labkit.vm.render_qemu import qemu_argv, qemu_command
from labkit.vm.spec import CloudPlan, DiskSpec, IpRange, NicSpec, VmSpec, VncSpec

__all__ = [
    "CheckRow", "CloudPlan", "CloudRequest", "Conflict", "ConnectionRow", "DiskSpec", "DomainFacts", "Hop",
    "HostCommand", "HostFile", "HostInventory", "IpRange", "Lab", "LaunchStep", "NicSpec", "PacketPath", "VmError",
    "VmSpec", "VncSpec", "connect", "connections", "destroy", "disk_commands", "domain_xml", "host_checks",
    "host_files", "inventory_from_files", "inventory_from_host", "launch", "mac_for", "packet_path",
    "parse_domain_xml", "qemu_argv", "qemu_command", "sandbox_pool", "setup_commands", "write_host_files",
]
