"""``labkit release-check``: the release check's chain from the command line (a dry run unless --apply).

With the sandbox profile (the default) the forge, moto behind the Eucalyptus layout and the Jira
sandbox are started and used; another profile's Jira takes the comment, and --aws-url/--forge-url
aim the other parts at real systems.
"""

from __future__ import annotations

import argparse
import sys


def _ports(text: str) -> list[int]:
    """Read a comma-separated list of TCP ports."""
    try:
        ports = [int(p) for p in text.split(",") if p.strip()]
    except ValueError:
        ports = []
    if not ports or not all(0 < p < 65536 for p in ports) or len(ports) > 32:
        raise argparse.ArgumentTypeError(f"{text[:40]!r} is not a list of TCP ports, e.g. 22,8443,8888,8773")
    return ports


def _forward(text: str) -> tuple[int, str]:
    """Read PORT=HOST:PORT (where a frontend port is reached instead)."""
    port, _, target = text.partition("=")
    host, _, tport = target.rpartition(":")
    if not (port.isdigit() and tport.isdigit() and host and 0 < int(port) < 65536 and 0 < int(tport) < 65536):
        raise argparse.ArgumentTypeError(f"{text[:60]!r} is not PORT=HOST:PORT, e.g. 8773=127.0.0.1:18773")
    return int(port), f"{host}:{tport}"


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``release-check`` command."""
    from labkit.cli_output import add_format_option, bounded_seconds

    p = sub.add_parser("release-check", help="pull request -> test cloud -> verified -> recorded on the issue "
                                             "(dry run unless --apply)")
    p.add_argument("source", help="PR URL, OWNER/REPO#N (the sandbox forge by default), or an mbox/.patch file")
    p.add_argument("--onto", required=True, help="branch to apply and test the series on")
    p.add_argument("--plan", dest="plan_file", required=True, help="the cloud's plan file (lab.toml)")
    p.add_argument("--cloud", help="which cloud of the plan file (default: its only one)")
    p.add_argument("--issue", help="tracker issue that gets the result as a comment (e.g. DEMO-1)")
    p.add_argument("--test", dest="test_cmd", help="test command run in the scratch worktree")
    p.add_argument("--test-each", action="store_true", help="run the test command on every commit")
    p.add_argument("--repo", help="local clone to apply onto (default: a fresh clone of the PR's repository)")
    p.add_argument("--forge-url", help="forge web base for OWNER/REPO#N (default: the sandbox forge)")
    p.add_argument("--uri", help="libvirt URI (default: the plan's, else the test driver)")
    p.add_argument("--ports", type=_ports, default=None, help="frontend ports to wait for (default: 22,8443,8888,8773)")
    p.add_argument("--forward", type=_forward, action="append", default=[],
                   help="PORT=HOST:PORT: reach a frontend port there instead (NAT, qemu hostfwd); repeatable")
    p.add_argument("--wait-timeout", type=bounded_seconds(24 * 3600), default=300.0, help="seconds per port")
    p.add_argument("--preset", default="eucalyptus", help="awscli preset of the cloud (default: eucalyptus)")
    p.add_argument("--profile-name", help="awscli profile name (default: the cloud's region name)")
    p.add_argument("--aws-url", help="base URL of the cloud's API instead of the frontend's planned address")
    p.add_argument("--aws-dir", help="folder of the awscli config and credentials files (default: ~/.aws)")
    p.add_argument("--access-key-id", help="the cloud's access key id")
    p.add_argument("--secret-env", help="environment variable holding the secret key (never the secret itself)")
    p.add_argument("--verify-checks", help="comma-separated verify checks or services (default: all)")
    p.add_argument("--smoke-timeout", type=bounded_seconds(3600), default=120.0,
                   help="seconds to wait for the instance to run")
    p.add_argument("--deployment", choices=("auto", "server", "cloud"), default="auto",
                   help="comment format: server (REST v2 wiki markup), cloud (REST v3 ADF), auto (ask Jira)")
    p.add_argument("--transition", help="transition to take on the issue when everything passed")
    p.add_argument("--keep", action="store_true", help="keep the launched cloud (default: remove what was created)")
    p.add_argument("--apply", action="store_true", help="do it (without it: every step shows what it would do)")
    add_format_option(p)
    p.set_defaults(func=_release_check)


def _release_check(args: argparse.Namespace) -> int:
    """Run the chain and print its final table; exit 1 with the one-line reason when a step failed."""
    from pathlib import Path

    from labkit.cli_output import print_rows
    from labkit.cloud.release import release_check
    from labkit.cloud.sandbox import sandbox_settings
    from labkit.config import get_profile
    from labkit.jira.client import JiraClient

    profile = get_profile(None)
    kwargs: dict = {}
    if profile.is_sandbox:
        wanted = tuple(s for s, need in (("forge", not args.forge_url and not Path(args.source).is_file()),
                                         ("aws", not args.aws_url), ("jira", bool(args.issue))) if need)
        name = args.profile_name or "release-check"
        if wanted:
            kwargs = sandbox_settings(name, wanted)
        if "aws" in wanted:
            kwargs.setdefault("profile_name", name)
    fields = dict(kwargs.pop("profile_fields", {}))
    if args.access_key_id:
        fields["access_key_id"] = args.access_key_id
    if args.secret_env:
        fields["secret_env"] = args.secret_env
    forwards = dict(kwargs.pop("forwards", {}))
    forwards.update(dict(args.forward))
    files = {}
    if args.aws_dir:
        folder = Path(args.aws_dir).expanduser()
        files = {"config_file": folder / "config", "credentials_file": folder / "credentials"}
    jira = JiraClient.from_profile() if args.issue else None
    try:
        run = release_check(
            args.source, onto=args.onto, plan_file=args.plan_file, issue=args.issue, jira=jira,
            test_cmd=args.test_cmd, test_each=args.test_each, repo=args.repo,
            forge_url=args.forge_url or kwargs.get("forge_url"), cloud=args.cloud, uri=args.uri,
            **({"ports": args.ports} if args.ports else {}), forwards=forwards, wait_timeout=args.wait_timeout,
            preset=args.preset, profile_name=args.profile_name or kwargs.get("profile_name"),
            profile_url=args.aws_url or kwargs.get("profile_url"), profile_fields=fields,
            verify_checks=args.verify_checks.split(",") if args.verify_checks else None,
            smoke_options={"timeout": args.smoke_timeout}, deployment=args.deployment, transition=args.transition,
            cleanup=not args.keep, dry_run=not args.apply, **files)
    finally:
        if jira is not None:
            jira.close()
    print_rows(run.final, args.format, ["step", "status", "detail"])
    if not run.ok:
        print(f"labkit: error: {run.reason()}", file=sys.stderr)
        return 1
    return 0
