"""notebooks/05-pr-review.ipynb runs green headless against its own sandbox forge and leaves nothing in the temp folder."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import labkit.sandbox as sandbox
from labkit.kernel_client import notebook_client

pytestmark = [pytest.mark.notebook, pytest.mark.slow]

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "05-pr-review.ipynb"


def test_pr_review_notebook_runs(tmp_path, monkeypatch, nothing_left_in_tmp):
    nbformat = pytest.importorskip("nbformat")
    monkeypatch.setenv("LABKIT_RUN_DIR", str(tmp_path / "run"))
    nb = nbformat.read(NOTEBOOK, as_version=4)
    assert "parameters" in nb.cells[1].metadata.get("tags", [])
    assert not any(c.get("outputs") for c in nb.cells if c.cell_type == "code"), "commit notebooks without outputs"
    try:
        notebook_client(nb, timeout=300, cwd=NOTEBOOK.parent).execute()
    finally:
        sandbox.stop(rd=tmp_path / "run")
    last = "".join(str(o.get("data", {}).get("text/html", "")) for o in nb.cells[-1].outputs)
    assert "Merge 2 reviewed commits into release-1.x" in last and "CALC-7: Add mul()" in last
    assert "1 unchanged, 1 changed, 1 added, 0 dropped" in last
    rows = [[re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", tr, re.S)]
            for tr in re.findall(r"<tr[^>]*>(.*?)</tr>", last, re.S)]
    pairs = {(a, b) for r in rows for a, b in zip(r, r[1:], strict=False)}  # neighbouring cells of each row
    assert ("backport demo/calc#5 onto release-1.x", "partial: 2 applied, 1 conflicts") in pairs, rows
    assert ("backport demo/calc#5 onto main", "applied: 3 applied, 0 conflicts") in pairs, rows
    assert "301 files via git" in last  # it ends in a table (text/html)
    assert (tmp_path / "run" / "runbook-05" / "calc" / ".git").is_dir()  # the clone is in the run folder
    # the temp folder (labkit's scratch worktrees, the large PR's fetch) is checked empty by nothing_left_in_tmp
