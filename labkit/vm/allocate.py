"""Conflict-free allocation of MACs, VNC displays, volume names and IP ranges (each O(1) amortised)."""

from __future__ import annotations

import bisect
import hashlib
import ipaddress
from dataclasses import dataclass, field

from labkit.vm.errors import Conflict, VmError
from labkit.vm.spec import MAC_PREFIX, VNC_BASE_PORT, IpRange


def mac_for(name: str, attempt: int = 0) -> str:
    """Return the stable 52:54:00 MAC of a VM name (``attempt`` > 0 gives the next candidates)."""
    digest = hashlib.sha256(f"{name}#{attempt}".encode() if attempt else name.encode()).digest()
    return MAC_PREFIX + "".join(f":{b:02x}" for b in digest[:3])


def parse_range(text: str) -> tuple[int, int]:
    """Parse ``a.b.c.d-e.f.g.h``, ``a.b.c.d/nn`` or one address into inclusive integer bounds."""
    if not isinstance(text, str):
        raise VmError(f"{text!r} is not an IPv4 range", hint="write 10.0.0.10-10.0.0.40, 172.16.0.0/16 or one address")
    text = text.strip()
    try:
        if "-" in text:
            a, b = (t.strip() for t in text.split("-", 1))
            lo, hi = int(ipaddress.IPv4Address(a)), int(ipaddress.IPv4Address(b))
        elif "/" in text:
            net = ipaddress.IPv4Network(text, strict=False)
            lo, hi = int(net.network_address), int(net.broadcast_address)
        else:
            lo = hi = int(ipaddress.IPv4Address(text))
    except ValueError as exc:
        raise VmError(f"{text!r} is not an IPv4 range ({exc})",
                      hint="write 10.0.0.10-10.0.0.40, 172.16.0.0/16 or one address") from None
    if hi < lo:
        raise VmError(f"IP range {text} ends before it starts", hint="write the lower address first")
    return lo, hi


def ip_str(value: int) -> str:
    """Return the dotted form of an integer IPv4 address."""
    return str(ipaddress.IPv4Address(value))


def range_str(lo: int, hi: int) -> str:
    """Return ``first-last`` (or the single address) for inclusive integer bounds."""
    return ip_str(lo) if lo == hi else f"{ip_str(lo)}-{ip_str(hi)}"


@dataclass
class RangeSet:
    """Non-overlapping inclusive integer intervals with an owner each; overlap lookup by bisection."""

    starts: list[int] = field(default_factory=list)
    ends: list[int] = field(default_factory=list)
    owners: list[str] = field(default_factory=list)

    def overlapping(self, lo: int, hi: int) -> tuple[int, int, str] | None:
        """Return one held interval that overlaps ``[lo, hi]``, or None."""
        return next(self.overlaps(lo, hi), None)

    def overlaps(self, lo: int, hi: int):
        """Yield every held interval that overlaps ``[lo, hi]`` (intervals never overlap, so ends are sorted too)."""
        i = bisect.bisect_right(self.starts, hi) - 1
        while i >= 0 and self.ends[i] >= lo:
            yield self.starts[i], self.ends[i], self.owners[i]
            i -= 1

    def add(self, lo: int, hi: int, owner: str) -> None:
        """Hold ``[lo, hi]`` for ``owner``; space already held (e.g. a cloud re-planned from its record) stays as is."""
        if self.overlapping(lo, hi):
            return
        i = bisect.bisect_right(self.starts, lo)
        self.starts.insert(i, lo)
        self.ends.insert(i, hi)
        self.owners.insert(i, owner)

    def remove_owner_prefix(self, prefix: str) -> None:
        """Drop every interval whose owner starts with ``prefix``."""
        keep = [k for k, o in enumerate(self.owners) if not o.startswith(prefix)]
        self.starts = [self.starts[k] for k in keep]
        self.ends = [self.ends[k] for k in keep]
        self.owners = [self.owners[k] for k in keep]


@dataclass
class HostState:
    """What is held on one host: VNC ports and volumes, each mapped to its holder."""

    vnc_ports: dict[int, str] = field(default_factory=dict)
    volumes: dict[str, str] = field(default_factory=dict)
    domains: dict[str, str] = field(default_factory=dict)
    next_display: int = 1


