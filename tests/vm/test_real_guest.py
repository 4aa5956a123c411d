"""A real Linux guest, end to end: plan, seed, launch through libvirt under TCG, wait, snapshot, change, revert.

The guest is built here from the Debian packages installed on this machine (tests/vm/guest.py: the cloud
kernel, its virtio modules and busybox; nothing downloaded). labkit plans it on the daemon-less
``qemu:///embed`` libvirt, writes its NoCloud seed, and launches it on a bridge inside a network namespace made
for this test. The guest reads the seed's network-config with its own sed (not labkit's code), so it answering
at the planned address proves the seed carried the plan. One boot serves every check.
"""

from __future__ import annotations

import urllib.request

import pytest

from labkit.vm import Lab, destroy, launch, revert, snapshot, snapshots, wait_ready
from labkit.vm.connection import connect
from tests.vm import guest, netns

pytestmark = [pytest.mark.integration, pytest.mark.slow]
libvirt = pytest.importorskip("libvirt", reason="libvirt-python is not installed (make setup)")

LAB_NETWORK = "192.168.100.0/24"
GATEWAY = "192.168.100.1"


@pytest.fixture(scope="module")
def built_guest(tmp_path_factory):
    reason = guest.missing() or netns.missing()
    if reason:
        pytest.skip(reason)
    return guest.build(tmp_path_factory.mktemp("guest"))


def _get(ip: str, path: str) -> str:
    with urllib.request.urlopen(f"http://{ip}:22{path}", timeout=20) as r:  # noqa: S310 - the test guest
        return r.read().decode().strip()


def test_a_planned_guest_boots_answers_at_its_planned_address_and_reverts(built_guest, embed):
    kernel, initrd = built_guest
    uri, tmp_path = embed
    with netns.namespace() as ns:
        netns.ip("link", "add", "br0", "type", "bridge", ns=ns)
        netns.ip("addr", "add", f"{GATEWAY}/24", "dev", "br0", ns=ns)
        netns.ip("link", "set", "br0", "up", ns=ns)
        plan = None
        with netns.entered(ns):
            try:
                lab = Lab.from_host(uri, network=LAB_NETWORK)
                plan = lab.plan_cloud(
                    "guest", memory_mb="256M", vcpus=1, accel="tcg", bridge="br0", disk_kind="qcow2",
                    disk_dir=str(tmp_path), disk_gb=1, seed="nocloud", ssh_keys=("ssh-ed25519 AAAAC3Nz test@lab",),
                    kernel=str(kernel), initrd=str(initrd), cmdline="console=ttyS0 quiet",
                    serial_log_dir=str(tmp_path))
                vm = plan.vms[0]
                steps = launch(plan, uri=uri, dry_run=False)
                assert [s.action for s in steps] == ["create-disk", "write-seed", "define", "start", "record"]

                rows = wait_ready(plan, "tcp:22", timeout=240, progress=False)
                assert rows[0].ready, rows
                assert rows[0].address == f"{vm.ip}:22" and "accepted" in rows[0].seen
                # the guest configured what the seed said: the planned MAC, address/prefix, gateway, hostname
                info = dict(kv.split("=", 1) for kv in _get(vm.ip, "/info.txt").split())
                assert info == {"hostname": "guest-ciab", "if": "eth0", "mac": vm.nic.mac,
                                "addr": f"{vm.ip}/24", "gw": GATEWAY}
                serial = wait_ready(plan, f"serial:{guest.READY_MARKER} {vm.ip}/24", timeout=30, progress=False)
                assert serial[0].ready and "serial console" in serial[0].seen

                assert _get(vm.ip, "/data/state.txt") == "first-boot"
                snapshot(plan, "booted", uri=uri, dry_run=False)
                assert [r.snapshot for r in snapshots(plan, uri=uri)] == ["booted"]
                assert _get(vm.ip, "/cgi-bin/set?changed-after-snapshot") == "ok"
                assert _get(vm.ip, "/data/state.txt") == "changed-after-snapshot"
                done = revert(plan, "booted", uri=uri, dry_run=False)
                assert [s.action for s in done] == ["revert"] and all(s.done for s in done)
                assert _get(vm.ip, "/data/state.txt") == "first-boot"

                gone = destroy(plan, uri=uri, dry_run=False)
                assert {"destroy", "undefine", "delete-disk", "delete-seed", "unrecord"} <= {s.action for s in gone}
                assert [d.name() for d in connect(uri).listAllDomains()] == []
                assert not (tmp_path / "guest-ciab.qcow2").exists() and not (tmp_path / "guest-ciab-seed.iso").exists()
            finally:
                for dom in connect(uri).listAllDomains():  # stop the guest before its bridge goes away
                    if dom.isActive():
                        dom.destroy()
