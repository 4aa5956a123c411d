"""Checks of a running cloud through its profile, and the release check that chains labkit's jobs.

    from labkit.cloud import profile_from_plan, smoke_test, release_check
    profile = profile_from_plan(plan, "eucalyptus", access_key_id="AKIA...", secret_env="CLOUD_SECRET")
    smoke_test(profile, plan)          # key pair, image, instance, addresses, reach, clean-up: one row each
    release_check("demo/calc#1", onto="release-1.x", plan_file="lab.toml", issue="DEMO-1", jira=client)

Names are imported on first use, so ``import labkit.cloud`` stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from labkit.cloud.errors import CloudError

_EXPORTS = {
    "profile_from_plan": "profile", "region_for": "profile",
    "smoke_test": "smoke", "SmokeRow": "smoke", "NOT_CHECKABLE": "smoke",
    "wiki_comment": "comment", "adf_comment": "comment", "post_comment": "comment", "transition_issue": "comment",
    "StepResult": "steps", "review_step": "steps", "cloud_step": "steps", "profile_step": "steps",
    "smoke_step": "steps", "transition_step": "steps", "comment_step": "steps", "FRONTEND_PORTS": "steps",
    "release_check": "release", "ReleaseCheck": "release",
}
__all__ = ["FRONTEND_PORTS", "NOT_CHECKABLE", "CloudError", "ReleaseCheck", "SmokeRow", "StepResult", "adf_comment",
           "cloud_step", "comment_step", "post_comment", "profile_from_plan", "profile_step", "region_for",
           "release_check", "review_step", "smoke_step", "smoke_test", "transition_issue", "transition_step",
           "wiki_comment"]

if TYPE_CHECKING:
    from labkit.cloud.comment import adf_comment, post_comment, transition_issue, wiki_comment
    from labkit.cloud.profile import profile_from_plan, region_for
    from labkit.cloud.release import ReleaseCheck, release_check
    from labkit.cloud.smoke import NOT_CHECKABLE, SmokeRow, smoke_test
    from labkit.cloud.steps import (
        FRONTEND_PORTS,
        StepResult,
        cloud_step,
        comment_step,
        profile_step,
        review_step,
        smoke_step,
        transition_step,
    )


def __getattr__(name: str) -> Any:
    """Import an exported name's module on first use."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'labkit.cloud' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"labkit.cloud.{module}"), name)
    globals()[name] = value
    return value
