"""A lab: several test clouds on one or more hosts, planned so nothing they hold ever clashes.

A lab starts from what its hosts already have, including the plans labkit recorded there (see
:mod:`labkit.vm.record`): a cloud launched by another process holds its ranges, subnet, IPs, MACs, displays and
volumes, and planning a cloud of the same name again gives back what was recorded unless asked otherwise.
"""

from __future__ import annotations

import ipaddress
import posixpath
from dataclasses import dataclass, field, replace

from labkit.vm.allocate import Draft, HostState, RangeSet, as_range, ip_str, parse_range
from labkit.vm.errors import Conflict, VmError, conflict_error
from labkit.vm.inventory import HostInventory
from labkit.vm.plan_dict import SEED_KINDS
from labkit.vm.spec import (
    ACCELS,
    CIAB,
    DISK_FORMATS,
    DISK_KINDS,
    NESTED_FLAG,
    NETWORK_MODES,
    CloudPlan,
    DiskSpec,
    KernelBoot,
    NicSpec,
    VmRow,
    VmSpec,
    VncSpec,
    check_address,
    check_bridge_name,
    check_cloud_name,
    check_lvm_name,
    check_path,
    check_ssh_key,
    disk_gb,
    lvm_volume,
    memory_mb,
    normalize_mac,
    normalize_topology,
    volume_key,
    whole_number,
)

PRIVATE_POOLS = (ipaddress.IPv4Network("172.16.0.0/12"), ipaddress.IPv4Network("10.0.0.0/8"))
MAX_NODES = 256


@dataclass(frozen=True)
class CloudRequest:
    """What a user asks for in one cloud; anything left out is allocated by the lab.

    ``macs``, ``vnc_displays``, ``volumes`` and ``ips`` pin values per VM role name (``ciab``, ``fe``, ``nc1``...);
    a volume may be written ``vg/lv``, ``/dev/vg/lv`` or just ``lv``. Sizes take ints or text: ``memory_mb="2G"``,
    ``disk_gb="1T"``. ``seed`` adds a NoCloud (``nocloud``) or kickstart (``kickstart``) ISO per VM in ``seed_dir``.
    """

    name: str
    topology: str = CIAB
    nodes: int = 0
    iso: str | None = None
    memory_mb: int | str = 4096
    vcpus: int = 2
    bridge: str = "br0"
    vg: str = "vg01"
    disk_gb: int | str = 100
    disk_kind: str = "lvm"  # lvm | qcow2 | raw (files go in disk_dir)
    disk_dir: str = "/var/lib/libvirt/images"
    disk_format: str = ""  # "" (raw for lvm/raw, qcow2 for qcow2) | raw | qcow2 | auto (qemu probes)
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
    ips: dict[str, str] = field(default_factory=dict)
    vnc_listen: str = "127.0.0.1"
    cpu_model: str = "qemu64"
    nested: bool = True
    accel: str = "kvm"
    seed: str = ""
    seed_dir: str | None = None
    ssh_keys: tuple[str, ...] = ()
    kernel: str | None = None
    initrd: str | None = None
    cmdline: str = ""
    serial_log_dir: str | None = None
    backing: dict[str, tuple[str, str]] = field(default_factory=dict)  # role -> (base image, its format)

    def __post_init__(self) -> None:
        """Check every value's type and range here, so a mistake is one clear error before any allocation."""
        check_cloud_name(self.name)
        object.__setattr__(self, "memory_mb", memory_mb(self.memory_mb, f"cloud '{self.name}': memory"))
        object.__setattr__(self, "disk_gb", disk_gb(self.disk_gb, f"cloud '{self.name}': disk size"))
        whole_number(self.nodes, "nodes", low=0, high=MAX_NODES, hint="give 0 for ciab, 1 or more for fe+nc")
        whole_number(self.vcpus, "vcpus", low=1, high=1024, hint="give 1 or more vCPUs per VM")
        whole_number(self.public_ips, "public_ips", low=1, high=65536, hint="e.g. 16")
        whole_number(self.private_prefix, "private_prefix", low=8, high=30, hint="e.g. 20 for a /20 subnet")
        if self.bridge:
            check_bridge_name(self.bridge)
        if self.disk_kind not in DISK_KINDS:
            raise VmError(f"unknown disk kind {self.disk_kind!r}", hint="use lvm, qcow2 or raw")
        if self.disk_format and self.disk_format not in DISK_FORMATS:
            raise VmError(f"unknown disk format {self.disk_format!r}", hint=f"use one of: {', '.join(DISK_FORMATS)}")
        if self.disk_kind == "lvm":
            check_lvm_name(self.vg, "volume group name")
        else:
            check_path(self.disk_dir, "disk directory")
        if self.accel not in ACCELS:
            raise VmError(f"unknown accelerator {self.accel!r}", hint=f"use one of: {', '.join(ACCELS)}")
        if self.seed not in SEED_KINDS:
            raise VmError(f"unknown seed kind {self.seed!r}", hint="use nocloud or kickstart, or leave it out")
        check_address(self.vnc_listen, "VNC listen address")
        if self.initrd is not None and not self.kernel:
            raise VmError("an initrd is only booted with a kernel", hint="give the kernel too (--kernel), or leave "
                                                                        "the initrd out to boot from the disk or ISO")
        for label, value in (("ISO", self.iso), ("kernel", self.kernel), ("initrd", self.initrd),
                             ("seed directory", self.seed_dir), ("serial log directory", self.serial_log_dir)):
            if value is not None:
                check_path(value, label)
        if isinstance(self.hosts, str) or not all(isinstance(h, str) for h in self.hosts):
            raise VmError(f"hosts must be a list of host names, not {self.hosts!r}", hint='e.g. hosts=("hv1", "hv2")')
        object.__setattr__(self, "hosts", tuple(self.hosts))
        if isinstance(self.ssh_keys, str):
            object.__setattr__(self, "ssh_keys", (self.ssh_keys,))
        for key in self.ssh_keys:
            check_ssh_key(key)
        for label in ("macs", "vnc_displays", "volumes", "ips", "backing"):
            if not isinstance(getattr(self, label), dict):
                raise VmError(f"{label} must map VM roles to values", hint=f'e.g. {label}={{"ciab": ...}}')


