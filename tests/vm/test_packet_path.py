"""The packet path: host NIC to the nested instance's eth0, with NAT where the network mode puts it."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from labkit.vm import Lab, VmError, packet_path

pytestmark = pytest.mark.unit

KINDS = ["physical NIC", "host bridge", "host tap", "VM NIC (virtio)", "VM bridge", "VM tap (instance)",
         "nested instance NIC"]


def test_edge_mode_nats_on_the_node_controller():
    plan = Lab().plan_cloud("alpha", topology="fe+nc", nodes=2, network_mode="EDGE")
    path = packet_path(plan, "nc2")
    assert [h.kind for h in path.hops] == KINDS
    assert [h.step for h in path.hops] == list(range(1, 8))
    nat = [h for h in path.hops if h.nat]
    assert [h.kind for h in nat] == ["VM bridge"] and "alpha-nc2" in nat[0].nat
    assert path.hops[3].address == plan.vms[2].ip
    assert path.hops[2].address == f"MAC {plan.vms[2].nic.mac}"
    assert plan.public_range.first in nat[0].nat


def test_managed_mode_nats_on_the_frontend():
    plan = Lab().plan_cloud("alpha", topology="fe+nc", nodes=1, network_mode="MANAGED")
    path = packet_path(plan)
    nat = [h for h in path.hops if h.nat]
    assert len(nat) == 1 and "alpha-fe" in nat[0].nat and "VLAN" in nat[0].nat
    assert path.hops[-1].kind == "nested instance NIC" and len(path.hops) == 8


def test_cloud_in_a_box_managed_novlan_nats_on_its_one_vm():
    plan = Lab().plan_cloud("alpha", network_mode="MANAGED-NOVLAN")
    nat = [h for h in packet_path(plan).hops if h.nat]
    assert [h.kind for h in nat] == ["VM NIC (virtio)"] and "VLAN" not in nat[0].nat


def test_system_mode_has_no_nat():
    plan = Lab().plan_cloud("alpha", network_mode="SYSTEM")
    path = packet_path(plan)
    assert not any(h.nat for h in path.hops)
    assert path.hops[-1].address == plan.public_range.first
    assert "no NAT" in path.svg()


def test_the_drawing_is_svg_with_one_box_per_hop_and_nat_in_red():
    plan = Lab().plan_cloud("alpha", topology="fe+nc", nodes=1)
    path = packet_path(plan)
    root = ET.fromstring(path.svg())
    ns = {"s": "http://www.w3.org/2000/svg"}
    hops = root.findall("s:g[@class='hop']", ns)
    assert [int(g.get("data-step")) for g in hops] == [h.step for h in path.hops]
    red = [g for g in hops if g.find("s:rect", ns).get("stroke") == "#d93025"]
    assert len(red) == 1 and red[0].get("data-step") == "5"
    assert path._repr_svg_() == path.svg()


def test_unknown_node_controller_is_a_vm_error():
    plan = Lab().plan_cloud("alpha", topology="fe+nc", nodes=1)
    with pytest.raises(VmError, match="alpha-nc1"):
        packet_path(plan, "nc7")
