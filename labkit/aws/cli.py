"""``labkit aws write|verify|list|remove|credential-process|env|import|presets``: the awscli provider job."""

from __future__ import annotations

import argparse
import sys


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``aws`` command group."""
    from labkit.cli_output import add_format_option, bounded_int

    p = sub.add_parser("aws", help="write and verify awscli profiles for AWS-compatible private clouds")
    ss = p.add_subparsers(dest="aws_command", metavar="ACTION", required=True)

    w = ss.add_parser("write", help="merge a profile into the awscli files (dry run: shows the diff)")
    w.add_argument("name", help="profile name")
    w.add_argument("--preset", default="moto", help="eucalyptus, eucalyptus-dns, minio, ceph-rgw, localstack, moto")
    w.add_argument("--host", default="127.0.0.1", help="host (DNS domain for eucalyptus-dns)")
    w.add_argument("--port", type=bounded_int(1, 65535), help="port (default: the preset's)")
    w.add_argument("--url", help="base URL instead of host and port")
    w.add_argument("--endpoint", action="append", default=[], metavar="SERVICE=URL",
                   help="a per-service endpoint (repeatable); without --preset's host layout")
    w.add_argument("--region", required=True)
    w.add_argument("--access-key-id")
    w.add_argument("--secret-env", help="environment variable holding the secret key")
    w.add_argument("--secret-keyring", help="keyring user (service labkit) holding the secret key")
    w.add_argument("--ca-bundle")
    w.add_argument("--no-verify-tls", action="store_true")
    w.add_argument("--credentials", choices=("auto", "process", "keys"), default="auto",
                   help="process: credential_process, the secret stays in keyring/env; keys: plain keys in the "
                        "credentials file; auto (default): process when the secret has a keyring or env home")
    w.add_argument("--checksums", choices=("when_required", "when_supported", "unset"), default="when_required",
                   help="request_checksum_calculation/response_checksum_validation to write (default when_required: "
                        "what S3-compatible stores need)")
    _files(w)
    w.add_argument("--apply", action="store_true", help="write the files (default: dry run)")
    w.add_argument("--force", action="store_true", help="replace a same-named section labkit did not write")
    add_format_option(w)
    w.set_defaults(func=_write)

    v = ss.add_parser("verify", help="run boto3 and aws CLI checks against a written profile")
    v.add_argument("name", help="profile name")
    v.add_argument("--tool", choices=("both", "boto3", "aws-cli"), default="both")
    v.add_argument("--timeout", type=float, default=5.0, help="connect/read timeout per call (s)")
    _files(v)
    add_format_option(v)
    v.set_defaults(func=_verify)

    ls = ss.add_parser("list", help="every profile of the awscli files: labkit's or not, endpoint, region, secret")
    _files(ls)
    add_format_option(ls)
    ls.set_defaults(func=_list)

    rm = ss.add_parser("remove", help="remove labkit's sections of a profile (dry run: shows the diff)")
    rm.add_argument("name", help="profile name")
    _files(rm)
    rm.add_argument("--apply", action="store_true", help="change the files (default: dry run)")
    add_format_option(rm)
    rm.set_defaults(func=_remove)

    cp = ss.add_parser("credential-process",
                       help="print a profile's key as the JSON aws and boto3 read from credential_process")
    _credential_process_options(cp)

    e = ss.add_parser("env", help="print the shell lines that switch aws and boto3 to a profile")
    e.add_argument("name", help="profile name")
    _files(e)
    e.set_defaults(func=_env)

    im = ss.add_parser("import", help="turn euca2ools .ini regions or a eucarc into profiles (dry run: diffs)")
    im.add_argument("paths", nargs="+", help="euca2ools .ini files or directories, or eucarc files with --eucarc")
    im.add_argument("--eucarc", action="store_true", help="the paths are eucarc files")
    im.add_argument("--region", help="region for a eucarc profile (default: from the file, else eucalyptus)")
    im.add_argument("--credentials", choices=("auto", "process", "keys"), default="auto",
                    help="process: keep the imported secret in the keyring (credential_process); keys: plain keys; "
                         "auto (default): process when a keyring is available")
    _files(im)
    im.add_argument("--apply", action="store_true", help="write the files (default: dry run)")
    im.add_argument("--force", action="store_true", help="replace same-named profiles labkit did not write")
    add_format_option(im)
    im.set_defaults(func=_import)

    pr = ss.add_parser("presets", help="list the known cloud layouts")
    add_format_option(pr)
    pr.set_defaults(func=_presets)


def _files(parser: argparse.ArgumentParser) -> None:
    """Add the --config-file and --credentials-file options."""
    parser.add_argument("--config-file", help="default: $AWS_CONFIG_FILE or ~/.aws/config")
    parser.add_argument("--credentials-file", help="default: $AWS_SHARED_CREDENTIALS_FILE or ~/.aws/credentials")


def _profile(args: argparse.Namespace):
    """Build the CloudProfile the write options describe."""
    from labkit.aws import AwsError, CloudProfile, preset_profile
    from labkit.http import mask_urls

    fields = {"access_key_id": args.access_key_id, "secret_env": args.secret_env,
              "secret_keyring": args.secret_keyring, "ca_bundle": args.ca_bundle,
              "verify_tls": not args.no_verify_tls, "credentials": args.credentials,
              "checksums": None if args.checksums == "unset" else args.checksums}
    if args.endpoint:
        endpoints = {}
        for item in args.endpoint:
            svc, sep, url = item.partition("=")
            if not sep:
                raise AwsError(f"--endpoint {mask_urls(item)!r} is not SERVICE=URL",
                               hint="e.g. --endpoint ec2=http://h:8773/")
            endpoints[svc] = url
        return CloudProfile(args.name, args.region, endpoints=endpoints, **fields)
    return preset_profile(args.preset, args.name, region=args.region, host=args.host, port=args.port,
                          url=args.url, **fields)


def _write(args: argparse.Namespace) -> int:
    """Run ``labkit aws write``: the diff (dry run) or the table of written files."""
    from labkit.aws import write_profile

    result = write_profile(_profile(args), args.config_file, args.credentials_file, dry_run=not args.apply,
                           force=args.force)
    _show(result, args)
    return 0


def _show(result, args: argparse.Namespace) -> None:
    """Print a write or remove: the diff and notes (dry run, table format), else the table of files."""
    from labkit.cli_output import print_rows

    if not args.apply and args.format == "table":
        sys.stdout.write(result.diff or f"profile {result.profile}: nothing to change\n")
        for note in result.notes:
            sys.stdout.write(f"note: {note}\n")
        return
    print_rows(result.rows(), args.format)
    if args.format == "table":
        for note in result.notes:
            sys.stdout.write(f"note: {note}\n")


def _list(args: argparse.Namespace) -> int:
    """Run ``labkit aws list``: one row per profile."""
    from labkit.aws import list_profiles
    from labkit.cli_output import print_rows

    print_rows(list_profiles(args.config_file, args.credentials_file), args.format,
               ["profile", "labkit", "region", "endpoint", "secret", "checksums"])
    return 0


def _remove(args: argparse.Namespace) -> int:
    """Run ``labkit aws remove``: the diff (dry run) or the table of changed files."""
    from labkit.aws import remove_profile

    _show(remove_profile(args.name, args.config_file, args.credentials_file, dry_run=not args.apply), args)
    return 0


def _credential_process_options(parser: argparse.ArgumentParser) -> None:
    """Add the arguments of ``labkit aws credential-process``."""
    parser.add_argument("name", help="profile name")
    parser.add_argument("--access-key-id", required=True)
    parser.add_argument("--secret-env", help="environment variable holding the secret key")
    parser.add_argument("--secret-keyring", help="keyring user (service labkit); default aws/NAME")
    parser.set_defaults(func=_credential_process)


def credential_process_main(argv: list[str]) -> int:
    """Run ``labkit aws credential-process`` alone (aws starts it on every call): JSON out, or one error line."""
    from labkit.errors import LabkitError

    parser = argparse.ArgumentParser(prog="labkit aws credential-process",
                                     description="print a profile's key as the JSON aws and boto3 read")
    _credential_process_options(parser)
    args = parser.parse_args(argv)
    try:
        return _credential_process(args)
    except LabkitError as exc:
        print(f"labkit: error: {exc}", file=sys.stderr)
        return 1


def _credential_process(args: argparse.Namespace) -> int:
    """Run ``labkit aws credential-process``: the credentials JSON on stdout, nothing else."""
    from labkit.aws.credentials import process_output

    sys.stdout.write(process_output(args.name, args.access_key_id, secret_env=args.secret_env,
                                    secret_keyring=args.secret_keyring) + "\n")
    return 0


def _verify(args: argparse.Namespace) -> int:
    """Run ``labkit aws verify``: the check table; exit 1 when a check failed."""
    from labkit.aws import AwsError, verify
    from labkit.cli_output import print_rows, raise_for_failed

    tools = ("boto3", "aws-cli") if args.tool == "both" else (args.tool,)
    rows = verify(args.name, args.config_file, args.credentials_file, tools=tools, timeout=args.timeout,
                  progress=_progress if sys.stderr.isatty() else None)
    print_rows(rows, args.format, ["tool", "check", "status", "detail", "advice", "seconds"])
    raise_for_failed(AwsError, [f"{r.tool} {r.check}" for r in rows if r.status == "fail"], len(rows), "checks",
                     "follow the advice column of the failed checks, then verify again")
    return 0


def _progress(done: int, total: int, row) -> None:
    """Show checks done / total on a terminal's stderr."""
    sys.stderr.write(f"\rverify: {done}/{total} checks ({row.tool}: {row.check})"[:100].ljust(100))
    if done == total:
        sys.stderr.write("\r" + " " * 100 + "\r")
    sys.stderr.flush()


