"""Render a VM as libvirt domain XML (bridge NIC, LVM or file disk, ISO, VNC, nested-virtualization CPU)."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from labkit.vm.spec import LABKIT_NS, VmSpec

_BOOT_DEV = {"cdrom": "cdrom", "hd": "hd", "network": "network", "fd": "fd"}


def domain_xml(spec: VmSpec, *, domain_type: str = "kvm", created_volume: str = "",
               emulator: str | None = None) -> str:
    """Return the libvirt ``<domain>`` XML of a VM, tagged with labkit metadata (cloud, role, created volume)."""
    dom = ET.Element("domain", type=domain_type)
    ET.SubElement(dom, "name").text = spec.name
    ET.SubElement(dom, "description").text = f"labkit VM {spec.role} of cloud {spec.cloud}"
    meta = ET.SubElement(dom, "metadata")
    ET.register_namespace("labkit", LABKIT_NS)
    ET.SubElement(meta, f"{{{LABKIT_NS}}}vm", {"cloud": spec.cloud, "role": spec.role,
                                                "created-volume": created_volume})
    ET.SubElement(dom, "memory", unit="MiB").text = str(spec.memory_mb)
    ET.SubElement(dom, "currentMemory", unit="MiB").text = str(spec.memory_mb)
    ET.SubElement(dom, "vcpu", placement="static").text = str(spec.vcpus)
    os_el = ET.SubElement(dom, "os")
    ET.SubElement(os_el, "type", arch="x86_64", machine="pc").text = "hvm"
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
    if disk.kind == "lvm":
        d = ET.SubElement(dev, "disk", type="block", device="disk")
        ET.SubElement(d, "driver", name="qemu", type="raw", cache="none", io="native")
        ET.SubElement(d, "source", dev=disk.device)
    else:
        d = ET.SubElement(dev, "disk", type="file", device="disk")
        ET.SubElement(d, "driver", name="qemu", type=disk.format)
        ET.SubElement(d, "source", file=disk.device)
    ET.SubElement(d, "target", dev="vda", bus="virtio")
    if spec.iso:
        c = ET.SubElement(dev, "disk", type="file", device="cdrom")
        ET.SubElement(c, "driver", name="qemu", type="raw")
        ET.SubElement(c, "source", file=spec.iso)
        ET.SubElement(c, "target", dev="hdc", bus="ide")
        ET.SubElement(c, "readonly")
    nic = spec.nic
    if nic.bridge:
        i = ET.SubElement(dev, "interface", type="bridge")
        ET.SubElement(i, "mac", address=nic.mac)
        ET.SubElement(i, "source", bridge=nic.bridge)
    else:
        i = ET.SubElement(dev, "interface", type="user")
        ET.SubElement(i, "mac", address=nic.mac)
    ET.SubElement(i, "model", type=nic.model)
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
