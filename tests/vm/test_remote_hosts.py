"""Remote hosts are read through libvirt only: their CPU vendor and features come from their capabilities, their
used ports from their domains, and what libvirt cannot tell (routes, listening sockets) is said, never borrowed
from the machine labkit runs on.

libvirt's test driver reports no CPU vendor, so each stand-in host gets its capabilities document at the
connection seam (``stand_in``); everything above the seam is the code path a real ``qemu+ssh://`` host takes.
The documents follow libvirt's "Driver capabilities XML format" (https://libvirt.org/formatcaps.html): "The
<host/> element ... <cpu> ... describes the host CPU: <arch>, <model>, <vendor>, <topology> and <feature>
elements".
"""

from __future__ import annotations

import pytest

from labkit.vm import Lab, host_checks, inventory_from_host, launch, stand_in
from labkit.vm.connection import connect, drop_stand_in
from tests.vm.conftest import HOST_XML, host_file_uri

pytestmark = pytest.mark.integration
pytest.importorskip("libvirt", reason="libvirt-python is not installed (make setup)")

CAPS = """<capabilities>
  <host>
    <uuid>{uuid}</uuid>
    <cpu>
      <arch>x86_64</arch>
      <model>{model}</model>
      <vendor>{vendor}</vendor>
      <topology sockets='1' dies='1' cores='4' threads='2'/>
      <feature name='{flag}'/>
      <feature name='pdpe1gb'/>
    </cpu>
  </host>
  <guest>
    <os_type>hvm</os_type>
    <arch name='x86_64'><wordsize>64</wordsize><domain type='qemu'/><domain type='kvm'/></arch>
  </guest>
</capabilities>"""
INTEL = CAPS.format(uuid="11111111-2222-3333-4444-555555555555", model="Skylake-Client-IBRS", vendor="Intel",
                    flag="vmx")
AMD = CAPS.format(uuid="66666666-7777-8888-9999-000000000000", model="EPYC-Rome", vendor="AMD", flag="svm")
REMOTES = {"intel-host": ("qemu+ssh://intel-host/system", INTEL), "amd-host": ("qemu+ssh://amd-host/system", AMD)}


@pytest.fixture
def laptop(tmp_path):
    """This machine as a fake /proc: an AMD CPU, a listener on 5905 and a route to 10.1.0.0/16."""
    root = tmp_path / "laptop"
    (root / "proc/net").mkdir(parents=True)
    (root / "proc/cpuinfo").write_text("vendor_id\t: AuthenticAMD\nflags\t\t: fpu svm lm\n")
    (root / "proc/net/tcp").write_text(
        "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
        "   0: 0100007F:1711 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1\n")
    (root / "proc/net/route").write_text(
        "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"
        "eth1\t0000010A\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0\n")
    return root


@pytest.fixture
def remotes(tmp_path):
    """Two remote-looking URIs, each opening its own test-driver host file and reporting its own CPU."""
    for name, (uri, caps) in REMOTES.items():
        stand_in(uri, via=host_file_uri(tmp_path, f"{name}.xml"), capabilities=caps)
    yield {name: uri for name, (uri, _) in REMOTES.items()}
    for uri, _ in REMOTES.values():
        drop_stand_in(uri)


def test_each_vm_gets_its_own_hosts_nested_flag(remotes, laptop):
    hosts = [inventory_from_host(uri, name=name, root=laptop) for name, uri in remotes.items()]
    assert [(h.cpu_vendor, h.cpu_source) for h in hosts] == [("intel", "libvirt capabilities"),
                                                            ("amd", "libvirt capabilities")]
    lab = Lab(hosts)
    plan = lab.plan_cloud("alpha", topology="fe+nc", nodes=3, hosts=("intel-host", "amd-host"),
                          iso="/isos/silvereye.iso")
    flags = {vm.name: (vm.host, vm.cpu_features) for vm in plan.vms}
    assert flags == {"alpha-fe": ("intel-host", ("vmx",)), "alpha-nc1": ("intel-host", ("vmx",)),
                     "alpha-nc2": ("amd-host", ("svm",)), "alpha-nc3": ("intel-host", ("vmx",))}
    steps = launch(plan, hosts=lab.hosts, dry_run=False)
    assert {s.uri for s in steps} == set(remotes.values())
    amd = connect(remotes["amd-host"])
    assert "<feature policy='require' name='svm'/>" in amd.lookupByName("alpha-nc2").XMLDesc(0)


def test_nothing_of_this_machine_is_taken_for_a_remote_host(remotes, laptop):
    remote = inventory_from_host(remotes["intel-host"], name="intel-host", root=laptop)
    local = inventory_from_host(f"test://{HOST_XML}", name="here", root=laptop)
    assert remote.remote and remote.unread == ("routes", "listening sockets")
    assert 5905 not in remote.vnc_ports and not remote.networks  # the laptop's listener and route
    assert not local.remote and 5905 in local.vnc_ports and [str(n) for n, _ in local.networks] == ["10.1.0.0/16"]
    assert (local.cpu_vendor, local.cpu_source) == ("amd", f"{laptop}/proc/cpuinfo")  # the test driver has none
    assert remote.vnc_ports == {5901: "domain 'web1'"}  # its own domains' ports, read through libvirt
    vm = Lab([remote]).plan_cloud("alpha", vnc_displays={"ciab": 5}).vms[0]  # free there, taken only here
    assert vm.vnc.port == 5905 and vm.cpu_features == ("vmx",)


def test_the_check_table_says_what_cannot_be_read_remotely(remotes, laptop):
    rows = {r.check: r for r in host_checks(laptop, uri=remotes["amd-host"])}
    assert rows["routes"].status == "unknown" and "cannot be read over libvirt" in rows["routes"].detail
    assert rows["listening sockets"].status == "unknown" and "amd-host" in rows["listening sockets"].detail
    assert rows["nested virtualization"].status == "unknown" and "svm" in rows["nested virtualization"].detail
    assert "kvm_amd" in rows["nested virtualization"].fix
    assert rows["/dev/kvm usable"].status == "ok" and "offers kvm" in rows["/dev/kvm usable"].detail
    assert rows["free space in vg01"].status == "ok"  # the pool is read through libvirt
    local = {r.check: r for r in host_checks(laptop)}
    assert local["routes"].status == "ok" and "10.1.0.0/16" in local["routes"].detail
    assert local["listening sockets"].status == "ok" and "5905" in local["listening sockets"].detail
