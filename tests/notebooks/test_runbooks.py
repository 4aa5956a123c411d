"""Every runbook runs green headless against the sandbox, and no secret appears in what it leaves."""

from __future__ import annotations

import json
import os
import warnings

import pytest

from tests.notebooks.conftest import NOTEBOOKS, labkit_temp_entries

pytestmark = [pytest.mark.notebook, pytest.mark.integration, pytest.mark.slow]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_runbook_runs_green(notebook_run, path):
    nb = notebook_run.execute(path)
    assert path.name not in notebook_run.errors, notebook_run.errors.get(path.name)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and "parameters" in code[0].metadata.get("tags", []), "first code cell must be tagged parameters"
    last = code[-1].outputs
    assert any("text/html" in o.get("data", {}) for o in last), "a runbook ends in a table"


def test_committed_runbooks_have_no_outputs():
    for path in NOTEBOOKS:
        nb = json.loads(path.read_text())
        outputs = sum(len(c.get("outputs", [])) for c in nb["cells"] if c["cell_type"] == "code")
        assert outputs == 0, f"{path.name} is committed with {outputs} outputs"


def test_no_secret_in_executed_runbooks_or_logs(notebook_run):
    for path in NOTEBOOKS:
        if path.name not in notebook_run.executed:
            notebook_run.execute(path)
    assert notebook_run.secrets, "the run had no secret to look for"
    texts = {}
    for f in list(notebook_run.workdir.glob("executed-*.ipynb")) + list(notebook_run.run_dir.rglob("*.log")):
        texts[str(f)] = f.read_text(errors="replace")
    assert any("executed-" in k for k in texts)
    leaks = [(name, s[:6] + "…") for name, text in texts.items() for s in notebook_run.secrets if s in text]
    assert not leaks, f"secrets found in outputs or logs: {leaks}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_runbook_leaves_nothing_in_tmp(notebook_run, path):
    if path.name not in notebook_run.executed:
        notebook_run.execute(path)
    assert not notebook_run.left[path.name], f"{path.name} left these behind: {notebook_run.left[path.name][:20]}"


def test_the_sandbox_leaves_nothing_in_tmp_when_stopped(notebook_run):
    """Runs last: with every runbook run and the sandbox stopped, nothing new is in TMPDIR or /tmp."""
    import labkit.sandbox as sb

    for path in NOTEBOOKS:
        if path.name not in notebook_run.executed:
            notebook_run.execute(path)
    sb.stop(rd=notebook_run.run_dir)
    by_runbooks = {n.removeprefix("/tmp/") for names in notebook_run.left.values() for n in names}
    left = sorted(n for n in os.listdir(notebook_run.tmp) if n not in by_runbooks)
    assert not left, f"left in the runbooks' TMPDIR by the sandbox: {left[:20]}"
    new = sorted(labkit_temp_entries() - notebook_run.tmp_before - by_runbooks)
    if new and not os.environ.get("CI"):
        # On a shared machine other checkouts' tests write labkit-* into /tmp too; CI runs alone.
        warnings.warn(f"new labkit entries in /tmp during the runbooks (maybe another checkout's): {new}",
                      stacklevel=1)
        return
    assert not new, f"new labkit entries in /tmp: {new}"
