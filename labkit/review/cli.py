"""``labkit pr review|apply|range-diff|backport``: a pull request (URL, OWNER/REPO#N, .patch/mbox file or -) as tables.

On the sandbox profile (the default) ``OWNER/REPO#N`` names a PR of the sandbox forge; another
profile's ``[profiles.NAME.forge]`` gives ``url``, ``api_url``, ``flavor`` and ``token_env``.
Every command that changes the repository is a dry run unless given ``--apply``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``pr`` command group."""
    from labkit.cli_output import add_format_option

    p = sub.add_parser("pr", help="review a pull request's patch series, compare revisions, apply and backport it")
    ps = p.add_subparsers(dest="pr_command", metavar="ACTION", required=True)

    def source(a: argparse.ArgumentParser, name: str = "source", help_text: str | None = None) -> None:
        """Add a positional series source."""
        a.add_argument(name, help=help_text or "PR URL, OWNER/REPO#N (@SHA: a previous head), a .patch/mbox file, "
                                               "or - for stdin")

    def fetching(a: argparse.ArgumentParser) -> None:
        """Add the options that say where a PR is fetched from."""
        a.add_argument("--base-url", help="forge web base for OWNER/REPO#N (GitHub Enterprise, Gitea, Forgejo)")
        a.add_argument("--api-url", help="API base when it is not the usual one")
        a.add_argument("--flavor", choices=("github", "gitea"), help="forge kind (default: from the URL)")
        a.add_argument("--via", choices=("auto", "patch", "api", "page", "git"), default="auto",
                       help="how to fetch the patch (default: auto; git: refs/pull/N/head, as for a PR too large "
                            "for the diff media type)")
        a.add_argument("--link", action="store_true", help="add a Link: trailer (lore.kernel.org/r/<msgid>) to each "
                                                           "patch of a mail thread")

    def applying(a: argparse.ArgumentParser) -> None:
        """Add the options every command that runs git am shares."""
        a.add_argument("--repo", default=".", help="local clone to check or apply against (default: .)")
        a.add_argument("--issue-pattern", default=r"\b[A-Z][A-Z0-9]+-\d+\b", help="regex of an issue ID")
        a.add_argument("--test", dest="test_cmd", help="test command run in the scratch worktree")
        a.add_argument("--test-each", action="store_true", help="run the test command on every commit (bisectability)")
        a.add_argument("--keep-cr", action=argparse.BooleanOptionalAction, default=None,
                       help="keep (or strip) the CR of CR LF patch lines (default: as the target's files have them)")
        a.add_argument("--partial", action="store_true", help="apply a thread whose missing or unreadable patches "
                                                              "are left out")

    r = ps.add_parser("review", help="the series as a table plus every check (pass/warn/fail)")
    source(r)
    fetching(r)
    applying(r)
    r.add_argument("--onto", help="branch or commit to check the series against (git am in a scratch worktree)")
    r.add_argument("--require-signoff", action="store_true", help="a missing sign-off fails instead of warns")
    add_format_option(r)
    r.set_defaults(func=_review)

    a = ps.add_parser("apply", help="apply in a scratch worktree, test, and merge only when asked (dry run "
                                    "unless --apply)")
    source(a)
    fetching(a)
    applying(a)
    a.add_argument("--onto", help="branch or commit to apply onto")
    a.add_argument("--amend-issue", help="issue ID to add to subjects that have none")
    a.add_argument("--merge", choices=("ff", "merge"), help="fast-forward or merge --onto after the tests pass")
    a.add_argument("--branch", help="keep the applied commits under this new branch")
    a.add_argument("--apply", action="store_true", help="do it (without it: show the steps, change nothing)")
    a.add_argument("--dry-run", action="store_true", help=argparse.SUPPRESS)  # the default; kept for old scripts
    add_format_option(a)
    a.set_defaults(func=_apply)

    d = ps.add_parser("range-diff", help="compare two revisions of a series (a force-pushed PR, v1 and v2 of a thread)")
    source(d, "old", "the old revision (a file, OWNER/REPO#N@SHA, a URL); with NEW left out and a PR here: the PR "
                     "before and after its last force-push")
    d.add_argument("new", nargs="?", help="the new revision (same forms)")
    fetching(d)
    d.add_argument("--diff", action="store_true", help="also print the diff of each changed commit")
    add_format_option(d)
    d.set_defaults(func=_range_diff)

    b = ps.add_parser("backport", help="apply one series onto several branches in parallel; a branch x commit grid")
    source(b)
    fetching(b)
    applying(b)
    b.add_argument("--onto", action="append", required=True, help="a target branch (repeat for each)")
    b.add_argument("--amend-issue", help="issue ID to add to subjects that have none")
    b.add_argument("--branch-prefix", help="keep each fully applied, tested result as branch PREFIX<onto>")
    b.add_argument("--apply", action="store_true", help="create the --branch-prefix branches (without it: "
                                                        "only the grid)")
    add_format_option(b)
    b.set_defaults(func=_backport)


