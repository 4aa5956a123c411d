"""The runbook notebooks/04-awscli-provider.ipynb runs green against the sandbox and never holds the secret."""

from __future__ import annotations

import json
import re
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


FORM_CHECK = """
form.preview_button.click()
print("PREVIEW:", form.status.value, "WRITE-ENABLED:", not form.write_button.disabled)
form.verify_button.click()
print("VERIFY:", form.status.value, "PROGRESS:", form.progress.value, "/", form.progress.max)
print("FAILED:", [(r.tool, r.check) for r in form.last_rows if r.status == "fail"])
"""


def test_notebook_runs_and_keeps_the_secret_out(run_dir):
    """``run_dir`` (tests/conftest.py) is a private sandbox run dir, stopped after the test."""
    import nbformat

    import labkit.sandbox as sb
    from labkit.kernel_client import notebook_client

    nb = nbformat.read(NOTEBOOK, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(FORM_CHECK))  # the form, on its defaults, nothing typed
    notebook_client(nb, timeout=600, cwd=NOTEBOOK.parent).execute()
    secret = sb.secret("aws", rd=run_dir).reveal()
    text = nbformat.writes(nb)
    assert len(secret) > 10 and secret not in text
    files = run_dir / "aws"
    assert not [p.name for p in files.iterdir() if p.is_file() and secret in p.read_text(errors="replace")]
    assert "credential-process labkit-sandbox" in (files / "config").read_text()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    joined = json.dumps(outputs)
    assert "[profile labkit-sandbox]" in joined and "+credential_process = " in joined
    assert "+request_checksum_calculation = when_required" in joined and "files holding the secret: none" in joined
    assert "CreateVolume" in joined and "ami-" in joined and "runbook-04.txt" in joined
    checks = next(c for c in nb.cells if c.cell_type == "code" and "checks = to_frame(verify(" in c.source)
    html = next(o for o in checks.outputs if "text/html" in o.get("data", {}))["data"]["text/html"]
    # a short table is HTML cells; a long one is itables' rows as JSON in its "data_json" argument
    blobs = re.findall(r'"data_json": ("(?:[^"\\]|\\.)*")', html)
    if blobs:
        statuses = [row[2] for blob in blobs for row in json.loads(json.loads(blob))]
    else:
        statuses = re.findall(r"<td[^>]*>(pass|fail|info|skip)</td>", html)
    assert statuses.count("pass") >= 2 * 13 and "fail" not in statuses and statuses.count("info") == 2, statuses
    assert "multipart" in html and "presigned" in html
    form_out = "".join(o.get("text", "") for o in nb.cells[-1].outputs)
    assert "PREVIEW: nothing to change" in form_out or "PREVIEW: dry run" in form_out, form_out
    assert "error" not in form_out.split("VERIFY:")[0], form_out
    assert "FAILED: []" in form_out and "PROGRESS: 28 / 28" in form_out, form_out
    last = nb.cells[-2].outputs[0]["data"]["text/html"]
    assert "vol-" in last and "available" in last
