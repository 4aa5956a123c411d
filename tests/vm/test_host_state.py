"""The host keeps what labkit planned: a second lab read from the same host never hands out the first cloud's
ranges, subnet, IPs, MACs, displays or volumes, even once the first cloud's domains are gone."""

from __future__ import annotations

import ipaddress
import xml.etree.ElementTree as ET

import pytest

from labkit.vm import Lab, VmError, launch, parse_domain_xml
from labkit.vm.allocate import parse_range
from labkit.vm.connection import connect
from labkit.vm.record import RECORD_DOMAIN
from labkit.vm.spec import LABKIT_NS

pytestmark = pytest.mark.integration
libvirt = pytest.importorskip("libvirt", reason="libvirt-python is not installed (make setup)")

def held(plan):
    """What a plan holds, each as a set of plain values (an oracle independent of the allocator's own tables)."""
    ranges = [parse_range(str(plan.public_range)), parse_range(plan.private_subnet)]
    ranges += [parse_range(vm.ip) for vm in plan.vms]
    return {"ranges": ranges, "macs": {vm.nic.mac for vm in plan.vms},
            "ports": {(vm.host, vm.vnc.port) for vm in plan.vms},
            "volumes": {(vm.host, vm.disk.device) for vm in plan.vms}}


def assert_disjoint(a, b):
    ha, hb = held(a), held(b)
    for lo1, hi1 in ha["ranges"]:
        for lo2, hi2 in hb["ranges"]:
            assert hi1 < lo2 or hi2 < lo1, f"{a.name} and {b.name} share addresses"
    for key in ("macs", "ports", "volumes"):
        assert not ha[key] & hb[key], f"{a.name} and {b.name} share {key}: {ha[key] & hb[key]}"


def test_two_labs_from_the_same_host_never_share_anything(host_uri):
    first = Lab.from_host(host_uri, probe_host=False)
    alpha = first.plan_cloud("alpha", topology="fe+nc", nodes=2, iso="/isos/silvereye.iso")
    launch(alpha, uri=host_uri, dry_run=False)
    second = Lab.from_host(host_uri, probe_host=False)  # a new lab knows nothing but what the host tells it
    assert second.hosted["alpha"] == alpha
    beta = second.plan_cloud("beta", topology="fe+nc", nodes=2, iso="/isos/silvereye.iso")
    assert_disjoint(alpha, beta)
    # asking beta for alpha's public range names alpha as the holder
    with pytest.raises(VmError, match=r"cloud 'gamma' public range.*cloud 'alpha' public range"):
        second.plan_cloud("gamma", public_range=str(alpha.public_range))


def test_the_record_survives_a_cloud_with_no_domain_left(host_uri):
    alpha = Lab.from_host(host_uri, probe_host=False).plan_cloud("alpha")
    launch(alpha, uri=host_uri, dry_run=False)
    conn = connect(host_uri)
    for vm in alpha.vms:  # someone removes the domains by hand (virsh destroy; virsh undefine)
        dom = conn.lookupByName(vm.name)
        dom.destroy()
        dom.undefine()
    record = ET.fromstring(conn.lookupByName(RECORD_DOMAIN).XMLDesc(0))
    assert [c.get("name") for c in record.iter(f"{{{LABKIT_NS}}}cloud")] == ["alpha"]
    assert not conn.lookupByName(RECORD_DOMAIN).isActive()
    beta = Lab.from_host(host_uri, probe_host=False).plan_cloud("beta")
    assert_disjoint(alpha, beta)


def test_replanning_a_recorded_cloud_gives_back_what_was_recorded(host_uri):
    alpha = Lab.from_host(host_uri, probe_host=False).plan_cloud("alpha", topology="fe+nc", nodes=1,
                                                                   public_ips=8)
    launch(alpha, uri=host_uri, dry_run=False)
    again = Lab.from_host(host_uri, probe_host=False).plan_cloud("alpha", topology="fe+nc", nodes=1, public_ips=8)
    assert again == alpha
    assert {s.action for s in launch(again, uri=host_uri)} == {"leave"}


def test_each_domain_carries_its_clouds_ranges_and_its_own_vm(host_uri):
    alpha = Lab.from_host(host_uri, probe_host=False).plan_cloud("alpha", topology="fe+nc", nodes=2)
    launch(alpha, uri=host_uri, dry_run=False)
    conn = connect(host_uri)
    for vm in alpha.vms:
        (part,) = parse_domain_xml(conn.lookupByName(vm.name).XMLDesc(0)).recorded
        assert part.vms == [vm] and part.public_range == alpha.public_range
    # without labkit's record, the domains together still give the whole plan back
    conn.lookupByName(RECORD_DOMAIN).undefine()
    assert Lab.from_host(host_uri, probe_host=False).hosted["alpha"] == alpha


def test_websocket_and_spice_ports_of_a_domain_are_held(host_uri):
    conn = connect(host_uri)
    conn.defineXML("""<domain type='kvm'><name>desk</name><memory unit='MiB'>256</memory><vcpu>1</vcpu>
      <os><type arch='x86_64'>hvm</type></os><devices>
      <graphics type='vnc' port='5903' websocket='5904' autoport='no'/>
      <graphics type='spice' port='5905' tlsPort='5906' autoport='no'/></devices></domain>""")
    lab = Lab.from_host(host_uri, probe_host=False)
    for display in range(2, 8):
        port = 5900 + display
        if port in (5903, 5904, 5905, 5906):
            with pytest.raises(VmError, match=rf"port {port}\).*domain 'desk'"):
                lab.plan_cloud("alpha", vnc_displays={"ciab": display})
    vm = lab.plan_cloud("alpha").vms[0]
    assert vm.vnc.port == 5902  # 5901 is web1's, 5903-5906 desk's
    vms = [lab.plan_cloud(f"c{i}").vms[0].vnc.port for i in range(3)]
    assert vms == [5907, 5908, 5909]


def test_an_iso_missing_on_the_host_is_refused_and_nothing_changes(host_uri):
    conn = connect(host_uri)
    before = sorted(d.name() for d in conn.listAllDomains())
    for iso, words in (("/isos/missing.iso", "does not exist in any storage pool"),
                       ("silvereye.iso", "is relative")):
        plan = Lab.from_host(host_uri, probe_host=False).plan_cloud("alpha", iso=iso)
        for dry_run in (True, False):
            with pytest.raises(VmError, match=words):
                launch(plan, uri=host_uri, dry_run=dry_run)
        assert sorted(d.name() for d in conn.listAllDomains()) == before


def test_the_record_is_never_started_and_holds_no_devices(host_uri):
    launch(Lab.from_host(host_uri, probe_host=False).plan_cloud("alpha"), uri=host_uri, dry_run=False)
    root = ET.fromstring(connect(host_uri).lookupByName(RECORD_DOMAIN).XMLDesc(0))
    assert root.find("devices/disk") is None and root.find("devices/interface") is None
    assert "never started" in root.findtext("description").lower()
    lab = Lab.from_host(host_uri, probe_host=False)
    assert RECORD_DOMAIN not in lab.hosts["local"].domains


def test_a_public_range_inside_the_recorded_vm_addresses_is_refused(host_uri):
    alpha = Lab.from_host(host_uri, probe_host=False).plan_cloud("alpha")
    launch(alpha, uri=host_uri, dry_run=False)
    ip = ipaddress.IPv4Address(alpha.vms[0].ip)
    with pytest.raises(VmError, match=r"VM alpha/ciab"):
        Lab.from_host(host_uri, probe_host=False).plan_cloud("beta", public_range=f"{ip}-{ip + 3}")
