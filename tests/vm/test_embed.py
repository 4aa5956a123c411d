"""On a libvirt that keeps its state between processes (the daemon-less ``qemu:///embed?root=DIR``, real qemu):
the CLI in separate processes, a launch that fails midway, overlay snapshots of raw disks, and linked clones."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from labkit.vm import Lab, VmError, clone, destroy, launch, revert, seed_files, snapshot, snapshots
from labkit.vm.connection import connect
from tests.vm.conftest import embed_missing

pytestmark = pytest.mark.integration


@pytest.fixture
def lab_dir():
    """A root only subprocesses open (the test process holds its own embedded root already), removed afterwards."""
    reason = embed_missing()
    if reason:
        pytest.skip(reason)
    path = Path(tempfile.mkdtemp(prefix="lkc-"))
    (path / "disks").mkdir()
    (path / "root/proc").mkdir(parents=True)  # an empty /proc for the CLI: no ports, no routes
    uri = f"qemu:///embed?root={path / 'lv'}"
    yield path, uri
    # whatever a failed test left running is stopped by a process of its own
    subprocess.run([sys.executable, "-c", "import sys, libvirt\n"
                    "c = libvirt.open(sys.argv[1])\n"
                    "[d.destroy() for d in c.listAllDomains() if d.isActive()]", uri], capture_output=True, timeout=120)
    shutil.rmtree(path, ignore_errors=True)


def cli(*argv: str) -> subprocess.CompletedProcess:
    """Run ``labkit`` in a new process, as a user would."""
    env = {**os.environ, "LABKIT_CONFIG": "/nonexistent/labkit.toml"}
    env.pop("LABKIT_PROFILE", None)
    return subprocess.run([sys.executable, "-m", "labkit.cli", *argv], capture_output=True, text=True, env=env,
                          timeout=300)


@pytest.mark.slow
def test_clouds_planned_in_separate_processes_share_nothing(lab_dir):
    path, uri = lab_dir
    common = ["--uri", uri, "--root", str(path / "root"), "--bridge", "", "--accel", "tcg", "--disk-kind", "qcow2",
              "--disk-dir", str(path / "disks"), "--memory", "128M", "--disk-gb", "1", "--format", "json"]
    a = cli("vm", "launch", "alpha", "--topology", "fe+nc", "--nodes", "2", "--apply", *common)
    assert a.returncode == 0, a.stderr
    assert [s["action"] for s in json.loads(a.stdout)][-1] == "record" and a.stderr == ""
    b = cli("vm", "plan", "beta", "--topology", "fe+nc", "--nodes", "2", *common)
    assert b.returncode == 0, b.stderr
    again = cli("vm", "plan", "alpha", "--topology", "fe+nc", "--nodes", "2", *common)
    alpha, beta = json.loads(again.stdout), json.loads(b.stdout)
    launched = {s["target"] for s in json.loads(a.stdout) if s["action"] == "define"}
    assert {r["vm"] for r in alpha} == launched  # the host gave alpha's plan back to a new process
    for key in ("mac", "ip", "vnc", "disk"):
        assert not {r[key] for r in alpha} & {r[key] for r in beta}, key
    assert alpha[0]["public_range"] != beta[0]["public_range"]
    assert alpha[0]["private_subnet"] != beta[0]["private_subnet"]
    from labkit.vm.allocate import parse_range

    (a1, a2), (b1, b2) = parse_range(alpha[0]["public_range"]), parse_range(beta[0]["public_range"])
    assert a2 < b1 or b2 < a1
    gone = cli("vm", "destroy", "alpha", "--apply", *common)
    assert gone.returncode == 0, gone.stderr
    assert {s["action"] for s in json.loads(gone.stdout)} >= {"undefine", "delete-disk", "unrecord"}
    assert sorted(os.listdir(path / "disks")) == []


def test_a_launch_that_fails_midway_leaves_nothing_behind(embed):
    uri, path = embed
    plan = Lab.from_host(uri, probe_host=False).plan_cloud(
        "alpha", topology="fe+nc", nodes=1, bridge="nosuchbr0", accel="tcg", disk_kind="qcow2",
        disk_dir=str(path / "disks"), memory_mb=128, disk_gb=1)
    with pytest.raises(VmError, match=r"failed at start alpha-fe.*nosuchbr0.*everything this launch created was "
                                      r"removed"):
        launch(plan, uri=uri, dry_run=False)
    assert connect(uri).listAllDomains() == []
    assert os.listdir(path / "disks") == []


def test_a_raw_disk_snapshot_is_a_qcow2_overlay_and_revert_empties_it(embed):
    uri, path = embed
    plan = Lab.from_host(uri, probe_host=False).plan_cloud(
        "alpha", bridge="", accel="tcg", disk_kind="raw", disk_dir=str(path / "disks"), memory_mb=128, disk_gb=1)
    launch(plan, uri=uri, dry_run=False, start=False)
    disk = plan.vms[0].disk.path
    subprocess.run(["qemu-io", "-f", "raw", "-c", "write -P 0x11 0 64k", disk], check=True, capture_output=True)
    dry = snapshot(plan, "clean", uri=uri)
    assert [s.action for s in dry] == ["overlay"] and not os.path.exists(f"{disk}.clean.qcow2")
    snapshot(plan, "clean", uri=uri, dry_run=False)
    overlay = f"{disk}.clean.qcow2"
    assert connect(uri).lookupByName("alpha-ciab").XMLDesc(0).count(overlay) == 1  # the VM now writes there
    info = json.loads(subprocess.run(["qemu-img", "info", "--output=json", overlay], capture_output=True,
                                     check=True, text=True).stdout)
    assert info["format"] == "qcow2" and info["backing-filename"] == disk
    subprocess.run(["qemu-io", "-f", "qcow2", "-c", "write -P 0x22 0 64k", overlay], check=True, capture_output=True)

    def first_byte() -> str:
        out = subprocess.run(["qemu-io", "-f", "qcow2", "-c", "read -v 0 1", overlay], capture_output=True,
                             text=True, check=True).stdout
        return out.split(":")[1].split()[0]

    assert first_byte() == "22"
    assert [s.action for s in revert(plan, "clean", uri=uri, dry_run=False)] == ["empty-overlay"]
    assert first_byte() == "11"  # the base as it was when the snapshot was taken
    assert [(r.snapshot, r.kind) for r in snapshots(plan, uri=uri)] == [("clean", "overlay")]
    destroy(plan, uri=uri, dry_run=False)


def test_linked_clones_get_fresh_addresses_their_own_seeds_and_overlay_disks(embed):
    uri, path = embed
    lab = Lab.from_host(uri, probe_host=False)
    plan = lab.plan_cloud("gold", bridge="", accel="tcg", disk_kind="qcow2", disk_dir=str(path / "disks"),
                          memory_mb=128, disk_gb=1, seed="nocloud")
    launch(plan, uri=uri, dry_run=False, start=False)
    copies = clone(plan, 2, lab=Lab.from_host(uri, probe_host=False))
    assert [c.name for c in copies] == ["gold-c1", "gold-c2"]
    vms = [plan.vms[0]] + [c.vms[0] for c in copies]
    for key in (lambda v: v.nic.mac, lambda v: v.ip, lambda v: v.vnc.port, lambda v: v.disk.path, lambda v: v.seed):
        assert len({key(v) for v in vms}) == 3
    assert len({str(p.public_range) for p in [plan, *copies]}) == 3
    for c in copies:
        assert c.vms[0].disk.backing == plan.vms[0].disk.path
        config = seed_files(c, c.vms[0])["network-config"]
        assert c.vms[0].ip in config and plan.vms[0].ip not in config and c.vms[0].nic.mac in config
        steps = launch(c, uri=uri, dry_run=False, start=False)
        assert [s.action for s in steps] == ["create-disk", "write-seed", "define", "record"]
        info = json.loads(subprocess.run(["qemu-img", "info", "--output=json", c.vms[0].disk.path],
                                         capture_output=True, check=True, text=True).stdout)
        assert info["backing-filename"] == plan.vms[0].disk.path and info["virtual-size"] == 1024**3
    # a new lab on the host knows all three clouds
    assert set(Lab.from_host(uri, probe_host=False).hosted) == {"gold", "gold-c1", "gold-c2"}
    for c in [*copies, plan]:
        destroy(c, uri=uri, dry_run=False)
    assert os.listdir(path / "disks") == []
