"""``release_check``: the chain the release engineer works through, pull request to tracker, stopping at the first failure.

    from labkit.cloud import release_check
    run = release_check("demo/calc#1", onto="release-1.x", test_cmd="python3 -m unittest -q",
                        plan_file="lab.toml", issue="DEMO-1", jira=JiraClient.from_profile())   # dry run
    run.table()                         # one row per step: status and a one-line reason
    release_check(..., dry_run=False)   # does it: apply+test, launch+wait, write+verify, smoke test, comment

A step that fails stops the chain: later steps are ``skip`` rows saying where it stopped, what earlier
steps created is removed (``cleanup=True``, the default: the cloud launch made), and the table so far is
still posted on the issue. The transition runs only when every step passed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from labkit.cloud.steps import (
    DRY_RUN,
    FRONTEND_PORTS,
    StepResult,
    cloud_step,
    comment_step,
    one_line,
    profile_step,
    review_step,
    smoke_step,
    tracker_rows,
    transition_step,
)

STEP_NAMES = ("1 review and test", "2 test cloud", "3 awscli profile", "4 smoke test")


@dataclass
class ReleaseCheck:
    """The chain's outcome: each step's result, the clean-up, the tracker steps and the final table."""

    steps: list[StepResult] = field(default_factory=list)
    cleanup: StepResult | None = None
    transition: StepResult | None = None
    comment: StepResult | None = None
    final: list[dict[str, str]] = field(default_factory=list)
    dry_run: bool = True

    @property
    def stopped_at(self) -> str | None:
        """Return the step that failed (None when none did)."""
        return next((s.step for s in self.steps if s.status == "fail"), None)

    @property
    def ok(self) -> bool:
        """Tell whether every step passed (or, in a dry run, would run) and the result reached the tracker."""
        parts = [*self.steps, *(p for p in (self.transition, self.comment) if p is not None)]
        return all(p.status in ("pass", DRY_RUN) for p in parts)

    def table(self):
        """Return the final table as a DataFrame (the rows the comment holds)."""
        from labkit.tables import to_frame

        return to_frame(self.final, ["step", "status", "detail"])

    def reason(self) -> str:
        """Return the one-line reason the chain stopped (empty when it did not)."""
        failed = next((s for s in [*self.steps, self.transition, self.comment] if s and s.status == "fail"), None)
        return f"{failed.step}: {failed.detail}" if failed else ""

    @property
    def go(self) -> bool:
        """Tell whether the next step should run (no step failed so far)."""
        return all(s.ok for s in self.steps)

    def add(self, result: StepResult) -> bool:
        """Record a step's result; tell whether the chain goes on."""
        self.steps.append(result)
        return self.go

    def finish(self, *, issue: str | None = None, jira=None, title: str = "labkit release check",
               deployment: str = "auto", transition: str | None = None, cleanup: bool = True) -> list[dict[str, str]]:
        """Mark the steps not run, undo what the steps created (when asked), record the result on the issue.

        Return the final table's rows (also kept in ``final``): the comment holds exactly these rows.
        """
        stopped = self.stopped_at
        for name in STEP_NAMES[len(self.steps):]:
            self.steps.append(StepResult(name, "skip", f"not run: the chain stopped at {stopped}"))
        self.cleanup = _clean_up(self.steps, cleanup)
        self.final = [s.summary() for s in [*self.steps, self.cleanup]]
        if not issue or jira is None:
            return self.final
        from labkit.cloud.comment import deployment_of

        try:
            kind = deployment_of(jira, deployment)
        except Exception as exc:  # noqa: BLE001 - the tracker cannot be reached: said in the table, never a traceback
            self.comment = StepResult("5 comment", "fail", one_line(f"{issue}: {exc}"))
            self.final.append(self.comment.summary())
            return self.final
        passed = all(s.status in ("pass", DRY_RUN) for s in self.steps)
        if transition:
            self.transition = transition_step(jira, issue, transition, passed=passed, dry_run=self.dry_run)
        self.final = tracker_rows([*self.steps, self.cleanup], key=issue, deployment=kind,
                                  transitioned=self.transition)
        self.comment = comment_step(jira, issue, self.final, title=title + (" (dry run)" if self.dry_run else ""),
                                    deployment=kind, dry_run=self.dry_run)
        if self.comment.status != "pass":
            self.final[-1] = self.comment.summary()
        return self.final


