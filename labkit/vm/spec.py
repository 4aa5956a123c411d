"""What a VM lab is made of: VMs (disk, NIC, VNC, CPU) and the clouds that group them, and the rules for their values.

Every rule about a single value lives here, once: what a cloud, VM or LVM name may be, how sizes are written
(``2048``, ``"2G"``, ``"2048M"``), which VNC displays exist, how ``/dev/vg01/ciab`` becomes the volume
``vg01/ciab``. The dataclasses check their values when they are built, so a bad value never reaches a renderer.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field

from labkit.vm.errors import VmError

# labkit's XML namespace in libvirt <metadata> (domains it defines and its per-host record).
LABKIT_NS = "https://labkit.dev/xmlns/vm/1"

CIAB = "cloud-in-a-box"
FRONTEND_NC = "frontend+nc"
TOPOLOGIES = (CIAB, FRONTEND_NC)
_TOPOLOGY_ALIASES = {"ciab": CIAB, CIAB: CIAB, "fe+nc": FRONTEND_NC, FRONTEND_NC: FRONTEND_NC,
                     "frontend": FRONTEND_NC}
# Eucalyptus network modes labkit can draw the packet path for.
NETWORK_MODES = ("EDGE", "MANAGED", "MANAGED-NOVLAN", "SYSTEM", "STATIC")
NESTED_FLAG = {"intel": "vmx", "amd": "svm"}
VNC_BASE_PORT = 5900
MAX_DISPLAY = 65535 - VNC_BASE_PORT  # qemu's -vnc :N listens on 5900+N, a TCP port
MAC_PREFIX = "52:54:00"
# kvm uses the host CPU; tcg is qemu's emulator (libvirt calls that domain type "qemu").
ACCELS = ("kvm", "tcg")
DISK_KINDS = ("lvm", "qcow2", "raw")
DISK_FORMATS = ("raw", "qcow2", "auto")  # auto: let qemu probe (the blog's -drive has no format=)
BOOT_DEVICES = ("cdrom", "hd", "network", "fd")
NIC_MODELS = ("virtio", "e1000", "rtl8139")
# Sanity bounds: beyond them a value is a typo, not a lab (1 PiB disk, 16 TiB of memory, 1024 vCPUs).
MAX_DISK_GB = 1024 * 1024
MAX_MEMORY_MB = 16 * 1024 * 1024
MAX_VCPUS = 1024
MIN_MEMORY_MB = 64

_CLOUD_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,47}")
_VM_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
# What lvcreate/vgcreate take (lvm(8) "VALID NAMES"): ASCII letters, digits, + _ . -, not starting with -.
_LVM_NAME = re.compile(r"[A-Za-z0-9+_.][A-Za-z0-9+_.-]{0,126}")
_LVM_RESERVED = ("_cdata", "_cmeta", "_corig", "_mlog", "_mimage", "_pmspare", "_rimage", "_rmeta", "_tdata",
                 "_tmeta", "_vorigin", "_vdata")
# What the kernel takes as an interface name (IFNAMSIZ - 1 characters, no blanks, '/' or ':').
_BRIDGE_NAME = re.compile(r"[A-Za-z0-9_.-]{1,15}")
_CPU_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_SIZE = re.compile(r"\s*(\d{1,30})\s*([kKmMgGtTpP]?)(?:i?[bB])?\s*")
_SCALE_MB = {"k": 1 / 1024, "m": 1, "g": 1024, "t": 1024**2, "p": 1024**3}


def normalize_topology(name: str) -> str:
    """Return the canonical topology name for ``ciab``/``fe+nc`` and friends."""
    key = (name or "").strip().lower() if isinstance(name, str) else ""
    if key not in _TOPOLOGY_ALIASES:
        raise VmError(f"unknown topology {name!r}", hint=f"use one of: {', '.join(TOPOLOGIES)}")
    return _TOPOLOGY_ALIASES[key]


def normalize_mac(mac: str) -> str:
    """Return a MAC as lower-case colon-separated hex, or raise VmError if it is not one."""
    if not isinstance(mac, str):
        raise VmError(f"{mac!r} is not a MAC address", hint="write six hex pairs, e.g. 52:54:00:12:34:60")
    raw = mac.strip().lower().replace("-", ":")
    parts = raw.split(":")
    if len(parts) != 6 or not all(len(p) == 2 and all(c in "0123456789abcdef" for c in p) for p in parts):
        raise VmError(f"{mac!r} is not a MAC address", hint="write six hex pairs, e.g. 52:54:00:12:34:60")
    if int(parts[0], 16) & 1:
        raise VmError(f"{mac} is a multicast MAC and cannot be a NIC's address",
                      hint="use the 52:54:00 prefix, e.g. 52:54:00:12:34:60")
    return raw


def whole_number(value: object, what: str, *, low: int, high: int, hint: str) -> int:
    """Return ``value`` as an int within ``[low, high]`` (bools, floats and text refused), or raise VmError."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise VmError(f"{what} must be a whole number, not {value!r}", hint=hint)
    if not low <= value <= high:
        raise VmError(f"{what} {value} is out of range ({low} to {high})", hint=hint)
    return value


