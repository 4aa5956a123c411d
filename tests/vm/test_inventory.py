"""Inventory reads real domain XML (libvirt's own test data) and the plan steers clear of what it holds."""

from __future__ import annotations

import csv
import re

import pytest

from labkit.vm import Lab, VmError, inventory_from_files, parse_domain_xml
from labkit.vm.inventory import host_routes, listening_ports, volume_key

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def confdata(shared_data):
    path = shared_data / "libvirt"
    if not (path / "PAIRS.tsv").is_file():
        pytest.skip(f"libvirt qemuxmlconfdata not found under {path}")
    with open(path / "PAIRS.tsv", encoding="utf-8") as fh:
        pairs = list(csv.DictReader(fh, delimiter="\t"))
    return path, pairs


def test_every_fact_read_from_a_domain_xml_shows_in_libvirts_own_qemu_args(confdata):
    path, pairs = confdata
    checked = {"macs": 0, "disks": 0, "vnc": 0, "cpu": 0}
    for pair in pairs:
        facts = parse_domain_xml((path / pair["input_xml"]).read_text(encoding="utf-8"), source=pair["test"])
        args = (path / pair["expected_args"]).read_text(encoding="utf-8")
        assert facts.name and f"guest={facts.name}" in args
        for mac in facts.macs:
            assert f"mac={mac}" in args or f'"mac":"{mac}"' in args, (pair["test"], mac)
            checked["macs"] += 1
        for disk in facts.disks + facts.cdroms:
            if disk.startswith("/"):
                assert f'"filename":"{disk}"' in args, (pair["test"], disk)
                checked["disks"] += 1
        vnc = re.findall(r"-vnc '?([^ ']+)", args)
        for port in facts.vnc_ports:
            assert any(v.split(",")[0].endswith(f":{port - 5900}") for v in vnc), (pair["test"], port, vnc)
            checked["vnc"] += 1
        cpu = re.search(r"-cpu (\S+)", args)
        for feat in facts.cpu_features:
            policy, name = feat.split(":")
            want = "off" if policy in ("disable", "forbid") else "on"
            assert f"{name}={want}" in cpu.group(1), (pair["test"], feat)
            checked["cpu"] += 1
    assert all(checked.values()), checked


def test_a_lab_over_those_domains_avoids_their_macs_ports_and_disks(confdata):
    path, _ = confdata
    inv = inventory_from_files(sorted((path / "qemuxmlconfdata").glob("*.xml")), name="confdata")
    assert inv.macs and inv.vnc_ports and inv.volumes
    lab = Lab([inv])
    for i in range(5):
        plan = lab.plan_cloud(f"c{i}", topology="fe+nc", nodes=2, hosts=("confdata",))
        for vm in plan.vms:
            assert vm.nic.mac not in inv.macs and vm.vnc.port not in inv.vnc_ports
    taken = next(iter(inv.macs))
    with pytest.raises(VmError) as err:
        lab.plan_cloud("dup", macs={"ciab": taken}, hosts=("confdata",))
    assert inv.macs[taken] in str(err.value) and "dup/ciab" in str(err.value)
    port = next(iter(inv.vnc_ports))
    with pytest.raises(VmError, match=re.escape(inv.vnc_ports[port])):
        lab.plan_cloud("dup", vnc_displays={"ciab": port - 5900}, hosts=("confdata",))
    vol = next(k for k in inv.volumes if k.count("/") == 1)
    vg, lv = vol.split("/")
    with pytest.raises(VmError, match="volume"):
        lab.plan_cloud("dup", vg=vg, volumes={"ciab": lv}, hosts=("confdata",))


def test_not_a_domain_is_a_clear_error(tmp_path):
    bad = tmp_path / "pool.xml"
    bad.write_text("<pool type='dir'/>")
    with pytest.raises(VmError, match="not a <domain>"):
        inventory_from_files([bad])
    bad.write_text("<domain>")
    with pytest.raises(VmError, match="not well-formed"):
        inventory_from_files([bad])


def test_volume_keys_for_lvm_paths():
    assert volume_key("/dev/vg01/ciab") == "vg01/ciab"
    assert volume_key("/dev/mapper/vg01-ciab") == "vg01/ciab"
    assert volume_key("/var/lib/libvirt/images/a.qcow2") == "/var/lib/libvirt/images/a.qcow2"


def test_ports_and_routes_come_from_a_fake_proc(tmp_path):
    net = tmp_path / "proc/net"
    net.mkdir(parents=True)
    (net / "tcp").write_text(
        "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
        "   0: 0100007F:170D 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1\n"
        "   1: 0100007F:170E 0100007F:9C40 01 00000000:00000000 00:00000000 00000000     0        0 2\n")
    (net / "route").write_text(
        "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"
        "eth0\t00000000\t0101A8C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n"
        "eth1\t0000010A\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0\n")
    assert listening_ports(tmp_path) == {5901: "a process listening on port 5901"}
    routes = host_routes(tmp_path)
    assert [str(n) for n, _ in routes] == ["10.1.0.0/16"] and "eth1" in routes[0][1]
