"""Snapshots of a whole cloud on libvirt's test driver: all VMs at once, dry run first, nothing half-done."""

from __future__ import annotations

import pytest

from labkit.vm import Lab, VmError, delete_snapshot, launch, revert, snapshot, snapshots
from labkit.vm.connection import connect

pytestmark = pytest.mark.integration
pytest.importorskip("libvirt", reason="libvirt-python is not installed (make setup)")


@pytest.fixture
def cloud(host_uri):
    plan = Lab.from_host(host_uri, probe_host=False).plan_cloud("alpha", topology="fe+nc", nodes=2)
    launch(plan, uri=host_uri, dry_run=False)
    return host_uri, plan


def names(uri, vm):
    return [s.getName() for s in connect(uri).lookupByName(vm).listAllSnapshots(0)]


def test_a_cloud_snapshot_covers_every_vm_and_changes_nothing_until_applied(cloud):
    uri, plan = cloud
    dry = snapshot(plan, "installed", uri=uri)
    assert [s.action for s in dry] == ["pause"] * 3 + ["snapshot"] * 3 + ["resume"] * 3
    assert not any(s.done for s in dry) and all(names(uri, vm.name) == [] for vm in plan.vms)
    done = snapshot(plan, "installed", uri=uri, dry_run=False)
    assert all(s.done for s in done)
    assert all(names(uri, vm.name) == ["installed"] for vm in plan.vms)
    assert all(connect(uri).lookupByName(vm.name).isActive() for vm in plan.vms)  # resumed
    rows = snapshots(plan, uri=uri)
    assert sorted((r.vm, r.snapshot, r.kind, r.current) for r in rows) == \
        [(vm.name, "installed", "internal", True) for vm in plan.vms]


def test_a_second_snapshot_of_the_same_name_is_refused_whole(cloud):
    uri, plan = cloud
    snapshot(plan, "a", uri=uri, dry_run=False)
    connect(uri).lookupByName(plan.vms[2].name).snapshotLookupByName("a").delete(0)
    with pytest.raises(VmError, match="alpha-fe already has a snapshot 'a'; nothing was changed"):
        snapshot(plan, "a", uri=uri, dry_run=False)
    assert names(uri, plan.vms[2].name) == []  # the VM that lacked it did not get it either


def test_revert_brings_every_vm_back_and_needs_the_snapshot_on_all(cloud):
    uri, plan = cloud
    snapshot(plan, "before", uri=uri, dry_run=False)
    for vm in plan.vms:
        connect(uri).lookupByName(vm.name).destroy()
    assert [s.action for s in revert(plan, "before", uri=uri)] == ["revert"] * 3
    assert not any(connect(uri).lookupByName(vm.name).isActive() for vm in plan.vms)  # dry run
    revert(plan, "before", uri=uri, dry_run=False)
    assert all(connect(uri).lookupByName(vm.name).isActive() for vm in plan.vms)  # taken running, back running
    connect(uri).lookupByName(plan.vms[1].name).snapshotLookupByName("before").delete(0)
    with pytest.raises(VmError, match="alpha-nc1 has no snapshot 'before'; nothing was changed"):
        revert(plan, "before", uri=uri, dry_run=False)


def test_delete_removes_the_snapshot_everywhere(cloud):
    uri, plan = cloud
    snapshot(plan, "x", uri=uri, dry_run=False)
    assert all(not s.done for s in delete_snapshot(plan, "x", uri=uri))
    assert [s.action for s in delete_snapshot(plan, "x", uri=uri, dry_run=False)] == ["delete"] * 3
    assert snapshots(plan, uri=uri) == []


@pytest.mark.parametrize("name", ["", "-x", "a b", "x/../y", "é", "a" * 65, None])
def test_a_bad_snapshot_name_is_refused(cloud, name):
    uri, plan = cloud
    with pytest.raises(VmError, match="snapshot name"):
        snapshot(plan, name, uri=uri, dry_run=False)


def test_only_labkits_own_domains_are_snapshotted(cloud):
    uri, plan = cloud
    other = Lab().plan_cloud("other")
    with pytest.raises(VmError, match="cloud 'other' has no domain other-ciab"):
        snapshot(other, "x", uri=uri)
    from dataclasses import replace

    web1 = replace(plan, vms=[replace(plan.vms[0], name="web1")])
    with pytest.raises(VmError, match="was not defined by labkit for cloud 'alpha'"):
        snapshot(web1, "x", uri=uri)
