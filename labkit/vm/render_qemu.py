"""Render a VM as a qemu command line: the blog's ``-net`` style or the modern ``-netdev/-device`` style."""

from __future__ import annotations

import shlex

from labkit.vm.errors import VmError
from labkit.vm.spec import VmSpec

STYLES = ("blog", "modern")
_BOOT_LETTER = {"cdrom": "d", "hd": "c", "network": "n", "fd": "a"}


def _vnc_arg(spec: VmSpec) -> str:
    # qemu's ":1" listens on every address; anything else is written out
    """Return the ``-vnc`` value for the VM's display and listen address."""
    listen = "" if spec.vnc.listen in ("", "0.0.0.0") else spec.vnc.listen
    return f"{listen}:{spec.vnc.display}"


def _cpu_arg(spec: VmSpec) -> str:
    """Return the ``-cpu`` value: model plus +features."""
    return ",".join([spec.cpu_model] + [f"+{f}" for f in spec.cpu_features])


def qemu_argv(spec: VmSpec, style: str = "blog", *, binary: str | None = None, accel: str | None = "kvm",
              qmp: str | None = None, serial: str | None = None, headless: bool = False,
              no_reboot: bool = False) -> list[str]:
    """Return the qemu argv that runs ``spec``.

    ``style="blog"`` gives ``qemu-kvm -m 2048 -cpu qemu64,+vmx -drive file=...,if=virtio -net nic,... -net bridge,br=br0
    -cdrom X.iso -boot d -vnc 127.0.0.1:1``; ``style="modern"`` uses ``-netdev``/``-device``. ``accel`` (kvm, tcg or
    None), ``qmp`` (a unix socket path), ``serial`` (a log file) and ``headless`` add what a scripted run needs.
    A NIC without a bridge uses qemu's user-mode network.
    """
    if style not in STYLES:
        raise VmError(f"unknown qemu command style {style!r}", hint=f"use one of: {', '.join(STYLES)}")
    argv = [binary or ("qemu-kvm" if style == "blog" else "qemu-system-x86_64")]
    if style == "modern":
        argv += ["-name", spec.name]
    if accel:
        argv += ["-accel", accel]
    argv += ["-m", str(spec.memory_mb)]
    if spec.vcpus != 1 or style == "modern":
        argv += ["-smp", str(spec.vcpus)]
    argv += ["-cpu", _cpu_arg(spec)]
    disk, nic = spec.disk, spec.nic
    if style == "blog":
        argv += ["-drive", f"file={disk.device},if=virtio,format={disk.format}"]
        argv += ["-net", f"nic,model={nic.model},macaddr={nic.mac}"]
        argv += ["-net", f"bridge,br={nic.bridge}" if nic.bridge else "user"]
        if spec.iso:
            argv += ["-cdrom", spec.iso]
        argv += ["-boot", _BOOT_LETTER.get(spec.boot[0], "c") if spec.boot else "c"]
    else:
        argv += ["-drive", f"file={disk.device},if=none,id=disk0,format={disk.format}",
                 "-device", "virtio-blk-pci,drive=disk0"]
        argv += ["-netdev", f"bridge,id=net0,br={nic.bridge}" if nic.bridge else "user,id=net0",
                 "-device", f"{nic.model}-net-pci,netdev=net0,mac={nic.mac}"]
        if spec.iso:
            argv += ["-drive", f"file={spec.iso},media=cdrom,if=ide,readonly=on"]
        argv += ["-boot", "order=" + "".join(_BOOT_LETTER.get(b, "c") for b in spec.boot)]
    argv += ["-vnc", _vnc_arg(spec)]
    if qmp:
        argv += ["-qmp", f"unix:{qmp},server=on,wait=off"]
    if serial:
        argv += ["-serial", f"file:{serial}"]
    if headless:
        argv += ["-display", "none"]
    if no_reboot:
        argv += ["-no-reboot"]
    return argv


def qemu_command(spec: VmSpec, style: str = "blog", **kwargs) -> str:
    """Return :func:`qemu_argv` as one shell-quoted line to paste into a terminal."""
    return shlex.join(qemu_argv(spec, style, **kwargs))
