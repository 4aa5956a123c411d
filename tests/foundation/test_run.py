"""`labkit run` executes a runbook with parameters on papermill and keeps a scrubbed record; `labkit runs` lists them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

import labkit
import labkit.sandbox as sb
from labkit.errors import RunError
from labkit.kernel_client import SlicedChannel
from labkit.redact import find_secrets, secret_values
from labkit.run import list_runs, parse_parameters, resolve_parameters
from tests.conftest import REPO
from tests.lab_process import isolated_env

CANARY = "canary-token-" + "7f3a9c2e5b1d4f60"


def small_notebook(path: Path, *, fail: bool) -> Path:
    """A runbook in miniature: parameters, a cell that prints an environment secret, a table, maybe a failure."""
    nb = new_notebook(cells=[
        new_markdown_cell("# small"),
        new_code_cell('count = 2\nlabel = "x"', metadata={"tags": ["parameters"]}),
        new_code_cell('import os\nprint("the token is", os.environ["LABKIT_CANARY_TOKEN"])'),
        new_code_cell("ratio = 10 / (count - 2)" if fail else "ratio = 10 / count"),
        new_code_cell("import pandas as pd\npd.DataFrame([{'label': label, 'ratio': ratio}])"),
    ])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


def labkit_cli(*args, env, cwd):
    return subprocess.run([sys.executable, "-m", "labkit.cli", *args], capture_output=True, text=True,
                          env=env, cwd=cwd, timeout=900)


@pytest.mark.unit
def test_parameters_from_the_command_line():
    assert parse_parameters(["jql=project = DEMO", "NEAR=5", "x="]) == {"jql": "project = DEMO", "NEAR": "5", "x": ""}
    for bad in (["novalue"], ["=x"], ["not a name=1"]):
        with pytest.raises(RunError, match="is not name=value: write -p name=value"):
            parse_parameters(bad)


@pytest.mark.unit
def test_parameters_take_the_declared_name_and_type():
    declared = {"JQL": {"inferred_type_name": "str"}, "NEAR": {"inferred_type_name": "int"},
                "PROFILE": {"inferred_type_name": "None"}, "RUN": {"inferred_type_name": "bool"},
                "WORDS": {"inferred_type_name": "str"}}
    params, unknown = resolve_parameters({"jql": "project = DEMO", "NEAR": "5", "PROFILE": "prod", "run": "False",
                                          "WORDS": "10", "extra": "[1, 2]"}, declared)
    assert params == {"JQL": "project = DEMO", "NEAR": 5, "PROFILE": "prod", "RUN": False, "WORDS": "10",
                      "extra": [1, 2]}
    assert unknown == ["extra"]


@pytest.mark.unit
def test_a_torn_index_line_is_skipped(tmp_path):
    (tmp_path / "index.jsonl").write_text(json.dumps({"notebook": "a.ipynb", "status": "ok", "started": "t"})
                                          + "\n" + '{"notebook": "b.ipy')
    assert [r.notebook for r in list_runs(tmp_path)] == ["a.ipynb"]


@pytest.mark.integration
def test_labkit_run_from_python_records_the_run(tmp_path, monkeypatch):
    monkeypatch.setenv("LABKIT_CANARY_TOKEN", CANARY)
    nb = small_notebook(tmp_path / "small.ipynb", fail=False)
    waits: list[float | None] = []  # the run's kernel replies come through labkit.kernel_client's channels
    real_get_msg = SlicedChannel.get_msg

    async def counted_get_msg(self, timeout=None):
        waits.append(timeout)
        return await real_get_msg(self, timeout)

    monkeypatch.setattr(SlicedChannel, "get_msg", counted_get_msg)
    # a fractional cell timeout (what --cell-timeout=1.5 gives) is accepted: nbclient takes whole seconds
    record = labkit.run(nb, {"count": "4", "LABEL": "four"}, out=tmp_path / "runs", cell_timeout=120.5)
    assert record.status == "ok" and record.parameters == {"count": 4, "label": "four"}
    assert waits
    executed = nbformat.read(record.path, as_version=4)
    assert "'ratio': ratio" in executed.cells[-1].source and "2.5" in json.dumps(executed.cells[-1].outputs)
    assert executed.metadata["labkit"]["run"]["status"] == "ok"
    assert CANARY not in Path(record.path).read_text() + Path(record.html).read_text()
    assert "the token is ******" in Path(record.path).read_text()
    with pytest.raises(RunError, match=r"no notebook at .*nope.ipynb"):
        labkit.run(tmp_path / "nope.ipynb")


@pytest.mark.integration
@pytest.mark.notebook
@pytest.mark.slow
def test_run_02_then_a_failing_notebook_then_list_both(tmp_path):
    env = isolated_env(tmp_path, LABKIT_CANARY_TOKEN=CANARY)
    rd = Path(env["LABKIT_RUN_DIR"])
    work = tmp_path / "work"
    work.mkdir()
    try:
        ok = labkit_cli("run", str(REPO / "notebooks" / "02-jql-search.ipynb"), "-p", "JQL=project = DEMO",
                        "-p", f"note={CANARY}", env=env, cwd=work)
        secrets = secret_values(env, run_dir=rd)  # the jira sandbox's password among them
    finally:
        sb.stop(rd=rd)
    assert ok.returncode == 0, ok.stderr[-3000:]
    assert "declares no parameter 'note'" in ok.stderr and "'JQL'" not in ok.stderr
    saved = sorted((work / "runs").glob("*-02-jql-search.*"))
    assert [p.suffix for p in saved] == [".html", ".ipynb"]
    nb = nbformat.read(saved[1], as_version=4)
    injected = [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert injected and 'JQL = "project = DEMO"' in injected[0].source and 'note = "******"' in injected[0].source
    # the search ran the JQL given on the command line: the search step prints it, then every DEMO issue
    search = next(c for c in nb.cells if "issues = jira.search(search_jql)" in c.source)
    assert search.outputs[0]["text"].strip() == "project = DEMO"
    assert not any(o.get("output_type") == "error" for c in nb.cells for o in c.get("outputs", []))

    bad = labkit_cli("run", str(small_notebook(tmp_path / "made-to-fail.ipynb", fail=True)), env=env, cwd=work)
    assert bad.returncode == 1 and bad.stderr.count("\n") == 1 and "Traceback" not in bad.stderr
    assert bad.stderr.startswith("labkit: error: made-to-fail.ipynb failed in cell In [3] "
                                 "(ratio = 10 / (count - 2)): ZeroDivisionError: division by zero")

    assert CANARY in secrets and len(secrets) >= 2
    for f in (work / "runs").iterdir():
        assert not find_secrets(f.read_text(errors="replace"), secrets), f"a secret in {f.name}"

    runs = labkit_cli("runs", "--format", "json", env=env, cwd=work)
    rows = json.loads(runs.stdout)
    assert [(r["notebook"], r["status"]) for r in rows] == [("02-jql-search.ipynb", "ok"),
                                                           ("made-to-fail.ipynb", "failed")]
    assert "JQL='project = DEMO'" in rows[0]["parameters"] and rows[0]["duration_s"] > 0
    assert all((work / r["path"]).is_file() for r in rows)
    assert "ZeroDivisionError" in rows[1]["error"]
