"""Render a VM as a qemu command line: the blog's ``-net`` style or the modern ``-netdev/-device`` style.

Quoting rule, in one place: qemu reads ``-drive``, ``-netdev``, ``-device``, ``-qmp`` and friends as
``key=value,key=value`` option strings, where a literal comma inside a value is written as two commas
(qemu-options, "-drive": "to use a comma in the file name, double it"). :func:`qemu_opts` builds every option
string labkit renders and doubles the commas of every value, so a path like ``x.iso,if=none,file=/etc/shadow``
stays one file name and never becomes extra options. Plain-argument options (``-cdrom``, ``-kernel``,
``-append``) take their value whole and are passed as separate argv entries.
"""

from __future__ import annotations

import shlex

from labkit.vm.errors import VmError
from labkit.vm.spec import VmSpec

STYLES = ("blog", "modern")
_BOOT_LETTER = {"cdrom": "d", "hd": "c", "network": "n", "fd": "a"}


def opt_value(value: object) -> str:
    """Return a value as written inside a qemu option string: every comma doubled."""
    return str(value).replace(",", ",,")


def qemu_opts(head: str | None = None, *pairs: tuple[str, object]) -> str:
    """Return ``head,key=value,...`` with each value's commas doubled (``head`` is the implied first value)."""
    parts = [opt_value(head)] if head is not None else []
    parts += [f"{key}={opt_value(value)}" for key, value in pairs]
    return ",".join(parts)


def _vnc_arg(spec: VmSpec) -> str:
    """Return the ``-vnc`` value for the VM's display and listen address (qemu's ``:1`` listens everywhere)."""
    listen = "" if spec.vnc.listen in ("", "0.0.0.0") else spec.vnc.listen
    if ":" in listen:
        listen = f"[{listen}]"
    return f"{listen}:{spec.vnc.display}"


def _cpu_arg(spec: VmSpec) -> str:
    """Return the ``-cpu`` value: model plus +features (names checked by the spec, so no comma inside)."""
    return ",".join([spec.cpu_model] + [f"+{f}" for f in spec.cpu_features])


def _drive(spec: VmSpec, **extra: str) -> str:
    """Return the ``-drive`` option string of the VM's disk (``format=`` left out when qemu should probe)."""
    disk = spec.disk
    pairs: list[tuple[str, object]] = [("file", disk.device), *extra.items()]
    if disk.format != "auto":
        pairs.append(("format", disk.format))
    return qemu_opts(None, *pairs)


def qemu_argv(spec: VmSpec, style: str = "blog", *, binary: str | None = None, accel: str | None = None,
              qmp: str | None = None, serial: str | None = None, headless: bool = False,
              no_reboot: bool = False) -> list[str]:
    """Return the qemu argv that runs ``spec``.

    ``style="blog"`` gives ``qemu-kvm -m 2048 -cpu qemu64,+vmx -drive file=...,if=virtio -net nic,... -net
    bridge,br=br0 -cdrom X.iso -boot d -vnc :1``; ``style="modern"`` uses ``-netdev``/``-device``. ``accel``
    overrides the VM's accelerator (qemu-kvm implies kvm, so the blog style writes no ``-accel kvm``); ``qmp``
    (a unix socket path), ``serial`` (a log file) and ``headless`` add what a scripted run needs. A NIC without
    a bridge uses qemu's user-mode network.
    """
    if style not in STYLES:
        raise VmError(f"unknown qemu command style {style!r}", hint=f"use one of: {', '.join(STYLES)}")
    accel = accel or spec.accel
    kvm_binary = style == "blog" and accel == "kvm"
    argv = [binary or ("qemu-kvm" if kvm_binary else "qemu-system-x86_64")]
    if style == "modern":
        argv += ["-name", spec.name]
    if not (kvm_binary and (binary is None or binary.endswith("qemu-kvm"))):
        argv += ["-accel", accel]
    argv += ["-m", str(spec.memory_mb)]
    if spec.vcpus != 1 or style == "modern":
        argv += ["-smp", str(spec.vcpus)]
    argv += ["-cpu", _cpu_arg(spec)]
    nic = spec.nic
    if style == "blog":
        argv += ["-drive", _drive(spec, **{"if": "virtio"})]
        argv += ["-net", qemu_opts("nic", ("model", nic.model), ("macaddr", nic.mac))]
        argv += ["-net", qemu_opts("bridge", ("br", nic.bridge)) if nic.bridge else "user"]
        if spec.iso:
            argv += ["-cdrom", spec.iso]
    else:
        argv += ["-drive", _drive(spec, **{"if": "none", "id": "disk0"}), "-device", "virtio-blk-pci,drive=disk0"]
        argv += ["-netdev", qemu_opts("bridge", ("id", "net0"), ("br", nic.bridge)) if nic.bridge else "user,id=net0",
                 "-device", qemu_opts(f"{nic.model}-net-pci", ("netdev", "net0"), ("mac", nic.mac))]
        if spec.iso:
            argv += ["-drive", qemu_opts(None, ("file", spec.iso), ("media", "cdrom"), ("if", "ide"), ("index", 2),
                                         ("readonly", "on"))]
    if spec.seed:
        argv += ["-drive", qemu_opts(None, ("file", spec.seed), ("media", "cdrom"), ("if", "ide"), ("index", 3),
                                     ("readonly", "on"))]
    if spec.kernel:
        argv += ["-kernel", spec.kernel.kernel]
        if spec.kernel.initrd:
            argv += ["-initrd", spec.kernel.initrd]
        if spec.kernel.cmdline:
            argv += ["-append", spec.kernel.cmdline]
    elif style == "blog":
        argv += ["-boot", _BOOT_LETTER.get(spec.boot[0], "c") if spec.boot else "c"]
    else:
        argv += ["-boot", "order=" + "".join(_BOOT_LETTER.get(b, "c") for b in spec.boot)]
    argv += ["-vnc", _vnc_arg(spec)]
    if qmp:
        argv += ["-qmp", qemu_opts(f"unix:{qmp}", ("server", "on"), ("wait", "off"))]
    serial = serial or spec.serial_log
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
