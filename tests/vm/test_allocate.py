"""Allocation never conflicts; a conflict the user asks for is a clear error naming both parties and changes nothing."""

from __future__ import annotations

import copy
import ipaddress

import pytest

from labkit.vm import DomainFacts, HostInventory, Lab, VmError, mac_for
from labkit.vm.allocate import RangeSet, parse_range

pytestmark = pytest.mark.unit


def _state(lab: Lab):
    """Everything a lab holds, deep-copied, to prove a failed plan changed nothing."""
    return copy.deepcopy((lab.clouds, lab._macs, lab._state, lab._ranges, lab._cursor))


def _ranges_of(lab: Lab):
    out = []
    for plan in lab.clouds.values():
        lo, hi = parse_range(str(plan.public_range))
        out.append((lo, hi, f"{plan.name} public"))
        lo, hi = parse_range(plan.private_subnet)
        out.append((lo, hi, f"{plan.name} private"))
    return out


def test_mac_is_stable_per_vm_name_and_has_the_qemu_prefix():
    assert mac_for("alpha-ciab") == mac_for("alpha-ciab")
    assert mac_for("alpha-ciab") != mac_for("alpha-nc1")
    assert mac_for("alpha-ciab").startswith("52:54:00:")
    a, b = Lab(), Lab()
    assert a.plan_cloud("alpha").vms[0].nic.mac == b.plan_cloud("alpha").vms[0].nic.mac


def test_many_clouds_get_unique_macs_displays_volumes_and_disjoint_ranges():
    lab = Lab(network="10.200.0.0/16")
    for i in range(30):
        lab.plan_cloud(f"c{i}", topology="fe+nc", nodes=3)
    vms = [v for p in lab.clouds.values() for v in p.vms]
    assert len(vms) == 120
    assert len({v.nic.mac for v in vms}) == 120
    assert len({v.vnc.port for v in vms}) == 120
    assert len({v.disk.path for v in vms}) == 120
    assert len({v.ip for v in vms}) == 120
    ranges = sorted(_ranges_of(lab))
    for (_, hi1, a), (lo2, _, b) in zip(ranges, ranges[1:], strict=False):
        assert hi1 < lo2, f"{a} overlaps {b}"
    for v in vms:  # no VM address falls inside any cloud's public range or private subnet
        ip = int(ipaddress.IPv4Address(v.ip))
        assert not any(lo <= ip <= hi for lo, hi, _ in ranges)


def test_allocation_skips_what_the_host_already_has():
    taken_mac = mac_for("alpha-ciab")
    host = HostInventory(name="hv1")
    host.add_domain(DomainFacts(name="old", source="old.xml", macs=(taken_mac,), vnc_ports=(5901, 5902),
                                disks=("/dev/vg01/alpha-ciab",)))
    host.vnc_ports[5903] = "a process listening on port 5903"
    host.networks.append((ipaddress.IPv4Network("172.16.0.0/16"), "host network 172.16.0.0/16 on eth1"))
    vm = Lab([host]).plan_cloud("alpha", hosts=("hv1",)).vms[0]
    assert vm.nic.mac != taken_mac and vm.nic.mac.startswith("52:54:00:")
    assert vm.vnc.display == 4
    assert vm.disk.path == "vg01/alpha-ciab-2"  # never reuses an existing volume
    plan = Lab([host]).plan_cloud("alpha", hosts=("hv1",))
    assert not ipaddress.IPv4Network(plan.private_subnet).overlaps(ipaddress.IPv4Network("172.16.0.0/16"))


def test_overlapping_ip_ranges_name_both_clouds_and_change_nothing():
    lab = Lab()
    lab.plan_cloud("alpha", public_range="192.168.100.200-192.168.100.220")
    before = _state(lab)
    with pytest.raises(VmError) as err:
        lab.plan_cloud("beta", public_range="192.168.100.210-192.168.100.230")
    msg = str(err.value)
    assert "cloud 'beta'" in msg and "cloud 'alpha'" in msg and "192.168.100.200-192.168.100.220" in msg
    assert err.value.conflicts[0].kind == "ip-range"
    assert _state(lab) == before
    with pytest.raises(VmError, match="alpha"):  # a private subnet over alpha's public range clashes too
        lab.plan_cloud("gamma", private_subnet="192.168.100.192/27")
    assert _state(lab) == before


def test_private_subnet_over_a_host_network_is_refused():
    host = HostInventory()
    host.networks.append((ipaddress.IPv4Network("10.1.0.0/16"), "host network 10.1.0.0/16 on eth1"))
    lab = Lab([host])
    with pytest.raises(VmError, match=r"cloud 'alpha' private subnet.*host network 10\.1\.0\.0/16 on eth1"):
        lab.plan_cloud("alpha", private_subnet="10.1.128.0/20")
    assert lab.clouds == {}