def size_mb(value: object, what: str, *, default_unit: str = "M") -> int:
    """Return a size in MiB from an int (in ``default_unit``) or text like ``"2G"``, ``"2048M"``, ``"100"``.

    Units are binary, as qemu's ``-m 2G`` and ``qemu-img create ... 100G`` read them (G = 1024 M).
    """
    unit = default_unit.lower()
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise VmError(f"{what} must be a size like 2048 or \"2G\", not {value!r}",
                      hint=f"give a whole number of {default_unit}iB, or text with a unit: 512M, 2G, 1T")
    if isinstance(value, int):
        number, suffix = value, unit
    else:
        m = _SIZE.fullmatch(value)
        if not m:
            raise VmError(f"{what} {value[:40]!r} is not a size",
                          hint=f"write a whole number of {default_unit}iB, or one with a unit: 512M, 2G, 1T")
        number, suffix = int(m.group(1)), (m.group(2) or unit).lower()
    mb = number * _SCALE_MB[suffix]
    if mb != int(mb):
        raise VmError(f"{what} {value!r} is not a whole number of MiB", hint="round it to whole MiB, e.g. 512M")
    return int(mb)


def memory_mb(value: object, what: str = "memory") -> int:
    """Return a VM's memory in MiB (int MiB or ``"2G"``), between 64 MiB and 16 TiB."""
    mb = size_mb(value, what, default_unit="M")
    if not MIN_MEMORY_MB <= mb <= MAX_MEMORY_MB:
        raise VmError(f"{what} of {mb} MiB is out of range", hint=f"give {MIN_MEMORY_MB} MiB to 16T, e.g. 4096 or \"4G\"")
    return mb


def disk_gb(value: object, what: str = "disk size") -> int:
    """Return a disk size in GiB (int GiB or ``"100G"``/``"1T"``), between 1 GiB and 1 PiB."""
    mb = size_mb(value, what, default_unit="G")
    gb = mb / 1024
    if gb != int(gb):
        raise VmError(f"{what} {value!r} is not a whole number of GiB", hint="give whole GiB, e.g. 100 or \"1T\"")
    if gb < 1:
        raise VmError(f"a {int(gb)} GB disk cannot hold an installed cloud ({what})",
                      hint="give disk_gb=1 or more (the blog's VMs use 100)")
    if gb > MAX_DISK_GB:
        raise VmError(f"{what} of {int(gb)} GiB is larger than any disk (limit 1 PiB)",
                      hint="give the size in GiB, e.g. 100 or \"2T\"")
    return int(gb)


def check_cloud_name(name: object) -> str:
    """Return a cloud name if lvcreate, libvirt and the shell all take it (ASCII, not starting with -)."""
    if not isinstance(name, str) or not _CLOUD_NAME.fullmatch(name):
        raise VmError(f"cloud name {name!r} must be 1 to 48 ASCII letters, digits, - or _, starting with a "
                      "letter or digit", hint="e.g. alpha or ciab-1")
    return name


def check_lvm_name(name: object, what: str) -> str:
    """Return a volume group or logical volume name that lvm(8) accepts, or raise VmError."""
    ok = isinstance(name, str) and bool(_LVM_NAME.fullmatch(name)) and name not in (".", "..") \
        and not name.startswith(("snapshot", "pvmove")) and not any(r in name for r in _LVM_RESERVED)
    if not ok:
        raise VmError(f"{what} {name!r} is not an LVM name",
                      hint="use ASCII letters, digits, '+', '_', '.' or '-' (not first), e.g. vg01")
    return name


