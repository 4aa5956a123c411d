"""The plan a host keeps: labkit's metadata in each domain it defines and one labkit-owned record per host.

Every VM domain labkit defines carries ``<labkit:vm cloud= role= created-volume=>`` with its cloud's plan inside
(ranges, subnet, gateway) restricted to that VM (its IP, MAC, display and volume), so a domain's XML stays the
same size whatever the cloud's. The host also keeps a record domain,
``labkit-state``: defined, never started, its ``<metadata>`` holding one ``<labkit:cloud>`` per cloud launched
there, so a cloud whose domains are stopped or gone still holds its ranges. (libvirt 9.0, Debian 12's, has no
metadata API for networks and the embedded qemu driver has no networks at all; a domain record works on every
driver: test, qemu:///system, qemu+ssh and qemu:///embed.)

libvirt has no lock for the record, so labkit takes its own around every change of a host: :func:`host_lock`, an
``flock`` on ``$XDG_STATE_HOME/labkit/locks/libvirt-<hash of the URI>.lock``, held by ``launch`` and ``destroy``
(and by ``labkit vm launch --apply`` from planning on, so two launches on one host never take the same ranges).
It serialises the labkit processes of this machine; two machines driving one libvirt host are not serialised.
An in-process driver (``test:///``) and an embedded one (``qemu:///embed``, whose root libvirt itself gives to one
process at a time) need no lock.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Iterator
from dataclasses import replace
from pathlib import Path
from urllib.parse import urlsplit

from labkit.locks import exclusive, locks_dir
from labkit.vm.connection import embed_root
from labkit.vm.errors import VmError
from labkit.vm.plan_dict import cloud_from_dict, cloud_to_dict
from labkit.vm.spec import LABKIT_NS, CloudPlan, VmSpec

RECORD_DOMAIN = "labkit-state"
RECORD_VERSION = "1"
LOCK_WAIT = 600.0  # seconds a launch or destroy waits for another one on the same host
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
    import libvirt

    dom = _record_domain(conn)
    if dom is None:
        return {}
    try:
        root = ET.fromstring(dom.XMLDesc(0))
    except libvirt.libvirtError as exc:
        if exc.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN:
            return {}  # another process dropped the last cloud since the lookup
        raise
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


def host_lock_path(uri: str) -> Path | None:
    """Return the lock file guarding a libvirt host's domains and record, or None when no other process shares it."""
    if urlsplit(uri).scheme == "test" or embed_root(uri) is not None:
        return None
    return locks_dir() / f"libvirt-{hashlib.sha256(uri.encode()).hexdigest()[:24]}.lock"


@contextlib.contextmanager
def host_lock(uris: Iterable[str]) -> Iterator[None]:
    """Hold the lock of every host in ``uris`` (in one order, so two holders never wait for each other)."""
    from labkit.http import mask_url

    paths = {p: u for u in uris if (p := host_lock_path(u)) is not None}
    with contextlib.ExitStack() as stack:
        for path in sorted(paths):
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)

            def busy(waited: float, uri: str = paths[path]) -> VmError:
                """The error for a host another labkit has been changing too long."""
                return VmError(f"another labkit has been launching or destroying on {mask_url(uri)} for over "
                               f"{waited:.0f} s", hint="wait for it to finish, then try again")

            stack.enter_context(exclusive(path, wait=LOCK_WAIT, busy=busy))
        yield
