"""Launch through libvirt's real test driver: XML accepted and read back, idempotent, clean teardown, no half-launch."""

from __future__ import annotations

import pytest

from labkit.vm import (
    Lab,
    VmError,
    connect,
    connections,
    destroy,
    domain_xml,
    host_checks,
    launch,
    parse_domain_xml,
    sandbox_pool,
)
from labkit.vm.connection import disconnect
from tests.vm.conftest import host_file_uri

pytestmark = pytest.mark.integration
libvirt = pytest.importorskip("libvirt", reason="libvirt-python is not installed (pip install libvirt-python)")

def _snapshot(uri: str):
    conn = connect(uri)
    doms = sorted((d.name(), d.isActive(), d.XMLDesc(0)) for d in conn.listAllDomains())
    vols = sorted(v.name() for p in conn.listAllStoragePools() for v in p.listAllVolumes())
    return doms, vols


def test_rendered_xml_is_accepted_and_read_back_unchanged(host_uri):
    lab = Lab.from_host(host_uri, probe_host=False)
    vm = lab.plan_cloud("alpha", iso="/isos/silvereye.iso").vms[0]
    conn = connect(host_uri)
    dom = conn.defineXML(domain_xml(vm))
    dom.create()
    back = parse_domain_xml(dom.XMLDesc(0))
    assert back.macs == (vm.nic.mac,)
    assert back.bridges == (vm.nic.bridge,)
    assert back.vnc_ports == (vm.vnc.port,) and back.vnc_listen == ("127.0.0.1",)
    assert back.disks == (vm.disk.device,)
    assert back.cpu_model == vm.cpu_model and back.cpu_features == (f"require:{vm.cpu_features[0]}",)
    assert back.cdroms == ("/isos/silvereye.iso",) and back.boot == ("cdrom", "hd")


def test_lab_from_host_steers_clear_of_what_the_host_has(host_uri):
    lab = Lab.from_host(host_uri, probe_host=False)
    vm = lab.plan_cloud("alpha", volumes={}).vms[0]
    assert vm.nic.mac != "52:54:00:12:34:60" and vm.vnc.port != 5901
    with pytest.raises(VmError, match=r"vg01/web1.*beta/ciab.*domain .web1."):
        lab.plan_cloud("beta", volumes={"ciab": "web1"})


def test_launch_is_a_dry_run_by_default_then_idempotent_and_destroy_removes_only_its_own(host_uri):
    lab = Lab.from_host(host_uri, probe_host=False)
    plan = lab.plan_cloud("alpha", topology="fe+nc", nodes=2, iso="/isos/silvereye.iso")
    before = _snapshot(host_uri)
    steps = launch(plan, uri=host_uri)
    assert [s.action for s in steps] == ["create-volume", "define", "start"] * 3 + ["record"]
    assert not any(s.done for s in steps) and _snapshot(host_uri) == before
    done = launch(plan, uri=host_uri, dry_run=False)
    assert all(s.done for s in done)
    conn = connect(host_uri)
    for vm in plan.vms:
        assert conn.lookupByName(vm.name).isActive()
        assert conn.storagePoolLookupByName("vg01").storageVolLookupByName(vm.disk.lv).path() == vm.disk.device
    after = _snapshot(host_uri)
    again = launch(plan, uri=host_uri, dry_run=False)
    assert [s.action for s in again] == ["leave"] * 3 and _snapshot(host_uri) == after
    # a fresh lab over the launched host re-plans the same cloud identically (it recognises its own domains)
    replan = Lab.from_host(host_uri, probe_host=False).plan_cloud("alpha", topology="fe+nc", nodes=2,
                                                                    iso="/isos/silvereye.iso")
    assert [(v.nic.mac, v.vnc.port, v.disk.path) for v in replan.vms] == \
        [(v.nic.mac, v.vnc.port, v.disk.path) for v in plan.vms]
    assert [s.action for s in launch(replan, uri=host_uri)] == ["leave"] * 3
    rows = connections(plan)
    assert rows[0].admin_ui.endswith(":8443") and rows[0].user_console.endswith(":8888")
    assert rows[0].vnc == f"vnc://127.0.0.1:{plan.vms[0].vnc.port}" and rows[1].admin_ui == ""
    assert destroy(plan, uri=host_uri) and _snapshot(host_uri) == after  # dry run
    gone = destroy(plan, uri=host_uri, dry_run=False)
    assert {s.action for s in gone} == {"destroy", "undefine", "delete-volume", "unrecord"}
    assert _snapshot(host_uri) == before  # web1, its volume and the spare volume are still there; no record left


