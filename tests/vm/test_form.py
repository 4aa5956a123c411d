"""The VM lab form wired to the real libvirt test driver: plan, conflicts, checks, commands, launch, connections."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.integration
pytest.importorskip("ipywidgets")
pytest.importorskip("libvirt", reason="libvirt-python is not installed")

from labkit.forms.vm import TABS, VmLabForm  # noqa: E402
from labkit.vm.connection import connect  # noqa: E402


def names(uri):
    return sorted(d.name() for d in connect(uri).listAllDomains())


def test_plan_then_dry_run_then_launch_then_destroy(host_uri, tmp_path):
    form = VmLabForm(uri=host_uri, cloud="alpha", topology="frontend+nc", nodes=2, root=str(tmp_path / "root"),
                     iso="/isos/silvereye.iso")
    assert form.dry_run.value is True
    assert "labkit-vm-plan" in form.plan_button._dom_classes
    form.plan_button.click()
    assert form.error == "" and [v.name for v in form.plan_result.vms] == ["alpha-fe", "alpha-nc1", "alpha-nc2"]
    assert form.plan_result.vms[0].nic.mac != "52:54:00:12:34:60"  # web1's MAC on that host is avoided
    assert form.conflicts == []
    assert "<svg" in form.out_path.value
    assert list(form.tables["plan"]["vm"]) == ["alpha-fe", "alpha-nc1", "alpha-nc2"]
    assert "ip_forward" in set(form.tables["checks"]["check"])
    assert form.tables["qemu"]["command"].str.contains("-cpu qemu64,+").all()
    assert form.tables["host_commands"]["command"].str.startswith("lvcreate").sum() == 3
    before = names(host_uri)
    form.launch_button.click()
    assert form.steps and not any(s.done for s in form.steps) and names(host_uri) == before
    assert [r.admin_ui.rsplit(":", 1)[-1] for r in form.connection_rows][:1] == ["8443"]
    assert form.tabs.selected_index == TABS.index("Launch")  # the launch result is in front
    form.dry_run.value = False
    form.launch_button.click()
    assert all(s.done for s in form.steps) and names(host_uri) == sorted(before + ["alpha-fe", "alpha-nc1",
                                                                                     "alpha-nc2", "labkit-state"])
    assert form.connection_rows[0].user_console.endswith(":8888")
    # the same cloud with more memory is a different machine: a clear error, nothing changed
    form.memory.value = "8G"
    form.plan_button.click()
    form.launch_button.click()
    assert "different domain 'alpha-fe'" in form.error and "color:#d93025" in form.status.value
    form.memory.value = "4096"
    form.plan_button.click()
    form.destroy_button.click()
    assert names(host_uri) == before


def test_an_overlapping_range_is_shown_as_a_conflict(host_uri, tmp_path):
    form = VmLabForm(uri=host_uri, cloud="alpha", root=str(tmp_path / "root"), iso="/isos/silvereye.iso")
    form.public_range.value = "192.168.100.0/24"  # the lab network's own addresses are inside
    form.plan()
    assert form.plan_result is None and form.conflicts and form.conflicts[0].kind == "ip-range"
    assert "cloud 'alpha' public range" in form.error and "lab network" in form.error


def test_save_wait_snapshot_and_revert_from_the_form(host_uri, tmp_path):
    form = VmLabForm(uri=host_uri, cloud="beta", root=str(tmp_path / "root"), iso="/isos/silvereye.iso",
                     plan_file=str(tmp_path / "lab.toml"))
    form.seed.value = "nocloud"
    form.seed_dir.value = str(tmp_path)
    form.save_button.click()
    assert form.tabs.selected_index == TABS.index("Plan file") and not (tmp_path / "lab.toml").exists()
    form.dry_run.value = False
    form.save_button.click()
    from labkit.vm import load_plan

    assert load_plan(tmp_path / "lab.toml") == [form.plan_result]
    form.launch_button.click()
    assert form.error == "" and (tmp_path / "beta-ciab-seed.iso").exists()
    form.timeout.value = 1
    assert form.probe.value == "ssh"
    form.wait_button.click()  # the test driver runs no guest: no sshd answers, and the table says so
    assert form.tabs.selected_index == TABS.index("Ready")
    assert [(r.vm, r.ready) for r in form.ready_rows] == [("beta-ciab", False)]
    assert "no SSH identification from 192.168.100." in form.ready_rows[0].seen
    form.snapshot_button.click()
    assert form.tabs.selected_index == TABS.index("Snapshots") and all(s.done for s in form.snapshot_steps)
    assert list(form.tables["snapshots"]["snapshot"]) == ["installed"]
    form.revert_button.click()
    assert [s.action for s in form.snapshot_steps] == ["revert"] and form.error == ""
    form.snapshot_name.value = "no such"
    form.revert_button.click()
    assert "snapshot name 'no such'" in form.error
    form.destroy_button.click()
    assert "beta-ciab" not in names(host_uri) and not (tmp_path / "beta-ciab-seed.iso").exists()
