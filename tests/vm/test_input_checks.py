"""Bad input found by trying the VM lab as a new user would: each is one clear error, and nothing changes.

Names follow lvm(8) "VALID NAMES": "The following characters are valid for VG and LV names: a-z A-Z 0-9 + _ . -
... VG and LV names cannot begin with a hyphen." VNC displays: qemu's ``-vnc :N`` listens on TCP port 5900+N,
so N runs from 0 to 59635.
"""

from __future__ import annotations

import re

import pytest

from labkit.cli import main
from labkit.vm import DiskSpec, Lab, VmError, VncSpec, qemu_argv
from labkit.vm.spec import disk_gb, memory_mb

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("display", [-1, 59636, 70000, True, 1.5, "1"])
def test_a_vnc_display_qemu_cannot_open_is_refused(display):
    lab = Lab()
    with pytest.raises(VmError, match="VNC display"):
        lab.plan_cloud("alpha", vnc_displays={"ciab": display})
    with pytest.raises(VmError, match="VNC display"):
        VncSpec(display)
    assert lab.clouds == {}


def test_the_last_vnc_display_is_allowed():
    assert Lab().plan_cloud("alpha", vnc_displays={"ciab": 59635}).vms[0].vnc.port == 65535


@pytest.mark.parametrize("value, mb", [(2048, 2048), ("2G", 2048), ("2048M", 2048), ("2048", 2048), ("2GiB", 2048),
                                       ("1T", 1024 * 1024), ("65536K", 64)])
def test_memory_takes_ints_and_sizes_with_units(value, mb):
    assert memory_mb(value) == mb
    assert Lab().plan_cloud("alpha", memory_mb=value).vms[0].memory_mb == mb


@pytest.mark.parametrize("value, words", [("2X", "is not a size"), (2.5, "must be a size"), (True, "must be a size"),
                                          (None, "must be a size"), ("1500K", "not a whole number of MiB"),
                                          (32, "out of range"), ("17T", "out of range"), ("-2G", "is not a size")])
def test_bad_memory_is_one_clear_error(value, words):
    lab = Lab()
    with pytest.raises(VmError, match=words):
        lab.plan_cloud("alpha", memory_mb=value)
    assert lab.clouds == {}


@pytest.mark.parametrize("value, gb", [(100, 100), ("100G", 100), ("1T", 1024), ("102400M", 100)])
def test_disk_sizes_take_ints_and_units(value, gb):
    assert disk_gb(value) == gb


@pytest.mark.parametrize("name", ["-x", "clöud", "a b", "a/b", "", "x" * 49, "a;rm -rf /", ".hidden", 7])
def test_a_cloud_name_lvcreate_or_a_shell_would_reject_is_refused(name):
    with pytest.raises(VmError, match="cloud name"):
        Lab().plan_cloud(name)


@pytest.mark.parametrize("volume, words", [("-x", "not an LVM name"), ("snapshot1", "not an LVM name"),
                                           ("a_tmeta", "not an LVM name"), ("vg01/lv/x", "is not vg/lv"),
                                           ("/dev/vg01/ciab\n", "not an LVM name"), ("..", "not an LVM name")])
def test_a_volume_lvcreate_would_reject_is_refused(volume, words):
    with pytest.raises(VmError, match=words):
        Lab().plan_cloud("alpha", volumes={"ciab": volume})


@pytest.mark.parametrize("volume", ["/dev/vg01/x", "vg01/x", "x", "/dev/mapper/vg01-x"])
def test_a_volume_written_as_a_device_path_is_the_same_volume(volume):
    vm = Lab().plan_cloud("alpha", volumes={"ciab": volume}).vms[0]
    assert vm.disk.path == "vg01/x" and vm.disk.device == "/dev/vg01/x"
    assert "file=/dev/vg01/x," in qemu_argv(vm)[qemu_argv(vm).index("-drive") + 1]


def test_device_mapper_names_double_their_dashes():
    assert DiskSpec("lvm", "/dev/mapper/vg--a-lv--b").path == "vg-a/lv-b"