def pull_request(args: argparse.Namespace, ref: str):
    """Build the PullRequest for ``ref`` with the profile's forge (the sandbox forge on the sandbox profile)."""
    from labkit.config import get_profile
    from labkit.review.pullrequest import PullRequest, check_forge_urls, origin

    check_forge_urls(args.base_url, args.api_url)
    profile = get_profile(getattr(args, "profile", None))
    section = profile.section("forge")
    base_url, api_url, flavor = args.base_url, args.api_url, args.flavor
    token = token_host = None
    if section.get("sandbox") or profile.is_sandbox:
        short = "://" not in ref
        if short and not base_url:
            import labkit.sandbox as sandbox

            base_url = sandbox.url("forge")
            token, token_host = sandbox.secret("forge"), base_url
    else:
        base_url = base_url or section.get("url")
        api_url = api_url or section.get("api_url")
        flavor = flavor or section.get("flavor")
        if section.get("token_env") or section.get("token_keyring"):
            token = profile.secret("forge", "token")
            token_host = api_url or section.get("api_url") or None
    pr = PullRequest.from_url(ref, base_url=base_url, api_url=api_url, flavor=flavor, token=token,
                              token_host=origin(token_host) if token_host else None)
    return pr


def load_series(args: argparse.Namespace, ref: str | None = None):
    """Read the series from a file (a thread: b4-style), stdin or a pull request."""
    from labkit.review.errors import ReviewError
    from labkit.review.mbox import parse_thread

    ref = ref if ref is not None else args.source
    link = getattr(args, "link", False)
    if ref == "-":
        return _reported(parse_thread(sys.stdin.buffer.read(), source="stdin", link=link))
    path = Path(ref).expanduser()
    if path.is_file():
        return _reported(parse_thread(path.read_bytes(), source=str(path), link=link))
    if path.is_dir():
        raise ReviewError(f"{path} is a directory", hint="give a .patch or mbox file, a PR URL or OWNER/REPO#N")
    if "://" not in ref and "#" not in ref:
        raise ReviewError(f"no file {path} (and it is not a PR URL or OWNER/REPO#N)",
                          hint="check the path, or give https://HOST/OWNER/REPO/pull/N or OWNER/REPO#N")
    repo = getattr(args, "repo", None)
    return pull_request(args, ref).fetch_series(args.via, repo=repo if repo and Path(repo).is_dir() else None)


def _reported(series):
    """Print a thread's unreadable mails and decisions to stderr (one line each) and return the series."""
    for p in series.problems:
        print(f"labkit: warning: line {p.line}: {p.reason} ({p.subject})", file=sys.stderr)
    for note in series.notes:
        print(f"labkit: note: {note}", file=sys.stderr)
    return series


def _review(args: argparse.Namespace) -> int:
    """Run ``labkit pr review``: the series table and the check table; exit 1 when a check failed."""
    from labkit.cli_output import print_rows, raise_for_failed
    from labkit.review.checks import check_series
    from labkit.review.errors import ReviewError

    series = load_series(args)
    results = check_series(series, repo=args.repo if args.onto else None, onto=args.onto,
                           issue_pattern=args.issue_pattern or None, require_signoff=args.require_signoff,
                           test_cmd=args.test_cmd, test_each=args.test_each, keep_cr=args.keep_cr)
    if args.format == "json":  # one document: {"series": [...], "checks": [...]}
        import json

        from labkit.tables import as_dicts

        print(json.dumps({"series": series.rows(), "checks": as_dicts(results),
                          "problems": series.problem_rows(), "notes": series.notes}, indent=2, default=str))
    else:
        print_rows(series.rows(), args.format)
        print()
        print_rows(results, args.format)
    failed = [r.check if not r.n else f"{r.check} (patch {r.n})" for r in results if r.status == "fail"]
    raise_for_failed(ReviewError, failed, len(results), "checks", "see the detail column of the failed checks")
    return 0


