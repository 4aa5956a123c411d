"""Host checks read a configurable root: a fake /sys, /proc, /etc tree stands in for the host."""

from __future__ import annotations

import os

import pytest

from labkit.vm import Lab, host_checks, host_files, write_host_files

pytestmark = pytest.mark.unit


def make_root(tmp_path, *, vendor="GenuineIntel", flag="vmx", nested="Y", kvm=True, bridge=True,
              bridge_conf="allow br0\n", forward="1", firewalld=False, nf_call="0"):
    root = tmp_path / "root"
    (root / "proc/sys/net/ipv4").mkdir(parents=True)
    (root / "proc/cpuinfo").write_text(f"vendor_id\t: {vendor}\nflags\t\t: fpu sse2 {flag} lm\n")
    (root / "proc/sys/net/ipv4/ip_forward").write_text(forward + "\n")
    (root / "proc/sys/net/bridge").mkdir(parents=True)
    (root / "proc/sys/net/bridge/bridge-nf-call-iptables").write_text(nf_call + "\n")
    module = "kvm_amd" if vendor == "AuthenticAMD" else "kvm_intel"
    if nested is not None:
        (root / f"sys/module/{module}/parameters").mkdir(parents=True)
        (root / f"sys/module/{module}/parameters/nested").write_text(nested + "\n")
    (root / "dev").mkdir()
    if kvm:
        (root / "dev/kvm").write_text("")
    if bridge:
        (root / "sys/class/net/br0/bridge").mkdir(parents=True)
        (root / "sys/class/net/br0/brif/eth0").mkdir(parents=True)
    if bridge_conf is not None:
        (root / "etc/qemu").mkdir(parents=True)
        (root / "etc/qemu/bridge.conf").write_text(bridge_conf)
    if firewalld:
        (root / "run/firewalld").mkdir(parents=True)
    return root


def by_name(rows):
    return {r.check: r for r in rows}


def test_a_ready_host_passes_every_check(tmp_path):
    rows = by_name(host_checks(make_root(tmp_path)))
    for name in ("nested virtualization", "/dev/kvm usable", "bridge br0 present", "qemu bridge.conf",
                 "ip_forward", "firewall"):
        assert rows[name].status == "ok", rows[name]
    assert "eth0" in rows["bridge br0 present"].detail


@pytest.mark.parametrize("setup, check, status, fix", [
    (dict(nested="N"), "nested virtualization", "fail", "options kvm_intel nested=1"),
    (dict(nested=None), "nested virtualization", "fail", "modprobe kvm_intel"),
    (dict(vendor="AuthenticAMD", flag="svm", nested="0"), "nested virtualization", "fail", "options kvm_amd nested=1"),
    (dict(flag="sse4_2"), "nested virtualization", "fail", "accel='tcg'"),
    (dict(kvm=False), "/dev/kvm usable", "fail", "chmod 0660 /dev/kvm"),
    (dict(bridge=False), "bridge br0 present", "fail", "ip link add br0 type bridge"),
    (dict(bridge_conf=None), "qemu bridge.conf", "fail", "echo 'allow br0' >> /etc/qemu/bridge.conf"),
    (dict(bridge_conf="allow virbr0\n"), "qemu bridge.conf", "fail", "allow br0"),
    (dict(forward="0"), "ip_forward", "fail", "sysctl -w net.ipv4.ip_forward=1"),
    (dict(firewalld=True), "firewall", "warn", "firewall-cmd --permanent --zone=trusted --add-interface=br0"),
    (dict(nf_call="1"), "firewall", "warn", "bridge-nf-call-iptables=0"),
])
def test_each_problem_is_a_row_with_its_exact_fix(tmp_path, setup, check, status, fix):
    rows = by_name(host_checks(make_root(tmp_path, **setup)))
    assert rows[check].status == status
    assert fix in rows[check].fix
    others = [r for name, r in rows.items() if name not in (check, "free space in vg01")]
    assert all(r.status == "ok" for r in others), others


def test_bridge_conf_allow_all_is_enough(tmp_path):
    assert by_name(host_checks(make_root(tmp_path, bridge_conf="allow all\n")))["qemu bridge.conf"].status == "ok"


@pytest.mark.skipif(os.geteuid() == 0, reason="root can read and write any file, so the permission case cannot fail")
def test_unwritable_kvm_device_fails(tmp_path):
    root = make_root(tmp_path)
    (root / "dev/kvm").chmod(0o400)
    assert by_name(host_checks(root))["/dev/kvm usable"].status == "fail"


def test_writing_labkits_host_files_fixes_what_they_cover(tmp_path):
    root = make_root(tmp_path, bridge_conf=None)
    assert by_name(host_checks(root))["qemu bridge.conf"].status == "fail"
    write_host_files(host_files(Lab().plan_cloud("alpha")), root, dry_run=False)
    assert by_name(host_checks(root))["qemu bridge.conf"].status == "ok"
    assert (root / "etc/modprobe.d/kvm.conf").read_text() == "options kvm_intel nested=1\n"
