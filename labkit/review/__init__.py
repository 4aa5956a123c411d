"""Pull-request review: fetch a PR as a patch series, parse, check, apply onto any branch, test, merge.

    from labkit.review import PullRequest, parse_mbox, check_series, apply_series
    pr = PullRequest.from_url("https://github.com/eucalyptus/eucalyptus/pull/53")
    series = pr.fetch_series()                      # .patch, alternate link or API v3
    check_series(series, repo=".", onto="maint-4.4", issue_pattern=r"EUCA-\\d+")
    apply_series(".", series, onto="maint-4.4", amend_issue="EUCA-1234", test_cmd="make check", merge="ff")

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
}

__all__ = ["ReviewError", *_EXPORTS]


def __getattr__(name: str) -> Any:
    """Import the module behind a public name on first use (keeps ``import labkit.review`` cheap)."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'labkit.review' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
