"""notebooks/08-release-check.ipynb runs green with ``labkit run`` on the sandboxes and leaves nothing behind."""

from __future__ import annotations

import html
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cloud.conftest import leftovers, wiki_rows

pytestmark = [pytest.mark.notebook, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
NOTEBOOK = REPO / "notebooks" / "08-release-check.ipynb"
LABKIT = str(Path(sys.executable).with_name("labkit"))


def html_rows(text: str) -> list[list[str]]:
    """Read an HTML table's header and body cells as text rows."""
    rows = []
    for tr in re.findall(r"<tr>(.*?)</tr>", text, re.S):
        cells = re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", tr, re.S)
        rows.append([html.unescape(re.sub(r"<[^>]+>", "", c)).strip() for c in cells])
    return rows


def test_committed_without_outputs_with_parameters():
    import nbformat

    nb = nbformat.read(NOTEBOOK, as_version=4)
    assert "parameters" in nb.cells[1].metadata.get("tags", [])
    assert not any(c.get("outputs") for c in nb.cells if c.cell_type == "code")


def test_labkit_run_passes_posts_the_final_table_and_leaves_nothing(tmp_path, sandboxes, jira):
    import nbformat

    tmp = tmp_path / "TMPDIR"
    tmp.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "JUPYTER_"))}
    env.update({"TMPDIR": str(tmp), "LABKIT_RUN_DIR": str(sandboxes["run_dir"]),
                "IPYTHONDIR": str(tmp_path / "ipython"), "JUPYTER_CONFIG_DIR": str(tmp_path / "jupyter"),
                "JUPYTER_DATA_DIR": str(tmp_path / "jupyter-data"), "JUPYTER_RUNTIME_DIR": str(tmp_path / "rt")})
    before = len(jira.session.get("/rest/api/2/issue/DEMO-4/comment").json()["comments"])
    out = tmp_path / "runs"
    proc = subprocess.run([LABKIT, "run", str(NOTEBOOK), "--out", str(out), "-p", "ISSUE=DEMO-4"], env=env,
                          capture_output=True, text=True, timeout=900, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    executed = next(out.glob("*08-release-check.ipynb"))
    nb = nbformat.read(executed, as_version=4)
    last = "".join(str(o.get("data", {}).get("text/html", "")) for o in nb.cells[-1].outputs)
    table = html_rows(last)
    assert table[0] == ["step", "status", "detail"]
    assert [r[:2] for r in table[1:]] == [["1 review and test", "pass"], ["2 test cloud", "pass"],
                                          ["3 awscli profile", "pass"], ["4 smoke test", "pass"],
                                          ["clean up", "pass"], ["5 comment", "pass"]]
    comments = jira.session.get("/rest/api/2/issue/DEMO-4/comment").json()["comments"]
    assert len(comments) == before + 1
    assert wiki_rows(comments[-1]["body"]) == table  # the issue holds the notebook's final table
    assert sorted(p.name for p in tmp.iterdir()) == []  # no clone, worktree, plan or awscli file left
    assert not (sandboxes["run_dir"] / "runbook-08").exists()  # the run's work dir went with the run
    assert leftovers() == {}  # no key pair, instance or subnet on the cloud (the VM lived in the kernel's driver)
    secret = __import__("labkit.sandbox", fromlist=["secret"]).secret("aws").reveal()
    assert secret not in executed.read_text()
