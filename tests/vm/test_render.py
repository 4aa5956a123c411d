"""Renderers: the blog's qemu command, the modern -netdev/-device form, domain XML, host files and lvcreate."""

from __future__ import annotations

import shlex
import xml.etree.ElementTree as ET

import pytest

from labkit.vm import (
    DiskSpec,
    Lab,
    NicSpec,
    VmError,
    VmSpec,
    VncSpec,
    disk_commands,
    domain_xml,
    host_files,
    parse_domain_xml,
    qemu_argv,
    qemu_command,
    write_host_files,
)

pytestmark = pytest.mark.unit

BLOG = ("qemu-kvm -m 2048 -cpu qemu64,+vmx -drive file=/dev/vg01/ciab,if=virtio,format=raw "
        "-net nic,model=virtio,macaddr=52:54:00:12:34:60 -net bridge,br=br0 -cdrom silvereye.iso -boot d -vnc :1")


def blog_vm(**over) -> VmSpec:
    kw = dict(name="ciab", memory_mb=2048, vcpus=1, disk=DiskSpec("lvm", "vg01/ciab", 100),
              nic=NicSpec("52:54:00:12:34:60", "br0"), vnc=VncSpec(1, "0.0.0.0"), iso="silvereye.iso",
              boot=("cdrom", "hd"))
    kw.update(over)
    return VmSpec(**kw)


def test_blog_style_reproduces_the_blog_command():
    assert qemu_command(blog_vm(), "blog", accel=None) == BLOG


def test_vnc_listens_on_loopback_unless_told_otherwise():
    argv = qemu_argv(blog_vm(vnc=VncSpec(3)))
    assert argv[argv.index("-vnc") + 1] == "127.0.0.1:3"


def test_modern_style_uses_netdev_and_device_with_the_same_mac_and_bridge():
    argv = qemu_argv(blog_vm(), "modern", accel="tcg")
    joined = shlex.join(argv)
    assert "-netdev bridge,id=net0,br=br0" in joined
    assert "-device virtio-net-pci,netdev=net0,mac=52:54:00:12:34:60" in joined
    assert argv[argv.index("-accel") + 1] == "tcg"
    assert argv[argv.index("-boot") + 1] == "order=dc"
    assert "-net" not in argv


def test_user_mode_nic_when_there_is_no_bridge():
    vm = blog_vm(nic=NicSpec("52:54:00:12:34:61", None))
    assert "user" in qemu_argv(vm, "blog")
    assert "user,id=net0" in qemu_argv(vm, "modern")


def test_unknown_style_is_a_vm_error():
    with pytest.raises(VmError, match="blog, modern"):
        qemu_argv(blog_vm(), "fancy")


def test_domain_xml_carries_everything_the_plan_decided():
    plan = Lab().plan_cloud("alpha", iso="/isos/silvereye.iso", vnc_displays={"ciab": 7})
    vm = plan.vms[0]
    xml = domain_xml(vm)
    root = ET.fromstring(xml)
    assert root.find("devices/interface/source").get("bridge") == "br0"
    assert root.find("devices/graphics").get("listen") == "127.0.0.1"
    facts = parse_domain_xml(xml)
    assert facts.macs == (vm.nic.mac,) and facts.vnc_ports == (5907,) and facts.bridges == ("br0",)
    assert facts.disks == ("/dev/vg01/alpha-ciab",) and facts.cdroms == ("/isos/silvereye.iso",)
    assert facts.cpu_features == (f"require:{vm.cpu_features[0]}",) and facts.boot == ("cdrom", "hd")
    assert facts.labkit_cloud == "alpha" and facts.memory_kib == vm.memory_mb * 1024


def test_domain_xml_escapes_odd_paths():
    vm = blog_vm(iso="/isos/a&b <x>.iso")
    assert parse_domain_xml(domain_xml(vm)).cdroms == ("/isos/a&b <x>.iso",)


@pytest.mark.parametrize("style, paths", [
    ("ifcfg", ["/etc/sysconfig/network-scripts/ifcfg-br0", "/etc/sysconfig/network-scripts/ifcfg-eth0"]),
    ("networkmanager", ["/etc/NetworkManager/system-connections/br0.nmconnection"]),
    ("networkd", ["/etc/systemd/network/10-br0.netdev", "/etc/systemd/network/20-eth0.network"]),
])
def test_host_files_for_each_network_style(style, paths):
    plan = Lab().plan_cloud("alpha")
    files = {f.path: f.content for f in host_files(plan, style=style, host_ip="192.168.100.5/24")}
    for p in paths:
        assert p in files
    assert files["/etc/qemu/bridge.conf"] == "allow br0\n"
    assert files["/etc/modprobe.d/kvm.conf"] == "options kvm_intel nested=1\n"
    assert "net.ipv4.ip_forward = 1" in files["/etc/sysctl.d/90-labkit-vm.conf"]
    assert any("192.168.100.5" in c for c in files.values())
    amd = {f.path: f.content for f in host_files(plan, style=style, vendor="amd")}
    assert amd["/etc/modprobe.d/kvm.conf"] == "options kvm_amd nested=1\n"


def test_ifcfg_enslaves_the_nic_to_the_bridge():
    plan = Lab().plan_cloud("alpha", bridge="br7")
    files = {f.path: f.content for f in host_files(plan, nic="enp3s0")}
    assert "BRIDGE=br7" in files["/etc/sysconfig/network-scripts/ifcfg-enp3s0"]
    assert "TYPE=Bridge" in files["/etc/sysconfig/network-scripts/ifcfg-br7"]


