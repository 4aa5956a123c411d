"""notebooks/05-pr-review.ipynb runs green headless against its own sandbox forge."""

from __future__ import annotations

from pathlib import Path

import pytest

import labkit.sandbox as sandbox

pytestmark = [pytest.mark.notebook, pytest.mark.slow]

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "05-pr-review.ipynb"


def test_pr_review_notebook_runs(tmp_path, monkeypatch):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    monkeypatch.setenv("LABKIT_RUN_DIR", str(tmp_path / "run"))
    nb = nbformat.read(NOTEBOOK, as_version=4)
    assert "parameters" in nb.cells[1].metadata.get("tags", [])
    assert not any(c.get("outputs") for c in nb.cells if c.cell_type == "code"), "commit notebooks without outputs"
    try:
        nbclient.NotebookClient(nb, timeout=180, kernel_name="python3",
                                resources={"metadata": {"path": str(NOTEBOOK.parent)}}).execute()
    finally:
        sandbox.stop(rd=tmp_path / "run")
    last = nb.cells[-1].outputs[-1]["data"]["text/plain"]
    assert "Merge 2 reviewed commits into release-1.x" in last and "CALC-7: Add mul()" in last
