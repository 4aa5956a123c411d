"""``labkit vm plan|check|launch|destroy`` against libvirt's test driver."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest

from labkit.cli import main

pytestmark = pytest.mark.integration
pytest.importorskip("libvirt", reason="libvirt-python is not installed")


@pytest.fixture(autouse=True)
def sandbox_profile(tmp_path, monkeypatch):
    monkeypatch.setenv("LABKIT_CONFIG", str(tmp_path / "none.toml"))
    monkeypatch.delenv("LABKIT_PROFILE", raising=False)
    (tmp_path / "root/proc").mkdir(parents=True)  # an empty fake /proc: no ports in use, no routes
    yield
    from labkit.vm.connection import disconnect

    disconnect()


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_plan_prints_one_row_per_vm_as_json(capsys, tmp_path):
    code, out, _ = run(capsys, "vm", "plan", "alpha", "--topology", "fe+nc", "--nodes", "2", "--iso", "s.iso",
                       "--root", str(tmp_path / "root"), "--format", "json")
    rows = json.loads(out)
    assert code == 0 and [r["vm"] for r in rows] == ["alpha-fe", "alpha-nc1", "alpha-nc2"]
    assert len({r["mac"] for r in rows}) == 3 and rows[0]["vnc"] == "127.0.0.1:5901"


def test_plan_shows_qemu_commands_xml_files_and_path(capsys, tmp_path):
    root = ["--root", str(tmp_path / "root")]
    code, out, _ = run(capsys, "vm", "plan", "alpha", "--iso", "s.iso", "--show", "qemu", "--format", "csv", *root)
    assert code == 0 and "qemu-kvm" in out and "-vnc 127.0.0.1:1" in out and "-net bridge,br=br0" in out
    code, out, _ = run(capsys, "vm", "plan", "alpha", "--show", "xml", *root)
    assert ET.fromstring(out).findtext("name") == "alpha-ciab"
    code, out, _ = run(capsys, "vm", "plan", "alpha", "--show", "files", "--net-style", "networkd", *root)
    assert "/etc/systemd/network/10-br0.netdev" in out and "allow br0" in out
    code, out, _ = run(capsys, "vm", "plan", "alpha", "--show", "commands", *root)
    assert "lvcreate -L 100G -n alpha-ciab vg01" in out
    code, out, _ = run(capsys, "vm", "plan", "alpha", "--show", "path", "--format", "json", *root)
    assert len(json.loads(out)) == 7


def test_launch_is_a_dry_run_unless_apply(capsys, tmp_path):
    root = ["--root", str(tmp_path / "root")]
    code, out, _ = run(capsys, "vm", "launch", "alpha", "--format", "json", *root)
    steps = json.loads(out)
    assert code == 0 and [s["action"] for s in steps] == ["manual", "define", "start", "record"]
    assert not any(s["done"] for s in steps)
    code, out, _ = run(capsys, "vm", "launch", "alpha", "--apply", *root)
    assert code == 0 and "https://192.168.100.10:8443" in out
    code, out, _ = run(capsys, "vm", "destroy", "alpha", "--apply", "--format", "json", *root)
    assert [s["action"] for s in json.loads(out)] == ["destroy", "undefine", "unrecord"]


def test_a_user_mistake_is_one_line_and_exit_1(capsys, tmp_path):
    code, out, err = run(capsys, "vm", "plan", "alpha", "--public-range", "10.0.0.9-10.0.0.1",
                         "--root", str(tmp_path / "root"))
    assert code == 1 and out == "" and err.count("\n") == 1 and "lower address first" in err


def test_check_exits_1_when_a_check_fails(capsys, tmp_path):
    code, out, err = run(capsys, "vm", "check", "--root", str(tmp_path / "root"), "--format", "json")
    rows = json.loads(out)
    assert code == 1 and {r["check"] for r in rows} >= {"ip_forward", "qemu bridge.conf"}
    failed = [r["check"] for r in rows if r["status"] == "fail"]
    assert err.count("\n") == 1 and err.startswith(f"labkit: error: {len(failed)} of {len(rows)} host checks failed")
    assert all(r["fix"] for r in rows if r["status"] == "fail")


def test_the_missing_bridge_fix_names_a_command_that_runs(capsys, tmp_path):
    root = str(tmp_path / "root")
    _, out, _ = run(capsys, "vm", "check", "--root", root, "--format", "json")
    fix = next(r["fix"] for r in json.loads(out) if r["check"] == "bridge br0 present")
    command = fix[fix.index("labkit "):fix.index(")")].replace("CLOUD", "alpha").split()[1:]
    code, out, err = run(capsys, *command, "--root", root)
    assert code == 0 and err == "" and "allow br0" in out


@pytest.mark.parametrize("argv, words", [
    (["vm", "plan", "alpha", "--root", "{tmp}/no-such-root"], "root {tmp}/no-such-root is not a directory"),
    (["vm", "check", "--root", "{tmp}/no-such-root"], "root {tmp}/no-such-root is not a directory"),
    (["vm", "check", "--root", "{tmp}/root", "--need-gb", "-1"], "need_gb=-1 is not a size"),
    (["vm", "plan", "alpha", "--root", "{tmp}/root", "--disk-gb", "0"], "a 0 GB disk"),
    (["vm", "plan", "alpha", "--root", "{tmp}/root", "--bridge", "br 0"], "'br 0' is not a Linux interface name"),
    (["vm", "launch", "alpha", "--root", "{tmp}/root", "--vg", "/dev/vg01"], "'/dev/vg01' is not an LVM name"),
])
def test_bad_options_are_one_line_and_exit_1(capsys, tmp_path, argv, words):
    code, out, err = run(capsys, *[a.format(tmp=tmp_path) for a in argv])
    assert code == 1 and out == "" and err.count("\n") == 1 and words.format(tmp=tmp_path) in err


def test_wait_seed_snapshot_revert_and_clone_work_on_a_launched_cloud(capsys, tmp_path):
    root = ["--root", str(tmp_path / "root")]
    code, _, err = run(capsys, "vm", "launch", "alpha", "--seed", "nocloud", "--seed-dir", str(tmp_path),
                       "--disk-kind", "qcow2", "--disk-dir", "/srv/lab", "--apply", *root)
    assert code == 0, err
    code, out, _ = run(capsys, "vm", "seed", "alpha")  # the plan comes back from the host's record
    assert code == 0 and "# alpha-ciab: network-config" in out and "192.168.100.10/24" in out
    code, out, _ = run(capsys, "vm", "wait", "alpha", "--probe", "lease", "--timeout", "0.3", "--format", "json")
    assert code == 1 and json.loads(out)[0]["ready"] is False  # the test driver runs no guest
    code, out, _ = run(capsys, "vm", "snapshot", "alpha", "before", "--format", "json")
    assert code == 0 and [s["done"] for s in json.loads(out)] == [False]
    assert run(capsys, "vm", "snapshot", "alpha", "before", "--apply")[0] == 0
    code, out, _ = run(capsys, "vm", "snapshot", "alpha", "--list", "--format", "json")
    assert [r["snapshot"] for r in json.loads(out)] == ["before"]
    code, out, _ = run(capsys, "vm", "revert", "alpha", "before", "--apply", "--format", "json")
    assert code == 0 and json.loads(out)[0]["action"] == "revert"
    code, out, _ = run(capsys, "vm", "clone", "alpha", "2", "--save", str(tmp_path / "clones.toml"), "--format", "json")
    rows = json.loads(out)
    assert code == 0 and [r["cloud"] for r in rows] == ["alpha-c1", "alpha-c2"]
    assert len({r["ip"] for r in rows} | {"192.168.100.10"}) == 3
    code, out, _ = run(capsys, "vm", "apply", str(tmp_path / "clones.toml"), "--format", "json")
    assert code == 0 and {s["action"] for s in json.loads(out)} >= {"manual", "write-seed", "define"}
    code, out, err = run(capsys, "vm", "wait", "nosuch")
    assert code == 1 and "no cloud 'nosuch' is recorded" in err and err.count("\n") == 1
    assert run(capsys, "vm", "destroy", "alpha", "--apply")[0] == 0
    assert not (tmp_path / "alpha-ciab-seed.iso").exists()