def test_lvcreate_commands_one_per_vm():
    plan = Lab().plan_cloud("alpha", topology="fe+nc", nodes=2, disk_gb=50)
    cmds = [c.command for c in disk_commands(plan.vms)]
    assert cmds == [f"lvcreate -L 50G -n {v.disk.lv} vg01" for v in plan.vms]
    qplan = Lab().plan_cloud("beta", disk_kind="qcow2", disk_dir="/srv/img")
    assert disk_commands(qplan.vms)[0].command == "qemu-img create -f qcow2 /srv/img/beta-ciab.qcow2 100G"


def test_write_host_files_is_a_dry_run_by_default_and_atomic_when_asked(tmp_path):
    files = host_files(Lab().plan_cloud("alpha"))
    actions = write_host_files(files, tmp_path)
    assert {a.action for a in actions} == {"create"} and not any(a.done for a in actions)
    assert not any(tmp_path.iterdir())
    done = write_host_files(files, tmp_path, dry_run=False)
    assert all(a.done for a in done)
    assert (tmp_path / "etc/qemu/bridge.conf").read_text() == "allow br0\n"
    assert {a.action for a in write_host_files(files, tmp_path, dry_run=False)} == {"unchanged"}
    assert not list(tmp_path.rglob(".*.*"))  # no temporary files left behind


# --- one quoting rule for qemu option values --------------------------------------------------------------------
def qemu_option_string(text: str) -> list[tuple[str, str]]:
    """Split a qemu option string the way qemu-options documents it: ',' separates, ',,' is a literal comma.

    The test's own reading of the syntax, sharing no code with labkit's renderer."""
    items, cur, i = [], "", 0
    while i < len(text):
        if text[i] == ",":
            if text[i + 1:i + 2] == ",":
                cur += ","
                i += 2
                continue
            items.append(cur)
            cur = ""
        else:
            cur += text[i]
        i += 1
    items.append(cur)
    return [tuple(x.split("=", 1)) if "=" in x else ("", x) for x in items]


EVIL = "/srv/x.iso,if=none,file=/etc/shadow"


@pytest.mark.parametrize("style", ["blog", "modern"])
def test_a_comma_in_any_path_stays_inside_its_value(style, tmp_path):
    from labkit.vm import KernelBoot

    vm = blog_vm(disk=DiskSpec("qcow2", "/srv/a,b/disk,if=none.qcow2", 10), iso=EVIL, seed="/srv/s,eed.iso",
                 kernel=None)
    argv = qemu_argv(vm, style, qmp="/run/q,m.sock")
    opts = [qemu_option_string(argv[i + 1]) for i, a in enumerate(argv)
            if a in ("-drive", "-netdev", "-device", "-qmp", "-net")]
    files = [v for o in opts for k, v in o if k == "file"]
    assert "/etc/shadow" not in files and all(len([k for k, _ in o if k == "file"]) <= 1 for o in opts)
    assert "/srv/a,b/disk,if=none.qcow2" in files and "/srv/s,eed.iso" in files
    if style == "modern":
        assert EVIL in files
    else:
        assert argv[argv.index("-cdrom") + 1] == EVIL  # -cdrom takes the file name whole (no option parsing)
    qmp = qemu_option_string(argv[argv.index("-qmp") + 1])
    assert qmp[0] == ("", "unix:/run/q,m.sock") and ("server", "on") in qmp
    kvm = blog_vm(kernel=KernelBoot("/boot/vmlinuz,x", "/boot/initrd,y", "console=ttyS0 a=b,c"))
    argv = qemu_argv(kvm, style)
    assert argv[argv.index("-kernel") + 1] == "/boot/vmlinuz,x" and argv[argv.index("-append") + 1] == \
        "console=ttyS0 a=b,c"


def test_the_blog_line_exactly_when_qemu_probes_the_format():
    vm = blog_vm(disk=DiskSpec("lvm", "/dev/vg01/ciab", 100, "auto"), vnc=VncSpec(1, "0.0.0.0"))
    assert vm.disk.path == "vg01/ciab" and vm.disk.device == "/dev/vg01/ciab"  # never /dev//dev/vg01/ciab
    assert qemu_command(vm) == ("qemu-kvm -m 2048 -cpu qemu64,+vmx -drive file=/dev/vg01/ciab,if=virtio "
                                "-net nic,model=virtio,macaddr=52:54:00:12:34:60 -net bridge,br=br0 -cdrom silvereye.iso "
                                "-boot d -vnc :1")
    assert "format=" not in domain_xml(vm).split("<driver")[1].split("/>")[0]


def test_tcg_and_direct_kernel_boot_render_for_qemu_and_libvirt():
    from labkit.vm import KernelBoot

    vm = blog_vm(accel="tcg", kernel=KernelBoot("/k/vmlinuz", "/k/initrd", "console=ttyS0"), seed="/s/seed.iso",
                 serial_log="/var/log/lab/ciab.serial.log")
    argv = qemu_argv(vm)
    assert argv[0] == "qemu-system-x86_64" and argv[argv.index("-accel") + 1] == "tcg" and "-boot" not in argv
    assert argv[argv.index("-serial") + 1] == "file:/var/log/lab/ciab.serial.log"
    root = ET.fromstring(domain_xml(vm))
    assert root.get("type") == "qemu" and root.findtext("os/kernel") == "/k/vmlinuz"
    assert root.findtext("os/cmdline") == "console=ttyS0" and root.find("os/boot") is None
    assert [d.find("target").get("dev") for d in root.iterfind("devices/disk")] == ["vda", "hdc", "hdd"]
    assert root.find("devices/serial").get("type") == "file"
