"""What a host already has: domains (MACs, VNC ports, disks, CPU features), volumes, listening ports, routes."""

from __future__ import annotations

import ipaddress
import socket
import struct
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from labkit.vm.errors import VmError
from labkit.vm.spec import LABKIT_NS, VNC_BASE_PORT


@dataclass(frozen=True)
class DomainFacts:
    """The parts of a domain's XML that can clash with a plan or tell whether two domains are the same."""

    name: str
    source: str = ""
    domain_type: str = ""
    memory_kib: int = 0
    vcpus: int = 0
    macs: tuple[str, ...] = ()
    bridges: tuple[str, ...] = ()
    networks: tuple[str, ...] = ()
    vnc_ports: tuple[int, ...] = ()
    vnc_listen: tuple[str, ...] = ()
    disks: tuple[str, ...] = ()
    cdroms: tuple[str, ...] = ()
    cpu_model: str = ""
    cpu_features: tuple[str, ...] = ()  # "policy:name"
    boot: tuple[str, ...] = ()
    labkit_cloud: str = ""
    labkit_role: str = ""
    labkit_created_volume: str = ""

    @property
    def holder(self) -> str:
        """Say who holds this domain's MACs, ports and disks (``cloud/role`` first for labkit's own)."""
        if self.labkit_cloud:
            role = {"frontend": "fe"}.get(self.labkit_role, self.labkit_role)
            return f"{self.labkit_cloud}/{role} (labkit domain '{self.name}')"
        return f"domain '{self.name}'" + (f" ({self.source})" if self.source and self.source != self.name else "")

    def same_machine(self, other: DomainFacts) -> bool:
        """Tell whether two domains describe the same VM (ignores ids, addresses libvirt assigns, order)."""
        keys = ("name", "memory_kib", "vcpus", "macs", "bridges", "vnc_ports", "disks", "cdroms", "cpu_model",
                "boot", "labkit_cloud")
        return all(getattr(self, k) == getattr(other, k) for k in keys) and \
            sorted(self.cpu_features) == sorted(other.cpu_features)


def _memory_kib(el: ET.Element | None) -> int:
    """Return a <memory> element's value in KiB, whatever its unit."""
    if el is None or not (el.text or "").strip():
        return 0
    value = int(el.text.strip())
    unit = (el.get("unit") or "KiB").lower()
    scale = {"b": 1 / 1024, "bytes": 1 / 1024, "k": 1, "kib": 1, "kb": 1000 / 1024, "m": 1024, "mib": 1024,
             "mb": 1000**2 / 1024, "g": 1024**2, "gib": 1024**2, "gb": 1000**3 / 1024}.get(unit, 1)
    return int(value * scale)