def test_duplicate_mac_names_both_vms_and_changes_nothing():
    lab = Lab()
    alpha = lab.plan_cloud("alpha")
    before = _state(lab)
    with pytest.raises(VmError) as err:
        lab.plan_cloud("beta", topology="fe+nc", nodes=2, macs={"nc2": alpha.vms[0].nic.mac.upper()})
    msg = str(err.value)
    assert alpha.vms[0].nic.mac in msg and "beta/nc2" in msg and "alpha/ciab" in msg
    assert _state(lab) == before
    # two VMs of one request asking for the same MAC clash with each other
    with pytest.raises(VmError, match="beta/nc2.*beta/nc1"):
        lab.plan_cloud("beta", topology="fe+nc", nodes=2, macs={"nc1": "52:54:00:aa:bb:cc", "nc2": "52:54:00:aa:bb:cc"})
    assert _state(lab) == before


def test_duplicate_mac_against_a_host_domain_names_that_domain():
    host = HostInventory(name="hv1")
    host.add_domain(DomainFacts(name="web1", macs=("52:54:00:12:34:60",)))
    lab = Lab([host])
    with pytest.raises(VmError, match=r"52:54:00:12:34:60.*alpha/ciab.*domain 'web1' on host hv1"):
        lab.plan_cloud("alpha", macs={"ciab": "52:54:00:12:34:60"})


def test_taken_vnc_port_names_its_holder_and_changes_nothing():
    host = HostInventory(name="hv1")
    host.vnc_ports[5905] = "a process listening on port 5905"
    lab = Lab([host])
    lab.plan_cloud("alpha", vnc_displays={"ciab": 1})
    before = _state(lab)
    for display, holder in ((1, "alpha/ciab"), (5, "a process listening on port 5905")):
        with pytest.raises(VmError) as err:
            lab.plan_cloud("beta", vnc_displays={"ciab": display})
        assert f"display :{display} (port {5900 + display})" in str(err.value)
        assert "beta/ciab" in str(err.value) and holder in str(err.value)
        assert _state(lab) == before


def test_existing_volume_is_never_reused_and_changes_nothing():
    host = HostInventory(name="hv1")
    host.volumes["vg01/ciab"] = "volume ciab in pool 'vg01'"
    lab = Lab([host])
    before = _state(lab)
    with pytest.raises(VmError) as err:
        lab.plan_cloud("alpha", volumes={"ciab": "ciab"})
    msg = str(err.value)
    assert "vg01/ciab" in msg and "alpha/ciab" in msg and "volume ciab in pool 'vg01'" in msg
    assert "never reuses" in err.value.hint
    assert _state(lab) == before


def test_check_lists_every_conflict_without_planning():
    from labkit.vm import CloudRequest

    lab = Lab()
    alpha = lab.plan_cloud("alpha", public_range="192.168.100.200-192.168.100.220")
    req = CloudRequest("beta", public_range="192.168.100.205", macs={"ciab": alpha.vms[0].nic.mac},
                       vnc_displays={"ciab": alpha.vms[0].vnc.display}, volumes={"ciab": alpha.vms[0].disk.lv})
    kinds = sorted(c.kind for c in lab.check(req))
    assert kinds == ["ip-range", "mac", "vnc", "volume"]
    assert "beta" not in lab.clouds


def test_removing_a_cloud_frees_what_it_held():
    lab = Lab()
    plan = lab.plan_cloud("alpha", public_range="192.168.100.200-192.168.100.220")
    lab.remove_cloud("alpha")
    again = lab.plan_cloud("beta", public_range="192.168.100.200-192.168.100.220", macs={"ciab": plan.vms[0].nic.mac})
    assert again.vms[0].nic.mac == plan.vms[0].nic.mac


@pytest.mark.parametrize("bad, hint", [
    (dict(topology="star"), "cloud-in-a-box"),
    (dict(topology="fe+nc", nodes=0), "nodes=1"),
    (dict(network_mode="FLAT"), "EDGE"),
    (dict(macs={"ciab": "01:00:5e:00:00:01"}), "52:54:00"),
    (dict(macs={"nc9": "52:54:00:00:00:01"}), "ciab"),
    (dict(public_range="10.0.0.9-10.0.0.1"), "lower address first"),
    (dict(disk_gb=0), "disk_gb=1 or more"),
    (dict(disk_gb=-4), "disk_gb=1 or more"),
    (dict(bridge="br 0"), "e.g. br0"),
    (dict(bridge="a-bridge-name-too-long"), "e.g. br0"),
    (dict(vg="/dev/vg01"), "e.g. vg01"),
    (dict(vg=""), "e.g. vg01"),
])
def test_bad_input_is_a_vm_error_with_a_hint(bad, hint):
    lab = Lab()
    with pytest.raises(VmError) as err:
        lab.plan_cloud("alpha", **bad)
    assert hint in str(err.value)
    assert lab.clouds == {}


def test_range_set_finds_overlaps_by_bisection():
    rs = RangeSet()
    rs.add(10, 19, "a")
    rs.add(30, 39, "b")
    assert rs.overlapping(0, 9) is None and rs.overlapping(20, 29) is None and rs.overlapping(40, 50) is None
    assert rs.overlapping(15, 32)[2] in ("a", "b")
    assert rs.overlapping(35, 35)[2] == "b"
    assert rs.overlapping(0, 100) is not None
