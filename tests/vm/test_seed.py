"""Unattended install: what labkit writes is checked by the real tools that will read it.

- ``cloud-init schema`` (Debian's cloud-init) validates ``user-data``;
- ``cloud-init devel net-convert`` turns ``network-config`` into systemd-networkd files, the way cloud-init
  configures a guest, and those must carry the planned MAC, address, gateway and DNS;
- ``ksvalidator`` (pykickstart) validates the kickstart file and pykickstart's parser reads its network line;
- the seed ISO's volume label is read from its primary volume descriptor (ECMA-119 8.4.6: "Volume Identifier",
  32 bytes at byte position 41), the files with ``xorriso``. cloud-init's NoCloud docs: "the filesystem volume
  label must be cidata or CIDATA"; Anaconda loads ``ks.cfg`` from a volume labelled "OEMDRV".
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from labkit.vm import Lab, VmError, kickstart, seed_files, write_seeds

pytestmark = pytest.mark.integration

CLOUD_INIT = shutil.which("cloud-init")
KSVALIDATOR = Path(sys.executable).parent / "ksvalidator"
KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIC "quoted": value #not-a-comment'


@pytest.fixture
def plan():
    lab = Lab(network="10.20.0.0/22", gateway="10.20.0.254")
    return lab.plan_cloud("alpha", topology="fe+nc", nodes=1, seed="nocloud", ssh_keys=(KEY,), dns="10.20.0.53")


def _files(tmp_path, plan, vm, kind=None):
    out = tmp_path / vm.name
    out.mkdir()
    for name, text in seed_files(plan, vm, kind).items():
        (out / name).write_text(text)
    return out


@pytest.mark.skipif(not CLOUD_INIT, reason="cloud-init is not installed (apt-get install cloud-init; make setup does)")
def test_user_data_is_valid_cloud_config_and_keeps_the_key_verbatim(tmp_path, plan):
    for vm in plan.vms[:1]:  # cloud-init takes seconds to start; the VMs' user-data differ only in the name
        d = _files(tmp_path, plan, vm)
        proc = subprocess.run([CLOUD_INIT, "schema", "-c", str(d / "user-data")], capture_output=True, text=True)
        assert proc.returncode == 0 and "Valid cloud-config" in proc.stdout, proc.stdout + proc.stderr
        # cloud-init's own YAML loader (Debian's python3-yaml) reads back exactly the planned values
        loaded = subprocess.run(["/usr/bin/python3", "-c", "import sys, json, yaml; "
                                 "print(json.dumps(yaml.safe_load(open(sys.argv[1]))))", str(d / "user-data")],
                                capture_output=True, text=True, check=True).stdout
        assert f'"hostname": "{vm.name}"' in loaded and '"ssh_authorized_keys": [' in loaded
        import json

        assert json.loads(loaded)["ssh_authorized_keys"] == [KEY]


@pytest.mark.skipif(not CLOUD_INIT, reason="cloud-init is not installed (apt-get install cloud-init; make setup does)")
def test_network_config_becomes_the_planned_static_network(tmp_path, plan):
    for vm in plan.vms[1:]:
        d = _files(tmp_path, plan, vm)
        out = tmp_path / f"{vm.name}-networkd"
        proc = subprocess.run([CLOUD_INIT, "devel", "net-convert", "-p", str(d / "network-config"), "-k", "yaml",
                               "-D", "debian", "-O", "networkd", "-d", str(out)], capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
        text = "\n".join(p.read_text() for p in out.rglob("*.network"))
        assert f"MACAddress={vm.nic.mac}" in text
        assert f"Address={vm.ip}/22" in text
        assert "Gateway=10.20.0.254" in text and "DNS=10.20.0.53" in text and "DHCP=no" in text


@pytest.mark.skipif(not KSVALIDATOR.exists(), reason="ksvalidator is missing (pip install pykickstart; make setup)")
def test_kickstart_is_valid_and_carries_the_planned_network(tmp_path, plan, monkeypatch):
    # pykickstart preprocesses into a mkstemp file it never removes: keep it in tmp_path, not /tmp
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    vm = plan.vms[1]
    ks = tmp_path / "ks.cfg"
    ks.write_text(kickstart(plan, vm))
    proc = subprocess.run([str(KSVALIDATOR), str(ks)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    broken = tmp_path / "broken.cfg"  # the validator is not vacuous: a bad network line fails it
    broken.write_text(kickstart(plan, vm).replace("--bootproto=static", "--bootproto=sometimes"))
    assert subprocess.run([str(KSVALIDATOR), str(broken)], capture_output=True).returncode != 0
    from pykickstart.parser import KickstartParser
    from pykickstart.version import makeVersion

    handler = makeVersion()
    KickstartParser(handler).readKickstart(str(ks))
    net = handler.network.network[0]
    assert (net.device, net.bootProto, net.ip, net.netmask, net.gateway, net.nameserver, net.hostname) == \
        (vm.nic.mac, "static", vm.ip, "255.255.252.0", "10.20.0.254", "10.20.0.53", vm.name)
    assert handler.sshkey.sshUserList[0].key == KEY


@pytest.mark.skipif(not shutil.which("xorriso"), reason="xorriso is not installed (make setup installs it)")
@pytest.mark.parametrize("kind, label, names", [("nocloud", "cidata", ["meta-data", "network-config", "user-data"]),
                                                ("kickstart", "OEMDRV", ["ks.cfg"])])
def test_seed_iso_has_the_label_its_reader_looks_for(tmp_path, kind, label, names):
    plan = Lab().plan_cloud("alpha", seed=kind, disk_kind="qcow2", disk_dir=str(tmp_path))
    vm = plan.vms[0]
    assert vm.seed == str(tmp_path / "alpha-ciab-seed.iso")
    dry = write_seeds(plan)
    assert [(a.action, a.done) for a in dry] == [("create", False)] and not Path(vm.seed).exists()
    assert [(a.action, a.done) for a in write_seeds(plan, dry_run=False)] == [("create", True)]
    with open(vm.seed, "rb") as fh:
        fh.seek(16 * 2048)
        pvd = fh.read(2048)
    assert pvd[1:6] == b"CD001" and pvd[40:72].decode().strip() == label
    listing = subprocess.run(["xorriso", "-indev", vm.seed, "-ls", "/"], capture_output=True, text=True).stdout
    assert sorted(x.strip("'") for x in listing.split()) == names
    extracted = tmp_path / "x"
    subprocess.run(["xorriso", "-osirrox", "on", "-indev", vm.seed, "-extract", "/", str(extracted)],
                   capture_output=True, check=True)
    assert {p.name: p.read_text() for p in extracted.iterdir()} == seed_files(plan, vm)
    assert [a.action for a in write_seeds(plan, dry_run=False)] == ["unchanged"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["alpha-ciab-seed.iso", "x"]  # no temporary files left


def test_a_clone_gets_a_new_instance_id_so_cloud_init_runs_again():
    lab = Lab()
    plan = lab.plan_cloud("gold", seed="nocloud", disk_kind="qcow2", disk_dir="/srv/img")
    copy = lab.clone(plan, 1)[0]
    a, b = seed_files(plan, plan.vms[0])["meta-data"], seed_files(copy, copy.vms[0])["meta-data"]
    assert a.splitlines()[0] != b.splitlines()[0] and a.startswith("instance-id:")


def test_an_unknown_seed_kind_is_refused():
    with pytest.raises(VmError, match="nocloud or kickstart"):
        Lab().plan_cloud("alpha", seed="ignition")
