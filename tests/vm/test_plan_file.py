"""Plan files: a lab saved as commented TOML, read back unchanged, applied (create / leave / drift) and destroyed."""

from __future__ import annotations

import json
import shlex
import tomllib

import pytest

from labkit.cli import main
from labkit.vm import Lab, VmError, load_plan, plan_text, qemu_argv, save_plan

pytestmark = pytest.mark.integration
libvirt = pytest.importorskip("libvirt", reason="libvirt-python is not installed (make setup)")

# The command line of the blog this job comes from, as a user types it.
BLOG = ("qemu-kvm -m 2048 -cpu qemu64,+vmx -drive file=/dev/vg01/ciab,if=virtio "
        "-net nic,model=virtio,macaddr=52:54:00:12:34:60 -net bridge,br=br0 -cdrom X.iso -boot d -vnc :1")


@pytest.fixture
def host(host_uri, tmp_path, monkeypatch):
    """The fake hypervisor and an empty /proc, with no labkit profile configured."""
    monkeypatch.setenv("LABKIT_CONFIG", str(tmp_path / "none.toml"))
    monkeypatch.delenv("LABKIT_PROFILE", raising=False)
    return host_uri, tmp_path


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_a_saved_plan_reads_back_equal_with_every_value_pinned(tmp_path):
    lab = Lab(network="10.9.0.0/16")
    plans = [lab.plan_cloud("alpha", topology="fe+nc", nodes=2, iso="/isos/s.iso", seed="nocloud",
                            ssh_keys=('ssh-ed25519 AAAA "x" y',), accel="tcg", disk_kind="qcow2", disk_dir="/srv/a,b"),
             lab.plan_cloud("beta", kernel="/boot/vmlinuz", initrd="/boot/initrd", cmdline='console=ttyS0 x="1 2"',
                            serial_log_dir="/var/log/lab", vnc_listen="0.0.0.0", disk_format="auto")]
    plans += lab.clone(plans[0], 1)
    path = save_plan(tmp_path / "lab.toml", plans)
    text = path.read_text()
    assert load_plan(path) == plans
    data = tomllib.loads(text)  # plain TOML, readable by any TOML reader
    assert data["version"] == 1 and list(data["clouds"]) == ["alpha", "beta", "alpha-c1"]
    assert data["clouds"]["alpha"]["vms"][1]["mac"] == plans[0].vms[1].nic.mac
    assert data["clouds"]["alpha-c1"]["vms"][0]["backing"] == plans[0].vms[0].disk.path
    assert "# pinned: the NIC's MAC" in text and "labkit vm apply lab.toml --apply" in text
    assert not [p for p in tmp_path.iterdir() if p.name != "lab.toml"]  # written atomically, no leftovers


def test_the_blog_line_comes_back_exactly_from_a_plan_file(tmp_path):
    (tmp_path / "blog.toml").write_text('''version = 1
[clouds.ciab]
topology = "ciab"
public_range = "192.168.100.200-192.168.100.220"
private_subnet = "172.16.0.0/16"
gateway = "192.168.100.1"
[[clouds.ciab.vms]]
name = "ciab"
memory_mb = 2048
vcpus = 1
cpu_model = "qemu64"
cpu_features = ["vmx"]
accel = "kvm"
mac = "52:54:00:12:34:60"
bridge = "br0"
vnc_display = 1
vnc_listen = "0.0.0.0"
disk_kind = "lvm"
disk = "/dev/vg01/ciab"
disk_gb = 100
disk_format = "auto"
iso = "X.iso"
boot = ["cdrom", "hd"]
''')
    (plan,) = load_plan(tmp_path / "blog.toml")
    assert qemu_argv(plan.vms[0]) == shlex.split(BLOG)


