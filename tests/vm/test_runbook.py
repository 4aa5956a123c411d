"""Runbook 01 headless on the sandbox: its plan-file, seed, wait and snapshot sections give the tables they promise,
and its temporary folder is gone afterwards."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import pytest

from tests.conftest import REPO

pytestmark = [pytest.mark.notebook, pytest.mark.integration]
pytest.importorskip("nbclient")
pytest.importorskip("libvirt", reason="libvirt-python is not installed (make setup)")


def outputs(cell) -> str:
    text = []
    for o in cell.outputs:
        text.append(o.get("text", ""))
        text.append(o.get("data", {}).get("text/plain", ""))
        text.append(o.get("data", {}).get("text/html", ""))
    return "\n".join(text)


def test_runbook_01_plans_saves_seeds_waits_and_snapshots(tmp_path, monkeypatch):
    import nbformat

    from labkit.kernel_client import notebook_client

    monkeypatch.setenv("LABKIT_CONFIG", str(tmp_path / "none.toml"))
    monkeypatch.delenv("LABKIT_PROFILE", raising=False)
    before = set(os.listdir(tempfile.gettempdir()))
    nb = nbformat.read(REPO / "notebooks/01-cloud-in-a-box.ipynb", as_version=4)
    notebook_client(nb, timeout=300, cwd=tmp_path).execute()
    code = {c.source.split("\n", 1)[0]: c for c in nb.cells if c.cell_type == "code"}
    saved = outputs(code['plan_file = save_plan(work / "lab.toml", [plan])'])
    assert "[[clouds.ciab1.vms]]" in saved and "reads back the same plan" in saved and "True" in saved
    seed = outputs(code["for name, text in seed_files(plan, plan.vms[0]).items():"])
    assert "# network-config" in seed and "192.168.100.10/24" in seed and "create" in seed
    waited = outputs(code["to_frame(wait_ready(plan, WAIT_PROBE, timeout=WAIT_TIMEOUT))"])
    assert "no SSH identification from 192.168.100.10:22" in waited
    snaps = outputs(code["snapshot(plan, SNAPSHOT, uri=uri, dry_run=False)"])
    assert "installed" in snaps and "internal" in snaps
    assert "revert" in outputs(code["to_frame(revert(plan, SNAPSHOT, uri=uri, dry_run=False))"])
    assert not [n for n in set(os.listdir(tempfile.gettempdir())) - before if n.startswith("labkit-01-")]
    assert json.loads(nbformat.writes(nb))  # the executed notebook is still a valid document
    assert not list(Path(REPO / "notebooks").glob("lab.toml"))  # nothing written beside the runbooks
