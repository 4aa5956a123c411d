"""The VM lab form wired to the real libvirt test driver: plan, conflicts, checks, commands, launch, connections."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration
pytest.importorskip("ipywidgets")
pytest.importorskip("libvirt", reason="libvirt-python is not installed")

from labkit.forms.vm import VmLabForm  # noqa: E402
from labkit.vm.launch import connect, disconnect  # noqa: E402


@pytest.fixture
def host_uri(tmp_path):
    path = tmp_path / "host.xml"
    shutil.copy(Path(__file__).parent / "data" / "host.xml", path)
    (tmp_path / "root/proc").mkdir(parents=True)
    uri = f"test://{path}"
    yield uri
    disconnect(uri)


def names(uri):
    return sorted(d.name() for d in connect(uri).listAllDomains())


def test_plan_then_dry_run_then_launch_then_destroy(host_uri, tmp_path):
    form = VmLabForm(uri=host_uri, cloud="alpha", topology="frontend+nc", nodes=2, root=str(tmp_path / "root"))
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
    form.dry_run.value = False
    form.launch_button.click()
    assert all(s.done for s in form.steps) and names(host_uri) == sorted(before + ["alpha-fe", "alpha-nc1",
                                                                                     "alpha-nc2"])
    assert form.connection_rows[0].user_console.endswith(":8888")
    # the same cloud with more memory is a different machine: a clear error, nothing changed
    form.memory.value = 8192
    form.plan_button.click()
    form.launch_button.click()
    assert "different domain 'alpha-fe'" in form.error and "color:#d93025" in form.status.value
    form.memory.value = 4096
    form.plan_button.click()
    form.destroy_button.click()
    assert names(host_uri) == before


def test_an_overlapping_range_is_shown_as_a_conflict(host_uri, tmp_path):
    form = VmLabForm(uri=host_uri, cloud="alpha", root=str(tmp_path / "root"))
    form.public_range.value = "192.168.100.0/24"  # the lab network's own addresses are inside
    form.plan()
    assert form.plan_result is None and form.conflicts and form.conflicts[0].kind == "ip-range"
    assert "cloud 'alpha' public range" in form.error and "lab network" in form.error
