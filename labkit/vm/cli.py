"""``labkit vm plan|check|launch|apply|destroy|wait|seed|snapshot|revert|clone``: the VM lab on the command line.

A cloud is named on the command line (planned against the host, which remembers what labkit launched there) or
given as a plan file (``lab.toml``, written with ``plan --save``). Everything that changes a host is a dry run
unless ``--apply``.
"""

from __future__ import annotations

import argparse
import re
import sys

SHOW = ("vms", "qemu", "xml", "files", "commands", "path", "connections", "seed", "toml")
_ROLE = re.compile(r"(ciab|fe|nc[0-9]+)=(.*)", re.S)


def _add_plan_args(p: argparse.ArgumentParser, *, cloud: bool = True) -> None:
    """Add the options that describe one cloud (sizes take 2048, 2G or 2048M)."""
    if cloud:
        p.add_argument("cloud", help="cloud name, e.g. alpha (or a plan file, lab.toml, where the command takes one)")
    p.add_argument("--topology", default="ciab", help="ciab (cloud-in-a-box) or fe+nc (default: ciab)")
    p.add_argument("--nodes", default="0", help="node controllers for fe+nc")
    p.add_argument("--iso", help="installer ISO to boot from (an absolute path on the host to launch)")
    p.add_argument("--memory", default="4096", help="memory per VM: MiB, or with a unit: 2G (default 4096)")
    p.add_argument("--vcpus", default="2")
    p.add_argument("--bridge", default="br0", help="host bridge; '' for qemu's user-mode network")
    p.add_argument("--vg", default="vg01", help="LVM volume group for the disks")
    p.add_argument("--disk-gb", default="100", help="disk size: GiB, or with a unit: 1T (default 100)")
    p.add_argument("--disk-kind", default="lvm", help="lvm, qcow2 or raw (files in --disk-dir)")
    p.add_argument("--disk-dir", default="/var/lib/libvirt/images", help="folder for qcow2/raw disks")
    p.add_argument("--disk-format", default="", help="raw, qcow2, or auto (let qemu probe, as the blog does)")
    p.add_argument("--public-range", help="e.g. 192.168.100.200-192.168.100.220 (default: allocated)")
    p.add_argument("--private-subnet", help="e.g. 172.16.0.0/16 (default: allocated)")
    p.add_argument("--network-mode", default="EDGE")
    p.add_argument("--dns", help="name server for the VMs (default: the gateway)")
    p.add_argument("--lab-network", default="192.168.100.0/24", help="the bridge's LAN")
    p.add_argument("--mac", action="append", default=[], metavar="[ROLE=]MAC", help="pin a VM's MAC (repeatable)")
    p.add_argument("--vnc-display", action="append", default=[], metavar="[ROLE=]N", help="pin a VNC display")
    p.add_argument("--volume", action="append", default=[], metavar="[ROLE=]VOL",
                   help="pin a disk: vg/lv, /dev/vg/lv or a file path")
    p.add_argument("--ip", action="append", default=[], metavar="[ROLE=]IP", help="pin a VM's address")
    p.add_argument("--vnc-listen", default="127.0.0.1", help="VNC listen address (0.0.0.0: qemu's -vnc :N)")
    p.add_argument("--accel", default="kvm", help="kvm, or tcg (emulation)")
    p.add_argument("--cpu-model", default="qemu64")
    p.add_argument("--no-nested", action="store_true", help="no vmx/svm flag in the VMs' CPU")
    p.add_argument("--seed", default="", help="nocloud or kickstart: an unattended-install ISO per VM")
    p.add_argument("--seed-dir", help="where the seed ISOs go (default: --disk-dir)")
    p.add_argument("--ssh-key", action="append", default=[], help="an SSH public key line for the seeds")
    p.add_argument("--kernel", help="boot this kernel directly (with --initrd and --cmdline)")
    p.add_argument("--initrd")
    p.add_argument("--cmdline", default="")
    p.add_argument("--serial-log-dir", help="write each VM's serial console to DIR/VM.serial.log")
    p.add_argument("--uri", help="libvirt URI (default: the profile's libvirt.uri, test:///default in the sandbox)")
    p.add_argument("--root", default="/", help="where to read /proc for ports and routes (default /)")