def parse_domain_xml(xml: str, source: str = "") -> DomainFacts:
    """Read a libvirt domain XML into :class:`DomainFacts`; raise VmError if it is not one."""
    try:
        root = ET.fromstring(xml)
    except ET.ParseError as exc:
        raise VmError(f"{source or 'domain XML'} is not well-formed XML ({exc})",
                      hint="check the file is a libvirt <domain> document") from None
    if root.tag != "domain":
        raise VmError(f"{source or 'XML'} is a <{root.tag}>, not a <domain>", hint="give a libvirt domain XML")
    name = (root.findtext("name") or "").strip()
    macs, bridges, networks = [], [], []
    for iface in root.iterfind("devices/interface"):
        mac = iface.find("mac")
        if mac is not None and mac.get("address"):
            macs.append(mac.get("address").lower())
        src = iface.find("source")
        if src is not None:
            if src.get("bridge"):
                bridges.append(src.get("bridge"))
            if src.get("network"):
                networks.append(src.get("network"))
    ports, listens = [], []
    for g in root.iterfind("devices/graphics"):
        if g.get("type") != "vnc":
            continue
        port = g.get("port")
        if port and port.lstrip("-").isdigit() and int(port) >= VNC_BASE_PORT:
            ports.append(int(port))
        listen = g.get("listen") or next((x.get("address") for x in g.iterfind("listen") if x.get("address")), "")
        if listen:
            listens.append(listen)
    disks, cdroms = [], []
    for d in root.iterfind("devices/disk"):
        src = d.find("source")
        path = ""
        if src is not None and d.get("type") == "network":
            host = src.find("host")
            where = (host.get("name", "") + (f":{host.get('port')}" if host.get("port") else "")) if host is not None else ""
            path = f"{src.get('protocol', 'network')}://{where}/{(src.get('name') or '').lstrip('/')}"
        elif src is not None:
            path = src.get("dev") or src.get("file") or src.get("volume") or src.get("name") or ""
        (cdroms if d.get("device") == "cdrom" else disks).append(path) if path else None
    cpu = root.find("cpu")
    cpu_model, feats = "", []
    if cpu is not None:
        cpu_model = (cpu.findtext("model") or "").strip() or cpu.get("mode", "")
        feats = [f"{f.get('policy', 'require')}:{f.get('name')}" for f in cpu.iterfind("feature")]
    created = cloud = role = ""
    meta = root.find("metadata")
    if meta is not None:
        tag = meta.find(f"{{{LABKIT_NS}}}vm")
        if tag is not None:
            cloud = tag.get("cloud", "")
            role = tag.get("role", "")
            created = tag.get("created-volume", "")
    return DomainFacts(
        name=name, source=source, domain_type=root.get("type", ""), memory_kib=_memory_kib(root.find("memory")),
        vcpus=int((root.findtext("vcpu") or "0").strip() or 0), macs=tuple(macs), bridges=tuple(bridges),
        networks=tuple(networks), vnc_ports=tuple(ports), vnc_listen=tuple(listens), disks=tuple(disks),
        cdroms=tuple(cdroms), cpu_model=cpu_model, cpu_features=tuple(feats),
        boot=tuple(b.get("dev", "") for b in root.iterfind("os/boot")), labkit_cloud=cloud, labkit_role=role,
        labkit_created_volume=created)


@dataclass
class HostInventory:
    """Everything on one host a plan must not collide with; each value maps to who holds it."""

    name: str = "local"
    uri: str = "test:///default"
    domains: dict[str, DomainFacts] = field(default_factory=dict)
    macs: dict[str, str] = field(default_factory=dict)
    vnc_ports: dict[int, str] = field(default_factory=dict)
    volumes: dict[str, str] = field(default_factory=dict)  # "vg/lv" or file path -> holder
    networks: list[tuple[ipaddress.IPv4Network, str]] = field(default_factory=list)
    pools: dict[str, int] = field(default_factory=dict)  # pool name -> free bytes
    cpu_vendor: str = "intel"

    def add_domain(self, facts: DomainFacts) -> None:
        """Record a domain and everything it holds."""
        self.domains[facts.name] = facts
        who = facts.holder
        for mac in facts.macs:
            self.macs.setdefault(mac, who)
        for port in facts.vnc_ports:
            self.vnc_ports.setdefault(port, who)
        for disk in facts.disks:
            self.volumes.setdefault(volume_key(disk), f"{who} as its disk")

    def rows(self) -> list[dict[str, object]]:
        """Return the domains as table rows."""
        return [{"domain": d.name, "macs": ", ".join(d.macs), "bridges": ", ".join(d.bridges + d.networks),
                 "vnc_ports": ", ".join(map(str, d.vnc_ports)), "disks": ", ".join(d.disks),
                 "cpu_features": ", ".join(d.cpu_features), "source": d.source} for d in self.domains.values()]


def volume_key(path: str) -> str:
    """Return ``vg/lv`` for ``/dev/vg/lv`` or ``/dev/mapper/vg-lv`` paths, the path itself otherwise."""
    if path.startswith("/dev/mapper/") and "-" in path[12:]:
        vg, _, lv = path[12:].partition("-")
        return f"{vg}/{lv}"
    parts = path.split("/")
    if len(parts) == 4 and parts[1] == "dev" and parts[2] not in ("mapper", "disk", "sd", "nvme"):
        return f"{parts[2]}/{parts[3]}"
    return path


def inventory_from_files(paths: Iterable[str | Path], name: str = "files") -> HostInventory:
    """Read domain XML files (e.g. libvirt's qemuxmlconfdata/*.xml) into an inventory."""
    inv = HostInventory(name=name, uri="")
    for p in paths:
        path = Path(p)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise VmError(f"cannot read {path} ({exc.strerror})", hint="check the path") from None
        inv.add_domain(parse_domain_xml(text, source=path.name))
    return inv


