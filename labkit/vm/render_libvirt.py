"""Render a VM as libvirt domain XML (bridge NIC, LVM or file disk, ISO and seed, VNC, nested-virtualization CPU)."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from labkit.vm.record import vm_metadata
from labkit.vm.spec import CloudPlan, VmSpec

_BOOT_DEV = {"cdrom": "cdrom", "hd": "hd", "network": "network", "fd": "fd"}


def _cdrom(dev: ET.Element, path: str, target: str) -> None:
    """Add a read-only IDE CD-ROM holding ``path``."""
    c = ET.SubElement(dev, "disk", type="file", device="cdrom")
    ET.SubElement(c, "driver", name="qemu", type="raw")
    ET.SubElement(c, "source", file=path)
    ET.SubElement(c, "target", dev=target, bus="ide")
    ET.SubElement(c, "readonly")


def domain_xml(spec: VmSpec, *, plan: CloudPlan | None = None, domain_type: str | None = None,
               created_volume: str = "", emulator: str | None = None, uuid: str = "") -> str:
    """Return the libvirt ``<domain>`` XML of a VM, tagged with labkit metadata.

    The metadata names the VM's cloud, role and the volume launch created; with ``plan`` it also carries the
    cloud's ranges and this VM's values, so the host keeps what labkit decided. ``domain_type`` defaults to the VM's accelerator
    (``kvm``, or ``qemu`` for TCG); ``uuid`` redefines an existing domain in place.
    """
    dom = ET.Element("domain", type=domain_type or spec.domain_type)
    ET.SubElement(dom, "name").text = spec.name
    if uuid:
        ET.SubElement(dom, "uuid").text = uuid
    ET.SubElement(dom, "description").text = f"labkit VM {spec.role} of cloud {spec.cloud}"
    meta = ET.SubElement(dom, "metadata")
    meta.append(vm_metadata(plan, spec, created_volume=created_volume))
    ET.SubElement(dom, "memory", unit="MiB").text = str(spec.memory_mb)
    ET.SubElement(dom, "currentMemory", unit="MiB").text = str(spec.memory_mb)
    ET.SubElement(dom, "vcpu", placement="static").text = str(spec.vcpus)
    os_el = ET.SubElement(dom, "os")
    ET.SubElement(os_el, "type", arch="x86_64", machine="pc").text = "hvm"
    if spec.kernel:
        ET.SubElement(os_el, "kernel").text = spec.kernel.kernel
        if spec.kernel.initrd:
            ET.SubElement(os_el, "initrd").text = spec.kernel.initrd
        if spec.kernel.cmdline:
            ET.SubElement(os_el, "cmdline").text = spec.kernel.cmdline
    else:
        for b in spec.boot:
            ET.SubElement(os_el, "boot", dev=_BOOT_DEV.get(b, "hd"))
    feats = ET.SubElement(dom, "features")
    ET.SubElement(feats, "acpi")
    ET.SubElement(feats, "apic")
    cpu = ET.SubElement(dom, "cpu", mode="custom", match="exact", check="partial")
    ET.SubElement(cpu, "model", fallback="allow").text = spec.cpu_model
    for f in spec.cpu_features:
        ET.SubElement(cpu, "feature", policy="require", name=f)
    ET.SubElement(dom, "clock", offset="utc")
    ET.SubElement(dom, "on_poweroff").text = "destroy"
    ET.SubElement(dom, "on_reboot").text = "restart"
    ET.SubElement(dom, "on_crash").text = "destroy"
    dev = ET.SubElement(dom, "devices")
    if emulator:
        ET.SubElement(dev, "emulator").text = emulator
    disk = spec.disk
    fmt = {} if disk.format == "auto" else {"type": disk.format}
    if disk.kind == "lvm":
        d = ET.SubElement(dev, "disk", type="block", device="disk")
        ET.SubElement(d, "driver", name="qemu", cache="none", io="native", **fmt)
        ET.SubElement(d, "source", dev=disk.device)
    else:
        d = ET.SubElement(dev, "disk", type="file", device="disk")
        ET.SubElement(d, "driver", name="qemu", **fmt)
        ET.SubElement(d, "source", file=disk.device)
    ET.SubElement(d, "target", dev="vda", bus="virtio")
    if spec.iso:
        _cdrom(dev, spec.iso, "hdc")
    if spec.seed:
        _cdrom(dev, spec.seed, "hdd")
    nic = spec.nic
    if nic.bridge:
        i = ET.SubElement(dev, "interface", type="bridge")
        ET.SubElement(i, "mac", address=nic.mac)
        ET.SubElement(i, "source", bridge=nic.bridge)
    else:
        i = ET.SubElement(dev, "interface", type="user")
        ET.SubElement(i, "mac", address=nic.mac)
    ET.SubElement(i, "model", type=nic.model)
    if spec.serial_log:
        s = ET.SubElement(dev, "serial", type="file")
        ET.SubElement(s, "source", path=spec.serial_log)
        ET.SubElement(s, "target", port="0")
        c = ET.SubElement(dev, "console", type="file")
        ET.SubElement(c, "source", path=spec.serial_log)
    else:
        s = ET.SubElement(dev, "serial", type="pty")
        ET.SubElement(s, "target", port="0")
        c = ET.SubElement(dev, "console", type="pty")
    ET.SubElement(c, "target", type="serial", port="0")
    ET.SubElement(dev, "input", type="tablet", bus="usb")
    g = ET.SubElement(dev, "graphics", type="vnc", port=str(spec.vnc.port), autoport="no", listen=spec.vnc.listen)
    ET.SubElement(g, "listen", type="address", address=spec.vnc.listen)
    v = ET.SubElement(dev, "video")
    ET.SubElement(v, "model", type="vga")
    ET.indent(dom)
    return ET.tostring(dom, encoding="unicode")
