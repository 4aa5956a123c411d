"""The release check's steps as small functions: each does one job (a dry run unless asked) and returns a StepResult.

    review_step   the series applied and tested in a scratch worktree (labkit.review)
    cloud_step    the plan loaded, the host checked, the cloud launched, its frontend's ports waited for (labkit.vm)
    profile_step  the awscli profile derived from the plan, written with the careful writer, verified (labkit.aws)
    smoke_step    the smoke test through that profile (labkit.cloud.smoke)
    tracker_step  the transition (when asked) and the comment with the final table (labkit.cloud.comment)

The chain (:mod:`labkit.cloud.release`) calls them in order; the notebook and the CLI call the chain or
the steps themselves, so all three run the same code.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from labkit.cloud.errors import CloudError
from labkit.cloud.profile import API_PORT
from labkit.cloud.smoke import NOT_CHECKABLE, smoke_test
from labkit.errors import LabkitError
from labkit.vm.launch import ADMIN_UI_PORT, USER_CONSOLE_PORT

# The frontend's service ports the blog checks: SSH, the admin UI, the user console, the API (Eucalyptus 4.x).
FRONTEND_PORTS = (22, ADMIN_UI_PORT, USER_CONSOLE_PORT, API_PORT)
DRY_RUN = "dry run"


@dataclass
class StepResult:
    """What one step did: its name, pass/fail/dry run, one line saying why, its own table, and its undo."""

    step: str
    status: str  # pass | fail | dry run | skip
    detail: str
    rows: list[Any] = field(default_factory=list)
    value: Any = None  # what later steps need (the plan, the profile, ...)
    undo: Callable[[], list[Any]] | None = field(default=None, repr=False)  # removes what this step created

    @property
    def ok(self) -> bool:
        """Tell whether the chain may go on after this step."""
        return self.status in ("pass", DRY_RUN)

    def summary(self) -> dict[str, str]:
        """Return the step's row of the final table."""
        return {"step": self.step, "status": self.status, "detail": self.detail}


