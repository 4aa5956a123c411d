"""The runbook notebooks/04-awscli-provider.ipynb runs green against the sandbox and never holds the secret."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytestmark = [pytest.mark.notebook, pytest.mark.slow]

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "04-awscli-provider.ipynb"


def test_notebook_is_committed_clean():
    import nbformat

    nb = nbformat.read(NOTEBOOK, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert "parameters" in code[0].metadata.get("tags", [])
    assert all(not c.get("outputs") and c.get("execution_count") is None for c in code)
    import ast
    import re

    params = {t.id: ast.literal_eval(n.value) for n in ast.parse(code[0].source).body
              for t in n.targets}  # every parameter is a plain literal
    assert {k for k in params if "secret" in k or "password" in k} <= {"secret_env"}
    assert re.fullmatch(r"[A-Z0-9_]*", params["secret_env"])  # a variable's name, never a value


def test_notebook_runs_and_keeps_the_secret_out(run_dir):
    """``run_dir`` (tests/conftest.py) is a private sandbox run dir, stopped after the test."""
    import nbformat
    from nbclient import NotebookClient

    import labkit.sandbox as sb

    nb = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(nb, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(NOTEBOOK.parent)}}).execute()
    secret = sb.secret("aws", rd=run_dir).reveal()
    text = nbformat.writes(nb)
    assert len(secret) > 10 and secret not in text
    assert secret in (run_dir / "aws" / "credentials").read_text()  # it went where aws reads it
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    joined = json.dumps(outputs)
    assert "[profile labkit-sandbox]" in joined and "aws_secret_access_key = ******" in joined
    assert "CreateVolume" in joined and "ami-" in joined
    checks = next(c for c in nb.cells if c.cell_type == "code" and c.source.startswith("checks ="))
    html = checks.outputs[0]["data"]["text/html"]
    assert html.count(">pass<") >= 14 and ">fail<" not in html
    last = nb.cells[-1].outputs[0]["data"]["text/html"]
    assert "vol-" in last and "available" in last