def release_check(source: str, *, onto: str, plan_file: str | Path, issue: str | None = None, jira=None,
                  test_cmd: str | None = None, test_each: bool = False, repo: str | Path | None = None,
                  forge_url: str | None = None, cloud: str | None = None, uri: str | None = None,
                  ports: Sequence[int] = FRONTEND_PORTS, forwards: dict[int, str] | None = None,
                  wait_timeout: float = 300, preset: str = "eucalyptus", profile_name: str | None = None,
                  profile_url: str | None = None, config_file: str | Path | None = None,
                  credentials_file: str | Path | None = None, profile_fields: dict[str, Any] | None = None,
                  verify_checks: Sequence[str] | None = None, smoke_options: dict[str, Any] | None = None,
                  deployment: str = "auto", transition: str | None = None, cleanup: bool = True,
                  dry_run: bool = True, progress: Callable[[StepResult], None] | None = None) -> ReleaseCheck:
    """Run the release check's steps in order, stop at the first failure, clean up, and record it on the issue.

    Every step is a dry run unless ``dry_run=False``. ``jira`` is a JiraClient (None: nothing is posted);
    ``deployment`` picks the comment's format (auto: ask the server; server: REST v2 wiki markup;
    cloud: REST v3 ADF); ``transition`` names the transition to take when everything passed.
    """
    run = ReleaseCheck(dry_run=dry_run)

    def done(result: StepResult) -> bool:
        """Record a step's result and report it; tell whether the chain goes on."""
        go = run.add(result)
        if progress:
            progress(result)
        return go

    plan = profile = files = None
    go = done(review_step(source, onto=onto, test_cmd=test_cmd, test_each=test_each, repo=repo, forge_url=forge_url,
                          dry_run=dry_run))
    if go:
        r = cloud_step(plan_file, cloud=cloud, uri=uri, ports=ports, forwards=forwards, timeout=wait_timeout,
                       dry_run=dry_run)
        plan = r.value
        go = done(r)
    if go:
        r = profile_step(plan, preset=preset, name=profile_name, url=profile_url, config_file=config_file,
                         credentials_file=credentials_file, checks=verify_checks, dry_run=dry_run,
                         **(profile_fields or {}))
        if r.value:
            profile, files = r.value
        go = done(r)
    if go:
        done(smoke_step(profile, plan, dry_run=dry_run, **(files or {}), **(smoke_options or {})))
    run.finish(issue=issue, jira=jira, title=f"labkit release check of {source} onto {onto}", deployment=deployment,
               transition=transition, cleanup=cleanup)
    return run


def _clean_up(steps: list[StepResult], asked: bool) -> StepResult:
    """Undo what the steps created (the launched cloud), newest first, when asked; say what was done."""
    undos = [s for s in steps if s.undo is not None]
    if not undos:
        return StepResult("clean up", "skip", "nothing was created that needs removing")
    if not asked:
        return StepResult("clean up", "skip", f"kept as asked: what {', '.join(s.step for s in undos)} created")
    removed, errors = [], []
    for s in reversed(undos):
        try:
            removed += [f"{r.action} {r.target}" for r in s.undo() if r.done]
        except Exception as exc:  # noqa: BLE001 - every undo is tried; the failure is the row's reason
            errors.append(one_line(f"{s.step}: {exc}"))
    if errors:
        return StepResult("clean up", "fail", "; ".join(errors) + " (remove the rest by hand)")
    return StepResult("clean up", "pass", f"removed what {', '.join(s.step for s in undos)} created: "
                                          f"{len(removed)} steps ({', '.join(removed[:6])}"
                                          f"{', ...' if len(removed) > 6 else ''})")
