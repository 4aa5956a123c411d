"""The packet path from the physical NIC to a nested instance's eth0, with where NAT happens, as a table and an SVG."""

from __future__ import annotations

import html
import ipaddress
from dataclasses import dataclass

from labkit.vm.errors import VmError
from labkit.vm.spec import CloudPlan

# Where each Eucalyptus network mode translates public to private addresses.
NAT_AT = {
    "EDGE": "nc-bridge",        # eucanetd on every node controller: iptables DNAT/SNAT
    "MANAGED": "frontend",      # the cluster controller on the frontend
    "MANAGED-NOVLAN": "frontend",
    "SYSTEM": None,             # instances sit on the physical LAN: no NAT
    "STATIC": None,
}
LAYERS = ("physical host", "node controller VM", "nested instance")


@dataclass(frozen=True)
class Hop:
    """One device a packet crosses on its way in, and what happens there."""

    step: int
    layer: str
    device: str
    kind: str
    address: str
    nat: str


@dataclass
class PacketPath:
    """The hops for one instance of a planned cloud; ``svg()`` draws them, a notebook shows the drawing."""

    cloud: str
    network_mode: str
    hops: list[Hop]

    def rows(self) -> list[Hop]:
        """Return the hops as table rows."""
        return list(self.hops)

    def svg(self) -> str:
        """Return the path drawn as a standalone SVG document (no plotting library needed)."""
        return path_svg(self)

    def _repr_svg_(self) -> str:
        """Render the diagram as SVG in a notebook."""
        return self.svg()


def packet_path(plan: CloudPlan, nc: str | None = None) -> PacketPath:
    """Return the chain host NIC → host bridge → host tap → VM eth0 → VM bridge → VM tap → nested eth0."""
    ncs = plan.node_controllers
    if nc:
        match = [v for v in ncs if v.name == nc or v.name.endswith(f"-{nc}")]
        if not match:
            raise VmError(f"cloud '{plan.name}' has no node controller {nc!r}",
                          hint=f"use one of: {', '.join(v.name for v in ncs)}")
        node = match[0]
    else:
        node = ncs[0]
    mode = plan.network_mode
    nat_at = NAT_AT.get(mode)
    private = ipaddress.IPv4Network(plan.private_subnet, strict=False) if "/" in plan.private_subnet else None
    inst_private = str(private.network_address + 2) if private else plan.private_subnet.split("-")[0]
    inst_public = plan.public_range.first
    front = plan.frontend
    in_nc_bridge = "eucabr" if mode == "MANAGED" else plan.bridge
    nat_front = (f"DNAT {inst_public} → {inst_private} on the cluster controller ({front.name}), "
                 f"{'VLAN-tagged ' if mode == 'MANAGED' else ''}to {node.name}") if nat_at == "frontend" else ""
    hops = [
        Hop(1, LAYERS[0], "eth0", "physical NIC", "", ""),
        Hop(2, LAYERS[0], plan.bridge, "host bridge", f"LAN {plan.gateway} gateway", ""),
        Hop(3, LAYERS[0], f"vnet/tap of {node.name}", "host tap", f"MAC {node.nic.mac}", ""),
        Hop(4, LAYERS[1], "eth0", "VM NIC (virtio)", node.ip or "", nat_front if front is node else ""),
        Hop(5, LAYERS[1], in_nc_bridge, "VM bridge", "",
            f"DNAT {inst_public} → {inst_private}, SNAT back (eucanetd iptables on {node.name})"
            if nat_at == "nc-bridge" else ""),
        Hop(6, LAYERS[1], "vnet0", "VM tap (instance)", "", ""),
        Hop(7, LAYERS[2], "eth0", "nested instance NIC",
            inst_public if nat_at is None else f"{inst_private} (public {inst_public})", ""),
    ]
    if nat_at == "frontend" and front is not node:
        # the public address lives on the frontend; the NC only sees private traffic
        hops.insert(2, Hop(0, LAYERS[0], f"vnet/tap of {front.name}", "host tap → frontend eth0 → back",
                           front.ip or "", nat_front))
        hops = [Hop(i + 1, h.layer, h.device, h.kind, h.address, h.nat) for i, h in enumerate(hops)]
    return PacketPath(plan.name, mode, hops)


def path_svg(path: PacketPath) -> str:
    """Draw a packet path as boxes (one per hop, grouped by layer) joined by arrows; NAT hops in red."""
    box_w, box_h, gap, top = 150, 70, 30, 60
    width = len(path.hops) * (box_w + gap) + gap
    height = top + box_h + 120
    # as wide as the page allows and never wider than drawn: the viewBox scales it, keeping its proportions
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="100%" style="max-width:{width}px;height:auto" '
             f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">',
             '<defs><marker id="arrow" markerWidth="10" markerHeight="8" refX="9" refY="4" orient="auto">'
             '<path d="M0,0 L10,4 L0,8 z" fill="#444"/></marker></defs>',
             f'<text x="{gap}" y="22" font-size="14" font-weight="bold">'
             f'{html.escape(path.cloud)}: packet path in {html.escape(path.network_mode)} mode</text>']
    colours = {LAYERS[0]: "#e8f0fe", LAYERS[1]: "#e6f4ea", LAYERS[2]: "#fef7e0"}
    # one band per layer behind its hops
    for layer in LAYERS:
        idx = [i for i, h in enumerate(path.hops) if h.layer == layer]
        if not idx:
            continue
        x0 = gap / 2 + idx[0] * (box_w + gap)
        x1 = gap / 2 + (idx[-1] + 1) * (box_w + gap)
        parts.append(f'<rect x="{x0}" y="{top - 25}" width="{x1 - x0}" height="{box_h + 40}" rx="8" '
                     f'fill="{colours[layer]}" stroke="#bbb"/>')
        parts.append(f'<text x="{x0 + 8}" y="{top - 10}" fill="#555">{html.escape(layer)}</text>')
    for i, hop in enumerate(path.hops):
        x = gap + i * (box_w + gap)
        stroke = "#d93025" if hop.nat else "#444"
        parts.append(f'<g class="hop" data-step="{hop.step}"><rect x="{x}" y="{top}" width="{box_w}" height="{box_h}" '
                     f'rx="6" fill="white" stroke="{stroke}" stroke-width="{3 if hop.nat else 1.5}"/>')
        parts.append(f'<text x="{x + box_w / 2}" y="{top + 22}" text-anchor="middle" font-weight="bold">'
                     f'{html.escape(hop.device[:22])}</text>')
        parts.append(f'<text x="{x + box_w / 2}" y="{top + 40}" text-anchor="middle">{html.escape(hop.kind[:24])}</text>')
        parts.append(f'<text x="{x + box_w / 2}" y="{top + 58}" text-anchor="middle" fill="#555">'
                     f'{html.escape(hop.address[:24])}</text></g>')
        if i:
            parts.append(f'<line x1="{x - gap}" y1="{top + box_h / 2}" x2="{x - 2}" y2="{top + box_h / 2}" '
                         f'stroke="#444" stroke-width="1.5" marker-end="url(#arrow)"/>')
    nat = [h for h in path.hops if h.nat]
    y = top + box_h + 45
    for h in nat:
        parts.append(f'<text x="{gap}" y="{y}" fill="#d93025">NAT at step {h.step} ({html.escape(h.device)}): '
                     f'{html.escape(h.nat)}</text>')
        y += 18
    if not nat:
        parts.append(f'<text x="{gap}" y="{y}" fill="#555">no NAT: instances use addresses on the LAN</text>')
    parts.append("</svg>")
    return "\n".join(parts)