def _finish(p: argparse.ArgumentParser, func, *, apply: str | None = None) -> None:
    """Give a command its ``--apply`` (when it changes something), ``--format`` and handler."""
    from labkit.cli_output import add_format_option

    if apply:
        p.add_argument("--apply", action="store_true", help=f"{apply} (default: show the steps)")
    add_format_option(p)
    p.set_defaults(func=func)


def _existing_arg(p: argparse.ArgumentParser) -> None:
    """Add the positional cloud (one launched on the host, or a plan file) and --uri."""
    p.add_argument("cloud", help="a cloud launched on the host, or a plan file")
    p.add_argument("--uri")


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``vm`` command group."""
    from labkit.cli_output import bounded_seconds

    p = sub.add_parser("vm", help="plan, check, render, launch, wait for and snapshot nested-virtualization clouds")
    ss = p.add_subparsers(dest="vm_command", metavar="ACTION", required=True)
    plan = ss.add_parser("plan", help="plan a cloud and show its VMs, commands, XML, host files or seed")
    _add_plan_args(plan)
    plan.add_argument("--show", choices=SHOW, default="vms", help="what to print (default: vms)")
    plan.add_argument("--style", choices=("blog", "modern"), default="blog", help="qemu command style")
    plan.add_argument("--net-style", choices=("ifcfg", "networkmanager", "networkd"), default="ifcfg")
    plan.add_argument("--save", metavar="LAB.toml", help="write the whole plan to a plan file")
    _finish(plan, _plan)
    check = ss.add_parser("check", help="check a host for nested virtualization, bridge, forwarding, space")
    check.add_argument("--root", default="/", help="read /sys, /proc, /etc under this root (default /)")
    check.add_argument("--bridge", default="br0")
    check.add_argument("--vg", default="vg01")
    check.add_argument("--need-gb", type=int, default=0, help="GiB the disks need (default 0)")
    check.add_argument("--uri", help="libvirt URI: its storage pool stands for the volume group; a remote one is "
                                     "checked through libvirt")
    _finish(check, _check)
    launch = ss.add_parser("launch", help="define and start a planned cloud (dry run unless --apply)")
    _add_plan_args(launch)
    launch.add_argument("--no-start", action="store_true", help="define only")
    _finish(launch, _launch, apply="really do it")
    apply = ss.add_parser("apply", help="converge the hosts to a plan file: create / leave / drift (dry run unless "
                                        "--apply)")
    apply.add_argument("plan_file", metavar="LAB.toml")
    apply.add_argument("--uri", help="open this libvirt URI for every host of the file")
    apply.add_argument("--no-start", action="store_true", help="define only")
    _finish(apply, _apply, apply="really do it")
    destroy = ss.add_parser("destroy", help="remove what launch created for a cloud or a plan file (dry run unless "
                                            "--apply)")
    _add_plan_args(destroy)
    _finish(destroy, _destroy, apply="really do it")
    wait = ss.add_parser("wait", help="wait until each VM answers at its planned address")
    _existing_arg(wait)
    wait.add_argument("--probe", default="tcp:22", help="tcp:PORT, ssh, lease[:FILE] or serial:TEXT (default tcp:22)")
    wait.add_argument("--timeout", type=bounded_seconds(7 * 24 * 3600.0), default=300.0, help="seconds (default 300)")
    _finish(wait, _wait)
    seed = ss.add_parser("seed", help="show or write the unattended-install seed of each VM")
    _existing_arg(seed)
    _finish(seed, _seed, apply="write the seed ISOs")
    snap = ss.add_parser("snapshot", help="take (or --list, --delete) a snapshot of a whole cloud (dry run unless "
                                          "--apply)")
    _existing_arg(snap)
    snap.add_argument("name", nargs="?", help="snapshot name")
    snap.add_argument("--list", action="store_true", help="list the cloud's snapshots")
    snap.add_argument("--delete", action="store_true", help="delete the named snapshot")
    _finish(snap, _snapshot, apply="really do it")
    rev = ss.add_parser("revert", help="bring a whole cloud back to a snapshot (dry run unless --apply)")
    _existing_arg(rev)
    rev.add_argument("name", help="snapshot name")
    _finish(rev, _revert, apply="really do it")
    clone = ss.add_parser("clone", help="plan N linked clones of a cloud and write them to a plan file")
    _existing_arg(clone)
    clone.add_argument("count", help="how many copies")
    clone.add_argument("--save", metavar="CLONES.toml", required=True, help="plan file for the clones")
    clone.add_argument("--disk-dir", help="folder for the clones' overlays (default: beside the original)")
    _finish(clone, _clone)


def _uri(args: argparse.Namespace) -> str:
    """Return --uri, else the profile's libvirt.uri."""
    if getattr(args, "uri", None):
        return args.uri
    from labkit.config import get_profile

    return get_profile(getattr(args, "profile", None)).section("libvirt").get("uri", "test:///default")


