"""The plan a host keeps: labkit's metadata in each domain it defines and one labkit-owned record per host.

Every VM domain labkit defines carries ``<labkit:vm cloud= role= created-volume=>`` with its cloud's plan inside
(ranges, subnet, gateway) restricted to that VM (its IP, MAC, display and volume), so a domain's XML stays the
same size whatever the cloud's. The host also keeps a record domain,
``labkit-state``: defined, never started, its ``<metadata>`` holding one ``<labkit:cloud>`` per cloud launched
there, so a cloud whose domains are stopped or gone still holds its ranges. (libvirt 9.0, Debian 12's, has no
metadata API for networks and the embedded qemu driver has no networks at all; a domain record works on every
driver: test, qemu:///system, qemu+ssh and qemu:///embed.)

The record is read, changed and written back by one process at a time (libvirt has no lock for it): run one
``labkit vm launch|apply|destroy`` per host at a time.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from dataclasses import replace

from labkit.vm.errors import VmError
from labkit.vm.plan_dict import cloud_from_dict, cloud_to_dict
from labkit.vm.spec import LABKIT_NS, CloudPlan, VmSpec

RECORD_DOMAIN = "labkit-state"
RECORD_VERSION = "1"
_CLOUD = f"{{{LABKIT_NS}}}cloud"
_LAB = f"{{{LABKIT_NS}}}lab"
_VM = f"{{{LABKIT_NS}}}vm"

ET.register_namespace("labkit", LABKIT_NS)


def cloud_element(plan: CloudPlan) -> ET.Element:
    """Return ``<labkit:cloud name= version=>`` holding the plan's values as JSON."""
    el = ET.Element(_CLOUD, {"name": plan.name, "version": RECORD_VERSION})
    el.text = json.dumps(cloud_to_dict(plan), sort_keys=False, separators=(",", ":"))
    return el


def parse_cloud_element(el: ET.Element, where: str) -> CloudPlan:
    """Rebuild the plan a ``<labkit:cloud>`` element holds; a broken one is a VmError naming where it is."""
    try:
        data = json.loads(el.text or "")
    except ValueError as exc:
        raise VmError(f"labkit's record of cloud '{el.get('name')}' in {where} is not readable ({exc})",
                      hint=f"remove that <labkit:cloud> entry with virsh edit {RECORD_DOMAIN}, then plan again") from None
    return cloud_from_dict(data, where=f"labkit's record in {where}")


def vm_metadata(plan: CloudPlan | None, vm: VmSpec, *, created_volume: str) -> ET.Element:
    """Return the ``<labkit:vm>`` element a VM domain carries (its cloud's plan, with this VM only, inside)."""
    el = ET.Element(_VM, {"cloud": vm.cloud, "role": vm.role, "created-volume": created_volume})
    if plan is not None:
        el.append(cloud_element(replace(plan, vms=[v for v in plan.vms if v.name == vm.name] or [vm])))
    return el


def _vm_order(vm: VmSpec) -> tuple[int, int, str]:
    """Sort a cloud's VMs as planned: the frontend (or ciab VM) first, then nc1, nc2, ... by number."""
    key = vm.who.split("/", 1)[1]
    digits = key.lstrip("abcdefghijklmnopqrstuvwxyz")
    return (0 if vm.role in ("ciab", "frontend") else 1, int(digits) if digits.isdigit() else 0, key)


def merge_parts(parts: list[CloudPlan]) -> CloudPlan:
    """Join the one-VM plans a cloud's domains carry into the cloud's plan (its VMs in planned order)."""
    vms = {vm.name: vm for part in parts for vm in part.vms}
    return replace(parts[0], vms=sorted(vms.values(), key=_vm_order))


def clouds_in(metadata: ET.Element | None, where: str) -> list[CloudPlan]:
    """Return every cloud plan recorded under a domain's ``<metadata>`` (VM domains and the record domain)."""
    if metadata is None:
        return []
    holders = [metadata.find(_VM), metadata.find(_LAB)]
    return [parse_cloud_element(el, where) for h in holders if h is not None for el in h.findall(_CLOUD)]


def record_xml(plans: list[CloudPlan], uuid: str = "") -> str:
    """Return the record domain's XML holding ``plans`` (a domain that is defined and never started)."""
    dom = ET.Element("domain", type="qemu")
    ET.SubElement(dom, "name").text = RECORD_DOMAIN
    if uuid:  # redefining a domain keeps its UUID (the qemu driver refuses a new one for the same name)
        ET.SubElement(dom, "uuid").text = uuid
    ET.SubElement(dom, "description").text = (
        "labkit's record of the clouds it launched on this host. Never started; "
        "labkit vm destroy removes a cloud's entry.")
    meta = ET.SubElement(dom, "metadata")
    lab = ET.SubElement(meta, _LAB, {"version": RECORD_VERSION})
    for plan in sorted(plans, key=lambda p: p.name):
        lab.append(cloud_element(plan))
    ET.SubElement(dom, "memory", unit="MiB").text = "16"
    ET.SubElement(dom, "vcpu").text = "1"
    os_el = ET.SubElement(dom, "os")
    ET.SubElement(os_el, "type", arch="x86_64").text = "hvm"
    ET.SubElement(dom, "on_poweroff").text = "destroy"
    return ET.tostring(dom, encoding="unicode")


def _record_domain(conn):
    """Return the host's record domain, or None."""
    import libvirt

    try:
        return conn.lookupByName(RECORD_DOMAIN)
    except libvirt.libvirtError:
        return None


def read_record(conn, where: str) -> dict[str, CloudPlan]:
    """Return the clouds the host's record domain holds (empty when there is none)."""
    dom = _record_domain(conn)
    if dom is None:
        return {}
    root = ET.fromstring(dom.XMLDesc(0))
    return {p.name: p for p in clouds_in(root.find("metadata"), where)}


def write_record(conn, where: str, *, put: list[CloudPlan] = (), drop: list[str] = ()) -> None:
    """Add or replace ``put`` and remove ``drop`` in the host's record; undefine the record when it is empty."""
    import libvirt

    plans = read_record(conn, where)
    for plan in put:
        plans[plan.name] = plan
    for name in drop:
        plans.pop(name, None)
    dom = _record_domain(conn)
    try:
        if plans:
            conn.defineXML(record_xml(list(plans.values()), dom.UUIDString() if dom is not None else ""))
        elif dom is not None:
            dom.undefine()
    except libvirt.libvirtError as exc:
        raise VmError(f"cannot write labkit's record on {where} ({exc.get_error_message()})",
                      hint="check the libvirt user may define domains there") from None