def check_bridge_name(name: object) -> str:
    """Return a bridge name the kernel takes (1-15 characters, no blank, '/' or ':'), or raise VmError."""
    if not isinstance(name, str) or not _BRIDGE_NAME.fullmatch(name):
        raise VmError(f"bridge name {name!r} is not a Linux interface name",
                      hint="use 1 to 15 letters, digits, '-', '_' or '.', e.g. br0")
    return name


def check_path(path: object, what: str) -> str:
    """Return a file path with no control characters (commas are fine: renderers quote them), or raise VmError."""
    if not isinstance(path, str) or not path.strip() or any(ord(c) < 32 or c == "\x7f" for c in path):
        raise VmError(f"{what} {path!r} is not a usable path", hint="give a file path without control characters")
    return path


# sshd(8) AUTHORIZED_KEYS FILE FORMAT: "keytype, base64-encoded key, comment"; the key types it lists
_SSH_KEY = re.compile(r"(?:ssh-(?:ed25519|rsa|dss)|ecdsa-sha2-nistp(?:256|384|521)"
                      r"|sk-(?:ssh-ed25519|ecdsa-sha2-nistp256)@openssh\.com)[ \t]+[A-Za-z0-9+/]+={0,3}(?:[ \t].*)?")


def check_ssh_key(key: object) -> str:
    """Return an SSH public key line (type, base64 key, optional comment), or raise VmError."""
    if not isinstance(key, str) or "\n" in key or "\r" in key or not _SSH_KEY.fullmatch(key.strip()):
        shown = repr(key)[:60] if isinstance(key, str) else type(key).__name__
        raise VmError(f"SSH key {shown} is not one line holding a public key (TYPE BASE64 [COMMENT])",
                      hint="paste the line from ~/.ssh/id_ed25519.pub, e.g. ssh-ed25519 AAAA... you@host")
    return key


def check_address(value: object, what: str) -> str:
    """Return an IPv4 or IPv6 address as text, or raise VmError."""
    try:
        return str(ipaddress.ip_address(str(value).strip()))
    except ValueError:
        raise VmError(f"{what} {value!r} is not an IP address", hint="e.g. 127.0.0.1, 0.0.0.0 or ::1") from None


def lvm_volume(text: object) -> str:
    """Return ``vg/lv`` for ``vg/lv``, ``/dev/vg/lv`` or ``/dev/mapper/vg-lv`` (names checked), or raise VmError."""
    if not isinstance(text, str):
        raise VmError(f"volume {text!r} is not vg/lv", hint="write vg01/ciab or /dev/vg01/ciab")
    path = text
    if path.startswith("/dev/mapper/"):
        # device-mapper doubles a dash inside a name: vg--a-lv--b is vg-a/lv-b
        name = path[len("/dev/mapper/"):]
        m = re.fullmatch(r"((?:[^-]|--)+)-((?:[^-]|--)+)", name)
        if not m:
            raise VmError(f"volume {text!r} is not a /dev/mapper/VG-LV path", hint="write vg01/ciab instead")
        vg, lv = m.group(1).replace("--", "-"), m.group(2).replace("--", "-")
    else:
        if path.startswith("/dev/"):
            path = path[len("/dev/"):]
        parts = path.split("/")
        if len(parts) != 2:
            raise VmError(f"volume {text!r} is not vg/lv", hint="write vg01/ciab or /dev/vg01/ciab")
        vg, lv = parts
    return f"{check_lvm_name(vg, 'volume group')}/{check_lvm_name(lv, 'logical volume')}"


def volume_key(path: str) -> str:
    """Return how a disk is held on a host: ``vg/lv`` for an LVM device path, the path itself for a file."""
    if path.startswith("/dev/") and not path.startswith(("/dev/disk/", "/dev/sd", "/dev/nvme", "/dev/vd")):
        try:
            return lvm_volume(path)
        except VmError:
            return path
    return path


