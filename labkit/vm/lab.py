"""A lab: several test clouds on one or more hosts, planned so nothing they hold ever clashes."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field

from labkit.vm.allocate import Draft, HostState, RangeSet, as_range, ip_str
from labkit.vm.errors import Conflict, VmError, conflict_error
from labkit.vm.inventory import HostInventory
from labkit.vm.spec import (
    CIAB,
    NESTED_FLAG,
    NETWORK_MODES,
    CloudPlan,
    DiskSpec,
    NicSpec,
    VmRow,
    VmSpec,
    VncSpec,
    normalize_mac,
    normalize_topology,
)

PRIVATE_POOLS = (ipaddress.IPv4Network("172.16.0.0/12"), ipaddress.IPv4Network("10.0.0.0/8"))
# What the kernel takes as an interface name (IFNAMSIZ - 1 characters, no blanks, '/' or ':').
_BRIDGE_NAME = re.compile(r"[A-Za-z0-9_.-]{1,15}")
# What lvcreate and vgcreate take as a volume group name.
_LVM_NAME = re.compile(r"[A-Za-z0-9+_.][A-Za-z0-9+_.-]*")


@dataclass(frozen=True)
class CloudRequest:
    """What a user asks for in one cloud; anything left out is allocated by the lab.

    ``macs``, ``vnc_displays`` and ``volumes`` pin values per VM role name (``ciab``, ``fe``, ``nc1``...).
    """

    name: str
    topology: str = CIAB
    nodes: int = 0
    iso: str | None = None
    memory_mb: int = 4096
    vcpus: int = 2
    bridge: str = "br0"
    vg: str = "vg01"
    disk_gb: int = 100
    disk_kind: str = "lvm"  # lvm | qcow2 | raw (files go in disk_dir)
    disk_dir: str = "/var/lib/libvirt/images"
    public_range: str | None = None
    public_ips: int = 16
    private_subnet: str | None = None
    private_prefix: int = 20
    network_mode: str = "EDGE"
    dns: str | None = None
    hosts: tuple[str, ...] = ()
    macs: dict[str, str] = field(default_factory=dict)
    vnc_displays: dict[str, int] = field(default_factory=dict)
    volumes: dict[str, str] = field(default_factory=dict)
    vnc_listen: str = "127.0.0.1"
    cpu_model: str = "qemu64"


class Lab:
    """Several clouds on one or more hosts; ``plan_cloud`` adds one cloud atomically or changes nothing.

    >>> lab = Lab()
    >>> plan = lab.plan_cloud("alpha", topology="ciab", iso="silvereye.iso")
    """

    def __init__(self, hosts: list[HostInventory] | None = None, network: str = "192.168.100.0/24",
                 gateway: str | None = None) -> None:
        """Start a lab over host inventories, on the bridge's LAN ``network``."""
        try:
            self.network = ipaddress.IPv4Network(network, strict=False)
        except ValueError as exc:
            raise VmError(f"lab network {network!r} is not an IPv4 network ({exc})",
                          hint="write it as 192.168.100.0/24") from None
        self.gateway = gateway or ip_str(int(self.network.network_address) + 1)
        self.hosts: dict[str, HostInventory] = {h.name: h for h in (hosts or [HostInventory()])}
        self.clouds: dict[str, CloudPlan] = {}
        self._macs: dict[str, str] = {}
        self._state: dict[str, HostState] = {}
        self._ranges = RangeSet()
        self._cursor: dict[str, int] = {"vm-ip": 10}
        self._host_networks: list[tuple[ipaddress.IPv4Network, str]] = []
        for inv in self.hosts.values():
            self._absorb(inv)
        self._ranges.add(int(self.network.network_address), int(self.network.network_address) + 1,
                         "the lab network address and gateway")
        self._ranges.add(int(self.network.broadcast_address), int(self.network.broadcast_address),
                         "the lab network broadcast address")

    @classmethod
    def from_host(cls, uri: str = "test:///default", *, root: str = "/", network: str = "192.168.100.0/24",
                  probe_host: bool = True) -> Lab:
        """Make a lab on one libvirt host, reading what it already has first."""
        from labkit.vm.inventory import inventory_from_host

        return cls([inventory_from_host(uri, root=root, probe_host=probe_host)], network=network)

    def _absorb(self, inv: HostInventory) -> None:
        """Hold everything a host inventory already has."""
        state = self._state.setdefault(inv.name, HostState())
        for mac, who in inv.macs.items():
            self._macs.setdefault(mac, f"{who} on host {inv.name}")
        for port, who in inv.vnc_ports.items():
            state.vnc_ports.setdefault(port, f"{who} on host {inv.name}")
        for vol, who in inv.volumes.items():
            state.volumes.setdefault(vol, f"{who} on host {inv.name}")
        for name, facts in inv.domains.items():
            state.domains.setdefault(name, f"{facts.holder} on host {inv.name}")
        for net, who in inv.networks:
            if net == self.network or net.supernet_of(self.network):
                continue  # the bridge's own LAN: the lab's VMs and public IPs live there on purpose
            self._host_networks.append((net, f"{who} (host {inv.name})"))

    # ------------------------------------------------------------------------------------------------
    def plan_cloud(self, name: str, **kwargs) -> CloudPlan:
        """Plan one cloud (see :class:`CloudRequest` for the options) and add it to the lab."""
        return self.add(CloudRequest(name=name, **kwargs))

    def add(self, req: CloudRequest) -> CloudPlan:
        """Allocate everything a cloud needs; on any conflict raise VmError and leave the lab unchanged."""
        plan, draft, cursor = self._draft(req)
        if draft.conflicts:
            raise conflict_error(draft.conflicts, f"cannot plan cloud '{req.name}'")
        self._commit(plan, draft, cursor)
        return plan

    def check(self, req: CloudRequest) -> list[Conflict]:
        """Return the conflicts a cloud request would meet (empty when it plans cleanly); changes nothing."""
        _, draft, _ = self._draft(req)
        return list(draft.conflicts)

    def _draft(self, req: CloudRequest) -> tuple[CloudPlan, Draft, dict[str, int]]:
        """Allocate a cloud without changing the lab; return (plan, draft, cursors)."""
        if not req.name or not all(c.isalnum() or c in "-_" for c in req.name):
            raise VmError(f"cloud name {req.name!r} must be letters, digits, - or _",
                          hint="e.g. alpha or ciab-1")
        if req.name in self.clouds:
            raise VmError(f"cloud '{req.name}' is already in this lab", hint="choose another name or remove it first")
        topology = normalize_topology(req.topology)
        mode = req.network_mode.upper()
        if mode not in NETWORK_MODES:
            raise VmError(f"unknown network mode {req.network_mode!r}", hint=f"use one of: {', '.join(NETWORK_MODES)}")
        if topology != CIAB and req.nodes < 1:
            raise VmError(f"cloud '{req.name}': a frontend+nc cloud needs at least one node controller",
                          hint="set nodes=1 or more, or use topology='ciab'")
        if req.disk_kind not in ("lvm", "qcow2", "raw"):
            raise VmError(f"unknown disk kind {req.disk_kind!r}", hint="use lvm, qcow2 or raw")
        if req.disk_gb < 1:
            raise VmError(f"cloud '{req.name}': a {req.disk_gb} GB disk cannot hold an installed cloud",
                          hint="give disk_gb=1 or more (the blog's VMs use 100)")
        if req.bridge and not _BRIDGE_NAME.fullmatch(req.bridge):
            raise VmError(f"bridge name {req.bridge!r} is not a Linux interface name",
                          hint="use 1 to 15 letters, digits, '-', '_' or '.', e.g. br0")
        if req.disk_kind == "lvm" and not _LVM_NAME.fullmatch(req.vg):
            raise VmError(f"volume group name {req.vg!r} is not an LVM name",
                          hint="use letters, digits, '+', '_', '.' or '-' (not first), e.g. vg01")
        hosts = list(req.hosts) or [next(iter(self.hosts))]
        for h in hosts:
            if h not in self.hosts:
                raise VmError(f"cloud '{req.name}' names host {h!r}, which is not in this lab",
                              hint=f"use one of: {', '.join(self.hosts)}")
        roles = ["ciab"] if topology == CIAB else ["fe"] + [f"nc{i}" for i in range(1, req.nodes + 1)]
        for table, label in ((req.macs, "macs"), (req.vnc_displays, "vnc_displays"), (req.volumes, "volumes")):
            unknown = set(table) - set(roles)
            if unknown:
                raise VmError(f"{label} names {', '.join(sorted(unknown))}, which cloud '{req.name}' does not have",
                              hint=f"use the VM roles {', '.join(roles)}")
        cursor = dict(self._cursor)
        draft = Draft(self._macs, self._state, self._ranges, self._host_networks, cloud=req.name)
        owner = f"cloud '{req.name}'"
        if req.public_range:
            lo, hi = draft.take_range(f"{owner} public range", req.public_range)
        else:
            upper = list(self.network.subnets(prefixlen_diff=1))[-1] if self.network.prefixlen < 31 else self.network
            lo, hi = draft.find_range(f"{owner} public range", [upper], req.public_ips, cursor, "public")
        public = as_range(lo, hi)
        if req.private_subnet:
            plo, phi = draft.take_range(f"{owner} private subnet", req.private_subnet)
        else:
            plo, phi = draft.find_range(f"{owner} private subnet", list(PRIVATE_POOLS), 2 ** (32 - req.private_prefix),
                                        cursor, f"private/{req.private_prefix}")
        nets = list(ipaddress.summarize_address_range(ipaddress.IPv4Address(plo), ipaddress.IPv4Address(phi)))
        private = str(nets[0]) if len(nets) == 1 else f"{ip_str(plo)}-{ip_str(phi)}"
        vms: list[VmSpec] = []
        for i, role in enumerate(roles):
            vm_name = f"{req.name}-{role}"
            host = hosts[0] if role in ("ciab", "fe") else hosts[(i - 1) % len(hosts)]
            who = f"{req.name}/{role}"
            draft.take_domain(who, host, vm_name)
            mac = draft.take_mac(who, normalize_mac(req.macs[role]) if role in req.macs else None)
            display = draft.take_display(who, host, req.vnc_displays.get(role))
            if req.disk_kind == "lvm":
                key = req.volumes.get(role) or f"{req.vg}/{vm_name}"
                if "/" not in key:
                    key = f"{req.vg}/{key}"
            else:
                ext = "qcow2" if req.disk_kind == "qcow2" else "img"
                key = req.volumes.get(role) or f"{req.disk_dir.rstrip('/')}/{vm_name}.{ext}"
            key = draft.take_volume(who, host, key, explicit=role in req.volumes)
            try:
                ip_lo, _ = draft.find_range(f"VM {who}", [self.network], 1, cursor, "vm-ip", host_nets=False)
            except VmError:
                if not draft.conflicts:
                    raise
                ip_lo = 0  # a conflicting range already ate the addresses: the conflict is what to report
            vendor = self.hosts[host].cpu_vendor
            vms.append(VmSpec(
                name=vm_name, memory_mb=req.memory_mb, vcpus=req.vcpus,
                disk=DiskSpec(req.disk_kind, key, req.disk_gb),
                nic=NicSpec(mac=mac, bridge=req.bridge or None), vnc=VncSpec(display, req.vnc_listen),
                cpu_model=req.cpu_model, cpu_features=(NESTED_FLAG.get(vendor, "vmx"),), iso=req.iso,
                boot=("cdrom", "hd") if req.iso else ("hd",),
                role={"ciab": "ciab", "fe": "frontend"}.get(role, "nc"), ip=ip_str(ip_lo), cloud=req.name,
                host=host))
        plan = CloudPlan(name=req.name, topology=topology, bridge=req.bridge, public_range=public,
                         private_subnet=private, gateway=self.gateway, dns=req.dns or self.gateway,
                         network_mode=mode, vms=vms)
        return plan, draft, cursor

    def _commit(self, plan: CloudPlan, draft: Draft, cursor: dict[str, int]) -> None:
        """Make a conflict-free draft part of the lab."""
        self._macs.update(draft.macs)
        for (host, port), who in draft.ports.items():
            self._state[host].vnc_ports[port] = who
        for host, d in draft.next_display.items():
            self._state[host].next_display = d
        for (host, key), who in draft.volumes.items():
            self._state[host].volumes[key] = who
        for (host, name), who in draft.domains.items():
            self._state[host].domains[name] = who
        for lo, hi, who in draft.ranges:
            self._ranges.add(lo, hi, who)
        self._cursor = cursor
        self.clouds[plan.name] = plan

    def remove_cloud(self, name: str) -> CloudPlan:
        """Take a cloud out of the lab, freeing what it held (its VMs are not touched)."""
        if name not in self.clouds:
            raise VmError(f"no cloud '{name}' in this lab", hint=f"clouds: {', '.join(self.clouds) or 'none'}")
        plan = self.clouds.pop(name)
        prefix = f"{name}/"
        self._macs = {m: w for m, w in self._macs.items() if not w.startswith(prefix)}
        for st in self._state.values():
            st.vnc_ports = {p: w for p, w in st.vnc_ports.items() if not w.startswith(prefix)}
            st.volumes = {v: w for v, w in st.volumes.items() if not w.startswith(prefix)}
            st.domains = {d: w for d, w in st.domains.items() if not w.startswith(prefix)}
            st.next_display = 1
        self._ranges.remove_owner_prefix(f"cloud '{name}'")
        self._ranges.remove_owner_prefix(f"VM {prefix}")
        self._cursor = {"vm-ip": 10}
        return plan

    def rows(self) -> list[VmRow]:
        """Return every planned VM of every cloud as table rows."""
        return [r for plan in self.clouds.values() for r in plan.rows()]

    @property
    def vm_count(self) -> int:
        """Return how many VMs the lab plans."""
        return sum(len(p.vms) for p in self.clouds.values())
