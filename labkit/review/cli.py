"""``labkit pr review|apply``: a pull request (URL, owner/repo#N, .patch file or -) as tables."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``pr`` command group."""
    from labkit.cli_output import add_format_option

    p = sub.add_parser("pr", help="review a pull request's patch series and apply it onto any branch")
    ps = p.add_subparsers(dest="pr_command", metavar="ACTION", required=True)

    def common(a: argparse.ArgumentParser) -> None:
        """Add the options ``review`` and ``apply`` share."""
        a.add_argument("source", help="PR URL, OWNER/REPO#N, a .patch/mbox file, or - for stdin")
        a.add_argument("--base-url", help="forge web base for OWNER/REPO#N (GitHub Enterprise, Gitea, Forgejo)")
        a.add_argument("--api-url", help="API base when it is not the usual one")
        a.add_argument("--flavor", choices=("github", "gitea"), help="forge kind (default: from the URL)")
        a.add_argument("--via", choices=("auto", "patch", "api", "page"), default="auto",
                       help="how to fetch the patch (default: auto); the token comes from $GITHUB_TOKEN")
        a.add_argument("--repo", default=".", help="local clone to check or apply against (default: .)")
        a.add_argument("--onto", help="branch or commit to apply onto")
        a.add_argument("--issue-pattern", default=r"\b[A-Z][A-Z0-9]+-\d+\b", help="regex of an issue ID")
        a.add_argument("--test", dest="test_cmd", help="test command run in the scratch worktree")
        add_format_option(a)

    r = ps.add_parser("review", help="the series as a table plus every check (pass/warn/fail)")
    common(r)
    r.add_argument("--require-signoff", action="store_true", help="a missing sign-off fails instead of warns")
    r.set_defaults(func=_review)
    a = ps.add_parser("apply", help="apply in a scratch worktree, test, and merge only when asked")
    common(a)
    a.add_argument("--amend-issue", help="issue ID to add to subjects that have none")
    a.add_argument("--merge", choices=("ff", "merge"), help="fast-forward or merge --onto after the tests pass")
    a.add_argument("--branch", help="keep the applied commits under this new branch")
    a.add_argument("--dry-run", action="store_true", help="show the steps, change nothing")
    a.set_defaults(func=_apply)


def load_series(args: argparse.Namespace):
    """Read the series from a file, stdin or a pull request."""
    from labkit.review.errors import ReviewError
    from labkit.review.mbox import parse_mbox
    from labkit.review.pullrequest import PullRequest

    if args.source == "-":
        return parse_mbox(sys.stdin.buffer.read(), source="stdin")
    path = Path(args.source).expanduser()
    if path.is_file():
        return parse_mbox(path.read_bytes(), source=str(path))
    if path.is_dir():
        raise ReviewError(f"{path} is a directory", hint="give a .patch or mbox file, a PR URL or OWNER/REPO#N")
    if "://" not in args.source and "#" not in args.source:
        raise ReviewError(f"no file {path} (and it is not a PR URL or OWNER/REPO#N)",
                          hint="check the path, or give https://HOST/OWNER/REPO/pull/N or OWNER/REPO#N")
    pr = PullRequest.from_url(args.source, base_url=args.base_url, api_url=args.api_url, flavor=args.flavor)
    return pr.fetch_series(args.via)


def _review(args: argparse.Namespace) -> int:
    """Run ``labkit pr review``: the series table and the check table; exit 1 when a check failed."""
    from labkit.cli_output import print_rows
    from labkit.review.checks import check_series

    series = load_series(args)
    results = check_series(series, repo=args.repo if args.onto else None, onto=args.onto,
                           issue_pattern=args.issue_pattern or None, require_signoff=args.require_signoff,
                           test_cmd=args.test_cmd)
    if args.format == "json":  # one document: {"series": [...], "checks": [...]}
        import json

        from labkit.tables import as_dicts

        print(json.dumps({"series": series.rows(), "checks": as_dicts(results)}, indent=2, default=str))
    else:
        print_rows(series.rows(), args.format)
        print()
        print_rows(results, args.format)
    return 1 if any(r.status == "fail" for r in results) else 0


def _apply(args: argparse.Namespace) -> int:
    """Run ``labkit pr apply``: the step table; exit 1 when the series did not apply or its tests failed."""
    from labkit.cli_output import print_rows
    from labkit.review.apply import apply_series
    from labkit.review.errors import ReviewError

    if not args.onto:
        raise ReviewError("apply needs --onto", hint="name the branch to apply the series onto, e.g. --onto main")
    series = load_series(args)
    res = apply_series(args.repo, series, onto=args.onto, amend_issue=args.amend_issue,
                       issue_pattern=args.issue_pattern, test_cmd=args.test_cmd, merge=args.merge,
                       branch=args.branch, dry_run=args.dry_run)
    print_rows(res.rows(), args.format)
    print(f"{res.status}: {res.message}", file=sys.stderr)
    if res.test and not res.test.passed:
        sys.stderr.write(res.test.output[-2000:] + "\n")
    return 0 if res.ok else 1
