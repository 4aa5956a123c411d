"""The ``labkit`` command: argument parsing and printing only; the work is in the library.

Exit codes: 0 ok, 1 a user error (one line on stderr), 2 usage.
Each job adds its commands through a module with ``register(subparsers)``; a job whose
module is not installed yet simply has no command.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from labkit.errors import LabkitError

# Modules that add command groups, in the order they appear in --help.
COMMAND_MODULES = (
    "labkit.jira.cli",
    "labkit.tracker.cli",
    "labkit.rank.cli",
    "labkit.vm.cli",
    "labkit.aws.cli",
    "labkit.review.cli",
    "labkit.cloud.cli",
    "labkit.sandbox.cli",
    "labkit.lab",
    "labkit.run",
)


def build_parser() -> argparse.ArgumentParser:
    """Build the full argument parser from every installed job's commands."""
    from labkit import __version__

    parser = argparse.ArgumentParser(prog="labkit", description="labkit: a workbench for private-cloud engineers.")
    parser.add_argument("--version", action="version", version=f"labkit {__version__}")
    parser.add_argument("--profile", help="profile from the config file (default: $LABKIT_PROFILE or sandbox)")
    parser.add_argument("--timeout", dest="call_timeout", metavar="SECONDS",
                        help="deadline of each HTTP call, retries included (default: $LABKIT_TIMEOUT or 120)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ImportError as exc:
            if exc.name == name:  # that job has not landed: no command
                continue
            raise
        module.register(sub)
    return parser


def _os_error(exc: OSError) -> str:
    """One line for an OSError: what the system said, about which file (shortened), and what to do."""
    what = exc.strerror or type(exc).__name__
    name = str(exc.filename) if exc.filename is not None else ""
    name = name if len(name) <= 120 else name[:60] + "..." + name[-40:]
    where = f" ({name})" if name else ""
    return f"{what}{where}: check the path and that you may read and write it"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list[:2] == ["aws", "credential-process"]:  # run by aws/boto3 on every call: skip the other jobs' imports
        from labkit.aws.cli import credential_process_main

        return credential_process_main(args_list[2:])
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        if args.profile is not None and not args.profile.strip():
            from labkit.errors import ConfigError

            raise ConfigError("--profile is empty", hint="name a profile of the config file, or leave --profile out")
        if getattr(args, "profile", None):
            os.environ["LABKIT_PROFILE"] = args.profile  # get_profile(None) reads it everywhere
        if args.call_timeout is not None:
            from labkit.http import set_default_deadline

            set_default_deadline(args.call_timeout)  # every session the command makes honours it
        result = args.func(args)
    except LabkitError as exc:
        print(f"labkit: error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:  # the system refused a file or socket operation (name too long, no permission, disk full)
        print(f"labkit: error: {_os_error(exc)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("labkit: interrupted", file=sys.stderr)
        return 130
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