def inventory_from_libvirt(uri: str, name: str = "local", conn=None) -> HostInventory:
    """Read a libvirt host's domains, storage pools and volumes, networks and CPU vendor."""
    from labkit.vm.connection import connect

    conn = conn or connect(uri)
    inv = HostInventory(name=name, uri=uri)
    for dom in conn.listAllDomains():
        inv.add_domain(parse_domain_xml(dom.XMLDesc(0), source=dom.name()))
    for pool in conn.listAllStoragePools():
        try:
            if not pool.isActive():
                continue
            pool.refresh(0)
            info = pool.info()
            inv.pools[pool.name()] = int(info[3])
            for vol in pool.listAllVolumes():
                inv.volumes.setdefault(volume_key(vol.path()), f"volume {vol.name()} in pool '{pool.name()}'")
        except Exception:  # noqa: BLE001 - a pool that cannot be read holds nothing we can see
            continue
    for net in conn.listAllNetworks():
        try:
            root = ET.fromstring(net.XMLDesc(0))
        except Exception:  # noqa: BLE001
            continue
        for ip in root.iterfind("ip"):
            addr, prefix = ip.get("address"), ip.get("prefix") or ip.get("netmask")
            if addr and prefix and ":" not in addr:
                network = ipaddress.IPv4Network(f"{addr}/{prefix}", strict=False)
                inv.networks.append((network, f"libvirt network '{net.name()}' {network}"))
    try:
        caps = ET.fromstring(conn.getCapabilities())
        vendor = (caps.findtext("host/cpu/vendor") or "").lower()
        inv.cpu_vendor = "amd" if "amd" in vendor else "intel"
    except Exception:  # noqa: BLE001
        pass
    return inv


def cpu_vendor(root: str | Path = "/") -> str:
    """Return ``intel`` or ``amd`` from ``<root>/proc/cpuinfo`` (intel when unknown)."""
    try:
        text = (Path(root) / "proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "intel"
    return "amd" if "AuthenticAMD" in text else "intel"


def listening_ports(root: str | Path = "/") -> dict[int, str]:
    """Return TCP ports in LISTEN state from ``<root>/proc/net/tcp`` and ``tcp6``."""
    ports: dict[int, str] = {}
    for name in ("tcp", "tcp6"):
        try:
            lines = (Path(root) / "proc/net" / name).read_text(encoding="utf-8").splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            cols = line.split()
            if len(cols) > 3 and cols[3] == "0A":
                port = int(cols[1].rsplit(":", 1)[1], 16)
                ports.setdefault(port, f"a process listening on port {port}")
    return ports


def host_routes(root: str | Path = "/") -> list[tuple[ipaddress.IPv4Network, str]]:
    """Return the host's IPv4 networks from ``<root>/proc/net/route`` (the default route left out)."""
    try:
        lines = (Path(root) / "proc/net/route").read_text(encoding="utf-8").splitlines()[1:]
    except OSError:
        return []
    out = []
    for line in lines:
        cols = line.split()
        if len(cols) < 8:
            continue
        dest = socket.inet_ntoa(struct.pack("<I", int(cols[1], 16)))
        mask = socket.inet_ntoa(struct.pack("<I", int(cols[7], 16)))
        net = ipaddress.IPv4Network(f"{dest}/{mask}", strict=False)
        if net.prefixlen == 0:
            continue
        out.append((net, f"host network {net} on {cols[0]}"))
    return out


def host_root(root: str | Path) -> Path:
    """Return the directory that stands for the host's / (a fake tree in tests), or VmError if it is not one."""
    path = Path(root)
    if not path.is_dir():
        raise VmError(f"root {root} is not a directory", hint="give / for this host, or a folder holding proc/, sys/ and etc/")
    return path


def inventory_from_host(uri: str = "test:///default", *, name: str = "local", root: str | Path = "/",
                        probe_host: bool = True) -> HostInventory:
    """Read a host through libvirt and, when ``probe_host``, its listening ports, routes and CPU vendor from ``root``."""
    if probe_host:
        root = host_root(root)
    inv = inventory_from_libvirt(uri, name=name)
    if probe_host:
        for port, who in listening_ports(root).items():
            if port >= VNC_BASE_PORT:
                inv.vnc_ports.setdefault(port, who)
        inv.networks.extend(host_routes(root))
        inv.cpu_vendor = cpu_vendor(root)
    return inv