def _int(text: str, what: str) -> int:
    """Return an option's whole number, or raise VmError (never argparse's exit 2)."""
    from labkit.vm.errors import VmError

    try:
        return int(text)
    except ValueError:
        raise VmError(f"{what} {text!r} is not a whole number", hint=f"give {what} as digits, e.g. 1") from None


def _pins(values: list[str], what: str, roles: list[str], convert=str) -> dict[str, object]:
    """Turn ``--mac ROLE=VALUE`` (or a bare VALUE for a one-VM cloud) options into a role -> value table."""
    from labkit.vm.errors import VmError

    out: dict[str, object] = {}
    for value in values:
        m = _ROLE.fullmatch(value)
        if m:
            role, value = m.group(1), m.group(2)
        elif len(roles) == 1:
            role = roles[0]
        else:
            raise VmError(f"--{what} {value!r} does not say which VM", hint=f"write --{what} ROLE=VALUE, ROLE one of "
                                                                          f"{', '.join(roles)}")
        out[role] = convert(value)
    return out


def _request_kwargs(args: argparse.Namespace) -> dict[str, object]:
    """Return the cloud request the plan options describe."""
    from labkit.vm.spec import CIAB, normalize_topology

    nodes = _int(args.nodes, "--nodes")
    # the roles pins may name, for messages (the node count is checked with the rest of the request)
    ncs = [] if nodes < 1 else ["nc1"] if nodes == 1 else [f"nc1..nc{nodes}"]
    roles = ["ciab"] if normalize_topology(args.topology) == CIAB else ["fe", *ncs]
    return dict(
        topology=args.topology, nodes=nodes, iso=args.iso, memory_mb=args.memory, vcpus=_int(args.vcpus, "--vcpus"),
        bridge=args.bridge, vg=args.vg, disk_gb=args.disk_gb, disk_kind=args.disk_kind, disk_dir=args.disk_dir,
        disk_format=args.disk_format, public_range=args.public_range, private_subnet=args.private_subnet,
        network_mode=args.network_mode, dns=args.dns, macs=_pins(args.mac, "mac", roles),
        vnc_displays=_pins(args.vnc_display, "vnc-display", roles, lambda v: _int(v, "--vnc-display")),
        volumes=_pins(args.volume, "volume", roles), ips=_pins(args.ip, "ip", roles), vnc_listen=args.vnc_listen,
        cpu_model=args.cpu_model, nested=not args.no_nested, accel=args.accel, seed=args.seed, seed_dir=args.seed_dir,
        ssh_keys=tuple(args.ssh_key), kernel=args.kernel, initrd=args.initrd, cmdline=args.cmdline,
        serial_log_dir=args.serial_log_dir)


def _make_plan(args: argparse.Namespace):
    """Plan the cloud the options describe against the host; return (lab, plan, uri)."""
    from labkit.vm.lab import Lab

    uri = _uri(args)
    kwargs = _request_kwargs(args)
    lab = Lab.from_host(uri, root=args.root, network=args.lab_network)
    return lab, lab.plan_cloud(args.cloud, **kwargs), uri


def _is_plan_file(name: str) -> bool:
    """Tell a plan file from a cloud name (cloud names have no '.' or '/')."""
    return name.endswith(".toml") or "/" in name