@dataclass(frozen=True)
class DiskSpec:
    """A VM's disk: an LVM logical volume ``vg/lv`` or a qcow2/raw file, with its size.

    ``backing`` makes a file disk a qcow2 overlay on another image (a linked clone); ``format`` overrides what
    qemu is told (``auto`` lets qemu probe, as the blog's command does).
    """

    kind: str  # lvm | qcow2 | raw
    path: str  # "vg01/ciab" for lvm, a file path otherwise
    size_gb: int = 100
    format_override: str = ""
    backing: str = ""
    backing_format: str = ""

    def __post_init__(self) -> None:
        """Check the kind, path and size; turn ``/dev/vg/lv`` into ``vg/lv``."""
        if self.kind not in DISK_KINDS:
            raise VmError(f"unknown disk kind {self.kind!r}", hint=f"use one of: {', '.join(DISK_KINDS)}")
        if self.kind == "lvm":
            object.__setattr__(self, "path", lvm_volume(self.path))
        else:
            check_path(self.path, "disk path")
        object.__setattr__(self, "size_gb", disk_gb(self.size_gb))
        if self.format_override and self.format_override not in DISK_FORMATS:
            raise VmError(f"unknown disk format {self.format_override!r}", hint=f"use one of: {', '.join(DISK_FORMATS)}")
        if self.backing:
            check_path(self.backing, "backing image")
            if self.kind != "qcow2":
                raise VmError("only a qcow2 disk can have a backing image", hint="use disk kind qcow2 for clones")

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
        """Return the disk format qemu is told (raw for block devices, ``auto`` to let qemu probe)."""
        return self.format_override or ("qcow2" if self.kind == "qcow2" else "raw")

    @property
    def file_format(self) -> str:
        """Return the format the disk really has (what qemu-img creates, and a clone's backing format)."""
        return "raw" if self.format == "auto" else self.format


@dataclass(frozen=True)
class NicSpec:
    """A NIC with its MAC, on a host bridge (or qemu's user-mode network when bridge is None)."""

    mac: str
    bridge: str | None = "br0"
    model: str = "virtio"

    def __post_init__(self) -> None:
        """Check the MAC, bridge name and model."""
        object.__setattr__(self, "mac", normalize_mac(self.mac))
        if self.bridge:
            check_bridge_name(self.bridge)
        else:
            object.__setattr__(self, "bridge", None)
        if self.model not in NIC_MODELS:
            raise VmError(f"unknown NIC model {self.model!r}", hint=f"use one of: {', '.join(NIC_MODELS)}")


@dataclass(frozen=True)
class VncSpec:
    """A VNC display and the address it listens on (127.0.0.1 unless asked otherwise)."""

    display: int
    listen: str = "127.0.0.1"

    def __post_init__(self) -> None:
        """Check the display is one qemu can open (0 to 59635) and the listen address is an address."""
        whole_number(self.display, "VNC display", low=0, high=MAX_DISPLAY,
                     hint=f"give a display from 0 to {MAX_DISPLAY} (port 5900 + display), or leave it out")
        object.__setattr__(self, "listen", check_address(self.listen, "VNC listen address"))

    @property
    def port(self) -> int:
        """Return the TCP port of the display (5900 + display)."""
        return VNC_BASE_PORT + self.display


