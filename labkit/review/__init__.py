"""Pull-request review: fetch a PR or a list thread as a patch series, check, apply onto any branch, test,
merge, compare revisions and backport.

    from labkit.review import PullRequest, parse_thread, check_series, apply_series, range_diff, backport
    pr = PullRequest.from_url("https://github.com/eucalyptus/eucalyptus/pull/53")
    series = pr.fetch_series()                      # .patch, API v3, alternate link, or git for a large PR
    check_series(series, repo=".", onto="maint-4.4", issue_pattern=r"EUCA-\\d+")
    apply_series(".", series, onto="maint-4.4", amend_issue="EUCA-1234", test_cmd="make check", test_each=True,
                 merge="ff")
    range_diff(pr.revision(old_head).fetch_series(), series)           # what a force-push changed
    backport(".", series, onto=["maint-4.3", "maint-4.4"]).grid()    # branch x commit
    thread = parse_thread(open("thread.mbox", "rb").read(), link=True)  # b4-style: trailers, newest revision

Submodules are imported lazily so ``import labkit.review`` stays cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

from labkit.review.errors import ReviewError

_EXPORTS = {
    "PatchSeries": "labkit.review.series", "Commit": "labkit.review.series", "FileChange": "labkit.review.diff",
    "parse_mbox": "labkit.review.mbox", "parse_thread": "labkit.review.mbox", "parse_diff": "labkit.review.diff",
    "read_mail": "labkit.review.mailinfo", "split_mbox": "labkit.review.mailinfo",
    "apply_series": "labkit.review.apply", "ApplyResult": "labkit.review.apply",
    "check_series": "labkit.review.checks", "CheckResult": "labkit.review.checks",
    "PullRequest": "labkit.review.pullrequest", "RateLimit": "labkit.review.pullrequest",
    "range_diff": "labkit.review.rangediff", "RangeDiff": "labkit.review.rangediff",
    "backport": "labkit.review.backports", "BackportResult": "labkit.review.backports",
    "Scratch": "labkit.review.scratch",
}

__all__ = ["ReviewError", *_EXPORTS]


def __getattr__(name: str) -> Any:
    """Import the module behind a public name on first use (keeps ``import labkit.review`` cheap)."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'labkit.review' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