def _existing(args: argparse.Namespace):
    """Return (plans, uri) for a plan file, or the cloud recorded on the host under that name."""
    from labkit.vm.errors import VmError
    from labkit.vm.inventory import inventory_from_host
    from labkit.vm.plan_file import load_plan

    if _is_plan_file(args.cloud):
        return load_plan(args.cloud), getattr(args, "uri", None)
    uri = _uri(args)
    inv = inventory_from_host(uri, probe_host=False)
    if args.cloud not in inv.clouds:
        raise VmError(f"no cloud '{args.cloud}' is recorded on {uri}",
                      hint=f"launch it first, or give its plan file (recorded: {', '.join(inv.clouds) or 'none'})")
    return [inv.clouds[args.cloud]], uri


def _plan(args: argparse.Namespace) -> int:
    """Print what --show asks for about the planned cloud (and write --save)."""
    from labkit.cli_output import print_rows
    from labkit.vm.hostfiles import host_files, setup_commands
    from labkit.vm.launch import connections
    from labkit.vm.packet_path import packet_path
    from labkit.vm.plan_file import plan_text, save_plan
    from labkit.vm.render_libvirt import domain_xml
    from labkit.vm.render_qemu import qemu_command
    from labkit.vm.seed import seed_files

    _, plan, _ = _make_plan(args)
    if args.save:
        save_plan(args.save, [plan])
    if args.show == "vms":
        print_rows(plan.rows(), args.format)
    elif args.show == "qemu":
        print_rows([{"vm": v.name, "command": qemu_command(v, args.style)} for v in plan.vms], args.format)
    elif args.show == "xml":
        for v in plan.vms:
            sys.stdout.write(domain_xml(v, plan=plan) + "\n")
    elif args.show == "files":
        for f in host_files(plan, style=args.net_style):
            sys.stdout.write(f"# {f.path}: {f.purpose}\n{f.content}\n")
    elif args.show == "commands":
        print_rows(setup_commands(plan), args.format)
    elif args.show == "path":
        print_rows(packet_path(plan).rows(), args.format)
    elif args.show == "seed":
        for v in plan.vms:
            for name, text in seed_files(plan, v).items():
                sys.stdout.write(f"# {v.name}: {name}\n{text}\n")
    elif args.show == "toml":
        sys.stdout.write(plan_text([plan], args.save or "lab.toml"))
    else:
        print_rows(connections(plan), args.format)
    return 0


def _check(args: argparse.Namespace) -> int:
    """Print the host checks; exit 1 when one fails."""
    from labkit.cli_output import print_rows, raise_for_failed
    from labkit.vm.checks import FAIL, host_checks
    from labkit.vm.errors import VmError

    rows = host_checks(args.root, bridge=args.bridge, vg=args.vg, need_gb=args.need_gb, uri=args.uri)
    print_rows(rows, args.format)
    raise_for_failed(VmError, [r.check for r in rows if r.status == FAIL], len(rows), "host checks",
                     "run the fix column's commands on the host, then check again")
    return 0


def _launch(args: argparse.Namespace) -> int:
    """Print launch's steps (done with --apply) and the connection table."""
    from labkit.cli_output import print_rows
    from labkit.vm.launch import connections, launch
    from labkit.vm.record import host_lock

    # with --apply, plan under the host's lock too: another launch can't take the same ranges meanwhile
    with host_lock([_uri(args)] if args.apply else []):
        _, plan, uri = _make_plan(args)
        steps = launch(plan, uri=uri, dry_run=not args.apply, start=not args.no_start)
    print_rows(steps, args.format)
    if args.apply and args.format == "table":
        sys.stdout.write("\n")
        print_rows(connections(plan), args.format)
    return 0


def _apply(args: argparse.Namespace) -> int:
    """Converge the hosts to a plan file; print create / leave / drift steps (done with --apply)."""
    from labkit.cli_output import print_rows
    from labkit.vm.launch import launch
    from labkit.vm.plan_file import load_plan

    plans = load_plan(args.plan_file)
    steps = []
    for plan in plans:  # every cloud is checked (dry run) before the first one changes anything
        launch(plan, uri=args.uri, dry_run=True, start=not args.no_start, converge=True)
    for plan in plans:
        steps += launch(plan, uri=args.uri, dry_run=not args.apply, start=not args.no_start, converge=True)
    print_rows(steps, args.format)
    return 0