def test_the_blog_line_comes_back_exactly_from_the_command_line(host, capsys):
    _, tmp = host
    uri = "test:///default"  # a host where the blog's MAC and display are free (host.xml's web1 holds them)
    code, out, err = run(capsys, "vm", "plan", "ciab", "--uri", uri, "--root", str(tmp / "root"), "--iso", "X.iso",
                         "--memory", "2G", "--vcpus", "1", "--mac", "52:54:00:12:34:60", "--vnc-display", "1",
                         "--vnc-listen", "0.0.0.0", "--volume", "/dev/vg01/ciab", "--disk-format", "auto",
                         "--cpu-model", "qemu64", "--accel", "kvm", "--show", "qemu", "--format", "json",
                         "--save", str(tmp / "ciab.toml"))
    assert code == 0, err
    assert shlex.split(json.loads(out)[0]["command"]) == shlex.split(BLOG)
    assert qemu_argv(load_plan(tmp / "ciab.toml")[0].vms[0]) == shlex.split(BLOG)


def test_apply_creates_then_leaves_then_converges_drift_and_destroy_removes_it(host, capsys):
    uri, tmp = host
    lab_toml = tmp / "lab.toml"
    code, _, err = run(capsys, "vm", "plan", "alpha", "--uri", uri, "--root", str(tmp / "root"), "--topology", "fe+nc",
                       "--nodes", "1", "--iso", "/isos/silvereye.iso", "--save", str(lab_toml))
    assert code == 0, err
    code, out, err = run(capsys, "vm", "apply", str(lab_toml), "--format", "json")
    steps = json.loads(out)
    assert code == 0 and [s["action"] for s in steps] == ["create-volume", "define", "start"] * 2 + ["record"]
    assert not any(s["done"] for s in steps) and steps[0]["uri"] == uri  # the file names its host
    assert run(capsys, "vm", "apply", str(lab_toml), "--apply")[0] == 0
    code, out, _ = run(capsys, "vm", "apply", str(lab_toml), "--format", "json")
    assert {s["action"] for s in json.loads(out)} == {"leave"}
    lab_toml.write_text(lab_toml.read_text().replace("memory_mb = 4096", "memory_mb = 6144", 1))  # someone edits it
    code, out, _ = run(capsys, "vm", "apply", str(lab_toml), "--format", "json")
    drift = [s for s in json.loads(out) if s["action"] == "drift"]
    assert [d["target"] for d in drift] == ["alpha-fe"] and "memory_kib" in drift[0]["detail"]
    code, out, err = run(capsys, "vm", "apply", str(lab_toml), "--apply", "--format", "json")
    assert code == 0, err
    assert [s["action"] for s in json.loads(out) if s["done"]] == ["drift", "record"], out
    from labkit.vm import parse_domain_xml
    from labkit.vm.connection import connect

    dom = connect(uri).lookupByName("alpha-fe")  # the next start uses the new definition
    assert parse_domain_xml(dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)).memory_kib == 6144 * 1024
    code, out, _ = run(capsys, "vm", "apply", str(lab_toml), "--format", "json")
    assert {s["action"] for s in json.loads(out)} == {"leave"}
    code, out, _ = run(capsys, "vm", "destroy", str(lab_toml), "--apply", "--format", "json")
    assert code == 0 and {"undefine", "delete-volume", "unrecord"} <= {s["action"] for s in json.loads(out)}
    assert sorted(d.name() for d in connect(uri).listAllDomains()) == ["web1"]


def test_apply_refuses_a_domain_that_is_not_this_clouds(host, capsys):
    uri, tmp = host
    plans = Lab().plan_cloud("web", vnc_displays={"ciab": 7})
    plans.vms[0] = type(plans.vms[0])(**{**plans.vms[0].__dict__, "name": "web1"})  # web1 exists, not labkit's
    plans.uris = {"local": uri}
    save_plan(tmp / "web.toml", [plans])
    code, out, err = run(capsys, "vm", "apply", str(tmp / "web.toml"))
    assert code == 1 and out == "" and "a different domain 'web1'" in err and err.count("\n") == 1


