"""``labkit sandbox start|stop|status``."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    """Add the sandbox command group."""
    from labkit.cli_output import add_format_option

    p = sub.add_parser("sandbox", help="start, stop and list the local stand-in services")
    ss = p.add_subparsers(dest="sandbox_command", metavar="ACTION", required=True)
    for action, helptext in (("start", "start services (default: all)"), ("stop", "stop what was started"),
                             ("status", "show every service as a table")):
        a = ss.add_parser(action, help=helptext)
        if action != "status":
            a.add_argument("services", nargs="*", help="service names (default: all)")
        add_format_option(a)
        a.set_defaults(func=_run, action=action)


def _run(args: argparse.Namespace) -> int:
    """Run ``labkit sandbox start|stop|status`` and print the status table."""
    import labkit.sandbox as sb
    from labkit.cli_output import print_rows

    if args.action == "start":
        sb.start(args.services or None)
    elif args.action == "stop":
        sb.stop(args.services or None)
    print_rows(sb.status(), args.format, ["service", "state", "url", "pid", "description"])
    return 0