@dataclass(frozen=True)
class KernelBoot:
    """Direct kernel boot: a kernel, an initrd and the kernel command line (qemu ``-kernel``, libvirt ``<kernel>``)."""

    kernel: str
    initrd: str = ""
    cmdline: str = ""

    def __post_init__(self) -> None:
        """Check the paths and the command line."""
        check_path(self.kernel, "kernel")
        if self.initrd:
            check_path(self.initrd, "initrd")
        if any(ord(c) < 32 for c in self.cmdline):
            raise VmError("the kernel command line has a control character", hint="write it on one line")


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
    accel: str = "kvm"
    seed: str | None = None  # the NoCloud/kickstart ISO attached as a second CD-ROM
    kernel: KernelBoot | None = None
    serial_log: str | None = None

    def __post_init__(self) -> None:
        """Refuse a VM that could not boot or whose values a renderer would mangle; parse ``"2G"`` sizes."""
        if not isinstance(self.name, str) or not _VM_NAME.fullmatch(self.name):
            raise VmError(f"VM name {self.name!r} must be ASCII letters, digits, - or _, starting with a letter "
                          "or digit", hint="e.g. alpha-ciab")
        object.__setattr__(self, "memory_mb", memory_mb(self.memory_mb, f"VM {self.name}: memory"))
        if isinstance(self.vcpus, int) and not isinstance(self.vcpus, bool) and self.vcpus < 1:
            raise VmError(f"VM {self.name}: needs at least one vCPU", hint="set vcpus=1 or more")
        whole_number(self.vcpus, f"VM {self.name}: vcpus", low=1, high=MAX_VCPUS, hint="give 1 or more vCPUs")
        if not isinstance(self.cpu_model, str) or not _CPU_TOKEN.fullmatch(self.cpu_model):
            raise VmError(f"CPU model {self.cpu_model!r} is not a qemu CPU model name", hint="e.g. qemu64 or host")
        object.__setattr__(self, "cpu_features", tuple(self.cpu_features))
        for f in self.cpu_features:
            if not isinstance(f, str) or not _CPU_TOKEN.fullmatch(f):
                raise VmError(f"CPU feature {f!r} is not a feature name", hint="e.g. vmx or svm")
        if self.accel not in ACCELS:
            raise VmError(f"unknown accelerator {self.accel!r}", hint=f"use one of: {', '.join(ACCELS)}")
        object.__setattr__(self, "boot", tuple(self.boot))
        for b in self.boot:
            if b not in BOOT_DEVICES:
                raise VmError(f"unknown boot device {b!r}", hint=f"use: {', '.join(BOOT_DEVICES)}")
        for label, value in (("ISO", self.iso), ("seed ISO", self.seed), ("serial log", self.serial_log)):
            if value is not None:
                check_path(value, label)
        if self.ip is not None:
            object.__setattr__(self, "ip", check_address(self.ip, f"VM {self.name}: IP"))

    @property
    def who(self) -> str:
        """Return ``cloud/role`` as conflicts name this VM (role as in a request: ciab, fe, nc1...)."""
        key = self.name[len(self.cloud) + 1:] if self.cloud and self.name.startswith(f"{self.cloud}-") else self.role
        return f"{self.cloud}/{key}"

    @property
    def domain_type(self) -> str:
        """Return the libvirt domain type for the accelerator (``kvm``, or ``qemu`` for TCG)."""
        return "kvm" if self.accel == "kvm" else "qemu"


@dataclass(frozen=True)
class IpRange:
    """An inclusive range of IPv4 addresses, written ``first-last``."""

    first: str
    last: str

    def __post_init__(self) -> None:
        """Check both ends are IPv4 addresses, the lower first."""
        try:
            lo, hi = ipaddress.IPv4Address(self.first), ipaddress.IPv4Address(self.last)
        except ValueError:
            raise VmError(f"{self.first}-{self.last} is not an IPv4 range",
                          hint="write 192.168.100.200-192.168.100.220") from None
        if hi < lo:
            raise VmError(f"IP range {self.first}-{self.last} ends before it starts", hint="write the lower address first")

    def __str__(self) -> str:
        """Write the range as ``first-last``."""
        return f"{self.first}-{self.last}"

    @property
    def size(self) -> int:
        """Return how many addresses the range holds."""
        return int(ipaddress.IPv4Address(self.last)) - int(ipaddress.IPv4Address(self.first)) + 1


@dataclass
class CloudPlan:
    """One planned test cloud: topology, addresses, Eucalyptus network mode and its VMs.

    ``network`` is the bridge's LAN (the VMs' addresses and netmask); ``ssh_keys`` go into each VM's seed.
    """

    name: str
    topology: str
    bridge: str
    public_range: IpRange
    private_subnet: str
    gateway: str
    dns: str
    network_mode: str = "EDGE"
    vms: list[VmSpec] = field(default_factory=list)
    network: str = "192.168.100.0/24"
    ssh_keys: tuple[str, ...] = ()
    seed_kind: str = ""  # "" (none) | nocloud | kickstart
    uris: dict[str, str] = field(default_factory=dict)  # host name -> libvirt URI the cloud was planned on

    @property
    def frontend(self) -> VmSpec:
        """Return the VM that runs the cloud controller (the cloud-in-a-box VM itself for ciab)."""
        return next(v for v in self.vms if v.role in ("ciab", "frontend"))

    @property
    def node_controllers(self) -> list[VmSpec]:
        """Return the VMs that run instances (the ciab VM in a cloud-in-a-box)."""
        return [v for v in self.vms if v.role in ("nc", "ciab")]

    @property
    def prefixlen(self) -> int:
        """Return the prefix length of the bridge's LAN (the VMs' netmask)."""
        return ipaddress.IPv4Network(self.network, strict=False).prefixlen

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