def test_a_different_domain_with_the_same_name_is_an_error(host_uri):
    plan = Lab.from_host(host_uri, probe_host=False).plan_cloud("alpha", memory_mb=2048)
    launch(plan, uri=host_uri, dry_run=False)
    bigger = Lab().plan_cloud("alpha", memory_mb=8192, macs={"ciab": plan.vms[0].nic.mac},
                              vnc_displays={"ciab": plan.vms[0].vnc.display})
    before = _snapshot(host_uri)
    with pytest.raises(VmError, match=r"different domain 'alpha-ciab'"):
        launch(bigger, uri=host_uri, dry_run=False)
    assert _snapshot(host_uri) == before


@pytest.mark.parametrize("kind, ask, holder", [
    ("mac", dict(macs={"ciab": "52:54:00:12:34:60"}, vnc_displays={"ciab": 9}), "domain 'web1'"),
    ("vnc", dict(vnc_displays={"ciab": 1}), "domain 'web1'"),
    ("volume", dict(volumes={"ciab": "spare"}, vnc_displays={"ciab": 9}), "volume spare in pool 'vg01'"),
])
def test_launch_time_conflicts_name_both_parties_and_change_nothing(host_uri, kind, ask, holder):
    plan = Lab().plan_cloud("alpha", **ask)  # planned without looking at the host
    before = _snapshot(host_uri)
    with pytest.raises(VmError) as err:
        launch(plan, uri=host_uri, dry_run=False)
    assert [c.kind for c in err.value.conflicts] == [kind]
    assert "alpha/ciab" in str(err.value) and holder in str(err.value) and "nothing was changed" in str(err.value)
    assert _snapshot(host_uri) == before


def test_volume_group_space_comes_from_the_libvirt_pool(tmp_path):
    uri = "test:///default"
    try:
        sandbox_pool(uri, "vg01")
        def space(**kw):
            return next(r for r in host_checks(tmp_path, uri=uri, **kw) if r.check.startswith("free space"))

        row = space(vg="vg01", need_gb=50)
        assert row.status == "ok" and "libvirt pool 'vg01'" in row.detail
        row = space(vg="vg01", need_gb=500)
        assert row.status == "fail" and "vgextend vg01" in row.fix
        row = space(vg="vg99", need_gb=5)
        assert row.status == "unknown" and "vgcreate vg99" in row.fix
    finally:
        disconnect(uri)


def test_a_bad_uri_is_a_vm_error():
    with pytest.raises(VmError, match="cannot connect to libvirt"):
        connect("test:///no/such/host.xml")


def test_node_controllers_spread_over_two_hypervisors(tmp_path):
    from labkit.vm import inventory_from_host

    uris = [host_file_uri(tmp_path, f"{name}.xml") for name in ("hv1", "hv2")]
    try:
        hosts = [inventory_from_host(u, name=n, probe_host=False) for n, u in zip(("hv1", "hv2"), uris, strict=True)]
        lab = Lab(hosts)
        plan = lab.plan_cloud("alpha", topology="fe+nc", nodes=3, hosts=("hv1", "hv2"))
        assert [v.host for v in plan.vms] == ["hv1", "hv1", "hv2", "hv1"]
        assert len({v.nic.mac for v in plan.vms}) == 4  # MACs are unique across the whole lab
        assert {v.vnc.port for v in plan.vms if v.host == "hv2"} == {5902}  # 5901 is web1's on each host
        steps = launch(plan, hosts=lab.hosts, dry_run=False)
        assert {s.uri for s in steps} == set(uris)
        assert sorted(d.name() for d in connect(uris[1]).listAllDomains()) == ["alpha-nc2", "labkit-state", "web1"]
        assert sorted(d.name() for d in connect(uris[0]).listAllDomains()) == ["alpha-fe", "alpha-nc1", "alpha-nc3",
                                                                             "labkit-state", "web1"]
        # each host records the whole cloud: a lab read from hv2 alone still holds alpha's addresses
        again = Lab([inventory_from_host(uris[1], name="hv2", probe_host=False)])
        assert again.hosted["alpha"] == plan
        destroy(plan, hosts=lab.hosts, dry_run=False)
        assert [d.name() for d in connect(uris[1]).listAllDomains()] == ["web1"]
    finally:
        for u in uris:
            disconnect(u)