class Draft:
    """Allocations for one cloud being planned: checked against the lab, merged only when all succeed."""

    def __init__(self, macs: dict[str, str], hosts: dict[str, HostState], ranges: RangeSet,
                 host_networks: list[tuple[ipaddress.IPv4Network, str]], cloud: str = "") -> None:
        # what this same cloud already holds on a host (an earlier launch) is not a clash with itself
        """Start an empty draft over the lab's held MACs, host states, ranges and host networks."""
        self._own = f"{cloud}/" if cloud else None
        self._own_ranges = (f"cloud '{cloud}' ", f"VM {cloud}/") if cloud else None
        self._macs, self._hosts, self._ranges, self._host_networks = macs, hosts, ranges, host_networks
        self.macs: dict[str, str] = {}
        self.ports: dict[tuple[str, int], str] = {}
        self.volumes: dict[tuple[str, str], str] = {}
        self.domains: dict[tuple[str, str], str] = {}
        self.ranges: list[tuple[int, int, str]] = []
        self.conflicts: list[Conflict] = []
        self.next_display: dict[str, int] = {}

    def _theirs(self, holder: str | None) -> str | None:
        """Return a lab holder unless it is this same cloud's own earlier launch."""
        return None if holder is None or (self._own and holder.startswith(self._own)) else holder

    # --- MACs ---------------------------------------------------------------------------------------
    def _mac_holder(self, mac: str) -> str | None:
        """Return who holds a MAC, in this draft or the lab."""
        return self.macs.get(mac) or self._theirs(self._macs.get(mac))

    def take_mac(self, who: str, mac: str | None) -> str:
        """Take the asked MAC (a clash is a conflict) or the VM name's stable free one."""
        if mac:
            holder = self._mac_holder(mac)
            if holder:
                self.conflicts.append(Conflict("mac", mac, who, holder))
            self.macs[mac] = who
            return mac
        attempt = 0
        while True:
            mac = mac_for(who, attempt)
            if not self._mac_holder(mac):
                self.macs[mac] = who
                return mac
            attempt += 1

    # --- VNC ---------------------------------------------------------------------------------------
    def _port_holder(self, host: str, port: int) -> str | None:
        """Return who holds a VNC port on a host, in this draft or the lab."""
        return self.ports.get((host, port)) or self._theirs(self._hosts[host].vnc_ports.get(port))

    def take_display(self, who: str, host: str, display: int | None) -> int:
        """Take the asked VNC display (a clash is a conflict) or the next one whose port is free."""
        if display is not None:
            port = VNC_BASE_PORT + display
            holder = self._port_holder(host, port)
            if holder:
                self.conflicts.append(Conflict("vnc", f"display :{display} (port {port}) on host {host}", who, holder))
            self.ports[(host, port)] = who
            return display
        d = self.next_display.get(host, self._hosts[host].next_display)
        while self._port_holder(host, VNC_BASE_PORT + d):
            d += 1
        self.ports[(host, VNC_BASE_PORT + d)] = who
        self.next_display[host] = d + 1
        return d

    # --- volumes -----------------------------------------------------------------------------------
    def _volume_holder(self, host: str, key: str) -> str | None:
        """Return who holds a volume on a host, in this draft or the lab."""
        return self.volumes.get((host, key)) or self._theirs(self._hosts[host].volumes.get(key))

    def take_volume(self, who: str, host: str, key: str, explicit: bool) -> str:
        """Take the volume ``key`` (``vg/lv`` or a path); an existing one is a conflict if asked for, else renamed."""
        if explicit:
            holder = self._volume_holder(host, key)
            if holder:
                self.conflicts.append(Conflict("volume", f"{key} on host {host}", who, holder))
            self.volumes[(host, key)] = who
            return key
        base, n, cand = key, 1, key
        while self._volume_holder(host, cand):
            n += 1
            cand = f"{base}-{n}"
        self.volumes[(host, cand)] = who
        return cand

    def take_domain(self, who: str, host: str, name: str) -> None:
        """Claim a domain name on a host; one already there is a conflict."""
        holder = self.domains.get((host, name)) or self._theirs(self._hosts[host].domains.get(name))
        if holder:
            self.conflicts.append(Conflict("domain", f"name {name} on host {host}", who, holder))
        self.domains[(host, name)] = who

    # --- IP ranges ---------------------------------------------------------------------------------
    def _range_holder(self, lo: int, hi: int, *, host_nets: bool) -> str | None:
        """Return who holds an address range overlapping ``[lo, hi]``, or None."""
        for a, b, owner in self._ranges.overlaps(lo, hi):
            if not (self._own_ranges and owner.startswith(self._own_ranges)):
                return f"{owner} {range_str(a, b)}"
        for a, b, owner in self.ranges:
            if a <= hi and lo <= b:
                return f"{owner} {range_str(a, b)}"
        if host_nets:
            for net, owner in self._host_networks:
                if int(net.network_address) <= hi and lo <= int(net.broadcast_address):
                    return owner
        return None

    def take_range(self, who: str, text: str, *, host_nets: bool = True,
                   within: ipaddress.IPv4Network | None = None) -> tuple[int, int]:
        """Hold an asked range; an overlap with a cloud or host network is a conflict naming both."""
        lo, hi = parse_range(text)
        if within is not None and not (int(within.network_address) <= lo and hi <= int(within.broadcast_address)):
            raise VmError(f"{who}: {text} is outside the lab network {within}",
                          hint=f"give an address in {within}, or leave it out to allocate one")
        holder = self._range_holder(lo, hi, host_nets=host_nets)
        if holder:
            self.conflicts.append(Conflict("ip-range", range_str(lo, hi), who, holder))
        self.ranges.append((lo, hi, who))
        return lo, hi

    def find_range(self, who: str, pools: list[ipaddress.IPv4Network], size: int, cursor: dict[str, int],
                   key: str, *, host_nets: bool = True) -> tuple[int, int]:
        """Hold the first free aligned block of ``size`` addresses in ``pools`` (``cursor[key]`` remembers where)."""
        index = cursor.get(key, 0)
        blocks = [(int(p.network_address), p.num_addresses // size) for p in pools]
        total = sum(n for _, n in blocks)
        while index < total:
            k, off = index, 0
            for base, n in blocks:
                if k < n:
                    off = base + k * size
                    break
                k -= n
            lo, hi = off, off + size - 1
            if not self._range_holder(lo, hi, host_nets=host_nets):
                self.ranges.append((lo, hi, who))
                cursor[key] = index + 1
                return lo, hi
            index += 1
        raise VmError(f"no free block of {size} addresses left for {who} in {', '.join(map(str, pools))}",
                      hint="give the range yourself or use a larger lab network")


def as_range(lo: int, hi: int) -> IpRange:
    """Return integer bounds as an :class:`IpRange`."""
    return IpRange(ip_str(lo), ip_str(hi))