def _import(args: argparse.Namespace) -> int:
    """Run ``labkit aws import``: write (or diff) one profile per euca2ools region or eucarc."""
    import dataclasses

    from labkit.aws import from_euca2ools_ini, from_eucarc, write_profile
    from labkit.cli_output import print_rows

    profiles = ([from_eucarc(p, region=args.region) for p in args.paths] if args.eucarc
                else from_euca2ools_ini(*args.paths))
    rows = []
    for profile in profiles:
        profile = dataclasses.replace(profile, credentials=args.credentials)
        result = write_profile(profile, args.config_file, args.credentials_file, dry_run=not args.apply,
                               force=args.force)
        if not args.apply and args.format == "table":
            sys.stdout.write(result.diff or f"profile {result.profile}: nothing to change\n")
            for note in result.notes:
                sys.stdout.write(f"note: {note}\n")
        rows += result.rows()
    if args.apply or args.format != "table":
        print_rows(rows, args.format)
    return 0


def _env(args: argparse.Namespace) -> int:
    """Run ``labkit aws env``: print the shell lines."""
    from labkit.aws import env

    sys.stdout.write(env(args.name, args.config_file, args.credentials_file).shell)
    return 0


def _presets(args: argparse.Namespace) -> int:
    """Run ``labkit aws presets``: list the known layouts."""
    from labkit.aws import PRESETS
    from labkit.cli_output import print_rows

    print_rows([{"preset": p.name, "port": p.port, "layout": p.layout, "services": ", ".join(p.services) or "all",
                 "description": p.description} for p in PRESETS.values()], args.format)
    return 0
