"""Fuzz every ``labkit`` subcommand (issue 15's acceptance): no traceback, one error line, nothing created.

The commands come from the argparse tree (:func:`tests.security.cli_fuzz.leaf_commands`), so a new
command is covered without touching this file. Each case must end with exit 0, exit 1 and exactly
one ``labkit: error:`` line, or exit 2 (argparse's usage error); never a traceback or a hang; never
run an injected shell command; and when it fails, leave HOME, the working folder, TMPDIR and the
input files as they were. A value that is bad whatever the rest (a missing or binary input file, a
huge number, an ``ftp://`` URL, malformed JQL) must be refused. The Jira sandbox runs, so the Jira
and rank commands get past "no server".

Any finding, in any area, fails the command's test with the list of its cases.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

import pytest

from tests.security import cli_fuzz as fz

pytestmark = [pytest.mark.integration, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def fuzz_root(tmp_path_factory):
    """A private HOME, working folder and TMPDIR, fixture files, and a running Jira sandbox."""
    import labkit.sandbox as sb

    root = tmp_path_factory.mktemp("fuzz")
    dirs = {name: root / name for name in ("home", "work", "tmp", "run", "ctl")}
    for d in dirs.values():
        d.mkdir()
    saved = dict(os.environ)
    os.environ.update({"LABKIT_RUN_DIR": str(dirs["run"]), "HOME": str(dirs["home"]), "TMPDIR": str(dirs["tmp"]),
                       "LABKIT_CONFIG": str(dirs["home"] / "no-config.toml"), "XDG_CONFIG_HOME": str(dirs["home"]),
                       "LABKIT_RUNS_DIR": str(dirs["work"] / "runs")})
    os.environ.pop("LABKIT_PROFILE", None)
    try:
        sb.start(["jira"])
        fx = fz.Fixtures(root, sb.url("jira"))
        fx.make()
        yield root, fx, dict(os.environ)
    finally:
        sb.stop(rd=dirs["run"])
        os.environ.clear()
        os.environ.update(saved)


def run_worker(root: Path, env: dict[str, str], cases: list[fz.Case], name: str) -> list[dict]:
    """Run cases in one runner process (its own session, killed with anything it started)."""
    spec = root / "ctl" / f"{name}.json"
    out = root / "ctl" / f"{name}.results.json"
    spec.write_text(json.dumps({"cases": [asdict(c) for c in cases], "cwd": str(root / "work"),
                                "watch": [str(root / d) for d in ("home", "work", "tmp", "fixtures")]}))
    proc = subprocess.Popen([sys.executable, "-m", "tests.security.cli_fuzz", str(spec), str(out)], cwd=REPO,
                            env={**env, "PYTHONPATH": str(REPO)}, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)
    try:
        stdout, stderr = proc.communicate(timeout=60 * 60)
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # whatever a case started (a kernel, a server)
        except ProcessLookupError:
            pass
    assert proc.returncode == 0, f"the fuzz runner died: {stderr.decode()[-2000:]}"
    return json.loads(out.read_text())


def check(results: list[dict], label: str) -> None:
    """Fail on any finding (each case listed; all of them appended to $LABKIT_FUZZ_REPORT when set)."""
    found = []
    for r in results:
        res = fz.Result(**{**r, "case": fz.Case(**r["case"])})
        bad = fz.problems(res)
        if bad:
            found.append(f"{res.case.command} [{res.case.what}] argv={res.case.argv!r:.300}: {'; '.join(bad)}")
    report = os.environ.get("LABKIT_FUZZ_REPORT")
    if found and report:
        with Path(report).open("a") as f:
            f.write("\n".join(found) + "\n")
    assert not found, f"{label}: {len(found)} finding(s):\n" + "\n".join(found[:40])


COMMANDS = sorted(fz.leaf_commands())


def test_every_command_is_fuzzed():
    """The parametrisation below covers the whole argparse tree, whatever is added to it."""
    assert {"jira search", "jira import", "rank apply", "sandbox start", "run"} <= set(COMMANDS)
    for command, parser in fz.leaf_commands().items():
        assert fz.cases_for(command, parser, fz.Fixtures(Path("/nonexistent"), None)), command


@pytest.mark.parametrize("command", COMMANDS)
def test_fuzz_command(fuzz_root, command):
    root, fx, env = fuzz_root
    cases = fz.cases_for(command, fz.leaf_commands()[command], fx)
    results = run_worker(root, env, cases, command.replace(" ", "-"))
    check(results, command)


def test_fuzz_global_options(fuzz_root):
    root, _fx, env = fuzz_root
    check(run_worker(root, env, fz.global_cases(), "global"), "global options")
