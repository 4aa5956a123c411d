"""Plan files: a whole lab written as commented TOML, to review, commit and apply again (kcli's plan files).

Every value a plan decided is written out (ranges, subnet, each VM's IP, MAC, display, volume, accelerator and
CPU), so applying the file later reproduces the same lab exactly. TOML is read with the standard library's
``tomllib`` and written here (the writer only needs strings, integers, lists and tables); strings are written
JSON-quoted, which TOML reads as basic strings.
"""

from __future__ import annotations

import json
import os
import tempfile
import tomllib
from pathlib import Path
from typing import Any

from labkit.vm.errors import VmError
from labkit.vm.plan_dict import cloud_from_dict, cloud_to_dict
from labkit.vm.spec import CloudPlan

PLAN_VERSION = 1
MAX_PLAN_BYTES = 16 * 1024 * 1024

_HEADER = """\
# labkit VM lab plan, written by `labkit vm plan ... --save`. Every value is pinned, so applying this file
# again gives the same lab. Review it, commit it, then:
#   labkit vm apply {name}            # what would change on the hosts: create / leave / drift
#   labkit vm apply {name} --apply    # converge the hosts to this file
#   labkit vm destroy {name} --apply  # remove what apply created
version = {version}
"""

COMMENTS = {
    "topology": "cloud-in-a-box, or frontend+nc (one frontend, N node controllers)",
    "network": "the bridge's LAN: VM addresses and their netmask",
    "public_range": "addresses the cloud hands to instances",
    "private_subnet": "instances' private addresses",
    "gateway": "default route of the VMs",
    "dns": "name server of the VMs",
    "network_mode": "Eucalyptus networking mode",
    "bridge": "host bridge the VMs' NICs join",
    "seed": "unattended install: nocloud (cloud-init cidata ISO) or kickstart (OEMDRV ISO)",
    "memory_mb": "MiB",
    "accel": "kvm, or tcg (emulation)",
    "cpu_features": "nested virtualization flag of the VM's host (vmx on Intel, svm on AMD)",
    "mac": "pinned: the NIC's MAC",
    "ip": "pinned: the VM's address on the bridge's LAN",
    "vnc_display": "pinned: VNC display (port 5900 + display)",
    "vnc_listen": "0.0.0.0 listens on every address (qemu's -vnc :N)",
    "disk": "LVM vg/lv, or the disk file",
    "disk_format": "auto lets qemu probe the format (the blog's -drive has no format=)",
    "backing": "linked clone: a qcow2 overlay on this image",
}


def _value(v: Any) -> str:
    """Return a value written as TOML (strings JSON-quoted, which TOML reads as basic strings)."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, list | tuple):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    raise VmError(f"cannot write {v!r} to a plan file", hint="plans hold text, whole numbers and lists")


def _pairs(d: dict[str, Any]) -> list[str]:
    """Return ``key = value`` lines, each with its comment."""
    lines = []
    for key, v in d.items():
        line = f"{key} = {_value(v)}"
        note = COMMENTS.get(key)
        lines.append(f"{line:<48} # {note}" if note else line)
    return lines


def plan_text(plans: list[CloudPlan], name: str = "lab.toml") -> str:
    """Return the TOML text of a lab: one ``[clouds.NAME]`` table per cloud, one ``[[clouds.NAME.vms]]`` per VM."""
    out = [_HEADER.format(name=name, version=PLAN_VERSION)]
    for plan in plans:
        d = cloud_to_dict(plan)
        vms, hosts = d.pop("vms"), d.pop("hosts", {})
        d.pop("name")
        out.append(f"[clouds.{plan.name}]")
        out += _pairs(d)
        out.append("")
        if hosts:
            out.append(f"[clouds.{plan.name}.hosts]  # host name = libvirt URI")
            out += [f"{json.dumps(h)} = {_value(u)}" for h, u in hosts.items()]
            out.append("")
        for vm in vms:
            out.append(f"[[clouds.{plan.name}.vms]]")
            out += _pairs(vm)
            out.append("")
    return "\n".join(out)


def save_plan(path: str | Path, plans: list[CloudPlan]) -> Path:
    """Write the lab's plan file at ``path`` atomically (a directory or missing folder is a VmError)."""
    path = Path(path)
    if path.is_dir():
        raise VmError(f"{path} is a directory", hint="give a file name, e.g. lab.toml")
    if not path.parent.is_dir():
        raise VmError(f"cannot write {path}: {path.parent} does not exist", hint="create the folder first")
    if path.suffix != ".toml":
        raise VmError(f"plan file {path} should end in .toml", hint="e.g. lab.toml")
    text = plan_text(plans, path.name)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def load_plan(path: str | Path) -> list[CloudPlan]:
    """Read a plan file; every value is checked as a new plan's would be (a bad one is a VmError naming it)."""
    path = Path(path)
    try:
        if path.stat().st_size > MAX_PLAN_BYTES:
            raise VmError(f"{path} is larger than a plan file can be", hint="give the lab.toml labkit wrote")
        raw = path.read_bytes()
    except OSError as exc:
        raise VmError(f"cannot read plan file {path} ({exc.strerror})", hint="check the path") from None
    if path.is_dir():
        raise VmError(f"{path} is a directory", hint="give the plan file, e.g. lab.toml")
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise VmError(f"{path} is not UTF-8 text", hint="give the lab.toml labkit wrote") from None
    except tomllib.TOMLDecodeError as exc:
        raise VmError(f"{path} is not valid TOML ({exc})", hint="fix the line it names") from None
    if data.get("version") != PLAN_VERSION:
        raise VmError(f"{path} is not a labkit plan file of version {PLAN_VERSION} (version = "
                      f"{data.get('version')!r})", hint="write it with labkit vm plan ... --save")
    clouds = data.get("clouds")
    if not isinstance(clouds, dict) or not clouds:
        raise VmError(f"{path} has no [clouds.NAME] table", hint="write it with labkit vm plan ... --save")
    plans = []
    for name, body in clouds.items():
        if not isinstance(body, dict):
            raise VmError(f"{path}: clouds.{name} is not a table", hint="write it with labkit vm plan ... --save")
        if body.get("name", name) != name:
            raise VmError(f"{path}: clouds.{name} says name = {body['name']!r}", hint="keep the table name and name= equal")
        plans.append(cloud_from_dict({**body, "name": name}, where=str(path)))
    return plans