def one_line(text: object, limit: int = 300) -> str:
    """Return text on one line, cut to ``limit`` characters (a reason in a table cell)."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[:limit - 3] + "..."


# ----------------------------------------------------------------------------------------------- 1: review

def _series_and_repo(source: str, forge_url: str | None, repo: str | Path | None, work: Path):
    """Return (series, repository to apply onto, where it came from) for a PR reference or an mbox/.patch file."""
    from labkit.review import PullRequest, parse_mbox

    path = Path(source).expanduser()
    if path.is_file():
        series = parse_mbox(path.read_bytes(), source=str(path))
        if repo is None:
            raise CloudError(f"{source} is a patch file: there is no repository to apply it to",
                             hint="give repo= (--repo) with a clone of the project")
        return series, Path(repo), f"file {path.name}"
    pr = PullRequest.from_url(source, base_url=forge_url)
    series = pr.fetch_series()
    if repo is None:
        repo = work / "repo"
        subprocess.run(["git", "clone", "-q", pr.repository()["clone_url"], str(repo)], check=True,
                       capture_output=True, timeout=600)
    return series, Path(repo), f"PR {pr.ref}"


def _local_branch(repo: Path, onto: str) -> None:
    """Make ``onto`` a local branch of a fresh clone when only origin has it."""
    have = subprocess.run(["git", "-C", str(repo), "rev-parse", "--verify", "--quiet", f"refs/heads/{onto}"],
                          capture_output=True, check=False)
    remote = subprocess.run(["git", "-C", str(repo), "rev-parse", "--verify", "--quiet", f"refs/remotes/origin/{onto}"],
                            capture_output=True, check=False)
    if have.returncode != 0 and remote.returncode == 0:
        subprocess.run(["git", "-C", str(repo), "branch", "-q", "--track", onto, f"origin/{onto}"], check=True,
                       capture_output=True)


def review_step(source: str, *, onto: str, test_cmd: str | None = None, test_each: bool = False,
                repo: str | Path | None = None, forge_url: str | None = None, dry_run: bool = True,
                issue_pattern: str | None = None) -> StepResult:
    """Apply a PR (OWNER/REPO#N or URL) or an mbox/.patch file onto ``onto`` in a scratch worktree and test it.

    With no ``repo`` a PR's repository is cloned into a temporary folder removed before returning; the
    scratch worktree is always removed (nothing is merged: the release check tests, it does not merge).
    """
    from labkit.review import apply_series

    step = "1 review and test"
    work = Path(tempfile.mkdtemp(prefix="labkit-release-"))
    try:
        try:
            series, root, origin = _series_and_repo(source, forge_url, repo, work)
            _local_branch(root, onto)
            extra = {"issue_pattern": issue_pattern} if issue_pattern else {}
            result = apply_series(root, series, onto=onto, test_cmd=test_cmd or None, test_each=test_each,
                                  dry_run=dry_run, **extra)
        except (LabkitError, OSError, subprocess.SubprocessError) as exc:
            return StepResult(step, "fail", one_line(f"{source}: {exc}"))
        rows = result.rows()
        n = len(series)
        if dry_run:
            return StepResult(step, DRY_RUN, f"{origin}: {n} commit(s) would be applied onto {onto} in a scratch "
                                             f"worktree" + (f" and tested with {test_cmd!r}" if test_cmd else ""),
                              rows, value=result)
        if not result.ok:
            return StepResult(step, "fail", one_line(f"{origin} onto {onto}: {result.status}: {result.message}"),
                              rows, value=result)
        tested = ("no test command" if not test_cmd else
                  f"{test_cmd!r} passed on each of {len(result.tests)} commits" if test_each else f"{test_cmd!r} passed")
        return StepResult(step, "pass", f"{origin}: {n} commit(s) applied onto {onto}; {tested}", rows, value=result)
    finally:
        shutil.rmtree(work, ignore_errors=True)


# ----------------------------------------------------------------------------------------------- 2: cloud

def load_cloud(plan_file: str | Path, cloud: str | None = None):
    """Return one cloud of a plan file (the named one, or the only one)."""
    from labkit.vm import load_plan

    plans = load_plan(plan_file)
    if cloud:
        found = [p for p in plans if p.name == cloud]
        if not found:
            raise CloudError(f"plan file {plan_file} has no cloud {cloud!r}",
                             hint=f"choose one of: {', '.join(p.name for p in plans)}")
        return found[0]
    if len(plans) != 1:
        raise CloudError(f"plan file {plan_file} holds {len(plans)} clouds", hint="name one with cloud= (--cloud)")
    return plans[0]


def _probe(plan, port: int, forward: str | None, timeout: float):
    """Wait for one of the frontend's ports (at a forward host:port when given); return the ReadyRow."""
    from labkit.vm import wait_ready

    fe = plan.frontend
    target_port = port
    if forward:
        host, _, fport = forward.rpartition(":")
        fe, target_port = replace(fe, ip=host or "127.0.0.1"), int(fport)
    probe = f"ssh:{target_port}" if port == 22 else f"tcp:{target_port}"
    return wait_ready(replace(plan, vms=[fe]), probe, timeout=timeout, progress=False)[0]


def cloud_step(plan_file: str | Path, *, cloud: str | None = None, uri: str | None = None,
               ports: Sequence[int] = FRONTEND_PORTS, forwards: dict[int, str] | None = None,
               timeout: float = 300, dry_run: bool = True) -> StepResult:
    """Load the cloud from its plan file, check the host, launch it and wait for the frontend's service ports.

    ``forwards`` maps a port to the ``host:port`` where it is reached instead (a NAT or qemu hostfwd, or the
    sandbox's stand-in for the API). On libvirt's test driver no guest runs: a port without a forward is
    ``not checkable on the sandbox``, and host checks that fail on this machine do not stop the chain
    (the test driver needs no bridge or KVM). The result's ``undo`` destroys what this launch created.
    """
    from labkit.vm import destroy, host_checks, launch, sandbox_iso, sandbox_pool
    from labkit.vm.connection import is_sandbox

    step = "2 test cloud"
    forwards = dict(forwards or {})
    try:
        plan = load_cloud(plan_file, cloud)
        u = uri or next(iter(plan.uris.values()), None) or "test:///default"
        sandbox = is_sandbox(u)
        if sandbox:  # the test driver's stand-ins for the volume group and the installer ISO
            for vg in sorted({vm.disk.vg for vm in plan.vms if vm.disk.vg}):
                sandbox_pool(u, vg)
            for iso in sorted({vm.iso for vm in plan.vms if vm.iso}):
                sandbox_iso(u, iso)
        vgs = sorted({vm.disk.vg for vm in plan.vms if vm.disk.vg}) or ["vg01"]
        checks = host_checks("/", bridge=plan.bridge, vg=vgs[0], need_gb=sum(v.disk.size_gb for v in plan.vms), uri=u)
    except (LabkitError, OSError) as exc:
        return StepResult(step, "fail", one_line(exc))
    rows: list[dict[str, Any]] = [{"part": "host", "item": c.check, "status": c.status, "detail": c.detail}
                                  for c in checks]
    bad = [c for c in checks if c.status == "fail"]
    if bad and not sandbox:
        return StepResult(step, "fail", one_line(f"host check {bad[0].check} failed: {bad[0].detail} "
                                                 f"(fix: {bad[0].fix})"), rows, value=plan)
    try:
        steps = launch(plan, uri=u, dry_run=dry_run)
    except LabkitError as exc:
        return StepResult(step, "fail", one_line(exc), rows, value=plan)
    rows += [{"part": "launch", "item": f"{s.action} {s.target}", "status": "done" if s.done else DRY_RUN if dry_run
              else "left", "detail": s.detail} for s in steps]
    host_note = f"; {len(bad)} host check(s) fail on this machine (the test driver needs none)" if bad else ""
    if dry_run:
        return StepResult(step, DRY_RUN, f"cloud {plan.name}: {len(plan.vms)} VM(s) would be launched on {u}, then "
                                         f"ports {', '.join(map(str, ports))} of {plan.frontend.name} waited for"
                                         f"{host_note}", rows, value=plan)
    created = any(s.done and s.action in ("define", "create-volume", "create-disk", "write-seed") for s in steps)

    def undo() -> list[Any]:
        """Destroy the domains, volumes and seeds this launch created."""
        return destroy(plan, uri=u, dry_run=False)

    result = StepResult(step, "pass", "", rows, value=plan, undo=undo if created else None)
    waited: list[str] = []
    for port in ports:
        if port not in forwards and sandbox:
            rows.append({"part": "wait", "item": f"{plan.frontend.name}:{port}", "status": NOT_CHECKABLE,
                         "detail": "libvirt's test driver runs no guest"})
            continue
        try:
            r = _probe(plan, int(port), forwards.get(port), timeout)
        except (LabkitError, ValueError) as exc:
            result.status, result.detail = "fail", one_line(f"port {port}: {exc}")
            return result
        rows.append({"part": "wait", "item": f"{plan.frontend.name}:{port}", "status": "pass" if r.ready else "fail",
                     "detail": r.seen + (f" (stands in for {plan.frontend.ip}:{port})" if port in forwards else "")})
        if not r.ready:
            result.status = "fail"
            result.detail = one_line(f"{plan.frontend.name} never answered on port {port}: {r.seen}")
            return result
        waited.append(str(port))
    unchecked = [str(p) for p in ports if str(p) not in waited]
    result.detail = (f"cloud {plan.name} launched on {u}; {plan.frontend.name} answered on "
                     f"{', '.join(waited) or 'no port'}" +
                     (f"; {', '.join(unchecked)} {NOT_CHECKABLE}" if unchecked else "") + host_note)
    return result


# ----------------------------------------------------------------------------------------------- 3: profile

def profile_step(plan, *, preset: str = "eucalyptus", name: str | None = None, url: str | None = None,
                 config_file: str | Path | None = None, credentials_file: str | Path | None = None,
                 checks: Sequence[str] | None = None, verify_timeout: float = 30.0, dry_run: bool = True,
                 **fields: Any) -> StepResult:
    """Derive the cloud's awscli profile from its plan, write it with the careful writer, and verify it.

    ``url`` aims the preset's layout at a stand-in instead of the frontend; ``checks`` picks verify checks
    (default: all) and ``verify_timeout`` bounds each of their calls; other keyword arguments (access_key_id, secret_env, credentials) go to the profile.
    """
    from labkit.aws import verify, write_profile
    from labkit.cloud.profile import profile_from_plan

    step = "3 awscli profile"
    try:
        profile = profile_from_plan(plan, preset, name=name, url=url, **fields)
        written = write_profile(profile, config_file, credentials_file, dry_run=dry_run)
    except (LabkitError, OSError) as exc:
        return StepResult(step, "fail", one_line(exc))
    where = profile.endpoints.get("ec2") or profile.endpoint_url
    files = {"config_file": config_file, "credentials_file": credentials_file}
    if dry_run:
        changed = "would change" if written.changed else "already holds"
        return StepResult(step, DRY_RUN, f"profile {profile.name} (region {profile.region}, EC2 at {where}): the "
                                         f"awscli files {changed} it; verify follows the write",
                          written.rows(), value=(profile, files))
    try:
        rows = verify(profile, config_file, credentials_file, checks=checks, timeout=verify_timeout)
    except (LabkitError, OSError) as exc:
        return StepResult(step, "fail", one_line(f"verify of {profile.name}: {exc}"), written.rows(),
                          value=(profile, files))
    failed = [r for r in rows if r.status == "fail"]
    if failed:
        r = failed[0]
        return StepResult(step, "fail", one_line(f"verify of {profile.name}: {r.tool} {r.check}: {r.detail}"),
                          rows, value=(profile, files))
    passed = sum(r.status == "pass" for r in rows)
    return StepResult(step, "pass", f"profile {profile.name} (region {profile.region}, EC2 at {where}) written; "
                                    f"{passed} verify checks pass", rows, value=(profile, files))


# ----------------------------------------------------------------------------------------------- 4: smoke

def smoke_step(profile, plan, *, config_file: str | Path | None = None, credentials_file: str | Path | None = None,
               dry_run: bool = True, **options: Any) -> StepResult:
    """Run the smoke test through the profile (key pair, image, instance, addresses, reach, clean-up)."""
    step = "4 smoke test"
    if dry_run:
        return StepResult(step, DRY_RUN, f"through profile {profile.name}: would create a key pair, run an instance "
                                         "of the first image, wait for running, check its addresses against the "
                                         "plan, reach it, terminate it and delete the key pair")
    try:
        rows = smoke_test(profile, plan, config_file=config_file, credentials_file=credentials_file, **options)
    except (LabkitError, OSError) as exc:
        return StepResult(step, "fail", one_line(exc))
    failed = [r for r in rows if r.status == "fail"]
    if failed:
        r = failed[0]
        return StepResult(step, "fail", one_line(f"{r.step}: {r.detail}"), rows)
    passed = [r.step for r in rows if r.status == "pass"]
    other = [f"{r.step} {r.status}" for r in rows if r.status not in ("pass", "skip")]
    return StepResult(step, "pass", f"{len(passed)} of {len(rows)} steps pass" +
                      (f"; {', '.join(other)}" if other else ""), rows)


# ----------------------------------------------------------------------------------------------- 5: tracker

def tracker_rows(results: Sequence[StepResult], *, key: str, deployment: str,
                 transitioned: StepResult | None = None) -> list[dict[str, str]]:
    """Return the final table: each step's row, the transition's (when asked) and the comment's own."""
    rows = [r.summary() for r in results]
    if transitioned is not None:
        rows.append(transitioned.summary())
    how = "REST v3, ADF" if deployment == "cloud" else "REST v2, wiki markup"
    rows.append({"step": "5 comment", "status": "pass", "detail": f"this table, posted on {key} ({how})"})
    return rows


def transition_step(client, key: str, to: str, *, passed: bool, dry_run: bool = True) -> StepResult:
    """Move the issue through the transition ``to`` when every step passed (a dry run names it only)."""
    from labkit.cloud.comment import transition_issue

    step = "5 transition"
    if not passed:
        return StepResult(step, "skip", f"the check did not pass: {key} left in its status")
    try:
        done = transition_issue(client, key, to, dry_run=dry_run)
    except (LabkitError, OSError) as exc:
        return StepResult(step, "fail", one_line(f"{key}: {exc}"))
    if dry_run:
        return StepResult(step, DRY_RUN, f"{key} would go through {done['transition']} to {done['to']}")
    return StepResult(step, "pass", f"{key} went through {done['transition']} to {done['to']}")


def comment_step(client, key: str, rows: list[dict[str, str]], *, title: str, deployment: str,
                 dry_run: bool = True) -> StepResult:
    """Post the final table as a comment on the issue (a dry run returns the body it would post)."""
    from labkit.cloud.comment import comment_request, post_comment

    step = "5 comment"
    api, body = comment_request(rows, title=title, deployment=deployment)
    if dry_run:
        return StepResult(step, DRY_RUN, f"would post the table on {key} through {api}", value=body)
    try:
        made = post_comment(client, key, rows, title=title, deployment=deployment)
    except (LabkitError, OSError) as exc:
        return StepResult(step, "fail", one_line(f"comment on {key} not posted: {exc}"), value=body)
    return StepResult(step, "pass", f"comment {made.get('id', '')} posted on {key} through {api}", value=body)
