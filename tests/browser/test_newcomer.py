"""The newcomer's path: a fresh clone, ``make lab`` on a free port, the welcome notebook in chromium with no
pop-up, every runbook of the clone green against the sandbox ``make lab`` started (``labkit run``), then
Ctrl-C: JupyterLab, its kernels and the sandbox it started are all gone.

The clone reuses this checkout's venv through ``LABKIT_VENV`` (see the Makefile), so nothing is
installed; the clone's own code and notebooks are what runs (PYTHONPATH and --notebooks).
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

import labkit.sandbox as sb
from tests.browser.test_welcome import NEWS
from tests.conftest import REPO
from tests.lab_process import LabProcess, isolated_env
from tests.procs import processes_under, processes_with_argument
from tests.security.servers import wait_for

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.slow]


def test_fresh_clone_make_lab_welcome_then_ctrl_c_leaves_nothing(tmp_path, chromium):
    if not shutil.which("make") or not (REPO / ".git").exists():
        pytest.skip("needs make and a git checkout")
    clone = tmp_path / "labkit"
    subprocess.run(["git", "clone", "--quiet", str(REPO), str(clone)], check=True, timeout=120)
    port, token = sb.free_port(), "newcomer" + sb.runner.secrets.token_hex(8)
    env = isolated_env(tmp_path, LABKIT_LAB_TOKEN=token, LABKIT_VENV=sys.prefix)
    rd = Path(env["LABKIT_RUN_DIR"])
    lab = LabProcess(["make", "--no-print-directory", "lab", f"PORT={port}"], env, port, token, cwd=clone)
    try:
        lab.wait_ready(timeout=300)
        assert "pip install" not in lab.output()
        page = chromium.new_page(viewport={"width": 1400, "height": 1000})
        try:
            page.goto(f"http://127.0.0.1:{port}/lab/workspaces/newcomer/tree/00-welcome.ipynb?token={token}")
            page.wait_for_function("document.querySelector('.jp-Notebook')?.innerText.includes('labkit: welcome')",
                                   timeout=90_000)
            page.wait_for_timeout(3000)  # the news question, when it comes, comes within a second or two
            assert NEWS not in page.locator("body").inner_text()
            page.screenshot(path=str(tmp_path / "newcomer-welcome.png"))
        finally:
            page.close()
        assert processes_under(rd), "make lab started the sandbox in the run directory"
        _every_runbook_runs_green(clone, env, tmp_path / "runs")
        code = lab.stop(signal.SIGINT)  # Ctrl-C: SIGINT to the terminal's foreground group (make and labkit)
    except BaseException:
        lab.kill()
        sb.stop(rd=rd)
        raise
    out = lab.output()
    assert "sandbox stopped: aws, jira, forge" in out, out[-3000:]
    assert wait_for(lambda: not processes_under(rd), timeout=30), processes_under(rd)
    assert not processes_with_argument(f"--port={port}")
    assert not processes_under(clone)
    assert code in (0, 2, -signal.SIGINT, 130), out[-2000:]  # make reports the interrupt its own way


def _every_runbook_runs_green(clone: Path, env: dict[str, str], runs: Path) -> None:
    """Run each of the clone's runbooks with ``labkit run`` against the running sandbox; all must exit 0."""
    books = sorted((clone / "notebooks").glob("[0-9][0-9]-*.ipynb"))
    assert len(books) >= 9, [b.name for b in books]
    run_env = {**env, "PYTHONPATH": str(clone)}  # the clone's code, in the reused venv (as make lab runs it)
    failed = {}
    for book in books:
        proc = subprocess.run([sys.executable, "-m", "labkit.cli", "run", str(book), "--out", str(runs)],
                              cwd=clone, env=run_env, capture_output=True, text=True, timeout=900)
        if proc.returncode != 0:
            failed[book.name] = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
    assert not failed, failed
    listed = subprocess.run([sys.executable, "-m", "labkit.cli", "runs", "--out", str(runs), "--format", "json"],
                            cwd=clone, env=run_env, capture_output=True, text=True, timeout=120)
    assert listed.returncode == 0, listed.stderr
    assert {r["notebook"].rsplit("/", 1)[-1] for r in json.loads(listed.stdout)} >= {b.name for b in books}