def _role_of(vm: VmSpec) -> str:
    """Return the role key (``ciab``, ``fe``, ``nc1``) of a VM."""
    return vm.who.split("/", 1)[1]


class Lab:
    """Several clouds on one or more hosts; ``plan_cloud`` adds one cloud atomically or changes nothing.

    >>> lab = Lab()
    >>> plan = lab.plan_cloud("alpha", topology="ciab", iso="silvereye.iso")
    """

    def __init__(self, hosts: list[HostInventory] | None = None, network: str = "192.168.100.0/24",
                 gateway: str | None = None) -> None:
        """Start a lab over host inventories (and the clouds recorded on them), on the bridge's LAN ``network``."""
        try:
            self.network = ipaddress.IPv4Network(network, strict=False)
        except ValueError as exc:
            raise VmError(f"lab network {network!r} is not an IPv4 network ({exc})",
                          hint="write it as 192.168.100.0/24") from None
        if self.network.prefixlen > 29:
            raise VmError(f"lab network {network} is too small for a cloud", hint="use a /29 or larger, e.g. /24")
        self.gateway = check_address(gateway, "gateway") if gateway else ip_str(int(self.network.network_address) + 1)
        self.hosts: dict[str, HostInventory] = {h.name: h for h in (hosts or [HostInventory()])}
        self.clouds: dict[str, CloudPlan] = {}
        self.hosted: dict[str, CloudPlan] = {}  # clouds recorded on the hosts, by name
        self._macs: dict[str, str] = {}
        self._state: dict[str, HostState] = {}
        self._ranges = RangeSet()
        self._cursor: dict[str, int] = {"vm-ip": 10}
        self._host_networks: list[tuple[ipaddress.IPv4Network, str]] = []
        self._ranges.add(int(self.network.network_address), int(self.network.network_address) + 1,
                         "the lab network address and gateway")
        self._ranges.add(int(self.network.broadcast_address), int(self.network.broadcast_address),
                         "the lab network broadcast address")
        for inv in self.hosts.values():
            self._absorb(inv)
        for inv in self.hosts.values():
            for plan in inv.clouds.values():
                self.hold(plan, inv)

    @classmethod
    def from_host(cls, uri: str = "test:///default", *, root: str = "/", network: str = "192.168.100.0/24",
                  probe_host: bool = True, name: str = "local") -> Lab:
        """Make a lab on one libvirt host, reading what it already has (and labkit's record there) first."""
        from labkit.vm.inventory import inventory_from_host

        return cls([inventory_from_host(uri, name=name, root=root, probe_host=probe_host)], network=network)

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

    def _host_of(self, plan: CloudPlan, vm: VmSpec, inv: HostInventory | None) -> str | None:
        """Return which of this lab's hosts a VM of a held cloud lives on (by URI, else by name), or None."""
        uri = plan.uris.get(vm.host)
        if uri:
            found = next((h.name for h in self.hosts.values() if h.uri == uri), None)
            if found:
                return found
        if vm.host in self.hosts:
            return vm.host
        return inv.name if inv is not None else None

    def hold(self, plan: CloudPlan, inv: HostInventory | None = None) -> None:
        """Hold what a cloud planned elsewhere holds (ranges, subnet, IPs, MACs, displays, volumes, domains).

        Clouds recorded on the lab's hosts are held this way when the lab starts; they are listed in ``hosted``.
        """
        if plan.name in self.hosted or plan.name in self.clouds:
            return  # a cloud spanning hosts is recorded on each; once is enough
        self.hosted[plan.name] = plan
        where = f"(recorded by labkit on host {inv.name})" if inv is not None else "(planned elsewhere)"
        for text, what in ((str(plan.public_range), "public range"), (plan.private_subnet, "private subnet")):
            lo, hi = parse_range(text)
            self._ranges.add(lo, hi, f"cloud '{plan.name}' {what}")
        for vm in plan.vms:
            who = vm.who
            if vm.ip:
                ip = int(ipaddress.IPv4Address(vm.ip))
                self._ranges.add(ip, ip, f"VM {who}")
            self._macs.setdefault(vm.nic.mac, f"{who} {where}")
            host = self._host_of(plan, vm, inv)
            if host is None:
                continue
            state = self._state[host]
            state.vnc_ports.setdefault(vm.vnc.port, f"{who} {where}")
            state.volumes.setdefault(volume_key(vm.disk.device), f"{who} {where}")
            state.domains.setdefault(vm.name, f"{who} {where}")

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

    def _recorded_pins(self, req: CloudRequest, roles: list[str]) -> CloudRequest:
        """Fill what a request leaves out from the host's record of a cloud of the same name."""
        old = self.hosted.get(req.name)
        if old is None:
            return req
        vms = {_role_of(vm): vm for vm in old.vms}
        keep = [r for r in roles if r in vms]
        return replace(
            req,
            public_range=req.public_range or str(old.public_range),
            private_subnet=req.private_subnet or old.private_subnet,
            macs={**{r: vms[r].nic.mac for r in keep}, **req.macs},
            vnc_displays={**{r: vms[r].vnc.display for r in keep}, **req.vnc_displays},
            volumes={**{r: vms[r].disk.path for r in keep if vms[r].disk.kind == req.disk_kind}, **req.volumes},
            ips={**{r: vms[r].ip for r in keep if vms[r].ip}, **req.ips})

    def _draft(self, req: CloudRequest) -> tuple[CloudPlan, Draft, dict[str, int]]:
        """Allocate a cloud without changing the lab; return (plan, draft, cursors)."""
        if req.name in self.clouds:
            raise VmError(f"cloud '{req.name}' is already in this lab", hint="choose another name or remove it first")
        topology = normalize_topology(req.topology)
        mode = req.network_mode.upper() if isinstance(req.network_mode, str) else ""
        if mode not in NETWORK_MODES:
            raise VmError(f"unknown network mode {req.network_mode!r}", hint=f"use one of: {', '.join(NETWORK_MODES)}")
        if topology != CIAB and req.nodes < 1:
            raise VmError(f"cloud '{req.name}': a frontend+nc cloud needs at least one node controller",
                          hint="set nodes=1 or more, or use topology='ciab'")
        hosts = list(req.hosts) or [next(iter(self.hosts))]
        for h in hosts:
            if h not in self.hosts:
                raise VmError(f"cloud '{req.name}' names host {h!r}, which is not in this lab",
                              hint=f"use one of: {', '.join(self.hosts)}")
        roles = ["ciab"] if topology == CIAB else ["fe"] + [f"nc{i}" for i in range(1, req.nodes + 1)]
        for label in ("macs", "vnc_displays", "volumes", "ips", "backing"):
            unknown = set(getattr(req, label)) - set(roles)
            if unknown:
                raise VmError(f"{label} names {', '.join(sorted(map(str, unknown)))}, which cloud '{req.name}' "
                              "does not have", hint=f"use the VM roles {', '.join(roles)}")
        asked = req
        req = self._recorded_pins(req, roles)
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
        seed_dir = req.seed_dir or req.disk_dir
        kernel = KernelBoot(req.kernel, req.initrd or "", req.cmdline) if req.kernel else None
        vms: list[VmSpec] = []
        for i, role in enumerate(roles):
            vm_name = f"{req.name}-{role}"
            host = hosts[0] if role in ("ciab", "fe") else hosts[(i - 1) % len(hosts)]
            who = f"{req.name}/{role}"
            draft.take_domain(who, host, vm_name)
            mac = draft.take_mac(who, normalize_mac(req.macs[role]) if role in req.macs else None)
            display = req.vnc_displays.get(role)
            if display is not None:
                VncSpec(display, req.vnc_listen)  # a display qemu cannot open is an error, not a conflict
            display = draft.take_display(who, host, display)
            explicit = role in req.volumes
            if req.disk_kind == "lvm":
                pinned = req.volumes.get(role)
                key = lvm_volume(pinned if "/" in pinned else f"{req.vg}/{pinned}") if pinned else \
                    lvm_volume(f"{req.vg}/{vm_name}")
            else:
                ext = "qcow2" if req.disk_kind == "qcow2" else "img"
                key = check_path(req.volumes.get(role) or posixpath.join(req.disk_dir, f"{vm_name}.{ext}"), "volume")
            key = draft.take_volume(who, host, key, explicit=explicit)
            if role in req.ips:
                ip_lo, _ = draft.take_range(f"VM {who}", check_address(req.ips[role], f"VM {who}: IP"),
                                            host_nets=False, within=self.network)
            else:
                try:
                    ip_lo, _ = draft.find_range(f"VM {who}", [self.network], 1, cursor, "vm-ip", host_nets=False)
                except VmError:
                    if not draft.conflicts:
                        raise
                    ip_lo = int(self.network.network_address)  # a conflicting range ate the addresses: report that
            vendor = self.hosts[host].cpu_vendor
            base = req.backing.get(role)
            vms.append(VmSpec(
                name=vm_name, memory_mb=req.memory_mb, vcpus=req.vcpus,
                disk=DiskSpec(req.disk_kind, key, req.disk_gb, req.disk_format,
                              backing=base[0] if base else "", backing_format=base[1] if base else ""),
                nic=NicSpec(mac=mac, bridge=req.bridge or None), vnc=VncSpec(display, req.vnc_listen),
                cpu_model=req.cpu_model, cpu_features=(NESTED_FLAG.get(vendor, "vmx"),) if req.nested else (),
                iso=req.iso, boot=("cdrom", "hd") if req.iso else ("hd",),
                role={"ciab": "ciab", "fe": "frontend"}.get(role, "nc"), ip=ip_str(ip_lo), cloud=req.name,
                host=host, accel=req.accel,
                seed=posixpath.join(seed_dir, f"{vm_name}-seed.iso") if req.seed else None, kernel=kernel,
                serial_log=posixpath.join(req.serial_log_dir, f"{vm_name}.serial.log") if req.serial_log_dir else None))
        plan = CloudPlan(name=req.name, topology=topology, bridge=req.bridge, public_range=public,
                         private_subnet=private, gateway=self.gateway,
                         dns=check_address(req.dns, "DNS server") if req.dns else self.gateway,
                         network_mode=mode, vms=vms, network=str(self.network), ssh_keys=tuple(asked.ssh_keys),
                         seed_kind=req.seed, uris={h: self.hosts[h].uri for h in dict.fromkeys(v.host for v in vms)
                                                   if self.hosts[h].uri})
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

    def clashes(self, plan: CloudPlan, on_host: dict[str, str] | None = None) -> list[Conflict]:
        """Return what a finished plan (a plan file, one made elsewhere) would share with this lab; change nothing.

        ``on_host`` maps VM names to this lab's host names for the per-host checks (displays, volumes); a VM not
        in it is checked on its planned host when the lab has one. Ranges, IPs and MACs are checked lab-wide.
        """
        draft = Draft(self._macs, self._state, self._ranges, self._host_networks, cloud=plan.name)
        draft.take_range(f"cloud '{plan.name}' public range", str(plan.public_range))
        draft.take_range(f"cloud '{plan.name}' private subnet", plan.private_subnet)
        for vm in plan.vms:
            draft.take_mac(vm.who, vm.nic.mac)
            if vm.ip:
                draft.take_range(f"VM {vm.who}", vm.ip, host_nets=False)
            host = (on_host or {}).get(vm.name) or (vm.host if on_host is None and vm.host in self._state else None)
            if host is not None:
                draft.take_display(vm.who, host, vm.vnc.display)
                draft.take_volume(vm.who, host, volume_key(vm.disk.device), explicit=True)
        return draft.conflicts

    def remove_cloud(self, name: str) -> CloudPlan:
        """Take a cloud out of the lab, freeing what it held (its VMs are not touched)."""
        if name not in self.clouds:
            raise VmError(f"no cloud '{name}' in this lab", hint=f"clouds: {', '.join(self.clouds) or 'none'}")
        plan = self.clouds.pop(name)
        self.hosted.pop(name, None)
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

    def clone(self, plan: CloudPlan, n: int, *, disk_dir: str | None = None) -> list[CloudPlan]:
        """Stamp out ``n`` copies of a cloud as linked qcow2 clones, each with fresh MACs, displays and ranges.

        Clone ``i`` is named ``<cloud>-c<i>`` (the next free numbers); each VM's disk is a qcow2 overlay whose
        backing image is the original VM's disk, and each VM gets its own seed, so the guests come up re-addressed.
        All clones are planned or none (a conflict in one leaves the lab unchanged).
        """
        whole_number(n, "clone count", low=1, high=1000, hint="give how many copies to make, e.g. 3")
        self.hold(plan)  # the original's ranges, MACs and displays are never handed to a clone
        vm0 = plan.vms[0]
        roles = [_role_of(vm) for vm in plan.vms]
        base_dir = disk_dir or (posixpath.dirname(vm0.disk.path) if vm0.disk.kind != "lvm" else
                                "/var/lib/libvirt/images")
        seed_dir = posixpath.dirname(vm0.seed) if vm0.seed else None
        serial_dir = posixpath.dirname(vm0.serial_log) if vm0.serial_log else None
        taken = set(self.clouds) | set(self.hosted)
        names, k = [], 1
        while len(names) < n:
            if f"{plan.name}-c{k}" not in taken:
                names.append(f"{plan.name}-c{k}")
            k += 1
        snapshot = (dict(self.clouds), dict(self._macs), {h: replace(s, vnc_ports=dict(s.vnc_ports),
                                                                        volumes=dict(s.volumes),
                                                                        domains=dict(s.domains))
                                                          for h, s in self._state.items()},
                    RangeSet(list(self._ranges.starts), list(self._ranges.ends), list(self._ranges.owners)),
                    dict(self._cursor))
        out = []
        try:
            for name in names:
                hosts = tuple(dict.fromkeys(vm.host for vm in plan.vms if vm.host in self.hosts))
                out.append(self.plan_cloud(
                    name, topology=plan.topology, nodes=max(0, len(plan.vms) - 1), iso=vm0.iso,
                    memory_mb=vm0.memory_mb, vcpus=vm0.vcpus, bridge=plan.bridge, disk_kind="qcow2",
                    disk_dir=base_dir, disk_gb=vm0.disk.size_gb, network_mode=plan.network_mode,
                    hosts=hosts, vnc_listen=vm0.vnc.listen, cpu_model=vm0.cpu_model, nested=bool(vm0.cpu_features),
                    accel=vm0.accel, seed=plan.seed_kind, seed_dir=seed_dir, ssh_keys=plan.ssh_keys,
                    kernel=vm0.kernel.kernel if vm0.kernel else None,
                    initrd=(vm0.kernel.initrd or None) if vm0.kernel else None,
                    cmdline=vm0.kernel.cmdline if vm0.kernel else "", serial_log_dir=serial_dir,
                    backing={r: (vm.disk.device, vm.disk.file_format)
                             for r, vm in zip(roles, plan.vms, strict=True)}))
        except VmError:
            self.clouds, self._macs, self._state, self._ranges, self._cursor = snapshot
            raise
        return out

    def rows(self) -> list[VmRow]:
        """Return every planned VM of every cloud as table rows."""
        return [r for plan in self.clouds.values() for r in plan.rows()]

    @property
    def vm_count(self) -> int:
        """Return how many VMs the lab plans."""
        return sum(len(p.vms) for p in self.clouds.values())