def _destroy(args: argparse.Namespace) -> int:
    """Print destroy's steps (done with --apply) for a cloud or every cloud of a plan file."""
    from labkit.cli_output import print_rows
    from labkit.vm.inventory import inventory_from_host
    from labkit.vm.launch import destroy

    if _is_plan_file(args.cloud) or args.cloud in inventory_from_host(_uri(args), probe_host=False).clouds:
        plans, uri = _existing(args)  # what launch recorded, whatever options it was planned with
    else:
        _, plan, uri = _make_plan(args)
        plans = [plan]
    steps = [s for plan in plans for s in destroy(plan, uri=uri, dry_run=not args.apply)]
    print_rows(steps, args.format)
    return 0


def _wait(args: argparse.Namespace) -> int:
    """Wait for every VM; print the table; exit 1 when one did not answer."""
    from labkit.cli_output import print_rows, raise_for_failed
    from labkit.vm.errors import VmError
    from labkit.vm.ready import wait_ready

    plans, uri = _existing(args)
    rows = [r for plan in plans for r in wait_ready(plan, args.probe, timeout=args.timeout, uri=uri,
                                                    progress=sys.stderr.isatty())]
    print_rows(rows, args.format)
    raise_for_failed(VmError, [r.vm for r in rows if not r.ready], len(rows), "VMs",
                     "look at their consoles (virsh console, --serial-log-dir), or wait longer with --timeout",
                     verb=f"did not answer {args.probe} within {args.timeout:g} s")
    return 0


def _seed(args: argparse.Namespace) -> int:
    """Show each VM's seed files, or write the seed ISOs with --apply."""
    from labkit.cli_output import print_rows
    from labkit.vm.seed import seed_files, write_seeds

    plans, _ = _existing(args)
    if args.apply or args.format != "table":
        print_rows([a for plan in plans for a in write_seeds(plan, dry_run=not args.apply)], args.format)
        return 0
    for plan in plans:
        for v in plan.vms:
            for name, text in seed_files(plan, v).items():
                sys.stdout.write(f"# {v.name}: {name}\n{text}\n")
    return 0


def _snapshot(args: argparse.Namespace) -> int:
    """Take, list or delete a snapshot of every cloud given."""
    from labkit.cli_output import print_rows
    from labkit.vm.errors import VmError
    from labkit.vm.snapshot import delete_snapshot, snapshot, snapshots

    plans, uri = _existing(args)
    if args.list:
        print_rows([r for plan in plans for r in snapshots(plan, uri=uri)], args.format)
        return 0
    if not args.name:
        raise VmError("give the snapshot's name", hint="labkit vm snapshot CLOUD NAME [--apply], or --list")
    act = delete_snapshot if args.delete else snapshot
    print_rows([s for plan in plans for s in act(plan, args.name, uri=uri, dry_run=not args.apply)], args.format)
    return 0


def _revert(args: argparse.Namespace) -> int:
    """Revert every cloud given to a snapshot."""
    from labkit.cli_output import print_rows
    from labkit.vm.snapshot import revert

    plans, uri = _existing(args)
    print_rows([s for plan in plans for s in revert(plan, args.name, uri=uri, dry_run=not args.apply)], args.format)
    return 0


def _clone(args: argparse.Namespace) -> int:
    """Plan N linked clones of a cloud, write them to --save and print their VMs."""
    from labkit.cli_output import print_rows
    from labkit.vm.inventory import inventory_from_host
    from labkit.vm.lab import Lab
    from labkit.vm.plan_file import save_plan

    plans, uri = _existing(args)
    clones = []
    for plan in plans:
        hosts = {h: (uri or u) for h, u in plan.uris.items()} or {"local": _uri(args)}
        lab = Lab([inventory_from_host(u, name=h, probe_host=False) for h, u in hosts.items()], network=plan.network)
        for p in plans:
            lab.hold(p)
        clones += lab.clone(plan, _int(args.count, "count"), disk_dir=args.disk_dir)
    save_plan(args.save, clones)
    print_rows([r for c in clones for r in c.rows()], args.format)
    return 0
