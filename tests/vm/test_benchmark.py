"""benchmarks/vm_plan.py runs (quick sizes) and prints one row per size with its ratios."""

from __future__ import annotations

import runpy

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.integration
pytest.importorskip("libvirt", reason="libvirt-python is not installed")


def test_quick_benchmark_prints_a_row_per_size(capsys):
    bench = runpy.run_path(str(REPO / "benchmarks" / "vm_plan.py"))
    assert bench["main"](["--quick"]) == 0
    lines = capsys.readouterr().out.splitlines()
    rows = [line.split() for line in lines[2:5]]
    assert [int(r[0]) for r in rows] == [20, 100, 200]
    assert all(r[6].endswith("x") and r[7].endswith("x") for r in rows)
