"""``labkit vm plan|check|launch|destroy``: the VM lab on the command line."""

from __future__ import annotations

import argparse
import sys

SHOW = ("vms", "qemu", "xml", "files", "commands", "path", "connections")


def _add_plan_args(p: argparse.ArgumentParser) -> None:
    """Add the options that describe one cloud."""
    p.add_argument("cloud", help="cloud name, e.g. alpha")
    p.add_argument("--topology", default="ciab", help="ciab (cloud-in-a-box) or fe+nc (default: ciab)")
    p.add_argument("--nodes", type=int, default=0, help="node controllers for fe+nc")
    p.add_argument("--iso", help="installer ISO to boot from")
    p.add_argument("--memory", type=int, default=4096, help="MB per VM (default 4096)")
    p.add_argument("--vcpus", type=int, default=2)
    p.add_argument("--bridge", default="br0")
    p.add_argument("--vg", default="vg01", help="LVM volume group for the disks")
    p.add_argument("--disk-gb", type=int, default=100)
    p.add_argument("--public-range", help="e.g. 192.168.100.200-192.168.100.220 (default: allocated)")
    p.add_argument("--private-subnet", help="e.g. 172.16.0.0/16 (default: allocated)")
    p.add_argument("--network-mode", default="EDGE")
    p.add_argument("--lab-network", default="192.168.100.0/24", help="the bridge's LAN")
    p.add_argument("--uri", help="libvirt URI (default: the profile's libvirt.uri, test:///default in the sandbox)")
    p.add_argument("--root", default="/", help="where to read /proc for ports and routes (default /)")


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``vm`` command group."""
    from labkit.cli import add_format_option

    p = sub.add_parser("vm", help="plan, check, render and launch nested-virtualization test clouds")
    ss = p.add_subparsers(dest="vm_command", metavar="ACTION", required=True)
    plan = ss.add_parser("plan", help="plan a cloud and show its VMs, commands, XML or host files")
    _add_plan_args(plan)
    plan.add_argument("--show", choices=SHOW, default="vms", help="what to print (default: vms)")
    plan.add_argument("--style", choices=("blog", "modern"), default="blog", help="qemu command style")
    plan.add_argument("--net-style", choices=("ifcfg", "networkmanager", "networkd"), default="ifcfg")
    add_format_option(plan)
    plan.set_defaults(func=_plan)
    check = ss.add_parser("check", help="check this host for nested virtualization, bridge, forwarding, space")
    check.add_argument("--root", default="/", help="read /sys, /proc, /etc under this root (default /)")
    check.add_argument("--bridge", default="br0")
    check.add_argument("--vg", default="vg01")
    check.add_argument("--need-gb", type=int, default=0)
    check.add_argument("--uri", help="libvirt URI whose storage pool stands for the volume group")
    add_format_option(check)
    check.set_defaults(func=_check)
    for name, helptext in (("launch", "define and start a planned cloud (dry run unless --apply)"),
                           ("destroy", "remove what launch created for a cloud (dry run unless --apply)")):
        a = ss.add_parser(name, help=helptext)
        _add_plan_args(a)
        a.add_argument("--apply", action="store_true", help="really do it (default: show the steps)")
        add_format_option(a)
        a.set_defaults(func=_launch if name == "launch" else _destroy)


def _uri(args: argparse.Namespace) -> str:
    """Return --uri, else the profile's libvirt.uri."""
    if args.uri:
        return args.uri
    from labkit.config import get_profile

    return get_profile(getattr(args, "profile", None)).section("libvirt").get("uri", "test:///default")


def _make_plan(args: argparse.Namespace):
    """Plan the cloud the options describe against the host; return (lab, plan, uri)."""
    from labkit.vm.lab import Lab

    uri = _uri(args)
    lab = Lab.from_host(uri, root=args.root, network=args.lab_network)
    plan = lab.plan_cloud(args.cloud, topology=args.topology, nodes=args.nodes, iso=args.iso,
                          memory_mb=args.memory, vcpus=args.vcpus, bridge=args.bridge, vg=args.vg,
                          disk_gb=args.disk_gb, public_range=args.public_range,
                          private_subnet=args.private_subnet, network_mode=args.network_mode)
    return lab, plan, uri


def _plan(args: argparse.Namespace) -> int:
    """Print what --show asks for about the planned cloud."""
    from labkit.cli import print_rows
    from labkit.vm.hostfiles import host_files, setup_commands
    from labkit.vm.launch import connections
    from labkit.vm.packet_path import packet_path
    from labkit.vm.render_libvirt import domain_xml
    from labkit.vm.render_qemu import qemu_command

    _, plan, _ = _make_plan(args)
    if args.show == "vms":
        print_rows(plan.rows(), args.format)
    elif args.show == "qemu":
        print_rows([{"vm": v.name, "command": qemu_command(v, args.style)} for v in plan.vms], args.format)
    elif args.show == "xml":
        for v in plan.vms:
            sys.stdout.write(domain_xml(v) + "\n")
    elif args.show == "files":
        for f in host_files(plan, style=args.net_style):
            sys.stdout.write(f"# {f.path}: {f.purpose}\n{f.content}\n")
    elif args.show == "commands":
        print_rows(setup_commands(plan), args.format)
    elif args.show == "path":
        print_rows(packet_path(plan).rows(), args.format)
    else:
        print_rows(connections(plan), args.format)
    return 0


def _check(args: argparse.Namespace) -> int:
    """Print the host checks; exit 1 when one fails."""
    from labkit.cli import print_rows
    from labkit.vm.checks import FAIL, host_checks

    rows = host_checks(args.root, bridge=args.bridge, vg=args.vg, need_gb=args.need_gb, uri=args.uri)
    print_rows(rows, args.format)
    return 1 if any(r.status == FAIL for r in rows) else 0


def _launch(args: argparse.Namespace) -> int:
    """Print launch's steps (done with --apply) and the connection table."""
    from labkit.cli import print_rows
    from labkit.vm.launch import connections, launch

    _, plan, uri = _make_plan(args)
    print_rows(launch(plan, uri=uri, dry_run=not args.apply), args.format)
    if args.apply and args.format == "table":
        sys.stdout.write("\n")
        print_rows(connections(plan), args.format)
    return 0


def _destroy(args: argparse.Namespace) -> int:
    """Print destroy's steps (done with --apply)."""
    from labkit.cli import print_rows
    from labkit.vm.launch import destroy

    _, plan, uri = _make_plan(args)
    print_rows(destroy(plan, uri=uri, dry_run=not args.apply), args.format)
    return 0