@pytest.mark.parametrize("text, words", [
    ("not = [toml", "is not valid TOML"),
    ("version = 2\n", "not a labkit plan file of version 1"),
    ("version = 1\n", "has no [clouds.NAME] table"),
    ("version = 1\n[clouds.a]\nname = 'b'\n", "says name = 'b'"),
    ("version = 1\n[clouds.a]\ntopology = 'ciab'\npublic_range = '10.0.0.1-10.0.0.2'\nprivate_subnet = '10.1.0.0/24'\n"
     "gateway = '10.0.0.254'\nvms = []\n", "has no VMs"),
    ("version = 1\n[clouds.a]\ntopology = 'ciab'\npublic_range = '10.0.0.1-10.0.0.2'\nprivate_subnet = '10.1.0.0/24'\n"
     "gateway = '10.0.0.254'\n[[clouds.a.vms]]\nname = 'a-ciab'\nmemory_mb = '2G'\nvcpus = 1\nmac = 'zz'\n"
     "vnc_display = 1\ndisk_kind = 'lvm'\ndisk = 'vg01/a'\ndisk_gb = 10\n", "'zz' is not a MAC address"),
    ("version = 1\n[clouds.a]\ntopology = 'ciab'\npublic_range = '10.0.0.1-10.0.0.2'\nprivate_subnet = '10.1.0.0/24'\n"
     "gateway = '10.0.0.254'\n[[clouds.a.vms]]\nname = 'a-ciab'\nmemory_mb = 2048\nvcpus = 1\nmac = '52:54:00:00:00:01'"
     "\nvnc_display = 1\ndisk_kind = 'lvm'\ndisk = 'vg01/a'\ndisk_gb = 10\nmemroy = 1\n", "unknown key 'memroy'"),
    ("version = 1\n[clouds.a]\ntopology = 'ciab'\npublic_range = '10.0.0.1-10.0.0.2'\nprivate_subnet = '10.1.0.0/24'\n"
     "gateway = '10.0.0.254'\n[[clouds.a.vms]]\nname = 'a-ciab'\nmemory_mb = 2048\nvcpus = '1'\nmac = '52:54:00:00:00:01'"
     "\nvnc_display = 1\ndisk_kind = 'lvm'\ndisk = 'vg01/a'\ndisk_gb = 10\n", "'vcpus' = '1' has the wrong type"),
])
def test_a_bad_plan_file_is_one_line_and_exit_1(host, capsys, text, words):
    _, tmp = host
    (tmp / "bad.toml").write_text(text)
    code, out, err = run(capsys, "vm", "apply", str(tmp / "bad.toml"))
    assert code == 1 and out == "" and err.startswith("labkit: error: ") and err.count("\n") == 1
    assert words in err


def test_plan_file_paths_are_checked(tmp_path):
    plan = Lab().plan_cloud("a")
    with pytest.raises(VmError, match="is a directory"):
        save_plan(tmp_path, [plan])
    with pytest.raises(VmError, match="does not exist"):
        save_plan(tmp_path / "no" / "lab.toml", [plan])
    with pytest.raises(VmError, match="should end in .toml"):
        save_plan(tmp_path / "lab.txt", [plan])
    with pytest.raises(VmError, match="cannot read plan file"):
        load_plan(tmp_path / "missing.toml")
    (tmp_path / "bin.toml").write_bytes(b"\xff\xfe\x00")
    with pytest.raises(VmError, match="not UTF-8"):
        load_plan(tmp_path / "bin.toml")
    assert plan_text([plan]).count("[[clouds.a.vms]]") == 1


def test_apply_refuses_a_file_whose_addresses_another_cloud_took_since(host, capsys):
    uri, tmp = host
    from labkit.vm import launch

    old = Lab.from_host(uri, probe_host=False).plan_cloud("alpha", iso="/isos/silvereye.iso")
    save_plan(tmp / "alpha.toml", [old])  # written, reviewed... not applied yet
    beta = Lab.from_host(uri, probe_host=False).plan_cloud("beta", public_range=str(old.public_range),
                                                             macs={"ciab": "52:54:00:be:7a:01"})
    launch(beta, uri=uri, dry_run=False)  # meanwhile someone launches beta over the same public range
    code, out, err = run(capsys, "vm", "apply", str(tmp / "alpha.toml"), "--apply")
    assert code == 1 and out == "" and err.count("\n") == 1
    assert f"ip-range {old.public_range} wanted by cloud 'alpha' public range" in err
    assert "cloud 'beta' public range" in err
    from labkit.vm.connection import connect

    assert "alpha-ciab" not in [d.name() for d in connect(uri).listAllDomains()]