@pytest.mark.parametrize("kwargs, words", [
    (dict(nodes=-1), "nodes"), (dict(nodes="2"), "nodes"), (dict(vcpus=0), "vcpus"), (dict(vcpus=2.0), "vcpus"),
    (dict(iso="a\nb.iso"), "ISO"), (dict(vnc_listen="localhost:1"), "not an IP address"),
    (dict(accel="hvf"), "accelerator"), (dict(disk_format="vmdk"), "disk format"), (dict(hosts="hv1"), "hosts"),
    (dict(ips={"ciab": "10.9.9.9"}), "outside the lab network"), (dict(ssh_keys=("a\nb",)), "one line"),
    (dict(macs=["52:54:00:00:00:01"]), "map VM roles"), (dict(dns="dns.example"), "DNS server"),
    # sshd(8) AUTHORIZED_KEYS FILE FORMAT: "keytype, base64-encoded key, comment"
    (dict(ssh_keys=("/etc/passwd",)), "public key"), (dict(ssh_keys=("ssh-ed25519",)), "public key"),
    (dict(ssh_keys=("ssh-foo AAAA x",)), "public key"),
    (dict(initrd="/boot/initrd.img"), "only booted with a kernel"),
    (dict(memory_mb="9" * 5000), "is not a size"), (dict(disk_gb="9" * 5000), "is not a size"),
])
def test_types_and_values_are_checked_at_the_python_api(kwargs, words):
    lab = Lab()
    with pytest.raises(VmError, match=words):
        lab.plan_cloud("alpha", **kwargs)
    assert lab.clouds == {}


@pytest.mark.parametrize("argv, words", [
    (["--vnc-display", "-1"], "VNC display -1 is out of range"),
    (["--vnc-display", "70000"], "VNC display 70000 is out of range"),
    (["--memory", "2X"], "is not a size"),
    (["--vcpus", "two"], "--vcpus 'two' is not a whole number"),
    (["--topology", "fe+nc", "--nodes", "2", "--mac", "52:54:00:00:00:01"], "does not say which VM"),
    (["--mac", "nc7=52:54:00:00:00:01"], "macs names nc7"),
    (["--volume=-x"], "not an LVM name"),
])
def test_the_command_line_says_each_mistake_in_one_line(tmp_path, monkeypatch, capsys, argv, words):
    monkeypatch.setenv("LABKIT_CONFIG", str(tmp_path / "none.toml"))
    (tmp_path / "proc").mkdir()
    code = main(["vm", "plan", "alpha", "--root", str(tmp_path), "--uri", "test:///default", *argv])
    out, err = capsys.readouterr()
    assert code == 1 and out == "" and err.count("\n") == 1 and words in err, err


def test_launch_apply_with_a_missing_iso_exits_1_and_creates_nothing(tmp_path, monkeypatch, capsys):
    pytest.importorskip("libvirt", reason="libvirt-python is not installed (make setup)")
    from labkit.vm.connection import connect, disconnect

    monkeypatch.setenv("LABKIT_CONFIG", str(tmp_path / "none.toml"))
    (tmp_path / "proc").mkdir()
    uri = f"test://{tmp_path}/host.xml"
    (tmp_path / "host.xml").write_text("<node><cpu><mhz>2000</mhz></cpu><memory>8388608</memory></node>")
    try:
        before = [d.name() for d in connect(uri).listAllDomains()]
        code = main(["vm", "launch", "alpha", "--iso", "/isos/nope.iso", "--apply", "--root", str(tmp_path),
                     "--uri", uri])
        out, err = capsys.readouterr()
        assert code == 1 and out == "" and "/isos/nope.iso does not exist" in err and err.count("\n") == 1
        assert [d.name() for d in connect(uri).listAllDomains()] == before
    finally:
        disconnect(uri)


@pytest.mark.parametrize("uri, words", [
    ("http://[::1", "bad host or port"), ("qemu://h:99999/system", "bad host or port"),
    ("ftp://h.example/x", "names no libvirt driver"), ("gopher://127.0.0.1:25/x", "names no libvirt driver"),
    ("qemu+smtp://h/system", "names no libvirt driver and transport"),
    ("qemu+ssh://root:PW-1@h/system", "has a password in it"),
])
def test_a_uri_libvirt_cannot_take_is_refused_with_its_password_masked(uri, words):
    # https://libvirt.org/uri.html: driver[+transport]://[username@][hostname][:port]/[path][?extraparameters]
    from labkit.vm.connection import check_uri

    with pytest.raises(VmError, match=re.escape(words)) as err:
        check_uri(uri)
    assert "PW-1" not in str(err.value)


@pytest.mark.parametrize("uri", ["test:///default", "qemu:///system", "qemu+ssh://admin@hv1:2222/system",
                                 "qemu:///embed?root=/var/tmp/lab", "qemu+tls://hv1/system"])
def test_the_uris_libvirt_documents_are_taken(uri):
    from labkit.vm.connection import check_uri

    assert check_uri(uri) == uri
