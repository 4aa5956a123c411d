"""What a host already has: domains (MACs, VNC ports, disks, CPU features), volumes, listening ports, routes."""

from __future__ import annotations

import ipaddress
import socket
import struct
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from labkit.vm.connection import connect, host_capabilities, is_remote
from labkit.vm.errors import VmError
from labkit.vm.record import RECORD_DOMAIN, clouds_in, merge_parts, read_record
from labkit.vm.spec import LABKIT_NS, VNC_BASE_PORT, CloudPlan, volume_key

# What a remote host cannot tell through libvirt (said in the check table rather than guessed from this machine).
REMOTE_UNREADABLE = ("routes", "listening sockets")


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
    other_ports: tuple[int, ...] = ()  # VNC websocket, SPICE port and TLS port
    disks: tuple[str, ...] = ()
    cdroms: tuple[str, ...] = ()
    cpu_model: str = ""
    cpu_features: tuple[str, ...] = ()  # "policy:name"
    boot: tuple[str, ...] = ()
    labkit_cloud: str = ""
    labkit_role: str = ""
    labkit_created_volume: str = ""
    recorded: tuple[CloudPlan, ...] = ()  # its cloud's plan with this VM only, from labkit's metadata

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
    try:
        value = int(el.text.strip())
    except ValueError:
        return 0
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
    ports, listens, others = [], [], []
    for g in root.iterfind("devices/graphics"):
        kind = g.get("type")
        for attr in ("port", "websocket", "tlsPort"):
            value = (g.get(attr) or "").strip()
            if not value.isdigit() or not 0 < int(value) < 65536:
                continue  # -1: autoport, given a free port when the domain starts
            if kind == "vnc" and attr == "port":
                ports.append(int(value))
            elif kind in ("vnc", "spice"):
                others.append(int(value))
        if kind != "vnc":
            continue
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
    recorded = tuple(clouds_in(meta, f"domain '{name}'" + (f" on {source}" if source and source != name else "")))
    return DomainFacts(
        name=name, source=source, domain_type=root.get("type", ""), memory_kib=_memory_kib(root.find("memory")),
        vcpus=int(v) if (v := (root.findtext("vcpu") or "").strip()).isdigit() else 0, macs=tuple(macs), bridges=tuple(bridges),
        networks=tuple(networks), vnc_ports=tuple(ports), vnc_listen=tuple(listens), other_ports=tuple(others),
        disks=tuple(disks),
        cdroms=tuple(cdroms), cpu_model=cpu_model, cpu_features=tuple(feats),
        boot=tuple(b.get("dev", "") for b in root.iterfind("os/boot")), labkit_cloud=cloud, labkit_role=role,
        labkit_created_volume=created, recorded=recorded)


@dataclass
class HostInventory:
    """Everything on one host a plan must not collide with; each value maps to who holds it.

    ``vnc_ports`` holds every TCP port a VNC display could clash with (VNC, websocket and SPICE ports of
    domains, listening sockets). ``clouds`` are the plans labkit recorded on the host. ``unread`` names what
    could not be read (a remote host's routes and listening sockets) so the check table can say so.
    """

    name: str = "local"
    uri: str = "test:///default"
    domains: dict[str, DomainFacts] = field(default_factory=dict)
    macs: dict[str, str] = field(default_factory=dict)
    vnc_ports: dict[int, str] = field(default_factory=dict)
    volumes: dict[str, str] = field(default_factory=dict)  # "vg/lv" or file path -> holder
    networks: list[tuple[ipaddress.IPv4Network, str]] = field(default_factory=list)
    pools: dict[str, int] = field(default_factory=dict)  # pool name -> free bytes
    cpu_vendor: str = "intel"
    cpu_features: tuple[str, ...] = ()
    cpu_source: str = "assumed"
    clouds: dict[str, CloudPlan] = field(default_factory=dict)
    remote: bool = False
    unread: tuple[str, ...] = ()

    def add_domain(self, facts: DomainFacts) -> None:
        """Record a domain and everything it holds."""
        self.domains[facts.name] = facts
        who = facts.holder
        for mac in facts.macs:
            self.macs.setdefault(mac, who)
        for port in facts.vnc_ports + facts.other_ports:
            self.vnc_ports.setdefault(port, who)
        for disk in facts.disks:
            self.volumes.setdefault(volume_key(disk), f"{who} as its disk")
        parts = {p.name: [p] for p in facts.recorded}
        for name, plan in self.clouds.items():
            if name in parts:
                parts[name].insert(0, plan)
        self.clouds.update({name: merge_parts(found) for name, found in parts.items()})

    def rows(self) -> list[dict[str, object]]:
        """Return the domains as table rows."""
        return [{"domain": d.name, "macs": ", ".join(d.macs), "bridges": ", ".join(d.bridges + d.networks),
                 "vnc_ports": ", ".join(map(str, d.vnc_ports + d.other_ports)), "disks": ", ".join(d.disks),
                 "cpu_features": ", ".join(d.cpu_features), "source": d.source} for d in self.domains.values()]


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


