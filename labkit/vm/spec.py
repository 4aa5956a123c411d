"""What a VM lab is made of: VMs (disk, NIC, VNC, CPU) and the clouds that group them."""

from __future__ import annotations

from dataclasses import dataclass, field

from labkit.vm.errors import VmError

CIAB = "cloud-in-a-box"
FRONTEND_NC = "frontend+nc"
TOPOLOGIES = (CIAB, FRONTEND_NC)
_TOPOLOGY_ALIASES = {"ciab": CIAB, CIAB: CIAB, "fe+nc": FRONTEND_NC, FRONTEND_NC: FRONTEND_NC,
                     "frontend": FRONTEND_NC}
# Eucalyptus network modes labkit can draw the packet path for.
NETWORK_MODES = ("EDGE", "MANAGED", "MANAGED-NOVLAN", "SYSTEM", "STATIC")
NESTED_FLAG = {"intel": "vmx", "amd": "svm"}
VNC_BASE_PORT = 5900
LABKIT_NS = "https://labkit.dev/xmlns/vm/1"  # the namespace of labkit's metadata in libvirt domain XML
MAC_PREFIX = "52:54:00"


def normalize_topology(name: str) -> str:
    """Return the canonical topology name for ``ciab``/``fe+nc`` and friends."""
    key = (name or "").strip().lower()
    if key not in _TOPOLOGY_ALIASES:
        raise VmError(f"unknown topology {name!r}", hint=f"use one of: {', '.join(TOPOLOGIES)}")
    return _TOPOLOGY_ALIASES[key]


def normalize_mac(mac: str) -> str:
    """Return a MAC as lower-case colon-separated hex, or raise VmError if it is not one."""
    raw = mac.strip().lower().replace("-", ":")
    parts = raw.split(":")
    if len(parts) != 6 or not all(len(p) == 2 and all(c in "0123456789abcdef" for c in p) for p in parts):
        raise VmError(f"{mac!r} is not a MAC address", hint="write six hex pairs, e.g. 52:54:00:12:34:60")
    if int(parts[0], 16) & 1:
        raise VmError(f"{mac} is a multicast MAC and cannot be a NIC's address",
                      hint="use the 52:54:00 prefix, e.g. 52:54:00:12:34:60")
    return raw


@dataclass(frozen=True)
class DiskSpec:
    """A VM's disk: an LVM logical volume ``vg/lv`` or a qcow2/raw file, with its size."""

    kind: str  # lvm | qcow2 | raw
    path: str  # "vg01/ciab" for lvm, a file path otherwise
    size_gb: int = 100

    @property
    def device(self) -> str:
        """Return the path qemu opens (``/dev/vg01/ciab`` for a logical volume)."""
        return f"/dev/{self.path}" if self.kind == "lvm" else self.path

    @property
    def vg(self) -> str | None:
        """Return the volume group of a logical volume (None for a file)."""
        return self.path.split("/", 1)[0] if self.kind == "lvm" else None

    @property
    def lv(self) -> str | None:
        """Return the logical volume's name (None for a file)."""
        return self.path.split("/", 1)[1] if self.kind == "lvm" else None

    @property
    def format(self) -> str:
        """Return the disk format qemu is told (raw for block devices)."""
        return "qcow2" if self.kind == "qcow2" else "raw"


@dataclass(frozen=True)
class NicSpec:
    """A virtio NIC with its MAC, on a host bridge (or qemu's user-mode network when bridge is None)."""

    mac: str
    bridge: str | None = "br0"
    model: str = "virtio"


@dataclass(frozen=True)
class VncSpec:
    """A VNC display and the address it listens on (127.0.0.1 unless asked otherwise)."""

    display: int
    listen: str = "127.0.0.1"

    @property
    def port(self) -> int:
        """Return the TCP port of the display (5900 + display)."""
        return VNC_BASE_PORT + self.display


@dataclass(frozen=True)
class VmSpec:
    """One VM of a test cloud: everything needed to render its qemu command or libvirt XML."""

    name: str
    memory_mb: int
    vcpus: int
    disk: DiskSpec
    nic: NicSpec
    vnc: VncSpec
    cpu_model: str = "qemu64"
    cpu_features: tuple[str, ...] = ("vmx",)
    iso: str | None = None
    boot: tuple[str, ...] = ("cdrom", "hd")
    role: str = "ciab"  # ciab | frontend | nc
    ip: str | None = None
    cloud: str = ""
    host: str = "local"

    def __post_init__(self) -> None:
        """Refuse a VM that could not boot: too little memory or no vCPU."""
        if self.memory_mb < 64:
            raise VmError(f"VM {self.name}: {self.memory_mb} MB of memory is too little", hint="give at least 64 MB")
        if self.vcpus < 1:
            raise VmError(f"VM {self.name}: needs at least one vCPU", hint="set vcpus=1 or more")


@dataclass(frozen=True)
class IpRange:
    """An inclusive range of IPv4 addresses, written ``first-last``."""

    first: str
    last: str

    def __str__(self) -> str:
        """Write the range as ``first-last``."""
        return f"{self.first}-{self.last}"

    @property
    def size(self) -> int:
        """Return how many addresses the range holds."""
        import ipaddress

        return int(ipaddress.IPv4Address(self.last)) - int(ipaddress.IPv4Address(self.first)) + 1


@dataclass
class CloudPlan:
    """One planned test cloud: topology, addresses, Eucalyptus network mode and its VMs."""

    name: str
    topology: str
    bridge: str
    public_range: IpRange
    private_subnet: str
    gateway: str
    dns: str
    network_mode: str = "EDGE"
    vms: list[VmSpec] = field(default_factory=list)

    @property
    def frontend(self) -> VmSpec:
        """Return the VM that runs the cloud controller (the cloud-in-a-box VM itself for ciab)."""
        return next(v for v in self.vms if v.role in ("ciab", "frontend"))

    @property
    def node_controllers(self) -> list[VmSpec]:
        """Return the VMs that run instances (the ciab VM in a cloud-in-a-box)."""
        return [v for v in self.vms if v.role in ("nc", "ciab")]

    def rows(self) -> list[VmRow]:
        """Return the plan as table rows, one per VM."""
        return [VmRow(cloud=self.name, vm=v.name, role=v.role, host=v.host, memory_mb=v.memory_mb, vcpus=v.vcpus,
                      cpu=",".join([v.cpu_model] + [f"+{f}" for f in v.cpu_features]), mac=v.nic.mac,
                      bridge=v.nic.bridge or "user", ip=v.ip or "", vnc=f"{v.vnc.listen}:{v.vnc.port}",
                      disk=v.disk.device, disk_gb=v.disk.size_gb, iso=v.iso or "",
                      public_range=str(self.public_range), private_subnet=self.private_subnet,
                      network_mode=self.network_mode) for v in self.vms]


@dataclass(frozen=True)
class VmRow:
    """One row of a plan table."""

    cloud: str
    vm: str
    role: str
    host: str
    memory_mb: int
    vcpus: int
    cpu: str
    mac: str
    bridge: str
    ip: str
    vnc: str
    disk: str
    disk_gb: int
    iso: str
    public_range: str
    private_subnet: str
    network_mode: str