def _apply(args: argparse.Namespace) -> int:
    """Run ``labkit pr apply``: the step table; exit 1 when the series did not apply or its tests failed."""
    from labkit.cli_output import print_rows
    from labkit.review.apply import apply_series
    from labkit.review.errors import ReviewError

    if not args.onto:
        raise ReviewError("apply needs --onto", hint="name the branch to apply the series onto, e.g. --onto main")
    series = load_series(args)
    res = apply_series(args.repo, series, onto=args.onto, amend_issue=args.amend_issue,
                       issue_pattern=args.issue_pattern, test_cmd=args.test_cmd, test_each=args.test_each,
                       merge=args.merge, branch=args.branch, dry_run=not args.apply, keep_cr=args.keep_cr,
                       partial=args.partial)
    print_rows(res.rows(), args.format)
    bad = next((t.run for t in res.tests if not t.run.passed), None) or (
        res.test if res.test is not None and not res.test.passed else None)
    if bad is not None:
        sys.stderr.write(bad.output[-2000:] + "\n")
    if not res.ok:  # the one error line; nothing was merged (the work stays in the scratch worktree's steps)
        raise ReviewError(f"{res.status}: {res.message}",
                          hint="the step table shows where it stopped; fix the series or --onto and run it again")
    tail = "" if args.apply else " (dry run: add --apply to do it)"
    print(f"{res.status}: {res.message}{tail}", file=sys.stderr)
    return 0


def _range_diff(args: argparse.Namespace) -> int:
    """Run ``labkit pr range-diff``: one row per commit pair (unchanged/changed/added/dropped)."""
    from labkit.cli_output import print_rows
    from labkit.review.errors import ReviewError
    from labkit.review.rangediff import range_diff

    if args.new is None:
        if "://" not in args.old and "#" not in args.old:
            raise ReviewError("range-diff needs two revisions",
                              hint="give OLD and NEW (files or PRs), or one PR to compare across its last force-push")
        pr = pull_request(args, args.old)
        pushes = pr.force_pushes()
        if not pushes:
            raise ReviewError(f"{pr.ref} was never force-pushed (its page shows no force-push)",
                              hint="give both revisions: labkit pr range-diff OWNER/REPO#N@OLDSHA OWNER/REPO#N")
        old_head, new_head = pushes[-1]
        old, new = pr.revision(old_head).fetch_series(), pr.revision(new_head).fetch_series()
        labels = (f"{pr.ref}@{old_head[:12]}", f"{pr.ref}@{new_head[:12]}")
    else:
        old, new = load_series(args, args.old), load_series(args, args.new)
        labels = (args.old, args.new)
    rd = range_diff(old, new, old_label=labels[0], new_label=labels[1])
    if args.format == "table" and args.diff:
        sys.stdout.write(rd.text())
    else:
        print_rows([r.row() | ({"diff": r.diff} if args.diff else {}) for r in rd.rows], args.format)
    counts = rd.counts()
    print(f"{labels[0]} -> {labels[1]}: " + ", ".join(f"{v} {k}" for k, v in counts.items()), file=sys.stderr)
    return 0


def _backport(args: argparse.Namespace) -> int:
    """Run ``labkit pr backport``: the branch x commit grid; exit 1 when a branch did not take every patch."""
    from labkit.cli_output import print_rows, raise_for_failed
    from labkit.review.backports import backport
    from labkit.review.errors import ReviewError

    series = load_series(args)
    bp = backport(args.repo, series, args.onto, test_cmd=args.test_cmd, test_each=args.test_each,
                  amend_issue=args.amend_issue, issue_pattern=args.issue_pattern, keep_cr=args.keep_cr,
                  branch_prefix=args.branch_prefix, dry_run=not args.apply, partial=args.partial)
    print_rows(bp.grid_rows(), args.format)
    for b in bp.branches.values():
        kept = ""
        if b.branch:
            kept = f"; branch {b.branch} created" if b.branch_created else (
                f"; would create branch {b.branch} (add --apply)" if b.ok and not args.apply else "; no branch kept")
        print(f"{b.onto}: {b.status}: {b.message}{kept}", file=sys.stderr)
    raise_for_failed(ReviewError, [b.onto for b in bp.branches.values() if not b.ok], len(bp.branches), "branches",
                     "the grid shows which patch stopped each one; backport those by hand or fix the series",
                     verb="did not take every patch")
    return 0