def read_capabilities(uri: str) -> tuple[str, tuple[str, ...]]:
    """Return (vendor, CPU feature names) of a host from its libvirt capabilities; vendor "" when not reported."""
    try:
        caps = ET.fromstring(host_capabilities(uri))
    except ET.ParseError as exc:
        raise VmError(f"the capabilities of {uri} are not XML ({exc})", hint="check the libvirt host") from None
    text = (caps.findtext("host/cpu/vendor") or "").strip().lower()
    vendor = "amd" if "amd" in text else "intel" if "intel" in text else ""
    features = tuple(f.get("name", "") for f in caps.iterfind("host/cpu/feature") if f.get("name"))
    return vendor, features


def inventory_from_libvirt(uri: str, name: str = "local", conn=None) -> HostInventory:
    """Read a libvirt host: its domains, labkit's record, pools and volumes, networks, CPU vendor and features.

    Everything comes from that host through libvirt (``getCapabilities``, its domains' XML), never from the
    machine labkit runs on, so planning on ``qemu+ssh://intel-host`` from an AMD laptop gives vmx.
    """
    conn = conn or connect(uri)
    inv = HostInventory(name=name, uri=uri, remote=is_remote(uri))
    import libvirt

    for dom in conn.listAllDomains():
        try:
            xml = dom.XMLDesc(0)
        except libvirt.libvirtError as exc:
            if exc.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN:
                continue  # undefined by another process since it was listed
            raise
        facts = parse_domain_xml(xml, source=dom.name())
        if facts.name == RECORD_DOMAIN:
            continue
        inv.add_domain(facts)
    inv.clouds.update(read_record(conn, f"host {name} ({uri})"))  # the whole plans win over the domains' parts
    for pool in conn.listAllStoragePools() if _offers(conn, "numOfStoragePools") else []:
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
    for net in conn.listAllNetworks() if _offers(conn, "numOfNetworks") else []:
        try:
            root = ET.fromstring(net.XMLDesc(0))
        except Exception:  # noqa: BLE001
            continue
        for ip in root.iterfind("ip"):
            addr, prefix = ip.get("address"), ip.get("prefix") or ip.get("netmask")
            if addr and prefix and ":" not in addr:
                network = ipaddress.IPv4Network(f"{addr}/{prefix}", strict=False)
                inv.networks.append((network, f"libvirt network '{net.name()}' {network}"))
    vendor, features = read_capabilities(uri)
    inv.cpu_features = features
    if vendor:
        inv.cpu_vendor, inv.cpu_source = vendor, "libvirt capabilities"
    return inv


def _offers(conn, counter: str) -> bool:
    """Tell whether a connection has a driver (``numOfStoragePools``, ``numOfNetworks``): the embedded qemu driver
    has neither storage pools nor networks."""
    import libvirt

    try:
        getattr(conn, counter)()
        return True
    except libvirt.libvirtError:
        return False


def cpu_vendor(root: str | Path = "/") -> str:
    """Return ``intel`` or ``amd`` from ``<root>/proc/cpuinfo`` ("" when it cannot be read)."""
    try:
        text = (Path(root) / "proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return "amd" if "AuthenticAMD" in text else "intel" if "GenuineIntel" in text else ""


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
    """Read a host through libvirt and, for a host on this machine, its listening ports and routes from ``root``.

    A remote URI (one naming a host) is read through libvirt only: its routes and listening sockets cannot be
    seen from here and are listed in ``unread`` instead of being taken from this machine. The CPU vendor comes
    from the host's capabilities; only a local driver that reports none (the test driver) falls back to
    ``root``'s /proc/cpuinfo.
    """
    local = probe_host and not is_remote(uri)
    if local:
        root = host_root(root)
    inv = inventory_from_libvirt(uri, name=name)
    if inv.remote:
        inv.unread = REMOTE_UNREADABLE
    if local:
        for port, who in listening_ports(root).items():
            if port >= VNC_BASE_PORT:
                inv.vnc_ports.setdefault(port, who)
        inv.networks.extend(host_routes(root))
        if inv.cpu_source != "libvirt capabilities":
            vendor = cpu_vendor(root)
            if vendor:
                inv.cpu_vendor, inv.cpu_source = vendor, f"{Path(root) / 'proc/cpuinfo'}"
    return inv
